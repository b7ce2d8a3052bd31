/* Stream writer -> reader round trips (tensors of every dtype, raw values,
 * meta, concatenated streams, zero-size tensors) and the raw-byte scanner on
 * every prefix of valid objects and on hostile headers. */
#define _GNU_SOURCE
#include "sp_test.h"
#include "sp_error.h"
#include "sp_msgscan.h"
#include "sp_stream.h"
#include "sp_writer_async.h"

#include <msgpack.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static sp_tensor *ramp(sp_dtype dt, int ndim, const int64_t *shape)
{
    sp_tensor *t = sp_tensor_new(dt, ndim, shape);
    for (size_t i = 0; i < sp_tensor_numel(t); i++)
        sp_tensor_set(t, i, (double)(i % 200) - (dt == SP_U8 ? 0 : 50) + (dt <= SP_F64 ? 0.25 : 0));
    return t;
}

static void roundtrip(void)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    sp_writer *w = sp_writer_open(f, "memory");
    sp_map meta = {0}, b = {0};
    sp_map_put_str(&meta, "producer", "test");
    sp_map_put_int(&meta, "count", -7);
    sp_writer_header(w, &meta);
    static const int64_t shapes[5][4] = {{2, 3, 4, 5}, {3, 2}, {7}, {1, 1, 1}, {0, 4}};
    static const int ndims[5] = {4, 2, 1, 3, 2};
    for (int k = 0; k < 3; k++) {
        for (int d = 0; d < SP_NDTYPES; d++) {
            char name[16];
            snprintf(name, sizeof name, "t%d", d);
            sp_map_put_tensor(&b, name, ramp((sp_dtype)d, ndims[d], shapes[d]));
        }
        sp_map_put_double(&b, "loss", 0.5 * k);
        sp_map_put_str(&b, "note", "pass me through");
        sp_writer_batch(w, &b);
        sp_map_clear(&b);
    }
    sp_writer_end(w);
    sp_writer_header(w, NULL); /* a second, concatenated stream with no batches */
    sp_writer_end(w);
    sp_writer_close(w);
    fclose(f);

    FILE *in = fmemopen(buf, len, "rb");
    sp_reader *r = sp_reader_open(in, "memory");
    CHECK("first stream header", sp_reader_next_stream(r) == 1, "no header");
    char s[32] = "";
    int64_t cnt = 0;
    CHECK("meta string", sp_map_get_str(sp_reader_meta(r), "producer", s, sizeof s) == 0 &&
                             strcmp(s, "test") == 0, "got '%s'", s);
    CHECK("meta negative int", sp_map_get_int(sp_reader_meta(r), "count", &cnt) == 0 && cnt == -7,
          "got %lld", (long long)cnt);
    int64_t idx;
    int batches = 0, same = 1;
    while (sp_reader_next_batch(r, &b, &idx)) {
        same &= idx == batches;
        for (int d = 0; d < SP_NDTYPES; d++) {
            char name[16];
            snprintf(name, sizeof name, "t%d", d);
            sp_tensor *t = sp_map_tensor(&b, name), *want = ramp((sp_dtype)d, ndims[d], shapes[d]);
            same &= t && t->dtype == (sp_dtype)d && t->ndim == want->ndim &&
                    t->nbytes == want->nbytes && memcmp(t->data, want->data, t->nbytes) == 0;
            for (int i = 0; t && i < t->ndim; i++)
                same &= t->shape[i] == want->shape[i];
            sp_tensor_free(want);
        }
        double loss = -1;
        same &= sp_map_get_double(&b, "loss", &loss) == 0 && loss == 0.5 * batches;
        same &= sp_map_get_str(&b, "note", s, sizeof s) == 0 && strcmp(s, "pass me through") == 0;
        batches++;
    }
    CHECK("3 batches of every dtype and raw values survive", same && batches == 3,
          "batches %d same %d", batches, same);
    CHECK("concatenated second stream", sp_reader_next_stream(r) == 1, "missing");
    CHECK("second stream is empty", sp_reader_next_batch(r, &b, &idx) == 0, "has a batch");
    CHECK("clean end of input", sp_reader_next_stream(r) == 0, "more streams");
    CHECK("bytes counted", sp_reader_bytes(r) == len, "%zu of %zu", sp_reader_bytes(r), len);
    sp_reader_close(r);
    fclose(in);
    sp_map_free(&b);
    sp_map_free(&meta);
    free(buf);
}

static void scanner_prefixes(void)
{
    msgpack_sbuffer sb;
    msgpack_packer pk;
    msgpack_sbuffer_init(&sb);
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
    /* A map using every msgpack family the scanner distinguishes. */
    msgpack_pack_map(&pk, 9);
    msgpack_pack_str(&pk, 1), msgpack_pack_str_body(&pk, "a", 1);
    msgpack_pack_int64(&pk, -1234567890123LL);
    msgpack_pack_str(&pk, 40), msgpack_pack_str_body(&pk, "0123456789012345678901234567890123456789", 40);
    msgpack_pack_double(&pk, 1.5);
    msgpack_pack_str(&pk, 1), msgpack_pack_str_body(&pk, "b", 1);
    msgpack_pack_bin(&pk, 300);
    for (int i = 0; i < 300; i++)
        msgpack_sbuffer_write(&sb, "x", 1);
    msgpack_pack_str(&pk, 1), msgpack_pack_str_body(&pk, "c", 1);
    msgpack_pack_array(&pk, 20);
    for (int i = 0; i < 20; i++)
        msgpack_pack_uint64(&pk, (uint64_t)i << 40);
    msgpack_pack_str(&pk, 1), msgpack_pack_str_body(&pk, "d", 1);
    msgpack_pack_nil(&pk);
    msgpack_pack_true(&pk), msgpack_pack_float(&pk, 2.0f);
    msgpack_pack_int8(&pk, -3), msgpack_pack_uint16(&pk, 60000);
    msgpack_pack_ext(&pk, 4, 7), msgpack_pack_ext_body(&pk, "abcd", 4);
    msgpack_pack_map(&pk, 0);
    msgpack_pack_array(&pk, 0);
    msgpack_pack_int32(&pk, 5);
    sp_scan_limits lim = sp_scan_default_limits();
    size_t len;
    char err[128];
    int prefixes_ok = 1;
    for (size_t n = 0; n < sb.size; n++) {
        sp_scan_result res = sp_msgscan((unsigned char *)sb.data, n, &lim, &len, err, sizeof err);
        prefixes_ok &= res == SP_SCAN_NEED_MORE && len > n && len <= sb.size;
    }
    CHECK("scanner: every prefix needs more (and says how much, within the object)", prefixes_ok, "bad");
    sp_scan_result res = sp_msgscan((unsigned char *)sb.data, sb.size, &lim, &len, err, sizeof err);
    CHECK("scanner: whole object complete at its exact length", res == SP_SCAN_COMPLETE && len == sb.size,
          "res %d len %zu of %zu", res, len, sb.size);
    msgpack_sbuffer_destroy(&sb);

    static const unsigned char map32[] = {0xdf, 0x10, 0, 0, 0};
    static const unsigned char arr16[] = {0x81, 0xa1, 'x', 0xdc, 0xff, 0xff};
    static const unsigned char bad[] = {0xc1};
    lim.max_container = 1000;
    CHECK("scanner: huge map claim refused before any element",
          sp_msgscan(map32, sizeof map32, &lim, &len, err, sizeof err) == SP_SCAN_INVALID, "accepted");
    CHECK("scanner: huge nested array refused",
          sp_msgscan(arr16, sizeof arr16, &lim, &len, err, sizeof err) == SP_SCAN_INVALID, "accepted");
    CHECK("scanner: reserved byte 0xc1 refused",
          sp_msgscan(bad, sizeof bad, &lim, &len, err, sizeof err) == SP_SCAN_INVALID, "accepted");
}


static void pack_str(msgpack_packer *pk, const char *s)
{
    msgpack_pack_str(pk, strlen(s));
    msgpack_pack_str_body(pk, s, strlen(s));
}

/* A tensor map with its keys in the given order ("dsa": dtype, shape, data). */
static void pack_tensor(msgpack_packer *pk, const char *order, const float *v, int rows, int cols)
{
    msgpack_pack_map(pk, 3);
    for (const char *o = order; *o; o++) {
        if (*o == 'd') {
            pack_str(pk, "dtype"), pack_str(pk, "f32");
        } else if (*o == 's') {
            pack_str(pk, "shape");
            msgpack_pack_array(pk, 2);
            msgpack_pack_int(pk, rows), msgpack_pack_int(pk, cols);
        } else {
            pack_str(pk, "data");
            msgpack_pack_bin(pk, sizeof(float) * rows * cols);
            msgpack_pack_bin_body(pk, v, sizeof(float) * rows * cols);
        }
    }
}

/* Two batches of tensors "a" (data last), "b" (data first), "c" (data in the
 * middle) of 3000 floats, and a raw value. */
static void pack_orders(msgpack_sbuffer *sb, float *v, int n)
{
    msgpack_packer pk;
    msgpack_sbuffer_init(sb);
    msgpack_packer_init(&pk, sb, msgpack_sbuffer_write);
    for (int i = 0; i < n; i++)
        v[i] = (float)i * 0.5f - 7;
    msgpack_pack_map(&pk, 1), pack_str(&pk, "sprites"), msgpack_pack_int(&pk, 1);
    for (int b = 0; b < 2; b++) {
        msgpack_pack_map(&pk, 5);
        pack_str(&pk, "batch"), msgpack_pack_int(&pk, b);
        pack_str(&pk, "a"), pack_tensor(&pk, "sdx", v, 30, n / 30);
        pack_str(&pk, "b"), pack_tensor(&pk, "xds", v, n / 30, 30);
        pack_str(&pk, "c"), pack_tensor(&pk, "dxs", v, 1, n);
        pack_str(&pk, "r"), msgpack_pack_array(&pk, 2), msgpack_pack_int(&pk, 7), pack_str(&pk, "x");
    }
    msgpack_pack_map(&pk, 1), pack_str(&pk, "end"), msgpack_pack_int(&pk, 2);
}

/* A FILE that hands out at most `chunk` bytes per read. */
typedef struct {
    const char *p;
    size_t n, at, chunk;
} dribble;

static ssize_t dribble_read(void *c, char *buf, size_t len)
{
    dribble *d = c;
    size_t k = d->n - d->at;
    if (k > d->chunk)
        k = d->chunk;
    if (k > len)
        k = len;
    memcpy(buf, d->p + d->at, k);
    d->at += k;
    return (ssize_t)k;
}

static FILE *dribble_open(dribble *d, const char *p, size_t n, size_t chunk)
{
    cookie_io_functions_t io = {.read = dribble_read};
    d->p = p, d->n = n, d->at = 0, d->chunk = chunk;
    return fopencookie(d, "r", io);
}

static int same_tensor(const sp_tensor *t, const float *v, int64_t r0, int64_t r1)
{
    return t && t->dtype == SP_F32 && t->ndim == 2 && t->shape[0] == r0 && t->shape[1] == r1 &&
           t->nbytes == sizeof(float) * (size_t)(r0 * r1) && memcmp(t->data, v, t->nbytes) == 0;
}

static void key_orders_and_small_reads(void)
{
    enum { N = 3000 };
    static float v[N];
    msgpack_sbuffer sb;
    pack_orders(&sb, v, N);
    static const size_t chunks[] = {0, 1, 7, 4093};
    for (size_t c = 0; c < sizeof chunks / sizeof *chunks; c++) {
        dribble d;
        FILE *in = chunks[c] ? dribble_open(&d, sb.data, sb.size, chunks[c]) : fmemopen(sb.data, sb.size, "rb");
        sp_reader *r = sp_reader_open(in, "memory");
        sp_map b = {0};
        int ok = sp_reader_next_stream(r) == 1, batches = 0;
        int64_t idx, seven = 0;
        while (sp_reader_next_batch(r, &b, &idx)) {
            ok &= idx == batches++;
            ok &= same_tensor(sp_map_tensor(&b, "a"), v, 30, N / 30);
            ok &= same_tensor(sp_map_tensor(&b, "b"), v, N / 30, 30);
            ok &= same_tensor(sp_map_tensor(&b, "c"), v, 1, N);
            const sp_entry *e = sp_map_find(&b, "r");
            ok &= e && !e->tensor && e->raw_len == 4 && memcmp(e->raw, "\x92\x07\xa1x", 4) == 0;
            ok &= sp_map_get_int(&b, "r", &seven) != 0; /* an array, not an int */
        }
        ok &= batches == 2 && sp_reader_next_stream(r) == 0 && sp_reader_bytes(r) == sb.size;
        char name[96];
        snprintf(name, sizeof name, "data before/between/after dtype and shape, reads of %zu bytes%s",
                 chunks[c], chunks[c] ? "" : " (any)");
        CHECK(name, ok, "batches %d", batches);
        sp_map_free(&b);
        sp_reader_close(r);
        fclose(in);
    }
    msgpack_sbuffer_destroy(&sb);
}

static jmp_buf on_fatal;
static char fatal_msg[512];
static void fatal_hook(const char *msg)
{
    snprintf(fatal_msg, sizeof fatal_msg, "%s", msg);
    longjmp(on_fatal, 1);
}

/* Cut inside a tensor's payload, read through 7-byte reads: the truncation
 * error, and no partial tensor in the batch. */
static void truncated_payload(void)
{
    enum { N = 3000 };
    static float v[N];
    msgpack_sbuffer sb;
    pack_orders(&sb, v, N);
    /* batch 0 starts after the 10-byte header; its "a" payload after ~30 more */
    static const size_t cuts[] = {10 + 40 + 100, 10 + 40 + 6000, 10 + 40 + 11990};
    int all = 1;
    for (size_t c = 0; c < sizeof cuts / sizeof *cuts; c++) {
        dribble d;
        FILE *in = dribble_open(&d, sb.data, cuts[c], 7);
        static sp_reader *r;
        static sp_map b;
        r = sp_reader_open(in, "cut");
        fatal_msg[0] = 0;
        sp_set_fatal_hook(fatal_hook);
        int64_t idx;
        if (!setjmp(on_fatal)) {
            sp_reader_next_stream(r);
            while (sp_reader_next_batch(r, &b, &idx))
                ;
        }
        sp_set_fatal_hook(NULL);
        int ok = strstr(fatal_msg, "cut: batch 0: truncated stream: input ends inside a map") != NULL &&
                 sp_map_find(&b, "a") == NULL;
        if (!ok)
            printf("    cut at %zu: '%s'\n", cuts[c], fatal_msg);
        all &= ok;
        sp_map_free(&b);
        sp_reader_close(r);
        fclose(in);
    }
    CHECK("truncated inside a payload: the truncation error, no partial tensor", all, "see above");
    msgpack_sbuffer_destroy(&sb);
}

/* The writer thread's stream against sp_writer's for the same calls: the
 * same bytes (two concatenated streams, batches of every dtype, a large
 * tensor that takes many write calls), and each batch handed over is left
 * empty. */
static void make_batch(sp_map *b, int k)
{
    static const int64_t big[1] = {300000}, small[2] = {3, 5};
    for (int d = 0; d < SP_NDTYPES; d++) {
        char name[16];
        snprintf(name, sizeof name, "t%d", d);
        sp_map_put_tensor(b, name, ramp((sp_dtype)d, 2, small));
    }
    sp_map_put_tensor(b, "big", ramp(SP_F32, 1, big));
    sp_map_put_int(b, "k", k);
}

/* What sp_writer writes for `streams` streams of `batches` batches each made
 * by make(b, k) (the first stream's header with meta), in memory: *n bytes. */
static char *plain_stream(size_t *n, int streams, int batches, void (*make)(sp_map *, int), const sp_map *meta)
{
    char *buf = NULL;
    sp_map b = {0};
    FILE *f = open_memstream(&buf, n);
    sp_writer *w = sp_writer_open(f, "memory");
    for (int s = 0; s < streams; s++) {
        sp_writer_header(w, s ? NULL : meta);
        for (int k = 0; k < batches; k++) {
            make(&b, k);
            sp_writer_batch(w, &b);
            sp_map_clear(&b);
        }
        sp_writer_end(w);
    }
    sp_writer_close(w);
    fclose(f);
    sp_map_free(&b);
    return buf;
}

static void async_writer_same_bytes(void)
{
    char *got = NULL;
    size_t nwant = 0, ngot = 0;
    sp_map meta = {0}, b = {0};
    sp_map_put_str(&meta, "producer", "test");
    char *want = plain_stream(&nwant, 2, 4, make_batch, &meta);
    FILE *f = open_memstream(&got, &ngot);
    sp_async_writer *a = sp_async_writer_open(f, "memory");
    int emptied = 1;
    for (int s = 0; s < 2; s++) {
        sp_async_writer_header(a, s ? NULL : &meta);
        for (int k = 0; k < 4; k++) {
            make_batch(&b, k);
            sp_async_writer_batch(a, &b);
            emptied &= b.n == 0;
        }
        sp_async_writer_end(a);
    }
    sp_async_writer_close(a);
    fclose(f);
    CHECK("writer thread: the same bytes as sp_writer", nwant > 4 * 1200000 && ngot == nwant &&
                                                              memcmp(got, want, nwant) == 0,
          "%zu bytes against %zu", ngot, nwant);
    CHECK("writer thread: a batch handed over is left empty", emptied, "entries left behind");
    sp_map_free(&meta);
    sp_map_free(&b);
    free(want);
    free(got);
}

/* A slow reader of a pipe: everything, 16 KiB at a time with a pause
 * between, into a memory stream. */
typedef struct {
    int fd;
    char *buf;
    size_t len;
} pipe_reader;

static void *read_slowly(void *arg)
{
    pipe_reader *r = arg;
    FILE *f = open_memstream(&r->buf, &r->len);
    char chunk[16384];
    ssize_t k;
    while ((k = read(r->fd, chunk, sizeof chunk)) > 0) {
        fwrite(chunk, 1, (size_t)k, f);
        nanosleep(&(struct timespec){0, 20000}, NULL);
    }
    fclose(f);
    return NULL;
}

/* Batches of a different 1.2 MB tensor each, made as fast as they can be
 * handed over, the memory of each freed batch reused by the next. */
static void put_numbered(sp_map *b, int k)
{
    static const int64_t shape[1] = {300000};
    sp_tensor *t = sp_tensor_new(SP_F32, 1, shape);
    for (int64_t i = 0; i < shape[0]; i++)
        sp_f32(t)[i] = (float)(k * 1000003 + i);
    sp_map_put_tensor(b, "big", t);
    sp_map_put_int(b, "k", k);
}

/* The writer thread into a pipe: payloads go by reference (sp_writer_splice),
 * so a batch the reader has not read yet must not be freed, or the next
 * batch, in the same memory, shows through.  A slow reader gets the bytes
 * sp_writer writes to memory. */
static void async_writer_into_pipe(void)
{
    int fd[2];
    if (pipe(fd) != 0) {
        CHECK("writer thread into a pipe: a pipe", 0, "pipe() failed");
        return;
    }
    FILE *probe = fdopen(dup(fd[1]), "w");
    sp_writer *pw = sp_writer_open(probe, "pipe");
    const int spliced = sp_writer_splice(pw);
    sp_writer_close(pw);
    fclose(probe);
    size_t nwant = 0;
    sp_map b = {0};
    char *want = plain_stream(&nwant, 1, 24, put_numbered, NULL);
    pipe_reader r = {fd[0], NULL, 0};
    pthread_t th;
    pthread_create(&th, NULL, read_slowly, &r);
    FILE *out = fdopen(fd[1], "w");
    sp_async_writer *a = sp_async_writer_open(out, "pipe");
    sp_async_writer_header(a, NULL);
    for (int k = 0; k < 24; k++) {
        put_numbered(&b, k);
        sp_async_writer_batch(a, &b);
    }
    sp_async_writer_end(a);
    sp_async_writer_close(a);
    fclose(out);
    pthread_join(th, NULL);
    close(fd[0]);
    size_t at = 0; /* the first byte that differs */
    while (at < nwant && at < r.len && r.buf[at] == want[at])
        at++;
    CHECK("writer thread into a pipe: payloads by reference (Linux)", spliced, "sp_writer_splice is off");
    CHECK("writer thread into a pipe: a slow reader reads what sp_writer writes", r.len == nwant && at == nwant,
          "%zu bytes against %zu, the first difference at byte %zu", r.len, nwant, at);
    sp_map_free(&b);
    free(want);
    free(r.buf);
}

int main(void)
{
    sp_set_prog("test_stream");
    roundtrip();
    scanner_prefixes();
    key_orders_and_small_reads();
    truncated_payload();
    async_writer_same_bytes();
    async_writer_into_pipe();
    TEST_MAIN_END;
}

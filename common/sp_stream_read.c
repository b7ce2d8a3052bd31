/* fileno() is POSIX: the feature macro keeps strict C11 compilers (clang in make fuzz) from warning */
#define _POSIX_C_SOURCE 200809L
#include "sp_stream.h"
#include "sp_error.h"
#include "sp_msgscan.h"
#include "sp_pack.h"

#include <errno.h>
#include <limits.h>
#include <msgpack.h>
#include <string.h>
#if defined(__GLIBC__) || defined(__linux__)
#include <malloc.h>
#endif
#if defined(__linux__)
#include <fcntl.h>
#include <sys/stat.h>
/* fcntl's pipe-size commands (linux/fcntl.h; hidden without _GNU_SOURCE) */
#define SP_F_SETPIPE_SZ 1031
#define SP_F_GETPIPE_SZ 1032
#endif
#define SP_PIPE_BYTES (1 << 20)

/* Bytes asked of the input at a time when the scanner has no better hint. */
#define READ_CHUNK ((size_t)1 << 16)
#define MAX_RESERVE ((size_t)1 << 24)

struct sp_reader {
    FILE *f;
    char *name;
    msgpack_unpacker up;
    msgpack_unpacked obj;
    sp_scan_limits lim;
    int eof;
    int streams;   /* headers read */
    int in_stream; /* between header and trailer */
    int64_t batches;
    size_t bytes;
    sp_map meta;
};

void sp_stream_tune_pipe(FILE *f)
{
#if defined(__linux__)
    struct stat st;
    int fd = fileno(f);
    if (fd >= 0 && fstat(fd, &st) == 0 && S_ISFIFO(st.st_mode)) {
        int have = fcntl(fd, SP_F_GETPIPE_SZ);
        if (have >= 0 && have < SP_PIPE_BYTES)
            (void)fcntl(fd, SP_F_SETPIPE_SZ, SP_PIPE_BYTES); /* best effort: may exceed pipe-max-size */
    }
#else
    (void)f;
#endif
}

void sp_stream_tune_malloc(void)
{
#if defined(__GLIBC__) && defined(M_MMAP_MAX) && defined(M_TRIM_THRESHOLD)
    static int done;
    if (done)
        return;
    done = 1;
    mallopt(M_MMAP_MAX, 0);
    mallopt(M_TRIM_THRESHOLD, INT_MAX);
#endif
}

sp_reader *sp_reader_open(FILE *f, const char *name)
{
    sp_stream_tune_malloc();
    sp_stream_tune_pipe(f);
    sp_reader *r = sp_calloc(1, sizeof *r);
    r->f = f;
    r->name = sp_strdup(name);
    if (!msgpack_unpacker_init(&r->up, READ_CHUNK))
        sp_fatal("out of memory");
    msgpack_unpacked_init(&r->obj);
    r->lim = sp_scan_default_limits();
    return r;
}

void sp_reader_close(sp_reader *r)
{
    if (!r)
        return;
    msgpack_unpacked_destroy(&r->obj);
    msgpack_unpacker_destroy(&r->up);
    sp_map_free(&r->meta);
    free(r->name);
    free(r);
}

const sp_map *sp_reader_meta(const sp_reader *r) { return &r->meta; }
int64_t sp_reader_count(const sp_reader *r) { return r->batches; }
const char *sp_reader_name(const sp_reader *r) { return r->name; }
size_t sp_reader_bytes(const sp_reader *r) { return r->bytes; }

/* Where we are, for messages: "stdin: batch 3" or "stdin: header". */
static const char *where(const sp_reader *r, char *buf, size_t len)
{
    if (r->in_stream)
        snprintf(buf, len, "%s: batch %lld", r->name, (long long)r->batches);
    else
        snprintf(buf, len, "%s: %s", r->name, r->streams ? "after trailer" : "header");
    return buf;
}

#define FAIL(r, ...)                                                                   \
    do {                                                                               \
        char w_[512], m_[512];                                                         \
        snprintf(m_, sizeof m_, __VA_ARGS__);                                          \
        sp_fatal("%s: %s", where(r, w_, sizeof w_), m_);                               \
    } while (0)

/* Reads until the buffer holds one complete object; returns 0 at a clean end
 * of input (nothing buffered), 1 with r->obj holding the object. */
static int next_object(sp_reader *r)
{
    for (;;) {
        size_t avail = r->up.used - r->up.off;
        size_t need = 0;
        char err[256];
        if (avail > 0) {
            sp_scan_result s = sp_msgscan((const unsigned char *)r->up.buffer + r->up.off, avail,
                                          &r->lim, &need, err, sizeof err);
            if (s == SP_SCAN_INVALID)
                FAIL(r, "not a valid stream: %s", err);
            if (s == SP_SCAN_COMPLETE) {
                unsigned char first = (unsigned char)r->up.buffer[r->up.off];
                if (!((first >= 0x80 && first <= 0x8f) || first == 0xde || first == 0xdf))
                    FAIL(r, "not a valid stream: expected a msgpack map, got byte 0x%02x", first);
                msgpack_unpack_return ret = msgpack_unpacker_next(&r->up, &r->obj);
                if (ret != MSGPACK_UNPACK_SUCCESS)
                    FAIL(r, "msgpack decoding failed (%d)", (int)ret);
                r->bytes += need;
                return 1;
            }
        } else if (r->eof) {
            return 0;
        }
        if (r->eof)
            FAIL(r, "truncated stream: input ends inside a map (%zu of %zu bytes)", avail, need);
        /* Grow towards what the scanner asked for, but never reserve more
         * than MAX_RESERVE ahead of data that has actually arrived: a header
         * claiming gigabytes costs memory only as its bytes come in. */
        size_t want = need > avail ? need - avail : READ_CHUNK;
        if (want < READ_CHUNK)
            want = READ_CHUNK;
        if (want > MAX_RESERVE)
            want = MAX_RESERVE;
        if (!msgpack_unpacker_reserve_buffer(&r->up, want))
            FAIL(r, "out of memory reserving %zu bytes", want);
        size_t got = fread(msgpack_unpacker_buffer(&r->up), 1,
                           msgpack_unpacker_buffer_capacity(&r->up), r->f);
        if (got == 0) {
            if (ferror(r->f))
                FAIL(r, "read error: %s", strerror(errno));
            r->eof = 1;
        }
        msgpack_unpacker_buffer_consumed(&r->up, got);
    }
}

static int key_is(const msgpack_object_kv *kv, const char *s) { return sp_obj_str_is(&kv->key, s); }

static const msgpack_object *lookup(const msgpack_object *map, const char *key)
{
    for (uint32_t i = 0; i < map->via.map.size; i++)
        if (key_is(&map->via.map.ptr[i], key))
            return &map->via.map.ptr[i].val;
    return NULL;
}

int sp_obj_str_is(const msgpack_object *o, const char *s)
{
    size_t n = strlen(s);
    return o->type == MSGPACK_OBJECT_STR && o->via.str.size == n && memcmp(o->via.str.ptr, s, n) == 0;
}

int sp_obj_int(const msgpack_object *o, int64_t *v)
{
    if (o->type == MSGPACK_OBJECT_POSITIVE_INTEGER && o->via.u64 <= INT64_MAX) {
        *v = (int64_t)o->via.u64;
        return 0;
    }
    if (o->type == MSGPACK_OBJECT_NEGATIVE_INTEGER) {
        *v = o->via.i64;
        return 0;
    }
    return -1;
}

/* Keys must be strings; names are copied with a bounded length. */
static void key_name(sp_reader *r, const msgpack_object_kv *kv, char *buf, size_t len)
{
    if (kv->key.type != MSGPACK_OBJECT_STR)
        FAIL(r, "map key is not a string");
    size_t n = kv->key.via.str.size;
    if (n == 0 || n >= len)
        FAIL(r, "entry name of %zu bytes (1 to %zu allowed)", n, len - 1);
    memcpy(buf, kv->key.via.str.ptr, n);
    buf[n] = 0;
    if (memchr(buf, 0, n))
        FAIL(r, "entry name contains a NUL byte");
}

static void store_raw(sp_map *m, const char *name, const msgpack_object *o)
{
    msgpack_sbuffer sb;
    msgpack_packer pk;
    msgpack_sbuffer_init(&sb);
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
    msgpack_pack_object(&pk, *o);
    sp_map_put_raw(m, name, sb.data, sb.size);
    msgpack_sbuffer_destroy(&sb);
}

/* A map with a "dtype" key is a tensor and must be a valid one. */
static sp_tensor *parse_tensor(sp_reader *r, const char *name, const msgpack_object *o)
{
    const msgpack_object *dt = lookup(o, "dtype"), *sh = lookup(o, "shape"), *da = lookup(o, "data");
    sp_dtype dtype;
    int64_t shape[SP_MAX_DIMS];
    if (o->via.map.size != 3 || !dt || !sh || !da)
        FAIL(r, "entry '%s': a tensor has exactly the keys dtype, shape, data", name);
    if (dt->type != MSGPACK_OBJECT_STR ||
        sp_dtype_parse(dt->via.str.ptr, dt->via.str.size, &dtype) != 0)
        FAIL(r, "entry '%s': unknown dtype (f32 f64 u8 i32 i64 allowed)", name);
    if (sh->type != MSGPACK_OBJECT_ARRAY)
        FAIL(r, "entry '%s': shape is not an array", name);
    if (sh->via.array.size > SP_MAX_DIMS)
        FAIL(r, "entry '%s': %u dimensions (at most %d)", name, sh->via.array.size, SP_MAX_DIMS);
    int ndim = (int)sh->via.array.size;
    for (int i = 0; i < ndim; i++) {
        if (sp_obj_int(&sh->via.array.ptr[i], &shape[i]) != 0)
            FAIL(r, "entry '%s': dimension %d is not an integer", name, i);
        if (shape[i] < 0)
            FAIL(r, "entry '%s': dimension %d is negative (%lld)", name, i, (long long)shape[i]);
        if (shape[i] > SP_MAX_DIM)
            FAIL(r, "entry '%s': dimension %d is too large (%lld)", name, i, (long long)shape[i]);
    }
    if (da->type != MSGPACK_OBJECT_BIN)
        FAIL(r, "entry '%s': data is not a msgpack bin", name);
    size_t numel = sp_shape_numel(ndim, shape);
    if (numel == (size_t)-1 || numel > sp_max_tensor_bytes() / sp_dtype_size(dtype))
        FAIL(r, "entry '%s': shape too large", name);
    size_t nbytes = numel * sp_dtype_size(dtype);
    if (da->via.bin.size != nbytes)
        FAIL(r, "entry '%s': data has %u bytes, shape and dtype need %zu", name,
             da->via.bin.size, nbytes);
    sp_tensor *t = sp_tensor_new_uninit(dtype, ndim, shape);
    memcpy(t->data, da->via.bin.ptr, nbytes);
    return t;
}

/* Fills m with the entries of map o, skipping the key "skip". */
static void parse_entries(sp_reader *r, const msgpack_object *o, sp_map *m, const char *skip)
{
    char name[256];
    for (uint32_t i = 0; i < o->via.map.size; i++) {
        const msgpack_object_kv *kv = &o->via.map.ptr[i];
        key_name(r, kv, name, sizeof name);
        if (skip && strcmp(name, skip) == 0)
            continue;
        if (sp_map_find(m, name))
            FAIL(r, "entry '%s' appears twice", name);
        if (kv->val.type == MSGPACK_OBJECT_MAP && lookup(&kv->val, "dtype"))
            sp_map_put_tensor(m, name, parse_tensor(r, name, &kv->val));
        else
            store_raw(m, name, &kv->val);
    }
}

int sp_reader_next_stream(sp_reader *r)
{
    if (r->in_stream)
        sp_fatal("internal error: next_stream inside a stream");
    if (!next_object(r)) {
        if (r->streams == 0)
            sp_fatal("%s: empty input: no stream header", r->name);
        return 0;
    }
    const msgpack_object *o = &r->obj.data;
    const msgpack_object *v = lookup(o, "sprites");
    int64_t version;
    if (!v)
        FAIL(r, "not a sprites stream: the first map has no \"sprites\" key");
    if (sp_obj_int(v, &version) != 0 || version != SP_STREAM_VERSION)
        FAIL(r, "unsupported stream version (this program reads version %d)", SP_STREAM_VERSION);
    sp_map_clear(&r->meta);
    const msgpack_object *meta = lookup(o, "meta");
    if (meta) {
        if (meta->type != MSGPACK_OBJECT_MAP)
            FAIL(r, "\"meta\" is not a map");
        parse_entries(r, meta, &r->meta, NULL);
    }
    r->streams++;
    r->in_stream = 1;
    r->batches = 0;
    return 1;
}

int sp_reader_next_batch(sp_reader *r, sp_map *batch, int64_t *index)
{
    if (!r->in_stream)
        sp_fatal("internal error: next_batch outside a stream");
    sp_map_clear(batch);
    if (!next_object(r))
        FAIL(r, "truncated stream: input ends without a trailer");
    const msgpack_object *o = &r->obj.data;
    const msgpack_object *b = lookup(o, "batch"), *e = lookup(o, "end");
    int64_t v;
    if (b) {
        if (sp_obj_int(b, &v) != 0 || v != r->batches)
            FAIL(r, "batch number out of order (expected %lld)", (long long)r->batches);
        parse_entries(r, o, batch, "batch");
        if (index)
            *index = v;
        r->batches++;
        return 1;
    }
    if (e) {
        if (o->via.map.size != 1)
            FAIL(r, "trailer has keys besides \"end\"");
        if (sp_obj_int(e, &v) != 0)
            FAIL(r, "trailer's \"end\" is not an integer");
        if (v != r->batches)
            FAIL(r, "trailer says %lld batches, the stream had %lld", (long long)v,
                 (long long)r->batches);
        r->in_stream = 0;
        return 0;
    }
    if (lookup(o, "sprites"))
        FAIL(r, "truncated stream: a new header before the trailer");
    FAIL(r, "map is neither a batch nor a trailer");
}

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
#include <sys/stat.h> /* fstat (POSIX): sp_fd_is_pipe on every system */
#if defined(__linux__)
#include <fcntl.h>
/* fcntl's pipe-size commands (linux/fcntl.h; hidden without _GNU_SOURCE) */
#define SP_F_SETPIPE_SZ 1031
#define SP_F_GETPIPE_SZ 1032
#endif
#define SP_PIPE_BYTES (1 << 20)

/* Bytes asked of the input at a time when the scanner has no better hint. */
#define READ_CHUNK ((size_t)1 << 16)
#define MAX_RESERVE ((size_t)1 << 24)
/* A tensor payload up to this size is read straight into a buffer of its full
 * declared size; a larger one (a hostile header, or a genuinely huge tensor)
 * into a buffer that doubles as its bytes arrive. */
#define DIRECT_MAX ((size_t)1 << 28)

/* Input is read into buf (reused across maps); buf[pos..end) is read but not
 * yet consumed.  Batch maps are parsed entry by entry from it, and a tensor's
 * payload goes straight from the input into the tensor's own memory
 * (sp_reader_next_batch). */
struct sp_reader {
    FILE *f;
    char *name;
    unsigned char *buf;
    size_t cap, pos, end;
    size_t taken;  /* bytes consumed since open */
    size_t map_at; /* taken when the current top-level object began */
    msgpack_unpacked obj, obj2;
    sp_tensor *pending; /* a tensor being read, owned here until complete */
    sp_scan_limits lim;
    int eof;
    int streams;   /* headers read */
    int in_stream; /* between header and trailer */
    int64_t batches;
    size_t bytes;
    sp_map meta;
};

int sp_fd_is_pipe(int fd)
{
    struct stat st;
    return fd >= 0 && fstat(fd, &st) == 0 && S_ISFIFO(st.st_mode);
}

void sp_stream_tune_pipe(FILE *f)
{
#if defined(__linux__)
    int fd = fileno(f);
    if (sp_fd_is_pipe(fd)) {
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
    msgpack_unpacked_init(&r->obj);
    msgpack_unpacked_init(&r->obj2);
    r->lim = sp_scan_default_limits();
    return r;
}

void sp_reader_close(sp_reader *r)
{
    if (!r)
        return;
    msgpack_unpacked_destroy(&r->obj);
    msgpack_unpacked_destroy(&r->obj2);
    sp_tensor_free(r->pending);
    free(r->buf);
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

static size_t avail(const sp_reader *r) { return r->end - r->pos; }

static void consume(sp_reader *r, size_t n)
{
    r->pos += n;
    r->taken += n;
}

/* Reads until at least n bytes are buffered or the input ends; returns the
 * bytes buffered.  Never reserves more than MAX_RESERVE ahead of data that
 * has actually arrived: a header claiming gigabytes costs memory only as its
 * bytes come in. */
static size_t fill(sp_reader *r, size_t n)
{
    while (avail(r) < n && !r->eof) {
        size_t have = avail(r);
        size_t want = n - have;
        if (want < READ_CHUNK)
            want = READ_CHUNK;
        if (want > MAX_RESERVE)
            want = MAX_RESERVE;
        if (r->cap - r->end < want) {
            if (r->pos > 0) {
                memmove(r->buf, r->buf + r->pos, have);
                r->pos = 0;
                r->end = have;
            }
            if (r->cap - r->end < want) {
                size_t nc = r->cap ? r->cap : READ_CHUNK;
                while (nc - r->end < want)
                    nc *= 2;
                unsigned char *nb = realloc(r->buf, nc);
                if (!nb)
                    FAIL(r, "out of memory reserving %zu bytes", want);
                r->buf = nb;
                r->cap = nc;
            }
        }
        size_t got = fread(r->buf + r->end, 1, want, r->f);
        r->end += got;
        if (got < want) {
            if (ferror(r->f))
                FAIL(r, "read error: %s", strerror(errno));
            r->eof = 1;
        }
    }
    return avail(r);
}

/* The input ended n bytes (from pos) short of what the current object needs. */
static void truncated(sp_reader *r, size_t n)
{
    size_t done = r->taken - r->map_at;
    FAIL(r, "truncated stream: input ends inside a map (%zu of %zu bytes)", done + avail(r), done + n);
}

static void need(sp_reader *r, size_t n)
{
    if (fill(r, n) < n)
        truncated(r, n);
}

/* The size of the object at buf[pos + off], which sits depth levels inside
 * its top-level object, reading as much as that takes; *items counts the
 * top-level object's values (the scanner's limits apply to the whole map). */
static size_t scan_at(sp_reader *r, size_t off, int depth, size_t *items)
{
    for (;;) {
        size_t have = avail(r), len = 1;
        char err[256];
        if (have > off) {
            sp_scan_result s = sp_msgscan_at(r->buf + r->pos + off, have - off, &r->lim, depth, items,
                                             &len, err, sizeof err);
            if (s == SP_SCAN_INVALID)
                FAIL(r, "not a valid stream: %s", err);
            if (s == SP_SCAN_COMPLETE)
                return len;
        }
        need(r, off + len);
    }
}

static int is_map(unsigned char c) { return (c >= 0x80 && c <= 0x8f) || c == 0xde || c == 0xdf; }

static uint64_t be(const unsigned char *p, int k)
{
    uint64_t v = 0;
    for (int i = 0; i < k; i++)
        v = (v << 8) | p[i];
    return v;
}

/* A complete (scanned) string object: its bytes, or -1 when not a string. */
static int str_at(const unsigned char *p, const unsigned char **s, size_t *n)
{
    unsigned c = p[0];
    int k = c == 0xd9 ? 1 : c == 0xda ? 2 : c == 0xdb ? 4 : 0;
    if (c >= 0xa0 && c <= 0xbf)
        *n = c & 0x1f;
    else if (k)
        *n = (size_t)be(p + 1, k);
    else
        return -1;
    *s = p + 1 + k;
    return 0;
}

static int str_at_is(const unsigned char *p, const char *want)
{
    const unsigned char *s;
    size_t n;
    return str_at(p, &s, &n) == 0 && n == strlen(want) && memcmp(s, want, n) == 0;
}

/* A complete integer object (as sp_obj_int reads it); -1 when not one. */
static int int_at(const unsigned char *p, int64_t *v)
{
    unsigned c = p[0];
    if (c <= 0x7f)
        *v = c;
    else if (c >= 0xe0)
        *v = (int8_t)c;
    else if (c >= 0xcc && c <= 0xcf) {
        uint64_t u = be(p + 1, 1 << (c - 0xcc));
        if (u > INT64_MAX)
            return -1;
        *v = (int64_t)u;
    } else if (c >= 0xd0 && c <= 0xd3) {
        int k = 1 << (c - 0xd0);
        uint64_t u = be(p + 1, k);
        if (k < 8 && (u >> (8 * k - 1)))
            u |= ~(uint64_t)0 << (8 * k); /* sign-extend */
        *v = (int64_t)u;
    } else
        return -1;
    return 0;
}

/* Reads one complete top-level object into r->obj: 0 at a clean end of input
 * (nothing buffered), 1 otherwise.  Its strings and bins point into buf,
 * valid until the next read. */
static int next_object(sp_reader *r)
{
    if (fill(r, 1) == 0)
        return 0;
    r->map_at = r->taken;
    size_t items = 0;
    size_t len = scan_at(r, 0, 0, &items);
    unsigned char first = r->buf[r->pos];
    if (!is_map(first))
        FAIL(r, "not a valid stream: expected a msgpack map, got byte 0x%02x", first);
    size_t off = 0;
    msgpack_unpack_return ret = msgpack_unpack_next(&r->obj, (const char *)r->buf + r->pos, len, &off);
    if (ret != MSGPACK_UNPACK_SUCCESS)
        FAIL(r, "msgpack decoding failed (%d)", (int)ret);
    consume(r, len);
    r->bytes = r->taken;
    return 1;
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

/* Checks a tensor's dtype and shape against its data (a bin of data_size
 * bytes when data_is_bin); returns its byte count. */
static size_t tensor_header(sp_reader *r, const char *name, const msgpack_object *dt,
                            const msgpack_object *sh, int data_is_bin, size_t data_size,
                            sp_dtype *dtype, int *ndimp, int64_t *shape)
{
    if (dt->type != MSGPACK_OBJECT_STR ||
        sp_dtype_parse(dt->via.str.ptr, dt->via.str.size, dtype) != 0)
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
    if (!data_is_bin)
        FAIL(r, "entry '%s': data is not a msgpack bin", name);
    size_t numel = sp_shape_numel(ndim, shape);
    if (numel == (size_t)-1 || numel > sp_max_tensor_bytes() / sp_dtype_size(*dtype))
        FAIL(r, "entry '%s': shape too large", name);
    size_t nbytes = numel * sp_dtype_size(*dtype);
    if (data_size != nbytes)
        FAIL(r, "entry '%s': data has %zu bytes, shape and dtype need %zu", name, data_size, nbytes);
    *ndimp = ndim;
    return nbytes;
}

/* A map with a "dtype" key is a tensor and must be a valid one. */
static sp_tensor *parse_tensor(sp_reader *r, const char *name, const msgpack_object *o)
{
    const msgpack_object *dt = lookup(o, "dtype"), *sh = lookup(o, "shape"), *da = lookup(o, "data");
    sp_dtype dtype;
    int ndim;
    int64_t shape[SP_MAX_DIMS];
    if (o->via.map.size != 3 || !dt || !sh || !da)
        FAIL(r, "entry '%s': a tensor has exactly the keys dtype, shape, data", name);
    int is_bin = da->type == MSGPACK_OBJECT_BIN;
    size_t nbytes = tensor_header(r, name, dt, sh, is_bin, is_bin ? da->via.bin.size : 0, &dtype,
                                  &ndim, shape);
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

/* Reads the payload, n bytes, of the tensor r->pending: what is buffered
 * first, the rest straight from the input into the tensor's memory. */
static void read_payload(sp_reader *r, size_t n)
{
    sp_tensor *t = r->pending;
    size_t have = avail(r) < n ? avail(r) : n;
    /* Up to DIRECT_MAX, the full size at once; beyond, doubling as bytes arrive. */
    size_t size = n <= DIRECT_MAX ? n : have > DIRECT_MAX ? have : DIRECT_MAX;
    t->data = sp_malloc(size ? size : 1);
    memcpy(t->data, r->buf + r->pos, have);
    consume(r, have);
    size_t done = have;
    while (done < n) {
        if (done == size) {
            size = size > n / 2 ? n : 2 * size;
            void *nd = realloc(t->data, size);
            if (!nd)
                FAIL(r, "out of memory reserving %zu bytes", size);
            t->data = nd;
        }
        size_t want = size - done;
        size_t got = r->eof ? 0 : fread((char *)t->data + done, 1, want, r->f);
        done += got;
        r->taken += got;
        if (got < want) {
            if (ferror(r->f))
                FAIL(r, "read error: %s", strerror(errno));
            r->eof = 1;
            truncated(r, n - done);
        }
    }
}

/* A tensor key: 0 dtype, 1 shape, 2 data, -1 anything else. */
static int tensor_key(const unsigned char *p)
{
    return str_at_is(p, "dtype") ? 0 : str_at_is(p, "shape") ? 1 : str_at_is(p, "data") ? 2 : -1;
}

/* A value that is a map of 3 entries: when its keys are dtype and shape (in
 * either order) then data, a bin, reads it as a tensor whose payload goes
 * straight from the input into the tensor and returns 1; any other layout
 * returns 0 having consumed nothing (the caller reads the whole value). */
static int tensor_direct(sp_reader *r, sp_map *m, const char *name, size_t *items)
{
    size_t off = 1, it = *items + 1, voff[2] = {0, 0};
    int seen[2] = {0, 0};
    for (int j = 0; j < 3; j++) {
        size_t klen = scan_at(r, off, 2, &it);
        int k = tensor_key(r->buf + r->pos + off);
        off += klen;
        if (j < 2) {
            if (k < 0 || k > 1 || seen[k])
                return 0;
            seen[k] = 1;
            voff[k] = off;
            off += scan_at(r, off, 2, &it);
        } else if (k != 2) {
            return 0;
        }
    }
    need(r, off + 1);
    unsigned c = r->buf[r->pos + off];
    int lb = c == 0xc4 ? 1 : c == 0xc5 ? 2 : c == 0xc6 ? 4 : 0;
    if (!lb || it + 1 > r->lim.max_items)
        return 0; /* not a bin (or over the limit): the general path says why */
    need(r, off + 1 + (size_t)lb);
    uint64_t size = be(r->buf + r->pos + off + 1, lb);
    if (size > r->lim.max_bin)
        return 0;
    size_t o1 = 0, o2 = 0;
    const char *base = (const char *)r->buf + r->pos;
    if (msgpack_unpack_next(&r->obj, base + voff[0], off - voff[0], &o1) != MSGPACK_UNPACK_SUCCESS ||
        msgpack_unpack_next(&r->obj2, base + voff[1], off - voff[1], &o2) != MSGPACK_UNPACK_SUCCESS)
        FAIL(r, "msgpack decoding failed");
    sp_dtype dtype;
    int ndim;
    int64_t shape[SP_MAX_DIMS];
    size_t nbytes = tensor_header(r, name, &r->obj.data, &r->obj2.data, 1, (size_t)size, &dtype,
                                  &ndim, shape);
    consume(r, off + 1 + (size_t)lb);
    *items = it + 1;
    sp_tensor *t = r->pending = sp_calloc(1, sizeof *t);
    t->dtype = dtype;
    t->ndim = ndim;
    for (int i = 0; i < ndim; i++)
        t->shape[i] = shape[i];
    t->nbytes = nbytes;
    read_payload(r, nbytes);
    r->pending = NULL;
    sp_map_put_tensor(m, name, t);
    return 1;
}

/* Reads one entry's value from the input into m. */
static void read_value(sp_reader *r, sp_map *m, const char *name, size_t *items)
{
    need(r, 1);
    unsigned char c = r->buf[r->pos];
    if (c == 0x83 && tensor_direct(r, m, name, items))
        return;
    size_t len = scan_at(r, 0, 1, items);
    const unsigned char *p = r->buf + r->pos;
    if (is_map(c)) {
        size_t off = 0;
        if (msgpack_unpack_next(&r->obj, (const char *)p, len, &off) != MSGPACK_UNPACK_SUCCESS)
            FAIL(r, "msgpack decoding failed");
        if (lookup(&r->obj.data, "dtype")) {
            sp_map_put_tensor(m, name, parse_tensor(r, name, &r->obj.data));
            consume(r, len);
            return;
        }
    }
    sp_map_put_raw(m, name, (const char *)p, len);
    consume(r, len);
}

/* Whether the object at pos is a map whose first key is "batch" (the
 * streamed path); *hdr: the bytes of its map header, *count its entries. */
static int batch_first(sp_reader *r, size_t *hdr, uint64_t *count)
{
    unsigned char c = r->buf[r->pos];
    if (!is_map(c))
        return 0;
    size_t h = c == 0xde ? 3 : c == 0xdf ? 5 : 1;
    need(r, h);
    uint64_t n = h == 1 ? (uint64_t)(c & 0x0f) : be(r->buf + r->pos + 1, (int)h - 1);
    if (n == 0 || n > r->lim.max_container || r->lim.max_items < 3)
        return 0;
    size_t items = 1;
    size_t klen = scan_at(r, h, 1, &items);
    (void)klen;
    if (!str_at_is(r->buf + r->pos + h, "batch"))
        return 0;
    *hdr = h;
    *count = n;
    return 1;
}

/* A key of the batch map as an entry name (the checks of key_name). */
static void key_at(sp_reader *r, const unsigned char *p, char *buf, size_t len)
{
    const unsigned char *s;
    size_t n;
    if (str_at(p, &s, &n) != 0)
        FAIL(r, "map key is not a string");
    if (n == 0 || n >= len)
        FAIL(r, "entry name of %zu bytes (1 to %zu allowed)", n, len - 1);
    memcpy(buf, s, n);
    buf[n] = 0;
    if (memchr(buf, 0, n))
        FAIL(r, "entry name contains a NUL byte");
}

/* The batch map read entry by entry (its first key is "batch"). */
static void read_batch(sp_reader *r, sp_map *batch, size_t hdr, uint64_t count)
{
    size_t items = 1;
    char name[256];
    consume(r, hdr);
    for (uint64_t i = 0; i < count; i++) {
        size_t klen = scan_at(r, 0, 1, &items);
        key_at(r, r->buf + r->pos, name, sizeof name);
        consume(r, klen);
        if (strcmp(name, "batch") == 0) {
            size_t vlen = scan_at(r, 0, 1, &items);
            int64_t v;
            if (i == 0 && (int_at(r->buf + r->pos, &v) != 0 || v != r->batches))
                FAIL(r, "batch number out of order (expected %lld)", (long long)r->batches);
            consume(r, vlen);
            continue;
        }
        if (sp_map_find(batch, name))
            FAIL(r, "entry '%s' appears twice", name);
        read_value(r, batch, name, &items);
    }
    r->bytes = r->taken;
}

int sp_reader_next_batch(sp_reader *r, sp_map *batch, int64_t *index)
{
    if (!r->in_stream)
        sp_fatal("internal error: next_batch outside a stream");
    sp_map_clear(batch);
    sp_tensor_free(r->pending);
    r->pending = NULL;
    if (fill(r, 1) == 0)
        FAIL(r, "truncated stream: input ends without a trailer");
    r->map_at = r->taken;
    size_t hdr;
    uint64_t count;
    if (batch_first(r, &hdr, &count)) {
        read_batch(r, batch, hdr, count);
        if (index)
            *index = r->batches;
        r->batches++;
        return 1;
    }
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

#include "sp_pack.h"
#include "sp_stream.h"
#include "sp_error.h"

#include <errno.h>
#include <msgpack.h>
#include <string.h>

struct sp_writer {
    FILE *f;
    char *name;
    msgpack_packer pk;
    int64_t batches;
    int in_stream;
    size_t bytes;
};

static int write_cb(void *data, const char *buf, size_t len)
{
    sp_writer *w = data;
    if (len && fwrite(buf, 1, len, w->f) != len)
        sp_fatal("%s: write failed: %s", w->name, strerror(errno));
    w->bytes += len;
    return 0;
}

sp_writer *sp_writer_open(FILE *f, const char *name)
{
    sp_stream_tune_malloc();
    sp_stream_tune_pipe(f);
    sp_writer *w = sp_calloc(1, sizeof *w);
    w->f = f;
    w->name = sp_strdup(name);
    msgpack_packer_init(&w->pk, w, write_cb);
    return w;
}

void sp_pack_str(msgpack_packer *pk, const char *s)
{
    size_t n = strlen(s);
    msgpack_pack_str(pk, n);
    msgpack_pack_str_body(pk, s, n);
}

/* The stream format's tensor encoding. */
void sp_pack_tensor(msgpack_packer *pk, const sp_tensor *t)
{
    msgpack_pack_map(pk, 3);
    sp_pack_str(pk, "dtype");
    sp_pack_str(pk, sp_dtype_name(t->dtype));
    sp_pack_str(pk, "shape");
    msgpack_pack_array(pk, (size_t)t->ndim);
    for (int i = 0; i < t->ndim; i++)
        msgpack_pack_int64(pk, t->shape[i]);
    sp_pack_str(pk, "data");
    msgpack_pack_bin(pk, t->nbytes);
    msgpack_pack_bin_body(pk, t->data, t->nbytes);
}

/* Packs every entry of m except one named skip (NULL: none). */
static void pack_entries(sp_writer *w, const sp_map *m, const char *skip)
{
    for (int i = 0; i < m->n; i++) {
        if (skip && strcmp(m->e[i].name, skip) == 0)
            continue;
        sp_pack_str(&w->pk, m->e[i].name);
        if (m->e[i].tensor)
            sp_pack_tensor(&w->pk, m->e[i].tensor);
        else
            write_cb(w, m->e[i].raw, m->e[i].raw_len); /* already packed */
    }
}

void sp_writer_header(sp_writer *w, const sp_map *meta)
{
    if (w->in_stream)
        sp_fatal("internal error: header inside a stream");
    int with_meta = meta && meta->n > 0;
    msgpack_pack_map(&w->pk, with_meta ? 2 : 1);
    sp_pack_str(&w->pk, "sprites");
    msgpack_pack_int(&w->pk, SP_STREAM_VERSION);
    if (with_meta) {
        sp_pack_str(&w->pk, "meta");
        msgpack_pack_map(&w->pk, (size_t)meta->n);
        pack_entries(w, meta, NULL);
    }
    w->in_stream = 1;
    w->batches = 0;
}

void sp_writer_batch(sp_writer *w, const sp_map *entries)
{
    if (!w->in_stream)
        sp_fatal("internal error: batch before header");
    int n = 0;
    for (int i = 0; i < entries->n; i++)
        if (strcmp(entries->e[i].name, "batch") != 0)
            n++;
    msgpack_pack_map(&w->pk, (size_t)n + 1);
    sp_pack_str(&w->pk, "batch");
    msgpack_pack_int64(&w->pk, w->batches++);
    pack_entries(w, entries, "batch"); /* the number is the writer's, not the map's */
}

void sp_writer_end(sp_writer *w)
{
    if (!w->in_stream)
        sp_fatal("internal error: trailer outside a stream");
    msgpack_pack_map(&w->pk, 1);
    sp_pack_str(&w->pk, "end");
    msgpack_pack_int64(&w->pk, w->batches);
    if (fflush(w->f) != 0)
        sp_fatal("%s: write failed: %s", w->name, strerror(errno));
    w->in_stream = 0;
}

size_t sp_writer_bytes(const sp_writer *w) { return w->bytes; }

void sp_writer_close(sp_writer *w)
{
    if (!w)
        return;
    if (fflush(w->f) != 0)
        sp_fatal("%s: write failed: %s", w->name, strerror(errno));
    free(w->name);
    free(w);
}

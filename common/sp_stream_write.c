#define _GNU_SOURCE /* vmsplice */
#include "sp_pack.h"
#include "sp_stream.h"
#include "sp_env.h"
#include "sp_error.h"

#include <errno.h>
#include <msgpack.h>
#include <stdint.h>
#include <string.h>
#if defined(__linux__) && defined(__GLIBC__)
#define SP_HAVE_VMSPLICE 1
#include <fcntl.h>
#include <poll.h>
#include <stdio_ext.h> /* __fpending */
#include <sys/ioctl.h>
#include <sys/uio.h>
#endif

struct sp_writer {
    FILE *f;
    char *name;
    msgpack_packer pk;
    int64_t batches;
    int in_stream;
    size_t bytes;
    int splice_fd;      /* >= 0: payloads of SPLICE_MIN bytes or more go into this pipe by reference */
    size_t spliced_end; /* the output offset after the last byte handed by reference (0: none) */
};

/* Smaller payloads are copied: a vmsplice costs a flush of the buffered
 * bytes before it and a system call, and with 128 KiB at least no more than
 * nine batches' payloads can wait in a 1 MiB pipe at once (sp_writer_async.c
 * keeps each until it is read). */
#define SPLICE_MIN ((size_t)128 << 10)

/* Hands the n bytes at buf to the pipe by reference (vmsplice: the reader
 * copies them straight out of this process's pages, the pipe gets no copy
 * of its own); returns how many are left for fwrite, all of them when the
 * pipe refuses (splicing then stays off). */
static size_t splice_out(sp_writer *w, const char *buf, size_t n)
{
#ifdef SP_HAVE_VMSPLICE
    if (fflush(w->f) != 0) /* the bytes before these go first */
        sp_fatal("%s: write failed: %s", w->name, strerror(errno));
    while (n > 0) {
        struct iovec iov = {(void *)buf, n};
        ssize_t k = vmsplice(w->splice_fd, &iov, 1, 0);
        if (k < 0 && errno == EINTR)
            continue;
        if (k < 0 && errno == EPIPE) /* as fwrite's (SIGPIPE came first, unless ignored) */
            sp_fatal("%s: write failed: %s", w->name, strerror(errno));
        if (k <= 0) {
            w->splice_fd = -1;
            break;
        }
        buf += k;
        n -= (size_t)k;
        w->spliced_end = w->bytes - n;
    }
#else
    (void)buf;
#endif
    return n;
}

static int write_cb(void *data, const char *buf, size_t len)
{
    sp_writer *w = data;
    w->bytes += len;
    if (w->splice_fd >= 0 && len >= SPLICE_MIN) {
        size_t rest = splice_out(w, buf, len);
        buf += len - rest;
        len = rest;
    }
    if (len && fwrite(buf, 1, len, w->f) != len)
        sp_fatal("%s: write failed: %s", w->name, strerror(errno));
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
    w->splice_fd = -1;
    return w;
}

int sp_writer_splice(sp_writer *w)
{
#ifdef SP_HAVE_VMSPLICE
    static const char *const off_on[] = {"0", "1", NULL};
    if (sp_env_choice("SP_SPLICE", off_on) != 0 && sp_fd_is_pipe(fileno(w->f)))
        w->splice_fd = fileno(w->f);
#endif
    return w->splice_fd >= 0;
}

size_t sp_writer_spliced_end(const sp_writer *w) { return w->spliced_end; }

size_t sp_writer_read_upto(const sp_writer *w)
{
    if (w->spliced_end == 0)
        return SIZE_MAX; /* nothing by reference: nothing to wait for */
#ifdef SP_HAVE_VMSPLICE
    /* The output so far is what the reader has read, then what waits in the
     * pipe (FIONREAD), then what waits in stdio's buffer.  Every byte of it
     * passed this writer, so FIONREAD counts no one else's (a pipe that two
     * writers share counts more: later, never too early). */
    int in_pipe = 0;
    const int fd = fileno(w->f); /* splice_fd is -1 after a refusal; earlier bytes may still wait */
    if (ioctl(fd, FIONREAD, &in_pipe) != 0 || in_pipe < 0)
        return 0;
    if (in_pipe > 0) { /* no reader left: nothing will read those pages */
        struct pollfd p = {fd, POLLOUT, 0};
        if (poll(&p, 1, 0) == 1 && (p.revents & POLLERR))
            return SIZE_MAX;
    }
    const size_t waiting = (size_t)in_pipe + __fpending(w->f);
    return waiting <= w->bytes ? w->bytes - waiting : 0;
#else
    return SIZE_MAX;
#endif
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

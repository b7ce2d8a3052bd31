#include "sp_writer_async.h"
#include "sp_error.h"
#include "sp_start.h"
#include "sp_stream.h"

#include <pthread.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

enum job_kind { JOB_NONE, JOB_HEADER, JOB_BATCH, JOB_END, JOB_QUIT };

#define ERR_LEN 2048 /* sp_fatal's longest message */
/* Batches written into a pipe by reference (sp_writer_splice) whose bytes
 * the reader may not have read yet: their memory must stay as it is (the
 * pipe holds pointers to its pages, and the heap would hand freed memory to
 * the next batch).  With 128 KiB payloads at least and a 1 MiB pipe at
 * most nine; more (a larger pipe of the user's) waits for the oldest. */
#define RETIRED_MAX 16

struct sp_async_writer {
    sp_writer *w;
    pthread_t thread;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    /* the one job in the thread's hands (JOB_NONE: idle) and its map */
    enum job_kind kind;
    int has_meta;
    sp_map map;
    char err[ERR_LEN]; /* the thread's fatal error, raised by the stage's thread */
    sp_map retired[RETIRED_MAX]; /* written, maybe not read yet: kept, oldest first */
    size_t retired_end[RETIRED_MAX]; /* the output offset each needs read (sp_writer_read_upto) */
    int nretired;
};

/* Frees the retired batches the reader has read past (one look at the
 * pipe for all of them); returns how far it has read. */
static size_t sweep(sp_async_writer *a)
{
    const size_t read = sp_writer_read_upto(a->w);
    int k = 0;
    for (int i = 0; i < a->nretired; i++) {
        if (a->retired_end[i] <= read) {
            sp_map_free(&a->retired[i]);
        } else {
            a->retired[k] = a->retired[i];
            a->retired_end[k++] = a->retired_end[i];
        }
    }
    a->nretired = k;
    return read;
}

/* The batch just written (a->map), started at output offset start: moved
 * to the retired ones while any of it handed by reference waits in the
 * pipe (run() clears whatever stays in a->map). */
static void retire(sp_async_writer *a, size_t start)
{
    const size_t end = sp_writer_spliced_end(a->w);
    const int spliced = end > start;
    if (!spliced && a->nretired == 0)
        return; /* nothing by reference, nothing kept: no look at the pipe */
    const size_t read = sweep(a); /* the kept ones the reader is past go */
    if (!spliced || read >= end)
        return;
    while (a->nretired == RETIRED_MAX) { /* a pipe larger than ours: wait for the reader */
        nanosleep(&(struct timespec){0, 200000}, NULL);
        sweep(a);
    }
    a->retired[a->nretired] = a->map;
    a->retired_end[a->nretired++] = end;
    a->map = (sp_map){0};
}

/* What is still in the pipe when the writer closes stays allocated until
 * the process exits (the reader may read it after that; the pages then
 * belong to the pipe alone): held here so that it is not a leak. */
static sp_map *kept_at_close;
static int nkept_at_close;

/* The writer thread's sp_fatal: keep the message, leave the job. */
static _Thread_local jmp_buf job_exit;
static _Thread_local char *job_err;

static void on_fatal(const char *msg)
{
    snprintf(job_err, ERR_LEN, "%s", msg);
    longjmp(job_exit, 1);
}

static void *run(void *arg)
{
    sp_async_writer *a = arg;
    job_err = a->err;
    sp_set_thread_fatal_hook(on_fatal);
    sp_heap_advise_thread(); /* its arena on huge pages too, as the stage's heap */
    pthread_mutex_lock(&a->mu);
    for (;;) {
        while (a->kind == JOB_NONE)
            pthread_cond_wait(&a->cv, &a->mu);
        enum job_kind kind = a->kind;
        if (kind == JOB_QUIT)
            break;
        pthread_mutex_unlock(&a->mu); /* the map is the thread's until the job is done */
        if (!a->err[0]) {
            if (setjmp(job_exit) == 0) { /* setjmp alone in the condition, as C requires */
                if (kind == JOB_HEADER)
                    sp_writer_header(a->w, a->has_meta ? &a->map : NULL);
                else if (kind == JOB_BATCH) {
                    const size_t start = sp_writer_bytes(a->w);
                    sp_writer_batch(a->w, &a->map);
                    retire(a, start);
                } else {
                    sp_writer_end(a->w);
                }
            }
        }
        /* after an error too: nothing more is written, and a batch left
         * half written by reference is safe to free (on a pipe the only
         * error is a reader gone: EPIPE) */
        sp_map_clear(&a->map);
        pthread_mutex_lock(&a->mu);
        a->kind = JOB_NONE;
        pthread_cond_broadcast(&a->cv);
    }
    pthread_mutex_unlock(&a->mu);
    return NULL;
}

sp_async_writer *sp_async_writer_open(FILE *f, const char *name)
{
    sp_async_writer *a = sp_calloc(1, sizeof *a);
    a->w = sp_writer_open(f, name);
    sp_writer_splice(a->w); /* the thread owns each batch until it is read: retire */
    pthread_mutex_init(&a->mu, NULL);
    pthread_cond_init(&a->cv, NULL);
    if (pthread_create(&a->thread, NULL, run, a) != 0)
        sp_fatal("%s: cannot start the writer thread", name);
    return a;
}

/* Waits until the thread is idle; raises its error, if any, here. */
static void wait_idle(sp_async_writer *a)
{
    pthread_mutex_lock(&a->mu);
    while (a->kind != JOB_NONE)
        pthread_cond_wait(&a->cv, &a->mu);
    pthread_mutex_unlock(&a->mu);
    if (a->err[0])
        sp_fatal("%s", a->err);
}

/* Hands over a job whose map (if any) is already in a->map. */
static void submit(sp_async_writer *a, enum job_kind kind)
{
    pthread_mutex_lock(&a->mu);
    a->kind = kind;
    pthread_cond_broadcast(&a->cv);
    pthread_mutex_unlock(&a->mu);
}

void sp_async_writer_header(sp_async_writer *a, const sp_map *meta)
{
    wait_idle(a);
    a->has_meta = meta != NULL;
    if (meta)
        sp_map_merge(&a->map, meta);
    submit(a, JOB_HEADER);
}

void sp_async_writer_batch(sp_async_writer *a, sp_map *batch)
{
    wait_idle(a);
    sp_map_free(&a->map);
    a->map = *batch; /* the entries move: no copy */
    *batch = (sp_map){0};
    submit(a, JOB_BATCH);
}

void sp_async_writer_end(sp_async_writer *a)
{
    wait_idle(a);
    submit(a, JOB_END);
}

void sp_async_writer_close(sp_async_writer *a)
{
    if (!a)
        return;
    wait_idle(a);
    submit(a, JOB_QUIT);
    pthread_join(a->thread, NULL);
    pthread_mutex_destroy(&a->mu);
    pthread_cond_destroy(&a->cv);
    sp_map_free(&a->map);
    sweep(a);
    if (a->nretired) {
        kept_at_close = sp_realloc(kept_at_close, (size_t)(nkept_at_close + a->nretired) * sizeof *kept_at_close);
        memcpy(kept_at_close + nkept_at_close, a->retired, (size_t)a->nretired * sizeof *a->retired);
        nkept_at_close += a->nretired;
    }
    sp_writer_close(a->w); /* its flush errors are this thread's */
    free(a);
}

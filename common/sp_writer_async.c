#include "sp_writer_async.h"
#include "sp_error.h"
#include "sp_start.h"
#include "sp_stream.h"

#include <pthread.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum job_kind { JOB_NONE, JOB_HEADER, JOB_BATCH, JOB_END, JOB_QUIT };

#define ERR_LEN 2048 /* sp_fatal's longest message */

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
};

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
                else if (kind == JOB_BATCH)
                    sp_writer_batch(a->w, &a->map);
                else
                    sp_writer_end(a->w);
            }
        }
        sp_map_clear(&a->map); /* after an error too: nothing more is written */
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
    sp_writer_close(a->w); /* its flush errors are this thread's */
    free(a);
}

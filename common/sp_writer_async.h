/* A stream writer with its own thread: the stage's thread hands a finished
 * batch over and goes on with the next one while this thread packs and
 * writes it.
 *
 * Why: a pipe holds 1 MiB, a batch tens of MB (horse: 8 MB of images and
 * features from sp-predict, 23 MB of selected layers from sp-select), so a
 * synchronous write lasts until the next stage has read it all, and that
 * stage reads only between its own batches.  Measured with strace on
 * horse's --features pipe (320 images, 2 cores): sp-predict spent 0.67 s of
 * its ~2.4 s blocked in write(), sp-select 0.29 s; cores stood idle while
 * the heaviest stage waited.  With the write on its own thread the stage
 * computes batch k+1 while batch k drains.
 *
 * At most one batch is in the writer's hands: handing over the next one
 * waits until the previous is written.  Into a pipe, payloads go by
 * reference (sp_writer_splice) and a written batch is kept until the
 * reader is past it: usually one more, at most nine with a 1 MiB pipe
 * (memory: constant in the number of batches).  The bytes are those
 * sp_writer writes, in the same order.
 * A write error (a full disk) is reported by the stage's thread, at its next
 * hand-over or at close, as the same one-line fatal error; a closed pipe
 * ends the process with SIGPIPE as before. */
#ifndef SP_WRITER_ASYNC_H
#define SP_WRITER_ASYNC_H

#include <stdio.h>
#include "sp_map.h"

typedef struct sp_async_writer sp_async_writer;

/* Starts the thread; name is used in messages ("stdout"). */
sp_async_writer *sp_async_writer_open(FILE *f, const char *name);
/* A header with a copy of meta (NULL: none). */
void sp_async_writer_header(sp_async_writer *a, const sp_map *meta);
/* Takes the batch's entries: *batch is left empty (and usable). */
void sp_async_writer_batch(sp_async_writer *a, sp_map *batch);
/* Trailer and flush. */
void sp_async_writer_end(sp_async_writer *a);
/* Waits for everything handed over, stops the thread, flushes, frees. */
void sp_async_writer_close(sp_async_writer *a);

#endif

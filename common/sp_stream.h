/* Reading and writing streams (formats/stream.md, version 1).
 *
 * A stream: header map {"sprites": 1, "meta": {...}}, batch maps
 * {"batch": i, name: value, ...} for i = 0, 1, ..., a trailer {"end": n}.
 * Streams may be concatenated.  The reader holds one batch at a time
 * (constant memory in the number of batches) and turns every violation of
 * the contract into a one-line fatal error naming the input and batch. */
#ifndef SP_STREAM_H
#define SP_STREAM_H

#include <stdio.h>
#include "sp_map.h"

#define SP_STREAM_VERSION 1

typedef struct sp_reader sp_reader;
typedef struct sp_writer sp_writer;

/* Every stream program moves tensors of tens of MB batch after batch; with
 * glibc's defaults each is a fresh mmap whose pages fault in (zeroed) and
 * an munmap when freed, which on the 2-core VM this was measured on cost
 * about as much as the copying itself (sp-select on a tetro stream: 1.4 s
 * against 0.8 s).  sp_reader_open and sp_writer_open call this once: it
 * tells glibc's malloc to serve large blocks from the heap and keep freed
 * memory for reuse (M_MMAP_MAX 0, M_TRIM_THRESHOLD high); a filter's memory
 * is then its peak batch, held until it exits.  A no-op elsewhere. */
void sp_stream_tune_malloc(void);
/* When f is a pipe, asks Linux for a 1 MiB pipe buffer (default 64 KiB;
 * best effort, silently capped by /proc/sys/fs/pipe-max-size): a batch of
 * candidates (36 MB for tetro) then crosses in 36 wake-ups instead of 550.
 * Called by sp_reader_open and sp_writer_open. */
void sp_stream_tune_pipe(FILE *f);
/* 1 when fd is a pipe (a FIFO) */
int sp_fd_is_pipe(int fd);

/* name is used in messages ("stdin", a path). */
sp_reader *sp_reader_open(FILE *f, const char *name);
void sp_reader_close(sp_reader *r);

/* Reads the next header.  Returns 1 when a stream starts, 0 at the end of
 * the input after at least one complete stream.  An input with no stream at
 * all is an error. */
int sp_reader_next_stream(sp_reader *r);
/* The current stream's "meta" entries (empty when absent). */
const sp_map *sp_reader_meta(const sp_reader *r);

/* Reads the next batch into *batch (cleared first).  Returns 1 with a batch,
 * 0 when the trailer was read.  *index gets the batch number.  A batch map
 * whose first key is "batch" (what every writer here produces) is read entry
 * by entry: a tensor whose keys are dtype, shape, then data has its payload
 * read from the input straight into the tensor's memory; other values keep
 * their bytes as they came (raw entries).  Errors are then reported in the
 * order met, so a bad entry is named before a truncation further on. */
int sp_reader_next_batch(sp_reader *r, sp_map *batch, int64_t *index);
/* Batches read so far in the current stream. */
int64_t sp_reader_count(const sp_reader *r);
const char *sp_reader_name(const sp_reader *r);
/* Total bytes consumed from the input. */
size_t sp_reader_bytes(const sp_reader *r);

sp_writer *sp_writer_open(FILE *f, const char *name);
/* Header with the given meta entries (NULL: none). */
void sp_writer_header(sp_writer *w, const sp_map *meta);
/* A batch numbered automatically 0, 1, 2, ... */
void sp_writer_batch(sp_writer *w, const sp_map *entries);
/* Trailer, then flush.  A new header may follow. */
void sp_writer_end(sp_writer *w);
/* Flushes and frees (does not close f). */
void sp_writer_close(sp_writer *w);
size_t sp_writer_bytes(const sp_writer *w);
/* Zero copy into a pipe (Linux): from now on every payload of 128 KiB or
 * more goes into the pipe by reference (vmsplice), so that the kernel
 * neither copies it into pipe pages of its own nor allocates and frees
 * them; the reader copies it out of this process's memory.  The price: the
 * caller must leave each batch's memory untouched (not even free it: the
 * heap would reuse it) until sp_writer_read_upto says the reader has read
 * it.  Returns 1 when on: f is a pipe, and SP_SPLICE is not 0.  The bytes
 * are the same either way.  Measured on 2 cores (dsprites' pipe, 512
 * images): the pipes' system time 0.21 -> 0.16 s, README #splice. */
int sp_writer_splice(sp_writer *w);
/* The output offset after the last byte handed by reference (0: none). */
size_t sp_writer_spliced_end(const sp_writer *w);
/* How far into the output the reader has read (the bytes that have left
 * the pipe); SIZE_MAX when nothing went by reference or no reader is left
 * (nothing will read those pages).  One FIONREAD; never blocks. */
size_t sp_writer_read_upto(const sp_writer *w);

#endif

/* The loop every filter stage shares: read the streams on stdin, write one
 * output stream per input stream on stdout, copy each header's meta (with
 * "producer" set), let the stage add entries to every batch, pass through
 * everything else, and close cleanly.  A stage supplies two callbacks. */
#ifndef SP_FILTER_H
#define SP_FILTER_H

#include <stdint.h>
#include "sp_map.h"

typedef struct {
    const char *producer; /* written as meta "producer" */
    /* Called at each stream's start with the input meta and the output meta
     * (already a copy of it); may be NULL. */
    void (*on_stream)(const sp_map *in_meta, sp_map *out_meta, void *ctx);
    /* Called for each batch; adds (or replaces) entries in place. */
    void (*on_batch)(sp_map *batch, int64_t index, void *ctx);
    void *ctx;
} sp_filter;

/* The batch's "image" f32 [N,C,H,W], or a one-line error naming the batch. */
const sp_tensor *sp_filter_image(const sp_map *batch, int64_t index);

/* Runs the filter from stdin to stdout until the input ends. */
void sp_filter_run(const sp_filter *f);

#endif

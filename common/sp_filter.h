/* The loop every filter stage shares: read the streams on stdin, write one
 * output stream per input stream on stdout, copy each header's meta (with
 * "producer" set), let the stage add entries to every batch, pass through
 * everything else, and close cleanly.  A stage supplies two callbacks.
 *
 * Every stage also takes --drop NAME[,NAME...] (SP_FILTER_DROP_OPT in its
 * option table, stored in .drop): those entries are removed from every
 * output batch after the stage's own work, so a stage can consume an entry
 * and not pass it on (sp-compose --drop cand_layers,cand_masks,backgrounds).
 * A name absent from a batch is no error (which entries exist depends on
 * the model and the stages before); an empty name is. */
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
    const char *drop; /* --drop: comma-separated entry names, or NULL */
} sp_filter;

#define SP_FILTER_DROP_HELP                                                              \
    "remove these entries from every output batch, after this stage's work\n"            \
    "                         (comma-separated; a name not in a batch is ignored)"
/* The --drop row of a stage's sp_opt table; ptr: a const char ** (the .drop). */
#define SP_FILTER_DROP_OPT(ptr) {"drop", SP_OPT_STR, (ptr), "NAMES", SP_FILTER_DROP_HELP}

/* The batch's "image" f32 [N,C,H,W], or a one-line error naming the batch. */
const sp_tensor *sp_filter_image(const sp_map *batch, int64_t index);

/* Runs the filter from stdin to stdout until the input ends. */
void sp_filter_run(const sp_filter *f);

#endif

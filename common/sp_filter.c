#include "sp_filter.h"
#include "sp_error.h"
#include "sp_start.h"
#include "sp_stream.h"
#include "sp_writer_async.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The --drop list split into names (a copy of the text, cut at the commas);
 * returns the count.  An empty name is a fatal error. */
static int drop_names(const char *drop, char **copy, char ***names)
{
    *copy = NULL;
    *names = NULL;
    if (!drop)
        return 0;
    size_t len = strlen(drop);
    int n = 1;
    for (size_t i = 0; i < len; i++)
        n += drop[i] == ',';
    *copy = sp_strdup(drop);
    *names = sp_malloc((size_t)n * sizeof **names);
    char *s = *copy;
    for (int k = 0; k < n; k++) {
        char *c = strchr(s, ',');
        if (c)
            *c = 0;
        if (!*s)
            sp_fatal("--drop: '%s': an empty entry name", drop);
        if (strlen(s) > 255)
            sp_fatal("--drop: an entry name longer than 255 bytes");
        (*names)[k] = s;
        s = c ? c + 1 : s;
    }
    return n;
}

void sp_filter_run(const sp_filter *f)
{
    sp_reader *r = sp_reader_open(stdin, "stdin");
    sp_async_writer *w = sp_async_writer_open(stdout, "stdout"); /* writes batch k while the stage makes k+1 */
    sp_map b = {0};
    int64_t idx;
    char *drop_copy, **drop;
    const int ndrop = drop_names(f->drop, &drop_copy, &drop);
    while (sp_reader_next_stream(r)) {
        sp_map meta = {0};
        sp_map_merge(&meta, sp_reader_meta(r));
        sp_map_put_str(&meta, "producer", f->producer);
        if (f->on_stream)
            f->on_stream(sp_reader_meta(r), &meta, f->ctx);
        /* the header goes out with the first batch made (or the trailer):
         * a stage that refuses its first batch (a model that does not fit
         * the images, a missing entry) writes nothing at all */
        int header_out = 0;
        while (sp_reader_next_batch(r, &b, &idx)) {
            f->on_batch(&b, idx, f->ctx);
            for (int k = 0; k < ndrop; k++)
                sp_map_remove(&b, drop[k]);
            if (!header_out) {
                sp_async_writer_header(w, &meta);
                header_out = 1;
            }
            sp_async_writer_batch(w, &b); /* takes b's entries */
            sp_heap_advise(); /* a heap past its reserve: huge pages from the next batch on */
        }
        if (!header_out)
            sp_async_writer_header(w, &meta);
        sp_map_free(&meta);
        sp_async_writer_end(w);
    }
    sp_async_writer_close(w);
    sp_reader_close(r);
    sp_map_free(&b);
    free(drop);
    free(drop_copy);
}

const sp_tensor *sp_filter_image(const sp_map *batch, int64_t index)
{
    const sp_tensor *img = sp_map_tensor(batch, "image");
    if (!img || img->dtype != SP_F32 || img->ndim != 4)
        sp_fatal("stdin: batch %lld: needs an entry 'image' f32 [N,C,H,W]", (long long)index);
    return img;
}

#include "sp_filter.h"
#include "sp_error.h"
#include "sp_stream.h"

#include <stdio.h>

void sp_filter_run(const sp_filter *f)
{
    sp_reader *r = sp_reader_open(stdin, "stdin");
    sp_writer *w = sp_writer_open(stdout, "stdout");
    sp_map b = {0};
    int64_t idx;
    while (sp_reader_next_stream(r)) {
        sp_map meta = {0};
        sp_map_merge(&meta, sp_reader_meta(r));
        sp_map_put_str(&meta, "producer", f->producer);
        if (f->on_stream)
            f->on_stream(sp_reader_meta(r), &meta, f->ctx);
        sp_writer_header(w, &meta);
        sp_map_free(&meta);
        while (sp_reader_next_batch(r, &b, &idx)) {
            f->on_batch(&b, idx, f->ctx);
            sp_writer_batch(w, &b);
        }
        sp_writer_end(w);
    }
    sp_writer_close(w);
    sp_reader_close(r);
    sp_map_free(&b);
}

const sp_tensor *sp_filter_image(const sp_map *batch, int64_t index)
{
    const sp_tensor *img = sp_map_tensor(batch, "image");
    if (!img || img->dtype != SP_F32 || img->ndim != 4)
        sp_fatal("stdin: batch %lld: needs an entry 'image' f32 [N,C,H,W]", (long long)index);
    return img;
}

/* sp-load: streams a dataset as batches of images (+ ground truth).
 * Folder layouts and splits: formats/dataset.md; entries: formats/stream.md. */
#include "sp_start.h"
#include "sp_dataset.h"
#include "sp_error.h"
#include "sp_opt.h"
#include "sp_progress.h"
#include "sp_stream.h"
#include "sp_writer_async.h"

#include <msgpack.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>

static const char *usage = "sp-load [options] DIR\n       sp-load [options] --idx IMAGES [LABELS]";
static const char *description =
    "Streams a dataset as batches on stdout: entries image f32 [N,C,H,W] in [0,1],\n"
    "index i64 [N] (position in the dataset), and when the set has them mask,\n"
    "sem_mask [N,H,W] (u8 when a batch's ids fit, else i32) and label i32 [N].\n"
    "DIR is a DTI-Sprites folder (images/, masks/, sem_masks/), class folders\n"
    "(DIR/<class>/*.png, labels in sorted order) or a plain folder of PNGs; --idx\n"
    "reads IDX files (gzip or not).  Splits follow the reference's dataset\n"
    "classes (--split-rule, see formats/dataset.md).";

typedef struct {
    int batch, epochs, shuffle, channels, drop_last, threads;
    int64_t seed, limit;
    int height, width;
    const char *split, *rule, *size, *idx;
} options;

/* Meta of the header: what a consumer needs to know about the stream. */
static void fill_meta(sp_map *meta, const sp_dataset *d, const options *o, const char *rule,
                      int64_t count, int h, int w)
{
    sp_map_put_str(meta, "producer", "sp-load");
    sp_map_put_str(meta, "source", d->root);
    sp_map_put_str(meta, "layout", sp_layout_name(d->layout));
    sp_map_put_str(meta, "split", o->split);
    sp_map_put_str(meta, "split_rule", rule);
    sp_map_put_int(meta, "count", count);
    sp_map_put_int(meta, "epochs", o->epochs);
    sp_map_put_int(meta, "batch_size", o->batch);
    sp_map_put_int(meta, "drop_last", o->drop_last);
    sp_map_put_int(meta, "channels", o->channels);
    sp_map_put_int(meta, "height", h);
    sp_map_put_int(meta, "width", w);
    sp_map_put_int(meta, "shuffle", o->shuffle);
    sp_map_put_int(meta, "seed", o->seed);
    if (d->n_classes)
        sp_map_put_int(meta, "n_classes", d->n_classes);
    if (d->class_names) {
        msgpack_sbuffer sb;
        msgpack_packer pk;
        msgpack_sbuffer_init(&sb);
        msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
        msgpack_pack_array(&pk, (size_t)d->n_classes);
        for (int c = 0; c < d->n_classes; c++) {
            size_t n = strlen(d->class_names[c]);
            msgpack_pack_str(&pk, n);
            msgpack_pack_str_body(&pk, d->class_names[c], n);
        }
        sp_map_put_raw(meta, "class_names", sb.data, sb.size);
        msgpack_sbuffer_destroy(&sb);
    }
}

int main(int argc, char **argv)
{
    sp_main_start(argv);
    options o = {.batch = 32, .epochs = 1, .channels = 3, .seed = 0, .limit = -1,
                 .split = "train", .rule = "auto"};
    sp_opt opts[] = {
        {"batch", SP_OPT_INT, &o.batch, "N", "images per batch (default 32)"},
        {"split", SP_OPT_STR, &o.split, "S", "train | val | eval (default train)"},
        {"split-rule", SP_OPT_STR, &o.rule, "R",
         "auto | multi-object | gtsrb | horse | torchvision | all (default auto)"},
        {"shuffle", SP_OPT_FLAG, &o.shuffle, NULL, "shuffle the order, anew each epoch"},
        {"seed", SP_OPT_INT64, &o.seed, "S", "seed of the shuffle (default 0)"},
        {"epochs", SP_OPT_INT, &o.epochs, "E", "pass over the split E times (default 1)"},
        {"size", SP_OPT_STR, &o.size, "HxW", "resize images (bilinear) and masks (nearest)"},
        {"limit", SP_OPT_INT64, &o.limit, "N", "only the first N items of the split"},
        {"channels", SP_OPT_INT, &o.channels, "C", "1 (grey) or 3 (RGB, default)"},
        {"drop-last", SP_OPT_FLAG, &o.drop_last, NULL, "drop each epoch's incomplete last batch"},
        {"idx", SP_OPT_STR, &o.idx, "IMAGES", "read IDX files instead of a folder"},
        {"threads", SP_OPT_INT, &o.threads, "T", "decoding threads (default: OpenMP's)"},
        {0}};
    char **args;
    int nargs = sp_opt_parse(argc, argv, opts, usage, description, &args);
    if (o.batch <= 0)
        sp_fatal("--batch: must be at least 1 (got %d)", o.batch);
    if (o.epochs <= 0)
        sp_fatal("--epochs: must be at least 1 (got %d)", o.epochs);
    if (o.channels != 1 && o.channels != 3)
        sp_fatal("--channels: must be 1 or 3 (got %d)", o.channels);
    if (o.size && sp_parse_size(o.size, &o.height, &o.width) != 0)
        sp_fatal("--size: '%s' is not HxW (e.g. 28x28)", o.size);
    if (o.threads < 0)
        sp_fatal("--threads: must be positive");
    if (o.threads > 0)
        omp_set_num_threads(o.threads);

    sp_dataset *d;
    if (o.idx) {
        if (nargs > 1)
            sp_fatal("%s: unexpected argument (--idx takes IMAGES and optional LABELS)", args[1]);
        d = sp_dataset_open_idx(o.idx, nargs == 1 ? args[0] : NULL);
    } else {
        if (nargs != 1)
            sp_fatal("expected one dataset folder (see --help)");
        d = sp_dataset_open_dir(args[0]);
    }
    int64_t *items;
    const char *rule;
    int64_t count = sp_dataset_split(d, o.split, o.rule, &items, &rule);
    if (o.limit >= 0 && o.limit < count)
        count = o.limit;
    if (count == 0)
        sp_fatal("%s: the %s split is empty", d->root, o.split);

    int h = o.height, w = o.width;
    if (!o.size) {
        char err[512];
        if (sp_dataset_item_size(d, items[0], &h, &w, err, sizeof err) != 0)
            sp_fatal("%s", err);
    }
    sp_load_opts lo = {o.channels, o.height, o.width};
    sp_map meta = {0}, batch = {0};
    fill_meta(&meta, d, &o, rule, count, h, w);
    /* batch k is written while batch k+1 is decoded */
    sp_async_writer *wr = sp_async_writer_open(stdout, "stdout");
    sp_async_writer_header(wr, &meta);
    sp_progress prog;
    sp_progress_start(&prog, "images", count * o.epochs);
    int64_t *order = sp_malloc(sizeof(int64_t) * (size_t)count);
    int64_t done = 0;
    for (int e = 0; e < o.epochs; e++) {
        sp_dataset_epoch_order(order, items, count, o.shuffle, (uint64_t)o.seed, e);
        for (int64_t s = 0; s < count; s += o.batch) {
            int64_t n = count - s < o.batch ? count - s : o.batch;
            if (n < o.batch && o.drop_last)
                break;
            sp_dataset_load_batch(&batch, d, order + s, n, &lo, h, w);
            sp_async_writer_batch(wr, &batch); /* takes the batch's entries */
            done += n;
            sp_progress_update(&prog, done);
        }
    }
    sp_async_writer_end(wr);
    sp_progress_end(&prog, done);
    sp_async_writer_close(wr);
    sp_map_free(&meta);
    sp_map_free(&batch);
    free(order);
    free(items);
    sp_dataset_free(d);
    return 0;
}

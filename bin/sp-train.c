/* sp-train: trains a DTI-Sprites model from a stream of image batches.
 *
 * This version only creates the initial model (--init-only): the model the
 * configuration describes, initialised as the reference initialises it,
 * written as a model file (formats/model.md).  Training comes with a later
 * issue.  When the initialisation reads images (proto_init or bkg_init
 * 'mean' / 'sample'), they come from the stream on stdin: the first 1000
 * images of its first stream (shuffle with sp-load --shuffle for the
 * reference's random batch). */
#include "sp_config.h"
#include "sp_error.h"
#include "sp_model.h"
#include "sp_opt.h"
#include "sp_stream.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#define INIT_IMAGES 1000

/* The images read for the initialisation: file scope, so that a fatal
 * error while reading leaves it reachable (no leak report under ASan). */
static float *init_images;

/* Up to max images [n, C, H, W] from stdin, checked against the model. */
static float *read_images(const sp_model *m, size_t max, size_t *n)
{
    sp_reader *r = sp_reader_open(stdin, "stdin");
    sp_map b = {0};
    int64_t idx;
    size_t one = (size_t)m->C * m->H * m->W, have = 0;
    float *x = init_images = sp_malloc(max * one * sizeof *x);
    if (!sp_reader_next_stream(r))
        sp_fatal("stdin: no stream");
    while (have < max && sp_reader_next_batch(r, &b, &idx)) {
        const sp_tensor *img = sp_map_tensor(&b, "image");
        if (!img || img->dtype != SP_F32 || img->ndim != 4)
            sp_fatal("stdin: batch %lld: needs an entry 'image' f32 [N,C,H,W]", (long long)idx);
        if (img->shape[1] != m->C || img->shape[2] != m->H || img->shape[3] != m->W)
            sp_fatal("stdin: batch %lld: images [%lld,%lld,%lld], the config's dataset has [%d,%d,%d]",
                     (long long)idx, (long long)img->shape[1], (long long)img->shape[2],
                     (long long)img->shape[3], m->C, m->H, m->W);
        size_t k = (size_t)img->shape[0];
        if (k > max - have)
            k = max - have;
        memcpy(x + have * one, img->data, k * one * sizeof *x);
        have += k;
    }
    /* The rest of the input is not needed; stop reading (the writer gets
     * SIGPIPE, as with head). */
    sp_map_free(&b);
    sp_reader_close(r);
    if (have == 0)
        sp_fatal("stdin: no images (the initialisation needs some)");
    *n = have;
    return x;
}

int main(int argc, char **argv)
{
    sp_set_prog(argv[0]);
    int init_only = 0;
    const char *out = NULL;
    int64_t seed = -1;
    sp_opt opts[] = {
        {"init-only", SP_OPT_FLAG, &init_only, NULL, "write the initial model and stop (the only mode yet)"},
        {"out", SP_OPT_STR, &out, "MODEL", "model file to write"},
        {"seed", SP_OPT_INT64, &seed, "S", "seed of every random initialisation (default: training.seed)"},
        {0}};
    char **args;
    int nargs = sp_opt_parse(argc, argv, opts, "sp-train --init-only CONFIG --out MODEL [--seed S] [< images]",
                             "Builds the DTI-Sprites model that CONFIG (pipelines/configs/*.conf)\n"
                             "describes, initialised as the reference does, and writes it to MODEL\n"
                             "(formats/model.md).  When proto_init or bkg_init is 'mean' or 'sample',\n"
                             "the images come from the stream on stdin (its first 1000 images).\n"
                             "Training itself is not implemented yet.",
                             &args);
    if (!init_only)
        sp_fatal("training is not implemented yet (only --init-only)");
    if (nargs != 1)
        sp_fatal("expected one CONFIG file (see --help)");
    if (!out)
        sp_fatal("--out: required");
    sp_config *cfg = sp_config_read(args[0]);
    sp_model *m = sp_model_new(cfg, args[0]);
    uint64_t s = seed >= 0 ? (uint64_t)seed : (uint64_t)sp_config_int(cfg, "training.seed");
    float *images = NULL;
    size_t n = 0;
    if (sp_model_init_needs_data(cfg))
        images = read_images(m, INIT_IMAGES, &n);
    sp_model_init(m, s, images, n);
    free(images);
    sp_map_put_str(&m->meta, "producer", "sp-train");
    sp_map_put_int(&m->meta, "seed", (int64_t)s);
    sp_map_put_str(&m->meta, "config_file", args[0]);
    sp_map_put_int(&m->meta, "epoch", 0);
    sp_map_put_int(&m->meta, "iteration", 0);
    sp_map_put_int(&m->meta, "init_images", (int64_t)n);
    sp_model_write(m, out);
    fprintf(stderr, "sp-train: %s: %d tensors, %zu parameters, seed %" PRIu64 "\n", out, m->ntensors,
            sp_model_numel(m), s);
    sp_model_free(m);
    sp_config_free(cfg);
    return 0;
}

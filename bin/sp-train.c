/* sp-train: trains a DTI-Sprites model from a stream of image batches
 * (sp-load --shuffle --epochs E | sp-train --config C --out MODEL), with
 * the reference's semantics (common/sp_train.h).
 *
 * --init-only writes the initial model and stops.  When the initialisation
 * reads images (proto_init or bkg_init 'mean' / 'sample'), they come from
 * the stream: with --init-only its first 1000 images, in training its
 * first batch (shuffle with sp-load --shuffle for the reference's random
 * batch).
 *
 * Checkpoints (the model file with its optimizer / rng / schedule
 * sections) go to --out every --checkpoint-every iterations and at the
 * end, atomically.  --resume CKPT continues a run: give it the same stream
 * again (the same sp-load command); the batches the checkpoint has seen are
 * skipped, so the result is the uninterrupted run's, byte for byte. */
#define _XOPEN_SOURCE 700 /* getline, realpath */
#include <sys/stat.h>
#include "sp_start.h"
#include "sp_config.h"
#include "sp_dataset.h"
#include "sp_device.h"
#include "sp_error.h"
#include "sp_model.h"
#include "sp_opt.h"
#include "sp_progress.h"
#include "sp_stream.h"
#include "sp_train.h"
#include "sp_validate.h"
#include "sp_viz.h"

#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <unistd.h>
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

/* The first images of the first batch (or of the first 1000 images for
 * --init-only) for the data-dependent initialisations. */
static sp_model *initial_model(const char *config, uint64_t seed, const float *x, size_t n)
{
    sp_config *cfg = sp_config_read(config);
    sp_model *m = sp_model_new(cfg, config);
    sp_model_init(m, seed, x, n);
    sp_map_put_str(&m->meta, "producer", "sp-train");
    sp_map_put_int(&m->meta, "seed", (int64_t)seed);
    sp_map_put_str(&m->meta, "config_file", config);
    sp_map_put_int(&m->meta, "epoch", 0);
    sp_map_put_int(&m->meta, "iteration", 0);
    sp_map_put_int(&m->meta, "init_images", (int64_t)n);
    sp_config_free(cfg);
    return m;
}

static uint64_t config_seed(const char *config, int64_t seed)
{
    if (seed >= 0)
        return (uint64_t)seed;
    sp_config *cfg = sp_config_read(config);
    uint64_t s = (uint64_t)sp_config_int(cfg, "training.seed");
    sp_config_free(cfg);
    return s;
}

static int init_only_main(const char *config, const char *out, int64_t seed)
{
    uint64_t s = config_seed(config, seed);
    sp_config *cfg = sp_config_read(config);
    sp_model *probe = sp_model_new(cfg, config);
    float *images = NULL;
    size_t n = 0;
    if (sp_model_init_needs_data(cfg))
        images = read_images(probe, INIT_IMAGES, &n);
    sp_model_free(probe);
    sp_config_free(cfg);
    sp_model *m = initial_model(config, s, images, n);
    free(images);
    init_images = NULL;
    sp_model_write(m, out);
    fprintf(stderr, "sp-train: %s: %d tensors, %zu parameters, seed %" PRIu64 "\n", out, m->ntensors,
            sp_model_numel(m), s);
    sp_model_free(m);
    return 0;
}

/* The batch's images, checked against the model. */
static const sp_tensor *batch_images(const sp_map *b, int64_t idx, const sp_model *m)
{
    const sp_tensor *img = sp_map_tensor(b, "image");
    if (!img || img->dtype != SP_F32 || img->ndim != 4)
        sp_fatal("stdin: batch %lld: needs an entry 'image' f32 [N,C,H,W]", (long long)idx);
    if (img->shape[1] != m->C || img->shape[2] != m->H || img->shape[3] != m->W)
        sp_fatal("stdin: batch %lld: images [%lld,%lld,%lld], the model takes [%d,%d,%d]", (long long)idx,
                 (long long)img->shape[1], (long long)img->shape[2], (long long)img->shape[3], m->C, m->H, m->W);
    if (img->shape[0] < 2)
        sp_fatal("stdin: batch %lld: one image (batch norm needs at least 2 per batch)", (long long)idx);
    return img;
}

static FILE *log_file;

/* Opens the --log file.  On a resume, the lines of iterations after the
 * checkpoint's (a killed run wrote them, the resumed run writes them
 * again) are dropped first, through a temporary file and a rename, so the
 * log holds each iteration once. */
static FILE *log_open(const char *path, int resume, int64_t it0)
{
    struct stat st;
    /* only a regular file is rewritten (not a pipe or a terminal), and the
     * file itself: through a symbolic link (/dev/stderr -> /proc/self/fd/2
     * -> a file) the temporary name and the rename go beside the target,
     * never over the link */
    char *real = resume && stat(path, &st) == 0 && S_ISREG(st.st_mode) ? realpath(path, NULL) : NULL;
    if (real) {
        FILE *in = fopen(real, "r");
        if (in) {
            size_t len = strlen(real) + 5;
            char *tmp = sp_malloc(len);
            snprintf(tmp, len, "%s.tmp", real);
            FILE *out = fopen(tmp, "w");
            if (!out)
                sp_fatal("--log: %s: cannot write", tmp);
            char *line = NULL;
            size_t cap = 0;
            while (getline(&line, &cap, in) >= 0) {
                const char *at = strstr(line, "\"iteration\": ");
                long long it;
                if (at && sscanf(at + 13, "%lld", &it) == 1 && it > it0)
                    continue;
                fputs(line, out);
            }
            free(line);
            fclose(in);
            if (fclose(out) != 0 || rename(tmp, real) != 0)
                sp_fatal("--log: %s: cannot rewrite", path);
            free(tmp);
        }
        free(real);
    }
    FILE *f = fopen(path, resume ? "a" : "w");
    if (!f)
        sp_fatal("--log: %s: cannot open", path);
    return f;
}

/* Where the batches come from: the stream on stdin, or (--data DIR) the
 * data set loaded here exactly as `sp-load DIR --shuffle --seed S --batch
 * B --drop-last --size HxW --channels C` would stream it, epoch after
 * epoch without end. */
typedef struct {
    sp_reader *r;
    sp_dataset *d;
    int64_t *items, *order, count, bs, epoch, pos;
    uint64_t shuffle_seed;
    sp_load_opts lo;
} source;

static int source_next(source *src, sp_map *b, int64_t *idx)
{
    if (src->r)
        return sp_reader_next_batch(src->r, b, idx);
    if (src->pos + src->bs > src->count) { /* drop-last: a new epoch */
        src->epoch++, src->pos = 0;
    }
    if (src->pos == 0)
        sp_dataset_epoch_order(src->order, src->items, src->count, 1, src->shuffle_seed, src->epoch);
    sp_map_clear(b);
    sp_dataset_load_batch(b, src->d, src->order + src->pos, src->bs, &src->lo, src->lo.height, src->lo.width);
    *idx = src->epoch * (src->count / src->bs) + src->pos / src->bs;
    src->pos += src->bs;
    return 1;
}

static void source_close(source *src)
{
    if (src->r)
        sp_reader_close(src->r);
    sp_dataset_free(src->d);
    free(src->items);
    free(src->order);
}

typedef struct {
    const char *out, *log, *viz, *val;
    int64_t iters, every, epoch_batches, viz_every, val_every, progress_every;
    double time_limit;
} run_opts;

/* --val FILE: every batch of the stream file, kept in memory (a val split
 * is small: 100 images in the reference's configs). */
static sp_map *val_batches;
static int n_val;

static void load_val(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        sp_fatal("--val: %s: %s", path, strerror(errno));
    sp_reader *r = sp_reader_open(f, path);
    int64_t idx;
    while (sp_reader_next_stream(r)) {
        for (;;) {
            val_batches = sp_realloc(val_batches, sizeof *val_batches * (size_t)(n_val + 1));
            memset(&val_batches[n_val], 0, sizeof *val_batches);
            if (!sp_reader_next_batch(r, &val_batches[n_val], &idx))
                break;
            n_val++;
        }
    }
    sp_reader_close(r);
    fclose(f);
    if (n_val == 0)
        sp_fatal("--val: %s: no batches", path);
}

/* The scores of the model now on the val batches: stderr and the log. */
static void validate(sp_trainer *t, sp_model *m)
{
    sp_trainer_sync(t);
    sp_val_scores v;
    sp_validate(m, val_batches, n_val, &v);
    long long it = (long long)sp_trainer_iteration(t);
    fprintf(stderr, "sp-train: iteration %lld: val (%lld images)", it, (long long)v.n);
    if (!isnan(v.ari))
        fprintf(stderr, " ari_fg %.4f ari %.4f", v.ari_fg, v.ari);
    if (!isnan(v.fg_acc))
        fprintf(stderr, " fg_acc %.4f", v.fg_acc);
    if (!isnan(v.acc))
        fprintf(stderr, " acc %.4f", v.acc);
    fputc('\n', stderr);
    if (log_file) {
        fprintf(log_file, "{\"iteration\": %lld, \"val_images\": %lld", it, (long long)v.n);
        if (!isnan(v.ari))
            fprintf(log_file, ", \"val_ari_fg\": %.6f, \"val_ari\": %.6f", v.ari_fg, v.ari);
        if (!isnan(v.fg_acc))
            fprintf(log_file, ", \"val_fg_acc\": %.6f", v.fg_acc);
        if (!isnan(v.acc))
            fprintf(log_file, ", \"val_acc\": %.6f", v.acc);
        fprintf(log_file, "}\n");
        fflush(log_file);
    }
}

/* --viz DIR: the sprites and the last batch's reconstructions (x: its
 * images, or NULL for none), as PNGs named by the iteration, and
 * sprites.png / recon.png, the latest. */
static void draw(sp_trainer *t, sp_model *m, const float *x, const char *dir)
{
    char path[4096];
    int64_t it = sp_trainer_iteration(t);
    sp_trainer_sync(t);
    snprintf(path, sizeof path, "%s/sprites-%06lld.png", dir, (long long)it);
    sp_viz_sprites(m, path, 4);
    snprintf(path, sizeof path, "%s/sprites.png", dir);
    sp_viz_sprites(m, path, 4);
    const float *recon;
    int n = sp_trainer_last_recon(t, &recon);
    if (n > 0 && x) {
        snprintf(path, sizeof path, "%s/recon-%06lld.png", dir, (long long)it);
        sp_viz_pairs(x, recon, n, m->C, m->H, m->W, path, 3);
        snprintf(path, sizeof path, "%s/recon.png", dir);
        sp_viz_pairs(x, recon, n, m->C, m->H, m->W, path, 3);
    }
}

static void checkpoint(sp_trainer *t, sp_model *m, const char *out)
{
    sp_trainer_sync(t);
    sp_model_write(m, out);
}

int main(int argc, char **argv)
{
    sp_main_start_alone(argv); /* runs alone: spins briefly between parallel loops */
    int init_only = 0;
    const char *config = NULL, *resume = NULL, *data = NULL;
    int64_t data_seed = 0;
    int64_t seed = -1;
    run_opts o = {.iters = -1, .every = 1000, .epoch_batches = 0, .progress_every = 50};
    const char *device = "auto";
    sp_opt opts[] = {
        {"config", SP_OPT_STR, &config, "CONFIG", "configuration (pipelines/configs/*.conf) of a new model"},
        {"resume", SP_OPT_STR, &resume, "CKPT", "continue the run of this checkpoint (same stream again)"},
        {"out", SP_OPT_STR, &o.out, "MODEL", "model / checkpoint file to write"},
        {"data", SP_OPT_STR, &data, "DIR", "load the train split of DIR here instead of reading stdin"},
        {"data-seed", SP_OPT_INT64, &data_seed, "S", "with --data: the shuffle seed, as sp-load --seed (0)"},
        {"init-only", SP_OPT_FLAG, &init_only, NULL, "write the initial model and stop"},
        {"seed", SP_OPT_INT64, &seed, "S", "seed of every random draw (default: training.seed)"},
        {"iters", SP_OPT_INT64, &o.iters, "N", "stop after iteration N (default: the stream's end or "
                                               "training.n_epoches)"},
        {"progress-every", SP_OPT_INT64, &o.progress_every, "N",
         "when stderr is not a terminal: a progress line every N iterations (50)"},
        {"time-limit", SP_OPT_DOUBLE, &o.time_limit, "S", "stop (with a checkpoint) after S seconds of training"},
        {"checkpoint-every", SP_OPT_INT64, &o.every, "N", "write the checkpoint every N iterations (1000)"},
        {"epoch-batches", SP_OPT_INT64, &o.epoch_batches, "N",
         "batches per epoch (default: from the stream's header)"},
        {"log", SP_OPT_STR, &o.log, "FILE", "JSON lines: iteration, epoch, loss, lr, it/s, reassignments"},
        {"device", SP_OPT_STR, &device, "D", "auto | cpu | cuda (default auto)"},
        {"viz", SP_OPT_STR, &o.viz, "DIR", "draw sprites and reconstructions into DIR (PNG)"},
        {"val", SP_OPT_STR, &o.val, "FILE", "a stream file (e.g. sp-load --split val) to score during training"},
        {"val-every", SP_OPT_INT64, &o.val_every, "N",
         "score it every N iterations (default training.val_stat_interval, else --checkpoint-every)"},
        {"viz-every", SP_OPT_INT64, &o.viz_every, "N", "every N iterations (default: --checkpoint-every)"},
        {0}};
    char **args;
    int nargs = sp_opt_parse(
        argc, argv, opts,
        "sp-load ... | sp-train (--config CONFIG | --resume CKPT) --out MODEL [options]\n"
        "       sp-train --init-only CONFIG --out MODEL [--seed S] [< images]",
        "Trains the DTI-Sprites model that CONFIG describes on the image batches of\n"
        "the stream on stdin (formats/stream.md), as the reference trains it, and\n"
        "writes it to MODEL (formats/model.md): a checkpoint every N iterations and\n"
        "at the end.  Epochs are counted in batches (the header's count and\n"
        "batch_size); pass the epochs with sp-load --epochs.",
        &args);
    if (!o.out)
        sp_fatal("--out: required");
    if (init_only) {
        if (nargs != 1 && !config)
            sp_fatal("expected one CONFIG file (see --help)");
        return init_only_main(nargs == 1 ? args[0] : config, o.out, seed);
    }
    if (nargs != 0)
        sp_fatal("unexpected argument '%s' (the images come on stdin, or give --data DIR)", args[0]);
    if (!config == !resume)
        sp_fatal("give either --config CONFIG (a new run) or --resume CKPT");
    if (o.every <= 0)
        sp_fatal("--checkpoint-every: must be at least 1");
    if (o.progress_every <= 0)
        sp_fatal("--progress-every: must be at least 1");
    if (o.iters < -1)
        sp_fatal("--iters: must be 0 or more (got %lld)", (long long)o.iters);
    if (o.viz_every <= 0)
        o.viz_every = o.every;
    if (o.viz)
        sp_mkdir_p(o.viz);
    if (o.val)
        load_val(o.val);
    /* the training step has no CUDA path yet (issue 6): a usable GPU is
     * used only when asked for by auto, and then the CPU says so */
    if (sp_device_resolve(device) == SP_DEVICE_CUDA) {
        if (!strcmp(device, "cuda"))
            sp_fatal("--device cuda: the training step has no CUDA implementation yet; use --device cpu");
        sp_warn("device: cpu (the training step has no CUDA implementation yet)");
    }

    /* what the run starts from, checked before any input is read: the
     * checkpoint, or the configuration (built once to validate it) */
    sp_model *m = NULL;
    uint64_t s;
    if (resume) {
        m = sp_model_read(resume);
        if (!sp_map_find(&m->ckpt, "schedule"))
            sp_fatal("%s: not a checkpoint (no schedule section): use --config for a new run", resume);
        int64_t v;
        if (sp_map_get_int(&m->meta, "seed", &v) != 0)
            sp_fatal("%s: no seed in the meta", resume);
        s = (uint64_t)v;
    } else {
        sp_config *cfg = sp_config_read(config);
        sp_model_free(sp_model_new(cfg, config));
        sp_config_free(cfg);
        s = config_seed(config, seed);
    }
    /* the output's folder must take files now, not at the first checkpoint */
    {
        char dir[4096];
        snprintf(dir, sizeof dir, "%s", o.out);
        char *slash = strrchr(dir, '/');
        if (slash)
            *(slash == dir ? slash + 1 : slash) = 0;
        else
            snprintf(dir, sizeof dir, ".");
        if (access(dir, W_OK) != 0)
            sp_fatal("--out: %s: cannot write into %s: %s", o.out, dir, strerror(errno));
    }

    source src = {0};
    int64_t nb = o.epoch_batches, stream_epochs = 0;
    if (data) {
        /* the model's image size and channels: the checkpoint's, or the config's */
        sp_config *cfg = m ? NULL : sp_config_read(config);
        sp_model *probe = m ? m : sp_model_new(cfg, config);
        src.lo = (sp_load_opts){probe->C, probe->H, probe->W};
        src.bs = sp_config_int(probe->cfg, "training.batch_size");
        if (probe != m)
            sp_model_free(probe);
        sp_config_free(cfg);
        if (src.bs <= 0)
            sp_fatal("--data: training.batch_size must be set");
        src.d = sp_dataset_open_dir(data);
        const char *rule;
        src.count = sp_dataset_split(src.d, "train", "auto", &src.items, &rule);
        if (src.count < src.bs)
            sp_fatal("--data: %s: %lld training images, fewer than one batch of %lld", data, (long long)src.count,
                     (long long)src.bs);
        src.order = sp_malloc(sizeof(int64_t) * (size_t)src.count);
        src.shuffle_seed = (uint64_t)data_seed;
        if (nb <= 0)
            nb = src.count / src.bs;
    } else {
        src.r = sp_reader_open(stdin, "stdin");
        if (!sp_reader_next_stream(src.r))
            sp_fatal("stdin: no stream");
        sp_map_get_int(sp_reader_meta(src.r), "epochs", &stream_epochs);
    }
    if (nb <= 0) {
        const sp_map *hm = sp_reader_meta(src.r);
        int64_t dl = 0, count = 0, bs = 0;
        if (sp_map_get_int(hm, "count", &count) != 0 || sp_map_get_int(hm, "batch_size", &bs) != 0 || count <= 0 ||
            bs <= 0)
            sp_fatal("stdin: the header has no count / batch_size to count epochs: give --epoch-batches N");
        sp_map_get_int(hm, "drop_last", &dl);
        nb = dl ? count / bs : (count + bs - 1) / bs;
        if (nb <= 0)
            sp_fatal("stdin: fewer images (%lld) than one batch (%lld) with drop_last", (long long)count,
                     (long long)bs);
    }

    sp_map b = {0};
    int64_t idx;
    int have = source_next(&src, &b, &idx);
    if (!have)
        sp_fatal("stdin: no batches");
    const sp_tensor *img = sp_map_tensor(&b, "image");
    if (!img || img->dtype != SP_F32 || img->ndim != 4)
        sp_fatal("stdin: batch %lld: needs an entry 'image' f32 [N,C,H,W]", (long long)idx);
    if (!m) {
        sp_config *cfg = sp_config_read(config);
        int need = sp_model_init_needs_data(cfg);
        sp_config_free(cfg);
        m = initial_model(config, s, need ? sp_f32(img) : NULL, need ? (size_t)img->shape[0] : 0);
    }
    sp_trainer *t = sp_trainer_new(m, s, resume ? resume : config);
    if (o.val_every <= 0)
        o.val_every = sp_config_is_set(m->cfg, "training.val_stat_interval")
                          ? sp_config_int(m->cfg, "training.val_stat_interval")
                          : o.every;
    int64_t n_epochs = sp_config_int(m->cfg, "training.n_epoches");
    int64_t stop = o.iters >= 0 ? o.iters : (n_epochs > 0 ? n_epochs * nb : INT64_MAX);
    /* what the stream holds bounds the run (and its ETA) */
    if (stream_epochs > 0 && o.epoch_batches <= 0 && stream_epochs * nb < stop)
        stop = stream_epochs * nb;
    /* skip what the checkpoint has seen */
    int64_t seen = 0, it0 = sp_trainer_iteration(t);
    if (o.log)
        log_file = log_open(o.log, resume != NULL, it0);
    while (have && seen < it0) {
        seen++;
        have = source_next(&src, &b, &idx);
    }
    if (seen < it0)
        sp_fatal("stdin: the stream ended after %lld batches, before the checkpoint's iteration %lld",
                 (long long)seen, (long long)it0);
    if (have)
        batch_images(&b, idx, m);
    fprintf(stderr, "sp-train: %s, %lld batches per epoch, from iteration %lld (epoch %lld) to %lld\n",
            resume ? resume : config, (long long)nb, (long long)it0, (long long)sp_trainer_epoch(t),
            (long long)(stop == INT64_MAX ? -1 : stop));
    double t0 = sp_now(), last = t0;
    const int tty = isatty(2);
    int64_t done0 = it0;
    while (have && sp_trainer_iteration(t) < stop) {
        img = batch_images(&b, idx, m);
        const char *bad;
        double loss = sp_trainer_step(t, sp_f32(img), (int)img->shape[0], &bad);
        int64_t it = sp_trainer_iteration(t);
        if (!isfinite(loss))
            sp_fatal("iteration %lld: the loss is %s; stopped (the last checkpoint, %s, is kept)",
                     (long long)it + 1, isnan(loss) ? "NaN" : "infinite", o.out);
        if (bad)
            sp_fatal("iteration %lld: %s is not finite after the update; stopped (the last checkpoint, %s, is "
                     "kept)",
                     (long long)it, bad, o.out);
        int layer, from;
        int nre = sp_trainer_check_clusters(t, &layer, &from);
        if (it % nb == 0)
            sp_trainer_epoch_end(t);
        double now = sp_now();
        double rate = (it - done0) / (now - t0 > 1e-9 ? now - t0 : 1e-9);
        if (log_file) {
            fprintf(log_file,
                    "{\"iteration\": %lld, \"epoch\": %lld, \"loss\": %.9g, \"lr\": %.6g, \"it_per_s\": %.4g, "
                    "\"reassigned\": %d}\n",
                    (long long)it, (long long)sp_trainer_epoch(t), loss, sp_trainer_lr(t, 1), rate, nre);
            fflush(log_file);
        }
        /* progress: a bar rewritten in place on a terminal (4 times a
         * second), else one line every --progress-every iterations; the
         * first iteration and reassignments always get a line */
        int line = it == 1 || nre > 0 || (tty ? now - last >= 0.25 : it % o.progress_every == 0);
        if (line) {
            double eta = stop == INT64_MAX || rate <= 0 ? -1 : (stop - it) / rate;
            if (tty && stop != INT64_MAX) {
                char bar[21];
                int fill = (int)(20.0 * (double)it / (double)stop);
                for (int q = 0; q < 20; q++)
                    bar[q] = q < fill ? '#' : '.';
                bar[20] = 0;
                fprintf(stderr, "\r[%s] ", bar);
            }
            fprintf(stderr, "sp-train: iteration %lld, epoch %lld, loss %.6f, %.2f it/s", (long long)it,
                    (long long)sp_trainer_epoch(t), loss, rate);
            if (eta >= 0)
                fprintf(stderr, ", ETA %.0f s", eta);
            if (nre > 0)
                fprintf(stderr, ", %d sprite(s) of layer %d reassigned from sprite %d", nre, layer, from);
            fputs(tty && nre == 0 && it != 1 ? "   " : "\n", stderr);
            last = now;
        }
        if (it % o.every == 0)
            checkpoint(t, m, o.out);
        if (o.viz && it % o.viz_every == 0)
            draw(t, m, sp_f32(img), o.viz);
        if (o.val && o.val_every > 0 && it % o.val_every == 0)
            validate(t, m);
        if (o.time_limit > 0 && now - t0 >= o.time_limit) {
            fprintf(stderr, "sp-train: --time-limit %g s reached at iteration %lld\n", o.time_limit, (long long)it);
            break;
        }
        have = sp_trainer_iteration(t) < stop ? source_next(&src, &b, &idx) : 0;
    }
    if (tty)
        fputc('\n', stderr);
    checkpoint(t, m, o.out);
    if (o.viz)
        draw(t, m, NULL, o.viz); /* the batch is gone: the sprites only */
    if (o.val)
        validate(t, m);
    fprintf(stderr, "sp-train: %s: iteration %lld, epoch %lld\n", o.out, (long long)sp_trainer_iteration(t),
            (long long)sp_trainer_epoch(t));
    if (log_file)
        fclose(log_file);
    sp_trainer_free(t);
    sp_model_free(m);
    sp_map_free(&b);
    for (int i = 0; i <= n_val && val_batches; i++)
        sp_map_free(&val_batches[i]);
    free(val_batches);
    source_close(&src);
    return 0;
}

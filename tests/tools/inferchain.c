/* inferchain: the inference pipeline
 *     sp-load DIR | sp-predict --model M | sp-select | sp-compose | sp-eval
 * as one process, a chain of the library calls those stages make (no
 * streams, no pipes), for pipelines/bench-infer.sh to measure what the pipes
 * cost.  Same work per batch: load and decode the images (sp_dataset_load),
 * sp_predict_forward, sp_select_greedy per image, sp_compose_stage_image per
 * image, and the metrics sp-eval computes (ARI, ARI-FG, fg_acc; the
 * semantic and label confusions and their scores at the end).  Prints the
 * metrics as sp-eval's JSON on stdout, so that the two can be compared, and
 * the wall-clock seconds of each part on stderr:
 * "images N seconds T load L predict P select S compose C eval E".
 * --features: the chain of the pipe
 *     sp-predict --features | sp-select --model M --gather | sp-compose
 * instead: the encoder's features (predict), then sp_select_from_features,
 * which makes the candidates a few images at a time and keeps only the
 * chosen ones (select), composed from those (the same metrics).
 * --step S: first the PyTorch reference's own protocol (reference-bench's
 * bench.py infer: one batch in memory, its inference repeated, 2 passes of
 * warm-up, then passes for at least S seconds, their mean): the first batch
 * decoded once, then predict, select and compose on it again and again;
 * "step images/s X passes N seconds T predict P select S compose C" (the
 * timed passes' seconds, in all and in each part) on stderr before the
 * usual run's line.  Like for like with the reference's figure: no process
 * start, model load, decoding or scoring in it. */
#include "sp_start.h"
#include "sp_compose_stage.h"
#include "sp_dataset.h"
#include "sp_error.h"
#include "sp_metrics.h"
#include "sp_model.h"
#include "sp_opt.h"
#include "sp_predict.h"
#include "sp_progress.h"
#include "sp_select.h"
#include "sp_select_features.h"
#include "sp_stream.h"
#include "sp_tensor.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void put(int *first, const char *k, double v)
{
    printf("%s\"%s\": ", *first ? "" : ", ", k);
    *first = 0;
    if (isnan(v))
        printf("null");
    else
        printf("%.6f", fabs(v) < 5e-7 ? 0.0 : v);
}

/* one batch's inference: the predictor, its dimensions and the buffers,
 * reused batch after batch */
typedef struct {
    sp_predictor *pr;
    int from_features, L, M;
    size_t chw, hw, KB, MB, ws_size;
    sp_select_dims sd;
    sp_compose_stage_dims cd, gd;
    float *img, *layers, *masks, *bkgs, *feat, *occ, *serr, *recon, *limg, *lmask;
    int32_t *choice, *bchoice, *pmask, *psem, *plab;
} chain;

/* predict, select and compose the n images in c->img (the library calls of
 * sp-predict, sp-select and sp-compose); adds each part's seconds to t */
static void infer_batch(chain *c, int n, double t[3])
{
    const int L = c->L;
    const size_t chw = c->chw, hw = c->hw;
    const size_t sl = (size_t)L * c->KB * chw, sm = (size_t)L * c->KB * hw, sb = c->MB * chw;
    float *layers = c->layers, *masks = c->masks, *bkgs = c->bkgs, *occ = c->occ, *img = c->img;
    int32_t *choice = c->choice, *bchoice = c->bchoice;
    double t1 = sp_now(), t2;
    if (c->from_features) {
        sp_predict_features(c->pr, c->feat, img, n);
        t2 = sp_now();
        sp_select_from_features(c->pr, c->feat, img, n, &c->sd, 0, choice, c->M > 0 ? bchoice : NULL, c->serr,
                                layers, masks, bkgs, NULL, NULL, occ);
        if (c->M == 0)
            for (int i = 0; i < n; i++)
                bchoice[i] = 0;
    } else {
        sp_predict_forward(c->pr, layers, masks, bkgs, occ, img, n);
        t2 = sp_now();
#pragma omp parallel
        {
            double *work = sp_malloc(c->ws_size * sizeof *work);
#pragma omp for schedule(dynamic, 1)
            for (int i = 0; i < n; i++) {
                int32_t bk = 0;
                c->serr[i] = (float)sp_select_greedy(choice + (size_t)i * L, &bk, layers + i * sl, masks + i * sm,
                                                     bkgs ? bkgs + i * sb : NULL,
                                                     occ ? occ + (size_t)i * L * L : NULL, img + i * chw, &c->sd,
                                                     work);
                bchoice[i] = bk;
            }
            free(work);
        }
    }
    double t3 = sp_now();
#pragma omp parallel
    {
        float *bgbuf = bkgs ? sp_malloc(chw * sizeof *bgbuf) : NULL;
#pragma omp for schedule(dynamic, 1)
        for (int i = 0; i < n; i++)
            sp_compose_stage_image(c->recon + i * chw, c->limg + i * L * chw, c->lmask + i * L * hw,
                                   c->pmask + i * hw, c->psem + i * hw, bgbuf, choice + (size_t)i * L, bchoice[i],
                                   layers + i * sl, masks + i * sm, bkgs ? bkgs + i * sb : NULL,
                                   occ ? occ + (size_t)i * L * L : NULL, img + i * chw,
                                   c->from_features ? &c->gd : &c->cd);
        free(bgbuf);
    }
    if (L == 1)
        for (int i = 0; i < n; i++)
            c->plab[i] = choice[i];
    t[0] += t2 - t1, t[1] += t3 - t2, t[2] += sp_now() - t3;
}

/* The reference's protocol (bench.py infer) on the n images in c->img: 2
 * passes of warm-up, then passes until both `seconds` and 3 passes are
 * done; their images/s and parts on stderr.  Returns the seconds it took,
 * warm-up included. */
static double step_protocol(chain *c, int n, double seconds)
{
    double part[3] = {0, 0, 0}, t0 = sp_now(), te;
    for (int k = 0; k < 2; k++)
        infer_batch(c, n, part);
    part[0] = part[1] = part[2] = 0;
    int passes = 0;
    const double tt = sp_now();
    do {
        infer_batch(c, n, part);
        passes++;
        te = sp_now();
    } while (te - tt < seconds || passes < 3);
    fprintf(stderr, "step images/s %.2f passes %d seconds %.4f predict %.4f select %.4f compose %.4f\n",
            (double)n * passes / (te - tt), passes, te - tt, part[0], part[1], part[2]);
    return sp_now() - t0;
}

int main(int argc, char **argv)
{
    sp_main_start_alone(argv); /* runs alone: spins briefly between parallel loops */
    sp_stream_tune_malloc(); /* as every stage's reader and writer do: freed batches reused, not unmapped */
    const char *model_path = NULL, *size = NULL, *split = "train", *rule = "auto";
    int batch = 32, from_features = 0;
    double step_seconds = 0;
    int64_t limit = -1;
    sp_opt opts[] = {{"model", SP_OPT_STR, &model_path, "M", "the model file (required)"},
                     {"batch", SP_OPT_INT, &batch, "N", "images per batch (default 32)"},
                     {"size", SP_OPT_STR, &size, "HxW", "resize as sp-load --size"},
                     {"split", SP_OPT_STR, &split, "S", "as sp-load (default train)"},
                     {"split-rule", SP_OPT_STR, &rule, "R", "as sp-load (default auto)"},
                     {"limit", SP_OPT_INT64, &limit, "N", "only the first N items of the split"},
                     {"features", SP_OPT_FLAG, &from_features, NULL,
                      "as sp-predict --features | sp-select --model M --gather | sp-compose"},
                     {"step", SP_OPT_DOUBLE, &step_seconds, "S",
                      "first the reference's protocol: the first batch's inference repeated for S seconds"},
                     {0}};
    char **args;
    int nargs = sp_opt_parse(argc, argv, opts, "inferchain --model M [sp-load options] DIR",
                             "sp-load | sp-predict | sp-select | sp-compose | sp-eval in one process.",
                             &args);
    if (nargs != 1 || !model_path || batch < 1)
        sp_fatal("expected --model M and one dataset folder (see --help)");
    if (!(step_seconds >= 0 && step_seconds <= 3600))
        sp_fatal("--step: %g is not a number of seconds from 0 to 3600", step_seconds);
    int oh = 0, ow = 0;
    if (size && sp_parse_size(size, &oh, &ow) != 0)
        sp_fatal("--size: '%s' is not HxW", size);

    sp_model *m;
    sp_predictor *pr = sp_predictor_open(model_path, &m);
    const int C = m->C, H = m->H, W = m->W, L = m->L, K = m->K, M = m->M;
    const int has_occ = sp_predictor_has_occlusion(pr);
    const size_t hw = (size_t)H * W, chw = (size_t)C * hw;
    int iters = sp_config_int(m->cfg, "model.greedy_algo_iter");
    double lambda = sp_config_float(m->cfg, "model.lambda_empty_sprite");
    sp_select_dims sd = {L, K, M, C, hw, sp_config_bool(m->cfg, "model.add_empty_sprite"),
                         lambda >= 0 && isfinite(lambda) ? lambda : 0.0,
                         iters >= 1 && iters <= 1000 ? iters : 1, 0, 0};
    sp_compose_stage_dims cd = {L, K, M, C, hw, K, 0, 0};
    /* the gathered form: one candidate a layer, the chosen background */
    sp_compose_stage_dims gd = {L, 1, M > 0 ? 1 : 0, C, hw, K, 0, 1};

    sp_dataset *d = sp_dataset_open_dir(args[0]);
    int64_t *items;
    const char *rule_used;
    int64_t count = sp_dataset_split(d, split, rule, &items, &rule_used);
    if (limit >= 0 && limit < count)
        count = limit;
    if (count == 0)
        sp_fatal("%s: the %s split is empty", args[0], split);
    int h = oh, w = ow;
    char err[512];
    if (!size && sp_dataset_item_size(d, items[0], &h, &w, err, sizeof err) != 0)
        sp_fatal("%s", err);
    if (h != H || w != W)
        sp_fatal("images are %dx%d, the model expects %dx%d", h, w, H, W);
    sp_load_opts lo = {C, oh, ow};

    /* buffers for one batch, reused */
    const size_t B = (size_t)batch;
    int32_t *tmask = d->mask_paths ? sp_malloc(B * hw * sizeof *tmask) : NULL;
    int32_t *tsem = d->sem_paths ? sp_malloc(B * hw * sizeof *tsem) : NULL;
    int32_t *tlab = d->labels ? sp_malloc(B * sizeof *tlab) : NULL;
    /* the candidates, or with --features only the chosen ones */
    const size_t KB = from_features ? 1 : (size_t)K, MB = from_features ? 1 : (size_t)M;
    chain c = {pr, from_features, L, M, chw, hw, KB, MB, sp_select_work_size(&sd), sd, cd, gd,
               .img = sp_malloc(B * chw * sizeof(float)),
               .layers = sp_malloc(B * L * KB * chw * sizeof(float)),
               .masks = sp_malloc(B * L * KB * hw * sizeof(float)),
               .bkgs = M > 0 ? sp_malloc(B * MB * chw * sizeof(float)) : NULL,
               .feat = sp_malloc(B * (size_t)sp_predictor_features(pr) * sizeof(float)),
               .occ = has_occ ? sp_malloc(B * L * L * sizeof(float)) : NULL,
               .serr = sp_malloc(B * sizeof(float)),
               .recon = sp_malloc(B * chw * sizeof(float)),
               .limg = sp_malloc(B * L * chw * sizeof(float)),
               .lmask = sp_malloc(B * L * hw * sizeof(float)),
               .choice = sp_malloc(B * L * sizeof(int32_t)),
               .bchoice = sp_malloc(B * sizeof(int32_t)),
               .pmask = sp_malloc(B * hw * sizeof(int32_t)),
               .psem = sp_malloc(B * hw * sizeof(int32_t)),
               .plab = sp_malloc(B * sizeof(int32_t))};
    float *img = c.img;
    const int32_t *pmask = c.pmask, *psem = c.psem, *plab = c.plab;
    char (*errs)[512] = sp_calloc(B, 512);

    sp_ari_ws *ws = sp_ari_ws_new();
    sp_confusion sem, lab;
    sp_confusion_init(&sem);
    sp_confusion_init(&lab);
    long double sum_ari = 0, sum_ari_fg = 0, sum_fg = 0;
    int binary = 1;
    double t_load = 0, t_part[3] = {0, 0, 0}, t_eval = 0, t0 = sp_now(); /* t_part: predict, select, compose */
    for (int64_t s = 0; s < count; s += batch) {
        const int n = (int)(count - s < batch ? count - s : batch);
        double t = sp_now();
#pragma omp parallel for schedule(dynamic, 1)
        for (int j = 0; j < n; j++) {
            int64_t i = items[s + j];
            sp_dataset_load(d, i, &lo, h, w, img + (size_t)j * chw, tmask ? tmask + (size_t)j * hw : NULL,
                            tsem ? tsem + (size_t)j * hw : NULL, errs[j], sizeof errs[j]);
            if (tlab)
                tlab[j] = d->labels[i];
        }
        for (int j = 0; j < n; j++)
            if (errs[j][0])
                sp_fatal("%s", errs[j]);
        double t1 = sp_now();
        t_load += t1 - t;
        if (s == 0 && step_seconds > 0)
            t0 += step_protocol(&c, n, step_seconds); /* outside the run's own times */
        infer_batch(&c, n, t_part);
        double t4 = sp_now();
        if (tmask)
            for (int i = 0; i < n; i++) {
                const int32_t *tt = tmask + (size_t)i * hw, *pp = pmask + (size_t)i * hw;
                sp_pair_counts pc;
                sp_ari_counts(&pc, ws, tt, pp, hw, 0);
                sum_ari += sp_ari_from_counts(&pc);
                sp_ari_counts(&pc, ws, tt, pp, hw, 1);
                sum_ari_fg += sp_ari_from_counts(&pc);
                for (size_t k = 0; k < hw; k++)
                    if (tt[k] > 1)
                        binary = 0;
                sum_fg += sp_fg_acc(tt, pp, hw);
            }
        if (tsem && sp_confusion_add(&sem, tsem, psem, (size_t)n * hw) != 0)
            sp_fatal("sem_mask: bad id");
        if (tlab && L == 1 && sp_confusion_add(&lab, tlab, plab, (size_t)n) != 0)
            sp_fatal("label: bad id");
        t_eval += sp_now() - t4;
    }
    double t5 = sp_now();
    printf("{\"n\": %lld", (long long)count);
    int first = 0;
    if (tmask) {
        put(&first, "ari", (double)(sum_ari / count));
        put(&first, "ari_fg", (double)(sum_ari_fg / count));
        if (binary)
            put(&first, "fg_acc", (double)(sum_fg / count));
    }
    if (tsem) {
        sp_sem_scores sc;
        sp_sem_scores_compute(&sc, &sem, 0);
        put(&first, "macc", sc.macc);
        put(&first, "miou", sc.miou);
        put(&first, "macc_fg", sc.macc_fg);
        put(&first, "miou_fg", sc.miou_fg);
    }
    if (tlab && L == 1) {
        int64_t *mm = sp_confusion_sorted(&lab, NULL, NULL);
        put(&first, "acc", sp_hungarian_acc(mm, lab.nrow, lab.ncol));
        put(&first, "nmi", sp_nmi(mm, lab.nrow, lab.ncol));
        free(mm);
    }
    printf("}\n");
    t_eval += sp_now() - t5;
    fprintf(stderr, "images %lld seconds %.4f load %.4f predict %.4f select %.4f compose %.4f eval %.4f\n",
            (long long)count, sp_now() - t0, t_load, t_part[0], t_part[1], t_part[2], t_eval);

    sp_confusion_free(&sem);
    sp_confusion_free(&lab);
    sp_ari_ws_free(ws);
    free(c.img), free(c.layers), free(c.masks), free(c.bkgs), free(c.feat), free(c.occ), free(c.serr);
    free(c.recon), free(c.limg), free(c.lmask), free(c.choice), free(c.bchoice), free(c.pmask), free(c.psem);
    free(c.plab), free(tmask), free(tsem), free(tlab), free(errs), free(items);
    sp_dataset_free(d);
    sp_predictor_free(pr);
    sp_model_free(m);
    return 0;
}

/* sp-select: the model's second stage.  For every image, chooses one
 * candidate per layer (and a background) from the entries sp-predict adds,
 * as the reference's greedy_algo_selection does (or exactly, --exhaustive),
 * and adds choice i32 [N,L], bkg_choice i32 [N] (M > 0) and select_error
 * f32 [N]; everything else passes through.  The work is common/sp_select.c,
 * one image per OpenMP iteration.  With --model M the candidates are first
 * made here from the features sp-predict --features hands on (the second
 * half of sp-predict's work, the same library call), so that no candidate
 * crosses the pipe between the two; with --gather as well they are made a
 * few images at a time and only the chosen ones kept
 * (sp_select_features.h), never the whole batch's; with --params instead,
 * only the chosen ones' transformation parameters, from which sp-compose
 * --model makes their layers. */
#include "sp_start.h"
#include "sp_cands.h"
#include "sp_device.h"
#include "sp_error.h"
#include "sp_filter.h"
#include "sp_model.h"
#include "sp_opt.h"
#include "sp_predict_stage.h"
#include "sp_select.h"
#include "sp_select_features.h"

#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>


/* What the command line says and what each stream's meta adds. */
typedef struct {
    int iters, exhaustive, gather, params; /* iters INT_MIN: not given */
    double lambda, limit;  /* lambda NaN: not given */
    int64_t empty;         /* per stream, from the meta */
    int pass_count;
    double penalty;
    sp_predictor *pred; /* --model: candidates made from the batch's features */
} selection;

/* The model's values, as sp-predict recorded them in the meta, unless the
 * command line gave them. */
static void on_stream(const sp_map *in, sp_map *out, void *ctx)
{
    selection *s = ctx;
    int64_t meta_iters = 1;
    double meta_lambda = 0.0;
    s->empty = 0;
    sp_map_get_int(in, "empty_sprite", &s->empty);
    sp_map_get_int(in, "greedy_algo_iter", &meta_iters);
    sp_map_get_double(in, "lambda_empty_sprite", &meta_lambda);
    s->pass_count = s->iters != INT_MIN ? s->iters : (meta_iters >= 1 && meta_iters <= 1000 ? (int)meta_iters : 1);
    s->penalty = !isnan(s->lambda) ? s->lambda : (meta_lambda >= 0.0 && isfinite(meta_lambda) ? meta_lambda : 0.0);
    sp_map_put_str(out, "selection", s->exhaustive ? "exhaustive" : "greedy");
}

/* --gather: the chosen candidate of every layer (and the chosen background)
 * replace the candidates, so the next stage reads 1/K' of the bytes
 * (sp_cands.h); sp-compose takes either form. */
static void gather(sp_map *b, const sp_cands *c, const sp_select_dims *d, const int32_t *choice,
                   const int32_t *bkg)
{
    const int64_t n = c->N, L = c->L, C = c->C, H = c->H, W = c->W;
    const size_t hw = c->hw, chw = (size_t)C * hw;
    sp_tensor *tl = sp_tensor_outv(SP_F32, 5, n, L, C, H, W);
    sp_tensor *tm = sp_tensor_outv(SP_F32, 5, n, L, (int64_t)1, H, W);
    sp_tensor *tg = bkg ? sp_tensor_outv(SP_F32, 4, n, C, H, W) : NULL;
    const size_t sl = (size_t)L * c->K * chw, sm = (size_t)L * c->K * hw;
    for (int64_t i = 0; i < n; i++) {
        sp_select_gather(sp_f32(tl) + (size_t)i * L * chw, sp_f32(tm) + (size_t)i * L * hw, choice + i * L,
                         c->layers + (size_t)i * sl, c->masks + (size_t)i * sm, d);
        if (tg)
            memcpy(sp_f32(tg) + (size_t)i * chw, c->bkgs + ((size_t)i * c->M + (size_t)bkg[i]) * chw,
                   chw * sizeof(float));
    }
    /* c points into these: every read of them is done */
    sp_map_remove(b, "cand_layers");
    sp_map_remove(b, "cand_masks");
    sp_map_remove(b, "backgrounds");
    sp_map_put_tensor(b, SP_SEL_LAYERS, tl);
    sp_map_put_tensor(b, SP_SEL_MASKS, tm);
    if (tg)
        sp_map_put_tensor(b, SP_SEL_BACKGROUND, tg);
}

/* The exhaustive search's size against --limit. */
static void check_limit(const selection *s, int64_t idx, int K, int L, int M)
{
    if (s->exhaustive && pow((double)K, (double)L) * (M > 0 ? M : 1) > s->limit)
        sp_fatal("stdin: batch %lld: --exhaustive: %d^%d x %d assignments an image (--limit %g)", (long long)idx, K,
                 L, M > 0 ? M : 1, s->limit);
}

/* --model with --gather: sp_select_from_features, the candidates made and
 * consumed a few images at a time, never the whole batch's (the same
 * entries, the same bytes as making them all, then selecting).  With
 * --params instead, the chosen candidates' parameters in place of their
 * layers, masks and background. */
static void select_from_features(sp_map *b, int64_t idx, const selection *s)
{
    const sp_model *m = sp_predictor_model(s->pred);
    const sp_tensor *ti = sp_predict_stage_image(s->pred, b, idx);
    const int64_t n = ti->shape[0], L = m->L, C = m->C, H = m->H, W = m->W;
    const float *feat = sp_predict_stage_get_features(s->pred, b, idx, n);
    const size_t hw = (size_t)H * W;
    sp_select_dims d = {m->L, m->K, m->M, m->C, hw, s->empty != 0, s->penalty, s->pass_count, 0, 0};
    check_limit(s, idx, m->K, m->L, m->M);
    sp_tensor *to = sp_predictor_has_occlusion(s->pred) ? sp_tensor_newv(SP_F32, 3, n, L, L) : NULL;
    sp_tensor *tl = NULL, *tm = NULL, *tg = NULL, *tp = NULL, *tq = NULL;
    if (s->params) {
        int ps, pl, pb;
        sp_predict_param_sizes(s->pred, &ps, &pl, &pb);
        tp = sp_tensor_outv(SP_F32, 3, n, L, (int64_t)(ps + pl));
        tq = m->M > 0 ? sp_tensor_outv(SP_F32, 2, n, (int64_t)pb) : NULL;
    } else {
        tl = sp_tensor_outv(SP_F32, 5, n, L, C, H, W);
        tm = sp_tensor_outv(SP_F32, 5, n, L, (int64_t)1, H, W);
        tg = m->M > 0 ? sp_tensor_outv(SP_F32, 4, n, C, H, W) : NULL;
    }
    sp_tensor *tc = sp_tensor_newv(SP_I32, 2, n, L);
    sp_tensor *tb = m->M > 0 ? sp_tensor_newv(SP_I32, 1, n) : NULL;
    sp_tensor *te = sp_tensor_newv(SP_F32, 1, n);
    sp_select_from_features(s->pred, feat, sp_f32(ti), (int)n, &d, s->exhaustive, sp_i32(tc),
                            tb ? sp_i32(tb) : NULL, sp_f32(te), tl ? sp_f32(tl) : NULL, tm ? sp_f32(tm) : NULL,
                            tg ? sp_f32(tg) : NULL, tp ? sp_f32(tp) : NULL, tq ? sp_f32(tq) : NULL,
                            to ? sp_f32(to) : NULL);
    /* in the order the unfused path leaves them */
    if (to)
        sp_map_put_tensor(b, "occlusion", to);
    if (tl) {
        sp_map_put_tensor(b, SP_SEL_LAYERS, tl);
        sp_map_put_tensor(b, SP_SEL_MASKS, tm);
    }
    if (tg)
        sp_map_put_tensor(b, SP_SEL_BACKGROUND, tg);
    if (tp)
        sp_map_put_tensor(b, SP_SEL_PARAMS, tp);
    if (tq)
        sp_map_put_tensor(b, SP_SEL_BKG_PARAMS, tq);
    sp_map_put_tensor(b, "choice", tc);
    if (tb)
        sp_map_put_tensor(b, "bkg_choice", tb);
    sp_map_put_tensor(b, "select_error", te);
}

/* Adds choice, bkg_choice and select_error to one batch. */
static void select_batch(sp_map *b, int64_t idx, void *ctx)
{
    const selection *s = ctx;
    if (s->pred && (s->gather || s->params)) {
        select_from_features(b, idx, s);
        return;
    }
    if (s->pred) {
        /* --model: the candidates sp-predict would have added, from the
         * features sp-predict --features added (sp_predict_stage.h) */
        const int64_t n = sp_predict_stage_image(s->pred, b, idx)->shape[0];
        sp_predict_stage_put(s->pred, b, sp_predict_stage_get_features(s->pred, b, idx, n), n);
    }
    sp_cands c;
    sp_cands_get(&c, b, idx, "needs image (each candidate's error is against it)");
    sp_select_dims d = {c.L, c.K, c.M, c.C, c.hw, s->empty != 0, s->penalty, s->pass_count, 0, 0};
    check_limit(s, idx, c.K, c.L, c.M);
    const int64_t n = c.N;
    sp_tensor *tc = sp_tensor_newv(SP_I32, 2, n, (int64_t)c.L);
    sp_tensor *tb = c.M > 0 ? sp_tensor_newv(SP_I32, 1, n) : NULL;
    sp_tensor *te = sp_tensor_newv(SP_F32, 1, n);
    const size_t sl = (size_t)c.L * c.K * c.C * c.hw, sm = (size_t)c.L * c.K * c.hw;
    const size_t sb = (size_t)c.M * c.C * c.hw, si = (size_t)c.C * c.hw;
    const size_t ws = sp_select_work_size(&d);
    int failed = 0;
#pragma omp parallel
    {
        double *work = malloc(ws * sizeof *work);
        if (!work) {
#pragma omp atomic write
            failed = 1;
        }
#pragma omp for schedule(dynamic, 1)
        for (int64_t i = 0; i < n; i++) {
            if (!work)
                continue;
            int32_t bk = 0;
            const float *bg = c.bkgs ? c.bkgs + (size_t)i * sb : NULL;
            const float *oc = c.occ ? c.occ + (size_t)i * c.L * c.L : NULL;
            double e = (s->exhaustive ? sp_select_exhaustive : sp_select_greedy)(
                sp_i32(tc) + (size_t)i * c.L, &bk, c.layers + (size_t)i * sl, c.masks + (size_t)i * sm,
                bg, oc, c.img + (size_t)i * si, &d, work);
            if (tb)
                sp_i32(tb)[i] = bk;
            sp_f32(te)[i] = (float)e;
        }
        free(work);
    }
    if (failed)
        sp_fatal("out of memory");
    if (s->gather)
        gather(b, &c, &d, sp_i32(tc), tb ? sp_i32(tb) : NULL);
    sp_map_put_tensor(b, "choice", tc);
    if (tb)
        sp_map_put_tensor(b, "bkg_choice", tb);
    sp_map_put_tensor(b, "select_error", te);
}

int main(int argc, char **argv)
{
    sp_main_start(argv);
    /* INT_MIN / NaN: not given on the command line, taken from the stream's meta */
    int iters = INT_MIN, exhaustive = 0, gather_flag = 0, params_flag = 0;
    double lambda = NAN;
    /* assignments an image --exhaustive accepts: each costs O(C H W), so
     * beyond about 1e6 a batch takes hours */
    double limit = 1e6;
    const char *device = "cpu", *drop = NULL, *model_path = NULL;
    sp_opt opts[] = {
        {"model", SP_OPT_STR, &model_path, "M",
         "make the candidates (and occlusion) from the features that sp-predict --model M\n"
         "--features added, as sp-predict would have: the same numbers"},
        {"greedy", SP_OPT_INT, &iters, "N", "greedy passes over the layers (default: the model's greedy_algo_iter, from sp-predict's meta; else 1)"},
        {"exhaustive", SP_OPT_FLAG, &exhaustive, NULL, "exact minimum over all K'^L x M assignments (see --limit)"},
        {"lambda-empty", SP_OPT_DOUBLE, &lambda, "X",
         "added to the error of non-empty candidates when the model has an empty sprite\n"
         "(default: the model's lambda_empty_sprite, from sp-predict's meta; else 0)"},
        {"limit", SP_OPT_DOUBLE, &limit, "X", "most assignments an image --exhaustive accepts (default 1e6)"},
        {"gather", SP_OPT_FLAG, &gather_flag, NULL,
         "replace cand_layers, cand_masks, backgrounds by the chosen ones only:\n"
         "sel_layers f32 [N,L,C,H,W], sel_masks f32 [N,L,1,H,W], sel_background\n"
         "f32 [N,C,H,W] (1/K' of the bytes for sp-compose, which reads either form)"},
        {"params", SP_OPT_FLAG, &params_flag, NULL,
         "with --model: replace the candidates by the chosen ones' transformation\n"
         "parameters only: sel_params f32 [N,L,P], sel_bkg_params f32 [N,Pb] (a few\n"
         "floats an image; sp-compose --model M makes the chosen layers from them)"},
        SP_STAGE_DEVICE_OPT(&device),
        SP_FILTER_DROP_OPT(&drop),
        {0}};
    char **args;
    int nargs = sp_opt_parse(argc, argv, opts, "sp-select [--greedy N | --exhaustive] [--lambda-empty X] [--gather] [--model M [--params]] [--device D] [--drop NAMES]",
                             "Reads cand_layers, cand_masks, backgrounds, occlusion (from sp-predict;\n"
                             "with --model M, made here from sp-predict --features's features and added)\n"
                             "and image; adds to every batch:\n"
                             "  choice       i32 [N,L]  the candidate chosen for each layer (the empty\n"
                             "                          sprite, when the model has one, is K'-1)\n"
                             "  bkg_choice   i32 [N]    the background chosen (only when M > 0)\n"
                             "  select_error f32 [N]    mean squared error of that composition (unclamped)\n"
                             "Greedy (default): the reference's loop, slots start empty and each layer in\n"
                             "turn takes the candidate of least error; one-layer models take the exact\n"
                             "minimum over K' x M, as the reference does.  Everything else passes through.",
                             &args);
    if (nargs != 0)
        sp_fatal("unexpected argument '%s' (see --help)", args[0]);
    if (iters != INT_MIN && exhaustive)
        sp_fatal("--greedy and --exhaustive: one or the other");
    if (params_flag && gather_flag)
        sp_fatal("--gather and --params: one or the other");
    if (params_flag && !model_path)
        sp_fatal("--params needs --model (the parameters are made with the candidates)");
    if (iters != INT_MIN && (iters < 1 || iters > 1000))
        sp_fatal("--greedy: %d passes (1..1000)", iters);
    if (!isnan(lambda) && (!(lambda >= 0.0) || !isfinite(lambda)))
        sp_fatal("--lambda-empty: must be a finite value >= 0");
    sp_device_resolve_stage(device, "sp-select"); /* the computation is on the CPU */

    /* candidates from features: no encoder, so its weights are not read */
    sp_model *model = model_path ? sp_model_read_part(model_path, "encoder.") : NULL;
    selection sel = {iters, exhaustive, gather_flag, params_flag, lambda, limit, 0, 1, 0.0,
                     model ? sp_predictor_new(model, model_path) : NULL};
    sp_filter f = {"sp-select", on_stream, select_batch, &sel, drop};
    sp_filter_run(&f);
    sp_predictor_free(sel.pred);
    sp_model_free(model);
    return 0;
}

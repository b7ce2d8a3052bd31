/* sp-compose: the model's last stage.  From the candidates (sp-predict) and
 * the selection (sp-select), writes what the reference's transform() gives:
 * the reconstruction, the chosen layers, instance and semantic masks and,
 * for one-layer models, the cluster; everything else passes through.  The
 * work is common/sp_compose_stage.c, one image per OpenMP iteration.  With
 * --model M the chosen layers are first made from the parameters that
 * sp-select --model M --params hands on (sp_predict_chosen). */
#include "sp_start.h"
#include "sp_cands.h"
#include "sp_compose_stage.h"
#include "sp_device.h"
#include "sp_error.h"
#include "sp_filter.h"
#include "sp_model.h"
#include "sp_opt.h"
#include "sp_predict.h"

#include <stdint.h>
#include <stdlib.h>

/* The i32 selection entry NAME of batch b: shape [N] (ndim 1) or [N,L]
 * (ndim 2), every value in [0, hi). */
static const int32_t *need_choice(const sp_map *b, int64_t idx, const char *name, int ndim, int64_t N,
                                  int L, int hi)
{
    const sp_tensor *t = sp_map_tensor(b, name);
    if (!t)
        sp_fatal("stdin: batch %lld: needs %s (run sp-select first)", (long long)idx, name);
    if (t->dtype != SP_I32 || t->ndim != ndim || t->shape[0] != N || (ndim == 2 && t->shape[1] != L))
        sp_fatal("stdin: batch %lld: %s must be i32 [%lld%s] (%d layers)", (long long)idx, name, (long long)N,
                 ndim == 2 ? ",L" : "", L);
    const int32_t *v = sp_i32(t);
    for (size_t i = 0; i < sp_tensor_numel(t); i++)
        if (v[i] < 0 || v[i] >= hi)
            sp_fatal("stdin: batch %lld: %s holds %d, outside [0,%d)", (long long)idx, name, (int)v[i], hi);
    return v;
}

typedef struct {
    int fg_reassign;
    int64_t n_candidates; /* the meta's (sp-predict), 0 when absent: gathered input needs it */
    sp_predictor *pred;   /* --model: the chosen layers made here from sel_params */
} composition;

/* --model: the chosen layers, masks and background that sp-select --gather
 * would have handed on, made from the chosen candidates' parameters
 * (sp-select --model M --params) and put into b as sel_layers, sel_masks,
 * sel_background. */
static void make_chosen(sp_map *b, int64_t idx, sp_predictor *p)
{
    const sp_model *m = sp_predictor_model(p);
    const int L = m->L, K = m->K, M = m->M;
    int ps, pl, pb;
    sp_predict_param_sizes(p, &ps, &pl, &pb);
    const sp_tensor *tp = sp_map_tensor(b, SP_SEL_PARAMS);
    if (!tp)
        sp_fatal("stdin: batch %lld: needs " SP_SEL_PARAMS " (run sp-select --model M --params first)", (long long)idx);
    if (tp->dtype != SP_F32 || tp->ndim != 3 || tp->shape[1] != L || tp->shape[2] != ps + pl)
        sp_fatal("stdin: batch %lld: " SP_SEL_PARAMS " must be f32 [N,%d,%d] (the model's layers and parameters)",
                 (long long)idx, L, ps + pl);
    const int64_t n = tp->shape[0];
    const int32_t *ch = need_choice(b, idx, "choice", 2, n, L, K);
    const int32_t *bc = NULL;
    const float *bp = NULL;
    if (M > 0) {
        bc = need_choice(b, idx, "bkg_choice", 1, n, L, M);
        const sp_tensor *tq = sp_map_tensor(b, SP_SEL_BKG_PARAMS);
        if (!tq)
            sp_fatal("stdin: batch %lld: needs " SP_SEL_BKG_PARAMS " (run sp-select --model M --params first)",
                     (long long)idx);
        if (tq->dtype != SP_F32 || tq->ndim != 2 || tq->shape[0] != n || tq->shape[1] != pb)
            sp_fatal("stdin: batch %lld: " SP_SEL_BKG_PARAMS " must be f32 [%lld,%d] (the model's parameters)",
                     (long long)idx, (long long)n, pb);
        bp = sp_f32(tq);
    }
    /* without it the layers would be composed in the fixed order: another result */
    if (sp_predictor_has_occlusion(p) && !sp_map_tensor(b, "occlusion"))
        sp_fatal("stdin: batch %lld: needs occlusion (the model predicts one; sp-select --model adds it)",
                 (long long)idx);
    const int64_t C = m->C, H = m->H, W = m->W;
    sp_tensor *tl = sp_tensor_outv(SP_F32, 5, n, (int64_t)L, C, H, W);
    sp_tensor *tm = sp_tensor_outv(SP_F32, 5, n, (int64_t)L, (int64_t)1, H, W);
    sp_tensor *tg = M > 0 ? sp_tensor_outv(SP_F32, 4, n, C, H, W) : NULL;
    sp_predict_chosen(p, ch, sp_f32(tp), bc, bp, (int)n, sp_f32(tl), sp_f32(tm), tg ? sp_f32(tg) : NULL);
    sp_map_put_tensor(b, SP_SEL_LAYERS, tl);
    sp_map_put_tensor(b, SP_SEL_MASKS, tm);
    if (tg)
        sp_map_put_tensor(b, SP_SEL_BACKGROUND, tg);
}

static void on_stream(const sp_map *in, sp_map *out, void *ctx)
{
    composition *cp = ctx;
    (void)out;
    cp->n_candidates = 0;
    sp_map_get_int(in, "n_candidates", &cp->n_candidates);
}

/* Adds the composition's entries to one batch. */
static void compose_batch(sp_map *b, int64_t idx, void *ctx)
{
    const composition *cp = ctx;
    if (cp->pred)
        make_chosen(b, idx, cp->pred);
    else if (sp_map_tensor(b, SP_SEL_PARAMS) && !sp_map_tensor(b, SP_SEL_LAYERS) && !sp_map_tensor(b, "cand_layers"))
        sp_fatal("stdin: batch %lld: only " SP_SEL_PARAMS " (sp-select --params): the layers need --model M",
                 (long long)idx);
    sp_cands c;
    /* the image only for --fg-reassign */
    sp_cands_get_any(&c, b, idx,
                     cp->fg_reassign ? "--fg-reassign needs image (the background's pixels go to the layer nearest it)"
                                     : NULL);
    const int64_t n = c.N;
    /* gathered (sp-select --gather): the candidates are gone, the choice
     * still names the sprite, out of the model's K' */
    int n_sprites = c.K;
    if (cp->pred) {
        n_sprites = sp_predictor_model(cp->pred)->K;
    } else if (c.gathered) {
        if (cp->n_candidates < 1 || cp->n_candidates > INT32_MAX)
            sp_fatal("stdin: batch %lld: " SP_SEL_LAYERS " needs the stream's meta n_candidates (from sp-predict)",
                     (long long)idx);
        n_sprites = (int)cp->n_candidates;
    }
    const int32_t *ch = need_choice(b, idx, "choice", 2, n, c.L, n_sprites);
    const int32_t *bc = c.M > 0 && !c.gathered ? need_choice(b, idx, "bkg_choice", 1, n, c.L, c.M) : NULL;
    sp_compose_stage_dims d = {c.L, c.K, c.M, c.C, c.hw, n_sprites, cp->fg_reassign, c.gathered};
    const int64_t C = c.C, H = c.H, W = c.W, L = c.L;
    sp_tensor *tr = sp_tensor_outv(SP_F32, 4, n, C, H, W);
    sp_tensor *ti = sp_tensor_outv(SP_F32, 5, n, L, C, H, W);
    sp_tensor *tm = sp_tensor_outv(SP_F32, 5, n, L, (int64_t)1, H, W);
    sp_tensor *tp = sp_tensor_outv(SP_I32, 3, n, H, W);
    sp_tensor *ts = sp_tensor_outv(SP_I32, 3, n, H, W);
    const size_t chw = (size_t)C * c.hw, sl = (size_t)L * c.K * chw, sm = (size_t)L * c.K * c.hw;
    int failed = 0;
#pragma omp parallel
    {
        float *bgbuf = c.bkgs ? malloc(chw * sizeof *bgbuf) : NULL;
        if (c.bkgs && !bgbuf) {
#pragma omp atomic write
            failed = 1;
        }
#pragma omp for schedule(dynamic, 1)
        for (int64_t i = 0; i < n; i++) {
            if (c.bkgs && !bgbuf)
                continue;
            sp_compose_stage_image(sp_f32(tr) + (size_t)i * chw, sp_f32(ti) + (size_t)i * L * chw,
                                   sp_f32(tm) + (size_t)i * L * c.hw, sp_i32(tp) + (size_t)i * c.hw,
                                   sp_i32(ts) + (size_t)i * c.hw, bgbuf, ch + (size_t)i * L,
                                   bc ? bc[i] : 0, c.layers + (size_t)i * sl, c.masks + (size_t)i * sm,
                                   c.bkgs ? c.bkgs + (size_t)i * c.M * chw : NULL,
                                   c.occ ? c.occ + (size_t)i * L * L : NULL,
                                   c.img ? c.img + (size_t)i * chw : NULL, &d);
        }
        free(bgbuf);
    }
    if (failed)
        sp_fatal("out of memory");
    if (L == 1) {
        /* one layer: the chosen sprite is the image's cluster (the
         * reference's clustering prediction) */
        sp_tensor *tl = sp_tensor_newv(SP_I32, 1, n);
        for (int64_t i = 0; i < n; i++)
            sp_i32(tl)[i] = ch[i];
        sp_map_put_tensor(b, "pred_label", tl);
    }
    sp_map_put_tensor(b, "recon", tr);
    sp_map_put_tensor(b, "layer_images", ti);
    sp_map_put_tensor(b, "layer_masks", tm);
    sp_map_put_tensor(b, "pred_mask", tp);
    sp_map_put_tensor(b, "pred_sem", ts);
    if (cp->pred) { /* made here, not handed on: they were not in the input */
        sp_map_remove(b, SP_SEL_LAYERS);
        sp_map_remove(b, SP_SEL_MASKS);
        sp_map_remove(b, SP_SEL_BACKGROUND);
    }
}

int main(int argc, char **argv)
{
    sp_main_start(argv);
    composition cp = {0, 0, NULL};
    const char *device = "cpu", *drop = NULL, *model_path = NULL;
    sp_opt opts[] = {{"fg-reassign", SP_OPT_FLAG, &cp.fg_reassign, NULL,
                      "background pixels of pred_mask get the layer nearest the image (the\n"
                      "reference's masks for ARI-FG)"},
                     {"model", SP_OPT_STR, &model_path, "M",
                      "make the chosen layers from the parameters sp-select --model M --params\n"
                      "added (sel_params, sel_bkg_params): the same numbers as from\n"
                      "sp-select --gather's layers"},
                     SP_STAGE_DEVICE_OPT(&device),
                     SP_FILTER_DROP_OPT(&drop),
                     {0}};
    char **args;
    int nargs = sp_opt_parse(argc, argv, opts, "sp-compose [--fg-reassign] [--model M] [--device D] [--drop NAMES]",
                             "Reads cand_layers, cand_masks, backgrounds, occlusion (sp-predict), choice and\n"
                             "bkg_choice (sp-select) -- or, after sp-select --gather, sel_layers, sel_masks,\n"
                             "sel_background, occlusion and choice; with --model M, after sp-select --model M\n"
                             "--params, sel_params, sel_bkg_params, occlusion, choice and bkg_choice -- and\n"
                             "the image for --fg-reassign only (a stream may drop it before); adds to every\n"
                             "batch:\n"
                             "  recon        f32 [N,C,H,W]    the composition, layers, masks and background\n"
                             "                                clamped to [0,1], soft occlusion\n"
                             "  layer_images f32 [N,L,C,H,W]  the chosen layers, clamped to [0,1]\n"
                             "  layer_masks  f32 [N,L,1,H,W]  their masks, clamped to [0,1]\n"
                             "  pred_mask    i32 [N,H,W]      0 background, l+1 where layer l is visible\n"
                             "                                (masks and occlusion thresholded at 0.5)\n"
                             "  pred_sem     i32 [N,H,W]      0 background, k+1 where sprite k is visible\n"
                             "  pred_label   i32 [N]          the chosen sprite (one-layer models only)\n"
                             "Everything else passes through.",
                             &args);
    if (nargs != 0)
        sp_fatal("unexpected argument '%s' (see --help)", args[0]);
    sp_device_resolve_stage(device, "sp-compose"); /* the computation is on the CPU */

    /* the chosen layers from parameters: no encoder, so its weights are not read */
    sp_model *model = model_path ? sp_model_read_part(model_path, "encoder.") : NULL;
    cp.pred = model ? sp_predictor_new(model, model_path) : NULL;
    sp_filter f = {"sp-compose", on_stream, compose_batch, &cp, drop};
    sp_filter_run(&f);
    sp_predictor_free(cp.pred);
    sp_model_free(model);
    return 0;
}

/* Validation: the inference chain in one process (see sp_validate.h). */
#include "sp_validate.h"

#include "sp_compose_stage.h"
#include "sp_error.h"
#include "sp_metrics.h"
#include "sp_predict.h"
#include "sp_select.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* An integer entry [N, ...] of batch b as i32 (a converted copy), or NULL. */
static sp_tensor *ids(const sp_map *b, const char *name, int ndim, int64_t n, int bi)
{
    const sp_tensor *t = sp_map_tensor(b, name);
    if (!t)
        return NULL;
    if (t->ndim != ndim || t->shape[0] != n || (t->dtype != SP_I32 && t->dtype != SP_U8 && t->dtype != SP_I64))
        sp_fatal("validation batch %d: entry '%s' is not an integer tensor of %d dimensions for %lld images", bi,
                 name, ndim, (long long)n);
    return sp_tensor_convert(t, SP_I32);
}

void sp_validate(const sp_model *m, const sp_map *batches, int nb, sp_val_scores *out)
{
    const int C = m->C, K = m->K, L = m->L, M = m->M;
    const size_t hw = (size_t)m->H * m->W, chw = (size_t)C * hw;
    sp_predictor *pr = sp_predictor_new(m, "validation");
    const int has_occ = sp_predictor_has_occlusion(pr);
    sp_select_dims sd = {L, K, M, C, hw, sp_config_bool(m->cfg, "model.add_empty_sprite"),
                         sp_config_float(m->cfg, "model.lambda_empty_sprite"),
                         (int)sp_config_int(m->cfg, "model.greedy_algo_iter"), 0, 0};
    if (!sd.empty)
        sd.lambda_empty = 0;
    sp_compose_stage_dims cd = {L, K, M, C, hw, K, 0, 0};
    sp_ari_ws *ws = sp_ari_ws_new();
    sp_confusion lab;
    sp_confusion_init(&lab);
    double sum_ari = 0, sum_fg = 0, sum_fgacc = 0;
    int binary = 1;
    int64_t n_all = 0, n_mask = 0, n_lab = 0;
    for (int bi = 0; bi < nb; bi++) {
        const sp_tensor *img = sp_map_tensor(&batches[bi], "image");
        if (!img || img->dtype != SP_F32 || img->ndim != 4 || img->shape[1] != C || img->shape[2] != m->H ||
            img->shape[3] != m->W)
            sp_fatal("validation batch %d: needs 'image' f32 [N,%d,%d,%d]", bi, C, m->H, m->W);
        const int n = (int)img->shape[0];
        sp_tensor *tm = ids(&batches[bi], "mask", 3, n, bi), *tl = ids(&batches[bi], "label", 1, n, bi);
        const size_t sl = (size_t)L * K * chw, sm = (size_t)L * K * hw, sb = (size_t)M * chw;
        float *layers = sp_malloc(sizeof(float) * n * sl), *masks = sp_malloc(sizeof(float) * n * sm);
        float *bkgs = M ? sp_malloc(sizeof(float) * n * sb) : NULL;
        float *occ = has_occ ? sp_malloc(sizeof(float) * (size_t)n * L * L) : NULL;
        int32_t *choice = sp_malloc(sizeof(int32_t) * (size_t)n * L), *bchoice = sp_malloc(sizeof(int32_t) * n);
        int32_t *pmask = sp_malloc(sizeof(int32_t) * n * hw), *pmask_fg = sp_malloc(sizeof(int32_t) * n * hw);
        sp_predict_forward(pr, layers, masks, bkgs, occ, sp_f32(img), n);
#pragma omp parallel
        {
            double *work = sp_malloc(sizeof(double) * sp_select_work_size(&sd));
            float *recon = sp_malloc(sizeof(float) * chw), *limg = sp_malloc(sizeof(float) * L * chw);
            float *lmask = sp_malloc(sizeof(float) * L * hw), *bgbuf = sp_malloc(sizeof(float) * chw);
            int32_t *psem = sp_malloc(sizeof(int32_t) * hw);
#pragma omp for schedule(dynamic, 1)
            for (int i = 0; i < n; i++) {
                const float *li = layers + i * sl, *mi = masks + i * sm, *bi_ = bkgs ? bkgs + i * sb : NULL;
                const float *oi = occ ? occ + (size_t)i * L * L : NULL, *xi = sp_f32(img) + i * chw;
                sp_select_greedy(choice + (size_t)i * L, bchoice + i, li, mi, bi_, oi, xi, &sd, work);
                sp_compose_stage_image(recon, limg, lmask, pmask + i * hw, psem, bgbuf, choice + (size_t)i * L,
                                       bchoice[i], li, mi, bi_, oi, xi, &cd);
                /* the --fg-reassign masks: the same ids, background given to the nearest layer */
                memcpy(pmask_fg + i * hw, pmask + i * hw, sizeof(int32_t) * hw);
                sp_compose_stage_fg_reassign(pmask_fg + i * hw, choice + (size_t)i * L, li, xi, &cd);
            }
            free(psem), free(bgbuf), free(lmask), free(limg), free(recon), free(work);
        }
        for (int i = 0; tm && i < n; i++) {
            sp_pair_counts pc;
            const int32_t *tt = sp_i32(tm) + i * hw;
            if (sp_ari_counts(&pc, ws, tt, pmask + i * hw, hw, 0) != 0)
                sp_fatal("validation batch %d: mask ids out of range", bi);
            sum_ari += sp_ari_from_counts(&pc);
            sp_ari_counts(&pc, ws, tt, pmask_fg + i * hw, hw, 1);
            sum_fg += sp_ari_from_counts(&pc);
            for (size_t k = 0; k < hw; k++)
                binary &= tt[k] <= 1;
            sum_fgacc += sp_fg_acc(tt, pmask + i * hw, hw);
            n_mask++;
        }
        if (tl && L == 1) {
            if (sp_confusion_add(&lab, sp_i32(tl), choice, (size_t)n) != 0)
                sp_fatal("validation batch %d: label ids out of range", bi);
            n_lab += n;
        }
        n_all += n;
        free(pmask_fg), free(pmask), free(bchoice), free(choice), free(occ), free(bkgs), free(masks), free(layers);
        sp_tensor_free(tm);
        sp_tensor_free(tl);
    }
    out->n = n_all;
    out->ari = n_mask ? sum_ari / n_mask : NAN;
    out->ari_fg = n_mask ? sum_fg / n_mask : NAN;
    out->fg_acc = n_mask && binary ? sum_fgacc / n_mask : NAN;
    out->acc = NAN;
    if (n_lab) {
        int64_t *w = sp_confusion_sorted(&lab, NULL, NULL);
        out->acc = sp_hungarian_acc(w, lab.nrow, lab.ncol);
        free(w);
    }
    sp_confusion_free(&lab);
    sp_ari_ws_free(ws);
    sp_predictor_free(pr);
}

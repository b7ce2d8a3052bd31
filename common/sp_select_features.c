/* Selection from features, the chosen candidates only; see sp_select_features.h. */
#include "sp_select_features.h"

#include "sp_error.h"

#include <omp.h>

#include <stdlib.h>
#include <string.h>

/* Images whose candidates are made at once: whole chunks of sp_predict's
 * tasks (8 images: per-task costs matter for small images), as many as fit
 * in about 4 MB (the caches; Tetrominoes: 1.1 MB an image, so 8; GTSRB-8's
 * 8 sprites and background: 110 KB, so 32; 128 or 1,024 at once measured
 * no faster). */
static int group_size(const sp_select_dims *d)
{
    const size_t per_image = sizeof(float) * ((size_t)d->L * d->K * (d->C + 1) + (size_t)d->M * d->C) * d->hw;
    size_t g = ((size_t)4 << 20) / (per_image ? per_image : 1) / 8 * 8;
    return g < 8 ? 8 : g > 1024 ? 1024 : (int)g;
}

void sp_select_from_features(sp_predictor *p, const float *feat, const float *img, int n, const sp_select_dims *d,
                             int exhaustive, int32_t *choice, int32_t *bkg_choice, float *err, float *sel_layers,
                             float *sel_masks, float *sel_bkg, float *occ)
{
    if (n <= 0)
        return;
    const int L = d->L, K = d->K, M = d->M;
    const size_t hw = d->hw, chw = (size_t)d->C * hw;
    const size_t sb = (size_t)M * chw;
    const int G = n < group_size(d) ? n : group_size(d);
    const size_t lc = (size_t)(d->C + 1) * hw; /* one image of one head: colours, then the mask */
    float *gt = sp_malloc(sizeof(float) * G * L * K * lc);
    float *gb = M > 0 ? sp_malloc(sizeof(float) * G * sb) : NULL;
    /* the occlusion first: the selection reads it (none predicted: the
     * fixed order, which sp_select takes as NULL, as sp-select does) */
    float *oc = NULL;
    if (sp_predictor_has_occlusion(p)) {
        oc = occ ? occ : sp_malloc(sizeof(float) * ((size_t)n * L * L + 1));
        sp_predict_occlusion(p, oc, feat, n);
    }
    sp_predict_betas *be = sp_predict_betas_new(p, feat, n, M > 0);
    /* each thread's scratch, for every group */
    const size_t ws = sp_select_work_size(d);
    double *works = sp_malloc(sizeof(double) * ws * (size_t)omp_get_max_threads());
    for (int g0 = 0; g0 < n; g0 += G) {
        const int cn = n - g0 < G ? n - g0 : G;
        /* the candidates where the transformers wrote them: head (l, k)'s
         * cn images together, so one candidate to the next is cn images */
        sp_predict_cands_by_head(p, be, g0, cn, gt, gb);
        sp_select_dims dg = *d;
        dg.lstride = dg.mstride = (size_t)cn * lc;
#pragma omp parallel
        {
            double *work = works + ws * (size_t)omp_get_thread_num();
#pragma omp for schedule(dynamic, 1)
            for (int j = 0; j < cn; j++) {
                const int i = g0 + j;
                int32_t bk = 0, *ch = choice + (size_t)i * L;
                const float *lj = gt + (size_t)j * lc, *mj = lj + chw, *bj = gb ? gb + j * sb : NULL;
                double e = (exhaustive ? sp_select_exhaustive : sp_select_greedy)(
                    ch, &bk, lj, mj, bj, oc ? oc + (size_t)i * L * L : NULL, img + i * chw, &dg, work);
                err[i] = (float)e;
                if (bkg_choice)
                    bkg_choice[i] = bk;
                sp_select_gather(sel_layers + (size_t)i * L * chw, sel_masks + (size_t)i * L * hw, ch, lj, mj, &dg);
                if (sel_bkg && bj)
                    memcpy(sel_bkg + (size_t)i * chw, bj + (size_t)bk * chw, chw * sizeof(float));
            }
        }
    }
    free(works);
    sp_predict_betas_free(be);
    if (oc != occ)
        free(oc);
    free(gb);
    free(gt);
}

/* Selection from features, the chosen candidates only; see sp_select_features.h. */
#include "sp_select_features.h"

#include "sp_error.h"

#include <omp.h>

#include <stdlib.h>
#include <string.h>

/* Images a task makes the candidates of and selects: a few, so that the
 * tasks outnumber the threads about four times (a thread that finishes
 * early takes another task instead of waiting for the slowest), at most
 * SP_PREDICT_CHUNK (per-task costs matter for small images).  Groups of images
 * shared by all threads (each group's candidates in one parallel loop,
 * then its selection in another) left a thread idle at every group's end:
 * dsprites' selection from features took 27 ms a batch against 17 for the
 * packed form's candidates and selection. */
static int task_images(int n, int threads)
{
    const int c = n / (4 * (threads > 0 ? threads : 1));
    return c < 1 ? 1 : c > SP_PREDICT_CHUNK ? SP_PREDICT_CHUNK : c;
}

void sp_select_from_features(sp_predictor *p, const float *feat, const float *img, int n, const sp_select_dims *d,
                             int exhaustive, int32_t *choice, int32_t *bkg_choice, float *err, float *sel_layers,
                             float *sel_masks, float *sel_bkg, float *sel_params, float *sel_bkg_params, float *occ)
{
    if (n <= 0)
        return;
    const int L = d->L, K = d->K, M = d->M;
    const size_t hw = d->hw, chw = (size_t)d->C * hw;
    const size_t sb = (size_t)M * chw;
    const size_t lc = (size_t)(d->C + 1) * hw; /* one image of one head: colours, then the mask */
    int ps = 0, pl = 0, pb = 0;
    if (sel_params)
        sp_predict_param_sizes(p, &ps, &pl, &pb);
    const int T = omp_get_max_threads(), c = task_images(n, T), ntask = (n + c - 1) / c;
    const size_t hs = (size_t)c * lc; /* from one head's images to the next head's */
    /* the occlusion first: the selection reads it (none predicted: the
     * fixed order, which sp_select takes as NULL, as sp-select does) */
    float *oc = NULL;
    if (sp_predictor_has_occlusion(p)) {
        oc = occ ? occ : sp_malloc(sizeof(float) * ((size_t)n * L * L + 1));
        sp_predict_occlusion(p, oc, feat, n);
    }
    sp_predict_betas *be = sp_predict_betas_new(p, feat, n, M > 0);
    /* the scratch rounded up to whole cache lines: the candidates after it
     * start as aligned as the block */
    const size_t ws = (sp_select_work_size(d) + 7) / 8 * 8, gts = hs * L * K, gbs = (size_t)c * sb;
    sp_predict_threads_ready(p, T, c);
#pragma omp parallel num_threads(T)
    {
        /* each thread's selection scratch, candidates (head by head, as
         * the transformers write them) and background candidates */
        const int me = omp_get_thread_num();
        double *work = sp_predict_thread_block(p, me, sizeof(double) * ws + sizeof(float) * (gts + gbs));
        float *gt = (float *)(work + ws);
        float *gb = M > 0 ? gt + gts : NULL;
        sp_select_dims dg = *d;
        dg.lstride = dg.mstride = hs;
#pragma omp for schedule(dynamic, 1)
        for (int t = 0; t < ntask; t++) {
            const int i0 = t * c, cn = n - i0 < c ? n - i0 : c;
            sp_predict_cands_chunk(p, be, i0, cn, gt, hs, gb, me);
            for (int j = 0; j < cn; j++) {
                const int i = i0 + j;
                int32_t bk = 0, *ch = choice + (size_t)i * L;
                const float *lj = gt + (size_t)j * lc, *mj = lj + chw, *bj = gb ? gb + j * sb : NULL;
                double e = (exhaustive ? sp_select_exhaustive : sp_select_greedy)(
                    ch, &bk, lj, mj, bj, oc ? oc + (size_t)i * L * L : NULL, img + i * chw, &dg, work);
                err[i] = (float)e;
                if (bkg_choice)
                    bkg_choice[i] = bk;
                if (sel_layers)
                    sp_select_gather(sel_layers + (size_t)i * L * chw, sel_masks + (size_t)i * L * hw, ch, lj, mj,
                                     &dg);
                if (sel_bkg && bj)
                    memcpy(sel_bkg + (size_t)i * chw, bj + (size_t)bk * chw, chw * sizeof(float));
                if (sel_params)
                    sp_predict_betas_chosen(p, be, i, ch, bk, sel_params + (size_t)i * L * (ps + pl),
                                            sel_bkg_params ? sel_bkg_params + (size_t)i * pb : NULL);
            }
        }
    }
    sp_predict_betas_free(be);
    if (oc != occ)
        free(oc);
}

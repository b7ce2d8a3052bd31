/* Candidate selection; see sp_select.h. */
#include "sp_select.h"

#include "sp_compose.h"

#include <float.h>

size_t sp_select_work_size(const sp_select_dims *d) { return (2 * (size_t)d->C + 1) * d->hw; }

/* Occlusion weight: how much layer j hides layer k. */
static inline double occ_at(const float *occ, int L, int j, int k)
{
    return occ ? (double)occ[(size_t)j * L + k] : (j > k ? 1.0 : 0.0);
}

/* Fills A [C,hw], B [C,hw], Q [hw] of sp_compose.h for slot l, the other
 * slots holding cur[j] (< 0: empty) and background b (< 0: none). */
static void slot_prepare(double *work, int l, const int32_t *cur, int b, const float *layers,
                         const float *masks, const float *bkgs, const float *occ,
                         const sp_select_dims *d)
{
    const int L = d->L, K = d->K, C = d->C;
    const size_t hw = d->hw;
    double *A = work, *B = work + (size_t)C * hw, *Q = work + 2 * (size_t)C * hw;
    for (size_t p = 0; p < hw; p++) {
        double m[SP_COMPOSE_MAX_LAYERS];
        double wx = 1.0;
        for (int j = 0; j < L; j++) {
            m[j] = (j != l && cur[j] >= 0) ? (double)masks[((size_t)j * K + cur[j]) * hw + p] : 0.0;
            wx *= 1.0 - m[j];
        }
        double ql = 1.0;
        for (int j = 0; j < L; j++)
            if (j != l)
                ql *= 1.0 - occ_at(occ, L, j, l) * m[j];
        Q[p] = ql;
        for (int c = 0; c < C; c++) {
            double bg = (b >= 0 && bkgs) ? (double)bkgs[((size_t)b * C + c) * hw + p] : 0.0;
            A[(size_t)c * hw + p] = wx * bg;
            B[(size_t)c * hw + p] = wx * bg;
        }
        for (int k = 0; k < L; k++) {
            if (k == l || m[k] == 0.0)
                continue;
            double qk = 1.0;
            for (int j = 0; j < L; j++)
                if (j != l)
                    qk *= 1.0 - occ_at(occ, L, j, k) * m[j];
            double olk = occ_at(occ, L, l, k);
            const float *x = layers + ((size_t)k * K + cur[k]) * C * hw;
            for (int c = 0; c < C; c++) {
                double v = m[k] * (double)x[(size_t)c * hw + p] * qk;
                A[(size_t)c * hw + p] += v;
                B[(size_t)c * hw + p] += olk * v;
            }
        }
    }
}

/* Error with candidate k (< 0: empty) in the prepared slot l. */
static double slot_error(const double *work, int l, int k, const float *layers, const float *masks,
                         const float *img, const sp_select_dims *d)
{
    const int C = d->C, K = d->K;
    const size_t hw = d->hw;
    const double *A = work, *B = work + (size_t)C * hw, *Q = work + 2 * (size_t)C * hw;
    const float *ms = k >= 0 ? masks + ((size_t)l * K + k) * hw : NULL;
    const float *x = k >= 0 ? layers + ((size_t)l * K + k) * C * hw : NULL;
    double s = 0.0;
    for (int c = 0; c < C; c++)
        for (size_t p = 0; p < hw; p++) {
            size_t i = (size_t)c * hw + p;
            double y = A[i];
            if (ms) {
                double m = ms[p];
                y += m * ((double)x[i] * Q[p] - B[i]);
            }
            double e = y - (double)img[i];
            s += e * e;
        }
    return s / ((double)C * (double)hw);
}

double sp_select_error(const int32_t *choice, int32_t bkg, const float *layers, const float *masks,
                       const float *bkgs, const float *occ, const float *img,
                       const sp_select_dims *d, double *work)
{
    int b = d->M > 0 ? bkg : -1;
    slot_prepare(work, d->L - 1, choice, b, layers, masks, bkgs, occ, d);
    return slot_error(work, d->L - 1, choice[d->L - 1], layers, masks, img, d);
}

double sp_select_exhaustive(int32_t *choice, int32_t *bkg, const float *layers,
                            const float *masks, const float *bkgs, const float *occ,
                            const float *img, const sp_select_dims *d, double *work)
{
    const int L = d->L, K = d->K, nb = d->M > 0 ? d->M : 1;
    int32_t cur[SP_COMPOSE_MAX_LAYERS];
    double best = DBL_MAX;
    *bkg = 0;
    for (int l = 0; l < L; l++)
        choice[l] = 0;
    for (int b = 0; b < nb; b++) {
        for (int l = 0; l < L; l++)
            cur[l] = 0;
        /* odometer over slots 0..L-2, the last slot tried in full per setting
         * (one preparation serves its K candidates) */
        for (;;) {
            slot_prepare(work, L - 1, cur, d->M > 0 ? b : -1, layers, masks, bkgs, occ, d);
            for (int k = 0; k < K; k++) {
                double e = slot_error(work, L - 1, k, layers, masks, img, d);
                if (e < best) {
                    best = e;
                    for (int l = 0; l < L - 1; l++)
                        choice[l] = cur[l];
                    choice[L - 1] = k;
                    *bkg = b;
                }
            }
            /* the last-slot index is least significant in enumeration order
             * after the others, so ties keep the lexicographically first */
            int l = L - 2;
            while (l >= 0 && ++cur[l] == K)
                cur[l--] = 0;
            if (l < 0)
                break;
        }
    }
    return best;
}

double sp_select_greedy(int32_t *choice, int32_t *bkg, const float *layers, const float *masks,
                        const float *bkgs, const float *occ, const float *img,
                        const sp_select_dims *d, double *work)
{
    const int L = d->L, K = d->K, nb = d->M > 0 ? d->M : 1;
    if (L == 1)
        return sp_select_exhaustive(choice, bkg, layers, masks, bkgs, occ, img, d, work);
    int32_t cur[SP_COMPOSE_MAX_LAYERS];
    double best = DBL_MAX, best_err = 0.0;
    *bkg = 0;
    for (int b = 0; b < nb; b++) {
        int bi = d->M > 0 ? b : -1;
        for (int l = 0; l < L; l++)
            cur[l] = -1;
        for (int it = 0; it < (d->iters > 0 ? d->iters : 1); it++)
            for (int l = 0; l < L; l++) {
                slot_prepare(work, l, cur, bi, layers, masks, bkgs, occ, d);
                double bd = DBL_MAX;
                int bk = 0;
                for (int k = 0; k < K; k++) {
                    double e = slot_error(work, l, k, layers, masks, img, d);
                    if (d->empty && k < K - 1)
                        e += d->lambda_empty;
                    if (e < bd) {
                        bd = e;
                        bk = k;
                    }
                }
                cur[l] = bk;
            }
        double err = sp_select_error(cur, b, layers, masks, bkgs, occ, img, d, work);
        /* backgrounds compete on the greedy's own objective */
        double obj = err;
        for (int l = 0; l < L; l++)
            if (d->empty && cur[l] < K - 1)
                obj += d->lambda_empty;
        if (obj < best) {
            best = obj;
            best_err = err;
            *bkg = b;
            for (int l = 0; l < L; l++)
                choice[l] = cur[l];
        }
    }
    return best_err;
}

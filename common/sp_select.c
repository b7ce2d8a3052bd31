/* Candidate selection; see sp_select.h. */
#include "sp_select.h"

#include "sp_compose.h"
#include "sp_cpu.h"

#include <float.h>
#include <string.h>

size_t sp_select_work_size(const sp_select_dims *d) { return (2 * (size_t)d->C + 1) * d->hw; }

/* Floats from one candidate (l, k) to the next in layers / masks. */
static inline size_t lstep(const sp_select_dims *d) { return d->lstride ? d->lstride : (size_t)d->C * d->hw; }
static inline size_t mstep(const sp_select_dims *d) { return d->mstride ? d->mstride : d->hw; }

/* Occlusion weight: how much layer j hides layer k. */
static inline double occ_at(const float *occ, int L, int j, int k)
{
    return occ ? (double)occ[(size_t)j * L + k] : (j > k ? 1.0 : 0.0);
}

static int select_scalar; /* sp_select_force_scalar */
void sp_select_force_scalar(int on) { select_scalar = on; }

/* One pixel p of slot_prepare. */
static inline void prepare_pixel(double *A, double *B, double *Q, size_t p, int l, const int32_t *cur, int b,
                                 const float *layers, const float *masks, const float *bkgs, const float *occ,
                                 const sp_select_dims *d)
{
    const int L = d->L, K = d->K, C = d->C;
    const size_t hw = d->hw;
    double m[SP_COMPOSE_MAX_LAYERS];
    double wx = 1.0;
    for (int j = 0; j < L; j++) {
        m[j] = (j != l && cur[j] >= 0) ? (double)masks[((size_t)j * K + cur[j]) * mstep(d) + p] : 0.0;
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
        const float *x = layers + ((size_t)k * K + cur[k]) * lstep(d);
        for (int c = 0; c < C; c++) {
            double v = m[k] * (double)x[(size_t)c * hw + p] * qk;
            A[(size_t)c * hw + p] += v;
            B[(size_t)c * hw + p] += olk * v;
        }
    }
}

#ifdef __x86_64__
#include <immintrin.h>

/* Pixels p..p+3 of slot_prepare: prepare_pixel's operations lane by lane
 * (no fused multiply-add), a layer whose mask is 0 at a pixel skipped there
 * by a blend as prepare_pixel skips it, so the same bits. */
__attribute__((target("avx2"))) static void prepare4(double *A, double *B, double *Q, size_t p, int l,
                                                     const int32_t *cur, int b, const float *layers,
                                                     const float *masks, const float *bkgs, const float *occ,
                                                     const sp_select_dims *d)
{
    const int L = d->L, K = d->K, C = d->C;
    const size_t hw = d->hw;
    const __m256d one = _mm256_set1_pd(1.0), zero = _mm256_setzero_pd();
    __m256d m[SP_COMPOSE_MAX_LAYERS];
    __m256d wx = one;
    for (int j = 0; j < L; j++) {
        m[j] = (j != l && cur[j] >= 0) ? _mm256_cvtps_pd(_mm_loadu_ps(masks + ((size_t)j * K + cur[j]) * mstep(d) + p))
                                       : zero;
        wx = _mm256_mul_pd(wx, _mm256_sub_pd(one, m[j]));
    }
    __m256d ql = one;
    for (int j = 0; j < L; j++)
        if (j != l)
            ql = _mm256_mul_pd(ql, _mm256_sub_pd(one, _mm256_mul_pd(_mm256_set1_pd(occ_at(occ, L, j, l)), m[j])));
    _mm256_storeu_pd(Q + p, ql);
    for (int c = 0; c < C; c++) {
        __m256d bg = (b >= 0 && bkgs) ? _mm256_cvtps_pd(_mm_loadu_ps(bkgs + ((size_t)b * C + c) * hw + p)) : zero;
        __m256d a = _mm256_mul_pd(wx, bg);
        _mm256_storeu_pd(A + (size_t)c * hw + p, a);
        _mm256_storeu_pd(B + (size_t)c * hw + p, a);
    }
    for (int k = 0; k < L; k++) {
        if (k == l)
            continue;
        const __m256d on = _mm256_cmp_pd(m[k], zero, _CMP_NEQ_UQ); /* lanes where layer k counts */
        if (_mm256_movemask_pd(on) == 0)
            continue;
        __m256d qk = one;
        for (int j = 0; j < L; j++)
            if (j != l)
                qk = _mm256_mul_pd(qk, _mm256_sub_pd(one, _mm256_mul_pd(_mm256_set1_pd(occ_at(occ, L, j, k)), m[j])));
        const __m256d olk = _mm256_set1_pd(occ_at(occ, L, l, k));
        const float *x = layers + ((size_t)k * K + cur[k]) * lstep(d);
        for (int c = 0; c < C; c++) {
            double *ac = A + (size_t)c * hw + p, *bc = B + (size_t)c * hw + p;
            const __m256d v = _mm256_mul_pd(_mm256_mul_pd(m[k], _mm256_cvtps_pd(_mm_loadu_ps(x + (size_t)c * hw + p))), qk);
            const __m256d a = _mm256_loadu_pd(ac), bb = _mm256_loadu_pd(bc);
            _mm256_storeu_pd(ac, _mm256_blendv_pd(a, _mm256_add_pd(a, v), on));
            _mm256_storeu_pd(bc, _mm256_blendv_pd(bb, _mm256_add_pd(bb, _mm256_mul_pd(olk, v)), on));
        }
    }
}
#endif

/* Fills A [C,hw], B [C,hw], Q [hw] of sp_compose.h for slot l, the other
 * slots holding cur[j] (< 0: empty) and background b (< 0: none). */
static void slot_prepare(double *work, int l, const int32_t *cur, int b, const float *layers,
                         const float *masks, const float *bkgs, const float *occ,
                         const sp_select_dims *d)
{
    const size_t hw = d->hw;
    double *A = work, *B = work + (size_t)d->C * hw, *Q = work + 2 * (size_t)d->C * hw;
    size_t p = 0;
#ifdef __x86_64__
    if (!select_scalar && sp_cpu_avx2())
        for (; p + 4 <= hw; p += 4)
            prepare4(A, B, Q, p, l, cur, b, layers, masks, bkgs, occ, d);
#endif
    for (; p < hw; p++)
        prepare_pixel(A, B, Q, p, l, cur, b, layers, masks, bkgs, occ, d);
}

/* The squared errors of slot_error go into 8 partial sums, lane p % 8 of
 * every channel's row (then a fixed tree): a vector unit adds 4 or 8 rows'
 * values at once with the very same operations (multiplies and adds, no
 * fused multiply-add), so both builds below give the same bits. */
#define LANES 8

static double lanes_total(const double *s)
{
    return ((s[0] + s[1]) + (s[2] + s[3])) + ((s[4] + s[5]) + (s[6] + s[7]));
}

/* One channel's values p in [p0, hw) into the lanes, one at a time. */
static inline void row_error_tail(double *s, const double *A, const double *B, const double *Q,
                                  const float *ms, const float *x, const float *img, size_t p0, size_t hw)
{
    for (size_t p = p0; p < hw; p++) {
        double y = A[p];
        if (ms)
            y += (double)ms[p] * ((double)x[p] * Q[p] - B[p]);
        double e = y - (double)img[p];
        s[p % LANES] += e * e;
    }
}

static double slot_error_scalar(const double *A, const double *B, const double *Q, const float *ms,
                                const float *x, const float *img, int C, size_t hw)
{
    double s[LANES] = {0};
    for (int c = 0; c < C; c++) {
        size_t o = (size_t)c * hw;
        row_error_tail(s, A + o, B + o, Q, ms, x ? x + o : NULL, img + o, 0, hw);
    }
    return lanes_total(s);
}

#ifdef __x86_64__

/* Eight values of one channel: y = A + m (x Q - B) (or A), e = y - img. */
__attribute__((target("avx2"))) static inline __m256d err4(const double *A, const double *B, const double *Q,
                                                          const float *ms, const float *x, const float *img)
{
    __m256d y = _mm256_loadu_pd(A);
    if (ms) {
        __m256d m = _mm256_cvtps_pd(_mm_loadu_ps(ms)), xv = _mm256_cvtps_pd(_mm_loadu_ps(x));
        y = _mm256_add_pd(y, _mm256_mul_pd(m, _mm256_sub_pd(_mm256_mul_pd(xv, _mm256_loadu_pd(Q)),
                                                             _mm256_loadu_pd(B))));
    }
    __m256d e = _mm256_sub_pd(y, _mm256_cvtps_pd(_mm_loadu_ps(img)));
    return _mm256_mul_pd(e, e);
}

__attribute__((target("avx2"))) static double slot_error_avx2(const double *A, const double *B, const double *Q,
                                                              const float *ms, const float *x, const float *img,
                                                              int C, size_t hw)
{
    __m256d lo = _mm256_setzero_pd(), hi = _mm256_setzero_pd(); /* lanes 0-3, 4-7 */
    const size_t h8 = hw / LANES * LANES;
    double s[LANES];
    for (int c = 0; c < C; c++) {
        size_t o = (size_t)c * hw;
        const float *xc = x ? x + o : NULL;
        for (size_t p = 0; p < h8; p += LANES) {
            lo = _mm256_add_pd(lo, err4(A + o + p, B + o + p, Q + p, ms ? ms + p : NULL, xc ? xc + p : NULL,
                                        img + o + p));
            hi = _mm256_add_pd(hi, err4(A + o + p + 4, B + o + p + 4, Q + p + 4, ms ? ms + p + 4 : NULL,
                                        xc ? xc + p + 4 : NULL, img + o + p + 4));
        }
        if (h8 < hw) { /* the row's last values into the same lanes */
            _mm256_storeu_pd(s, lo);
            _mm256_storeu_pd(s + 4, hi);
            row_error_tail(s, A + o, B + o, Q, ms, xc, img + o, h8, hw);
            lo = _mm256_loadu_pd(s);
            hi = _mm256_loadu_pd(s + 4);
        }
    }
    _mm256_storeu_pd(s, lo);
    _mm256_storeu_pd(s + 4, hi);
    return lanes_total(s);
}
#endif

/* Error with candidate k (< 0: empty) in the prepared slot l. */
static double slot_error(const double *work, int l, int k, const float *layers, const float *masks,
                         const float *img, const sp_select_dims *d)
{
    const int C = d->C, K = d->K;
    const size_t hw = d->hw;
    const double *A = work, *B = work + (size_t)C * hw, *Q = work + 2 * (size_t)C * hw;
    const float *ms = k >= 0 ? masks + ((size_t)l * K + k) * mstep(d) : NULL;
    const float *x = k >= 0 ? layers + ((size_t)l * K + k) * lstep(d) : NULL;
    double s;
#ifdef __x86_64__
    if (!select_scalar && sp_cpu_avx2())
        s = slot_error_avx2(A, B, Q, ms, x, img, C, hw);
    else
#endif
        s = slot_error_scalar(A, B, Q, ms, x, img, C, hw);
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

void sp_select_gather(float *sel_layers, float *sel_masks, const int32_t *choice, const float *layers,
                      const float *masks, const sp_select_dims *d)
{
    const size_t chw = (size_t)d->C * d->hw;
    for (int l = 0; l < d->L; l++) {
        const size_t k = (size_t)l * d->K + (size_t)choice[l];
        memcpy(sel_layers + (size_t)l * chw, layers + k * lstep(d), chw * sizeof(float));
        memcpy(sel_masks + (size_t)l * d->hw, masks + k * mstep(d), d->hw * sizeof(float));
    }
}

/* Layered composition, forward and backward (see sp_compose.h for the
 * formulas).  Fused: one pass over the inputs, no intermediate tensors.
 * The work is split into (image, block of BLK pixels) items; inside a block
 * the loops run over pixels innermost, marked `omp simd` so that they are
 * vectorised (fixed vector width: still deterministic), with per-layer
 * temporaries of BLK floats on the stack. */
#include "sp_compose.h"
#include "sp_error.h"
#include "sp_parallel.h"
#include "sp_sigmoid.h"

#include <stdlib.h>
#include <string.h>

#define BLK 256

static void check_layers(size_t L)
{
    if (L > SP_COMPOSE_MAX_LAYERS)
        sp_fatal("composition: %zu layers, at most %d supported", L, SP_COMPOSE_MAX_LAYERS);
}

/* Pointers of image n, pixel p0 of each input. */
#define LAYER(k, c) (layers + (((k) * N + n) * C + (c)) * hw + p0)
#define MASK(k) (masks + ((k) * N + n) * hw + p0)

/* ---------------------------------------------------------------- forward */

/* One block's output from the layer weights w and the background weight wbg
 * (unused without bg): y_c = wbg bg_c + sum_k w_k x_{k,c}, background first
 * and layers in ascending order, whatever the weights' origin. */
static void fwd_block_mix(float *y, const float *layers, const float *bg, const float *wbg,
                          const float (*w)[BLK], size_t L, size_t N, size_t C, size_t hw,
                          size_t n, size_t p0, size_t P)
{
    for (size_t c = 0; c < C; c++) {
        float *yc = y + (n * C + c) * hw + p0;
        if (bg) {
            const float *b = bg + (n * C + c) * hw + p0;
            #pragma omp simd
            for (size_t p = 0; p < P; p++)
                yc[p] = wbg[p] * b[p];
        } else {
            memset(yc, 0, P * sizeof *yc);
        }
        for (size_t k = 0; k < L; k++) {
            const float *x = LAYER(k, c);
            #pragma omp simd
            for (size_t p = 0; p < P; p++)
                yc[p] += w[k][p] * x[p];
        }
    }
}

/* One block, fixed back-to-front order: T runs down from the front layer,
 * w_k = m_k * prod_{j>k} (1 - m_j). */
static void fwd_block_hard(float *y, const float *layers, const float *masks, const float *bg,
                           size_t L, size_t N, size_t C, size_t hw, size_t n, size_t p0, size_t P)
{
    float w[SP_COMPOSE_MAX_LAYERS][BLK], T[BLK];
    #pragma omp simd
    for (size_t p = 0; p < P; p++)
        T[p] = 1.0f;
    for (size_t k = L; k-- > 0;) {
        const float *m = MASK(k);
        #pragma omp simd
        for (size_t p = 0; p < P; p++) {
            w[k][p] = m[p] * T[p];
            T[p] *= 1.0f - m[p];
        }
    }
    fwd_block_mix(y, layers, bg, T, w, L, N, C, hw, n, p0, P);
}

/* One block with an occlusion matrix o (image n's [L,L]).  The products run
 * over j in ascending order and the sum over layers background first, as the
 * reference's tensor expressions do. */
static void fwd_block_occ(float *y, const float *layers, const float *masks, const float *bg,
                          const float *o, size_t L, size_t N, size_t C, size_t hw, size_t n,
                          size_t p0, size_t P)
{
    float w[SP_COMPOSE_MAX_LAYERS][BLK], wbg[BLK];
    for (size_t k = 0; k < L; k++) {
        float *F = w[k];
        #pragma omp simd
        for (size_t p = 0; p < P; p++)
            F[p] = 1.0f;
        for (size_t j = 0; j < L; j++) {
            const float *m = MASK(j);
            float ojk = o[j * L + k];
            #pragma omp simd
            for (size_t p = 0; p < P; p++)
                F[p] *= 1.0f - ojk * m[p];
        }
        const float *mk = MASK(k);
        #pragma omp simd
        for (size_t p = 0; p < P; p++)
            F[p] *= mk[p];
    }
    if (bg) {
        #pragma omp simd
        for (size_t p = 0; p < P; p++)
            wbg[p] = 1.0f;
        for (size_t j = 0; j < L; j++) {
            const float *m = MASK(j);
            #pragma omp simd
            for (size_t p = 0; p < P; p++)
                wbg[p] *= 1.0f - m[p];
        }
    }
    fwd_block_mix(y, layers, bg, wbg, w, L, N, C, hw, n, p0, P);
}

/* sp_compose_forward's blocks [it0, it1) (nb a plane) */
typedef struct {
    float *y;
    const float *layers, *masks, *bg, *occ;
    size_t L, N, C, hw, nb;
} compose_ctx;

static void compose_blocks(void *ctx, size_t it0, size_t it1)
{
    const compose_ctx *k = ctx;
    const size_t L = k->L, hw = k->hw;
    for (size_t it = it0; it < it1; it++) {
        size_t n = it / k->nb, p0 = (it % k->nb) * BLK;
        size_t P = hw - p0 < BLK ? hw - p0 : BLK;
        if (k->occ)
            fwd_block_occ(k->y, k->layers, k->masks, k->bg, k->occ + n * L * L, L, k->N, k->C, hw, n, p0, P);
        else
            fwd_block_hard(k->y, k->layers, k->masks, k->bg, L, k->N, k->C, hw, n, p0, P);
    }
}

void sp_compose_forward(float *y, const float *layers, const float *masks, const float *bg,
                        const float *occ, size_t L, size_t N, size_t C, size_t hw)
{
    check_layers(L);
    compose_ctx k = {y, layers, masks, bg, occ, L, N, C, hw, (hw + BLK - 1) / BLK};
    sp_parallel_for(N * k.nb, 2, compose_blocks, &k);
}

/* --------------------------------------------------------------- backward */

/* g_k = sum_c dy_c x_{k,c}: how the output changes with layer k's weight. */
static void dot_channels(float *g, const float *dy, const float *x0, size_t C, size_t hw,
                         size_t P)
{
    #pragma omp simd
    for (size_t p = 0; p < P; p++)
        g[p] = 0.0f;
    for (size_t c = 0; c < C; c++) {
        const float *d = dy + c * hw, *x = x0 + c * hw;
        #pragma omp simd
        for (size_t p = 0; p < P; p++)
            g[p] += d[p] * x[p];
    }
}

/* out_c = dy_c * wt for every channel c: the gradient of a term wt x_c. */
static void scale_channels(float *out0, const float *dy, const float *wt, size_t C, size_t hw,
                           size_t P)
{
    for (size_t c = 0; c < C; c++) {
        float *out = out0 + c * hw;
        const float *d = dy + c * hw;
        #pragma omp simd
        for (size_t p = 0; p < P; p++)
            out[p] = d[p] * wt[p];
    }
}

/* Fixed order.  With R_k the composite below layer k (R_0 = bg) and
 * T_k = prod_{j>k} (1 - m_j):  dx_k = dy m_k T_k, dbg = dy T_{-1},
 * dm_k = T_k * sum_c dy_c (x_{k,c} - R_{k,c}) = T_k (g_k - h_k), where
 * h_k = sum_c dy_c R_{k,c} follows R's recursion: h_0 = g_bg,
 * h_{k+1} = m_k g_k + (1 - m_k) h_k.  No division, so masks of exactly 1 are
 * fine. */
static void bwd_block_hard(float *dlayers, float *dmasks, float *dbg, const float *dy0,
                           const float *layers, const float *masks, const float *bg, size_t L,
                           size_t N, size_t C, size_t hw, size_t n, size_t p0, size_t P)
{
    float g[SP_COMPOSE_MAX_LAYERS][BLK], h[SP_COMPOSE_MAX_LAYERS][BLK], T[BLK];
    const float *dy = dy0 + n * C * hw + p0;
    for (size_t k = 0; k < L; k++)
        dot_channels(g[k], dy, LAYER(k, 0), C, hw, P);
    if (dmasks) {
        if (bg)
            dot_channels(h[0], dy, bg + n * C * hw + p0, C, hw, P);
        else
            memset(h[0], 0, P * sizeof h[0][0]);
        for (size_t k = 0; k + 1 < L; k++) {
            const float *m = MASK(k);
            #pragma omp simd
            for (size_t p = 0; p < P; p++)
                h[k + 1][p] = m[p] * g[k][p] + (1.0f - m[p]) * h[k][p];
        }
    }
    #pragma omp simd
    for (size_t p = 0; p < P; p++)
        T[p] = 1.0f;
    for (size_t k = L; k-- > 0;) {
        const float *m = MASK(k);
        if (dmasks) {
            float *dm = dmasks + (k * N + n) * hw + p0;
            #pragma omp simd
            for (size_t p = 0; p < P; p++)
                dm[p] = T[p] * (g[k][p] - h[k][p]);
        }
        if (dlayers) {
            for (size_t c = 0; c < C; c++) {
                float *dx = dlayers + ((k * N + n) * C + c) * hw + p0;
                const float *d = dy + c * hw;
                #pragma omp simd
                for (size_t p = 0; p < P; p++)
                    dx[p] = d[p] * (m[p] * T[p]);
            }
        }
        #pragma omp simd
        for (size_t p = 0; p < P; p++)
            T[p] *= 1.0f - m[p];
    }
    if (dbg)
        scale_channels(dbg + n * C * hw + p0, dy, T, C, hw, P);
}

/* With an occlusion matrix.  F_k = prod_j a_jk, a_jk = 1 - o[j][k] m_j, and
 * F_k^(-i) = prod_{j != i} a_jk (prefix times suffix, no division):
 *   dx_k    = dy m_k F_k
 *   dm_i    = g_i F_i - sum_k g_k m_k o[i][k] F_k^(-i) - g_bg prod_{j != i} (1 - m_j)
 *   do[i][k] = -sum_pixels g_k m_k m_i F_k^(-i)
 * do's block sums go to part[L*L] (double). */
static void bwd_block_occ(float *dlayers, float *dmasks, float *dbg, double *part,
                          const float *dy0, const float *layers, const float *masks,
                          const float *bg, const float *o, size_t L, size_t N, size_t C,
                          size_t hw, size_t n, size_t p0, size_t P)
{
    float pre[SP_COMPOSE_MAX_LAYERS + 1][BLK], dm[SP_COMPOSE_MAX_LAYERS][BLK];
    float g[BLK], gm[BLK], suf[BLK], wk[BLK];
    const float *dy = dy0 + n * C * hw + p0;
    for (size_t i = 0; i < L; i++)
        memset(dm[i], 0, P * sizeof dm[i][0]);
    if (part)
        for (size_t i = 0; i < L * L; i++)
            part[i] = 0.0;
    for (size_t k = 0; k < L; k++) {
        const float *mk = MASK(k);
        #pragma omp simd
        for (size_t p = 0; p < P; p++)
            pre[0][p] = 1.0f;
        for (size_t j = 0; j < L; j++) {
            const float *m = MASK(j);
            float ojk = o[j * L + k];
            #pragma omp simd
            for (size_t p = 0; p < P; p++)
                pre[j + 1][p] = pre[j][p] * (1.0f - ojk * m[p]);
        }
        const float *F = pre[L];
        #pragma omp simd
        for (size_t p = 0; p < P; p++)
            wk[p] = mk[p] * F[p];
        if (dlayers)
            scale_channels(dlayers + (k * N + n) * C * hw + p0, dy, wk, C, hw, P);
        if (!dmasks && !part)
            continue;
        dot_channels(g, dy, LAYER(k, 0), C, hw, P);
        #pragma omp simd
        for (size_t p = 0; p < P; p++) {
            dm[k][p] += g[p] * F[p];
            gm[p] = g[p] * mk[p];
            suf[p] = 1.0f;
        }
        for (size_t i = L; i-- > 0;) {
            const float *mi = MASK(i);
            float oik = o[i * L + k];
            double acc = 0.0;
            #pragma omp simd reduction(+ : acc)
            for (size_t p = 0; p < P; p++) {
                float t = gm[p] * (pre[i][p] * suf[p]); /* g_k m_k F_k^(-i) */
                dm[i][p] -= oik * t;
                acc += (double)(t * mi[p]);
                suf[p] *= 1.0f - oik * mi[p];
            }
            if (part)
                part[i * L + k] -= acc;
        }
    }
    if (bg && (dmasks || dbg)) {
        /* w_bg = prod_j (1 - m_j), prefix in pre[], suffix in suf[]. */
        #pragma omp simd
        for (size_t p = 0; p < P; p++)
            pre[0][p] = 1.0f;
        for (size_t j = 0; j < L; j++) {
            const float *m = MASK(j);
            #pragma omp simd
            for (size_t p = 0; p < P; p++)
                pre[j + 1][p] = pre[j][p] * (1.0f - m[p]);
        }
        if (dbg)
            scale_channels(dbg + n * C * hw + p0, dy, pre[L], C, hw, P);
        if (dmasks) {
            dot_channels(g, dy, bg + n * C * hw + p0, C, hw, P);
            #pragma omp simd
            for (size_t p = 0; p < P; p++)
                suf[p] = 1.0f;
            for (size_t i = L; i-- > 0;) {
                const float *mi = MASK(i);
                #pragma omp simd
                for (size_t p = 0; p < P; p++) {
                    dm[i][p] -= g[p] * (pre[i][p] * suf[p]);
                    suf[p] *= 1.0f - mi[p];
                }
            }
        }
    }
    if (dmasks)
        for (size_t i = 0; i < L; i++)
            memcpy(dmasks + (i * N + n) * hw + p0, dm[i], P * sizeof(float));
}

void sp_compose_backward(float *dlayers, float *dmasks, float *dbg, float *docc, const float *dy,
                         const float *layers, const float *masks, const float *bg,
                         const float *occ, size_t L, size_t N, size_t C, size_t hw)
{
    check_layers(L);
    if (!bg)
        dbg = NULL;
    if (!occ)
        docc = NULL;
    size_t nb = (hw + BLK - 1) / BLK;
    long items = (long)(N * nb);
    /* Per-block partial sums of the occlusion gradient, reduced below in
     * block order so that the result does not depend on the threads. */
    double *part = docc && items ? sp_malloc((size_t)items * L * L * sizeof *part) : NULL;
#pragma omp parallel for schedule(static)
    for (long it = 0; it < items; it++) {
        size_t n = (size_t)it / nb, p0 = ((size_t)it % nb) * BLK;
        size_t P = hw - p0 < BLK ? hw - p0 : BLK;
        if (occ)
            bwd_block_occ(dlayers, dmasks, dbg, part ? part + (size_t)it * L * L : NULL, dy,
                          layers, masks, bg, occ + n * L * L, L, N, C, hw, n, p0, P);
        else
            bwd_block_hard(dlayers, dmasks, dbg, dy, layers, masks, bg, L, N, C, hw, n, p0, P);
    }
    if (docc) {
        for (size_t n = 0; n < N; n++) {
            for (size_t i = 0; i < L * L; i++) {
                double s = 0.0;
                for (size_t b = 0; b < nb; b++)
                    s += part[(n * nb + b) * L * L + i];
                docc[n * L * L + i] = (float)s;
            }
        }
    }
    free(part);
}

/* ------------------------------------------------------- occlusion matrix */

void sp_occlusion_grid_forward(float *occ, const float *logits, size_t N, size_t L)
{
    size_t np = L * (L - (L > 0)) / 2;
    for (size_t n = 0; n < N; n++) {
        const float *z = logits + n * np;
        float *o = occ + n * L * L;
        for (size_t j = 0; j < L; j++) {
            o[j * L + j] = 0.0f;
            for (size_t k = 0; k < j; k++) {
                float s = sp_sigmoidf(z[j * (j - 1) / 2 + k]);
                o[j * L + k] = s;
                o[k * L + j] = 1.0f - s;
            }
        }
    }
}

void sp_occlusion_grid_backward(float *dlogits, const float *docc, const float *logits, size_t N,
                                size_t L)
{
    size_t np = L * (L - (L > 0)) / 2;
    for (size_t n = 0; n < N; n++) {
        const float *z = logits + n * np, *d = docc + n * L * L;
        for (size_t j = 1; j < L; j++) {
            for (size_t k = 0; k < j; k++) {
                size_t i = j * (j - 1) / 2 + k;
                float s = sp_sigmoidf(z[i]);
                dlogits[n * np + i] = (d[j * L + k] - d[k * L + j]) * (1.0f - s) * s;
            }
        }
    }
}

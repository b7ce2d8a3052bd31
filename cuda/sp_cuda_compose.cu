/* Layered composition with occlusion (sp_compose.h), forward and backward:
 * one thread per (image, pixel), the CPU's per-pixel operations in its
 * order.  The occlusion gradient, a sum over pixels, is written as
 * per-pixel terms and reduced per (image, entry) in double by a
 * fixed-order tree: no atomics. */
#include "sp_cuda_util.cuh"

#define MAXL 16 /* SP_COMPOSE_MAX_LAYERS */

#define LAYER(k, c) (layers + ((((k) * N + n) * C + (c)) * hw + p))
#define MASK(k) (masks[((k) * N + n) * hw + p])

__global__ static void compose_fwd_k(float *y, const float *layers, const float *masks,
                                     const float *bg, const float *occ, size_t L, size_t N,
                                     size_t C, size_t hw)
{
    SP_CUDA_FOR(t, N * hw)
    {
        size_t n = t / hw, p = t % hw;
        float w[MAXL], wbg = 1.0f;
        if (!occ) {
            float T = 1.0f;
            for (size_t k = L; k-- > 0;) {
                float m = MASK(k);
                w[k] = __fmul_rn(m, T);
                T = __fmul_rn(T, __fsub_rn(1.0f, m));
            }
            wbg = T;
        } else {
            const float *o = occ + n * L * L;
            for (size_t k = 0; k < L; k++) {
                float F = 1.0f;
                for (size_t j = 0; j < L; j++)
                    F = __fmul_rn(F, __fsub_rn(1.0f, __fmul_rn(o[j * L + k], MASK(j))));
                w[k] = __fmul_rn(F, MASK(k));
            }
            for (size_t j = 0; j < L; j++)
                wbg = __fmul_rn(wbg, __fsub_rn(1.0f, MASK(j)));
        }
        for (size_t c = 0; c < C; c++) {
            float s = bg ? __fmul_rn(wbg, bg[(n * C + c) * hw + p]) : 0.0f;
            for (size_t k = 0; k < L; k++)
                s = __fadd_rn(s, __fmul_rn(w[k], *LAYER(k, c)));
            y[(n * C + c) * hw + p] = s;
        }
    }
}

/* sum_c dy_c v_c from zero, channels in order. */
__device__ static inline float dot_c(const float *dy, const float *v, size_t C, size_t hw)
{
    float g = 0.0f;
    for (size_t c = 0; c < C; c++)
        g = __fadd_rn(g, __fmul_rn(dy[c * hw], v[c * hw]));
    return g;
}

__global__ static void compose_bwd_k(float *dlayers, float *dmasks, float *dbg, double *terms,
                                     const float *dy0, const float *layers, const float *masks,
                                     const float *bg, const float *occ, size_t L, size_t N,
                                     size_t C, size_t hw)
{
    SP_CUDA_FOR(t, N * hw)
    {
        size_t n = t / hw, p = t % hw;
        const float *dy = dy0 + n * C * hw + p;
        const float *bgp = bg ? bg + n * C * hw + p : NULL;
        if (!occ) {
            float g[MAXL], h[MAXL];
            for (size_t k = 0; k < L; k++)
                g[k] = dot_c(dy, LAYER(k, 0), C, hw);
            if (dmasks) {
                h[0] = bgp ? dot_c(dy, bgp, C, hw) : 0.0f;
                for (size_t k = 0; k + 1 < L; k++) {
                    float m = MASK(k);
                    h[k + 1] = __fadd_rn(__fmul_rn(m, g[k]), __fmul_rn(__fsub_rn(1.0f, m), h[k]));
                }
            }
            float T = 1.0f;
            for (size_t k = L; k-- > 0;) {
                float m = MASK(k);
                if (dmasks)
                    dmasks[(k * N + n) * hw + p] = __fmul_rn(T, __fsub_rn(g[k], h[k]));
                if (dlayers) {
                    float mt = __fmul_rn(m, T);
                    for (size_t c = 0; c < C; c++)
                        dlayers[((k * N + n) * C + c) * hw + p] = __fmul_rn(dy[c * hw], mt);
                }
                T = __fmul_rn(T, __fsub_rn(1.0f, m));
            }
            if (dbg)
                for (size_t c = 0; c < C; c++)
                    dbg[(n * C + c) * hw + p] = __fmul_rn(dy[c * hw], T);
            continue;
        }
        const float *o = occ + n * L * L;
        float pre[MAXL + 1], dm[MAXL];
        for (size_t i = 0; i < L; i++)
            dm[i] = 0.0f;
        for (size_t k = 0; k < L; k++) {
            float mk = MASK(k);
            pre[0] = 1.0f;
            for (size_t j = 0; j < L; j++)
                pre[j + 1] = __fmul_rn(pre[j], __fsub_rn(1.0f, __fmul_rn(o[j * L + k], MASK(j))));
            float F = pre[L], wk = __fmul_rn(mk, F);
            if (dlayers)
                for (size_t c = 0; c < C; c++)
                    dlayers[((k * N + n) * C + c) * hw + p] = __fmul_rn(dy[c * hw], wk);
            if (!dmasks && !terms)
                continue;
            float g = dot_c(dy, LAYER(k, 0), C, hw);
            dm[k] = __fadd_rn(dm[k], __fmul_rn(g, F));
            float gm = __fmul_rn(g, mk), suf = 1.0f;
            for (size_t i = L; i-- > 0;) {
                float mi = MASK(i), oik = o[i * L + k];
                float tt = __fmul_rn(gm, __fmul_rn(pre[i], suf));
                dm[i] = __fsub_rn(dm[i], __fmul_rn(oik, tt));
                if (terms)
                    terms[((n * L * L) + i * L + k) * hw + p] = -(double)__fmul_rn(tt, mi);
                suf = __fmul_rn(suf, __fsub_rn(1.0f, __fmul_rn(oik, mi)));
            }
        }
        if (bgp && (dmasks || dbg)) {
            pre[0] = 1.0f;
            for (size_t j = 0; j < L; j++)
                pre[j + 1] = __fmul_rn(pre[j], __fsub_rn(1.0f, MASK(j)));
            if (dbg)
                for (size_t c = 0; c < C; c++)
                    dbg[(n * C + c) * hw + p] = __fmul_rn(dy[c * hw], pre[L]);
            if (dmasks) {
                float g = dot_c(dy, bgp, C, hw), suf = 1.0f;
                for (size_t i = L; i-- > 0;) {
                    dm[i] = __fsub_rn(dm[i], __fmul_rn(g, __fmul_rn(pre[i], suf)));
                    suf = __fmul_rn(suf, __fsub_rn(1.0f, MASK(i)));
                }
            }
        }
        if (dmasks)
            for (size_t i = 0; i < L; i++)
                dmasks[(i * N + n) * hw + p] = dm[i];
    }
}

/* One block per (image, occlusion entry): the pixel terms in a fixed order. */
__global__ static void reduce_terms_k(float *docc, const double *terms, size_t hw)
{
    __shared__ double part[SP_CUDA_THREADS];
    const double *t = terms + (size_t)blockIdx.x * hw;
    double s = 0.0;
    for (size_t p = threadIdx.x; p < hw; p += blockDim.x)
        s += t[p];
    part[threadIdx.x] = s;
    __syncthreads();
    for (unsigned h = blockDim.x / 2; h > 0; h /= 2) {
        if (threadIdx.x < h)
            part[threadIdx.x] += part[threadIdx.x + h];
        __syncthreads();
    }
    if (threadIdx.x == 0)
        docc[blockIdx.x] = (float)part[0];
}

static void check_layers(size_t L)
{
    if (L > MAXL)
        sp_fatal("cuda: composition: %zu layers, at most %d supported", L, MAXL);
}

extern "C" void sp_cuda_compose_forward(float *y, const float *layers, const float *masks,
                                        const float *bg, const float *occ, size_t L, size_t N,
                                        size_t C, size_t hw)
{
    check_layers(L);
    if (N * hw == 0)
        return;
    compose_fwd_k<<<sp_cuda_blocks(N * hw), SP_CUDA_THREADS>>>(y, layers, masks, bg, occ, L, N, C, hw);
    sp_cuda_check("compose_fwd_k");
}

extern "C" void sp_cuda_compose_backward(float *dlayers, float *dmasks, float *dbg, float *docc,
                                         const float *dy, const float *layers, const float *masks,
                                         const float *bg, const float *occ, size_t L, size_t N,
                                         size_t C, size_t hw)
{
    check_layers(L);
    if (!bg)
        dbg = NULL;
    if (!occ)
        docc = NULL;
    if (docc && N * hw == 0)
        sp_cuda_zero(docc, sizeof(float) * N * L * L);
    if (N * hw == 0)
        return;
    double *terms = docc ? (double *)sp_cuda_alloc(sizeof(double) * N * L * L * hw) : NULL;
    compose_bwd_k<<<sp_cuda_blocks(N * hw), SP_CUDA_THREADS>>>(dlayers, dmasks, dbg, terms, dy,
                                                               layers, masks, bg, occ, L, N, C, hw);
    sp_cuda_check("compose_bwd_k");
    if (docc && N * L * L > 0) {
        reduce_terms_k<<<(unsigned)(N * L * L), SP_CUDA_THREADS>>>(docc, terms, hw);
        sp_cuda_check("reduce_terms_k");
    }
}

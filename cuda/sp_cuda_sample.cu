/* Bilinear grid sampling (sp_warp.h's sp_grid_sample_*): PyTorch's
 * grid_sample with align_corners=False and zeros or border padding, the
 * arithmetic of common/sp_warp.c's point_setup.
 *
 * The input gradient is deterministic without float atomics: every output
 * point lists its (input pixel, weight) pairs, a stable radix sort groups
 * them by input pixel keeping output order, and one thread per (image,
 * channel, input pixel) sums its group in that order: the CPU's serial
 * scatter order, so dx matches it bit for bit. */
#include "sp_cuda_util.cuh"

#include <cub/device/device_radix_sort.cuh>

#define NONE 0xFFFFFFFFu

typedef struct {
    int o[4];     /* offsets in the input plane; -1: the corner reads nothing */
    float w[4];   /* weights nw, ne, sw, se */
    float cx[4], cy[4];
} point;

__device__ static inline int ifloor(float v)
{
    int i = (int)v;
    return (float)i > v ? i - 1 : i;
}

/* 0 when the point reads nothing (zeros padding, outside or NaN), else 1. */
__device__ static int point_setup(point *pt, float gx, float gy, int hin, int win, int border)
{
    float sx = (float)win / 2, sy = (float)hin / 2;
    float ix = __fsub_rn(__fmul_rn(__fadd_rn(gx, 1.0f), sx), 0.5f);
    float iy = __fsub_rn(__fmul_rn(__fadd_rn(gy, 1.0f), sy), 0.5f);
    float mx = sx, my = sy;
    if (border) {
        float maxx = (float)(win - 1), maxy = (float)(hin - 1);
        ix = ix > 0.0f ? ix : 0.0f;
        if (ix == 0.0f)
            mx = 0;
        if (ix >= maxx)
            ix = maxx, mx = 0;
        iy = iy > 0.0f ? iy : 0.0f;
        if (iy == 0.0f)
            my = 0;
        if (iy >= maxy)
            iy = maxy, my = 0;
    } else if (!(ix >= -1.0f && ix < (float)win && iy >= -1.0f && iy < (float)hin)) {
        return 0;
    }
    int x0 = ifloor(ix), y0 = ifloor(iy);
    float we = __fsub_rn(ix, (float)x0), ea = __fsub_rn(1.0f, we);
    float no = __fsub_rn(iy, (float)y0), so = __fsub_rn(1.0f, no);
    int base = y0 * win + x0;
    pt->w[0] = __fmul_rn(so, ea), pt->w[1] = __fmul_rn(so, we);
    pt->w[2] = __fmul_rn(no, ea), pt->w[3] = __fmul_rn(no, we);
    pt->o[0] = base, pt->o[1] = base + 1, pt->o[2] = base + win, pt->o[3] = base + win + 1;
    pt->cx[0] = -__fmul_rn(so, mx), pt->cx[1] = __fmul_rn(so, mx);
    pt->cx[2] = -__fmul_rn(no, mx), pt->cx[3] = __fmul_rn(no, mx);
    pt->cy[0] = -__fmul_rn(ea, my), pt->cy[1] = -__fmul_rn(we, my);
    pt->cy[2] = __fmul_rn(ea, my), pt->cy[3] = __fmul_rn(we, my);
    int vw = x0 >= 0 && x0 < win, ve = x0 + 1 >= 0 && x0 + 1 < win;
    int vn = y0 >= 0 && y0 < hin, vs = y0 + 1 >= 0 && y0 + 1 < hin;
    int v[4] = {vw && vn, ve && vn, vw && vs, ve && vs};
    for (int k = 0; k < 4; k++)
        if (!v[k]) {
            pt->o[k] = -1;
            pt->w[k] = 0.0f;
            pt->cx[k] = pt->cy[k] = 0.0f;
        }
    return 1;
}

/* All four corners inside: the CPU takes its SSE path there (x86-64). */
__device__ static inline int inside4(const point *pt)
{
    return pt->o[0] >= 0 && pt->o[1] >= 0 && pt->o[2] >= 0 && pt->o[3] >= 0;
}

/* sum_k v_k w_k in the CPU's order: (v0w0 + v2w2) + (v1w1 + v3w3) for an
 * inside point (SSE horizontal sum), ((v0w0 + v1w1) + v2w2) + v3w3 else. */
__device__ static inline float weighted4(const float *v, const float *w, int inside)
{
    float a = __fmul_rn(v[0], w[0]), b = __fmul_rn(v[1], w[1]);
    float c = __fmul_rn(v[2], w[2]), d = __fmul_rn(v[3], w[3]);
    if (inside)
        return __fadd_rn(__fadd_rn(a, c), __fadd_rn(b, d));
    return __fadd_rn(__fadd_rn(__fadd_rn(a, b), c), d);
}

/* One thread per (image, output pixel), every channel. */
__global__ static void sample_fwd_k(float *y, const float *x, const float *grid, size_t n, int C,
                                    int hin, int win, int h, int w, int border)
{
    const size_t hw = (size_t)h * w, in_plane = (size_t)hin * win;
    SP_CUDA_FOR(t, n * hw)
    {
        size_t b = t / hw, p = t % hw;
        point pt;
        int kind = point_setup(&pt, grid[2 * t], grid[2 * t + 1], hin, win, border);
        float *yo = y + b * C * hw + p;
        const float *xc = x + b * C * in_plane;
        for (int c = 0; c < C; c++, xc += in_plane) {
            float s = 0.0f;
            if (kind) {
                /* the CPU's summation order for this kind of point */
                float v[4];
                for (int k = 0; k < 4; k++)
                    v[k] = pt.o[k] >= 0 ? xc[pt.o[k]] : 0.0f;
                s = weighted4(v, pt.w, inside4(&pt));
            }
            yo[(size_t)c * hw] = s;
        }
    }
}

/* One thread per (image, output pixel): the point's gradient summed over
 * channels (dgrid), and its four (input pixel, weight) pairs. */
__global__ static void sample_pairs_k(float *dgrid, uint32_t *keys, uint32_t *ids, float *wts,
                                      const float *dy, const float *x, const float *grid, size_t n,
                                      int C, int hin, int win, int h, int w, int border)
{
    const size_t hw = (size_t)h * w, in_plane = (size_t)hin * win;
    SP_CUDA_FOR(t, n * hw)
    {
        size_t b = t / hw, p = t % hw;
        point pt;
        int kind = point_setup(&pt, grid[2 * t], grid[2 * t + 1], hin, win, border);
        if (keys)
            for (int k = 0; k < 4; k++) {
                size_t e = 4 * t + k;
                keys[e] = kind && pt.o[k] >= 0 ? (uint32_t)(b * in_plane + (size_t)pt.o[k]) : NONE;
                ids[e] = (uint32_t)e;
                wts[e] = kind ? pt.w[k] : 0.0f;
            }
        if (!dgrid)
            continue;
        float sgx = 0.0f, sgy = 0.0f;
        if (kind) {
            const float *xc = x + b * C * in_plane, *d = dy + b * C * hw + p;
            const int in4 = inside4(&pt);
            float ax[4] = {0, 0, 0, 0}, ay[4] = {0, 0, 0, 0};
            for (int c = 0; c < C; c++, xc += in_plane) {
                float g = d[(size_t)c * hw];
                float v[4];
                for (int k = 0; k < 4; k++)
                    v[k] = pt.o[k] >= 0 ? xc[pt.o[k]] : 0.0f;
                if (in4) {
                    /* the CPU's SSE path: per-corner sums of (g v) cx, reduced at the end */
                    for (int k = 0; k < 4; k++) {
                        float gv = __fmul_rn(g, v[k]);
                        ax[k] = __fadd_rn(ax[k], __fmul_rn(gv, pt.cx[k]));
                        ay[k] = __fadd_rn(ay[k], __fmul_rn(gv, pt.cy[k]));
                    }
                } else {
                    sgx = __fadd_rn(sgx, __fmul_rn(g, weighted4(v, pt.cx, 0)));
                    sgy = __fadd_rn(sgy, __fmul_rn(g, weighted4(v, pt.cy, 0)));
                }
            }
            if (in4) {
                sgx = __fadd_rn(__fadd_rn(ax[0], ax[2]), __fadd_rn(ax[1], ax[3]));
                sgy = __fadd_rn(__fadd_rn(ay[0], ay[2]), __fadd_rn(ay[1], ay[3]));
            }
        }
        dgrid[2 * t] = sgx;
        dgrid[2 * t + 1] = sgy;
    }
}

/* start/end of each input pixel's run in the sorted keys (both 0: none). */
__global__ static void runs_k(uint32_t *start, uint32_t *end, const uint32_t *keys, size_t m)
{
    SP_CUDA_FOR(i, m)
    {
        uint32_t k = keys[i];
        if (k == NONE)
            continue;
        if (i == 0 || keys[i - 1] != k)
            start[k] = (uint32_t)i;
        if (i + 1 == m || keys[i + 1] != k)
            end[k] = (uint32_t)(i + 1);
    }
}

/* One thread per (image, channel, input pixel): its pairs in output order. */
__global__ static void gather_k(float *dx, const uint32_t *start, const uint32_t *end,
                                const uint32_t *ids, const float *wts, const float *dy, size_t n,
                                int C, size_t in_plane, size_t hw)
{
    SP_CUDA_FOR(t, n * C * in_plane)
    {
        size_t q = t % in_plane, c = (t / in_plane) % C, b = t / in_plane / C;
        size_t key = b * in_plane + q;
        const float *d = dy + (b * C + c) * hw;
        float s = 0.0f;
        for (uint32_t i = start[key]; i < end[key]; i++) {
            uint32_t e = ids[i];
            size_t p = (e / 4) % hw;
            s = __fadd_rn(s, __fmul_rn(d[p], wts[e]));
        }
        dx[t] = s;
    }
}

extern "C" void sp_cuda_grid_sample_forward(float *y, const float *x, const float *grid, size_t n,
                                            int c, int hin, int win, int h, int w, int border)
{
    size_t total = n * (size_t)h * w;
    if (total == 0 || c == 0)
        return;
    sample_fwd_k<<<sp_cuda_blocks(total), SP_CUDA_THREADS>>>(y, x, grid, n, c, hin, win, h, w, border);
    sp_cuda_check("sample_fwd_k");
}

extern "C" void sp_cuda_grid_sample_backward(float *dx, float *dgrid, const float *dy, const float *x,
                                             const float *grid, size_t n, int c, int hin, int win,
                                             int h, int w, int border)
{
    const size_t hw = (size_t)h * w, in_plane = (size_t)hin * win, pts = n * hw, m = 4 * pts;
    if (dx)
        sp_cuda_zero(dx, sizeof(float) * n * c * in_plane);
    if (dgrid)
        sp_cuda_zero(dgrid, sizeof(float) * pts * 2);
    if (pts == 0 || (!dx && !dgrid))
        return;
    if (m >= NONE || n * in_plane >= NONE)
        sp_fatal("cuda: grid_sample backward: %zu points or %zu input pixels, at most 2^30", pts,
                 n * in_plane);
    uint32_t *keys = NULL, *ids = NULL, *skeys = NULL, *sids = NULL;
    float *wts = NULL;
    if (dx) {
        keys = (uint32_t *)sp_cuda_alloc(m * 4);
        ids = (uint32_t *)sp_cuda_alloc(m * 4);
        skeys = (uint32_t *)sp_cuda_alloc(m * 4);
        sids = (uint32_t *)sp_cuda_alloc(m * 4);
        wts = (float *)sp_cuda_alloc(m * 4);
    }
    sample_pairs_k<<<sp_cuda_blocks(pts), SP_CUDA_THREADS>>>(dgrid, keys, ids, wts, dy, x, grid, n, c,
                                                             hin, win, h, w, border);
    sp_cuda_check("sample_pairs_k");
    if (!dx || c == 0 || in_plane == 0)
        return;
    /* stable sort of the pairs by input pixel (all 32 key bits: NONE last) */
    size_t tmp_bytes = 0;
    SP_CUDA_CALL(cub::DeviceRadixSort::SortPairs(NULL, tmp_bytes, keys, skeys, ids, sids, (int64_t)m));
    void *tmp = sp_cuda_alloc(tmp_bytes);
    SP_CUDA_CALL(cub::DeviceRadixSort::SortPairs(tmp, tmp_bytes, keys, skeys, ids, sids, (int64_t)m));
    uint32_t *start = (uint32_t *)sp_cuda_alloc(n * in_plane * 4);
    uint32_t *end = (uint32_t *)sp_cuda_alloc(n * in_plane * 4);
    sp_cuda_zero(start, n * in_plane * 4);
    sp_cuda_zero(end, n * in_plane * 4);
    runs_k<<<sp_cuda_blocks(m), SP_CUDA_THREADS>>>(start, end, skeys, m);
    sp_cuda_check("runs_k");
    size_t total = n * c * in_plane;
    gather_k<<<sp_cuda_blocks(total), SP_CUDA_THREADS>>>(dx, start, end, sids, wts, dy, n, c,
                                                         in_plane, hw);
    sp_cuda_check("gather_k");
}

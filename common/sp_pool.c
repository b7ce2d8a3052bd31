/* Pooling (see sp_pool.h).  The window arithmetic copies PyTorch's CPU
 * kernels (aten/src/ATen/native/cpu/MaxPoolKernel.cpp, AvgPoolKernel.cpp,
 * AdaptiveAvgPoolKernel.cpp) so that edge windows agree exactly. */
#include "sp_pool.h"
#include "sp_parallel.h"

#include <math.h>
#include <stdint.h>
#include <string.h>

/* 1 when the plane holds no NaN and no -0.0.  Then the maximum of a window
 * is one of its values, and values that compare equal have the same bits,
 * so any order of comparison gives the scalar loop's result; NaN (which
 * the scalar loop propagates) and -0.0 (a tie with +0.0 keeps the first
 * seen) need its order. */
static int plane_plain(const float *x, size_t len)
{
    int bad = 0;
#pragma omp simd reduction(| : bad)
    for (size_t i = 0; i < len; i++) {
        uint32_t u;
        memcpy(&u, x + i, sizeof u);
        bad |= (x[i] != x[i]) | (u == 0x80000000u);
    }
    return !bad;
}

static inline float max2(float a, float b) { return b > a ? b : a; }

/* ev, od: the even and odd floats of row[0..w) */
static inline void split_even_odd(float *ev, float *od, const float *row, int w)
{
#pragma omp simd
    for (int i = 0; i < (w + 1) / 2; i++)
        ev[i] = row[2 * i];
#pragma omp simd
    for (int i = 0; i < w / 2; i++)
        od[i] = row[2 * i + 1];
}

static int maxpool_force_loop; /* sp_maxpool2d_force_loop */
void sp_maxpool2d_force_loop(int on) { maxpool_force_loop = on; }

/* The ResNet stem's pool, 3x3 / stride 2 / padding 1, on a plain plane
 * without argmax (the inference path): the maximum over the window's rows
 * first, then over columns 2j-1, 2j, 2j+1 from the row split into even and
 * odd columns, in loops the compiler vectorises (the scalar loop's 9
 * comparisons an output took 8% of horse's sp-predict).  row, ev, od: w
 * floats each. */
static void maxpool_3s2p1_plane(float *y, const float *x, int h, int w, float *row, float *ev, float *od)
{
    const int ho = (h - 1) / 2 + 1, wo = (w - 1) / 2 + 1;
    for (int oh = 0; oh < ho; oh++) {
        const int r0 = oh == 0 ? 0 : 2 * oh - 1, r1 = 2 * oh + 2 < h ? 2 * oh + 2 : h;
        memcpy(row, x + (size_t)r0 * w, sizeof(float) * (size_t)w);
        for (int r = r0 + 1; r < r1; r++) {
            const float *xr = x + (size_t)r * w;
#pragma omp simd
            for (int j = 0; j < w; j++)
                row[j] = max2(row[j], xr[j]);
        }
        split_even_odd(ev, od, row, w);
        float *yr = y + (size_t)oh * wo;
        yr[0] = w > 1 ? max2(ev[0], od[0]) : ev[0];
        const int full = (w - 2) / 2; /* outputs j >= 1 whose column 2j + 1 exists */
#pragma omp simd
        for (int j = 1; j <= full; j++)
            yr[j] = max2(max2(od[j - 1], ev[j]), od[j]);
        if (full + 1 < wo) /* w odd: the last window is cut at the border */
            yr[wo - 1] = max2(od[wo - 2], ev[wo - 1]);
    }
}

/* outputs j0 <= j < j1 of a row: candidate v[j] at index idx0 + 2j taken
 * where it is strictly greater than the output's value so far or a NaN */
static inline void keep_first_max(float *yr, int32_t *ar, const float *v, int j0, int j1, int32_t idx0)
{
#pragma omp simd
    for (int j = j0; j < j1; j++) {
        const int take = v[j] > yr[j] || v[j] != v[j];
        yr[j] = take ? v[j] : yr[j];
        ar[j] = take ? idx0 + 2 * j : ar[j];
    }
}

/* The same pool with argmax (training's path): per output row, the
 * window's candidates in the scalar loop's order (rows top down, then
 * columns 2j-1, 2j, 2j+1) go through all outputs of the row at once, each
 * output keeping the first strictly greater value or a NaN (PyTorch's
 * rule) and its index: the same comparisons in the same order for every
 * output as the loop below makes, so the same result, NaN and -0.0
 * included, in loops the compiler vectorises (the loop was ~3% of a
 * ResNet-18 training step).  ev, od: w floats each. */
static void maxpool_3s2p1_plane_argmax(float *y, int32_t *argmax, const float *x, int h, int w, float *ev,
                                       float *od)
{
    const int ho = (h - 1) / 2 + 1, wo = (w - 1) / 2 + 1, ne = (w + 1) / 2, no = w / 2;
    for (int oh = 0; oh < ho; oh++) {
        const int r0 = oh == 0 ? 0 : 2 * oh - 1, r1 = 2 * oh + 2 < h ? 2 * oh + 2 : h;
        float *yr = y + (size_t)oh * wo;
        int32_t *ar = argmax + (size_t)oh * wo;
#pragma omp simd
        for (int j = 0; j < wo; j++) {
            yr[j] = -INFINITY;
            ar[j] = r0 * w + (j == 0 ? 0 : 2 * j - 1);
        }
        for (int r = r0; r < r1; r++) {
            const float *xr = x + (size_t)r * w;
            const int32_t base = r * w;
            split_even_odd(ev, od, xr, w);
            keep_first_max(yr, ar, od - 1, 1, wo, base - 1); /* column 2j - 1 */
            keep_first_max(yr, ar, ev, 0, ne, base);         /* column 2j (ne == wo) */
            keep_first_max(yr, ar, od, 0, no, base + 1);     /* column 2j + 1 (no <= wo) */
        }
    }
}

typedef struct {
    float *y;
    int32_t *argmax;
    const float *x;
    int h, w, k, s, p;
} maxpool_ctx;

/* planes [pl0, pl1) of sp_maxpool2d_forward */
static void maxpool_planes(void *ctx, size_t pl0, size_t pl1)
{
    const maxpool_ctx *m = ctx;
    float *y = m->y;
    int32_t *argmax = m->argmax;
    const float *x = m->x;
    const int h = m->h, w = m->w, k = m->k, s = m->s, p = m->p;
    float buf[3 * 4096];
    const int ho = sp_pool_out(h, k, s, p), wo = sp_pool_out(w, k, s, p);
    const int stem = k == 3 && s == 2 && p == 1 && w <= 4096; /* the row-wise planes below */
    const int fast = stem && !argmax, fast_argmax = stem && argmax && !maxpool_force_loop;
    for (size_t pl = pl0; pl < pl1; pl++) {
        const float *xp = x + pl * (size_t)h * w;
        if (fast && plane_plain(xp, (size_t)h * w)) {
            maxpool_3s2p1_plane(y + pl * (size_t)ho * wo, xp, h, w, buf, buf + 4096, buf + 2 * 4096);
            continue;
        }
        if (fast_argmax) {
            maxpool_3s2p1_plane_argmax(y + pl * (size_t)ho * wo, argmax + pl * (size_t)ho * wo, xp, h, w, buf,
                                       buf + 4096);
            continue;
        }
        for (int oh = 0; oh < ho; oh++) {
            int h0 = oh * s - p, h1 = h0 + k < h ? h0 + k : h;
            if (h0 < 0)
                h0 = 0;
            for (int ow = 0; ow < wo; ow++) {
                int w0 = ow * s - p, w1 = w0 + k < w ? w0 + k : w;
                if (w0 < 0)
                    w0 = 0;
                float best = -INFINITY;
                int32_t at = h0 * w + w0;
                for (int ih = h0; ih < h1; ih++)
                    for (int iw = w0; iw < w1; iw++) {
                        float v = xp[ih * w + iw];
                        if (v > best || isnan(v)) {
                            best = v;
                            at = ih * w + iw;
                        }
                    }
                size_t o = (pl * ho + oh) * (size_t)wo + ow;
                y[o] = best;
                if (argmax)
                    argmax[o] = at;
            }
        }
    }
}

void sp_maxpool2d_forward(float *y, int32_t *argmax, const float *x, size_t nc, int h, int w,
                          int k, int s, int p)
{
    maxpool_ctx m = {y, argmax, x, h, w, k, s, p};
    sp_parallel_for(nc, 2, maxpool_planes, &m);
}

void sp_maxpool2d_backward(float *dx, const float *dy, const int32_t *argmax, size_t nc, int h,
                           int w, int k, int s, int p)
{
    const size_t ho = (size_t)sp_pool_out(h, k, s, p), wo = (size_t)sp_pool_out(w, k, s, p);
#pragma omp parallel for schedule(static)
    for (size_t pl = 0; pl < nc; pl++) {
        float *dp = dx + pl * (size_t)h * w;
        memset(dp, 0, sizeof(float) * (size_t)h * w);
        for (size_t o = pl * ho * wo; o < (pl + 1) * ho * wo; o++)
            dp[argmax[o]] += dy[o];
    }
}

/* Window [a0, a1) of output i, and its divisor part, as PyTorch's avg_pool2d. */
static void avg_window(int i, int n, int k, int s, int p, int *a0, int *a1, int *full)
{
    int lo = i * s - p, hi = lo + k < n + p ? lo + k : n + p;
    *full = hi - lo;
    *a0 = lo < 0 ? 0 : lo;
    *a1 = hi > n ? n : hi;
}

/* Input window [h0, h1) x [w0, w1) of output cell (oh, ow) and the count its
 * sum is divided by (padding included or not, as count_include_pad says). */
typedef struct {
    int h0, h1, w0, w1, div;
} avg_cell_t;

static avg_cell_t avg_cell(int oh, int ow, int h, int w, int k, int s, int p, int count_include_pad)
{
    avg_cell_t c;
    int fh, fw;
    avg_window(oh, h, k, s, p, &c.h0, &c.h1, &fh);
    avg_window(ow, w, k, s, p, &c.w0, &c.w1, &fw);
    c.div = count_include_pad ? fh * fw : (c.h1 - c.h0) * (c.w1 - c.w0);
    return c;
}

void sp_avgpool2d_forward(float *y, const float *x, size_t nc, int h, int w, int k, int s, int p,
                          int count_include_pad)
{
    const int ho = sp_pool_out(h, k, s, p), wo = sp_pool_out(w, k, s, p);
#pragma omp parallel for schedule(static)
    for (size_t pl = 0; pl < nc; pl++) {
        const float *xp = x + pl * (size_t)h * w;
        for (int oh = 0; oh < ho; oh++) {
            for (int ow = 0; ow < wo; ow++) {
                avg_cell_t c = avg_cell(oh, ow, h, w, k, s, p, count_include_pad);
                float sum = 0.0f;
                for (int ih = c.h0; ih < c.h1; ih++)
                    for (int iw = c.w0; iw < c.w1; iw++)
                        sum += xp[ih * w + iw];
                y[(pl * ho + oh) * (size_t)wo + ow] = sum / (float)c.div;
            }
        }
    }
}

void sp_avgpool2d_backward(float *dx, const float *dy, size_t nc, int h, int w, int k, int s,
                           int p, int count_include_pad)
{
    const int ho = sp_pool_out(h, k, s, p), wo = sp_pool_out(w, k, s, p);
#pragma omp parallel for schedule(static)
    for (size_t pl = 0; pl < nc; pl++) {
        float *dp = dx + pl * (size_t)h * w;
        memset(dp, 0, sizeof(float) * (size_t)h * w);
        for (int oh = 0; oh < ho; oh++) {
            for (int ow = 0; ow < wo; ow++) {
                avg_cell_t c = avg_cell(oh, ow, h, w, k, s, p, count_include_pad);
                float g = dy[(pl * ho + oh) * (size_t)wo + ow] / (float)c.div;
                for (int ih = c.h0; ih < c.h1; ih++)
                    for (int iw = c.w0; iw < c.w1; iw++)
                        dp[ih * w + iw] += g;
            }
        }
    }
}

static int start_index(int i, int out, int in) { return (int)(((long long)i * in) / out); }
static int end_index(int i, int out, int in) { return (int)((((long long)i + 1) * in + out - 1) / out); }

void sp_adaptive_avgpool2d_forward(float *y, const float *x, size_t nc, int h, int w, int oh,
                                   int ow)
{
#pragma omp parallel for schedule(static)
    for (size_t pl = 0; pl < nc; pl++) {
        const float *xp = x + pl * (size_t)h * w;
        for (int i = 0; i < oh; i++) {
            int h0 = start_index(i, oh, h), h1 = end_index(i, oh, h);
            for (int j = 0; j < ow; j++) {
                int w0 = start_index(j, ow, w), w1 = end_index(j, ow, w);
                float sum = 0.0f;
                for (int ih = h0; ih < h1; ih++)
                    for (int iw = w0; iw < w1; iw++)
                        sum += xp[ih * w + iw];
                y[(pl * oh + i) * (size_t)ow + j] = sum / (float)((h1 - h0) * (w1 - w0));
            }
        }
    }
}

void sp_adaptive_avgpool2d_backward(float *dx, const float *dy, size_t nc, int h, int w, int oh,
                                    int ow)
{
#pragma omp parallel for schedule(static)
    for (size_t pl = 0; pl < nc; pl++) {
        float *dp = dx + pl * (size_t)h * w;
        memset(dp, 0, sizeof(float) * (size_t)h * w);
        for (int i = 0; i < oh; i++) {
            int h0 = start_index(i, oh, h), h1 = end_index(i, oh, h);
            for (int j = 0; j < ow; j++) {
                int w0 = start_index(j, ow, w), w1 = end_index(j, ow, w);
                float g = dy[(pl * oh + i) * (size_t)ow + j] / (float)((h1 - h0) * (w1 - w0));
                for (int ih = h0; ih < h1; ih++)
                    for (int iw = w0; iw < w1; iw++)
                        dp[ih * w + iw] += g;
            }
        }
    }
}

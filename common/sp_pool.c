/* Pooling (see sp_pool.h).  The window arithmetic copies PyTorch's CPU
 * kernels (aten/src/ATen/native/cpu/MaxPoolKernel.cpp, AvgPoolKernel.cpp,
 * AdaptiveAvgPoolKernel.cpp) so that edge windows agree exactly. */
#include "sp_pool.h"

#include <math.h>
#include <string.h>

void sp_maxpool2d_forward(float *y, int32_t *argmax, const float *x, size_t nc, int h, int w,
                          int k, int s, int p)
{
    const int ho = sp_pool_out(h, k, s, p), wo = sp_pool_out(w, k, s, p);
#pragma omp parallel for schedule(static)
    for (size_t pl = 0; pl < nc; pl++) {
        const float *xp = x + pl * (size_t)h * w;
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

/* ColorModule and MorphologicalModule (see sp_tsf.h). */
#include "sp_tsf.h"
#include "sp_error.h"
#include "sp_parallel.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* ---- colour ------------------------------------------------------------------ */

/* Colour channels of x and the channels passed through after them. */
static void color_split(int c, int cc, int *xc, int *rest)
{
    /* The reference splits when c == 2 or c > 3; with its RGB images that
     * is exactly c > cc.  Grey images (cc 1) in training carry colour, mask
     * and noise canvas (c 3), which the reference's rule would colour as a
     * whole (it never runs grey images); c > cc splits them right. */
    if (c > cc || c == 2 || c > 3) {
        *xc = cc;
        *rest = c - cc;
    } else {
        *xc = c;
        *rest = 0;
    }
}

int sp_tsf_color_channels(int c, int cc)
{
    int xc, rest;
    if (cc < 1 || c < 1)
        return -1;
    color_split(c, cc, &xc, &rest);
    if (rest < 0)
        return -1;
    if (xc == cc)
        return c;
    if (xc == 1 && cc == 3)
        return 3 + rest;
    return -1;
}

/* The output's channels, and x's colour and passed-through channels as
 * color_split gives them; fatal on a layout the module does not accept, so
 * that the forward and backward loops never see one. */
static int color_layout(int c, int cc, int *xc, int *rest)
{
    int cout = sp_tsf_color_channels(c, cc);
    if (cout < 0)
        sp_fatal("color: %d channels with %d colour channels", c, cc);
    color_split(c, cc, xc, rest);
    return cout;
}

/* y[p] = clamp(sc * x[p] + b) with the clamp kind hoisted out of the loop,
 * so that each loop is branch-free and vectorised (omp simd). */
static void color_plane(float *y, const float *x, float sc, float b, size_t hw, sp_clamp c)
{
    switch (c.kind) {
    case SP_CLAMP_SOFT: {
        const float a = c.alpha;
#pragma omp simd
        for (size_t p = 0; p < hw; p++) {
            float z = sc * x[p] + b, zm = z - 1.0f;
            float cl = z < 0.0f ? 0.0f : (z > 1.0f ? 1.0f : z);
            y[p] = cl + a * (z < 0.0f ? z : 0.0f) + a * (zm > 0.0f ? zm : 0.0f);
        }
        break;
    }
    case SP_CLAMP_HARD:
    case SP_CLAMP_DIFF:
#pragma omp simd
        for (size_t p = 0; p < hw; p++) {
            float z = sc * x[p] + b;
            y[p] = z < 0.0f ? 0.0f : (z > 1.0f ? 1.0f : z);
        }
        break;
    default:
#pragma omp simd
        for (size_t p = 0; p < hw; p++)
            y[p] = sc * x[p] + b;
    }
}

/* sp_tsf_color_forward's images [b0, b1) */
typedef struct {
    float *y;
    const float *x, *beta;
    size_t c, hw;
    sp_clamp clamp;
    int cc, xc, rest, cout;
} color_ctx;

static void color_images(void *ctx, size_t b0, size_t b1)
{
    const color_ctx *k = ctx;
    const size_t c = k->c, hw = k->hw;
    const int cc = k->cc, xc = k->xc;
    for (size_t b = b0; b < b1; b++) {
        const float *xb = k->x + b * c * hw, *bb = k->beta + b * 2 * (size_t)cc;
        float *yb = k->y + b * (size_t)k->cout * hw;
        for (int i = 0; i < cc; i++) {
            /* weight = w * I + I: the diagonal is w + 1 */
            color_plane(yb + i * hw, xb + (xc == 1 ? 0 : i) * hw, bb[2 * i] + 1.0f, bb[2 * i + 1],
                        hw, k->clamp);
        }
        memcpy(yb + cc * hw, xb + xc * hw, sizeof(float) * (size_t)k->rest * hw);
    }
}

void sp_tsf_color_forward(float *y, const float *x, const float *beta, size_t n, int c, int cc,
                          size_t hw, sp_clamp clamp)
{
    color_ctx k = {y, x, beta, (size_t)c, hw, clamp, cc, 0, 0, 0};
    k.cout = color_layout(c, cc, &k.xc, &k.rest);
    sp_parallel_for(n, 2, color_images, &k);
}

/* dz = dy * clamp'(sc x + b); dx (+)= dz * sc; sums of dz * x and dz.
 * The sums run in float over vector lanes, then in double. */
static void color_plane_backward(float *dx, double *dw, double *db, const float *dy, const float *x,
                                 float sc, float b, size_t hw, sp_clamp c, int accumulate)
{
    const float a = c.alpha, a1 = 1.0f + 0.5f * a;
    double sw = 0, sb = 0;
    float dz[256];
    for (size_t p0 = 0; p0 < hw; p0 += 256) {
        const size_t m = hw - p0 < 256 ? hw - p0 : 256;
        const float *xp = x + p0, *dyp = dy + p0;
        switch (c.kind) {
        case SP_CLAMP_SOFT:
#pragma omp simd
            for (size_t p = 0; p < m; p++) {
                float z = sc * xp[p] + b;
                float gr = (z < 0.0f || z > 1.0f) ? a : ((z == 0.0f || z == 1.0f) ? a1 : 1.0f);
                dz[p] = dyp[p] * gr;
            }
            break;
        case SP_CLAMP_HARD:
#pragma omp simd
            for (size_t p = 0; p < m; p++) {
                float z = sc * xp[p] + b;
                dz[p] = (z >= 0.0f && z <= 1.0f) ? dyp[p] : 0.0f;
            }
            break;
        default:
            memcpy(dz, dyp, sizeof(float) * m);
        }
        float fw = 0, fb = 0;
#pragma omp simd reduction(+ : fw, fb)
        for (size_t p = 0; p < m; p++) {
            fw += dz[p] * xp[p];
            fb += dz[p];
        }
        sw += fw;
        sb += fb;
        if (dx) {
            float *dxp = dx + p0;
            if (accumulate) {
#pragma omp simd
                for (size_t p = 0; p < m; p++)
                    dxp[p] += dz[p] * sc;
            } else {
#pragma omp simd
                for (size_t p = 0; p < m; p++)
                    dxp[p] = dz[p] * sc;
            }
        }
    }
    *dw = sw;
    *db = sb;
}

void sp_tsf_color_backward(float *dx, float *dbeta, const float *dy, const float *x,
                           const float *beta, size_t n, int c, int cc, size_t hw, sp_clamp clamp)
{
    int xc, rest, cout = color_layout(c, cc, &xc, &rest);
#pragma omp parallel for schedule(static)
    for (size_t b = 0; b < n; b++) {
        const float *xb = x + b * c * hw, *bb = beta + b * 2 * cc, *dyb = dy + b * cout * hw;
        float *dxb = dx ? dx + b * c * hw : NULL;
        for (int i = 0; i < cc; i++) {
            double dw, db;
            /* an expanded single channel gathers the gradient of all three */
            color_plane_backward(dxb ? dxb + (xc == 1 ? 0 : i) * hw : NULL, &dw, &db, dyb + i * hw,
                                 xb + (xc == 1 ? 0 : i) * hw, bb[2 * i] + 1.0f, bb[2 * i + 1], hw,
                                 clamp, xc == 1 && i > 0);
            if (dbeta) {
                dbeta[b * 2 * cc + 2 * i] = (float)dw;
                dbeta[b * 2 * cc + 2 * i + 1] = (float)db;
            }
        }
        if (dxb)
            memcpy(dxb + xc * hw, dyb + cc * hw, sizeof(float) * rest * hw);
    }
}

/* ---- morphological ------------------------------------------------------------- */

static float sigmoidf(float v) { return 1.0f / (1.0f + expf(-v)); }

/* The kernel of image b: sigmoid(beta[1:] + identity). */
static void morpho_kernel(float *kern, const float *bb, int k)
{
    int center = (k / 2) * k + k / 2;
    for (int q = 0; q < k * k; q++)
        kern[q] = sigmoidf(bb[1 + q] + (q == center ? 5.0f : -5.0f));
}

/* The window of pixel (i, j) into u[k*k] (zero padding). */
static inline void window(float *u, const float *xc, int h, int w, int k, int i, int j)
{
    int r = k / 2;
    for (int a = 0; a < k; a++) {
        int ii = i + a - r;
        for (int bq = 0; bq < k; bq++) {
            int jj = j + bq - r;
            u[a * k + bq] = (ii >= 0 && ii < h && jj >= 0 && jj < w) ? xc[(size_t)ii * w + jj] : 0.0f;
        }
    }
}

/* The window of pixel (i, j) into u, and its largest alpha * u: the shift
 * that keeps the soft maximum's exponentials finite. */
static inline float window_max(float *u, const float *xc, int h, int w, int k, int i, int j,
                               float alpha)
{
    window(u, xc, h, w, k, i, j);
    float m = alpha * u[0];
    for (int q = 1; q < k * k; q++)
        m = fmaxf(m, alpha * u[q]);
    return m;
}

static void morpho_check(int k)
{
    if (k < 1 || k % 2 == 0 || k > 15)
        sp_fatal("morpho: kernel size %d, expected odd 1 to 15", k);
}

void sp_tsf_morpho_forward(float *y, const float *x, const float *beta, size_t n, int c, int h,
                           int w, int k)
{
    morpho_check(k);
    const int K = k * k, P = K + 1;
    const size_t hw = (size_t)h * w, rows = n * (size_t)c;
#pragma omp parallel
    {
        float kern[225], u[225], e[225];
#pragma omp for schedule(static)
        for (size_t row = 0; row < rows; row++) {
            const size_t b = row / c;
            const float *bb = beta + b * P, *xc = x + row * hw;
            float *yc = y + row * hw;
            const float alpha = bb[0];
            morpho_kernel(kern, bb, k);
            for (int i = 0; i < h; i++)
                for (int j = 0; j < w; j++) {
                    float m = window_max(u, xc, h, w, k, i, j, alpha);
                    float s0 = 0, s1 = 0;
                    for (int q = 0; q < K; q++) {
                        e[q] = expf(alpha * u[q] - m) * kern[q];
                        s0 += e[q];
                        s1 += u[q] * e[q];
                    }
                    yc[(size_t)i * w + j] = s1 / s0;
                }
        }
    }
}

void sp_tsf_morpho_backward(float *dx, float *dbeta, const float *dy, const float *x,
                            const float *beta, size_t n, int c, int h, int w, int k)
{
    morpho_check(k);
    const int K = k * k, P = K + 1, r = k / 2;
    const size_t hw = (size_t)h * w, rows = n * (size_t)c;
    /* per (image, channel) parameter gradients, summed over channels in
     * order afterwards */
    double *part = dbeta ? sp_calloc(rows ? rows * P : 1, sizeof *part) : NULL;
    if (dx)
        memset(dx, 0, sizeof(float) * rows * hw);
#pragma omp parallel
    {
        float kern[225], u[225], e[225];
#pragma omp for schedule(static)
        for (size_t row = 0; row < rows; row++) {
            const size_t b = row / c;
            const float *bb = beta + b * P, *xc = x + row * hw, *dyc = dy + row * hw;
            float *dxc = dx ? dx + row * hw : NULL;
            double *pp = part ? part + row * P : NULL;
            const float alpha = bb[0];
            morpho_kernel(kern, bb, k);
            for (int i = 0; i < h; i++)
                for (int j = 0; j < w; j++) {
                    float g = dyc[(size_t)i * w + j];
                    if (g == 0.0f)
                        continue;
                    float m = window_max(u, xc, h, w, k, i, j, alpha);
                    float s0 = 0, s1 = 0;
                    for (int q = 0; q < K; q++) {
                        e[q] = expf(alpha * u[q] - m); /* without the kernel */
                        s0 += e[q] * kern[q];
                        s1 += u[q] * e[q] * kern[q];
                    }
                    const float yv = s1 / s0;
                    double dalpha = 0;
                    for (int q = 0; q < K; q++) {
                        float eh = e[q] / s0;    /* d y / d kern_q = eh (u_q - y) */
                        float pq = eh * kern[q]; /* softmax weight */
                        float du = u[q] - yv;
                        if (dxc) {
                            int ii = i + q / k - r, jj = j + q % k - r;
                            if (ii >= 0 && ii < h && jj >= 0 && jj < w)
                                dxc[(size_t)ii * w + jj] += g * pq * (1.0f + alpha * du);
                        }
                        if (pp) {
                            dalpha += (double)pq * u[q] * du;
                            /* through the sigmoid: s (1 - s) */
                            pp[1 + q] += (double)g * eh * du * kern[q] * (1.0f - kern[q]);
                        }
                    }
                    if (pp)
                        pp[0] += g * dalpha;
                }
        }
    }
    if (dbeta) {
        for (size_t b = 0; b < n; b++)
            for (int q = 0; q < P; q++) {
                double s = 0;
                for (int ch = 0; ch < c; ch++)
                    s += part[(b * c + ch) * P + q];
                dbeta[b * P + q] = (float)s;
            }
        free(part);
    }
}

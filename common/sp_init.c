#include "sp_init.h"
#include "sp_error.h"
#include "sp_rng.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* scipy.signal.gaussian(M, std) (symmetric window), in double. */
static void gaussian_1d(double *g, size_t M, double std)
{
    if (M == 1) {
        g[0] = 1.0;
        return;
    }
    double sig2 = 2.0 * std * std, mid = ((double)M - 1.0) / 2.0;
    for (size_t i = 0; i < M; i++) {
        double d = (double)i - mid;
        g[i] = exp(-(d * d) / sig2);
    }
}

void sp_gaussian_weights(float *y, size_t channels, size_t h, size_t w, double std)
{
    if (!h || !w)
        return;
    double *gh = sp_malloc(h * sizeof *gh), *gw = sp_malloc(w * sizeof *gw);
    gaussian_1d(gh, h, std);
    gaussian_1d(gw, w, std);
    for (size_t i = 0; i < h; i++)
        for (size_t j = 0; j < w; j++)
            y[i * w + j] = (float)(gh[i] * gw[j]);
    for (size_t c = 1; c < channels; c++)
        memcpy(y + c * h * w, y, h * w * sizeof *y);
    free(gh);
    free(gw);
}

void sp_uniform_noise(float *y, size_t n, double low, double high, uint64_t seed,
                      uint64_t stream, uint64_t index0)
{
    const float scale = (float)(high - low), lo = (float)low;
    /* chunks of 4096 values, each computing its Philox blocks once */
    const size_t chunk = 4096, nch = (n + chunk - 1) / chunk;
#pragma omp parallel for schedule(static) if (n > 65536)
    for (size_t c = 0; c < nch; c++) {
        const size_t i0 = c * chunk, m = n - i0 < chunk ? n - i0 : chunk;
        sp_philox_uniform_range(y + i0, m, seed, stream, index0 + i0);
        for (size_t i = i0; i < i0 + m; i++)
            y[i] = scale * y[i] + lo;
    }
}

/* y = add + x * (2 a u - a), u broadcast over L and N: the noise term shared
 * by the forward (add mask, x canvas) and the canvas gradient (add NULL,
 * x dy; a separate loop, not 0 + ..., which would turn -0 into +0). */
static void mask_noise_apply(float *y, const float *add, const float *x, const float *u, double a,
                             size_t L, size_t K, size_t N, size_t hw)
{
    const float two_a = (float)(2.0 * a), fa = (float)a;
    for (size_t l = 0; l < L; l++)
        for (size_t k = 0; k < K; k++)
            for (size_t n = 0; n < N; n++) {
                size_t off = ((l * K + k) * N + n) * hw;
                const float *uk = u + k * hw;
                if (add)
                    for (size_t p = 0; p < hw; p++)
                        y[off + p] = add[off + p] + x[off + p] * (two_a * uk[p] - fa);
                else
                    for (size_t p = 0; p < hw; p++)
                        y[off + p] = x[off + p] * (two_a * uk[p] - fa);
            }
}

void sp_mask_noise_forward(float *y, const float *mask, const float *canvas, const float *u,
                           double a, size_t L, size_t K, size_t N, size_t hw)
{
    mask_noise_apply(y, mask, canvas, u, a, L, K, N, hw);
}

void sp_mask_noise_backward(float *dmask, float *dcanvas, const float *dy, const float *u, double a,
                            size_t L, size_t K, size_t N, size_t hw)
{
    if (dmask)
        memcpy(dmask, dy, L * K * N * hw * sizeof *dmask);
    if (dcanvas)
        mask_noise_apply(dcanvas, NULL, dy, u, a, L, K, N, hw);
}

/* Batch normalisation (see sp_batchnorm.h).  One channel is N rows of HW
 * contiguous values; a row is summed in float by a SIMD reduction (fixed
 * lane order, so deterministic) and rows are added in double, which keeps
 * the statistics within ~1e-7 relative of a double-precision sum at a
 * fraction of its cost.  Channels run in parallel.  The passes are
 * memory-bound, so their number is what costs: forward reads x twice
 * (moments, then normalise), backward reads dy, x (and y for the ReLU mask)
 * twice. */
#include "sp_batchnorm.h"

#include <math.h>

static float row_sum(const float *v, size_t n)
{
    float s = 0.0f;
#pragma omp simd reduction(+ : s)
    for (size_t i = 0; i < n; i++)
        s += v[i];
    return s;
}

/* sums of d and d*d, d = v - shift, in one pass */
static void row_moments(const float *v, size_t n, float shift, double *s1, double *s2)
{
    float a = 0.0f, b = 0.0f;
#pragma omp simd reduction(+ : a, b)
    for (size_t i = 0; i < n; i++) {
        float d = v[i] - shift;
        a += d;
        b += d * d;
    }
    *s1 += a;
    *s2 += b;
}

/* y = x * scale + shift from the statistics used (batch or running): the one rule of both entries */
static void affine_of(float *scale, float *shift, double mean, double invstd, const float *gamma,
                      const float *beta, size_t ch)
{
    *scale = (float)((gamma ? gamma[ch] : 1.0) * invstd);
    *shift = (float)((beta ? beta[ch] : 0.0) - mean * (double)*scale);
}

static double eval_invstd(const float *running_var, size_t ch, float eps)
{
    return 1.0 / sqrt((double)running_var[ch] + (double)eps);
}

void sp_batchnorm2d_eval_affine(float *scale, float *shift, const float *gamma, const float *beta,
                                const float *running_mean, const float *running_var, size_t c,
                                float eps)
{
    for (size_t ch = 0; ch < c; ch++)
        affine_of(scale + ch, shift + ch, running_mean[ch], eval_invstd(running_var, ch, eps), gamma,
                  beta, ch);
}

void sp_batchnorm2d_forward_ex(float *y, float *save_mean, float *save_invstd,
                               float *running_mean, float *running_var, const float *x,
                               const float *gamma, const float *beta, const float *residual,
                               int relu, size_t n, size_t c, size_t hw, int training,
                               float momentum, float eps)
{
    const size_t m = n * hw;
#pragma omp parallel for schedule(static)
    for (size_t ch = 0; ch < c; ch++) {
        double mean, invstd;
        if (training) {
            if (m == 0) {
                save_mean[ch] = 0.0f;
                save_invstd[ch] = 0.0f;
                continue;
            }
            /* One pass over the data: moments about a shift close to the mean
             * (the first image's mean, read from one row), so that
             * E[d^2] - E[d]^2 does not cancel badly. */
            float shift = (float)(row_sum(x + ch * hw, hw) / (double)hw);
            double s1 = 0, s2 = 0;
            for (size_t i = 0; i < n; i++)
                row_moments(x + (i * c + ch) * hw, hw, shift, &s1, &s2);
            double md = s1 / (double)m;
            mean = shift + md;
            double v = s2 - s1 * md; /* sum of squared deviations from the mean */
            if (v < 0)
                v = 0;
            double var = v / (double)m;
            invstd = 1.0 / sqrt(var + (double)eps);
            if (running_mean)
                running_mean[ch] = (float)((1.0 - momentum) * running_mean[ch] + momentum * mean);
            if (running_var && m > 1)
                running_var[ch] = (float)((1.0 - momentum) * running_var[ch] +
                                          momentum * v / (double)(m - 1));
        } else {
            mean = running_mean[ch];
            invstd = eval_invstd(running_var, ch, eps);
        }
        save_mean[ch] = (float)mean;
        save_invstd[ch] = (float)invstd;
        float scale, shift;
        affine_of(&scale, &shift, mean, invstd, gamma, beta, ch);
        for (size_t i = 0; i < n; i++) {
            const float *xr = x + (i * c + ch) * hw;
            float *yr = y + (i * c + ch) * hw;
            if (residual) {
                const float *rr = residual + (i * c + ch) * hw;
                if (relu) {
#pragma omp simd
                    for (size_t j = 0; j < hw; j++) {
                        float v = xr[j] * scale + shift + rr[j];
                        yr[j] = v > 0.0f ? v : 0.0f;
                    }
                } else {
#pragma omp simd
                    for (size_t j = 0; j < hw; j++)
                        yr[j] = xr[j] * scale + shift + rr[j];
                }
            } else if (relu) {
#pragma omp simd
                for (size_t j = 0; j < hw; j++) {
                    float v = xr[j] * scale + shift;
                    yr[j] = v > 0.0f ? v : 0.0f;
                }
            } else {
#pragma omp simd
                for (size_t j = 0; j < hw; j++)
                    yr[j] = xr[j] * scale + shift;
            }
        }
    }
}

void sp_batchnorm2d_forward(float *y, float *save_mean, float *save_invstd, float *running_mean,
                            float *running_var, const float *x, const float *gamma,
                            const float *beta, size_t n, size_t c, size_t hw, int training,
                            float momentum, float eps)
{
    sp_batchnorm2d_forward_ex(y, save_mean, save_invstd, running_mean, running_var, x, gamma, beta,
                              NULL, 0, n, c, hw, training, momentum, eps);
}

void sp_batchnorm2d_backward_ex(float *dx, float *dgamma, float *dbeta, float *dresidual,
                                const float *dy, const float *y, int relu, const float *x,
                                const float *gamma, const float *save_mean,
                                const float *save_invstd, size_t n, size_t c, size_t hw,
                                int training)
{
    const size_t m = n * hw;
#pragma omp parallel for schedule(static)
    for (size_t ch = 0; ch < c; ch++) {
        const float mean = save_mean[ch], invstd = save_invstd[ch];
        double sdz = 0, sdzx = 0; /* sum dz, sum dz * (x - mean) */
        for (size_t i = 0; i < n; i++) {
            const size_t off = (i * c + ch) * hw;
            const float *dr = dy + off, *xr = x + off, *yr = y ? y + off : NULL;
            float a = 0.0f, b = 0.0f;
            if (relu) {
#pragma omp simd reduction(+ : a, b)
                for (size_t j = 0; j < hw; j++) {
                    float d = dr[j], dz = yr[j] > 0.0f ? d : 0.0f; /* both loads unconditional: vectorisable */
                    a += dz;
                    b += dz * (xr[j] - mean);
                }
            } else {
#pragma omp simd reduction(+ : a, b)
                for (size_t j = 0; j < hw; j++) {
                    a += dr[j];
                    b += dr[j] * (xr[j] - mean);
                }
            }
            sdz += a;
            sdzx += b;
        }
        if (dgamma)
            dgamma[ch] = (float)(sdzx * invstd);
        if (dbeta)
            dbeta[ch] = (float)sdz;
        if (!dx && !dresidual)
            continue;
        const double g = gamma ? gamma[ch] : 1.0;
        /* dx = g*invstd * (dz - mean(dz) - (x - mean) * invstd^2 * mean(dz*(x-mean))) */
        const float A = (float)(g * invstd);
        const float mdz = training && m ? (float)(sdz / (double)m) : 0.0f;
        const float k = training && m ? (float)(sdzx / (double)m * invstd * invstd) : 0.0f;
        for (size_t i = 0; i < n; i++) {
            const size_t off = (i * c + ch) * hw;
            const float *dr = dy + off, *xr = x + off;
            float *dxr = dx ? dx + off : NULL, *rr = dresidual ? dresidual + off : NULL;
            if (relu) {
                const float *yr = y + off;
                if (rr && dxr) {
#pragma omp simd
                    for (size_t j = 0; j < hw; j++) {
                        float d = dr[j], dz = yr[j] > 0.0f ? d : 0.0f;
                        rr[j] = dz;
                        dxr[j] = A * (dz - mdz - (xr[j] - mean) * k);
                    }
                } else if (dxr) {
#pragma omp simd
                    for (size_t j = 0; j < hw; j++) {
                        float d = dr[j], dz = yr[j] > 0.0f ? d : 0.0f;
                        dxr[j] = A * (dz - mdz - (xr[j] - mean) * k);
                    }
                } else {
#pragma omp simd
                    for (size_t j = 0; j < hw; j++) {
                        float d = dr[j];
                        rr[j] = yr[j] > 0.0f ? d : 0.0f;
                    }
                }
            } else {
                if (rr)
                    for (size_t j = 0; j < hw; j++)
                        rr[j] = dr[j];
                if (dxr) {
#pragma omp simd
                    for (size_t j = 0; j < hw; j++)
                        dxr[j] = A * (dr[j] - mdz - (xr[j] - mean) * k);
                }
            }
        }
    }
}

void sp_batchnorm2d_backward(float *dx, float *dgamma, float *dbeta, const float *dy,
                             const float *x, const float *gamma, const float *save_mean,
                             const float *save_invstd, size_t n, size_t c, size_t hw,
                             int training)
{
    sp_batchnorm2d_backward_ex(dx, dgamma, dbeta, NULL, dy, NULL, 0, x, gamma, save_mean,
                               save_invstd, n, c, hw, training);
}

#include "sp_loss.h"

void sp_mse_forward(float *dist, float *loss, const float *x, const float *t, size_t N, size_t D)
{
    double total = 0.0;
#pragma omp parallel for schedule(static) if (N * D > 65536)
    for (long n = 0; n < (long)N; n++) {
        const float *a = x + (size_t)n * D, *b = t + (size_t)n * D;
        double s = 0.0;
        /* a fixed vector width: the summation order does not depend on threads */
#pragma omp simd reduction(+ : s)
        for (size_t d = 0; d < D; d++) {
            float e = a[d] - b[d];
            s += (double)(e * e);
        }
        dist[n] = (float)(s / (double)D);
    }
    for (size_t n = 0; n < N; n++)
        total += dist[n];
    if (loss)
        *loss = (float)(total / (double)N);
}

void sp_mse_backward(float *dx, float *dt, const float *ddist, float dloss, const float *x,
                     const float *t, size_t N, size_t D)
{
#pragma omp parallel for schedule(static) if (N * D > 65536)
    for (long n = 0; n < (long)N; n++) {
        double gn = (ddist ? (double)ddist[n] : 0.0) + (double)dloss / (double)N;
        float s = (float)(2.0 * gn / (double)D);
        const float *a = x + (size_t)n * D, *b = t + (size_t)n * D;
        float *gx = dx ? dx + (size_t)n * D : NULL, *gt = dt ? dt + (size_t)n * D : NULL;
        if (gx) {
#pragma omp simd
            for (size_t d = 0; d < D; d++)
                gx[d] = s * (a[d] - b[d]);
        }
        if (gt) {
#pragma omp simd
            for (size_t d = 0; d < D; d++)
                gt[d] = -(s * (a[d] - b[d]));
        }
    }
}

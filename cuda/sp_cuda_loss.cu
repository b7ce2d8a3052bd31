/* The reconstruction loss (sp_loss.h): one block per image sums (x - t)^2
 * in double, each thread over a fixed stride of the image, then a
 * fixed-order tree: deterministic, though not the CPU's summation order. */
#include "sp_cuda_util.cuh"

#include <stdlib.h>

__global__ static void mse_fwd_k(float *dist, const float *x, const float *t, size_t D)
{
    __shared__ double part[SP_CUDA_THREADS];
    const float *a = x + blockIdx.x * D, *b = t + blockIdx.x * D;
    double s = 0.0;
    for (size_t d = threadIdx.x; d < D; d += blockDim.x) {
        float e = __fsub_rn(a[d], b[d]);
        s += (double)__fmul_rn(e, e);
    }
    part[threadIdx.x] = s;
    __syncthreads();
    for (unsigned h = blockDim.x / 2; h > 0; h /= 2) {
        if (threadIdx.x < h)
            part[threadIdx.x] += part[threadIdx.x + h];
        __syncthreads();
    }
    if (threadIdx.x == 0)
        dist[blockIdx.x] = (float)(part[0] / (double)D);
}

__global__ static void mse_bwd_k(float *dx, float *dt, const float *ddist, float dloss,
                                 const float *x, const float *t, size_t N, size_t D)
{
    SP_CUDA_FOR(i, N * D)
    {
        size_t n = i / D;
        double gn = (ddist ? (double)ddist[n] : 0.0) + (double)dloss / (double)N;
        float s = (float)(2.0 * gn / (double)D);
        float g = __fmul_rn(s, __fsub_rn(x[i], t[i]));
        if (dx)
            dx[i] = g;
        if (dt)
            dt[i] = -g;
    }
}

extern "C" void sp_cuda_mse_forward(float *dist, float *loss_host, const float *x, const float *t,
                                    size_t N, size_t D)
{
    if (N > 0) {
        if (N > 2147483647u)
            sp_fatal("cuda: mse: too many images (%zu)", N);
        mse_fwd_k<<<(unsigned)N, SP_CUDA_THREADS>>>(dist, x, t, D);
        sp_cuda_check("mse_fwd_k");
    }
    if (loss_host) {
        float *h = (float *)sp_malloc(sizeof(float) * (N ? N : 1));
        sp_cuda_download(h, dist, sizeof(float) * N);
        double total = 0.0;
        for (size_t n = 0; n < N; n++)
            total += h[n];
        *loss_host = (float)(total / (double)N);
        free(h);
    }
}

extern "C" void sp_cuda_mse_backward(float *dx, float *dt, const float *ddist, float dloss,
                                     const float *x, const float *t, size_t N, size_t D)
{
    if (N * D == 0)
        return;
    mse_bwd_k<<<sp_cuda_blocks(N * D), SP_CUDA_THREADS>>>(dx, dt, ddist, dloss, x, t, N, D);
    sp_cuda_check("mse_bwd_k");
}

/* Sampling grids of the transformations (sp_warp.h): affine_grid
 * (align_corners=False base), kornia's homography grid (linspace base),
 * the reference's TPS grid (kernel matrix from the host), and their
 * parameter gradients.  Arithmetic as common/sp_warp.c's, operation by
 * operation, with explicit round-to-nearest intrinsics (no contraction). */
#include "sp_cuda_util.cuh"

/* torch.linspace(-1, 1, n)[i] in float, as common/sp_warp.c's lin_f. */
__device__ static float lin_f(int i, int n)
{
    if (n <= 1)
        return -1.0f;
    float step = __fdiv_rn(2.0f, (float)(n - 1));
    return i < n / 2 ? __fadd_rn(-1.0f, __fmul_rn(step, (float)i))
                     : __fsub_rn(1.0f, __fmul_rn(step, (float)(n - 1 - i)));
}

/* affine_grid's base: linspace * (n-1) / n, 0 for n == 1. */
__device__ static float aff_f(int i, int n)
{
    if (n <= 1)
        return 0.0f;
    return __fdiv_rn(__fmul_rn(lin_f(i, n), (float)(n - 1)), (float)n);
}

__device__ static inline float dot3(float a, float x, float b, float y, float c)
{
    return __fadd_rn(__fadd_rn(__fmul_rn(a, x), __fmul_rn(b, y)), c);
}

__global__ static void grid_fwd_k(float *grid, int kind, const float *P, int np, const float *A,
                                  size_t n, int h, int w)
{
    const size_t hw = (size_t)h * w;
    SP_CUDA_FOR(t, n * hw)
    {
        size_t b = t / hw, pix = t % hw;
        int i = (int)(pix / w), j = (int)(pix % w);
        const float *p = P + b * np;
        float gx, gy;
        if (kind == SP_CUDA_GEN_AFFINE) {
            float x = aff_f(j, w), y = aff_f(i, h);
            gx = dot3(p[0], x, p[1], y, p[2]);
            gy = dot3(p[3], x, p[4], y, p[5]);
        } else if (kind == SP_CUDA_GEN_HOMOGRAPHY) {
            float x = lin_f(j, w), y = lin_f(i, h);
            float px = dot3(p[0], x, p[1], y, p[2]);
            float py = dot3(p[3], x, p[4], y, p[5]);
            float pz = dot3(p[6], x, p[7], y, p[8]);
            float sc = fabsf(pz) > 1e-8f ? __fdiv_rn(1.0f, __fadd_rn(pz, 1e-8f)) : 1.0f;
            gx = __fmul_rn(sc, px);
            gy = __fmul_rn(sc, py);
        } else {
            /* four partial sums in the CPU's order */
            const int N = np / 2;
            const float *a = A + pix * N, *qx = p, *qy = p + N;
            float sx[4] = {0, 0, 0, 0}, sy[4] = {0, 0, 0, 0};
            int k = 0;
            for (; k + 4 <= N; k += 4)
                for (int q = 0; q < 4; q++) {
                    sx[q] = __fadd_rn(sx[q], __fmul_rn(a[k + q], qx[k + q]));
                    sy[q] = __fadd_rn(sy[q], __fmul_rn(a[k + q], qy[k + q]));
                }
            for (; k < N; k++) {
                sx[0] = __fadd_rn(sx[0], __fmul_rn(a[k], qx[k]));
                sy[0] = __fadd_rn(sy[0], __fmul_rn(a[k], qy[k]));
            }
            gx = __fadd_rn(__fadd_rn(sx[0], sx[1]), __fadd_rn(sx[2], sx[3]));
            gy = __fadd_rn(__fadd_rn(sy[0], sy[1]), __fadd_rn(sy[2], sy[3]));
        }
        grid[2 * t] = gx;
        grid[2 * t + 1] = gy;
    }
}

/* Parameter k of image b's gradient from pixel pix. */
__device__ static double grid_term(int kind, const float *p, int np, const float *A, int k,
                                   size_t pix, int h, int w, float dgx, float dgy)
{
    int i = (int)(pix / w), j = (int)(pix % w);
    if (kind == SP_CUDA_GEN_AFFINE) {
        double x = aff_f(j, w), y = aff_f(i, h);
        double d = k < 3 ? (double)dgx : (double)dgy;
        int r = k % 3;
        return r == 0 ? d * x : r == 1 ? d * y : d;
    }
    if (kind == SP_CUDA_GEN_HOMOGRAPHY) {
        float x = lin_f(j, w), y = lin_f(i, h);
        float px = dot3(p[0], x, p[1], y, p[2]);
        float py = dot3(p[3], x, p[4], y, p[5]);
        float pz = dot3(p[6], x, p[7], y, p[8]);
        int m = fabsf(pz) > 1e-8f;
        double sc = m ? (double)__fdiv_rn(1.0f, __fadd_rn(pz, 1e-8f)) : 1.0;
        double d;
        if (k < 3)
            d = dgx * sc;
        else if (k < 6)
            d = dgy * sc;
        else
            d = m ? -((double)dgx * px + (double)dgy * py) * sc * sc : 0.0;
        int r = k % 3;
        return r == 0 ? d * x : r == 1 ? d * y : d;
    }
    const int N = np / 2;
    return k < N ? (double)A[pix * N + k] * dgx : (double)A[pix * N + (k - N)] * dgy;
}

/* One block per (image, parameter): a fixed-stride sum in double per
 * thread, then a fixed-order tree. */
__global__ static void grid_bwd_k(double *dp, int kind, const float *P, int np, const float *A,
                                  const float *dgrid, int h, int w)
{
    __shared__ double part[SP_CUDA_THREADS];
    const size_t b = blockIdx.x / np, hw = (size_t)h * w;
    const int k = (int)(blockIdx.x % np);
    const float *p = P + b * np, *dg = dgrid + b * hw * 2;
    double s = 0.0;
    for (size_t pix = threadIdx.x; pix < hw; pix += blockDim.x)
        s += grid_term(kind, p, np, A, k, pix, h, w, dg[2 * pix], dg[2 * pix + 1]);
    part[threadIdx.x] = s;
    __syncthreads();
    for (unsigned half = blockDim.x / 2; half > 0; half /= 2) {
        if (threadIdx.x < half)
            part[threadIdx.x] += part[threadIdx.x + half];
        __syncthreads();
    }
    if (threadIdx.x == 0)
        dp[blockIdx.x] = part[0];
}

extern "C" void sp_cuda_grid_forward(float *grid, int kind, const float *p, int np, const float *A,
                                     size_t n, int h, int w)
{
    size_t total = n * (size_t)h * w;
    if (total == 0)
        return;
    grid_fwd_k<<<sp_cuda_blocks(total), SP_CUDA_THREADS>>>(grid, kind, p, np, A, n, h, w);
    sp_cuda_check("grid_fwd_k");
}

extern "C" void sp_cuda_grid_backward(double *dp, int kind, const float *p, int np, const float *A,
                                      const float *dgrid, size_t n, int h, int w)
{
    size_t blocks = n * (size_t)np;
    if (blocks == 0)
        return;
    if (blocks > 2147483647u)
        sp_fatal("cuda: grid backward: too many images");
    grid_bwd_k<<<(unsigned)blocks, SP_CUDA_THREADS>>>(dp, kind, p, np, A, dgrid, h, w);
    sp_cuda_check("grid_bwd_k");
}

/* Element-wise kernels: activations, soft clamp, sigmoid, mask noise, the
 * occlusion matrix (sp_activation.h, sp_clamp.h, sp_sigmoid.h, sp_init.h,
 * sp_compose.h). */
#include "sp_cuda_util.cuh"

__global__ static void relu_fwd_k(float *y, const float *x, size_t n)
{
    SP_CUDA_FOR(i, n) y[i] = x[i] > 0.0f ? x[i] : 0.0f;
}
__global__ static void relu_bwd_k(float *dx, const float *dy, const float *x, size_t n)
{
    SP_CUDA_FOR(i, n) dx[i] = x[i] > 0.0f ? dy[i] : 0.0f;
}
__global__ static void add_k(float *y, const float *a, const float *b, size_t n)
{
    SP_CUDA_FOR(i, n) y[i] = __fadd_rn(a[i], b[i]);
}
__global__ static void copy_k(float *y, const float *x, size_t n)
{
    SP_CUDA_FOR(i, n) y[i] = x[i];
}

/* torch.sigmoid on the CPU: 1 / (1 + exp(-x)); expf on the GPU may differ
 * from glibc's by an ulp. */
__device__ static inline float sigm(float x) { return __fdiv_rn(1.0f, __fadd_rn(1.0f, expf(-x))); }

__global__ static void sigmoid_fwd_k(float *y, const float *x, size_t n)
{
    SP_CUDA_FOR(i, n) y[i] = sigm(x[i]);
}
__global__ static void sigmoid_bwd_k(float *dx, const float *dy, const float *x, size_t n)
{
    SP_CUDA_FOR(i, n)
    {
        float s = sigm(x[i]);
        dx[i] = __fmul_rn(__fmul_rn(dy[i], __fsub_rn(1.0f, s)), s);
    }
}

/* sp_clamp1 / sp_clamp1_grad of sp_clamp.h; kinds 0 none, 1 hard, 2 soft, 3 diff. */
__device__ static inline float clamp1(float x, int kind, float alpha)
{
    float c = x < 0.0f ? 0.0f : x > 1.0f ? 1.0f : x;
    if (kind == 2)
        return __fadd_rn(__fadd_rn(c, __fmul_rn(alpha, x < 0.0f ? x : 0.0f)),
                         __fmul_rn(alpha, __fsub_rn(x, 1.0f) > 0.0f ? __fsub_rn(x, 1.0f) : 0.0f));
    if (kind == 1 || kind == 3)
        return c;
    return x;
}
__device__ static inline float clamp1_grad(float x, int kind, float alpha)
{
    if (kind == 2) {
        if (x < 0.0f || x > 1.0f)
            return alpha;
        if (x == 0.0f || x == 1.0f)
            return __fadd_rn(1.0f, __fmul_rn(0.5f, alpha));
        return x == x ? 1.0f : 0.0f;
    }
    if (kind == 1)
        return (x >= 0.0f && x <= 1.0f) ? 1.0f : 0.0f;
    return 1.0f;
}
__global__ static void clamp_fwd_k(float *y, const float *x, size_t n, int kind, float alpha)
{
    SP_CUDA_FOR(i, n) y[i] = clamp1(x[i], kind, alpha);
}
__global__ static void clamp_bwd_k(float *dx, const float *dy, const float *x, size_t n, int kind,
                                   float alpha)
{
    SP_CUDA_FOR(i, n) dx[i] = __fmul_rn(dy[i], clamp1_grad(x[i], kind, alpha));
}

/* y = add + x * (2a u - a) over [L,K,N,hw], u [K,hw]; without add a plain
 * product (no 0 + ..., which would turn -0 into +0, as the CPU). */
__global__ static void mask_noise_k(float *y, const float *add, const float *x, const float *u,
                                    float two_a, float fa, size_t K, size_t N, size_t hw,
                                    size_t total)
{
    SP_CUDA_FOR(i, total)
    {
        size_t p = i % hw, k = (i / hw / N) % K;
        float noise = __fsub_rn(__fmul_rn(two_a, u[k * hw + p]), fa);
        float t = __fmul_rn(x[i], noise);
        y[i] = add ? __fadd_rn(add[i], t) : t;
    }
}

/* One thread per (image, j, k). */
__global__ static void occ_fwd_k(float *occ, const float *logits, size_t N, size_t L)
{
    size_t np = L * (L - 1) / 2;
    SP_CUDA_FOR(i, N * L * L)
    {
        size_t n = i / (L * L), j = (i / L) % L, k = i % L;
        const float *z = logits + n * np;
        float v;
        if (j == k)
            v = 0.0f;
        else if (j > k)
            v = sigm(z[j * (j - 1) / 2 + k]);
        else
            v = __fsub_rn(1.0f, sigm(z[k * (k - 1) / 2 + j]));
        occ[i] = v;
    }
}
/* One thread per logit (j > k). */
__global__ static void occ_bwd_k(float *dlogits, const float *docc, const float *logits, size_t N,
                                 size_t L)
{
    size_t np = L * (L - 1) / 2;
    SP_CUDA_FOR(i, N * np)
    {
        size_t n = i / np, q = i % np, j = 1;
        while ((j + 1) * j / 2 <= q)
            j++;
        size_t k = q - j * (j - 1) / 2;
        const float *d = docc + n * L * L;
        float s = sigm(logits[i]);
        dlogits[i] = __fmul_rn(__fmul_rn(__fsub_rn(d[j * L + k], d[k * L + j]), __fsub_rn(1.0f, s)), s);
    }
}

#define LAUNCH(kernel, n, ...)                                                                 \
    do {                                                                                       \
        if ((n) > 0) {                                                                         \
            kernel<<<sp_cuda_blocks(n), SP_CUDA_THREADS>>>(__VA_ARGS__);                       \
            sp_cuda_check(#kernel);                                                            \
        }                                                                                      \
    } while (0)

extern "C" void sp_cuda_relu_forward(float *y, const float *x, size_t n) { LAUNCH(relu_fwd_k, n, y, x, n); }
extern "C" void sp_cuda_relu_backward(float *dx, const float *dy, const float *x, size_t n)
{
    LAUNCH(relu_bwd_k, n, dx, dy, x, n);
}
extern "C" void sp_cuda_add_forward(float *y, const float *a, const float *b, size_t n) { LAUNCH(add_k, n, y, a, b, n); }
extern "C" void sp_cuda_copy(float *y, const float *x, size_t n) { LAUNCH(copy_k, n, y, x, n); }
extern "C" void sp_cuda_sigmoid_forward(float *y, const float *x, size_t n) { LAUNCH(sigmoid_fwd_k, n, y, x, n); }
extern "C" void sp_cuda_sigmoid_backward(float *dx, const float *dy, const float *x, size_t n)
{
    LAUNCH(sigmoid_bwd_k, n, dx, dy, x, n);
}
extern "C" void sp_cuda_clamp_forward(float *y, const float *x, size_t n, int kind, float alpha)
{
    LAUNCH(clamp_fwd_k, n, y, x, n, kind, alpha);
}
extern "C" void sp_cuda_clamp_backward(float *dx, const float *dy, const float *x, size_t n, int kind,
                                       float alpha)
{
    LAUNCH(clamp_bwd_k, n, dx, dy, x, n, kind, alpha);
}
extern "C" void sp_cuda_mask_noise(float *y, const float *add, const float *x, const float *u, double a,
                                   size_t L, size_t K, size_t N, size_t hw)
{
    size_t total = L * K * N * hw;
    LAUNCH(mask_noise_k, total, y, add, x, u, (float)(2.0 * a), (float)a, K, N, hw, total);
}
extern "C" void sp_cuda_occlusion_grid_forward(float *occ, const float *logits, size_t N, size_t L)
{
    LAUNCH(occ_fwd_k, N * L * L, occ, logits, N, L);
}
extern "C" void sp_cuda_occlusion_grid_backward(float *dlogits, const float *docc, const float *logits,
                                                size_t N, size_t L)
{
    LAUNCH(occ_bwd_k, N * (L * (L - (L > 0)) / 2), dlogits, docc, logits, N, L);
}

/* One Adam update (sp_optim.h's sp_adam_step), the CPU's float operations
 * in the CPU's order: the scalars are made on the host exactly as there,
 * and every operation in the kernel is an explicit round-to-nearest
 * intrinsic (or fmaf where the CPU uses fmaf), so nvcc's contraction of
 * multiply-adds cannot change a result. */
#include "sp_cuda_util.cuh"

#include <math.h>

__global__ static void adam_k(float *param, float *m, float *v, const float *grad, size_t n,
                              int use_wd, float wd, float b1, float b2, float one_b1,
                              float one_b2, float neg_step_size, float bc2_sqrt, float e)
{
    SP_CUDA_FOR(i, n)
    {
        float g = grad[i];
        if (use_wd)
            g = fmaf(wd, param[i], g);
        float mi = __fmul_rn(m[i], b1);
        mi = fmaf(one_b1, g, mi);
        float vi = __fmul_rn(v[i], b2);
        vi = fmaf(__fmul_rn(one_b2, g), g, vi);
        float denom = __fadd_rn(__fdiv_rn(__fsqrt_rn(vi), bc2_sqrt), e);
        param[i] = __fadd_rn(param[i], __fdiv_rn(__fmul_rn(neg_step_size, mi), denom));
        m[i] = mi;
        v[i] = vi;
    }
}

extern "C" void sp_cuda_adam_step(float *param, float *m, float *v, const float *grad, size_t n,
                                  int64_t step, double lr, double beta1, double beta2, double eps,
                                  double weight_decay)
{
    const float wd = (float)weight_decay, b1 = (float)beta1, b2 = (float)beta2;
    const float one_b1 = (float)(1.0 - beta1), one_b2 = (float)(1.0 - beta2);
    const double bc1 = 1.0 - pow(beta1, (double)step), bc2 = 1.0 - pow(beta2, (double)step);
    const float neg_step_size = (float)(-(lr / bc1)), bc2_sqrt = (float)sqrt(bc2);
    if (n == 0)
        return;
    adam_k<<<sp_cuda_blocks(n), SP_CUDA_THREADS>>>(param, m, v, grad, n, weight_decay != 0.0, wd,
                                                   b1, b2, one_b1, one_b2, neg_step_size,
                                                   bc2_sqrt, (float)eps);
    sp_cuda_check("adam_k");
}

#include "sp_optim.h"

#include <math.h>

void sp_adam_step(float *param, float *m, float *v, const float *grad, size_t n, int64_t step,
                  double lr, double beta1, double beta2, double eps, double weight_decay)
{
    /* torch turns each Python scalar argument into the tensor's dtype. */
    const float wd = (float)weight_decay, b1 = (float)beta1, b2 = (float)beta2;
    const float one_b1 = (float)(1.0 - beta1), one_b2 = (float)(1.0 - beta2);
    const double bc1 = 1.0 - pow(beta1, (double)step), bc2 = 1.0 - pow(beta2, (double)step);
    const float neg_step_size = (float)(-(lr / bc1)), bc2_sqrt = (float)sqrt(bc2);
    const float e = (float)eps;
#pragma omp parallel for schedule(static) if (n > SP_ADAM_PARALLEL_MIN)
    for (long i = 0; i < (long)n; i++) {
        /* torch's AVX2 kernels fuse these multiply-adds (vec::fmadd in add
         * with alpha, a contracted multiply-add in addcmul): fmaf reproduces
         * them, and so torch's float results, bit for bit. */
        float g = grad[i];
        if (weight_decay != 0.0)
            g = fmaf(wd, param[i], g);               /* grad.add(param, alpha=wd) */
        float mi = m[i] * b1;                        /* exp_avg.mul_(beta1) */
        mi = fmaf(one_b1, g, mi);                    /* .add_(grad, alpha=1-beta1) */
        float vi = v[i] * b2;                        /* exp_avg_sq.mul_(beta2) */
        vi = fmaf(one_b2 * g, g, vi);                /* .addcmul_(grad, grad, 1-beta2) */
        float denom = sqrtf(vi) / bc2_sqrt + e;      /* (sqrt / bc2_sqrt).add_(eps) */
        param[i] = param[i] + neg_step_size * mi / denom; /* addcdiv_(m, denom, -step_size) */
        m[i] = mi;
        v[i] = vi;
    }
}

/* The same as `times` calls of sp_adam_step, in one pass over memory: each
 * element goes through the updates in registers (same operations in the
 * same order, so the same floats), which halves the memory traffic of the
 * encoder when two transformers hold it. */
#define ADAM_TIMES_MAX 64
void sp_adam_step_repeated(float *param, float *m, float *v, const float *grad, size_t n,
                           int64_t step, int times, double lr, double beta1, double beta2,
                           double eps, double weight_decay)
{
    if (times <= 1 || times > ADAM_TIMES_MAX) {
        for (int t = 0; t < times; t++)
            sp_adam_step(param, m, v, grad, n, step + t, lr, beta1, beta2, eps, weight_decay);
        return;
    }
    const float wd = (float)weight_decay, b1 = (float)beta1, b2 = (float)beta2;
    const float one_b1 = (float)(1.0 - beta1), one_b2 = (float)(1.0 - beta2);
    const float e = (float)eps;
    float neg_step_size[ADAM_TIMES_MAX], bc2_sqrt[ADAM_TIMES_MAX];
    for (int t = 0; t < times; t++) {
        const double bc1 = 1.0 - pow(beta1, (double)(step + t)), bc2 = 1.0 - pow(beta2, (double)(step + t));
        neg_step_size[t] = (float)(-(lr / bc1));
        bc2_sqrt[t] = (float)sqrt(bc2);
    }
#pragma omp parallel for schedule(static) if (n > SP_ADAM_PARALLEL_MIN)
    for (long i = 0; i < (long)n; i++) {
        float p = param[i], mi = m[i], vi = v[i];
        for (int t = 0; t < times; t++) {
            float g = grad[i];
            if (weight_decay != 0.0)
                g = fmaf(wd, p, g);
            mi = fmaf(one_b1, g, mi * b1);
            vi = fmaf(one_b2 * g, g, vi * b2);
            float denom = sqrtf(vi) / bc2_sqrt[t] + e;
            p = p + neg_step_size[t] * mi / denom;
        }
        param[i] = p;
        m[i] = mi;
        v[i] = vi;
    }
}

double sp_multistep_lr(double base_lr, double gamma, const int64_t *milestones, int n_milestones,
                       int64_t epoch)
{
    int count = 0;
    for (int i = 0; i < n_milestones; i++)
        count += milestones[i] <= epoch;
    return base_lr * pow(gamma, count);
}

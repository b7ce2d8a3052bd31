#include "sp_optim.h"
#include "sp_cpu.h"

#include <immintrin.h>
#include <math.h>
#include <omp.h>

/* The per-step constants of `times` successive steps from `step` on; torch
 * turns each Python scalar argument into the tensor's dtype. */
#define ADAM_TIMES_MAX 64
typedef struct {
    float wd, b1, b2, one_b1, one_b2, e;
    float neg_step_size[ADAM_TIMES_MAX], bc2_sqrt[ADAM_TIMES_MAX];
    int times, decay;
} adam_consts;

/* Elements [lo, hi) through k->times updates, each element in registers
 * (the same operations in the same order as one sp_adam_step after the
 * other, so the same floats).  torch's AVX2 kernels fuse these
 * multiply-adds (vec::fmadd in add with alpha, a contracted multiply-add in
 * addcmul): fmaf reproduces them, and so torch's float results, bit for
 * bit.  Inlined into a plain and an FMA build of the loop: in the plain one
 * fmaf is a libm call per operation and the loop stays scalar (10% of a
 * horse training step); in the FMA one it is an instruction and the loop
 * is vectorised, with the same results (fmaf rounds once either way). */
static inline __attribute__((always_inline)) void adam_range(float *param, float *m, float *v,
                                                             const float *grad, long lo, long hi,
                                                             const adam_consts *k)
{
#pragma omp simd
    for (long i = lo; i < hi; i++) {
        float p = param[i], mi = m[i], vi = v[i];
        for (int t = 0; t < k->times; t++) {
            float g = grad[i];
            if (k->decay)
                g = fmaf(k->wd, p, g);                       /* grad.add(param, alpha=wd) */
            mi = fmaf(k->one_b1, g, mi * k->b1);             /* exp_avg.mul_(beta1).add_(grad, alpha=1-beta1) */
            vi = fmaf(k->one_b2 * g, g, vi * k->b2);         /* exp_avg_sq.mul_(beta2).addcmul_(grad, grad, 1-beta2) */
            float denom = sqrtf(vi) / k->bc2_sqrt[t] + k->e; /* (sqrt / bc2_sqrt).add_(eps) */
            p = p + k->neg_step_size[t] * mi / denom;        /* addcdiv_(m, denom, -step_size) */
        }
        param[i] = p;
        m[i] = mi;
        v[i] = vi;
    }
}

/* 8 elements at a time with the same operations as adam_range (IEEE
 * multiply, fused multiply-add, square root and division round the same in
 * every lane), the rest through adam_range. */
__attribute__((target("avx2,fma"), optimize("no-math-errno"))) static void
adam_range_fma(float *param, float *m, float *v, const float *grad, long lo, long hi, const adam_consts *k)
{
    const __m256 wd = _mm256_set1_ps(k->wd), b1 = _mm256_set1_ps(k->b1), b2 = _mm256_set1_ps(k->b2);
    const __m256 one_b1 = _mm256_set1_ps(k->one_b1), one_b2 = _mm256_set1_ps(k->one_b2), e = _mm256_set1_ps(k->e);
    long i = lo;
    for (; i + 8 <= hi; i += 8) {
        __m256 p = _mm256_loadu_ps(param + i), mi = _mm256_loadu_ps(m + i), vi = _mm256_loadu_ps(v + i);
        for (int t = 0; t < k->times; t++) {
            __m256 g = _mm256_loadu_ps(grad + i);
            if (k->decay)
                g = _mm256_fmadd_ps(wd, p, g);
            mi = _mm256_fmadd_ps(one_b1, g, _mm256_mul_ps(mi, b1));
            vi = _mm256_fmadd_ps(_mm256_mul_ps(one_b2, g), g, _mm256_mul_ps(vi, b2));
            __m256 denom = _mm256_add_ps(_mm256_div_ps(_mm256_sqrt_ps(vi), _mm256_set1_ps(k->bc2_sqrt[t])), e);
            p = _mm256_add_ps(p, _mm256_div_ps(_mm256_mul_ps(_mm256_set1_ps(k->neg_step_size[t]), mi), denom));
        }
        _mm256_storeu_ps(param + i, p);
        _mm256_storeu_ps(m + i, mi);
        _mm256_storeu_ps(v + i, vi);
    }
    adam_range(param, m, v, grad, i, hi, k);
}

static void adam_range_plain(float *param, float *m, float *v, const float *grad, long lo, long hi,
                             const adam_consts *k)
{
    adam_range(param, m, v, grad, lo, hi, k);
}

/* The same as `times` calls of sp_adam_step, in one pass over memory, which
 * halves the memory traffic of the encoder when two transformers hold it. */
void sp_adam_step_repeated(float *param, float *m, float *v, const float *grad, size_t n,
                           int64_t step, int times, double lr, double beta1, double beta2,
                           double eps, double weight_decay)
{
    if (times > ADAM_TIMES_MAX) {
        for (int t = 0; t < times; t++)
            sp_adam_step_repeated(param, m, v, grad, n, step + t, 1, lr, beta1, beta2, eps, weight_decay);
        return;
    }
    if (times < 1)
        return;
    adam_consts k = {(float)weight_decay, (float)beta1, (float)beta2, (float)(1.0 - beta1),
                     (float)(1.0 - beta2), (float)eps, {0}, {0}, times, weight_decay != 0.0};
    for (int t = 0; t < times; t++) {
        const double bc1 = 1.0 - pow(beta1, (double)(step + t)), bc2 = 1.0 - pow(beta2, (double)(step + t));
        k.neg_step_size[t] = (float)(-(lr / bc1));
        k.bc2_sqrt[t] = (float)sqrt(bc2);
    }
    const int fma = sp_cpu_avx2_fma();
#pragma omp parallel if (n > SP_ADAM_PARALLEL_MIN)
    {
        const long T = omp_get_num_threads(), id = omp_get_thread_num();
        const long lo = (long)n * id / T, hi = (long)n * (id + 1) / T;
        (fma ? adam_range_fma : adam_range_plain)(param, m, v, grad, lo, hi, &k);
    }
}

void sp_adam_step(float *param, float *m, float *v, const float *grad, size_t n, int64_t step,
                  double lr, double beta1, double beta2, double eps, double weight_decay)
{
    sp_adam_step_repeated(param, m, v, grad, n, step, 1, lr, beta1, beta2, eps, weight_decay);
}

double sp_multistep_lr(double base_lr, double gamma, const int64_t *milestones, int n_milestones,
                       int64_t epoch)
{
    int count = 0;
    for (int i = 0; i < n_milestones; i++)
        count += milestones[i] <= epoch;
    return base_lr * pow(gamma, count);
}

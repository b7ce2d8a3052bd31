/* The reference's optimiser and schedule: torch.optim.Adam (torch 1.13,
 * single-tensor path, the default there) with L2 weight decay, and its own
 * MultiStepLR (src/scheduler/__init__.py).
 *
 * The reference builds Adam with two parameter groups (src/trainer.py):
 *   0. cluster parameters: prototype_params, mask_params, bkg_params, no
 *      weight decay;
 *   1. transformer parameters (every transformer's .parameters(), the
 *      occlusion predictor's): weight_decay 1e-6 in every config.
 * lr 1e-4 (tetro, dsprites, clevr6) or 1e-3 (gtsrb8, horse, svhn, instagram),
 * betas (0.9, 0.999), eps 1e-8.  Every non-identity transformer holds the
 * shared encoder, so the encoder's parameters appear several times in group
 * 1 and torch updates them once per appearance with the same gradient
 * (REFERENCE-NOTES point 1): sp_adam_step_repeated. */
#ifndef SP_OPTIM_H
#define SP_OPTIM_H

#include <stddef.h>
#include <stdint.h>

/* One Adam update of n values in place, step = the number of this update
 * (1 for the first; torch's state['step'] after its increment):
 *   g = grad + weight_decay * param
 *   m = beta1 m + (1 - beta1) g ;  v = beta2 v + (1 - beta2) g^2
 *   param -= lr / (1 - beta1^step) * m / (sqrt(v) / sqrt(1 - beta2^step) + eps)
 * in torch's float operation order (the bias corrections and step size in
 * double, then rounded to float as torch's scalar arguments are, and the
 * multiply-adds that torch's CPU kernels fuse fused with fmaf), so that the
 * result matches torch 1.13's AVX2 build bit for bit (checked over 100003
 * values and 5 steps). */
void sp_adam_step(float *param, float *m, float *v, const float *grad, size_t n, int64_t step,
                  double lr, double beta1, double beta2, double eps, double weight_decay);

/* Elements above which one Adam step splits its parameter over the OpenMP
 * threads; below it the step runs on the calling thread (callers with many
 * small parameters spread those over the threads instead). */
#define SP_ADAM_PARALLEL_MIN 65536

/* A parameter that appears `times` times in one torch parameter group:
 * torch runs the update once per appearance with the same gradient (the
 * weight decay reading the parameter as the previous appearance left it)
 * and steps numbered step, step + 1, ..., step + times - 1.  The caller's
 * step count advances by times. */
void sp_adam_step_repeated(float *param, float *m, float *v, const float *grad, size_t n,
                           int64_t step, int times, double lr, double beta1, double beta2,
                           double eps, double weight_decay);

/* MultiStepLR: base_lr * gamma^(number of milestones <= epoch), milestones
 * counted with multiplicity (the reference keeps them in a Counter).  epoch
 * is the scheduler's last_epoch: the number of scheduler.step() calls, which
 * the reference's trainer makes once at the end of every epoch, so training
 * epoch e (from 1) runs with epoch = e - 1.  The reference passes gamma as a
 * list per parameter group in tetro/dsprites/clevr6 ([1, 0.1]: the cluster
 * parameters never decay, the transformers do) and as one number elsewhere
 * (every group decays).  Its `warmup` option (default 0) is not used by any
 * config and not implemented here. */
double sp_multistep_lr(double base_lr, double gamma, const int64_t *milestones, int n_milestones,
                       int64_t epoch);

#endif

/* Batch normalisation over [N,C,HW] (nn.BatchNorm2d; with hw = 1 it is
 * nn.BatchNorm1d on [N,C]).  Statistics per channel over the N*HW values,
 * accumulated in double (as PyTorch's CPU kernel does), channels in
 * parallel: results do not depend on the thread count.
 *
 * Training mode: normalise with the batch mean and the biased variance;
 * update the running statistics (when given) with
 *   running = (1 - momentum) * running + momentum * batch_statistic,
 * using the unbiased variance (m / (m - 1)), m = N*HW.  m == 0 leaves them
 * untouched (PyTorch does the same); m == 1 is the caller's error (PyTorch
 * refuses it: the unbiased variance is undefined).
 * Eval mode: normalise with the running statistics.
 *
 * The _ex variants fuse what follows a batch norm in a ResNet:
 *   y = relu?( gamma * xhat + beta  (+ residual) ),
 * and in backward take y to mask dy where the ReLU was off. */
#ifndef SP_BATCHNORM_H
#define SP_BATCHNORM_H

#include <stddef.h>

/* x, y [N,C,HW]; gamma, beta [C] (NULL: 1 and 0); running_mean, running_var
 * [C] updated in training mode (NULL: not tracked; then eval mode is
 * impossible).  save_mean, save_invstd [C] receive the statistics used
 * (batch or running), which backward needs. */
void sp_batchnorm2d_forward(float *y, float *save_mean, float *save_invstd, float *running_mean,
                            float *running_var, const float *x, const float *gamma,
                            const float *beta, size_t n, size_t c, size_t hw, int training,
                            float momentum, float eps);
void sp_batchnorm2d_forward_ex(float *y, float *save_mean, float *save_invstd,
                               float *running_mean, float *running_var, const float *x,
                               const float *gamma, const float *beta, const float *residual,
                               int relu, size_t n, size_t c, size_t hw, int training,
                               float momentum, float eps);

/* Eval mode as y = x * scale[c] + shift[c]: the per-channel factors that
 * sp_batchnorm2d_forward_ex uses with the running statistics, to the bit,
 * for a caller that applies them itself (the encoder's inference forward
 * folds them into the convolution's output pass, sp_conv2d_forward_fused). */
void sp_batchnorm2d_eval_affine(float *scale, float *shift, const float *gamma, const float *beta,
                                const float *running_mean, const float *running_var, size_t c,
                                float eps);

/* Given dy [N,C,HW]: dx [N,C,HW], dgamma, dbeta [C] (each may be NULL).
 * training: the mean/invstd were batch statistics (they depend on x);
 * eval: constants.  x is the forward input, save_* as forward left them. */
void sp_batchnorm2d_backward(float *dx, float *dgamma, float *dbeta, const float *dy,
                             const float *x, const float *gamma, const float *save_mean,
                             const float *save_invstd, size_t n, size_t c, size_t hw,
                             int training);
/* Same after the fused forward: y is its output (ReLU mask, when relu); the
 * gradient that reaches the residual input (dy masked) goes to dresidual
 * when it is not NULL.  dx may alias dy; dresidual may not. */
void sp_batchnorm2d_backward_ex(float *dx, float *dgamma, float *dbeta, float *dresidual,
                                const float *dy, const float *y, int relu, const float *x,
                                const float *gamma, const float *save_mean,
                                const float *save_invstd, size_t n, size_t c, size_t hw,
                                int training);

#endif

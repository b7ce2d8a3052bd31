/* Pooling over [N,C,H,W] planes, as PyTorch (floor mode, no dilation):
 * max pooling, average pooling, adaptive average pooling.  Planes (n, c) run
 * in parallel and each output is computed by one thread: results do not
 * depend on the thread count. */
#ifndef SP_POOL_H
#define SP_POOL_H

#include <stddef.h>
#include <stdint.h>

/* Output size of a window pooling: (H + 2*pad - k) / stride + 1. */
static inline int sp_pool_out(int h, int k, int stride, int pad) { return (h + 2 * pad - k) / stride + 1; }

/* y [NC, Ho, Wo] = max over each k x k window (stride s, implicit -inf
 * padding p; PyTorch requires p <= k/2 so a window always holds a pixel).
 * argmax [NC, Ho, Wo] (may be NULL) gets the index ih*W + iw of the maximum
 * within its plane: the first one in row-major window order on ties, NaN
 * wins (PyTorch's rule). */
void sp_maxpool2d_forward(float *y, int32_t *argmax, const float *x, size_t nc, int h, int w,
                          int k, int s, int p);
/* dx [NC,H,W] = dy routed to the argmax of each window (summed where windows
 * share their maximum).  argmax from the forward. */
void sp_maxpool2d_backward(float *dx, const float *dy, const int32_t *argmax, size_t nc, int h,
                           int w, int k, int s, int p);

/* Average over each k x k window (stride s, zero padding p).  Divisor: the
 * window size clipped to the padded image when count_include_pad, else the
 * number of real pixels (PyTorch's avg_pool2d rules, ceil_mode off). */
void sp_avgpool2d_forward(float *y, const float *x, size_t nc, int h, int w, int k, int s, int p,
                          int count_include_pad);
void sp_avgpool2d_backward(float *dx, const float *dy, size_t nc, int h, int w, int k, int s,
                           int p, int count_include_pad);

/* nn.AdaptiveAvgPool2d((oh, ow)): output cell (i, j) averages rows
 * [floor(i*H/oh), ceil((i+1)*H/oh)) and the same for columns. */
void sp_adaptive_avgpool2d_forward(float *y, const float *x, size_t nc, int h, int w, int oh,
                                   int ow);
void sp_adaptive_avgpool2d_backward(float *dx, const float *dy, size_t nc, int h, int w, int oh,
                                    int ow);

/* Tests: 1 makes the 3x3 / stride 2 / padding 1 pool with argmax take the
 * general window loop instead of its row-wise path (the two must agree),
 * 0 restores. */
void sp_maxpool2d_force_loop(int on);

#endif

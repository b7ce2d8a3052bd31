/* The pieces of a residual connection: the add, and the mini-ResNet's
 * parameter-free "option A" shortcut (He et al. 2016, CIFAR ResNets; the
 * reference's mini_resnet.py LambdaLayer):
 *   F.pad(x[:, :, ::2, ::2], (0, 0, 0, 0, pad, pad))
 * i.e. keep every other row and column (from 0) and add `pad` zero channels
 * on each side. */
#ifndef SP_RESIDUAL_H
#define SP_RESIDUAL_H

#include <stddef.h>

/* y = a + b, n elements (y may alias a or b).  Its backward is da = db = dy. */
void sp_add_forward(float *y, const float *a, const float *b, size_t n);

/* x [N,C,H,W] -> y [N, C + 2*pad, (H+1)/2, (W+1)/2]. */
void sp_shortcut_a_forward(float *y, const float *x, size_t n, int c, int h, int w, int pad);
/* dx [N,C,H,W] = dy [N, C+2*pad, (H+1)/2, (W+1)/2] at the kept pixels, 0 elsewhere. */
void sp_shortcut_a_backward(float *dx, const float *dy, size_t n, int c, int h, int w, int pad);
/* dx += the same (for a block whose input gradient already holds the main path's). */
void sp_shortcut_a_backward_add(float *dx, const float *dy, size_t n, int c, int h, int w, int pad);

#endif

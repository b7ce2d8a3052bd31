/* Element-wise activations.  Shapes: any; in and out may alias. */
#ifndef SP_ACTIVATION_H
#define SP_ACTIVATION_H

#include <stddef.h>

/* y = max(x, 0) */
void sp_relu_forward(float *y, const float *x, size_t n);
/* dx = dy where x > 0, else 0 (PyTorch's convention at 0: gradient 0) */
void sp_relu_backward(float *dx, const float *dy, const float *x, size_t n);

#endif

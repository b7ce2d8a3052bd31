/* The logistic sigmoid (the occlusion predictor's squashing).  Shapes: any;
 * y and x may alias. */
#ifndef SP_SIGMOID_H
#define SP_SIGMOID_H

#include <math.h>
#include <stddef.h>

/* 1 / (1 + exp(-x)), as torch.sigmoid on the CPU computes it; saturates to
 * exactly 0 for x < -104 (exp overflows to inf) and 1 for large x. */
static inline float sp_sigmoidf(float x) { return 1.0f / (1.0f + expf(-x)); }

/* y = sigmoid(x) */
void sp_sigmoid_forward(float *y, const float *x, size_t n);
/* dx = dy * (1 - y) * y with y = sigmoid(x) (torch's sigmoid_backward). */
void sp_sigmoid_backward(float *dx, const float *dy, const float *x, size_t n);

#endif

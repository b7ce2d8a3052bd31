#include "sp_sigmoid.h"

void sp_sigmoid_forward(float *y, const float *x, size_t n)
{
    for (size_t i = 0; i < n; i++)
        y[i] = sp_sigmoidf(x[i]);
}

void sp_sigmoid_backward(float *dx, const float *dy, const float *x, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        float y = sp_sigmoidf(x[i]);
        dx[i] = dy[i] * (1.0f - y) * y;
    }
}

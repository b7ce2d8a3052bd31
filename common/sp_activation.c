#include "sp_activation.h"
#include "sp_parallel.h"

/* threads only from this many elements on */
#define PARALLEL_MIN 65537

typedef struct {
    float *out;
    const float *x, *dy; /* dy: the backward's */
} relu_ctx;

static void relu_range(void *ctx, size_t i0, size_t i1)
{
    const relu_ctx *r = ctx;
    float *y = r->out;
    const float *x = r->x;
    for (size_t i = i0; i < i1; i++)
        y[i] = x[i] > 0.0f ? x[i] : 0.0f;
}

static void relu_back_range(void *ctx, size_t i0, size_t i1)
{
    const relu_ctx *r = ctx;
    float *dx = r->out;
    const float *x = r->x, *dy = r->dy;
    for (size_t i = i0; i < i1; i++)
        dx[i] = x[i] > 0.0f ? dy[i] : 0.0f;
}

void sp_relu_forward(float *y, const float *x, size_t n)
{
    relu_ctx r = {y, x, NULL};
    sp_parallel_for(n, PARALLEL_MIN, relu_range, &r);
}

void sp_relu_backward(float *dx, const float *dy, const float *x, size_t n)
{
    relu_ctx r = {dx, x, dy};
    sp_parallel_for(n, PARALLEL_MIN, relu_back_range, &r);
}

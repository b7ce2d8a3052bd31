/* The reference's clamp functions (model/tools.py get_clamp_func), applied to
 * sprites, masks and colour-transformed layers.  Shapes: any; y and x may
 * alias, dx and dy may alias.
 *
 *  - soft (the reference's default 'soft', alpha 0.01; 'soft0.1' sets alpha):
 *      y = clamp(x, 0, 1) + alpha * min(x, 0) + alpha * max(x - 1, 0)
 *  - hard ('clamp', 'normal', True): y = clamp(x, 0, 1)
 *  - diff ('diff...'): y = clamp(x, 0, 1), gradient passed through unchanged
 *  - none (False / '' / 'none' / 'id'): y = x
 *
 * Gradients follow PyTorch 1.13's autograd of the reference's expression
 * exactly, ties included: torch.clamp passes the gradient on the closed
 * interval [0, 1], and torch.min/max(a, b) split it in halves where a == b.
 * So the soft clamp's derivative is alpha below 0, 1 + alpha/2 at exactly 0
 * and 1, 1 inside, alpha above 1; the hard clamp's is 1 on [0, 1], else 0. */
#ifndef SP_CLAMP_H
#define SP_CLAMP_H

#include <stddef.h>

typedef enum { SP_CLAMP_NONE, SP_CLAMP_HARD, SP_CLAMP_SOFT, SP_CLAMP_DIFF } sp_clamp_kind;

typedef struct {
    sp_clamp_kind kind;
    float alpha; /* soft only */
} sp_clamp;

/* Parses a name as get_clamp_func does ("soft", "soft0.1", "leaky_relu0.1",
 * "clamp", "normal", "hard", "diff", "none", "false", "id", ""); returns 0,
 * or -1 for an unknown name. */
int sp_clamp_parse(const char *name, sp_clamp *c);

/* The soft clamp with slope alpha outside [0, 1] (reference default 0.01). */
void sp_soft_clamp_forward(float *y, const float *x, size_t n, float alpha);
/* dx = dy * dsoftclamp/dx (x: the forward input) */
void sp_soft_clamp_backward(float *dx, const float *dy, const float *x, size_t n, float alpha);

/* Any kind. */
void sp_clamp_forward(float *y, const float *x, size_t n, sp_clamp c);
void sp_clamp_backward(float *dx, const float *dy, const float *x, size_t n, sp_clamp c);

/* One element (for fused loops elsewhere). */
static inline float sp_clamp1(float x, sp_clamp c)
{
    switch (c.kind) {
    case SP_CLAMP_SOFT:
        /* same operations as the reference: clamp + a*min(x,0) + a*max(x-1,0) */
        return (x < 0.0f ? 0.0f : x > 1.0f ? 1.0f : x) + c.alpha * (x < 0.0f ? x : 0.0f) +
               c.alpha * (x - 1.0f > 0.0f ? x - 1.0f : 0.0f);
    case SP_CLAMP_HARD:
    case SP_CLAMP_DIFF:
        return x < 0.0f ? 0.0f : x > 1.0f ? 1.0f : x;
    default:
        return x;
    }
}

/* Derivative at x (PyTorch's conventions at the kinks, see above). */
static inline float sp_clamp1_grad(float x, sp_clamp c)
{
    switch (c.kind) {
    case SP_CLAMP_SOFT:
        if (x < 0.0f || x > 1.0f)
            return c.alpha;
        if (x == 0.0f || x == 1.0f)
            return 1.0f + 0.5f * c.alpha;
        return x == x ? 1.0f : 0.0f;
    case SP_CLAMP_HARD:
        return (x >= 0.0f && x <= 1.0f) ? 1.0f : 0.0f;
    default:
        return 1.0f;
    }
}

#endif

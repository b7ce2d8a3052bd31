/* Residual add and option-A shortcut (see sp_residual.h). */
#include "sp_residual.h"
#include "sp_parallel.h"

#include <string.h>

void sp_add_forward(float *y, const float *a, const float *b, size_t n)
{
#pragma omp parallel for if (n > 65536) schedule(static)
    for (size_t i = 0; i < n; i++)
        y[i] = a[i] + b[i];
}

typedef struct {
    float *y;
    const float *x;
    int c, h, w, pad;
} shortcut_ctx;

/* planes [pl0, pl1) of sp_shortcut_a_forward's y (plane pl: image pl / co,
 * channel pl % co) */
static void shortcut_planes(void *ctx, size_t pl0, size_t pl1)
{
    const shortcut_ctx *k = ctx;
    const int c = k->c, h = k->h, w = k->w, pad = k->pad;
    const int ho = (h + 1) / 2, wo = (w + 1) / 2, co = c + 2 * pad;
    for (size_t pl = pl0; pl < pl1; pl++) {
        size_t i = pl / (size_t)co;
        int oc = (int)(pl % (size_t)co), ic = oc - pad;
        float *yp = k->y + pl * (size_t)ho * wo;
        if (ic < 0 || ic >= c) {
            memset(yp, 0, sizeof(float) * (size_t)ho * wo);
            continue;
        }
        const float *xp = k->x + (i * (size_t)c + (size_t)ic) * (size_t)h * w;
        for (int oh = 0; oh < ho; oh++)
            for (int ow = 0; ow < wo; ow++)
                yp[oh * wo + ow] = xp[(2 * oh) * w + 2 * ow];
    }
}

void sp_shortcut_a_forward(float *y, const float *x, size_t n, int c, int h, int w, int pad)
{
    shortcut_ctx k = {y, x, c, h, w, pad};
    sp_parallel_for(n * (size_t)(c + 2 * pad), 2, shortcut_planes, &k);
}

static void shortcut_back(float *dx, const float *dy, size_t n, int c, int h, int w, int pad,
                          int add)
{
    const int ho = (h + 1) / 2, wo = (w + 1) / 2, co = c + 2 * pad;
#pragma omp parallel for schedule(static)
    for (size_t pl = 0; pl < n * (size_t)c; pl++) {
        size_t i = pl / (size_t)c;
        int ic = (int)(pl % (size_t)c);
        float *xp = dx + pl * (size_t)h * w;
        const float *yp = dy + (i * (size_t)co + (size_t)(ic + pad)) * (size_t)ho * wo;
        if (!add)
            memset(xp, 0, sizeof(float) * (size_t)h * w);
        for (int oh = 0; oh < ho; oh++)
            for (int ow = 0; ow < wo; ow++)
                xp[(2 * oh) * w + 2 * ow] += yp[oh * wo + ow];
    }
}

void sp_shortcut_a_backward(float *dx, const float *dy, size_t n, int c, int h, int w, int pad)
{
    shortcut_back(dx, dy, n, c, h, w, pad, 0);
}

void sp_shortcut_a_backward_add(float *dx, const float *dy, size_t n, int c, int h, int w, int pad)
{
    shortcut_back(dx, dy, n, c, h, w, pad, 1);
}

/* Residual add and option-A shortcut (see sp_residual.h). */
#include "sp_residual.h"

#include <string.h>

void sp_add_forward(float *y, const float *a, const float *b, size_t n)
{
#pragma omp parallel for if (n > 65536) schedule(static)
    for (size_t i = 0; i < n; i++)
        y[i] = a[i] + b[i];
}

/* plane pl of sp_shortcut_a_forward's y (image pl / co, channel pl % co) */
static void shortcut_plane(float *y, const float *x, size_t pl, int c, int h, int w, int pad)
{
    const int ho = (h + 1) / 2, wo = (w + 1) / 2, co = c + 2 * pad;
    size_t i = pl / (size_t)co;
    int oc = (int)(pl % (size_t)co), ic = oc - pad;
    float *yp = y + pl * (size_t)ho * wo;
    if (ic < 0 || ic >= c) {
        memset(yp, 0, sizeof(float) * (size_t)ho * wo);
        return;
    }
    const float *xp = x + (i * (size_t)c + (size_t)ic) * (size_t)h * w;
    for (int oh = 0; oh < ho; oh++)
        for (int ow = 0; ow < wo; ow++)
            yp[oh * wo + ow] = xp[(2 * oh) * w + 2 * ow];
}

void sp_shortcut_a_forward(float *y, const float *x, size_t n, int c, int h, int w, int pad)
{
    const size_t planes = n * (size_t)(c + 2 * pad);
#pragma omp parallel for schedule(static)
    for (size_t pl = 0; pl < planes; pl++)
        shortcut_plane(y, x, pl, c, h, w, pad);
}

void sp_shortcut_a_forward_image(float *y, const float *x, int c, int h, int w, int pad)
{
    for (size_t pl = 0; pl < (size_t)(c + 2 * pad); pl++)
        shortcut_plane(y, x, pl, c, h, w, pad);
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

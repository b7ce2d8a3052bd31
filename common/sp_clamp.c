#include "sp_clamp.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

int sp_clamp_parse(const char *name, sp_clamp *c)
{
    c->alpha = 0.01f;
    if (!name || !*name || !strcasecmp(name, "none") || !strcasecmp(name, "false") ||
        !strcmp(name, "0") || !strcmp(name, "id") || !strcmp(name, "identity")) {
        c->kind = SP_CLAMP_NONE;
        return 0;
    }
    if (!strcmp(name, "clamp") || !strcmp(name, "normal") || !strcmp(name, "hard") ||
        !strcasecmp(name, "true")) {
        c->kind = SP_CLAMP_HARD;
        return 0;
    }
    if (!strncmp(name, "diff", 4)) {
        c->kind = SP_CLAMP_DIFF;
        return 0;
    }
    const char *rest = NULL;
    if (!strncmp(name, "soft", 4))
        rest = name + 4;
    else if (!strncmp(name, "leaky_relu", 10))
        rest = name + 10;
    else if (!strncmp(name, "leaky", 5))
        rest = name + 5;
    if (!rest)
        return -1;
    c->kind = SP_CLAMP_SOFT;
    if (*rest) {
        char *end;
        double a = strtod(rest, &end);
        if (*end)
            return -1;
        c->alpha = (float)a;
    }
    return 0;
}

void sp_soft_clamp_forward(float *y, const float *x, size_t n, float alpha)
{
    sp_clamp c = {SP_CLAMP_SOFT, alpha};
#pragma omp parallel for if (n > 65536) schedule(static)
    for (size_t i = 0; i < n; i++)
        y[i] = sp_clamp1(x[i], c);
}

void sp_soft_clamp_backward(float *dx, const float *dy, const float *x, size_t n, float alpha)
{
    sp_clamp c = {SP_CLAMP_SOFT, alpha};
#pragma omp parallel for if (n > 65536) schedule(static)
    for (size_t i = 0; i < n; i++)
        dx[i] = dy[i] * sp_clamp1_grad(x[i], c);
}

void sp_clamp_forward(float *y, const float *x, size_t n, sp_clamp c)
{
#pragma omp parallel for if (n > 65536) schedule(static)
    for (size_t i = 0; i < n; i++)
        y[i] = sp_clamp1(x[i], c);
}

void sp_clamp_backward(float *dx, const float *dy, const float *x, size_t n, sp_clamp c)
{
#pragma omp parallel for if (n > 65536) schedule(static)
    for (size_t i = 0; i < n; i++)
        dx[i] = dy[i] * sp_clamp1_grad(x[i], c);
}

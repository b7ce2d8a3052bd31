/* Linear layers and MLP heads (see sp_mlp.h). */
#include "sp_mlp.h"
#include "sp_activation.h"
#include "sp_blas.h"
#include "sp_error.h"

#include <stdlib.h>
#include <string.h>

void sp_linear_forward(float *y, const float *x, const float *w, const float *b, size_t n,
                       int in, int out)
{
    if (n == 0 || out == 0)
        return;
    for (size_t i = 0; i < n; i++)
        for (int o = 0; o < out; o++)
            y[i * out + o] = b ? b[o] : 0.0f;
    if (in == 0)
        return;
    /* y [n,out] += x [n,in] @ w^T */
    sp_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)n, out, in, 1.0f, x, in, w, in, 1.0f,
             y, out);
}

void sp_linear_backward(float *dx, float *dw, float *db, const float *dy, const float *x,
                        const float *w, size_t n, int in, int out)
{
    if (db) {
        for (int o = 0; o < out; o++) {
            double s = 0;
            for (size_t i = 0; i < n; i++)
                s += dy[i * out + o];
            db[o] = (float)s;
        }
    }
    if (dw) {
        if (n == 0 || in == 0 || out == 0)
            memset(dw, 0, sizeof(float) * (size_t)in * out);
        else /* dw [out,in] = dy^T [out,n] @ x [n,in] */
            sp_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, out, in, (int)n, 1.0f, dy, out, x,
                     in, 0.0f, dw, in);
    }
    if (dx) {
        if (n == 0 || in == 0 || out == 0)
            memset(dx, 0, sizeof(float) * n * in);
        else /* dx [n,in] = dy [n,out] @ w [out,in] */
            sp_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)n, in, out, 1.0f, dy, out,
                     w, in, 0.0f, dx, in);
    }
}

size_t sp_mlp_acts_size(size_t n, int nl, const sp_mlp_layer *layers)
{
    size_t s = 0;
    for (int l = 0; l + 1 < nl; l++)
        s += n * layers[l].out;
    return s;
}

void sp_mlp_forward(float *y, float *acts, const float *x, size_t n, int nl,
                    const sp_mlp_layer *layers)
{
    float *own = NULL;
    if (!acts && nl > 1)
        acts = own = sp_malloc(sizeof(float) * (sp_mlp_acts_size(n, nl, layers) + 1));
    const float *in = x;
    float *a = acts;
    for (int l = 0; l < nl; l++) {
        const sp_mlp_layer *L = &layers[l];
        if (l + 1 < nl) {
            sp_linear_forward(a, in, L->w, L->b, n, L->in, L->out);
            sp_relu_forward(a, a, n * L->out);
            in = a;
            a += n * L->out;
        } else {
            sp_linear_forward(y, in, L->w, L->b, n, L->in, L->out);
        }
    }
    free(own);
}

void sp_mlp_backward(float *dx, sp_mlp_grad *grads, const float *dy, const float *x,
                     const float *acts, size_t n, int nl, const sp_mlp_layer *layers)
{
    if (nl <= 0)
        return;
    /* the activations' offsets, and two gradient buffers of the widest layer */
    size_t width = 0;
    for (int l = 0; l < nl; l++)
        if ((size_t)layers[l].in > width)
            width = layers[l].in;
    float *g0 = sp_malloc(sizeof(float) * (n * width + 1));
    float *g1 = sp_malloc(sizeof(float) * (n * width + 1));
    const float *gout = dy;
    size_t off = sp_mlp_acts_size(n, nl, layers);
    for (int l = nl - 1; l >= 0; l--) {
        const sp_mlp_layer *L = &layers[l];
        const float *in = x;
        if (l > 0) {
            off -= n * layers[l - 1].out;
            in = acts + off;
        }
        float *gin = l > 0 ? (gout == g0 ? g1 : g0) : dx;
        sp_linear_backward(gin, grads ? grads[l].dw : NULL, grads ? grads[l].db : NULL, gout, in,
                           L->w, n, L->in, L->out);
        if (l > 0) /* through the ReLU that produced `in` */
            sp_relu_backward(gin, gin, in, n * L->in);
        gout = gin;
    }
    free(g0);
    free(g1);
}

/* Fully connected layers and the reference's MLP heads (model/tools.py
 * create_mlp): the regressors that predict every transformation's
 * parameters from the encoder's features, and the occlusion predictor.
 *
 * create_mlp(in, out, 128, n_layers) with n_layers = 2 (the reference's
 * default) is Linear(in, 128) -> identity norm -> ReLU -> Linear(128, 128)
 * -> ReLU -> Linear(128, out); n_layers = 0 is a single Linear.
 *
 * Matrix products go to OpenBLAS's sgemm on one thread (sp_blas.h): the
 * heads are small, and the callers parallelise over heads or images
 * themselves.  Results are deterministic (one thread, fixed order).
 * Backward functions overwrite their outputs; any output pointer may be
 * NULL when not wanted. */
#ifndef SP_MLP_H
#define SP_MLP_H

#include <stddef.h>

/* y [n,out] = x [n,in] @ w^T + b; w [out,in], b [out] (NULL: no bias). */
void sp_linear_forward(float *y, const float *x, const float *w, const float *b, size_t n,
                       int in, int out);
/* dx [n,in] = dy @ w, dw [out,in] = dy^T @ x, db [out] = sum_n dy. */
void sp_linear_backward(float *dx, float *dw, float *db, const float *dy, const float *x,
                        const float *w, size_t n, int in, int out);

/* One layer of an MLP: w [out,in], b [out]; gradients alike. */
typedef struct {
    const float *w, *b;
    int in, out;
} sp_mlp_layer;

typedef struct {
    float *dw, *db;
} sp_mlp_grad;

/* An MLP of nl layers, ReLU between them (not after the last): y [n,
 * layers[nl-1].out].  acts: n * sum of layers[0..nl-2].out floats, where the
 * forward keeps the hidden activations (after ReLU) for the backward; NULL
 * when not needed. */
size_t sp_mlp_acts_size(size_t n, int nl, const sp_mlp_layer *layers);
void sp_mlp_forward(float *y, float *acts, const float *x, size_t n, int nl,
                    const sp_mlp_layer *layers);
/* dx [n, layers[0].in] (or NULL), grads[l].dw / .db (or NULL) from dy, with
 * acts as the forward left it. */
void sp_mlp_backward(float *dx, sp_mlp_grad *grads, const float *dy, const float *x,
                     const float *acts, size_t n, int nl, const sp_mlp_layer *layers);

#endif

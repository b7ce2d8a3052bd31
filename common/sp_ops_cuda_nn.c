/* CUDA implementations of the network family (sp_ops_nn.c): relu, add,
 * conv2d (cuDNN), batchnorm2d (cuDNN; the eval-mode backward stays on the
 * CPU).  Pooling, the option-A shortcut and the whole encoders have no CUDA
 * implementation yet.  Checked on a GPU by make test-cuda (README, CUDA). */
#include "sp_ops_cuda.h"
#include "sp_conv.h"
#include "sp_error.h"
#include "sp_op.h"
#include "sp_ops_inputs.h"

#ifdef SP_HAVE_CUDA

/* ---- relu, add ---- */

static int relu_fwd(sp_map *out, const sp_map *in, const sp_op_attrs *a)
{
    (void)a;
    const sp_tensor *x = sp_op_input("relu", in, "x", SP_F32, -1);
    if (sp_cu_any_empty(1, x))
        return 0;
    float *y = sp_cu_buf(x->ndim, x->shape);
    sp_cuda_relu_forward(y, sp_cu_in(x), sp_tensor_numel(x));
    sp_cu_out(out, "y", y, x->ndim, x->shape);
    return 1;
}

static int relu_bwd(sp_map *grads, const sp_map *in, const sp_op_attrs *a)
{
    (void)a;
    const sp_tensor *x = sp_op_input("relu", in, "x", SP_F32, -1);
    const sp_tensor *dy = sp_opin_relu_dy(in, x);
    if (sp_cu_any_empty(1, x))
        return 0;
    float *dx = sp_cu_buf(x->ndim, x->shape);
    sp_cuda_relu_backward(dx, sp_cu_in(dy), sp_cu_in(x), sp_tensor_numel(x));
    sp_cu_out(grads, "dx", dx, x->ndim, x->shape);
    return 1;
}

static int add_fwd(sp_map *out, const sp_map *in, const sp_op_attrs *a)
{
    (void)a;
    const sp_tensor *b, *x = sp_opin_add(in, &b);
    if (sp_cu_any_empty(1, x))
        return 0;
    float *y = sp_cu_buf(x->ndim, x->shape);
    sp_cuda_add_forward(y, sp_cu_in(x), sp_cu_in(b), sp_tensor_numel(x));
    sp_cu_out(out, "y", y, x->ndim, x->shape);
    return 1;
}

static int add_bwd(sp_map *grads, const sp_map *in, const sp_op_attrs *a)
{
    (void)a;
    const sp_tensor *b, *x = sp_opin_add(in, &b);
    const sp_tensor *dy = sp_opin_add_dy(in, x);
    if (sp_cu_any_empty(1, x))
        return 0;
    float *d = sp_cu_in(dy);
    sp_cu_out(grads, "da", d, x->ndim, x->shape);
    sp_cu_out(grads, "db", d, x->ndim, x->shape);
    return 1;
}

/* ---- conv2d ---- */

static sp_cuda_conv_shape cu_shape(const sp_conv2d_desc *d)
{
    sp_cuda_conv_shape s = {d->n, d->c, d->h, d->w, d->o, d->kh, d->kw, d->sh, d->sw, d->ph, d->pw};
    return s;
}

static int conv_fwd(sp_map *out, const sp_map *in, const sp_op_attrs *a)
{
    const sp_tensor *x, *w, *b;
    sp_conv2d_desc d = sp_opin_conv(in, a, &x, &w, &b);
    if (d.n == 0)
        return 0;
    sp_cuda_conv_shape s = cu_shape(&d);
    int64_t ys[4] = {d.n, d.o, sp_conv2d_ho(&d), sp_conv2d_wo(&d)};
    float *y = sp_cu_buf(4, ys);
    sp_cuda_conv2d_forward(y, sp_cu_in(x), sp_cu_in(w), sp_cu_in(b), &s);
    sp_cu_out(out, "y", y, 4, ys);
    return 1;
}

static int conv_bwd(sp_map *grads, const sp_map *in, const sp_op_attrs *a)
{
    const sp_tensor *x, *w, *b;
    sp_conv2d_desc d = sp_opin_conv(in, a, &x, &w, &b);
    const sp_tensor *dy = sp_opin_conv_dy(in, &d);
    if (d.n == 0)
        return 0;
    sp_cuda_conv_shape s = cu_shape(&d);
    float *dx = sp_cu_buf(4, x->shape), *dw = sp_cu_buf(4, w->shape);
    float *db = b ? sp_cu_buf(1, b->shape) : NULL;
    sp_cuda_conv2d_backward(dx, dw, db, sp_cu_in(dy), sp_cu_in(x), sp_cu_in(w), &s);
    sp_cu_out(grads, "dx", dx, 4, x->shape);
    sp_cu_out(grads, "dweight", dw, 4, w->shape);
    if (db)
        sp_cu_out(grads, "dbias", db, 1, b->shape);
    return 1;
}

/* ---- batchnorm2d ---- */

/* cuDNN refuses an epsilon below CUDNN_BN_MIN_EPSILON (0 in cuDNN 9, 1e-5
 * in old versions): leave such cases, and empty ones, to the CPU. */
static int bn_takes(const sp_opin_bn *r) { return r->n * r->c * r->hw > 0 && r->eps >= 0.0f; }

static int bn_fwd(sp_map *out, const sp_map *in, const sp_op_attrs *a)
{
    sp_opin_bn r = sp_opin_batchnorm(in, a);
    if (!bn_takes(&r))
        return 0;
    int64_t cs[1] = {(int64_t)r.c};
    float *y = sp_cu_buf(r.x->ndim, r.x->shape), *sm = sp_cu_buf(1, cs), *si = sp_cu_buf(1, cs);
    float *rm = sp_cu_in(r.rm), *rv = sp_cu_in(r.rv);
    sp_cuda_batchnorm_forward(y, sm, si, rm, rv, sp_cu_in(r.x), sp_cu_in(r.g), sp_cu_in(r.b), r.n,
                              r.c, r.hw, r.training, r.momentum, r.eps);
    sp_cu_out(out, "y", y, r.x->ndim, r.x->shape);
    if (rm && r.training) {
        sp_cu_out(out, "new.running_mean", rm, 1, cs);
        sp_cu_out(out, "new.running_var", rv, 1, cs);
    }
    return 1;
}

static int bn_bwd(sp_map *grads, const sp_map *in, const sp_op_attrs *a)
{
    sp_opin_bn r = sp_opin_batchnorm(in, a);
    const sp_tensor *dy = sp_opin_grad("batchnorm2d", in, "dy", r.x->ndim, r.x->shape);
    if (!bn_takes(&r) || !r.training)
        return 0;
    int64_t cs[1] = {(int64_t)r.c};
    float *x = sp_cu_in(r.x), *g = sp_cu_in(r.g);
    float *y = sp_cu_buf(r.x->ndim, r.x->shape), *sm = sp_cu_buf(1, cs), *si = sp_cu_buf(1, cs);
    /* the forward again for the batch statistics (running stats on copies) */
    sp_cuda_batchnorm_forward(y, sm, si, sp_cu_in(r.rm), sp_cu_in(r.rv), x, g, sp_cu_in(r.b), r.n,
                              r.c, r.hw, 1, r.momentum, r.eps);
    float *dx = sp_cu_buf(r.x->ndim, r.x->shape);
    float *dg = r.g ? sp_cu_buf(1, cs) : NULL, *db = r.b ? sp_cu_buf(1, cs) : NULL;
    sp_cuda_batchnorm_backward(dx, dg, db, sp_cu_in(dy), x, g, sm, si, r.n, r.c, r.hw, r.eps);
    sp_cu_out(grads, "dx", dx, r.x->ndim, r.x->shape);
    if (dg)
        sp_cu_out(grads, "dweight", dg, 1, cs);
    if (db)
        sp_cu_out(grads, "dbias", db, 1, cs);
    return 1;
}

const sp_op_impl sp_ops_cuda_nn[] = {
    {"relu", relu_fwd, relu_bwd},
    {"conv2d", conv_fwd, conv_bwd},
    {"batchnorm2d", bn_fwd, bn_bwd},
    {"add", add_fwd, add_bwd},
    {0}};

#else
const sp_op_impl sp_ops_cuda_nn[] = {{0}};
#endif

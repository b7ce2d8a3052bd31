/* CUDA implementations of the network family (sp_ops_nn.c): relu, add,
 * conv2d (cuDNN), batchnorm2d (cuDNN; the eval-mode backward stays on the
 * CPU).  Pooling, the option-A shortcut and the whole encoders have no CUDA
 * implementation yet.  UNTESTED on a GPU (see README). */
#include "sp_ops_cuda.h"
#include "sp_conv.h"
#include "sp_error.h"
#include "sp_op.h"

#ifdef SP_HAVE_CUDA

static void same_shape(const char *op, const char *name, const sp_tensor *t, const sp_tensor *ref)
{
    char b1[128], b2[128];
    int ok = t->ndim == ref->ndim;
    for (int i = 0; ok && i < t->ndim; i++)
        ok = t->shape[i] == ref->shape[i];
    if (!ok)
        sp_fatal("%s: input '%s' is %s, expected the shape of %s", op, name,
                 sp_tensor_describe(t, b1, sizeof b1), sp_tensor_describe(ref, b2, sizeof b2));
}

static const sp_tensor *input4(const char *op, const sp_map *in, const char *name)
{
    const sp_tensor *x = sp_op_input(op, in, name, SP_F32, 4);
    for (int i = 1; i < 4; i++)
        if (x->shape[i] < 1 || x->shape[i] > (1 << 24))
            sp_fatal("%s: input '%s' has dimension %d = %lld, expected 1 to 2^24", op, name, i,
                     (long long)x->shape[i]);
    if (x->shape[0] > (1 << 24))
        sp_fatal("%s: input '%s' has %lld images, at most 2^24", op, name, (long long)x->shape[0]);
    return x;
}

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
    const sp_tensor *dy = sp_op_input("relu", in, "dy", SP_F32, x->ndim);
    for (int i = 0; i < x->ndim; i++)
        sp_op_check_dim("relu", "dy", dy, i, x->shape[i]);
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
    const sp_tensor *x = sp_op_input("add", in, "a", SP_F32, -1);
    const sp_tensor *b = sp_op_input("add", in, "b", SP_F32, -1);
    same_shape("add", "b", b, x);
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
    const sp_tensor *x = sp_op_input("add", in, "a", SP_F32, -1);
    const sp_tensor *b = sp_op_input("add", in, "b", SP_F32, -1);
    same_shape("add", "b", b, x);
    const sp_tensor *dy = sp_op_input("add", in, "dy", SP_F32, -1);
    same_shape("add", "dy", dy, x);
    if (sp_cu_any_empty(1, x))
        return 0;
    float *d = sp_cu_in(dy);
    sp_cu_out(grads, "da", d, x->ndim, x->shape);
    sp_cu_out(grads, "db", d, x->ndim, x->shape);
    return 1;
}

/* ---- conv2d ---- */

static sp_conv2d_desc conv_desc(const sp_map *in, const sp_op_attrs *a, const sp_tensor **x,
                                const sp_tensor **w, const sp_tensor **b)
{
    *x = input4("conv2d", in, "x");
    *w = input4("conv2d", in, "weight");
    *b = sp_op_input_opt("conv2d", in, "bias", SP_F32, 1);
    sp_op_check_dim("conv2d", "weight", *w, 1, (*x)->shape[1]);
    if (*b)
        sp_op_check_dim("conv2d", "bias", *b, 0, (*w)->shape[0]);
    int s = sp_attr_int(a, "stride"), p = sp_attr_int(a, "padding");
    int sw = sp_attr_int(a, "stride_w"), pw = sp_attr_int(a, "padding_w");
    sp_conv2d_desc d = {(int)(*x)->shape[0], (int)(*x)->shape[1], (int)(*x)->shape[2],
                        (int)(*x)->shape[3], (int)(*w)->shape[0], (int)(*w)->shape[2],
                        (int)(*w)->shape[3], s, sw < 0 ? s : sw, p, pw < 0 ? p : pw};
    const char *why = sp_conv2d_check(&d);
    if (why)
        sp_fatal("conv2d: x [%d,%d,%d,%d], weight [%d,%d,%d,%d], stride %dx%d, padding %dx%d: %s",
                 d.n, d.c, d.h, d.w, d.o, d.c, d.kh, d.kw, d.sh, d.sw, d.ph, d.pw, why);
    return d;
}

static sp_cuda_conv_shape cu_shape(const sp_conv2d_desc *d)
{
    sp_cuda_conv_shape s = {d->n, d->c, d->h, d->w, d->o, d->kh, d->kw, d->sh, d->sw, d->ph, d->pw};
    return s;
}

static int conv_fwd(sp_map *out, const sp_map *in, const sp_op_attrs *a)
{
    const sp_tensor *x, *w, *b;
    sp_conv2d_desc d = conv_desc(in, a, &x, &w, &b);
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
    sp_conv2d_desc d = conv_desc(in, a, &x, &w, &b);
    int64_t ys[4] = {d.n, d.o, sp_conv2d_ho(&d), sp_conv2d_wo(&d)};
    const sp_tensor *dy = sp_op_input("conv2d", in, "dy", SP_F32, 4);
    for (int i = 0; i < 4; i++)
        sp_op_check_dim("conv2d", "dy", dy, i, ys[i]);
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

typedef struct {
    const sp_tensor *x, *g, *b, *rm, *rv;
    size_t n, c, hw;
    int training;
    float momentum, eps;
} bn_args;

static bn_args bn_inputs(const sp_map *in, const sp_op_attrs *a)
{
    const char *op = "batchnorm2d";
    bn_args r;
    r.x = sp_op_input(op, in, "x", SP_F32, -1);
    if (r.x->ndim < 2)
        sp_fatal("%s: input 'x' has %d dimensions, expected [N,C,...]", op, r.x->ndim);
    r.n = (size_t)r.x->shape[0];
    r.c = (size_t)r.x->shape[1];
    r.hw = 1;
    for (int i = 2; i < r.x->ndim; i++)
        r.hw *= (size_t)r.x->shape[i];
    const char *names[4] = {"weight", "bias", "running_mean", "running_var"};
    const sp_tensor **ts[4] = {&r.g, &r.b, &r.rm, &r.rv};
    for (int i = 0; i < 4; i++) {
        *ts[i] = sp_op_input_opt(op, in, names[i], SP_F32, 1);
        if (*ts[i])
            sp_op_check_dim(op, names[i], *ts[i], 0, (int64_t)r.c);
    }
    if ((r.rm == NULL) != (r.rv == NULL))
        sp_fatal("%s: give both running_mean and running_var, or neither", op);
    r.training = sp_attr_int(a, "training") != 0;
    if (!r.training && !r.rm)
        sp_fatal("%s: eval mode (--training 0) needs running_mean and running_var", op);
    if (r.training && r.n * r.hw == 1)
        sp_fatal("%s: training needs more than 1 value per channel, got x with %zu", op, r.n * r.hw);
    r.momentum = (float)sp_attr_num(a, "momentum");
    r.eps = (float)sp_attr_num(a, "eps");
    return r;
}

/* cuDNN refuses an epsilon below CUDNN_BN_MIN_EPSILON (0 in cuDNN 9, 1e-5
 * in old versions): leave such cases, and empty ones, to the CPU. */
static int bn_takes(const bn_args *r) { return r->n * r->c * r->hw > 0 && r->eps >= 0.0f; }

static int bn_fwd(sp_map *out, const sp_map *in, const sp_op_attrs *a)
{
    bn_args r = bn_inputs(in, a);
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
    bn_args r = bn_inputs(in, a);
    const sp_tensor *dy = sp_op_input("batchnorm2d", in, "dy", SP_F32, r.x->ndim);
    for (int i = 0; i < r.x->ndim; i++)
        sp_op_check_dim("batchnorm2d", "dy", dy, i, r.x->shape[i]);
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

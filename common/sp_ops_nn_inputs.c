/* Input parsing of the network family's ops (sp_ops_inputs.h), shared by
 * sp_ops_nn.c and sp_ops_cuda_nn.c. */
#include "sp_error.h"
#include "sp_ops_inputs.h"

void sp_opin_same_shape(const char *op, const char *name, const sp_tensor *t, const sp_tensor *ref)
{
    char b1[128], b2[128];
    int ok = t->ndim == ref->ndim;
    for (int i = 0; ok && i < t->ndim; i++)
        ok = t->shape[i] == ref->shape[i];
    if (!ok)
        sp_fatal("%s: input '%s' is %s, expected the shape of %s", op, name,
                 sp_tensor_describe(t, b1, sizeof b1), sp_tensor_describe(ref, b2, sizeof b2));
}

const sp_tensor *sp_opin_input4(const char *op, const sp_map *in, const char *name)
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

const sp_tensor *sp_opin_relu_dy(const sp_map *in, const sp_tensor *x)
{
    return sp_opin_grad("relu", in, "dy", x->ndim, x->shape);
}

const sp_tensor *sp_opin_add(const sp_map *in, const sp_tensor **b)
{
    const sp_tensor *x = sp_op_input("add", in, "a", SP_F32, -1);
    *b = sp_op_input("add", in, "b", SP_F32, -1);
    sp_opin_same_shape("add", "b", *b, x);
    return x;
}

const sp_tensor *sp_opin_add_dy(const sp_map *in, const sp_tensor *x)
{
    const sp_tensor *dy = sp_op_input("add", in, "dy", SP_F32, -1);
    sp_opin_same_shape("add", "dy", dy, x);
    return dy;
}

/* ---- conv2d ---- */

sp_conv2d_desc sp_opin_conv(const sp_map *in, const sp_op_attrs *a, const sp_tensor **x,
                            const sp_tensor **w, const sp_tensor **b)
{
    *x = sp_opin_input4("conv2d", in, "x");
    *w = sp_opin_input4("conv2d", in, "weight");
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

const sp_tensor *sp_opin_conv_dy(const sp_map *in, const sp_conv2d_desc *d)
{
    int64_t ys[4] = {d->n, d->o, sp_conv2d_ho(d), sp_conv2d_wo(d)};
    return sp_opin_grad("conv2d", in, "dy", 4, ys);
}

/* ---- batchnorm2d ---- */

sp_opin_bn sp_opin_batchnorm(const sp_map *in, const sp_op_attrs *a)
{
    const char *op = "batchnorm2d";
    sp_opin_bn r;
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

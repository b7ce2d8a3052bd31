/* CUDA implementations of the composition family (sp_ops_compose.c):
 * clamp, sigmoid, compose, occlusion_grid, mse, adam, uniform_noise,
 * mask_noise.  Inputs are checked as the CPU entries check them; cases
 * with an empty tensor go to the CPU.  UNTESTED on a GPU (see README). */
#include "sp_ops_cuda.h"
#include "sp_clamp.h"
#include "sp_compose.h"
#include "sp_error.h"
#include "sp_op.h"

#include <stdint.h>
#include <string.h>

#ifdef SP_HAVE_CUDA

static void check_same(const char *op, const char *name, const sp_tensor *b, const sp_tensor *a)
{
    char b1[128], b2[128];
    int same = a->ndim == b->ndim;
    for (int i = 0; same && i < a->ndim; i++)
        same = a->shape[i] == b->shape[i];
    if (!same)
        sp_fatal("%s: input '%s' is %s, expected %s", op, name, sp_tensor_describe(b, b1, sizeof b1),
                 sp_tensor_describe(a, b2, sizeof b2));
}

/* ---- clamp, sigmoid ---- */

static sp_clamp clamp_attr(const sp_op_attrs *a)
{
    sp_clamp c;
    const char *kind = sp_attr_str(a, "kind");
    if (sp_clamp_parse(kind, &c) != 0)
        sp_fatal("clamp: --kind '%s': expected soft, softALPHA, clamp, diff or none", kind);
    return c;
}

static int clamp_fwd(sp_map *out, const sp_map *in, const sp_op_attrs *a)
{
    const sp_tensor *x = sp_op_input("clamp", in, "x", SP_F32, -1);
    sp_clamp c = clamp_attr(a);
    if (sp_cu_any_empty(1, x))
        return 0;
    float *dx = sp_cu_in(x), *dy = sp_cu_buf(x->ndim, x->shape);
    sp_cuda_clamp_forward(dy, dx, sp_tensor_numel(x), (int)c.kind, c.alpha);
    sp_cu_out(out, "y", dy, x->ndim, x->shape);
    return 1;
}

static int clamp_bwd(sp_map *grads, const sp_map *in, const sp_op_attrs *a)
{
    const sp_tensor *x = sp_op_input("clamp", in, "x", SP_F32, -1);
    const sp_tensor *dy = sp_op_input("clamp", in, "dy", SP_F32, -1);
    check_same("clamp", "dy", dy, x);
    sp_clamp c = clamp_attr(a);
    if (sp_cu_any_empty(1, x))
        return 0;
    float *gx = sp_cu_buf(x->ndim, x->shape);
    sp_cuda_clamp_backward(gx, sp_cu_in(dy), sp_cu_in(x), sp_tensor_numel(x), (int)c.kind, c.alpha);
    sp_cu_out(grads, "dx", gx, x->ndim, x->shape);
    return 1;
}

static int sigmoid_fwd(sp_map *out, const sp_map *in, const sp_op_attrs *a)
{
    (void)a;
    const sp_tensor *x = sp_op_input("sigmoid", in, "x", SP_F32, -1);
    if (sp_cu_any_empty(1, x))
        return 0;
    float *y = sp_cu_buf(x->ndim, x->shape);
    sp_cuda_sigmoid_forward(y, sp_cu_in(x), sp_tensor_numel(x));
    sp_cu_out(out, "y", y, x->ndim, x->shape);
    return 1;
}

static int sigmoid_bwd(sp_map *grads, const sp_map *in, const sp_op_attrs *a)
{
    (void)a;
    const sp_tensor *x = sp_op_input("sigmoid", in, "x", SP_F32, -1);
    const sp_tensor *dy = sp_op_input("sigmoid", in, "dy", SP_F32, -1);
    check_same("sigmoid", "dy", dy, x);
    if (sp_cu_any_empty(1, x))
        return 0;
    float *gx = sp_cu_buf(x->ndim, x->shape);
    sp_cuda_sigmoid_backward(gx, sp_cu_in(dy), sp_cu_in(x), sp_tensor_numel(x));
    sp_cu_out(grads, "dx", gx, x->ndim, x->shape);
    return 1;
}

/* ---- compose ---- */

typedef struct {
    const sp_tensor *layers, *masks, *bg, *occ;
    size_t L, N, C, hw;
} compose_in;

static compose_in compose_inputs(const sp_map *in)
{
    const char *op = "compose";
    compose_in c;
    c.layers = sp_op_input(op, in, "layers", SP_F32, 5);
    c.L = (size_t)c.layers->shape[0];
    c.N = (size_t)c.layers->shape[1];
    c.C = (size_t)c.layers->shape[2];
    c.hw = (size_t)(c.layers->shape[3] * c.layers->shape[4]);
    c.masks = sp_op_input(op, in, "masks", SP_F32, 5);
    int64_t mshape[5] = {c.layers->shape[0], c.layers->shape[1], 1, c.layers->shape[3],
                         c.layers->shape[4]};
    for (int i = 0; i < 5; i++)
        sp_op_check_dim(op, "masks", c.masks, i, mshape[i]);
    c.bg = sp_op_input_opt(op, in, "background", SP_F32, 4);
    if (c.bg)
        for (int i = 0; i < 4; i++)
            sp_op_check_dim(op, "background", c.bg, i, c.layers->shape[i + 1]);
    c.occ = sp_op_input_opt(op, in, "occlusion", SP_F32, 3);
    if (c.occ) {
        sp_op_check_dim(op, "occlusion", c.occ, 0, (int64_t)c.N);
        sp_op_check_dim(op, "occlusion", c.occ, 1, (int64_t)c.L);
        sp_op_check_dim(op, "occlusion", c.occ, 2, (int64_t)c.L);
    }
    if (c.L > SP_COMPOSE_MAX_LAYERS)
        sp_fatal("%s: %zu layers, at most %d supported", op, c.L, SP_COMPOSE_MAX_LAYERS);
    return c;
}

static int compose_fwd(sp_map *out, const sp_map *in, const sp_op_attrs *a)
{
    (void)a;
    compose_in c = compose_inputs(in);
    if (sp_cu_any_empty(1, c.layers) || c.L == 0)
        return 0;
    float *y = sp_cu_buf(4, c.layers->shape + 1);
    sp_cuda_compose_forward(y, sp_cu_in(c.layers), sp_cu_in(c.masks), sp_cu_in(c.bg),
                            sp_cu_in(c.occ), c.L, c.N, c.C, c.hw);
    sp_cu_out(out, "y", y, 4, c.layers->shape + 1);
    return 1;
}

static int compose_bwd(sp_map *grads, const sp_map *in, const sp_op_attrs *a)
{
    (void)a;
    compose_in c = compose_inputs(in);
    const sp_tensor *dy = sp_op_input("compose", in, "dy", SP_F32, 4);
    for (int i = 0; i < 4; i++)
        sp_op_check_dim("compose", "dy", dy, i, c.layers->shape[i + 1]);
    if (sp_cu_any_empty(1, c.layers) || c.L == 0)
        return 0;
    float *dl = sp_cu_buf(5, c.layers->shape), *dm = sp_cu_buf(5, c.masks->shape);
    float *db = c.bg ? sp_cu_buf(4, c.bg->shape) : NULL;
    float *dO = c.occ ? sp_cu_buf(3, c.occ->shape) : NULL;
    sp_cuda_compose_backward(dl, dm, db, dO, sp_cu_in(dy), sp_cu_in(c.layers), sp_cu_in(c.masks),
                             sp_cu_in(c.bg), sp_cu_in(c.occ), c.L, c.N, c.C, c.hw);
    sp_cu_out(grads, "dlayers", dl, 5, c.layers->shape);
    sp_cu_out(grads, "dmasks", dm, 5, c.masks->shape);
    if (db)
        sp_cu_out(grads, "dbackground", db, 4, c.bg->shape);
    if (dO)
        sp_cu_out(grads, "docclusion", dO, 3, c.occ->shape);
    return 1;
}

/* ---- occlusion_grid ---- */

static size_t occ_layers(const sp_tensor *z, const sp_op_attrs *a)
{
    int L = sp_attr_int(a, "layers");
    size_t np = (size_t)z->shape[1];
    if (L < 0)
        sp_fatal("occlusion_grid: --layers %d is negative", L);
    if (L == 0) {
        while ((size_t)L * (size_t)(L - (L > 0)) / 2 < np)
            L++;
        if (L == 0)
            L = 1;
    }
    if ((size_t)L * (size_t)(L - 1) / 2 != np)
        sp_fatal("occlusion_grid: input 'logits' has %zu values per image, %d layers need %d", np,
                 L, L * (L - 1) / 2);
    return (size_t)L;
}

static int occ_fwd(sp_map *out, const sp_map *in, const sp_op_attrs *a)
{
    const sp_tensor *z = sp_op_input("occlusion_grid", in, "logits", SP_F32, 2);
    size_t L = occ_layers(z, a);
    if (z->shape[0] == 0 || L < 2)
        return 0;
    int64_t os[3] = {z->shape[0], (int64_t)L, (int64_t)L};
    float *o = sp_cu_buf(3, os);
    sp_cuda_occlusion_grid_forward(o, sp_cu_in(z), (size_t)z->shape[0], L);
    sp_cu_out(out, "occ", o, 3, os);
    return 1;
}

static int occ_bwd(sp_map *grads, const sp_map *in, const sp_op_attrs *a)
{
    const sp_tensor *z = sp_op_input("occlusion_grid", in, "logits", SP_F32, 2);
    size_t L = occ_layers(z, a);
    const sp_tensor *d = sp_op_input("occlusion_grid", in, "docc", SP_F32, 3);
    sp_op_check_dim("occlusion_grid", "docc", d, 0, z->shape[0]);
    sp_op_check_dim("occlusion_grid", "docc", d, 1, (int64_t)L);
    sp_op_check_dim("occlusion_grid", "docc", d, 2, (int64_t)L);
    if (z->shape[0] == 0 || L < 2)
        return 0;
    float *dz = sp_cu_buf(2, z->shape);
    sp_cuda_occlusion_grid_backward(dz, sp_cu_in(d), sp_cu_in(z), (size_t)z->shape[0], L);
    sp_cu_out(grads, "dlogits", dz, 2, z->shape);
    return 1;
}

/* ---- mse ---- */

static void mse_inputs(const sp_map *in, const sp_tensor **x, const sp_tensor **t, size_t *N,
                       size_t *D)
{
    *x = sp_op_input("mse", in, "x", SP_F32, -1);
    *t = sp_op_input("mse", in, "target", SP_F32, -1);
    if ((*x)->ndim < 1)
        sp_fatal("mse: input 'x' needs a first dimension (images)");
    check_same("mse", "target", *t, *x);
    *N = (size_t)(*x)->shape[0];
    *D = 1;
    for (int i = 1; i < (*x)->ndim; i++)
        *D *= (size_t)(*x)->shape[i];
}

static int mse_fwd(sp_map *out, const sp_map *in, const sp_op_attrs *a)
{
    (void)a;
    const sp_tensor *x, *t;
    size_t N, D;
    mse_inputs(in, &x, &t, &N, &D);
    if (N == 0 || D == 0)
        return 0;
    int64_t ds[1] = {(int64_t)N};
    float *dist = sp_cu_buf(1, ds);
    sp_tensor *loss = sp_tensor_new(SP_F32, 0, NULL);
    sp_cuda_mse_forward(dist, sp_f32(loss), sp_cu_in(x), sp_cu_in(t), N, D);
    sp_cu_out(out, "dist", dist, 1, ds);
    sp_map_put_tensor(out, "loss", loss);
    return 1;
}

static int mse_bwd(sp_map *grads, const sp_map *in, const sp_op_attrs *a)
{
    (void)a;
    const sp_tensor *x, *t;
    size_t N, D;
    mse_inputs(in, &x, &t, &N, &D);
    const sp_tensor *dd = sp_op_input_opt("mse", in, "ddist", SP_F32, 1);
    const sp_tensor *dl = sp_op_input_opt("mse", in, "dloss", SP_F32, -1);
    if (dd)
        sp_op_check_dim("mse", "ddist", dd, 0, (int64_t)N);
    if (dl && sp_tensor_numel(dl) != 1)
        sp_fatal("mse: input 'dloss' must hold one value");
    if (N == 0 || D == 0)
        return 0;
    float *gx = sp_cu_buf(x->ndim, x->shape), *gt = sp_cu_buf(t->ndim, t->shape);
    sp_cuda_mse_backward(gx, gt, sp_cu_in(dd), dl ? sp_f32(dl)[0] : 0.0f, sp_cu_in(x), sp_cu_in(t),
                         N, D);
    sp_cu_out(grads, "dx", gx, x->ndim, x->shape);
    sp_cu_out(grads, "dtarget", gt, t->ndim, t->shape);
    return 1;
}

/* ---- adam ---- */

static int adam_fwd(sp_map *out, const sp_map *in, const sp_op_attrs *a)
{
    const char *op = "adam";
    const sp_tensor *p = sp_op_input(op, in, "param", SP_F32, -1);
    const sp_tensor *g = sp_op_input(op, in, "grad", SP_F32, -1);
    const sp_tensor *m = sp_op_input(op, in, "m", SP_F32, -1);
    const sp_tensor *v = sp_op_input(op, in, "v", SP_F32, -1);
    check_same(op, "grad", g, p);
    check_same(op, "m", m, p);
    check_same(op, "v", v, p);
    double step = sp_attr_num(a, "step");
    int times = sp_attr_int(a, "times");
    if (step < 1 || step != (double)(int64_t)step)
        sp_fatal("adam: --step %g: expected the update's number, an integer >= 1", step);
    if (times < 1)
        sp_fatal("adam: --times %d: expected >= 1", times);
    if (sp_cu_any_empty(1, p))
        return 0;
    float *dp = sp_cu_in(p), *dm = sp_cu_in(m), *dv = sp_cu_in(v), *dg = sp_cu_in(g);
    size_t n = sp_tensor_numel(p);
    for (int t = 0; t < times; t++) /* as sp_adam_step_repeated */
        sp_cuda_adam_step(dp, dm, dv, dg, n, (int64_t)step + t, sp_attr_num(a, "lr"),
                          sp_attr_num(a, "beta1"), sp_attr_num(a, "beta2"), sp_attr_num(a, "eps"),
                          sp_attr_num(a, "weight_decay"));
    sp_cu_out(out, "param_out", dp, p->ndim, p->shape);
    sp_cu_out(out, "m_out", dm, p->ndim, p->shape);
    sp_cu_out(out, "v_out", dv, p->ndim, p->shape);
    return 1;
}

/* ---- noise ---- */

static uint64_t u64_attr(const char *op, const sp_op_attrs *a, const char *name)
{
    double v = sp_attr_num(a, name);
    if (v < 0 || v != (double)(uint64_t)v || v > 9007199254740992.0)
        sp_fatal("%s: --%s %g: expected an integer in [0, 2^53]", op, name, v);
    return (uint64_t)v;
}

static int uniform_fwd(sp_map *out, const sp_map *in, const sp_op_attrs *a)
{
    (void)in;
    const char *op = "uniform_noise";
    int64_t shape[SP_MAX_DIMS];
    const char *s = sp_attr_str(a, "shape");
    int nd = sp_int_list_parse(s, shape, SP_MAX_DIMS, 0, SP_MAX_DIM);
    if (nd < 0)
        sp_fatal("%s: --shape '%s': expected sizes separated by commas (\"2,3,4,4\")", op, s);
    uint64_t seed = u64_attr(op, a, "seed"), stream = u64_attr(op, a, "stream");
    uint64_t index = u64_attr(op, a, "index");
    size_t n = sp_shape_numel(nd, shape);
    if (n == 0 || n == (size_t)-1)
        return 0;
    float *y = sp_cu_buf(nd, shape);
    sp_cuda_uniform_noise(y, n, sp_attr_num(a, "low"), sp_attr_num(a, "high"), seed, stream, index);
    sp_cu_out(out, "y", y, nd, shape);
    return 1;
}

static void mask_noise_inputs(const sp_map *in, const sp_tensor **m, const sp_tensor **cv,
                              const sp_tensor **u)
{
    const char *op = "mask_noise";
    *m = sp_op_input(op, in, "mask", SP_F32, 6);
    *cv = sp_op_input(op, in, "canvas", SP_F32, 6);
    *u = sp_op_input(op, in, "u", SP_F32, 4);
    check_same(op, "canvas", *cv, *m);
    sp_op_check_dim(op, "mask", *m, 3, 1);
    sp_op_check_dim(op, "u", *u, 0, (*m)->shape[1]);
    sp_op_check_dim(op, "u", *u, 1, 1);
    sp_op_check_dim(op, "u", *u, 2, (*m)->shape[4]);
    sp_op_check_dim(op, "u", *u, 3, (*m)->shape[5]);
}

static int mask_noise_fwd(sp_map *out, const sp_map *in, const sp_op_attrs *a)
{
    const sp_tensor *m, *cv, *u;
    mask_noise_inputs(in, &m, &cv, &u);
    if (sp_cu_any_empty(1, m))
        return 0;
    float *y = sp_cu_buf(6, m->shape);
    sp_cuda_mask_noise(y, sp_cu_in(m), sp_cu_in(cv), sp_cu_in(u), sp_attr_num(a, "amplitude"),
                       (size_t)m->shape[0], (size_t)m->shape[1], (size_t)m->shape[2],
                       (size_t)(m->shape[4] * m->shape[5]));
    sp_cu_out(out, "y", y, 6, m->shape);
    return 1;
}

static int mask_noise_bwd(sp_map *grads, const sp_map *in, const sp_op_attrs *a)
{
    const sp_tensor *m, *cv, *u;
    mask_noise_inputs(in, &m, &cv, &u);
    const sp_tensor *dy = sp_op_input("mask_noise", in, "dy", SP_F32, 6);
    check_same("mask_noise", "dy", dy, m);
    if (sp_cu_any_empty(1, m))
        return 0;
    float *ddy = sp_cu_in(dy), *dc = sp_cu_buf(6, m->shape);
    sp_cuda_mask_noise(dc, NULL, ddy, sp_cu_in(u), sp_attr_num(a, "amplitude"), (size_t)m->shape[0],
                       (size_t)m->shape[1], (size_t)m->shape[2], (size_t)(m->shape[4] * m->shape[5]));
    sp_cu_out(grads, "dmask", ddy, 6, m->shape); /* dmask = dy */
    sp_cu_out(grads, "dcanvas", dc, 6, m->shape);
    return 1;
}

const sp_op_impl sp_ops_cuda_compose[] = {
    {"clamp", clamp_fwd, clamp_bwd},
    {"sigmoid", sigmoid_fwd, sigmoid_bwd},
    {"compose", compose_fwd, compose_bwd},
    {"occlusion_grid", occ_fwd, occ_bwd},
    {"mse", mse_fwd, mse_bwd},
    {"adam", adam_fwd, NULL},
    {"uniform_noise", uniform_fwd, NULL},
    {"mask_noise", mask_noise_fwd, mask_noise_bwd},
    {0}};

#else
const sp_op_impl sp_ops_cuda_compose[] = {{0}};
#endif

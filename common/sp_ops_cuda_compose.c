/* CUDA implementations of the composition family (sp_ops_compose.c):
 * clamp, sigmoid, compose, occlusion_grid, mse, adam, uniform_noise,
 * mask_noise.  Inputs are checked as the CPU entries check them; cases
 * with an empty tensor go to the CPU.  Checked on a GPU by make test-cuda. */
#include "sp_ops_cuda.h"
#include "sp_clamp.h"
#include "sp_compose.h"
#include "sp_error.h"
#include "sp_op.h"
#include "sp_ops_inputs.h"

#include <stdint.h>
#include <string.h>

#ifdef SP_HAVE_CUDA

/* ---- clamp, sigmoid ---- */

static int clamp_fwd(sp_map *out, const sp_map *in, const sp_op_attrs *a)
{
    const sp_tensor *x = sp_op_input("clamp", in, "x", SP_F32, -1);
    sp_clamp c = sp_opin_clamp_attr(a);
    if (sp_cu_any_empty(1, x))
        return 0;
    float *dx = sp_cu_in(x), *dy = sp_cu_buf(x->ndim, x->shape);
    sp_cuda_clamp_forward(dy, dx, sp_tensor_numel(x), (int)c.kind, c.alpha);
    sp_cu_out(out, "y", dy, x->ndim, x->shape);
    return 1;
}

static int clamp_bwd(sp_map *grads, const sp_map *in, const sp_op_attrs *a)
{
    const sp_tensor *x, *dy = sp_opin_unary_bwd("clamp", in, &x);
    sp_clamp c = sp_opin_clamp_attr(a);
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
    const sp_tensor *x, *dy = sp_opin_unary_bwd("sigmoid", in, &x);
    if (sp_cu_any_empty(1, x))
        return 0;
    float *gx = sp_cu_buf(x->ndim, x->shape);
    sp_cuda_sigmoid_backward(gx, sp_cu_in(dy), sp_cu_in(x), sp_tensor_numel(x));
    sp_cu_out(grads, "dx", gx, x->ndim, x->shape);
    return 1;
}

/* ---- compose ---- */

static int compose_fwd(sp_map *out, const sp_map *in, const sp_op_attrs *a)
{
    (void)a;
    sp_opin_compose_in c = sp_opin_compose(in);
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
    sp_opin_compose_in c = sp_opin_compose(in);
    const sp_tensor *dy = sp_opin_compose_dy(in, &c);
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

static int occ_fwd(sp_map *out, const sp_map *in, const sp_op_attrs *a)
{
    size_t L;
    const sp_tensor *z = sp_opin_occ(in, a, &L);
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
    size_t L;
    const sp_tensor *z = sp_opin_occ(in, a, &L);
    const sp_tensor *d = sp_opin_occ_grad(in, z, L);
    if (z->shape[0] == 0 || L < 2)
        return 0;
    float *dz = sp_cu_buf(2, z->shape);
    sp_cuda_occlusion_grid_backward(dz, sp_cu_in(d), sp_cu_in(z), (size_t)z->shape[0], L);
    sp_cu_out(grads, "dlogits", dz, 2, z->shape);
    return 1;
}

/* ---- mse ---- */

static int mse_fwd(sp_map *out, const sp_map *in, const sp_op_attrs *a)
{
    (void)a;
    const sp_tensor *x, *t;
    size_t N, D;
    sp_opin_mse(in, &x, &t, &N, &D);
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
    const sp_tensor *dd, *dl;
    sp_opin_mse_bwd(in, &x, &t, &N, &D, &dd, &dl);
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
    const sp_tensor *p, *g, *m, *v;
    double step;
    int times;
    sp_opin_adam(in, a, &p, &g, &m, &v, &step, &times);
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

static int uniform_fwd(sp_map *out, const sp_map *in, const sp_op_attrs *a)
{
    (void)in;
    int64_t shape[SP_MAX_DIMS];
    uint64_t seed, stream, index;
    int nd = sp_opin_uniform(a, shape, &seed, &stream, &index);
    size_t n = sp_shape_numel(nd, shape);
    if (n == 0 || n == (size_t)-1)
        return 0;
    float *y = sp_cu_buf(nd, shape);
    sp_cuda_uniform_noise(y, n, sp_attr_num(a, "low"), sp_attr_num(a, "high"), seed, stream, index);
    sp_cu_out(out, "y", y, nd, shape);
    return 1;
}

static int mask_noise_fwd(sp_map *out, const sp_map *in, const sp_op_attrs *a)
{
    const sp_tensor *m, *cv, *u;
    sp_opin_mask_noise(in, &m, &cv, &u);
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
    sp_opin_mask_noise(in, &m, &cv, &u);
    const sp_tensor *dy = sp_opin_mask_noise_dy(in, m);
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

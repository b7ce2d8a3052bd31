/* Registry entries of composition, loss, optimiser and initialisation ops
 * (see sp_op.h for the conventions).  Each entry checks its inputs,
 * allocates the outputs and calls the typed function of the family's header:
 * sp_clamp.h, sp_sigmoid.h, sp_compose.h, sp_loss.h, sp_optim.h, sp_init.h. */
#include "sp_clamp.h"
#include "sp_compose.h"
#include "sp_error.h"
#include "sp_init.h"
#include "sp_loss.h"
#include "sp_op.h"
#include "sp_optim.h"
#include "sp_sigmoid.h"

#include <stdlib.h>
#include <string.h>

/* Fatal unless b has a's shape. */
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

static sp_tensor *new_like(const sp_tensor *t) { return sp_tensor_new(SP_F32, t->ndim, t->shape); }

/* ------------------------------------------------------------ clamp, sigmoid */

static sp_clamp clamp_attr(const sp_op_attrs *a)
{
    sp_clamp c;
    const char *kind = sp_attr_str(a, "kind");
    if (sp_clamp_parse(kind, &c) != 0)
        sp_fatal("clamp: --kind '%s': expected soft, softALPHA, clamp, diff or none", kind);
    return c;
}

static void clamp_fwd(sp_map *out, const sp_map *in, const sp_op_attrs *a)
{
    const sp_tensor *x = sp_op_input("clamp", in, "x", SP_F32, -1);
    sp_tensor *y = new_like(x);
    sp_clamp_forward(sp_f32(y), sp_f32(x), sp_tensor_numel(x), clamp_attr(a));
    sp_map_put_tensor(out, "y", y);
}

static void clamp_bwd(sp_map *grads, const sp_map *in, const sp_op_attrs *a)
{
    const sp_tensor *x = sp_op_input("clamp", in, "x", SP_F32, -1);
    const sp_tensor *dy = sp_op_input("clamp", in, "dy", SP_F32, -1);
    check_same("clamp", "dy", dy, x);
    sp_tensor *dx = new_like(x);
    sp_clamp_backward(sp_f32(dx), sp_f32(dy), sp_f32(x), sp_tensor_numel(x), clamp_attr(a));
    sp_map_put_tensor(grads, "dx", dx);
}

static void sigmoid_fwd(sp_map *out, const sp_map *in, const sp_op_attrs *a)
{
    (void)a;
    const sp_tensor *x = sp_op_input("sigmoid", in, "x", SP_F32, -1);
    sp_tensor *y = new_like(x);
    sp_sigmoid_forward(sp_f32(y), sp_f32(x), sp_tensor_numel(x));
    sp_map_put_tensor(out, "y", y);
}

static void sigmoid_bwd(sp_map *grads, const sp_map *in, const sp_op_attrs *a)
{
    (void)a;
    const sp_tensor *x = sp_op_input("sigmoid", in, "x", SP_F32, -1);
    const sp_tensor *dy = sp_op_input("sigmoid", in, "dy", SP_F32, -1);
    check_same("sigmoid", "dy", dy, x);
    sp_tensor *dx = new_like(x);
    sp_sigmoid_backward(sp_f32(dx), sp_f32(dy), sp_f32(x), sp_tensor_numel(x));
    sp_map_put_tensor(grads, "dx", dx);
}

/* ---------------------------------------------------------------- compose */

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

static const float *f32_or_null(const sp_tensor *t) { return t ? sp_f32(t) : NULL; }

static void compose_fwd(sp_map *out, const sp_map *in, const sp_op_attrs *a)
{
    (void)a;
    compose_in c = compose_inputs(in);
    sp_tensor *y = sp_tensor_new(SP_F32, 4, c.layers->shape + 1);
    sp_compose_forward(sp_f32(y), sp_f32(c.layers), sp_f32(c.masks), f32_or_null(c.bg),
                       f32_or_null(c.occ), c.L, c.N, c.C, c.hw);
    sp_map_put_tensor(out, "y", y);
}

static void compose_bwd(sp_map *grads, const sp_map *in, const sp_op_attrs *a)
{
    (void)a;
    compose_in c = compose_inputs(in);
    const sp_tensor *dy = sp_op_input("compose", in, "dy", SP_F32, 4);
    for (int i = 0; i < 4; i++)
        sp_op_check_dim("compose", "dy", dy, i, c.layers->shape[i + 1]);
    sp_tensor *dl = new_like(c.layers), *dm = new_like(c.masks);
    sp_tensor *db = c.bg ? new_like(c.bg) : NULL, *dot_ = c.occ ? new_like(c.occ) : NULL;
    sp_compose_backward(sp_f32(dl), sp_f32(dm), db ? sp_f32(db) : NULL, dot_ ? sp_f32(dot_) : NULL,
                        sp_f32(dy), sp_f32(c.layers), sp_f32(c.masks), f32_or_null(c.bg),
                        f32_or_null(c.occ), c.L, c.N, c.C, c.hw);
    sp_map_put_tensor(grads, "dlayers", dl);
    sp_map_put_tensor(grads, "dmasks", dm);
    if (db)
        sp_map_put_tensor(grads, "dbackground", db);
    if (dot_)
        sp_map_put_tensor(grads, "docclusion", dot_);
}

/* L from the attribute, or from the number of logits L(L-1)/2. */
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

static void occ_fwd(sp_map *out, const sp_map *in, const sp_op_attrs *a)
{
    const sp_tensor *z = sp_op_input("occlusion_grid", in, "logits", SP_F32, 2);
    size_t L = occ_layers(z, a);
    sp_tensor *o = sp_tensor_newv(SP_F32, 3, z->shape[0], (int64_t)L, (int64_t)L);
    sp_occlusion_grid_forward(sp_f32(o), sp_f32(z), (size_t)z->shape[0], L);
    sp_map_put_tensor(out, "occ", o);
}

static void occ_bwd(sp_map *grads, const sp_map *in, const sp_op_attrs *a)
{
    const sp_tensor *z = sp_op_input("occlusion_grid", in, "logits", SP_F32, 2);
    size_t L = occ_layers(z, a);
    const sp_tensor *d = sp_op_input("occlusion_grid", in, "docc", SP_F32, 3);
    sp_op_check_dim("occlusion_grid", "docc", d, 0, z->shape[0]);
    sp_op_check_dim("occlusion_grid", "docc", d, 1, (int64_t)L);
    sp_op_check_dim("occlusion_grid", "docc", d, 2, (int64_t)L);
    sp_tensor *dz = new_like(z);
    sp_occlusion_grid_backward(sp_f32(dz), sp_f32(d), sp_f32(z), (size_t)z->shape[0], L);
    sp_map_put_tensor(grads, "dlogits", dz);
}

/* -------------------------------------------------------------------- mse */

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

static void mse_fwd(sp_map *out, const sp_map *in, const sp_op_attrs *a)
{
    (void)a;
    const sp_tensor *x, *t;
    size_t N, D;
    mse_inputs(in, &x, &t, &N, &D);
    sp_tensor *dist = sp_tensor_newv(SP_F32, 1, (int64_t)N), *loss = sp_tensor_new(SP_F32, 0, NULL);
    sp_mse_forward(sp_f32(dist), sp_f32(loss), sp_f32(x), sp_f32(t), N, D);
    sp_map_put_tensor(out, "dist", dist);
    sp_map_put_tensor(out, "loss", loss);
}

static void mse_bwd(sp_map *grads, const sp_map *in, const sp_op_attrs *a)
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
    sp_tensor *dx = new_like(x), *dt = new_like(t);
    sp_mse_backward(sp_f32(dx), sp_f32(dt), dd ? sp_f32(dd) : NULL, dl ? sp_f32(dl)[0] : 0.0f,
                    sp_f32(x), sp_f32(t), N, D);
    sp_map_put_tensor(grads, "dx", dx);
    sp_map_put_tensor(grads, "dtarget", dt);
}

/* ------------------------------------------------------------------- adam */

static void adam_fwd(sp_map *out, const sp_map *in, const sp_op_attrs *a)
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
    sp_tensor *po = sp_tensor_copy(p), *mo = sp_tensor_copy(m), *vo = sp_tensor_copy(v);
    sp_adam_step_repeated(sp_f32(po), sp_f32(mo), sp_f32(vo), sp_f32(g), sp_tensor_numel(p),
                          (int64_t)step, times, sp_attr_num(a, "lr"), sp_attr_num(a, "beta1"),
                          sp_attr_num(a, "beta2"), sp_attr_num(a, "eps"),
                          sp_attr_num(a, "weight_decay"));
    sp_map_put_tensor(out, "param_out", po);
    sp_map_put_tensor(out, "m_out", mo);
    sp_map_put_tensor(out, "v_out", vo);
}

static void multistep_fwd(sp_map *out, const sp_map *in, const sp_op_attrs *a)
{
    (void)in;
    int64_t ms[64];
    const char *s = sp_attr_str(a, "milestones");
    int n = sp_int_list_parse(s, ms, 64, INT64_MIN, INT64_MAX);
    if (n < 0)
        sp_fatal("multistep_lr: --milestones '%s': expected integers separated by commas", s);
    double epoch = sp_attr_num(a, "epoch");
    if (epoch != (double)(int64_t)epoch)
        sp_fatal("multistep_lr: --epoch %g is not an integer", epoch);
    sp_tensor *lr = sp_tensor_new(SP_F32, 0, NULL);
    sp_f32(lr)[0] = (float)sp_multistep_lr(sp_attr_num(a, "base_lr"), sp_attr_num(a, "gamma"), ms,
                                           n, (int64_t)epoch);
    sp_map_put_tensor(out, "lr", lr);
}

/* ---------------------------------------------------------- init and noise */

static size_t nonneg_int(const char *op, const sp_op_attrs *a, const char *name)
{
    double v = sp_attr_num(a, name);
    if (v < 0 || v != (double)(int64_t)v || v > 1e9)
        sp_fatal("%s: --%s %g: expected a non-negative integer", op, name, v);
    return (size_t)v;
}

static void gaussian_fwd(sp_map *out, const sp_map *in, const sp_op_attrs *a)
{
    (void)in;
    const char *op = "gaussian_init";
    size_t h = nonneg_int(op, a, "height"), w = nonneg_int(op, a, "width");
    size_t c = nonneg_int(op, a, "channels");
    double std = sp_attr_num(a, "std");
    if (!(std > 0))
        sp_fatal("%s: --std %g: expected a positive number", op, std);
    sp_tensor *y = sp_tensor_newv(SP_F32, 3, (int64_t)c, (int64_t)h, (int64_t)w);
    sp_gaussian_weights(sp_f32(y), c, h, w, std);
    sp_map_put_tensor(out, "y", y);
}

static uint64_t u64_attr(const char *op, const sp_op_attrs *a, const char *name)
{
    double v = sp_attr_num(a, name);
    if (v < 0 || v != (double)(uint64_t)v || v > 9007199254740992.0)
        sp_fatal("%s: --%s %g: expected an integer in [0, 2^53]", op, name, v);
    return (uint64_t)v;
}

static void uniform_fwd(sp_map *out, const sp_map *in, const sp_op_attrs *a)
{
    (void)in;
    const char *op = "uniform_noise";
    int64_t shape[SP_MAX_DIMS];
    const char *s = sp_attr_str(a, "shape");
    int nd = sp_int_list_parse(s, shape, SP_MAX_DIMS, 0, SP_MAX_DIM);
    if (nd < 0)
        sp_fatal("%s: --shape '%s': expected sizes separated by commas (\"2,3,4,4\")", op, s);
    sp_tensor *y = sp_tensor_new(SP_F32, nd, shape);
    sp_uniform_noise(sp_f32(y), sp_tensor_numel(y), sp_attr_num(a, "low"), sp_attr_num(a, "high"),
                     u64_attr(op, a, "seed"), u64_attr(op, a, "stream"), u64_attr(op, a, "index"));
    sp_map_put_tensor(out, "y", y);
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

static void mask_noise_fwd(sp_map *out, const sp_map *in, const sp_op_attrs *a)
{
    const sp_tensor *m, *cv, *u;
    mask_noise_inputs(in, &m, &cv, &u);
    sp_tensor *y = new_like(m);
    sp_mask_noise_forward(sp_f32(y), sp_f32(m), sp_f32(cv), sp_f32(u), sp_attr_num(a, "amplitude"),
                          (size_t)m->shape[0], (size_t)m->shape[1], (size_t)m->shape[2],
                          (size_t)(m->shape[4] * m->shape[5]));
    sp_map_put_tensor(out, "y", y);
}

static void mask_noise_bwd(sp_map *grads, const sp_map *in, const sp_op_attrs *a)
{
    const sp_tensor *m, *cv, *u;
    mask_noise_inputs(in, &m, &cv, &u);
    const sp_tensor *dy = sp_op_input("mask_noise", in, "dy", SP_F32, 6);
    check_same("mask_noise", "dy", dy, m);
    sp_tensor *dm = new_like(m), *dc = new_like(cv);
    sp_mask_noise_backward(sp_f32(dm), sp_f32(dc), sp_f32(dy), sp_f32(u),
                           sp_attr_num(a, "amplitude"), (size_t)m->shape[0], (size_t)m->shape[1],
                           (size_t)m->shape[2], (size_t)(m->shape[4] * m->shape[5]));
    sp_map_put_tensor(grads, "dmask", dm);
    sp_map_put_tensor(grads, "dcanvas", dc);
}

/* ------------------------------------------------------------------ table */

static const sp_op_attr clamp_attrs[] = {
    {"kind", 's', "soft",
     "the reference's get_clamp_func name: soft (alpha 0.01), softALPHA, clamp (hard), diff "
     "(hard, gradient passed through), none"},
    {0}};
static const sp_op_attr occ_attrs[] = {
    {"layers", 'n', "0", "number of layers L (0: from the L(L-1)/2 logits per image)"}, {0}};
static const sp_op_attr adam_attrs[] = {
    {"step", 'n', "1", "number of this update, from 1 (torch's state step after the increment)"},
    {"times", 'n', "1",
     "updates with the same gradient (a parameter appearing that many times in one torch "
     "param group; steps step .. step+times-1)"},
    {"lr", 'n', "0.001", "learning rate"},
    {"beta1", 'n', "0.9", "first-moment decay"},
    {"beta2", 'n', "0.999", "second-moment decay"},
    {"eps", 'n', "1e-8", "added to the bias-corrected sqrt of the second moment"},
    {"weight_decay", 'n', "0", "L2 penalty added to the gradient (torch Adam, not AdamW)"},
    {0}};
static const sp_op_attr multistep_attrs[] = {
    {"base_lr", 'n', "0.001", "initial learning rate"},
    {"gamma", 'n', "0.1", "decay factor per milestone"},
    {"milestones", 's', "", "epochs at which the rate decays, \"100,200\""},
    {"epoch", 'n', "0", "scheduler steps taken (training epoch - 1)"},
    {0}};
static const sp_op_attr gaussian_attrs[] = {
    {"height", 'n', "1", "rows"},
    {"width", 'n', "1", "columns"},
    {"channels", 'n', "1", "copies of the map"},
    {"std", 'n', "1", "standard deviation in pixels (the config's gaussian_weights_std)"},
    {0}};
static const sp_op_attr uniform_attrs[] = {
    {"seed", 'n', "0", "Philox key"},
    {"stream", 'n', "0", "Philox stream"},
    {"index", 'n', "0", "index of the first value in the stream"},
    {"shape", 's', "", "sizes separated by commas, \"2,3,4,4\" (empty: one value)"},
    {"low", 'n', "0", "lower bound"},
    {"high", 'n', "1", "upper bound (excluded)"},
    {0}};
static const sp_op_attr mask_noise_attrs[] = {
    {"amplitude", 'n', "0.4", "the config's inject_noise a: noise 2 a u - a"}, {0}};

const sp_op_def sp_ops_compose[] = {
    {"clamp", "the reference's clamp functions (soft by default)", "x", "y", "x",
     "x f32 [any] -> y f32 [same]", clamp_attrs, clamp_fwd, clamp_bwd},
    {"sigmoid", "logistic sigmoid, y = 1 / (1 + exp(-x))", "x", "y", "x",
     "x f32 [any] -> y f32 [same]", NULL, sigmoid_fwd, sigmoid_bwd},
    {"compose",
     "layered alpha composition, back to front, with an optional occlusion matrix (paper Eq. 2)",
     "layers,masks,background,occlusion", "y", "layers,masks,background,occlusion",
     "layers f32 [L,N,C,H,W]; masks f32 [L,N,1,H,W]; background f32 [N,C,H,W] optional (absent: "
     "none); occlusion f32 [N,L,L] optional, occ[n][j][k] = how much layer j covers layer k "
     "(absent: j covers k when j > k) -> y f32 [N,C,H,W]",
     NULL, compose_fwd, compose_bwd},
    {"occlusion_grid",
     "occlusion matrix from the predictor's logits: sigmoid into the lower triangle, 1 - "
     "transpose above, 0 on the diagonal",
     "logits", "occ", "logits",
     "logits f32 [N,L(L-1)/2] (torch.tril_indices(L,L,-1) order) -> occ f32 [N,L,L]", occ_attrs,
     occ_fwd, occ_bwd},
    {"mse", "per-image mean squared error and its mean over images (the reference's criterion)",
     "x,target", "dist,loss", "x,target",
     "x f32 [N,...]; target f32 [N,...] -> dist f32 [N] (mean over all but N); loss f32 [] (mean "
     "of dist)",
     NULL, mse_fwd, mse_bwd},
    {"adam", "one torch.optim.Adam update (L2 weight decay), repeated --times times", "param,grad,m,v",
     "param_out,m_out,v_out", "",
     "param, grad, m, v f32 [any, same] -> param_out, m_out, v_out f32 [same]", adam_attrs,
     adam_fwd, NULL},
    {"multistep_lr", "MultiStepLR: base_lr * gamma^(milestones <= epoch)", "", "lr", "",
     "-> lr f32 []", multistep_attrs, multistep_fwd, NULL},
    {"gaussian_init", "the reference's create_gaussian_weights (Gaussian mask initialisation)", "",
     "y", "", "-> y f32 [channels,height,width]", gaussian_attrs, gaussian_fwd, NULL},
    {"uniform_noise", "uniform noise in [low, high) from Philox 4x32-10", "", "y", "",
     "-> y f32 [shape]", uniform_attrs, uniform_fwd, NULL},
    {"mask_noise",
     "the reference's mask-noise injection before its clamp: y = mask + canvas * (2 a u - a)",
     "mask,canvas,u", "y", "mask,canvas",
     "mask f32 [L,K,N,1,H,W]; canvas f32 [same] (the warped ones channel); u f32 [K,1,H,W] "
     "uniform in [0,1), one map per sprite -> y f32 [L,K,N,1,H,W]",
     mask_noise_attrs, mask_noise_fwd, mask_noise_bwd},
    {0}};

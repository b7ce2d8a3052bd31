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
#include "sp_ops_inputs.h"
#include "sp_optim.h"
#include "sp_sigmoid.h"

#include <stdlib.h>
#include <string.h>

static sp_tensor *new_like(const sp_tensor *t) { return sp_tensor_new(SP_F32, t->ndim, t->shape); }

/* ------------------------------------------------------------ clamp, sigmoid */

static void clamp_fwd(sp_map *out, const sp_map *in, const sp_op_attrs *a)
{
    const sp_tensor *x = sp_op_input("clamp", in, "x", SP_F32, -1);
    sp_tensor *y = new_like(x);
    sp_clamp_forward(sp_f32(y), sp_f32(x), sp_tensor_numel(x), sp_opin_clamp_attr(a));
    sp_map_put_tensor(out, "y", y);
}

static void clamp_bwd(sp_map *grads, const sp_map *in, const sp_op_attrs *a)
{
    const sp_tensor *x, *dy = sp_opin_unary_bwd("clamp", in, &x);
    sp_tensor *dx = new_like(x);
    sp_clamp_backward(sp_f32(dx), sp_f32(dy), sp_f32(x), sp_tensor_numel(x), sp_opin_clamp_attr(a));
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
    const sp_tensor *x, *dy = sp_opin_unary_bwd("sigmoid", in, &x);
    sp_tensor *dx = new_like(x);
    sp_sigmoid_backward(sp_f32(dx), sp_f32(dy), sp_f32(x), sp_tensor_numel(x));
    sp_map_put_tensor(grads, "dx", dx);
}

/* ---------------------------------------------------------------- compose */

static const float *f32_or_null(const sp_tensor *t) { return t ? sp_f32(t) : NULL; }

static void compose_fwd(sp_map *out, const sp_map *in, const sp_op_attrs *a)
{
    (void)a;
    sp_opin_compose_in c = sp_opin_compose(in);
    sp_tensor *y = sp_tensor_new(SP_F32, 4, c.layers->shape + 1);
    sp_compose_forward(sp_f32(y), sp_f32(c.layers), sp_f32(c.masks), f32_or_null(c.bg),
                       f32_or_null(c.occ), c.L, c.N, c.C, c.hw);
    sp_map_put_tensor(out, "y", y);
}

static void compose_bwd(sp_map *grads, const sp_map *in, const sp_op_attrs *a)
{
    (void)a;
    sp_opin_compose_in c = sp_opin_compose(in);
    const sp_tensor *dy = sp_opin_compose_dy(in, &c);
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

static void occ_fwd(sp_map *out, const sp_map *in, const sp_op_attrs *a)
{
    size_t L;
    const sp_tensor *z = sp_opin_occ(in, a, &L);
    sp_tensor *o = sp_tensor_newv(SP_F32, 3, z->shape[0], (int64_t)L, (int64_t)L);
    sp_occlusion_grid_forward(sp_f32(o), sp_f32(z), (size_t)z->shape[0], L);
    sp_map_put_tensor(out, "occ", o);
}

static void occ_bwd(sp_map *grads, const sp_map *in, const sp_op_attrs *a)
{
    size_t L;
    const sp_tensor *z = sp_opin_occ(in, a, &L);
    const sp_tensor *d = sp_opin_occ_grad(in, z, L);
    sp_tensor *dz = new_like(z);
    sp_occlusion_grid_backward(sp_f32(dz), sp_f32(d), sp_f32(z), (size_t)z->shape[0], L);
    sp_map_put_tensor(grads, "dlogits", dz);
}

/* -------------------------------------------------------------------- mse */

static void mse_fwd(sp_map *out, const sp_map *in, const sp_op_attrs *a)
{
    (void)a;
    const sp_tensor *x, *t;
    size_t N, D;
    sp_opin_mse(in, &x, &t, &N, &D);
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
    const sp_tensor *dd, *dl;
    sp_opin_mse_bwd(in, &x, &t, &N, &D, &dd, &dl);
    sp_tensor *dx = new_like(x), *dt = new_like(t);
    sp_mse_backward(sp_f32(dx), sp_f32(dt), dd ? sp_f32(dd) : NULL, dl ? sp_f32(dl)[0] : 0.0f,
                    sp_f32(x), sp_f32(t), N, D);
    sp_map_put_tensor(grads, "dx", dx);
    sp_map_put_tensor(grads, "dtarget", dt);
}

/* ------------------------------------------------------------------- adam */

static void adam_fwd(sp_map *out, const sp_map *in, const sp_op_attrs *a)
{
    const sp_tensor *p, *g, *m, *v;
    double step;
    int times;
    sp_opin_adam(in, a, &p, &g, &m, &v, &step, &times);
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

static void uniform_fwd(sp_map *out, const sp_map *in, const sp_op_attrs *a)
{
    (void)in;
    int64_t shape[SP_MAX_DIMS];
    uint64_t seed, stream, index;
    int nd = sp_opin_uniform(a, shape, &seed, &stream, &index);
    sp_tensor *y = sp_tensor_new(SP_F32, nd, shape);
    sp_uniform_noise(sp_f32(y), sp_tensor_numel(y), sp_attr_num(a, "low"), sp_attr_num(a, "high"),
                     seed, stream, index);
    sp_map_put_tensor(out, "y", y);
}

static void mask_noise_fwd(sp_map *out, const sp_map *in, const sp_op_attrs *a)
{
    const sp_tensor *m, *cv, *u;
    sp_opin_mask_noise(in, &m, &cv, &u);
    sp_tensor *y = new_like(m);
    sp_mask_noise_forward(sp_f32(y), sp_f32(m), sp_f32(cv), sp_f32(u), sp_attr_num(a, "amplitude"),
                          (size_t)m->shape[0], (size_t)m->shape[1], (size_t)m->shape[2],
                          (size_t)(m->shape[4] * m->shape[5]));
    sp_map_put_tensor(out, "y", y);
}

static void mask_noise_bwd(sp_map *grads, const sp_map *in, const sp_op_attrs *a)
{
    const sp_tensor *m, *cv, *u;
    sp_opin_mask_noise(in, &m, &cv, &u);
    const sp_tensor *dy = sp_opin_mask_noise_dy(in, m);
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

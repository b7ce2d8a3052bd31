/* Registry entries of the geometry ops: grids, grid_sample, the reference's
 * transformations, and the MLP heads that predict their parameters.  Each
 * entry checks its inputs, allocates its outputs and calls the typed
 * functions of sp_warp.h, sp_tsf.h and sp_mlp.h. */
#include "sp_error.h"
#include "sp_mlp.h"
#include "sp_op.h"
#include "sp_ops_inputs.h"
#include "sp_tsf.h"
#include "sp_tsf_seq.h"
#include "sp_warp.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- helpers ------------------------------------------------------------------ */

/* ---- affine_grid ------------------------------------------------------------------ */

static const sp_op_attr grid_attrs[] = {
    {"height", 'n', "1", "output height H"},
    {"width", 'n', "1", "output width W"},
    {0}};

static void affine_grid_fwd(sp_map *out, const sp_map *in, const sp_op_attrs *a)
{
    const sp_tensor *th = sp_opin_theta("affine_grid", in, "theta", 2, 3);
    int h = sp_opin_attr_size("affine_grid", a, "height"), w = sp_opin_attr_size("affine_grid", a, "width");
    sp_tensor *g = sp_tensor_newv(SP_F32, 4, th->shape[0], (int64_t)h, (int64_t)w, (int64_t)2);
    sp_affine_grid_forward(sp_f32(g), sp_f32(th), (size_t)th->shape[0], h, w);
    sp_map_put_tensor(out, "grid", g);
}

static void affine_grid_bwd(sp_map *grads, const sp_map *in, const sp_op_attrs *a)
{
    const sp_tensor *th = sp_opin_theta("affine_grid", in, "theta", 2, 3);
    int h = sp_opin_attr_size("affine_grid", a, "height"), w = sp_opin_attr_size("affine_grid", a, "width");
    int64_t gs[4] = {th->shape[0], h, w, 2};
    const sp_tensor *dg = sp_opin_grad("affine_grid", in, "dgrid", 4, gs);
    sp_tensor *dth = sp_tensor_new(SP_F32, 3, th->shape);
    sp_affine_grid_backward(sp_f32(dth), sp_f32(dg), (size_t)th->shape[0], h, w);
    sp_map_put_tensor(grads, "dtheta", dth);
}

/* ---- homography_grid ----------------------------------------------------------------- */

static void homography_grid_fwd(sp_map *out, const sp_map *in, const sp_op_attrs *a)
{
    const sp_tensor *hm = sp_opin_theta("homography_grid", in, "hom", 3, 3);
    int h = sp_opin_attr_size("homography_grid", a, "height"), w = sp_opin_attr_size("homography_grid", a, "width");
    sp_tensor *g = sp_tensor_newv(SP_F32, 4, hm->shape[0], (int64_t)h, (int64_t)w, (int64_t)2);
    sp_homography_grid_forward(sp_f32(g), sp_f32(hm), (size_t)hm->shape[0], h, w);
    sp_map_put_tensor(out, "grid", g);
}

static void homography_grid_bwd(sp_map *grads, const sp_map *in, const sp_op_attrs *a)
{
    const sp_tensor *hm = sp_opin_theta("homography_grid", in, "hom", 3, 3);
    int h = sp_opin_attr_size("homography_grid", a, "height"), w = sp_opin_attr_size("homography_grid", a, "width");
    int64_t gs[4] = {hm->shape[0], h, w, 2};
    const sp_tensor *dg = sp_opin_grad("homography_grid", in, "dgrid", 4, gs);
    sp_tensor *dh = sp_tensor_new(SP_F32, 3, hm->shape);
    sp_homography_grid_backward(sp_f32(dh), sp_f32(dg), sp_f32(hm), (size_t)hm->shape[0], h, w);
    sp_map_put_tensor(grads, "dhom", dh);
}

/* ---- tps_grid ------------------------------------------------------------------------- */

static void tps_grid_fwd(sp_map *out, const sp_map *in, const sp_op_attrs *a)
{
    int g;
    const sp_tensor *p = sp_opin_tps_points(in, &g);
    int h = sp_opin_attr_size("tps_grid", a, "height"), w = sp_opin_attr_size("tps_grid", a, "width");
    sp_tensor *gr = sp_tensor_newv(SP_F32, 4, p->shape[0], (int64_t)h, (int64_t)w, (int64_t)2);
    sp_tps_grid_forward(sp_f32(gr), sp_f32(p), (size_t)p->shape[0], h, w, g);
    sp_map_put_tensor(out, "grid", gr);
}

static void tps_grid_bwd(sp_map *grads, const sp_map *in, const sp_op_attrs *a)
{
    int g;
    const sp_tensor *p = sp_opin_tps_points(in, &g);
    int h = sp_opin_attr_size("tps_grid", a, "height"), w = sp_opin_attr_size("tps_grid", a, "width");
    int64_t gs[4] = {p->shape[0], h, w, 2};
    const sp_tensor *dg = sp_opin_grad("tps_grid", in, "dgrid", 4, gs);
    sp_tensor *dp = sp_tensor_new(SP_F32, 3, p->shape);
    sp_tps_grid_backward(sp_f32(dp), sp_f32(dg), (size_t)p->shape[0], h, w, g);
    sp_map_put_tensor(grads, "dpoints", dp);
}

/* ---- grid_sample ----------------------------------------------------------------------- */

static const sp_op_attr sample_attrs[] = {
    {"padding", 's', "zeros", "zeros | border: what is read outside the input"},
    {0}};

static void grid_sample_fwd(sp_map *out, const sp_map *in, const sp_op_attrs *a)
{
    const sp_tensor *x, *grid;
    sp_warp_shape s = sp_opin_grid_sample(in, a, &x, &grid);
    sp_tensor *y = sp_tensor_newv(SP_F32, 4, (int64_t)s.n, (int64_t)s.c, (int64_t)s.h, (int64_t)s.w);
    sp_grid_sample_forward(sp_f32(y), sp_f32(x), sp_f32(grid), &s);
    sp_map_put_tensor(out, "y", y);
}

static void grid_sample_bwd(sp_map *grads, const sp_map *in, const sp_op_attrs *a)
{
    const sp_tensor *x, *grid;
    sp_warp_shape s = sp_opin_grid_sample(in, a, &x, &grid);
    int64_t ys[4] = {(int64_t)s.n, s.c, s.h, s.w};
    const sp_tensor *dy = sp_opin_grad("grid_sample", in, "dy", 4, ys);
    sp_tensor *dx = sp_tensor_new(SP_F32, 4, x->shape), *dg = sp_tensor_new(SP_F32, 4, grid->shape);
    sp_grid_sample_backward(sp_f32(dx), sp_f32(dg), sp_f32(dy), sp_f32(x), sp_f32(grid), &s);
    sp_map_put_tensor(grads, "dx", dx);
    sp_map_put_tensor(grads, "dgrid", dg);
}

/* ---- warp_affine: affine_grid + grid_sample fused ---------------------------------------- */

static const sp_op_attr warp_affine_attrs[] = {
    {"height", 'n', "0", "output height (0: the input's)"},
    {"width", 'n', "0", "output width (0: the input's)"},
    {"padding", 's', "zeros", "zeros | border"},
    {0}};

static void warp_affine_fwd(sp_map *out, const sp_map *in, const sp_op_attrs *a)
{
    const sp_tensor *x, *th;
    sp_warp_shape s = sp_opin_warp_affine(in, a, &x, &th);
    sp_tensor *y = sp_tensor_newv(SP_F32, 4, (int64_t)s.n, (int64_t)s.c, (int64_t)s.h, (int64_t)s.w);
    sp_warp_affine_forward(sp_f32(y), sp_f32(x), sp_f32(th), &s);
    sp_map_put_tensor(out, "y", y);
}

static void warp_affine_bwd(sp_map *grads, const sp_map *in, const sp_op_attrs *a)
{
    const sp_tensor *x, *th;
    sp_warp_shape s = sp_opin_warp_affine(in, a, &x, &th);
    int64_t ys[4] = {(int64_t)s.n, s.c, s.h, s.w};
    const sp_tensor *dy = sp_opin_grad("warp_affine", in, "dy", 4, ys);
    sp_tensor *dx = sp_tensor_new(SP_F32, 4, x->shape), *dth = sp_tensor_new(SP_F32, 3, th->shape);
    sp_warp_affine_backward(sp_f32(dx), sp_f32(dth), sp_f32(dy), sp_f32(x), sp_f32(th), &s);
    sp_map_put_tensor(grads, "dx", dx);
    sp_map_put_tensor(grads, "dtheta", dth);
}

/* ---- spatial transformations ------------------------------------------------------------ */

static const sp_op_attr warp_attrs[] = {
    {"height", 'n', "0", "output height (0: the input's)"},
    {"width", 'n', "0", "output width (0: the input's)"},
    {"padding", 's', "zeros", "zeros (sprites) | border (backgrounds)"},
    {0}};

typedef void (*tsf_fwd_fn)(float *, const float *, const float *, const sp_warp_shape *);
typedef void (*tsf_bwd_fn)(float *, float *, const float *, const float *, const float *,
                           const sp_warp_shape *);

static void warp_fwd(const char *op, int P, tsf_fwd_fn fn, sp_map *out, const sp_map *in,
                     const sp_op_attrs *a)
{
    const sp_tensor *x, *b;
    int g = 0;
    sp_warp_shape s = sp_opin_warp(op, in, a, P, &x, &b, &g);
    sp_tensor *y = sp_tensor_newv(SP_F32, 4, (int64_t)s.n, (int64_t)s.c, (int64_t)s.h, (int64_t)s.w);
    if (P < 0)
        sp_tsf_tps_forward(sp_f32(y), sp_f32(x), sp_f32(b), g, &s);
    else
        fn(sp_f32(y), sp_f32(x), sp_f32(b), &s);
    sp_map_put_tensor(out, "y", y);
}

static void warp_bwd(const char *op, int P, tsf_bwd_fn fn, sp_map *grads, const sp_map *in,
                     const sp_op_attrs *a)
{
    const sp_tensor *x, *b;
    int g = 0;
    sp_warp_shape s = sp_opin_warp(op, in, a, P, &x, &b, &g);
    int64_t ys[4] = {(int64_t)s.n, s.c, s.h, s.w};
    const sp_tensor *dy = sp_opin_grad(op, in, "dy", 4, ys);
    sp_tensor *dx = sp_tensor_new(SP_F32, 4, x->shape), *db = sp_tensor_new(SP_F32, 2, b->shape);
    if (P < 0)
        sp_tsf_tps_backward(sp_f32(dx), sp_f32(db), sp_f32(dy), sp_f32(x), sp_f32(b), g, &s);
    else
        fn(sp_f32(dx), sp_f32(db), sp_f32(dy), sp_f32(x), sp_f32(b), &s);
    sp_map_put_tensor(grads, "dx", dx);
    sp_map_put_tensor(grads, "dbeta", db);
}

#define WARP_OP(NAME, P, FN)                                                                    \
    static void NAME##_fwd(sp_map *out, const sp_map *in, const sp_op_attrs *a)                 \
    {                                                                                           \
        warp_fwd(#NAME, P, sp_##NAME##_forward, out, in, a);                                    \
    }                                                                                           \
    static void NAME##_bwd(sp_map *grads, const sp_map *in, const sp_op_attrs *a)               \
    {                                                                                           \
        warp_bwd(#NAME, P, sp_##NAME##_backward, grads, in, a);                                 \
    }
WARP_OP(tsf_position, SP_TSF_POSITION_P, position)
WARP_OP(tsf_similarity, SP_TSF_SIMILARITY_P, similarity)
WARP_OP(tsf_affine, SP_TSF_AFFINE_P, affine)
WARP_OP(tsf_projective, SP_TSF_PROJECTIVE_P, projective)

static void tsf_tps_fwd(sp_map *out, const sp_map *in, const sp_op_attrs *a)
{
    warp_fwd("tsf_tps", -1, NULL, out, in, a);
}
static void tsf_tps_bwd(sp_map *grads, const sp_map *in, const sp_op_attrs *a)
{
    warp_bwd("tsf_tps", -1, NULL, grads, in, a);
}

/* ---- identity ------------------------------------------------------------------------------ */

static void tsf_identity_fwd(sp_map *out, const sp_map *in, const sp_op_attrs *a)
{
    (void)a;
    const sp_tensor *x = sp_opin_identity(in);
    sp_map_put_tensor(out, "y", sp_tensor_copy(x));
}

static void tsf_identity_bwd(sp_map *grads, const sp_map *in, const sp_op_attrs *a)
{
    (void)a;
    const sp_tensor *x = sp_op_input("tsf_identity", in, "x", SP_F32, 4);
    const sp_tensor *dy = sp_opin_grad("tsf_identity", in, "dy", 4, x->shape);
    sp_map_put_tensor(grads, "dx", sp_tensor_copy(dy));
}

/* ---- colour ---------------------------------------------------------------------------------- */

static const sp_op_attr color_attrs[] = {
    {"color_channels", 'n', "3", "colour channels cc (the image's channels); beta is [N, 2 cc]"},
    {"clamp", 's', "soft", "soft | softALPHA | clamp | diff | none (get_clamp_func's names)"},
    {0}};

static void color_setup(const sp_map *in, const sp_op_attrs *a, const sp_tensor **x,
                        const sp_tensor **b, int *cc, int *cout, sp_clamp *cl)
{
    *x = sp_op_input("tsf_color", in, "x", SP_F32, 4);
    *cc = sp_attr_int(a, "color_channels");
    if (*cc < 1 || *cc > 64)
        sp_fatal("tsf_color: attribute --color_channels: %d, expected 1 to 64", *cc);
    *b = sp_opin_beta("tsf_color", in, *x, 2 * *cc);
    const char *cn = sp_attr_str(a, "clamp");
    if (sp_clamp_parse(cn, cl))
        sp_fatal("tsf_color: attribute --clamp: '%s' is not one of soft, softALPHA, clamp, diff, none",
                 cn);
    *cout = sp_tsf_color_channels((int)(*x)->shape[1], *cc);
    if (*cout < 0) {
        char buf[96];
        sp_fatal("tsf_color: input 'x' is %s, expected %d colour channels (or 1 with 3), then "
                 "mask channels",
                 sp_tensor_describe(*x, buf, sizeof buf), *cc);
    }
}

static void tsf_color_fwd(sp_map *out, const sp_map *in, const sp_op_attrs *a)
{
    const sp_tensor *x, *b;
    int cc, cout;
    sp_clamp cl;
    color_setup(in, a, &x, &b, &cc, &cout, &cl);
    sp_tensor *y = sp_tensor_newv(SP_F32, 4, x->shape[0], (int64_t)cout, x->shape[2], x->shape[3]);
    sp_tsf_color_forward(sp_f32(y), sp_f32(x), sp_f32(b), (size_t)x->shape[0], (int)x->shape[1], cc,
                         (size_t)(x->shape[2] * x->shape[3]), cl);
    sp_map_put_tensor(out, "y", y);
}

static void tsf_color_bwd(sp_map *grads, const sp_map *in, const sp_op_attrs *a)
{
    const sp_tensor *x, *b;
    int cc, cout;
    sp_clamp cl;
    color_setup(in, a, &x, &b, &cc, &cout, &cl);
    int64_t ys[4] = {x->shape[0], cout, x->shape[2], x->shape[3]};
    const sp_tensor *dy = sp_opin_grad("tsf_color", in, "dy", 4, ys);
    sp_tensor *dx = sp_tensor_new(SP_F32, 4, x->shape), *db = sp_tensor_new(SP_F32, 2, b->shape);
    sp_tsf_color_backward(sp_f32(dx), sp_f32(db), sp_f32(dy), sp_f32(x), sp_f32(b),
                          (size_t)x->shape[0], (int)x->shape[1], cc,
                          (size_t)(x->shape[2] * x->shape[3]), cl);
    sp_map_put_tensor(grads, "dx", dx);
    sp_map_put_tensor(grads, "dbeta", db);
}

/* ---- morphological ------------------------------------------------------------------------------ */

static int morpho_setup(const sp_map *in, const sp_tensor **x, const sp_tensor **b)
{
    *x = sp_op_input("tsf_morpho", in, "x", SP_F32, 4);
    *b = sp_opin_beta("tsf_morpho", in, *x, -1);
    int64_t P = (*b)->shape[1] - 1;
    int k = (int)llround(sqrt((double)(P > 0 ? P : 0)));
    if (P < 1 || (int64_t)k * k != P || k % 2 == 0 || k > 15)
        sp_fatal("tsf_morpho: input 'beta' has %lld values per image, expected 1 + k^2 with k odd "
                 "(1 to 15)",
                 (long long)(*b)->shape[1]);
    return k;
}

static void tsf_morpho_fwd(sp_map *out, const sp_map *in, const sp_op_attrs *a)
{
    (void)a;
    const sp_tensor *x, *b;
    int k = morpho_setup(in, &x, &b);
    sp_tensor *y = sp_tensor_new(SP_F32, 4, x->shape);
    sp_tsf_morpho_forward(sp_f32(y), sp_f32(x), sp_f32(b), (size_t)x->shape[0], (int)x->shape[1],
                          (int)x->shape[2], (int)x->shape[3], k);
    sp_map_put_tensor(out, "y", y);
}

static void tsf_morpho_bwd(sp_map *grads, const sp_map *in, const sp_op_attrs *a)
{
    (void)a;
    const sp_tensor *x, *b;
    int k = morpho_setup(in, &x, &b);
    const sp_tensor *dy = sp_opin_grad("tsf_morpho", in, "dy", 4, x->shape);
    sp_tensor *dx = sp_tensor_new(SP_F32, 4, x->shape), *db = sp_tensor_new(SP_F32, 2, b->shape);
    sp_tsf_morpho_backward(sp_f32(dx), sp_f32(db), sp_f32(dy), sp_f32(x), sp_f32(b),
                           (size_t)x->shape[0], (int)x->shape[1], (int)x->shape[2],
                           (int)x->shape[3], k);
    sp_map_put_tensor(grads, "dx", dx);
    sp_map_put_tensor(grads, "dbeta", db);
}

/* ---- sequence ------------------------------------------------------------------------------------ */

static const sp_op_attr seq_attrs[] = {
    {"sequence", 's', "identity", "module names joined by _, e.g. color_projective_tps"},
    {"height", 'n', "0", "the modules' img_size: output height of spatial modules (0: the input's)"},
    {"width", 'n', "0", "output width of spatial modules (0: the input's)"},
    {"padding", 's', "zeros", "zeros (sprites) | border (backgrounds)"},
    {"color_channels", 'n', "3", "ColorModule's colour channels"},
    {"clamp", 's', "soft", "ColorModule's clamp (get_clamp_func's names)"},
    {"grid_size", 'n', "4", "TPS lattice side"},
    {"kernel_size", 'n', "3", "MorphologicalModule's window"},
    {0}};

static void seq_setup(const sp_map *in, const sp_op_attrs *a, sp_tsf_seq *q, const sp_tensor **x,
                      const sp_tensor **b, int out[3])
{
    const char *op = "tsf_sequence";
    sp_tsf_seq_defaults(q);
    const char *name = sp_attr_str(a, "sequence");
    if (sp_tsf_seq_parse(q, name))
        sp_fatal("%s: attribute --sequence: '%s' is not a sequence of at most %d of id, color, "
                 "position, similarity, affine, projective, tps, morpho joined by _",
                 op, name, SP_TSF_SEQ_MAX);
    *x = sp_opin_image(op, in, "x");
    sp_opin_out_size(op, a, *x, &q->h, &q->w);
    q->pad = sp_opin_attr_padding(op, a);
    q->color_channels = sp_attr_int(a, "color_channels");
    if (q->color_channels < 1 || q->color_channels > 64)
        sp_fatal("%s: attribute --color_channels: %d, expected 1 to 64", op, q->color_channels);
    const char *cn = sp_attr_str(a, "clamp");
    if (sp_clamp_parse(cn, &q->clamp))
        sp_fatal("%s: attribute --clamp: '%s' is not one of soft, softALPHA, clamp, diff, none", op, cn);
    q->grid_size = sp_attr_int(a, "grid_size");
    if (q->grid_size < 2 || q->grid_size > SP_TPS_MAX_G)
        sp_fatal("%s: attribute --grid_size: %d, expected 2 to %d", op, q->grid_size, SP_TPS_MAX_G);
    q->kernel_size = sp_attr_int(a, "kernel_size");
    if (q->kernel_size < 1 || q->kernel_size > 15 || q->kernel_size % 2 == 0)
        sp_fatal("%s: attribute --kernel_size: %d, expected odd 1 to 15", op, q->kernel_size);
    *b = sp_opin_beta(op, in, *x, sp_tsf_seq_params(q));
    if (sp_tsf_seq_shape(q, (int)(*x)->shape[1], (int)(*x)->shape[2], (int)(*x)->shape[3], &out[0],
                         &out[1], &out[2])) {
        char buf[96];
        sp_fatal("%s: input 'x' is %s, which the colour module cannot take (%d colour channels)",
                 op, sp_tensor_describe(*x, buf, sizeof buf), q->color_channels);
    }
}

static void tsf_sequence_fwd(sp_map *out, const sp_map *in, const sp_op_attrs *a)
{
    sp_tsf_seq q;
    const sp_tensor *x, *b;
    int o[3];
    seq_setup(in, a, &q, &x, &b, o);
    sp_tensor *y = sp_tensor_newv(SP_F32, 4, x->shape[0], (int64_t)o[0], (int64_t)o[1], (int64_t)o[2]);
    sp_tsf_seq_forward(sp_f32(y), NULL, sp_f32(x), sp_f32(b), (size_t)x->shape[0], (int)x->shape[1],
                       (int)x->shape[2], (int)x->shape[3], &q);
    sp_map_put_tensor(out, "y", y);
}

static void tsf_sequence_bwd(sp_map *grads, const sp_map *in, const sp_op_attrs *a)
{
    sp_tsf_seq q;
    const sp_tensor *x, *b;
    int o[3];
    seq_setup(in, a, &q, &x, &b, o);
    int64_t ys[4] = {x->shape[0], o[0], o[1], o[2]};
    const sp_tensor *dy = sp_opin_grad("tsf_sequence", in, "dy", 4, ys);
    sp_tensor *dx = sp_tensor_new(SP_F32, 4, x->shape), *db = sp_tensor_new(SP_F32, 2, b->shape);
    sp_tsf_seq_backward(sp_f32(dx), sp_f32(db), sp_f32(dy), sp_f32(x), sp_f32(b), NULL,
                        (size_t)x->shape[0], (int)x->shape[1], (int)x->shape[2], (int)x->shape[3], &q);
    sp_map_put_tensor(grads, "dx", dx);
    sp_map_put_tensor(grads, "dbeta", db);
}

/* ---- linear and mlp -------------------------------------------------------------------------------- */

static void linear_fwd(sp_map *out, const sp_map *in, const sp_op_attrs *a)
{
    (void)a;
    const sp_tensor *w, *b, *x = sp_opin_linear(in, &w, &b);
    sp_tensor *y = sp_tensor_newv(SP_F32, 2, x->shape[0], w->shape[0]);
    sp_linear_forward(sp_f32(y), sp_f32(x), sp_f32(w), b ? sp_f32(b) : NULL, (size_t)x->shape[0],
                      (int)x->shape[1], (int)w->shape[0]);
    sp_map_put_tensor(out, "y", y);
}

static void linear_bwd(sp_map *grads, const sp_map *in, const sp_op_attrs *a)
{
    (void)a;
    const sp_tensor *w, *b, *x = sp_opin_linear(in, &w, &b);
    int64_t ys[2] = {x->shape[0], w->shape[0]};
    const sp_tensor *dy = sp_opin_grad("linear", in, "dy", 2, ys);
    sp_tensor *dx = sp_tensor_new(SP_F32, 2, x->shape), *dw = sp_tensor_new(SP_F32, 2, w->shape);
    sp_tensor *db = b ? sp_tensor_new(SP_F32, 1, b->shape) : NULL;
    sp_linear_backward(sp_f32(dx), sp_f32(dw), db ? sp_f32(db) : NULL, sp_f32(dy), sp_f32(x),
                       sp_f32(w), (size_t)x->shape[0], (int)x->shape[1], (int)w->shape[0]);
    sp_map_put_tensor(grads, "dx", dx);
    sp_map_put_tensor(grads, "dweight", dw);
    if (db)
        sp_map_put_tensor(grads, "dbias", db);
}

static const sp_tensor *mlp_setup(const sp_map *in, sp_mlp_layer *L, const sp_tensor **ws,
                                  const sp_tensor **bs)
{
    const sp_tensor *x = sp_opin_mlp(in, ws, bs);
    for (int l = 0; l < 3; l++) {
        L[l].w = sp_f32(ws[l]);
        L[l].b = sp_f32(bs[l]);
        L[l].in = (int)ws[l]->shape[1];
        L[l].out = (int)ws[l]->shape[0];
    }
    return x;
}

static void mlp_fwd(sp_map *out, const sp_map *in, const sp_op_attrs *a)
{
    (void)a;
    sp_mlp_layer L[3];
    const sp_tensor *ws[3], *bs[3];
    const sp_tensor *x = mlp_setup(in, L, ws, bs);
    sp_tensor *y = sp_tensor_newv(SP_F32, 2, x->shape[0], (int64_t)L[2].out);
    sp_mlp_forward(sp_f32(y), NULL, sp_f32(x), (size_t)x->shape[0], 3, L);
    sp_map_put_tensor(out, "y", y);
}

static void mlp_bwd(sp_map *grads, const sp_map *in, const sp_op_attrs *a)
{
    (void)a;
    sp_mlp_layer L[3];
    const sp_tensor *ws[3], *bs[3];
    const sp_tensor *x = mlp_setup(in, L, ws, bs);
    size_t n = (size_t)x->shape[0];
    int64_t ys[2] = {x->shape[0], L[2].out};
    const sp_tensor *dy = sp_opin_grad("mlp", in, "dy", 2, ys);
    /* the forward again, for the hidden activations */
    float *acts = sp_malloc(sizeof(float) * (sp_mlp_acts_size(n, 3, L) + 1));
    float *y = sp_malloc(sizeof(float) * (n * L[2].out + 1));
    sp_mlp_forward(y, acts, sp_f32(x), n, 3, L);
    sp_tensor *dx = sp_tensor_new(SP_F32, 2, x->shape);
    sp_tensor *dw[3], *db[3];
    sp_mlp_grad g[3];
    for (int l = 0; l < 3; l++) {
        dw[l] = sp_tensor_new(SP_F32, 2, ws[l]->shape);
        db[l] = sp_tensor_new(SP_F32, 1, bs[l]->shape);
        g[l].dw = sp_f32(dw[l]);
        g[l].db = sp_f32(db[l]);
    }
    sp_mlp_backward(sp_f32(dx), g, sp_f32(dy), sp_f32(x), acts, n, 3, L);
    free(acts);
    free(y);
    sp_map_put_tensor(grads, "dx", dx);
    for (int l = 0; l < 3; l++) {
        char k[8];
        snprintf(k, sizeof k, "d%s", sp_opin_mlp_w[l]);
        sp_map_put_tensor(grads, k, dw[l]);
        snprintf(k, sizeof k, "d%s", sp_opin_mlp_b[l]);
        sp_map_put_tensor(grads, k, db[l]);
    }
}

/* ---- the table -------------------------------------------------------------------------------------- */

const sp_op_def sp_ops_geom[] = {
    {"affine_grid", "F.affine_grid(theta, (N, *, H, W), align_corners=False)", "theta", "grid",
     "theta", "theta f32 [N,2,3] -> grid f32 [N,H,W,2]", grid_attrs, affine_grid_fwd,
     affine_grid_bwd},
    {"homography_grid",
     "kornia 0.3 homography_warp's grid: linspace(-1,1) meshgrid mapped by hom, divided by z",
     "hom", "grid", "hom", "hom f32 [N,3,3] -> grid f32 [N,H,W,2]", grid_attrs,
     homography_grid_fwd, homography_grid_bwd},
    {"tps_grid", "the reference's TPSGrid: thin-plate spline through g x g control points", "points",
     "grid", "points", "points f32 [N,g*g,2] (source control points, x fastest) -> grid f32 [N,H,W,2]",
     grid_attrs, tps_grid_fwd, tps_grid_bwd},
    {"grid_sample", "F.grid_sample(x, grid, 'bilinear', padding, align_corners=False)", "x,grid", "y",
     "x,grid", "x f32 [N,C,Hin,Win]; grid f32 [N,H,W,2] -> y f32 [N,C,H,W]", sample_attrs,
     grid_sample_fwd, grid_sample_bwd},
    {"warp_affine", "affine_grid(theta) + grid_sample fused, no grid stored", "x,theta", "y",
     "x,theta", "x f32 [N,C,Hin,Win]; theta f32 [N,2,3] -> y f32 [N,C,H,W]", warp_affine_attrs,
     warp_affine_fwd, warp_affine_bwd},
    {"tsf_identity", "IdentityModule: y = x", "x,beta", "y", "x",
     "x f32 [N,C,H,W]; beta f32 [N,0] optional -> y f32 [N,C,H,W]", NULL, tsf_identity_fwd,
     tsf_identity_bwd},
    {"tsf_color", "ColorModule: y_i = clamp((1 + w_i) x_i + b_i), mask channels passed through",
     "x,beta", "y", "x,beta",
     "x f32 [N,C,H,W]; beta f32 [N,2cc] -> y f32 [N,C,H,W] (C = 1, cc = 3: [N,3,H,W])", color_attrs,
     tsf_color_fwd, tsf_color_bwd},
    {"tsf_position", "PositionModule: zoom exp(s) + 1 and translation, affine_grid + grid_sample",
     "x,beta", "y", "x,beta", "x f32 [N,C,Hin,Win]; beta f32 [N,3] -> y f32 [N,C,H,W]", warp_attrs,
     tsf_position_fwd, tsf_position_bwd},
    {"tsf_similarity", "SimilarityModule: [[1+a, -b, tx], [b, 1+a, ty]], affine_grid + grid_sample",
     "x,beta", "y", "x,beta", "x f32 [N,C,Hin,Win]; beta f32 [N,4] -> y f32 [N,C,H,W]", warp_attrs,
     tsf_similarity_fwd, tsf_similarity_bwd},
    {"tsf_affine", "AffineModule: theta = beta.view(2,3) + [I|0], affine_grid + grid_sample",
     "x,beta", "y", "x,beta", "x f32 [N,C,Hin,Win]; beta f32 [N,6] -> y f32 [N,C,H,W]", warp_attrs,
     tsf_affine_fwd, tsf_affine_bwd},
    {"tsf_projective",
     "ProjectiveModule: homography beta.view(3,3) + I, kornia homography_warp (H, W default: the "
     "input's, as the reference)",
     "x,beta", "y", "x,beta", "x f32 [N,C,Hin,Win]; beta f32 [N,9] -> y f32 [N,C,H,W]", warp_attrs,
     tsf_projective_fwd, tsf_projective_bwd},
    {"tsf_tps", "TPSModule: control points lattice + beta.view(g*g,2), TPSGrid + grid_sample",
     "x,beta", "y", "x,beta", "x f32 [N,C,Hin,Win]; beta f32 [N,2g^2] (g = 4) -> y f32 [N,C,H,W]",
     warp_attrs, tsf_tps_fwd, tsf_tps_bwd},
    {"tsf_morpho", "MorphologicalModule: sigmoid-weighted smooth max/min over a k x k window",
     "x,beta", "y", "x,beta", "x f32 [N,C,H,W]; beta f32 [N,1+k^2] (k = 3) -> y f32 [N,C,H,W]", NULL,
     tsf_morpho_fwd, tsf_morpho_bwd},
    {"tsf_sequence",
     "TransformationSequence.apply_parameters: the modules in order, each on its slice of beta",
     "x,beta", "y", "x,beta",
     "x f32 [N,C,Hin,Win]; beta f32 [N,P] (P: the modules' parameters, in order) -> y f32 "
     "[N,C',H',W']",
     seq_attrs, tsf_sequence_fwd, tsf_sequence_bwd},
    {"linear", "y = x W^T + b (nn.Linear)", "x,weight,bias", "y", "x,weight,bias",
     "x f32 [N,in]; weight f32 [out,in]; bias f32 [out] optional -> y f32 [N,out]", NULL, linear_fwd,
     linear_bwd},
    {"mlp", "create_mlp(in, out, hidden, 2): Linear, ReLU, Linear, ReLU, Linear", "x,w1,b1,w2,b2,w3,b3",
     "y", "x,w1,b1,w2,b2,w3,b3",
     "x f32 [N,in]; w1 [h,in]; b1 [h]; w2 [h,h]; b2 [h]; w3 [out,h]; b3 [out] -> y f32 [N,out]", NULL,
     mlp_fwd, mlp_bwd},
    {0}};

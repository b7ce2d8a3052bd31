/* Input parsing of the geometry family's ops (sp_ops_inputs.h), shared by
 * sp_ops_geom.c and sp_ops_cuda_geom.c. */
#include "sp_error.h"
#include "sp_ops_inputs.h"

#include <math.h>

/* ---- helpers ---- */

int sp_opin_attr_size(const char *op, const sp_op_attrs *a, const char *name)
{
    int v = sp_attr_int(a, name);
    if (v < 0 || v > 65536)
        sp_fatal("%s: attribute --%s: %d is not a size (0 to 65536)", op, name, v);
    return v;
}

sp_padding sp_opin_attr_padding(const char *op, const sp_op_attrs *a)
{
    sp_padding p;
    const char *s = sp_attr_str(a, "padding");
    if (sp_padding_parse(s, &p))
        sp_fatal("%s: attribute --padding: '%s' is not one of zeros, border", op, s);
    return p;
}

const sp_tensor *sp_opin_image(const char *op, const sp_map *in, const char *name)
{
    const sp_tensor *x = sp_op_input(op, in, name, SP_F32, 4);
    if (x->shape[2] < 1 || x->shape[3] < 1 || x->shape[2] * x->shape[3] > ((int64_t)1 << 30))
        sp_fatal("%s: input '%s' has images of %lldx%lld, expected at least 1x1", op, name,
                 (long long)x->shape[2], (long long)x->shape[3]);
    return x;
}

const sp_tensor *sp_opin_theta(const char *op, const sp_map *in, const char *name, int r, int c)
{
    const sp_tensor *t = sp_op_input(op, in, name, SP_F32, 3);
    sp_op_check_dim(op, name, t, 1, r);
    sp_op_check_dim(op, name, t, 2, c);
    return t;
}

int sp_opin_lattice_side(const char *op, const char *name, int64_t count, int per)
{
    if (count % per == 0) {
        int64_t pts = count / per;
        int g = (int)llround(sqrt((double)pts));
        if ((int64_t)g * g == pts && g >= 2 && g <= SP_TPS_MAX_G)
            return g;
    }
    sp_fatal("%s: input '%s' holds %lld values per image, expected %d g^2 with g in 2..%d", op,
             name, (long long)count, per, SP_TPS_MAX_G);
}

const sp_tensor *sp_opin_beta(const char *op, const sp_map *in, const sp_tensor *x, int P)
{
    const sp_tensor *b = sp_op_input(op, in, "beta", SP_F32, 2);
    sp_op_check_dim(op, "beta", b, 0, x->shape[0]);
    if (P >= 0)
        sp_op_check_dim(op, "beta", b, 1, P);
    return b;
}

void sp_opin_out_size(const char *op, const sp_op_attrs *a, const sp_tensor *x, int *h, int *w)
{
    *h = sp_opin_attr_size(op, a, "height");
    *w = sp_opin_attr_size(op, a, "width");
    if (*h == 0)
        *h = (int)x->shape[2];
    if (*w == 0)
        *w = (int)x->shape[3];
}

/* ---- grids, grid_sample, warps ---- */

const sp_tensor *sp_opin_tps_points(const sp_map *in, int *g)
{
    const sp_tensor *p = sp_op_input("tps_grid", in, "points", SP_F32, 3);
    sp_op_check_dim("tps_grid", "points", p, 2, 2);
    *g = sp_opin_lattice_side("tps_grid", "points", p->shape[1], 1);
    return p;
}

sp_warp_shape sp_opin_grid_sample(const sp_map *in, const sp_op_attrs *a, const sp_tensor **x,
                                  const sp_tensor **grid)
{
    *x = sp_opin_image("grid_sample", in, "x");
    *grid = sp_op_input("grid_sample", in, "grid", SP_F32, 4);
    sp_op_check_dim("grid_sample", "grid", *grid, 0, (*x)->shape[0]);
    sp_op_check_dim("grid_sample", "grid", *grid, 3, 2);
    sp_warp_shape s = {(size_t)(*x)->shape[0], (int)(*x)->shape[1], (int)(*x)->shape[2],
                       (int)(*x)->shape[3], (int)(*grid)->shape[1], (int)(*grid)->shape[2],
                       sp_opin_attr_padding("grid_sample", a)};
    return s;
}

sp_warp_shape sp_opin_warp_affine(const sp_map *in, const sp_op_attrs *a, const sp_tensor **x,
                                  const sp_tensor **th)
{
    *x = sp_opin_image("warp_affine", in, "x");
    *th = sp_opin_theta("warp_affine", in, "theta", 2, 3);
    sp_op_check_dim("warp_affine", "theta", *th, 0, (*x)->shape[0]);
    int h, w;
    sp_opin_out_size("warp_affine", a, *x, &h, &w);
    sp_warp_shape s = {(size_t)(*x)->shape[0], (int)(*x)->shape[1], (int)(*x)->shape[2],
                       (int)(*x)->shape[3], h, w, sp_opin_attr_padding("warp_affine", a)};
    return s;
}

sp_warp_shape sp_opin_warp(const char *op, const sp_map *in, const sp_op_attrs *a, int P,
                           const sp_tensor **x, const sp_tensor **b, int *g)
{
    *x = sp_opin_image(op, in, "x");
    *b = sp_opin_beta(op, in, *x, P);
    if (P < 0)
        *g = sp_opin_lattice_side(op, "beta", (*b)->shape[1], 2);
    int h, w;
    sp_opin_out_size(op, a, *x, &h, &w);
    sp_warp_shape s = {(size_t)(*x)->shape[0], (int)(*x)->shape[1], (int)(*x)->shape[2],
                       (int)(*x)->shape[3], h, w, sp_opin_attr_padding(op, a)};
    return s;
}

const sp_tensor *sp_opin_identity(const sp_map *in)
{
    const sp_tensor *x = sp_op_input("tsf_identity", in, "x", SP_F32, 4);
    const sp_tensor *b = sp_op_input_opt("tsf_identity", in, "beta", SP_F32, 2);
    if (b) {
        sp_op_check_dim("tsf_identity", "beta", b, 0, x->shape[0]);
        sp_op_check_dim("tsf_identity", "beta", b, 1, 0);
    }
    return x;
}

/* ---- linear and mlp ---- */

void sp_opin_layer(const char *op, const sp_map *in, const char *wn, const char *bn,
                   int64_t fan_in, const sp_tensor **w, const sp_tensor **b, int bias_opt)
{
    *w = sp_op_input(op, in, wn, SP_F32, 2);
    sp_op_check_dim(op, wn, *w, 1, fan_in);
    *b = bias_opt ? sp_op_input_opt(op, in, bn, SP_F32, 1) : sp_op_input(op, in, bn, SP_F32, 1);
    if (*b)
        sp_op_check_dim(op, bn, *b, 0, (*w)->shape[0]);
}

const sp_tensor *sp_opin_linear(const sp_map *in, const sp_tensor **w, const sp_tensor **b)
{
    const sp_tensor *x = sp_op_input("linear", in, "x", SP_F32, 2);
    sp_opin_layer("linear", in, "weight", "bias", x->shape[1], w, b, 1);
    return x;
}

const char *const sp_opin_mlp_w[3] = {"w1", "w2", "w3"}, *const sp_opin_mlp_b[3] = {"b1", "b2", "b3"};

const sp_tensor *sp_opin_mlp(const sp_map *in, const sp_tensor **ws, const sp_tensor **bs)
{
    const sp_tensor *x = sp_op_input("mlp", in, "x", SP_F32, 2);
    int64_t fan = x->shape[1];
    for (int l = 0; l < 3; l++) {
        sp_opin_layer("mlp", in, sp_opin_mlp_w[l], sp_opin_mlp_b[l], fan, &ws[l], &bs[l], 0);
        fan = ws[l]->shape[0];
    }
    return x;
}

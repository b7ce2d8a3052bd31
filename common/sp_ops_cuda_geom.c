/* CUDA implementations of the geometry family (sp_ops_geom.c): the grids,
 * grid_sample, warp_affine, the identity and the spatial transformations
 * (position, similarity, affine, projective, TPS), linear and mlp (cuBLAS).
 * A transformation is grid generation + sampling on the GPU; the few
 * parameters per image go from beta to the generator's (and their gradient
 * back) on the host, as common/sp_warp.c does.  tsf_color, tsf_morpho and
 * tsf_sequence have no CUDA implementation yet.  Checked on a GPU by
 * make test-cuda (README, CUDA). */
#include "sp_ops_cuda.h"
#include "sp_error.h"
#include "sp_op.h"
#include "sp_ops_inputs.h"
#include "sp_warp.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifdef SP_HAVE_CUDA

/* ---- generator parameters from the op's inputs (common/sp_warp.c's) ---- */

enum { SRC_THETA, SRC_HOM, SRC_POINTS, SRC_POS, SRC_SIM, SRC_AFF, SRC_PROJ, SRC_TPS };

static float lin_f(int i, int n)
{
    if (n <= 1)
        return -1.0f;
    float step = 2.0f / (float)(n - 1);
    return i < n / 2 ? -1.0f + step * (float)i : 1.0f - step * (float)(n - 1 - i);
}

static int gen_kind(int src)
{
    switch (src) {
    case SRC_HOM:
    case SRC_PROJ: return SP_CUDA_GEN_HOMOGRAPHY;
    case SRC_POINTS:
    case SRC_TPS: return SP_CUDA_GEN_TPS;
    default: return SP_CUDA_GEN_AFFINE;
    }
}

/* p [np] of one image from its source values b [P]. */
static void to_params(int src, float *p, const float *b, int np)
{
    int N = np / 2, g = (int)lround(sqrt((double)N));
    switch (src) {
    case SRC_THETA:
    case SRC_HOM: memcpy(p, b, sizeof(float) * np); break;
    case SRC_POINTS:
        for (int k = 0; k < N; k++)
            p[k] = b[2 * k], p[N + k] = b[2 * k + 1];
        break;
    case SRC_POS: {
        float sc = expf(b[0]);
        p[0] = sc + 1.0f, p[1] = 0.0f, p[2] = b[1];
        p[3] = 0.0f, p[4] = sc + 1.0f, p[5] = b[2];
        break;
    }
    case SRC_SIM:
        p[0] = b[0] + 1.0f, p[1] = -b[1], p[2] = b[2];
        p[3] = b[1], p[4] = b[0] + 1.0f, p[5] = b[3];
        break;
    case SRC_AFF:
        for (int k = 0; k < 6; k++)
            p[k] = b[k] + (k == 0 || k == 4 ? 1.0f : 0.0f);
        break;
    case SRC_PROJ:
        for (int k = 0; k < 9; k++)
            p[k] = b[k] + (k % 4 == 0 ? 1.0f : 0.0f);
        break;
    case SRC_TPS:
        for (int k = 0; k < N; k++) {
            p[k] = lin_f(k % g, g) + b[2 * k];
            p[N + k] = lin_f(k / g, g) + b[2 * k + 1];
        }
        break;
    }
}

/* The source gradient db [P] of one image from the generator's dp [np]. */
static void to_dsrc(int src, float *db, const double *dp, const float *b, int np)
{
    int N = np / 2;
    switch (src) {
    case SRC_POS:
        db[0] = (float)((dp[0] + dp[4]) * (double)expf(b[0]));
        db[1] = (float)dp[2];
        db[2] = (float)dp[5];
        break;
    case SRC_SIM:
        db[0] = (float)(dp[0] + dp[4]);
        db[1] = (float)(dp[3] - dp[1]);
        db[2] = (float)dp[2];
        db[3] = (float)dp[5];
        break;
    case SRC_POINTS:
    case SRC_TPS:
        for (int k = 0; k < N; k++)
            db[2 * k] = (float)dp[k], db[2 * k + 1] = (float)dp[N + k];
        break;
    default:
        for (int k = 0; k < np; k++)
            db[k] = (float)dp[k];
    }
}

/* A generator for n images of an h x w grid: parameters and (TPS) the
 * kernel matrix on the device. */
typedef struct {
    int src, kind, np, h, w;
    size_t n;
    float *p, *A; /* device */
} gen;

static gen gen_make(int src, const float *b, int P, size_t n, int h, int w, int g)
{
    gen G = {src, gen_kind(src), 0, h, w, n, NULL, NULL};
    G.np = G.kind == SP_CUDA_GEN_AFFINE ? 6 : G.kind == SP_CUDA_GEN_HOMOGRAPHY ? 9 : 2 * g * g;
    float *hp = sp_malloc(sizeof(float) * (n * G.np + 1));
    for (size_t i = 0; i < n; i++)
        to_params(src, hp + i * G.np, b + i * P, G.np);
    G.p = sp_cuda_upload(hp, sizeof(float) * n * G.np);
    free(hp);
    if (G.kind == SP_CUDA_GEN_TPS) {
        float *owned;
        const float *A = sp_tps_matrix(h, w, g, &owned);
        G.A = sp_cuda_upload(A, sizeof(float) * (size_t)h * w * g * g);
        free(owned);
    }
    return G;
}

static float *gen_grid(const gen *G)
{
    float *grid = sp_cuda_alloc(sizeof(float) * G->n * G->h * G->w * 2);
    sp_cuda_grid_forward(grid, G->kind, G->p, G->np, G->A, G->n, G->h, G->w);
    return grid;
}

/* The source gradient [n,P] (host, into out as name) from dgrid. */
static void gen_backward(sp_map *out, const char *name, const gen *G, const float *dgrid,
                         const float *b, int P, int ndim, const int64_t *shape)
{
    double *dp = sp_cuda_alloc(sizeof(double) * G->n * G->np);
    sp_cuda_grid_backward(dp, G->kind, G->p, G->np, G->A, dgrid, G->n, G->h, G->w);
    double *hp = sp_malloc(sizeof(double) * (G->n * G->np + 1));
    sp_cuda_download(hp, dp, sizeof(double) * G->n * G->np);
    sp_tensor *t = sp_tensor_new(SP_F32, ndim, shape);
    for (size_t i = 0; i < G->n; i++)
        to_dsrc(G->src, sp_f32(t) + i * P, hp + i * G->np, b + i * P, G->np);
    free(hp);
    sp_map_put_tensor(out, name, t);
}

/* ---- the grid ops ---- */

static int grid_op(int src, const char *op, const char *in_name, const char *dname, int backward,
                   sp_map *out, const sp_map *in, const sp_op_attrs *a)
{
    const sp_tensor *t;
    int g = 0;
    if (src == SRC_POINTS)
        t = sp_opin_tps_points(in, &g);
    else
        t = sp_opin_theta(op, in, in_name, src == SRC_THETA ? 2 : 3, 3);
    int h = sp_opin_attr_size(op, a, "height"), w = sp_opin_attr_size(op, a, "width");
    int64_t gs[4] = {t->shape[0], h, w, 2};
    const sp_tensor *dg = backward ? sp_opin_grad(op, in, "dgrid", 4, gs) : NULL;
    if (t->shape[0] == 0 || h == 0 || w == 0)
        return 0;
    int P = (int)(sp_tensor_numel(t) / (size_t)t->shape[0]);
    gen G = gen_make(src, sp_f32(t), P, (size_t)t->shape[0], h, w, g);
    if (!backward) {
        sp_cu_out(out, "grid", gen_grid(&G), 4, gs);
    } else {
        gen_backward(out, dname, &G, sp_cu_in(dg), sp_f32(t), P, 3, t->shape);
    }
    return 1;
}

static int affine_grid_fwd(sp_map *o, const sp_map *i, const sp_op_attrs *a) { return grid_op(SRC_THETA, "affine_grid", "theta", NULL, 0, o, i, a); }
static int affine_grid_bwd(sp_map *o, const sp_map *i, const sp_op_attrs *a) { return grid_op(SRC_THETA, "affine_grid", "theta", "dtheta", 1, o, i, a); }
static int hom_grid_fwd(sp_map *o, const sp_map *i, const sp_op_attrs *a) { return grid_op(SRC_HOM, "homography_grid", "hom", NULL, 0, o, i, a); }
static int hom_grid_bwd(sp_map *o, const sp_map *i, const sp_op_attrs *a) { return grid_op(SRC_HOM, "homography_grid", "hom", "dhom", 1, o, i, a); }
static int tps_grid_fwd(sp_map *o, const sp_map *i, const sp_op_attrs *a) { return grid_op(SRC_POINTS, "tps_grid", "points", NULL, 0, o, i, a); }
static int tps_grid_bwd(sp_map *o, const sp_map *i, const sp_op_attrs *a) { return grid_op(SRC_POINTS, "tps_grid", "points", "dpoints", 1, o, i, a); }

/* ---- grid_sample ---- */

static int grid_sample_run(int backward, sp_map *out, const sp_map *in, const sp_op_attrs *a)
{
    const char *op = "grid_sample";
    const sp_tensor *x, *grid;
    sp_warp_shape s = sp_opin_grid_sample(in, a, &x, &grid);
    int border = s.pad == SP_PAD_BORDER;
    size_t n = s.n;
    int c = s.c, hin = s.hin, win = s.win, h = s.h, w = s.w;
    int64_t ys[4] = {x->shape[0], c, h, w};
    const sp_tensor *dy = backward ? sp_opin_grad(op, in, "dy", 4, ys) : NULL;
    if (n == 0 || c == 0 || h == 0 || w == 0)
        return 0;
    float *dx_ = sp_cu_in(x), *dg = sp_cu_in(grid);
    if (!backward) {
        float *y = sp_cu_buf(4, ys);
        sp_cuda_grid_sample_forward(y, dx_, dg, n, c, hin, win, h, w, border);
        sp_cu_out(out, "y", y, 4, ys);
    } else {
        float *gx = sp_cu_buf(4, x->shape), *gg = sp_cu_buf(4, grid->shape);
        sp_cuda_grid_sample_backward(gx, gg, sp_cu_in(dy), dx_, dg, n, c, hin, win, h, w, border);
        sp_cu_out(out, "dx", gx, 4, x->shape);
        sp_cu_out(out, "dgrid", gg, 4, grid->shape);
    }
    return 1;
}

static int grid_sample_fwd(sp_map *o, const sp_map *i, const sp_op_attrs *a) { return grid_sample_run(0, o, i, a); }
static int grid_sample_bwd(sp_map *o, const sp_map *i, const sp_op_attrs *a) { return grid_sample_run(1, o, i, a); }

/* ---- warp_affine and the spatial transformations ---- */

/* P: parameters per image (-1: TPS, from beta's size). */
static int warp_run(int src, const char *op, int P, int backward, sp_map *out,
                    const sp_map *in, const sp_op_attrs *a)
{
    const sp_tensor *x, *b;
    int g = 0;
    sp_warp_shape s = src == SRC_THETA ? sp_opin_warp_affine(in, a, &x, &b)
                                       : sp_opin_warp(op, in, a, P, &x, &b, &g);
    int border = s.pad == SP_PAD_BORDER;
    size_t n = s.n;
    int c = s.c, hin = s.hin, win = s.win, h = s.h, w = s.w;
    int64_t ys[4] = {x->shape[0], c, h, w};
    const sp_tensor *dy = backward ? sp_opin_grad(op, in, "dy", 4, ys) : NULL;
    if (n == 0 || c == 0)
        return 0;
    int Pn = (int)(sp_tensor_numel(b) / n);
    gen G = gen_make(src, sp_f32(b), Pn, n, h, w, g);
    float *grid = gen_grid(&G), *xd = sp_cu_in(x);
    if (!backward) {
        float *y = sp_cu_buf(4, ys);
        sp_cuda_grid_sample_forward(y, xd, grid, n, c, hin, win, h, w, border);
        sp_cu_out(out, "y", y, 4, ys);
        return 1;
    }
    float *gx = sp_cu_buf(4, x->shape);
    float *dgrid = sp_cuda_alloc(sizeof(float) * n * h * w * 2);
    sp_cuda_grid_sample_backward(gx, dgrid, sp_cu_in(dy), xd, grid, n, c, hin, win, h, w, border);
    sp_cu_out(out, "dx", gx, 4, x->shape);
    gen_backward(out, src == SRC_THETA ? "dtheta" : "dbeta", &G, dgrid, sp_f32(b), Pn, b->ndim,
                 b->shape);
    return 1;
}

#define WARP(NAME, SRC, P)                                                                     \
    static int NAME##_fwd(sp_map *o, const sp_map *i, const sp_op_attrs *a)                    \
    {                                                                                          \
        return warp_run(SRC, #NAME, P, 0, o, i, a);                                            \
    }                                                                                          \
    static int NAME##_bwd(sp_map *o, const sp_map *i, const sp_op_attrs *a)                    \
    {                                                                                          \
        return warp_run(SRC, #NAME, P, 1, o, i, a);                                            \
    }
WARP(warp_affine, SRC_THETA, 6)
WARP(tsf_position, SRC_POS, SP_TSF_POSITION_P)
WARP(tsf_similarity, SRC_SIM, SP_TSF_SIMILARITY_P)
WARP(tsf_affine, SRC_AFF, SP_TSF_AFFINE_P)
WARP(tsf_projective, SRC_PROJ, SP_TSF_PROJECTIVE_P)
WARP(tsf_tps, SRC_TPS, -1)

/* ---- identity ---- */

static int tsf_identity_fwd(sp_map *out, const sp_map *in, const sp_op_attrs *a)
{
    (void)a;
    const sp_tensor *x = sp_opin_identity(in);
    if (sp_cu_any_empty(1, x))
        return 0;
    float *y = sp_cu_buf(4, x->shape);
    sp_cuda_copy(y, sp_cu_in(x), sp_tensor_numel(x));
    sp_cu_out(out, "y", y, 4, x->shape);
    return 1;
}

static int tsf_identity_bwd(sp_map *grads, const sp_map *in, const sp_op_attrs *a)
{
    (void)a;
    const sp_tensor *x = sp_op_input("tsf_identity", in, "x", SP_F32, 4);
    const sp_tensor *dy = sp_opin_grad("tsf_identity", in, "dy", 4, x->shape);
    if (sp_cu_any_empty(1, x))
        return 0;
    float *dx = sp_cu_buf(4, x->shape);
    sp_cuda_copy(dx, sp_cu_in(dy), sp_tensor_numel(x));
    sp_cu_out(grads, "dx", dx, 4, x->shape);
    return 1;
}

/* ---- linear and mlp (cuBLAS) ---- */

static int linear_run(int backward, sp_map *out, const sp_map *in, const sp_op_attrs *a)
{
    (void)a;
    const sp_tensor *w, *b, *x = sp_opin_linear(in, &w, &b);
    int64_t ys[2] = {x->shape[0], w->shape[0]};
    const sp_tensor *dy = backward ? sp_opin_grad("linear", in, "dy", 2, ys) : NULL;
    if (sp_cu_any_empty(3, x, w, b))
        return 0;
    size_t n = (size_t)x->shape[0];
    int fi = (int)x->shape[1], fo = (int)w->shape[0];
    float *xd = sp_cu_in(x), *wd = sp_cu_in(w);
    if (!backward) {
        float *y = sp_cu_buf(2, ys);
        sp_cuda_linear_forward(y, xd, wd, sp_cu_in(b), n, fi, fo);
        sp_cu_out(out, "y", y, 2, ys);
        return 1;
    }
    float *dx = sp_cu_buf(2, x->shape), *dw = sp_cu_buf(2, w->shape);
    float *db = b ? sp_cu_buf(1, b->shape) : NULL;
    sp_cuda_linear_backward(dx, dw, db, sp_cu_in(dy), xd, wd, n, fi, fo);
    sp_cu_out(out, "dx", dx, 2, x->shape);
    sp_cu_out(out, "dweight", dw, 2, w->shape);
    if (db)
        sp_cu_out(out, "dbias", db, 1, b->shape);
    return 1;
}

static int linear_fwd(sp_map *o, const sp_map *i, const sp_op_attrs *a) { return linear_run(0, o, i, a); }
static int linear_bwd(sp_map *o, const sp_map *i, const sp_op_attrs *a) { return linear_run(1, o, i, a); }

/* Linear, ReLU, Linear, ReLU, Linear; backward recomputes the activations. */
static int mlp_run(int backward, sp_map *out, const sp_map *in, const sp_op_attrs *a)
{
    (void)a;
    const sp_tensor *ws[3], *bs[3], *x = sp_opin_mlp(in, ws, bs);
    int64_t ys[2] = {x->shape[0], ws[2]->shape[0]};
    const sp_tensor *dy = backward ? sp_opin_grad("mlp", in, "dy", 2, ys) : NULL;
    if (sp_cu_any_empty(7, x, ws[0], ws[1], ws[2], bs[0], bs[1], bs[2]))
        return 0;
    size_t n = (size_t)x->shape[0];
    float *xin[3], *wd[3], *bd[3], *act[3];
    xin[0] = sp_cu_in(x);
    for (int l = 0; l < 3; l++) {
        wd[l] = sp_cu_in(ws[l]);
        bd[l] = sp_cu_in(bs[l]);
        int64_t s[2] = {x->shape[0], ws[l]->shape[0]};
        act[l] = sp_cu_buf(2, s);
        sp_cuda_linear_forward(act[l], xin[l], wd[l], bd[l], n, (int)ws[l]->shape[1],
                               (int)ws[l]->shape[0]);
        if (l < 2) {
            sp_cuda_relu_forward(act[l], act[l], n * (size_t)ws[l]->shape[0]);
            xin[l + 1] = act[l];
        }
    }
    if (!backward) {
        sp_cu_out(out, "y", act[2], 2, ys);
        return 1;
    }
    float *d = sp_cu_in(dy);
    for (int l = 2; l >= 0; l--) {
        int64_t s_in[2] = {x->shape[0], ws[l]->shape[1]};
        float *dxl = sp_cu_buf(2, s_in), *dw = sp_cu_buf(2, ws[l]->shape), *db = sp_cu_buf(1, bs[l]->shape);
        sp_cuda_linear_backward(dxl, dw, db, d, xin[l], wd[l], n, (int)ws[l]->shape[1],
                                (int)ws[l]->shape[0]);
        char k[8];
        snprintf(k, sizeof k, "d%s", sp_opin_mlp_w[l]);
        sp_cu_out(out, k, dw, 2, ws[l]->shape);
        snprintf(k, sizeof k, "d%s", sp_opin_mlp_b[l]);
        sp_cu_out(out, k, db, 1, bs[l]->shape);
        if (l > 0) /* through the ReLU: its output is positive where its input was */
            sp_cuda_relu_backward(dxl, dxl, xin[l], n * (size_t)ws[l]->shape[1]);
        else
            sp_cu_out(out, "dx", dxl, 2, x->shape);
        d = dxl;
    }
    return 1;
}

static int mlp_fwd(sp_map *o, const sp_map *i, const sp_op_attrs *a) { return mlp_run(0, o, i, a); }
static int mlp_bwd(sp_map *o, const sp_map *i, const sp_op_attrs *a) { return mlp_run(1, o, i, a); }

const sp_op_impl sp_ops_cuda_geom[] = {
    {"affine_grid", affine_grid_fwd, affine_grid_bwd},
    {"homography_grid", hom_grid_fwd, hom_grid_bwd},
    {"tps_grid", tps_grid_fwd, tps_grid_bwd},
    {"grid_sample", grid_sample_fwd, grid_sample_bwd},
    {"warp_affine", warp_affine_fwd, warp_affine_bwd},
    {"tsf_identity", tsf_identity_fwd, tsf_identity_bwd},
    {"tsf_position", tsf_position_fwd, tsf_position_bwd},
    {"tsf_similarity", tsf_similarity_fwd, tsf_similarity_bwd},
    {"tsf_affine", tsf_affine_fwd, tsf_affine_bwd},
    {"tsf_projective", tsf_projective_fwd, tsf_projective_bwd},
    {"tsf_tps", tsf_tps_fwd, tsf_tps_bwd},
    {"linear", linear_fwd, linear_bwd},
    {"mlp", mlp_fwd, mlp_bwd},
    {0}};

#else
const sp_op_impl sp_ops_cuda_geom[] = {{0}};
#endif

/* Input parsing of the composition family's ops (sp_ops_inputs.h), shared
 * by sp_ops_compose.c and sp_ops_cuda_compose.c. */
#include "sp_compose.h"
#include "sp_error.h"
#include "sp_ops_inputs.h"

const sp_tensor *sp_opin_grad(const char *op, const sp_map *in, const char *name, int ndim,
                              const int64_t *shape)
{
    const sp_tensor *d = sp_op_input(op, in, name, SP_F32, ndim);
    for (int i = 0; i < ndim; i++)
        sp_op_check_dim(op, name, d, i, shape[i]);
    return d;
}

void sp_opin_check_same(const char *op, const char *name, const sp_tensor *b, const sp_tensor *a)
{
    char b1[128], b2[128];
    int same = a->ndim == b->ndim;
    for (int i = 0; same && i < a->ndim; i++)
        same = a->shape[i] == b->shape[i];
    if (!same)
        sp_fatal("%s: input '%s' is %s, expected %s", op, name, sp_tensor_describe(b, b1, sizeof b1),
                 sp_tensor_describe(a, b2, sizeof b2));
}

/* ------------------------------------------------------------ clamp, sigmoid */

const sp_tensor *sp_opin_unary_bwd(const char *op, const sp_map *in, const sp_tensor **x)
{
    *x = sp_op_input(op, in, "x", SP_F32, -1);
    const sp_tensor *dy = sp_op_input(op, in, "dy", SP_F32, -1);
    sp_opin_check_same(op, "dy", dy, *x);
    return dy;
}

sp_clamp sp_opin_clamp_attr(const sp_op_attrs *a)
{
    sp_clamp c;
    const char *kind = sp_attr_str(a, "kind");
    if (sp_clamp_parse(kind, &c) != 0)
        sp_fatal("clamp: --kind '%s': expected soft, softALPHA, clamp, diff or none", kind);
    return c;
}

/* ---------------------------------------------------------------- compose */

sp_opin_compose_in sp_opin_compose(const sp_map *in)
{
    const char *op = "compose";
    sp_opin_compose_in c;
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

const sp_tensor *sp_opin_compose_dy(const sp_map *in, const sp_opin_compose_in *c)
{
    return sp_opin_grad("compose", in, "dy", 4, c->layers->shape + 1);
}

/* --------------------------------------------------------- occlusion_grid */

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

const sp_tensor *sp_opin_occ(const sp_map *in, const sp_op_attrs *a, size_t *L)
{
    const sp_tensor *z = sp_op_input("occlusion_grid", in, "logits", SP_F32, 2);
    *L = occ_layers(z, a);
    return z;
}

const sp_tensor *sp_opin_occ_grad(const sp_map *in, const sp_tensor *z, size_t L)
{
    int64_t os[3] = {z->shape[0], (int64_t)L, (int64_t)L};
    return sp_opin_grad("occlusion_grid", in, "docc", 3, os);
}

/* -------------------------------------------------------------------- mse */

void sp_opin_mse(const sp_map *in, const sp_tensor **x, const sp_tensor **t, size_t *N, size_t *D)
{
    *x = sp_op_input("mse", in, "x", SP_F32, -1);
    *t = sp_op_input("mse", in, "target", SP_F32, -1);
    if ((*x)->ndim < 1)
        sp_fatal("mse: input 'x' needs a first dimension (images)");
    sp_opin_check_same("mse", "target", *t, *x);
    *N = (size_t)(*x)->shape[0];
    *D = 1;
    for (int i = 1; i < (*x)->ndim; i++)
        *D *= (size_t)(*x)->shape[i];
}

void sp_opin_mse_bwd(const sp_map *in, const sp_tensor **x, const sp_tensor **t, size_t *N,
                     size_t *D, const sp_tensor **dd, const sp_tensor **dl)
{
    sp_opin_mse(in, x, t, N, D);
    *dd = sp_op_input_opt("mse", in, "ddist", SP_F32, 1);
    *dl = sp_op_input_opt("mse", in, "dloss", SP_F32, -1);
    if (*dd)
        sp_op_check_dim("mse", "ddist", *dd, 0, (int64_t)*N);
    if (*dl && sp_tensor_numel(*dl) != 1)
        sp_fatal("mse: input 'dloss' must hold one value");
}

/* ------------------------------------------------------------------- adam */

void sp_opin_adam(const sp_map *in, const sp_op_attrs *a, const sp_tensor **p, const sp_tensor **g,
                  const sp_tensor **m, const sp_tensor **v, double *step, int *times)
{
    const char *op = "adam";
    *p = sp_op_input(op, in, "param", SP_F32, -1);
    *g = sp_op_input(op, in, "grad", SP_F32, -1);
    *m = sp_op_input(op, in, "m", SP_F32, -1);
    *v = sp_op_input(op, in, "v", SP_F32, -1);
    sp_opin_check_same(op, "grad", *g, *p);
    sp_opin_check_same(op, "m", *m, *p);
    sp_opin_check_same(op, "v", *v, *p);
    *step = sp_attr_num(a, "step");
    *times = sp_attr_int(a, "times");
    if (*step < 1 || *step != (double)(int64_t)*step)
        sp_fatal("adam: --step %g: expected the update's number, an integer >= 1", *step);
    if (*times < 1)
        sp_fatal("adam: --times %d: expected >= 1", *times);
}

/* ------------------------------------------------------------------ noise */

static uint64_t u64_attr(const char *op, const sp_op_attrs *a, const char *name)
{
    double v = sp_attr_num(a, name);
    if (v < 0 || v != (double)(uint64_t)v || v > 9007199254740992.0)
        sp_fatal("%s: --%s %g: expected an integer in [0, 2^53]", op, name, v);
    return (uint64_t)v;
}

int sp_opin_uniform(const sp_op_attrs *a, int64_t *shape, uint64_t *seed, uint64_t *stream,
                    uint64_t *index)
{
    const char *op = "uniform_noise";
    const char *s = sp_attr_str(a, "shape");
    int nd = sp_int_list_parse(s, shape, SP_MAX_DIMS, 0, SP_MAX_DIM);
    if (nd < 0)
        sp_fatal("%s: --shape '%s': expected sizes separated by commas (\"2,3,4,4\")", op, s);
    *seed = u64_attr(op, a, "seed");
    *stream = u64_attr(op, a, "stream");
    *index = u64_attr(op, a, "index");
    return nd;
}

void sp_opin_mask_noise(const sp_map *in, const sp_tensor **m, const sp_tensor **cv,
                        const sp_tensor **u)
{
    const char *op = "mask_noise";
    *m = sp_op_input(op, in, "mask", SP_F32, 6);
    *cv = sp_op_input(op, in, "canvas", SP_F32, 6);
    *u = sp_op_input(op, in, "u", SP_F32, 4);
    sp_opin_check_same(op, "canvas", *cv, *m);
    sp_op_check_dim(op, "mask", *m, 3, 1);
    sp_op_check_dim(op, "u", *u, 0, (*m)->shape[1]);
    sp_op_check_dim(op, "u", *u, 1, 1);
    sp_op_check_dim(op, "u", *u, 2, (*m)->shape[4]);
    sp_op_check_dim(op, "u", *u, 3, (*m)->shape[5]);
}

const sp_tensor *sp_opin_mask_noise_dy(const sp_map *in, const sp_tensor *m)
{
    const sp_tensor *dy = sp_op_input("mask_noise", in, "dy", SP_F32, 6);
    sp_opin_check_same("mask_noise", "dy", dy, m);
    return dy;
}

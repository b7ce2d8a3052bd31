/* The op registry: every numerical operation of the library, reachable by
 * name with named tensor inputs and outputs (ggml's test-backend-ops idea).
 * `sp-op` and the generic tests (PyTorch goldens, finite differences, CPU vs
 * CUDA) go through it; the model calls each family's typed functions
 * directly (declared in the family's own header, e.g. sp_conv.h).
 *
 * Conventions
 *  - inputs, outputs: comma-separated entry names ("x,weight,bias"); an input
 *    may be optional (the op decides, and documents it in `shapes`).
 *  - forward(out, in, attrs): reads tensors from `in`, puts new tensors into
 *    `out` (which owns them).
 *  - backward(grads, in, attrs): `in` holds the forward inputs and, for each
 *    output y, its gradient "d" + y (e.g. "dy"); puts "d" + x for each name x
 *    of `diff` (the differentiable inputs).  Backward recomputes whatever the
 *    forward would have cached, so that an op is a pure function of its
 *    entries.  NULL when the op has no backward.
 *  - Shape or dtype errors are fatal, one line: "<op>: input 'x' is f32
 *    [2,3], expected f32 [N,C,H,W]".
 *  - attrs: numbers or strings with defaults, given to sp-op as --name value
 *    and stored in golden files' header meta "attrs". */
#ifndef SP_OP_H
#define SP_OP_H

#include "sp_map.h"

typedef struct {
    const char *name;
    char type;         /* 'n' number, 's' string */
    const char *def;   /* default, as text ("1", "zeros") */
    const char *help;
} sp_op_attr;

#define SP_OP_MAX_ATTRS 16
typedef struct {
    int n;
    const char *name[SP_OP_MAX_ATTRS];
    double num[SP_OP_MAX_ATTRS];
    const char *str[SP_OP_MAX_ATTRS];
} sp_op_attrs;

typedef struct sp_op_def {
    const char *name;
    const char *summary;
    const char *inputs;  /* "x,weight,bias" */
    const char *outputs; /* "y" */
    const char *diff;    /* inputs that get gradients: "x,weight,bias" ("" none) */
    const char *shapes;  /* documentation: "x f32 [N,C,H,W]; weight f32 [O,C,kh,kw]; bias f32 [O] optional -> y f32 [N,O,Ho,Wo]" */
    const sp_op_attr *attrs; /* terminated by {0}; NULL for none */
    void (*forward)(sp_map *out, const sp_map *in, const sp_op_attrs *a);
    void (*backward)(sp_map *grads, const sp_map *in, const sp_op_attrs *a);
} sp_op_def;

/* The registry: every family's table, concatenated. */
const sp_op_def *sp_op_find(const char *name);
/* Calls fn for every op, in registry order. */
void sp_op_foreach(void (*fn)(const sp_op_def *op, void *ctx), void *ctx);

/* Attribute values: defaults of op, then overrides by name (fatal on an
 * unknown name or a non-number for a number attribute). */
void sp_op_attrs_defaults(sp_op_attrs *a, const sp_op_def *op);
void sp_op_attrs_set(sp_op_attrs *a, const sp_op_def *op, const char *name, const char *value);
/* Overrides from a header meta's "attrs" map (numbers or strings); string
 * values are copied into store, which must outlive a. */
void sp_op_attrs_from_meta(sp_op_attrs *a, const sp_op_def *op, const sp_map *meta, char *store,
                           size_t store_len);
double sp_attr_num(const sp_op_attrs *a, const char *name);
int sp_attr_int(const sp_op_attrs *a, const char *name);
const char *sp_attr_str(const sp_op_attrs *a, const char *name);
/* Parses a string attribute of integers in [lo, hi] separated by commas
 * ("2,3,4,4", spaces around the numbers allowed) into at most max values;
 * returns how many, 0 for an empty string, or -1 on a malformed list. */
int sp_int_list_parse(const char *s, int64_t *out, int max, int64_t lo, int64_t hi);

/* Input checking for ops: the tensor called name in `in`, required to be
 * dtype with ndim dimensions (ndim < 0: any), or fatal naming op and input.
 * sp_op_input_opt returns NULL when absent. */
const sp_tensor *sp_op_input(const char *op, const sp_map *in, const char *name, sp_dtype dtype,
                             int ndim);
const sp_tensor *sp_op_input_opt(const char *op, const sp_map *in, const char *name,
                                 sp_dtype dtype, int ndim);
/* Fatal unless t->shape[dim] == want. */
void sp_op_check_dim(const char *op, const char *name, const sp_tensor *t, int dim, int64_t want);

/* ---- backends (ggml-style) ----------------------------------------------------
 * An op may have a CUDA implementation besides its CPU one: same entries in,
 * same entries out, same semantics.  Each function returns 1 when it ran,
 * or 0, having put nothing into out, when it does not take this case (an
 * empty tensor, an attribute it lacks); then the CPU's runs.  NULL: none.
 * In a build without CUDA the table is empty. */
typedef int (*sp_op_impl_fn)(sp_map *out, const sp_map *in, const sp_op_attrs *a);
typedef struct {
    const char *name; /* the op's name */
    sp_op_impl_fn forward, backward;
} sp_op_impl;

/* The op's CUDA implementation, or NULL. */
const sp_op_impl *sp_op_cuda_find(const char *name);
/* Calls fn for every CUDA implementation, in table order. */
void sp_op_cuda_foreach(void (*fn)(const sp_op_impl *impl, void *ctx), void *ctx);
/* "forward, backward", "forward", or "none" for op's CUDA implementation. */
const char *sp_op_cuda_coverage(const sp_op_def *op);

/* Runs op's forward (backward != 0: its backward) on device dev (0 CPU, 1
 * CUDA, as sp_device): the CUDA implementation when dev is CUDA and it
 * takes the case, else the CPU's.  Returns the device that ran it. */
int sp_op_run(const sp_op_def *op, int dev, int backward, sp_map *out, const sp_map *in,
              const sp_op_attrs *a);

/* Each family of ops defines one table, terminated by {0}. */
extern const sp_op_def sp_ops_nn[];      /* conv, batch norm, pooling, linear, activations, encoders */
extern const sp_op_def sp_ops_geom[];    /* grids, grid_sample, transformations, MLP heads */
extern const sp_op_def sp_ops_compose[]; /* clamp, composition, loss, optimiser, init, noise */
/* The CUDA implementations of each family (sp_ops_cuda_*.c), terminated by {0}. */
extern const sp_op_impl sp_ops_cuda_nn[], sp_ops_cuda_geom[], sp_ops_cuda_compose[];

#endif

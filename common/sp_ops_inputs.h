/* Input parsing and checking of the registry's ops, shared by the CPU
 * entries (sp_ops_<family>.c) and their CUDA wrappers
 * (sp_ops_cuda_<family>.c), so that both read an op's inputs and attributes
 * the same way and fail with the same messages (sp_op.h's conventions).
 * Defined per family in sp_ops_<family>_inputs.c; plain C, in every build. */
#ifndef SP_OPS_INPUTS_H
#define SP_OPS_INPUTS_H

#include "sp_clamp.h"
#include "sp_conv.h"
#include "sp_op.h"
#include "sp_warp.h"

#include <stdint.h>

/* ---- shared by the families -------------------------------------------- */

/* The gradient input name (e.g. "dy") of ndim dimensions, shape shape. */
const sp_tensor *sp_opin_grad(const char *op, const sp_map *in, const char *name, int ndim,
                              const int64_t *shape);

/* ---- composition family (sp_ops_compose_inputs.c) ------------------------ */

/* Fatal unless b has a's shape ("input 'name' is ..., expected ..."). */
void sp_opin_check_same(const char *op, const char *name, const sp_tensor *b, const sp_tensor *a);
/* x [any] and dy [same] of clamp's or sigmoid's backward; returns dy. */
const sp_tensor *sp_opin_unary_bwd(const char *op, const sp_map *in, const sp_tensor **x);
/* clamp's --kind. */
sp_clamp sp_opin_clamp_attr(const sp_op_attrs *a);

typedef struct {
    const sp_tensor *layers, *masks, *bg, *occ;
    size_t L, N, C, hw;
} sp_opin_compose_in;
/* compose's layers, masks and optional background, occlusion. */
sp_opin_compose_in sp_opin_compose(const sp_map *in);
/* compose's dy [N,C,H,W]. */
const sp_tensor *sp_opin_compose_dy(const sp_map *in, const sp_opin_compose_in *c);

/* occlusion_grid's logits [N,L(L-1)/2]; *L from --layers or the logits. */
const sp_tensor *sp_opin_occ(const sp_map *in, const sp_op_attrs *a, size_t *L);
/* occlusion_grid's docc [N,L,L]. */
const sp_tensor *sp_opin_occ_grad(const sp_map *in, const sp_tensor *z, size_t L);

/* mse's x [N,...] and target [same]; N images of D values. */
void sp_opin_mse(const sp_map *in, const sp_tensor **x, const sp_tensor **t, size_t *N, size_t *D);
/* sp_opin_mse, then the backward's optional ddist [N] and dloss (one value). */
void sp_opin_mse_bwd(const sp_map *in, const sp_tensor **x, const sp_tensor **t, size_t *N,
                     size_t *D, const sp_tensor **dd, const sp_tensor **dl);

/* adam's param and grad, m, v of its shape, and the attributes --step, --times. */
void sp_opin_adam(const sp_map *in, const sp_op_attrs *a, const sp_tensor **p, const sp_tensor **g,
                  const sp_tensor **m, const sp_tensor **v, double *step, int *times);

/* uniform_noise's --shape into shape [SP_MAX_DIMS] (returns the number of
 * dimensions) and --seed, --stream, --index. */
int sp_opin_uniform(const sp_op_attrs *a, int64_t *shape, uint64_t *seed, uint64_t *stream,
                    uint64_t *index);

/* mask_noise's mask [L,K,N,1,H,W], canvas [same], u [K,1,H,W]. */
void sp_opin_mask_noise(const sp_map *in, const sp_tensor **m, const sp_tensor **cv,
                        const sp_tensor **u);
/* mask_noise's dy [same as mask]. */
const sp_tensor *sp_opin_mask_noise_dy(const sp_map *in, const sp_tensor *m);

/* ---- network family (sp_ops_nn_inputs.c) --------------------------------- */

/* Fatal unless t has ref's shape ("..., expected the shape of ..."). */
void sp_opin_same_shape(const char *op, const char *name, const sp_tensor *t, const sp_tensor *ref);
/* An image batch [N,C,H,W], C, H, W in 1 .. 2^24, N at most 2^24. */
const sp_tensor *sp_opin_input4(const char *op, const sp_map *in, const char *name);
/* relu's dy [shape of x]. */
const sp_tensor *sp_opin_relu_dy(const sp_map *in, const sp_tensor *x);
/* add's a and b [same]; returns a. */
const sp_tensor *sp_opin_add(const sp_map *in, const sp_tensor **b);
/* add's dy [shape of a]. */
const sp_tensor *sp_opin_add_dy(const sp_map *in, const sp_tensor *x);

/* conv2d's x, weight, optional bias and the attributes, checked. */
sp_conv2d_desc sp_opin_conv(const sp_map *in, const sp_op_attrs *a, const sp_tensor **x,
                            const sp_tensor **w, const sp_tensor **b);
/* conv2d's dy [N,O,Ho,Wo]. */
const sp_tensor *sp_opin_conv_dy(const sp_map *in, const sp_conv2d_desc *d);

typedef struct {
    const sp_tensor *x, *g, *b, *rm, *rv;
    size_t n, c, hw;
    int training;
    float momentum, eps;
} sp_opin_bn;
/* batchnorm2d's x, optional weight, bias, running statistics, attributes. */
sp_opin_bn sp_opin_batchnorm(const sp_map *in, const sp_op_attrs *a);

/* ---- geometry family (sp_ops_geom_inputs.c) ------------------------------ */

/* A size attribute, 0 to 65536. */
int sp_opin_attr_size(const char *op, const sp_op_attrs *a, const char *name);
/* --padding: zeros or border. */
sp_padding sp_opin_attr_padding(const char *op, const sp_op_attrs *a);
/* An image batch x [N,C,H,W] with non-empty images. */
const sp_tensor *sp_opin_image(const char *op, const sp_map *in, const char *name);
/* A batch of r x c matrices [N,r,c]. */
const sp_tensor *sp_opin_theta(const char *op, const sp_map *in, const char *name, int r, int c);
/* g from a count of g*g points (or 2 g^2 parameters with per = 2). */
int sp_opin_lattice_side(const char *op, const char *name, int64_t count, int per);
/* beta [N,P] for x [N,...] (P < 0: any). */
const sp_tensor *sp_opin_beta(const char *op, const sp_map *in, const sp_tensor *x, int P);
/* Output size from --height, --width (0: x's). */
void sp_opin_out_size(const char *op, const sp_op_attrs *a, const sp_tensor *x, int *h, int *w);

/* tps_grid's points [N,g*g,2]; *g the lattice side. */
const sp_tensor *sp_opin_tps_points(const sp_map *in, int *g);
/* grid_sample's x and grid [N,H,W,2]. */
sp_warp_shape sp_opin_grid_sample(const sp_map *in, const sp_op_attrs *a, const sp_tensor **x,
                                  const sp_tensor **grid);
/* warp_affine's x and theta [N,2,3]. */
sp_warp_shape sp_opin_warp_affine(const sp_map *in, const sp_op_attrs *a, const sp_tensor **x,
                                  const sp_tensor **th);
/* A spatial transformation's x and beta [N,P]; P < 0: TPS (P = 2 g^2, *g
 * from beta's size). */
sp_warp_shape sp_opin_warp(const char *op, const sp_map *in, const sp_op_attrs *a, int P,
                           const sp_tensor **x, const sp_tensor **b, int *g);
/* tsf_identity's x [N,C,H,W] and optional beta [N,0]. */
const sp_tensor *sp_opin_identity(const sp_map *in);

/* weight [out,in] and bias [out] (optional when bias_opt) of a layer taking
 * fan_in features. */
void sp_opin_layer(const char *op, const sp_map *in, const char *wn, const char *bn,
                   int64_t fan_in, const sp_tensor **w, const sp_tensor **b, int bias_opt);
/* linear's x [N,in], weight, optional bias; returns x. */
const sp_tensor *sp_opin_linear(const sp_map *in, const sp_tensor **w, const sp_tensor **b);
/* mlp's names of weights and biases ("w1", "b1", ...). */
extern const char *const sp_opin_mlp_w[3], *const sp_opin_mlp_b[3];
/* mlp's x [N,in] and the three layers' weights and biases; returns x. */
const sp_tensor *sp_opin_mlp(const sp_map *in, const sp_tensor **ws, const sp_tensor **bs);

#endif

/* Spatial warps: sampling grids, bilinear grid sampling, and the spatial
 * transformations of the reference (model/transformer.py: PositionModule,
 * SimilarityModule, AffineModule, ProjectiveModule, TPSModule), forward and
 * backward.
 *
 * Conventions of PyTorch, which the reference uses throughout:
 *  - a grid holds, for every output pixel, the (x, y) point to read in
 *    normalised input coordinates: -1 is the left/top edge of the input, +1
 *    its right/bottom edge (align_corners=False: the edges of the border
 *    pixels, not their centres);
 *  - bilinear interpolation; padding 'zeros' (reads outside the input are 0)
 *    or 'border' (coordinates clipped to the input; their gradient is 0
 *    where clipped, the border itself counting as clipped, like PyTorch).
 *    The reference samples sprites with 'zeros' and backgrounds with
 *    'border'.
 *
 * The transformations are fused: grid coordinates are generated row by row
 * inside the sampler, never stored, and the backward chains the grid
 * gradient straight into the parameter gradient.
 *
 * Determinism: work is split over images only; everything of one image
 * (input gradient scatter, parameter gradient sums) runs serially in a fixed
 * order, so results do not depend on the number of threads.  Where SSE2 is
 * available (every x86-64) the four corners of a point are handled as one
 * vector; elsewhere plain C does the same in another summation order.
 *
 * Backward functions overwrite their outputs; any output pointer may be NULL
 * when that gradient is not wanted.  Input values must be finite. */
#ifndef SP_WARP_H
#define SP_WARP_H

#include <stddef.h>

typedef enum { SP_PAD_ZEROS, SP_PAD_BORDER } sp_padding;

/* "zeros" / "border" -> 0, else -1. */
int sp_padding_parse(const char *name, sp_padding *pad);

/* The sizes of one warp: x [n,c,hin,win] -> y [n,c,h,w]. */
typedef struct {
    size_t n;
    int c, hin, win, h, w;
    sp_padding pad;
} sp_warp_shape;

/* Number of parameters per image of each transformation (the reference's
 * regressor output size). */
#define SP_TSF_POSITION_P 3   /* log-scale s, tx, ty */
#define SP_TSF_SIMILARITY_P 4 /* a, b, tx, ty */
#define SP_TSF_AFFINE_P 6     /* 2x3 matrix, offset from identity */
#define SP_TSF_PROJECTIVE_P 9 /* 3x3 homography, offset from identity */
/* tps: 2 * g * g (offsets of the g x g control points, (x, y) pairs) */
#define SP_TPS_MAX_G 16

/* ---- grids ---------------------------------------------------------------- */

/* F.affine_grid(theta, (n, *, h, w), align_corners=False):
 * grid [n,h,w,2] = theta [n,2,3] @ (x_j, y_i, 1), x_j = (2j + 1)/w - 1. */
void sp_affine_grid_forward(float *grid, const float *theta, size_t n, int h, int w);
/* dtheta [n,2,3] from dgrid [n,h,w,2] */
void sp_affine_grid_backward(float *dtheta, const float *dgrid, size_t n, int h, int w);

/* kornia 0.3 homography_warp's grid: points (x_j, y_i) of
 * create_meshgrid(h, w, normalized) = linspace(-1, 1) (align_corners=True
 * style, although the sampling uses align_corners=False: the reference's
 * projective identity is therefore not exact), mapped by hom [n,3,3] and
 * divided by z (kornia's convert_points_from_homogeneous: scale 1/(z + 1e-8)
 * where |z| > 1e-8, else 1).  grid [n,h,w,2]. */
void sp_homography_grid_forward(float *grid, const float *hom, size_t n, int h, int w);
/* dhom [n,3,3] from dgrid [n,h,w,2] (hom: the forward input) */
void sp_homography_grid_backward(float *dhom, const float *dgrid, const float *hom, size_t n,
                                 int h, int w);

/* The reference's TPSGrid (tools.py) with target control points on a g x g
 * linspace(-1, 1) lattice (x fastest) and target pixels on linspace(-1, 1):
 * grid [n,h,w,2] = R [h*w, g*g+3] @ inverse_kernel [:, :g*g] @ points
 * [n,g*g,2].  The kernel matrices are computed once per (h, w, g) in double
 * precision and kept (thread-safe cache); the reference computes them in
 * float32 (torch.inverse), which moves its grid by up to ~1e-5. */
void sp_tps_grid_forward(float *grid, const float *points, size_t n, int h, int w, int g);
/* The TPS grid's matrix A [h*w, g*g] (grid x = A @ points x, likewise y),
 * from the cache; *owned is set (to free) when the cache was full.  For
 * the GPU backend, which uploads it. */
const float *sp_tps_matrix(int h, int w, int g, float **owned);
/* dpoints [n,g*g,2] from dgrid [n,h,w,2] */
void sp_tps_grid_backward(float *dpoints, const float *dgrid, size_t n, int h, int w, int g);

/* ---- sampling ------------------------------------------------------------- */

/* F.grid_sample(x, grid, 'bilinear', pad, align_corners=False):
 * y [n,c,h,w] from x [n,c,hin,win], grid [n,h,w,2]. */
void sp_grid_sample_forward(float *y, const float *x, const float *grid, const sp_warp_shape *s);

/* Tests: 1 makes the forward samplers use the point-by-point loop even
 * where AVX2 is available, 2 the 8-lane forms even where AVX-512 is (all
 * must agree bit for bit); 0 the best there is. */
void sp_warp_force_scalar(int on);
/* dx [n,c,hin,win], dgrid [n,h,w,2] from dy [n,c,h,w] */
void sp_grid_sample_backward(float *dx, float *dgrid, const float *dy, const float *x,
                             const float *grid, const sp_warp_shape *s);

/* ---- fused grid + sampling -------------------------------------------------- */

/* affine_grid(theta) + grid_sample, theta [n,2,3] (absolute, not offsets). */
void sp_warp_affine_forward(float *y, const float *x, const float *theta, const sp_warp_shape *s);
void sp_warp_affine_backward(float *dx, float *dtheta, const float *dy, const float *x,
                             const float *theta, const sp_warp_shape *s);

/* The reference's transformations.  beta [n,P] (P above), x [n,c,hin,win],
 * y [n,c,h,w] (the module's img_size).
 *  position:   theta = [[e^s + 1, 0, tx], [0, e^s + 1, ty]]
 *              (exp(s) * I + identity: the identity of a zero beta is a
 *              zoom by 2, as in the reference)
 *  similarity: theta = [[a + 1, -b, tx], [b, a + 1, ty]]
 *  affine:     theta = beta.view(2, 3) + [I | 0]
 *  projective: hom = beta.view(3, 3) + I, kornia grid (output size = input
 *              size in the reference, which passes dsize = x's size; here
 *              s->h, s->w)
 *  tps:        points = lattice + beta.view(g*g, 2), TPSGrid */
void sp_tsf_position_forward(float *y, const float *x, const float *beta, const sp_warp_shape *s);
void sp_tsf_position_backward(float *dx, float *dbeta, const float *dy, const float *x,
                              const float *beta, const sp_warp_shape *s);
void sp_tsf_similarity_forward(float *y, const float *x, const float *beta,
                               const sp_warp_shape *s);
void sp_tsf_similarity_backward(float *dx, float *dbeta, const float *dy, const float *x,
                                const float *beta, const sp_warp_shape *s);
void sp_tsf_affine_forward(float *y, const float *x, const float *beta, const sp_warp_shape *s);
void sp_tsf_affine_backward(float *dx, float *dbeta, const float *dy, const float *x,
                            const float *beta, const sp_warp_shape *s);
void sp_tsf_projective_forward(float *y, const float *x, const float *beta,
                               const sp_warp_shape *s);
void sp_tsf_projective_backward(float *dx, float *dbeta, const float *dy, const float *x,
                                const float *beta, const sp_warp_shape *s);
void sp_tsf_tps_forward(float *y, const float *x, const float *beta, int g, const sp_warp_shape *s);
void sp_tsf_tps_backward(float *dx, float *dbeta, const float *dy, const float *x,
                         const float *beta, int g, const sp_warp_shape *s);

#endif

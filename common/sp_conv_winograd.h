/* Internal to sp_conv_direct.c and the encoder: the Winograd F(2x2, 3x3)
 * and F(4x4, 3x3) forward of a 3x3 / stride 1 / padding 1 convolution, one
 * image (or a stacked group) on the calling thread, and for maps of one
 * F(4x4) tile a whole batch on the threads it starts (see
 * sp_conv_winograd.c). */
#ifndef SP_CONV_WINOGRAD_H
#define SP_CONV_WINOGRAD_H

#include "sp_conv.h"

#include <stddef.h>

/* 1 when d suits it: what sp_conv3x3_direct_ok accepts, with 16 or more
 * input and output channels and maps of 5x5 or more (smaller: the
 * transforms cost more than they save); and wider layers than the direct
 * tiles take, on maps of 8x8 or more. */
int sp_conv3x3_winograd_ok(const sp_conv2d_desc *d);
/* Which tile, F(2x2, 3x3) or F(4x4, 3x3): each function below takes tile
 * = 2 or 4, or 0 for whichever computes fewer products on d's layer
 * (sp_conv3x3_winograd_tile says which), and the pack, the scratch and the
 * forward of one layer must be given the same.  F(4x4)'s rounding is ~15x
 * F(2x2)'s (~1e-6 of sum |w x|, and systematic: the rounded transformed
 * weights repeat in every tile), so training's batched forward takes F(2x2)
 * (sp_conv_direct.c says why); the input gradient and the encoder's
 * inference pick. */
int sp_conv3x3_winograd_tile(const sp_conv2d_desc *d, int tile);
/* tile = SP_WINOGRAD_GROUPED: as 0, and where F(2x2) would win on one image
 * (maps of 9x9 and less), F(4x4) over a group of images stacked in one
 * tile sequence when that computes fewer products, and two images stacked
 * where F(4x4)'s weights exceed a core's L2 on maps of few tiles (16x16 at
 * 128 channels) so that they stream once for both; the group's size
 * (1 otherwise) is sp_conv3x3_winograd_group's, and the scratch is for a
 * whole group.  Training never asks for it. */
#define SP_WINOGRAD_GROUPED (-1)
size_t sp_conv3x3_winograd_group(const sp_conv2d_desc *d, int tile);
/* The multiplies an image and a channel pair costs: the per-image path's
 * with tile (its padding tiles and the GEMM's rounding counted), and the
 * batched one's (below) with F(tile x tile), whole images' tiles only. */
size_t sp_conv3x3_winograd_image_products(const sp_conv2d_desc *d, int tile);
size_t sp_conv3x3_winograd_batched_products(const sp_conv2d_desc *d, int tile);
/* Forces tile m (2 or 4) on every call, whatever its tile argument (0:
 * stop forcing); SP_CONV_WINOGRAD=2 or 4 sets it at the library's start;
 * tests and convbench call it before packing. */
void sp_conv3x3_winograd_set_tile(int m);
/* 0: F(4x4) computes every tile of the flat layout, as before the compact
 * tiles (1, the default: only the images' tiles where the map allows; the
 * same bits either way); for tests, before packing. */
void sp_conv3x3_winograd_set_compact(int on);
/* Whether d's layer computes only its images' tiles (compact_tiles). */
int sp_conv3x3_winograd_compact(const sp_conv2d_desc *d, int tile);
/* The transformed weights: sp_conv3x3_winograd_packed_floats of them, from
 * weight [O,C,3,3], or (flipped, for an input gradient whose convolution d
 * takes dy's O' = d->c channels to dx's C' = d->o) from the forward's weight
 * [C',O',3,3] transposed and rotated by 180 degrees. */
size_t sp_conv3x3_winograd_packed_floats(const sp_conv2d_desc *d, int tile);
void sp_conv3x3_winograd_pack(float *pk, const float *weight, const sp_conv2d_desc *d, int flipped, int tile);
/* Scratch of one image: padded planes, transformed input and products. */
size_t sp_conv3x3_winograd_image_floats(const sp_conv2d_desc *d, int tile);
/* x [C,H,W] -> y [O,H,W] (+ bias, may be NULL), then ep (may be NULL) with
 * this image's residual res (may be NULL), as sp_conv_out_row applies it. */
void sp_conv3x3_winograd_forward_image(float *y, const float *x, const float *pk, const float *bias,
                                       const sp_conv2d_desc *d, float *ws, const sp_conv2d_epilogue *ep,
                                       const float *res, int tile);
/* The same for gi consecutive images (x [gi,C,H,W] -> y [gi,O,H,W], res
 * likewise), at most the group's size: each image's outputs have the bits
 * the same tile gives it alone (the stack changes which tiles share a
 * vector, not any tile's sums). */
void sp_conv3x3_winograd_forward_images(float *y, const float *x, size_t gi, const float *pk, const float *bias,
                                        const sp_conv2d_desc *d, float *ws, const sp_conv2d_epilogue *ep,
                                        const float *res, int tile);
/* Two such convolutions of the same layout in a row (a ResNet block's
 * first into its second, the inference's): the first writes its outputs
 * (after ep) straight into the second's padded input, which lies at the
 * start of their (one) scratch, and the second starts from there: one pass
 * over the map instead of two (the first's epilogue, the second's padding),
 * the same bits.  Where sp_conv3x3_winograd_padded_ok: F(4x4) with the
 * 16-lane tiles, as many channels out as in, maps of up to
 * SP_WINOGRAD_PADDED_W columns.  flags: SP_WINOGRAD_OUT_PADDED (y is not
 * written; with SP_WINOGRAD_OUT_KEEP it is, as well: outputs read again
 * later), SP_WINOGRAD_IN_PADDED (x is not read; the same images, gi, and
 * scratch as the first's call); 0 is sp_conv3x3_winograd_forward_images. */
#define SP_WINOGRAD_PADDED_W 256
enum { SP_WINOGRAD_IN_PADDED = 1, SP_WINOGRAD_OUT_PADDED = 2, SP_WINOGRAD_OUT_KEEP = 4 };
int sp_conv3x3_winograd_padded_ok(const sp_conv2d_desc *d, int tile);
void sp_conv3x3_winograd_forward_images_padded(float *y, const float *x, size_t gi, const float *pk,
                                               const float *bias, const sp_conv2d_desc *d, float *ws,
                                               const sp_conv2d_epilogue *ep, const float *res, int tile, int flags);

/* Maps of 4x4 and less (16 or more channels in and out), a batch at once:
 * F(4x4) with one tile an image (the encoder's inference, the input
 * gradient) or F(2x2) with 2x2 tiles an image (training's forward); tile
 * 2 or 4, the forced one (sp_conv3x3_winograd_set_tile) when one is.  The
 * pack is the layer's (flipped as sp_conv3x3_winograd_pack's, for an input
 * gradient); the scratch (sp_conv3x3_winograd_batched_floats, whatever n)
 * is shared by the threads the forward starts itself.  x [n,C,H,W] ->
 * y [n,O,H,W] (+ bias, may be NULL), then ep (may be NULL) with its
 * residual [n,O,H,W]. */
int sp_conv3x3_winograd_batched_ok(const sp_conv2d_desc *d);
size_t sp_conv3x3_winograd_batched_packed_floats(const sp_conv2d_desc *d, int tile);
void sp_conv3x3_winograd_batched_pack(float *pk, const float *weight, const sp_conv2d_desc *d, int flipped, int tile);
size_t sp_conv3x3_winograd_batched_floats(const sp_conv2d_desc *d, int tile);
void sp_conv3x3_winograd_batched_forward(float *y, const float *x, size_t n, const float *pk, const float *bias,
                                         const sp_conv2d_desc *d, float *ws, const sp_conv2d_epilogue *ep, int tile);

#endif

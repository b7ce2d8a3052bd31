/* Internal to sp_conv.c and sp_encoder.c (its per-image inference): the
 * direct 3x3 / stride 1 / padding 1 convolution
 * (AVX2 + FMA), which the ResNets spend nearly all their time in.  See
 * sp_conv_direct.c. */
#ifndef SP_CONV_DIRECT_H
#define SP_CONV_DIRECT_H

#include "sp_conv.h"

#include <stddef.h>

/* 1 when d is 3x3, stride 1, padding 1, its weights are small enough to stay
 * in cache, the CPU has AVX2 and FMA, and SP_CONV_IM2COL is not set in the
 * environment (which forces the im2col + sgemm path, e.g. to test it). */
int sp_conv3x3_direct_ok(const sp_conv2d_desc *d);
/* 1 when d is 3x3, stride 1, padding 1 and the CPU has AVX2 and FMA (and
 * SP_CONV_IM2COL is not set): what the direct tiles and Winograd need, the
 * weights' size aside. */
int sp_conv3x3_shape_ok(const sp_conv2d_desc *d);
/* 1 when the forward's im2col GEMM goes through our tiles
 * (sp_gemm_tiles.c) rather than sgemm: AVX2 and FMA (and SP_CONV_IM2COL
 * not set) and output channels a multiple of 8. */
int sp_conv_gemm_tiles_ok(const sp_conv2d_desc *d);
/* The 16-lane tiles pay on this CPU (AVX-512 F and VL, its probe's timing
 * or SP_CONV_AVX512=1; SP_CONV_AVX512=0: never): the direct tiles' and the
 * Winograd GEMM's choice between 8 and 16 lanes. */
int sp_conv3x3_wide(void);
/* 1 when the forward entry points below apply: the direct tiles, or
 * Winograd alone for layers whose weights are too large for the direct
 * tiles but whose maps are 8x8 or more (ResNet-18's layer 3); their
 * backward then goes through im2col + sgemm, and sp_conv3x3_workspace is
 * the forward's only. */
int sp_conv3x3_forward_ok(const sp_conv2d_desc *d);
/* Floats of workspace for forward and backward with T threads. */
size_t sp_conv3x3_workspace(const sp_conv2d_desc *d, int T);
void sp_conv3x3_forward(float *y, const float *x, const float *weight, const float *bias,
                        const sp_conv2d_desc *d, float *ws, const sp_conv2d_epilogue *ep);
/* One image on the calling thread, for a caller that runs images in
 * parallel itself (sp_encoder_infer): pk holds the weights packed once by
 * sp_conv3x3_pack_forward (sp_conv3x3_packed_floats of them), ws
 * sp_conv3x3_image_floats of scratch of this thread's own; x [C,H,W] ->
 * y [O,H,W], then ep with this image's residual res (may be NULL).  The
 * same bits as sp_conv3x3_forward gives that image: the same tiles. */
size_t sp_conv3x3_packed_floats(const sp_conv2d_desc *d);
void sp_conv3x3_pack_forward(float *pk, const float *weight, const sp_conv2d_desc *d);
size_t sp_conv3x3_image_floats(const sp_conv2d_desc *d);
void sp_conv3x3_forward_image(float *y, const float *x, const float *pk, const sp_conv2d_desc *d,
                              float *ws, const sp_conv2d_epilogue *ep, const float *res);
/* Layers whose per-image forward pays most over a group of images (small
 * maps by Winograd F(4x4) stacked, sp_conv_winograd.h): the group's size
 * (1 for every other layer), and the forward of gi <= that many consecutive
 * images (x [gi,C,H,W], y and res [gi,O,H,W]); ws is then a group's scratch
 * (sp_conv3x3_image_floats).  Each image gets the bits it gets alone. */
size_t sp_conv3x3_group(const sp_conv2d_desc *d);
void sp_conv3x3_forward_images(float *y, const float *x, size_t gi, const float *pk, const sp_conv2d_desc *d,
                               float *ws, const sp_conv2d_epilogue *ep, const float *res);
/* Two such layers of one layout in a row, the first's outputs read by the
 * second alone (a ResNet block's convolutions): where
 * sp_conv3x3_padded_ok, the first can write them straight into the
 * second's padded input in the scratch they share, and the second start
 * from there (sp_conv3x3_winograd_forward_images_padded's flags, the same
 * bits; the same images and scratch, one call after the other); flags 0 is
 * sp_conv3x3_forward_images, for any layer. */
int sp_conv3x3_padded_ok(const sp_conv2d_desc *d);
void sp_conv3x3_forward_images_padded(float *y, const float *x, size_t gi, const float *pk, const sp_conv2d_desc *d,
                                      float *ws, const sp_conv2d_epilogue *ep, const float *res, int flags);
/* 1 where a batch forward of d takes the batched Winograd (maps of 4x4 and
 * less, sp_conv3x3_winograd_batched_* in sp_conv_winograd.h; the
 * inference's with F(4x4), one tile an image): AVX2 + FMA and Winograd not
 * turned off (SP_CONV_WINOGRAD=0, SP_CONV_IM2COL=1). */
int sp_conv3x3_batched_ok(const sp_conv2d_desc *d);
/* 1 where a layer that the per-image path runs by Winograd, on a map of
 * 8x8 or less, costs 30% fewer multiplies by the batched Winograd than by
 * that path, whose stacked images each add a padding row and column of
 * tiles (ResNet-18's layer 3 on 128x128 images: 8x8 maps, 4 tiles of 4x4
 * an image against 9); F(4x4) both ways (tile 4, no F(2x2) forced), so
 * the same bits.  The inference takes the batched path there. */
int sp_conv3x3_batched_pays(const sp_conv2d_desc *d, int tile);
/* The forward of such a layer by that path with training's tile, F(2x2)
 * (the weights packed on every call into ws, then the scratch:
 * sp_conv3x3_forward_batched_floats of it, 0 where it does not apply). */
size_t sp_conv3x3_forward_batched_floats(const sp_conv2d_desc *d);
void sp_conv3x3_forward_batched(float *y, const float *x, const float *weight, const float *bias,
                                const sp_conv2d_desc *d, float *ws, const sp_conv2d_epilogue *ep);
/* The input gradient of a 3x3 stride-1 layer whose weights are too large
 * for the direct tiles (ResNet-18's layers 3 and 4) by Winograd where
 * the flipped convolution takes it: returns 0 (nothing done) where it does
 * not, for im2col; ws: sp_conv3x3_dx_wide_floats(d, omp_get_max_threads())
 * (0 where it does not apply). */
size_t sp_conv3x3_dx_wide_floats(const sp_conv2d_desc *d, int T);
int sp_conv3x3_dx_wide(float *dx, const float *dy, const float *weight, const sp_conv2d_desc *d, float *ws);
/* One row of output channel o from the convolution's own result: src +
 * bias, then ep (may be NULL) as the separate batch-norm pass computes it,
 * operation for operation (x * scale + shift + residual), so fused and
 * unfused give the same bits. */
static inline __attribute__((always_inline)) void sp_conv_out_row(float *dst, const float *src, size_t len, float bias,
                                   const sp_conv2d_epilogue *ep, size_t o, const float *res)
{
    if (!ep) {
#pragma omp simd
        for (size_t j = 0; j < len; j++)
            dst[j] = src[j] + bias;
        return;
    }
    const float scale = ep->scale[o], shift = ep->shift[o];
    if (res && ep->relu) {
#pragma omp simd
        for (size_t j = 0; j < len; j++) {
            float v = (src[j] + bias) * scale + shift + res[j];
            dst[j] = v > 0.0f ? v : 0.0f;
        }
    } else if (res) {
#pragma omp simd
        for (size_t j = 0; j < len; j++)
            dst[j] = (src[j] + bias) * scale + shift + res[j];
    } else if (ep->relu) {
#pragma omp simd
        for (size_t j = 0; j < len; j++) {
            float v = (src[j] + bias) * scale + shift;
            dst[j] = v > 0.0f ? v : 0.0f;
        }
    } else {
#pragma omp simd
        for (size_t j = 0; j < len; j++)
            dst[j] = (src[j] + bias) * scale + shift;
    }
}

/* sp_conv_out_row over a map: y [O, rows, W] (contiguous) from src, whose
 * channel o starts at src + o * src_chan and row r of it r * src_row
 * further; bias [O] and res [O, rows, W] may be NULL.  With 16 lanes where
 * the tiles run 16 (sp_conv3x3_wide), else the default build's: the
 * operations are never fused (-std=c11 contracts none), so the bits are
 * the same either way.  (The default build runs SSE's 4 lanes: the
 * ResNet stem's 64 rows of 4,096 took ~0.9% of a horse inference so, ~0.5%
 * at 16.) */
void sp_conv_out_rows(float *y, const float *src, size_t O, size_t rows, size_t W, size_t src_row,
                      size_t src_chan, const float *bias, const sp_conv2d_epilogue *ep, const float *res);

/* dx, dweight may be NULL. */
void sp_conv3x3_backward(float *dx, float *dweight, const float *dy, const float *x,
                         const float *weight, const sp_conv2d_desc *d, float *ws);

#endif

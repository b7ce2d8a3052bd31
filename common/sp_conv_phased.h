/* Internal to sp_conv.c: the forward of a 3x3 stride-2 padding-1
 * convolution read in place from its input's four phase planes, whatever
 * its output width.  See sp_conv_phased.c. */
#ifndef SP_CONV_PHASED_H
#define SP_CONV_PHASED_H

#include "sp_conv.h"

#include <stddef.h>

/* Whether d takes it: 3x3, stride 2, padding 1, output channels a multiple
 * of 8, weights of 1 MB at most, the 16-lane tiles (sp_conv3x3_wide). */
int sp_conv_phased_ok(const sp_conv2d_desc *d);

/* Floats of one image's workspace: the planes, the product rows and the
 * GEMM's tables. */
size_t sp_conv_phased_floats(const sp_conv2d_desc *d);

/* y [O, Ho*Wo] of one image x [C, H, W] by the weights pk packed for the
 * GEMM tiles (sp_gemm_tiles_pack of [O, C*9]), then bias (may be NULL) and
 * ep with res, this image's residual (either may be NULL), as
 * sp_conv_out_row applies them.  Each output is the tiles' chain of fused
 * multiply-adds over (c, ki, kj) from zero, so the bits of im2col and
 * sp_gemm_tiles.  ws: sp_conv_phased_floats(d). */
void sp_conv_phased_forward(float *y, const float *x, const float *pk, const sp_conv2d_desc *d, float *ws,
                            const float *bias, const sp_conv2d_epilogue *ep, const float *res);

#endif

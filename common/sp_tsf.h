/* The reference's non-spatial transformations (model/transformer.py):
 * ColorModule and MorphologicalModule, forward and backward.  The spatial
 * ones (position, similarity, affine, projective, tps) are in sp_warp.h; the
 * identity is a copy.
 *
 * Backward functions overwrite their outputs; dx or dbeta may be NULL.
 * Parallel over images (and channels for morpho), deterministic: every sum
 * runs in a fixed order whatever the number of threads. */
#ifndef SP_TSF_H
#define SP_TSF_H

#include "sp_clamp.h"

#include <stddef.h>

/* ColorModule with cc colour channels (the image's channel count, 3 in every
 * configuration of the reference).  beta [n, 2*cc] holds per channel i a
 * scale w_i and a bias b_i: y_i = clamp((1 + w_i) * x_i + b_i).
 *  - x [n,c,h,w] with c == 2 or c > 3: the first cc channels are colour, the
 *    others (mask, noise canvas) are passed through unchanged after them;
 *    otherwise all c channels are colour.
 *  - a single colour channel with cc == 3 is expanded to 3 (x.expand), so the
 *    output has 3 colour channels.
 *  - cc == 1 with one colour channel: y = clamp((1 + w) x + b).  (The
 *    reference expands to 3 channels there too and its einsum then sums the
 *    3 copies, giving 3 (1 + w) x + b; it never runs that path since every
 *    dataset is loaded as RGB.)
 * Returns the output channel count, or -1 when the reference would fail
 * (colour channels neither cc nor 1 with cc == 3). */
int sp_tsf_color_channels(int c, int cc);
/* y [n,cout,h,w] (cout = sp_tsf_color_channels(c, cc)), hw = h * w */
void sp_tsf_color_forward(float *y, const float *x, const float *beta, size_t n, int c, int cc,
                          size_t hw, sp_clamp clamp);
/* dx [n,c,h,w], dbeta [n,2*cc] from dy [n,cout,h,w] */
void sp_tsf_color_backward(float *dx, float *dbeta, const float *dy, const float *x,
                           const float *beta, size_t n, int c, int cc, size_t hw, sp_clamp clamp);

/* MorphologicalModule: smooth max (alpha > 0, dilation-like) / smooth min
 * (alpha < 0, erosion-like) over a k x k window (k odd, zero padding), the
 * window's pixels weighted by sigmoid(kernel weights):
 *   y = sum_q u_q e^(alpha u_q) s_q / sum_q e^(alpha u_q) s_q
 * beta [n, 1 + k*k]: alpha = beta[0], kernel weights = beta[1:] + identity
 * (-5 everywhere, +5 at the centre).  x, y [n,c,h,w].
 * The reference's broadcasting only works for c == 1 or n == 1; here image
 * b's channels all use image b's parameters (the same in those cases).
 * Computed with the largest exponent subtracted (the reference does not), so
 * large alpha * x does not overflow. */
void sp_tsf_morpho_forward(float *y, const float *x, const float *beta, size_t n, int c, int h,
                           int w, int k);
/* dx [n,c,h,w], dbeta [n,1+k*k] from dy [n,c,h,w] */
void sp_tsf_morpho_backward(float *dx, float *dbeta, const float *dy, const float *x,
                            const float *beta, size_t n, int c, int h, int w, int k);

#endif

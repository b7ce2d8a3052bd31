/* Initialisation and noise: the reference's Gaussian mask initialisation and
 * the uniform noise it injects into the masks during training, drawn from
 * our Philox generator (sp_rng.h) instead of torch's.
 *
 * Mask noise, as the reference does it (DTISprites.predict, training with
 * inject_noise = a, 0.4 in every config; REFERENCE-NOTES point 7):
 *  - the sprites' masks enter the transformations unclamped (the `masks`
 *    property skips clamp_func when inject_noise and training), together
 *    with a "canvas" channel of ones (zeros for the empty sprite), which the
 *    sprite and layer transformers warp exactly like the mask (zeros
 *    padding), so that after warping it is 1 where the sprite lands, 0
 *    outside, bilinear in between;
 *  - one uniform noise map per sprite at image resolution,
 *    u = torch.rand(K, 1, H, W), fresh every forward, shared by every layer
 *    and every image of the batch (expand over L and B);
 *  - tsf_masks = tsf_masks + tsf_canvas * (2 a u - a), then clamp_func (soft
 *    clamp); the greedy selection and the loss both see these noisy masks.
 *    The canvas is differentiable: its gradient (dy * (2 a u - a)) flows back
 *    into the transformations' grid-sampling.
 *  - in evaluation (model.eval()) no noise: masks are clamped before the
 *    transformations and no canvas is carried.
 * sp_mask_noise_forward is that addition; the clamp is a separate op. */
#ifndef SP_INIT_H
#define SP_INIT_H

#include <stddef.h>
#include <stdint.h>

/* The reference's create_gaussian_weights((h, w), channels, std):
 * y[c][i][j] = g_h(i) g_w(j), g_M(n) = exp(-((n - (M-1)/2) / std)^2 / 2)
 * (scipy.signal.gaussian(M, std); 1 for M = 1), the outer product in double
 * and rounded to float once.  y [channels, h, w]. */
void sp_gaussian_weights(float *y, size_t channels, size_t h, size_t w, double std);

/* y[i] = low + (high - low) u_i, u_i = sp_philox_uniform_at(seed, stream,
 * index0 + i) in [0, 1), in float: (float)(high - low) * u + (float)low. */
void sp_uniform_noise(float *y, size_t n, double low, double high, uint64_t seed,
                      uint64_t stream, uint64_t index0);

/* The reference's mask-noise injection before its clamp:
 * y = mask + canvas * (2 a u - a) in float ((2a) * u - a, as torch rounds
 * `2 * a * noise - a`), with masks, canvas, y [L,K,N,1,H,W] (the reference's
 * LKB1HW candidate layout) and u [K,1,H,W] uniform in [0, 1), one map per
 * sprite shared over layers and images.  hw = H*W. */
void sp_mask_noise_forward(float *y, const float *mask, const float *canvas, const float *u,
                           double a, size_t L, size_t K, size_t N, size_t hw);
/* dmask = dy; dcanvas = dy * (2 a u - a).  Either may be NULL. */
void sp_mask_noise_backward(float *dmask, float *dcanvas, const float *dy, const float *u, double a,
                            size_t L, size_t K, size_t N, size_t hw);

#endif

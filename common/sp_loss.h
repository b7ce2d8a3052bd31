/* The reconstruction loss.  The reference's criterion is nn.MSELoss
 * (reduction 'none') followed by a mean over everything but the image
 * (`dist.flatten(2).mean(2)`): a per-image mean squared error over C*H*W.
 * The training loss is the mean of that over the images of the batch
 * (`criterion(x.unsqueeze(1), target.unsqueeze(1)).mean()` with the
 * selected composition; the exhaustive K-candidate case takes
 * `distances.min(1)[0].mean()`, the minimum over candidates first).  The
 * greedy selection scores candidates with the same per-image mean
 * (`((x - recon)**2).flatten(2).mean(2)`). */
#ifndef SP_LOSS_H
#define SP_LOSS_H

#include <stddef.h>

/* dist [N] = mean over d of (x - t)^2 for x, t [N,D] (D = C*H*W); *loss (when
 * not NULL) = mean of dist over N (NaN for N = 0, as torch's mean of
 * nothing).  Sums in double, deterministic. */
void sp_mse_forward(float *dist, float *loss, const float *x, const float *t, size_t N, size_t D);

/* dx [N,D] = 2 (x - t) (ddist_n + dloss / N) / D and dt = -dx; ddist may be
 * NULL (no per-image gradient), dx or dt NULL when not wanted. */
void sp_mse_backward(float *dx, float *dt, const float *ddist, float dloss, const float *x,
                     const float *t, size_t N, size_t D);

#endif

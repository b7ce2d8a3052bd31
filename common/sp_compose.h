/* Layered alpha composition with occlusion (paper Eq. 2; the reference's
 * `layered_composition` in src/model/dti_sprites.py), and the occlusion
 * matrix built from the occlusion predictor's outputs.
 *
 * The image is a background plus L layers, back to front.  Per image n and
 * pixel p, with m_j the alpha mask of layer j and o[j][k] how much layer j
 * covers layer k (the occlusion matrix of image n):
 *
 *   w_k  = m_k * prod_{j=0..L-1} (1 - o[j][k] m_j)      (layer k's weight)
 *   w_bg = prod_{j=0..L-1} (1 - m_j)                    (every layer covers the background)
 *   y_c  = w_bg * bg_c + sum_k w_k * x_{k,c}
 *
 * Without an occlusion matrix o is the fixed back-to-front order the
 * reference registers as its `occ_grid` buffer, tril(ones(L, L), -1):
 * o[j][k] = 1 when j > k (a later layer covers an earlier one), else 0.
 * Then the composition is ordinary "over" compositing:
 *   R_0 = bg, R_{k+1} = m_k x_k + (1 - m_k) R_k, y = R_L.
 * With a predicted matrix (pred_occlusion) o[j][k] + o[k][j] = 1 and the
 * diagonal is 0 (see sp_occlusion_grid_forward).  Like the reference's
 * `layered_composition` (the composition the training loss goes through),
 * the product runs over every j, the diagonal included: with a zero diagonal
 * its factor is 1, but the gradient to o[k][k] is not zero (it is dropped by
 * the occlusion-grid backward, where the diagonal is a constant).
 *
 * Without a background the reference composes the layers alone (tetro:
 * n_backgrounds 0), which equals a zero background.
 *
 * Layouts are the reference's after selection: layers [L,N,C,H,W], masks
 * [L,N,1,H,W] (one alpha per pixel, broadcast over channels), background
 * [N,C,H,W], occlusion [N,L,L] with occ[n][j][k] as above, y [N,C,H,W].
 * All pointers are contiguous C order; hw = H*W.
 *
 * For the greedy selection (which tries every sprite in one layer slot l
 * with the other slots fixed), the composite is affine in the slot's
 * content, so each candidate costs O(C) per pixel instead of a full
 * composition: with Q_k = prod_{j != l} (1 - o[j][k] m_j) and
 * W = prod_{j != l} (1 - m_j),
 *   y = A - m B + m x Q_l,  A = sum_{k != l} m_k x_k Q_k + W bg,
 *                           B = sum_{k != l} o[l][k] m_k x_k Q_k + W bg
 * (m, x: the candidate's mask and colour; diagonal of o zero).
 *
 * The CPU functions run OpenMP over (image, block of pixels) and are
 * deterministic: the occlusion gradient, a sum over pixels, is reduced per
 * block in double and then over blocks in a fixed order. */
#ifndef SP_COMPOSE_H
#define SP_COMPOSE_H

#include <stddef.h>

/* Largest number of layers the fused kernels take (the paper uses <= 6). */
#define SP_COMPOSE_MAX_LAYERS 16

/* y [N,C,H,W] from layers [L,N,C,H,W], masks [L,N,1,H,W], bg [N,C,H,W] or
 * NULL (no background), occ [N,L,L] or NULL (fixed back-to-front order). */
void sp_compose_forward(float *y, const float *layers, const float *masks, const float *bg,
                        const float *occ, size_t L, size_t N, size_t C, size_t hw);

/* Gradients given dy [N,C,H,W]; each of dlayers, dmasks, dbg, docc may be
 * NULL when not wanted (dbg must be NULL when bg is, docc when occ is).
 * They are overwritten, not accumulated. */
void sp_compose_backward(float *dlayers, float *dmasks, float *dbg, float *docc, const float *dy,
                         const float *layers, const float *masks, const float *bg,
                         const float *occ, size_t L, size_t N, size_t C, size_t hw);

/* The predicted occlusion matrix (the reference's predict_occlusion_grid,
 * before its permute to [L,L,N]): logits [N, L(L-1)/2] from the occlusion
 * MLP; s = sigmoid(logits) fills the strictly lower triangle in
 * torch.tril_indices(L, L, -1) order (row-major: (1,0), (2,0), (2,1), (3,0),
 * ...), the upper triangle is 1 - its transpose, the diagonal 0:
 *   occ[n][j][k] = s[idx(j,k)] for j > k, 1 - s[idx(k,j)] for j < k, 0 for j == k,
 *   idx(j,k) = j(j-1)/2 + k.
 * occ [N,L,L]. */
void sp_occlusion_grid_forward(float *occ, const float *logits, size_t N, size_t L);
/* dlogits [N, L(L-1)/2] from docc [N,L,L] (the diagonal's gradient is
 * dropped: it is a constant). */
void sp_occlusion_grid_backward(float *dlogits, const float *docc, const float *logits, size_t N,
                                size_t L);

#endif

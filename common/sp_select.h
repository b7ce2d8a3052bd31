/* Candidate selection (the reference's DTISprites.greedy_algo_selection and
 * the exact minimum of its forward): for one image, which candidate sprite
 * goes into each layer slot and which background is behind them.
 *
 * Inputs of one image, as sp-predict writes them without the batch axis:
 * layers [L,K,C,hw], masks [L,K,1,hw], bkgs [M,C,hw] (NULL when M == 0:
 * a zero background), occ [L,L] (occ[j][k]: how much layer j hides layer k;
 * NULL: the fixed order tril(ones, -1)), img [C,hw].  The values are used as
 * they are (no clamp), as the reference's selection does.
 *
 * The error of a composite is the mean over C*hw of the squared difference
 * to img (sp_loss.h's criterion).  The composite is sp_compose.h's formula;
 * a slot being filled is affine in that slot's content, so trying the K
 * candidates of one slot costs O(K C hw) after O(L^2 C hw) (see
 * sp_compose.h).  Everything runs in double, per image on one thread, the
 * squared errors summed in 8 partial sums in a fixed order (AVX2, 4 pixels
 * at a time, when the CPU has it; the same bits without), so the result is
 * deterministic; ties go to the lowest index (torch's argmin). */
#ifndef SP_SELECT_H
#define SP_SELECT_H

#include <stddef.h>
#include <stdint.h>

typedef struct {
    int L, K, M, C; /* layers, candidates (empty sprite included), backgrounds (0: none), channels */
    size_t hw;
    int empty;           /* candidate K-1 is the empty sprite */
    double lambda_empty; /* added to the error of every non-empty candidate (greedy only) */
    int iters;           /* greedy passes over the layers (the reference's greedy_algo_iter) */
    /* floats from one candidate (l, k) to the next in layers / masks; 0:
     * C*hw and hw, the packed [L,K,C,hw] and [L,K,1,hw] above (a stage that
     * keeps the candidates in another layout selects them where they are) */
    size_t lstride, mstride;
} sp_select_dims;

/* Doubles of scratch space the functions below need. */
size_t sp_select_work_size(const sp_select_dims *d);

/* The reference's greedy loop: slots start empty (mask 0); each pass takes
 * the layers in order and puts in each the candidate minimising the error
 * (+ lambda_empty when not the empty sprite) with the other slots as they
 * are.  With M > 1 the loop runs once per background and the background
 * whose final error is lowest wins (the reference's loop assumes M <= 1).
 * With L == 1 this is the exact minimum over K x M, as the reference does
 * for one-layer models (no greedy loop, no penalty).  Writes choice [L] and
 * *bkg (0 when M <= 1); returns the reconstruction error of the choice. */
double sp_select_greedy(int32_t *choice, int32_t *bkg, const float *layers, const float *masks,
                        const float *bkgs, const float *occ, const float *img,
                        const sp_select_dims *d, double *work);

/* The exact minimum of the error (no penalty) over all K^L x max(M,1)
 * assignments, the reference's forward without estimate_minimum.  Writes
 * choice [L] and *bkg; returns the error. */
double sp_select_exhaustive(int32_t *choice, int32_t *bkg, const float *layers,
                            const float *masks, const float *bkgs, const float *occ,
                            const float *img, const sp_select_dims *d, double *work);

/* The error of a given assignment (choice[l] < 0: slot empty). */
double sp_select_error(const int32_t *choice, int32_t bkg, const float *layers, const float *masks,
                       const float *bkgs, const float *occ, const float *img,
                       const sp_select_dims *d, double *work);

/* One image's chosen candidates, choice [L], copied out of layers / masks
 * (laid out as d says, strides included) into sel_layers [L,C,hw] and
 * sel_masks [L,1,hw]: what sp-select --gather hands on. */
void sp_select_gather(float *sel_layers, float *sel_masks, const int32_t *choice, const float *layers,
                      const float *masks, const sp_select_dims *d);

/* Tests: 1 makes the slot preparation and the error sums use the plain C
 * loops even where AVX2 is available (the two must agree bit for bit). */
void sp_select_force_scalar(int on);

#endif

/* Selection straight from the encoder's features, keeping only the chosen
 * candidates: what sp-predict --features | sp-select --model M --gather
 * computes for a batch, without ever holding the batch's candidates
 * ([N,L,K',C,H,W]: 27 MB for 32 Tetrominoes).  Each thread takes a few
 * images at a time, makes their candidates (sp_predict_cands_chunk),
 * selects each (sp_select_greedy or _exhaustive) and copies its chosen
 * layers out while they are still in cache.  The same library calls on the same
 * values as the unfused stages: byte-identical outputs. */
#ifndef SP_SELECT_FEATURES_H
#define SP_SELECT_FEATURES_H

#include "sp_predict.h"
#include "sp_select.h"

#include <stdint.h>

/* For n images with features feat [n,F] and images img [n,C,H,W]
 * (d: the model's L, K', M, C, hw and the selection's settings):
 *   choice [n,L], bkg_choice [n] (M > 0, else NULL), err [n] (the error of
 *   the choice, as sp-select's select_error), sel_layers [n,L,C,H,W],
 *   sel_masks [n,L,1,H,W], sel_bkg [n,C,H,W] (M > 0, else NULL), and
 *   occ [n,L,L] when the model predicts one (sp_predictor_has_occlusion;
 *   NULL: not wanted, the selection uses it either way); sel_layers NULL:
 *   the chosen layers not kept (nor sel_masks).  sel_params [n, L, P] and
 *   sel_bkg_params [n, Pb] (sp_predict_param_sizes; NULL: not wanted): the
 *   chosen candidates' transformation parameters, from which
 *   sp_predict_chosen makes the same chosen layers elsewhere. */
void sp_select_from_features(sp_predictor *p, const float *feat, const float *img, int n, const sp_select_dims *d,
                             int exhaustive, int32_t *choice, int32_t *bkg_choice, float *err, float *sel_layers,
                             float *sel_masks, float *sel_bkg, float *sel_params, float *sel_bkg_params,
                             float *occ);

#endif

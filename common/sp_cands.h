/* The candidate entries sp-predict adds to a batch (formats/model.md,
 * "Entries sp-predict adds"), looked up and checked once for the stages
 * after it (sp-select, sp-compose): shapes must agree with each other and
 * with the image, else a one-line fatal error naming the batch. */
#ifndef SP_CANDS_H
#define SP_CANDS_H

#include "sp_map.h"

#include <stddef.h>
#include <stdint.h>

typedef struct {
    int64_t N;
    int L, K, M, C; /* M == 0: no backgrounds */
    size_t hw;
    int H, W;
    const float *layers, *masks, *bkgs, *occ, *img; /* bkgs, occ NULL when absent */
    int gathered; /* 1: the chosen candidates only (sp-select --gather), K == 1, M <= 1 */
} sp_cands;

/* Fills c from batch b (index idx, for messages); the pointers borrow b's
 * tensors.  image_use: what a missing image is an error as ("needs image
 * (...)", after "stdin: batch N: "); NULL: a batch without it is taken too
 * (c->img NULL). */
void sp_cands_get(sp_cands *c, const sp_map *b, int64_t idx, const char *image_use);

/* The entries sp-select --gather writes in place of the candidates: only
 * the chosen candidate of each layer and the chosen background,
 *   sel_layers f32 [N,L,C,H,W], sel_masks f32 [N,L,1,H,W],
 *   sel_background f32 [N,C,H,W] (models with backgrounds),
 * 1/K' of the bytes the next stage must read. */
#define SP_SEL_LAYERS "sel_layers"
#define SP_SEL_MASKS "sel_masks"
#define SP_SEL_BACKGROUND "sel_background"

/* What sp-select --model M --params writes instead: the chosen candidates'
 * transformation parameters (sp_predict_param_sizes), from which
 * sp-compose --model M makes the chosen layers (sp_predict_chosen),
 *   sel_params f32 [N,L,P] (the sprite transformer's, then the layer
 *   transformer's), sel_bkg_params f32 [N,Pb] (models with backgrounds);
 * P and Pb are 0 for identity transformers. */
#define SP_SEL_PARAMS "sel_params"
#define SP_SEL_BKG_PARAMS "sel_bkg_params"

/* Like sp_cands_get, but also takes the gathered entries when the batch has
 * no cand_layers: then c->gathered is 1, c->K 1, c->M 1 with a background
 * (0 without), and the candidate/background of every layer is index 0. */
void sp_cands_get_any(sp_cands *c, const sp_map *b, int64_t idx, const char *image_use);

#endif

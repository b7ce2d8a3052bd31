/* The composition stage (sp-compose): from the candidates of one image and
 * the selection, the outputs of the reference's DTISprites.transform():
 *
 *  - layer images / masks: the chosen candidates hard-clamped to [0,1]
 *    (transform() clamps layers, masks and backgrounds before composing);
 *  - recon: their composition (sp_compose.h) over the chosen, clamped
 *    background (none: zero), with the soft occlusion (hard_occ_grid False);
 *  - instance ids: the chosen masks thresholded at 0.5 and the occlusion at
 *    0.5 (or the fixed order), composed with label l+1 in layer l and no
 *    background, clamped to [0, L] -- 0 is background;
 *  - semantic ids: the same with label k+1 for chosen sprite k, clamped to
 *    [0, n_sprites];
 *  - fg_reassign: background pixels of the instance ids get the layer whose
 *    chosen (unclamped) colour is nearest the image (sum over channels of
 *    the squared difference, first layer on ties), as the reference does for
 *    ARI-FG (transform(pred_instance_labels=True, with_bkg=False)).
 *
 * One image: layers [L,K,C,hw], masks [L,K,1,hw], bkgs [M,C,hw] or NULL,
 * occ [L,L] or NULL, img [C,hw], choice [L] (each in [0,K)), bkg in [0,M).
 * Outputs: recon [C,hw], limg [L,C,hw], lmask [L,hw], pmask, psem [hw];
 * bgbuf: C*hw floats of scratch (may be NULL when bkgs is). */
#ifndef SP_COMPOSE_STAGE_H
#define SP_COMPOSE_STAGE_H

#include <stddef.h>
#include <stdint.h>

typedef struct {
    int L, K, M, C;
    size_t hw;
    int n_sprites; /* the reference's n_sprites: K, the empty sprite included */
    int fg_reassign;
    int gathered; /* 1: layers [L,1,C,hw], masks [L,1,1,hw], bkgs [1,C,hw] hold only the chosen
                     candidates (sp-select --gather; K == 1); choice still gives pred_sem */
} sp_compose_stage_dims;

void sp_compose_stage_image(float *recon, float *limg, float *lmask, int32_t *pmask, int32_t *psem,
                            float *bgbuf, const int32_t *choice, int32_t bkg, const float *layers,
                            const float *masks, const float *bkgs, const float *occ, const float *img,
                            const sp_compose_stage_dims *d);

/* The fg_reassign step alone, on instance ids pmask [hw] that
 * sp_compose_stage_image wrote (without fg_reassign): gives background
 * pixels the nearest layer, in place. */
void sp_compose_stage_fg_reassign(int32_t *pmask, const int32_t *choice, const float *layers, const float *img,
                                  const sp_compose_stage_dims *d);

#endif

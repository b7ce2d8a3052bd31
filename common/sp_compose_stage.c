/* The composition stage for one image; see sp_compose_stage.h. */
#include "sp_compose_stage.h"

#include "sp_compose.h"

static inline float clamp01(float x) { return x < 0.0f ? 0.0f : x > 1.0f ? 1.0f : x; }

/* Composes integer labels over hard masks and hard occlusion, no background:
 * sum_k label_k * hm_k * prod_j (1 - ho[j][k] hm_j), clamped to [0, hi].
 * With a hard occlusion at most one layer is visible per pixel, except where
 * the predicted occlusion sits exactly at 0.5 (then the labels add up, as in
 * the reference, and the clamp bounds them). */
static void label_compose(int32_t *out, const int *label, const float *masks, const int *at,
                          const float *occ, const sp_compose_stage_dims *d, int hi)
{
    const int L = d->L, K = d->K;
    for (size_t p = 0; p < d->hw; p++) {
        int hm[SP_COMPOSE_MAX_LAYERS];
        for (int j = 0; j < L; j++)
            hm[j] = masks[((size_t)j * K + at[j]) * d->hw + p] > 0.5f;
        long v = 0;
        for (int k = 0; k < L; k++) {
            if (!hm[k])
                continue;
            int vis = 1;
            for (int j = 0; j < L; j++) {
                int o = occ ? occ[(size_t)j * L + k] > 0.5f : j > k;
                if (o && hm[j])
                    vis = 0;
            }
            v += vis * label[k];
        }
        out[p] = (int32_t)(v < 0 ? 0 : v > hi ? hi : v);
    }
}

/* Each layer's candidate in layers / masks: the choice, or 0 when only the
 * chosen ones are there (gathered). */
static void candidate_of(int *at, const int32_t *choice, const sp_compose_stage_dims *d)
{
    for (int l = 0; l < d->L; l++)
        at[l] = d->gathered ? 0 : choice[l];
}

void sp_compose_stage_fg_reassign(int32_t *pmask, const int32_t *choice, const float *layers, const float *img,
                                  const sp_compose_stage_dims *d)
{
    const int L = d->L, K = d->K, C = d->C;
    const size_t hw = d->hw, chw = (size_t)C * hw;
    int at[SP_COMPOSE_MAX_LAYERS];
    candidate_of(at, choice, d);
    for (size_t p = 0; p < hw; p++) {
        if (pmask[p] != 0)
            continue;
        int best = 0;
        float bd = 0.0f;
        for (int l = 0; l < L; l++) {
            const float *x = layers + ((size_t)l * K + at[l]) * chw;
            float s = 0.0f;
            for (int c = 0; c < C; c++) {
                float e = x[(size_t)c * hw + p] - img[(size_t)c * hw + p];
                s += e * e;
            }
            if (l == 0 || s < bd) {
                bd = s;
                best = l;
            }
        }
        pmask[p] = best + 1;
    }
}

void sp_compose_stage_image(float *recon, float *limg, float *lmask, int32_t *pmask, int32_t *psem,
                            float *bgbuf, const int32_t *choice, int32_t bkg, const float *layers,
                            const float *masks, const float *bkgs, const float *occ, const float *img,
                            const sp_compose_stage_dims *d)
{
    const int L = d->L, K = d->K, C = d->C;
    const size_t hw = d->hw, chw = (size_t)C * hw;
    int at[SP_COMPOSE_MAX_LAYERS];
    candidate_of(at, choice, d);
    if (d->gathered)
        bkg = 0;
    for (int l = 0; l < L; l++) {
        const float *x = layers + ((size_t)l * K + at[l]) * chw;
        const float *m = masks + ((size_t)l * K + at[l]) * hw;
        for (size_t i = 0; i < chw; i++)
            limg[(size_t)l * chw + i] = clamp01(x[i]);
        for (size_t p = 0; p < hw; p++)
            lmask[(size_t)l * hw + p] = clamp01(m[p]);
    }
    const float *bg = NULL;
    if (bkgs) {
        for (size_t i = 0; i < chw; i++)
            bgbuf[i] = clamp01(bkgs[(size_t)bkg * chw + i]);
        bg = bgbuf;
    }
    /* [L,C,hw] of one image is sp_compose's [L,N=1,C,hw] */
    sp_compose_forward(recon, limg, lmask, bg, occ, (size_t)L, 1, (size_t)C, hw);

    int inst[SP_COMPOSE_MAX_LAYERS], sem[SP_COMPOSE_MAX_LAYERS];
    for (int l = 0; l < L; l++) {
        inst[l] = l + 1;
        sem[l] = choice[l] + 1;
    }
    label_compose(pmask, inst, masks, at, occ, d, L);
    label_compose(psem, sem, masks, at, occ, d, d->n_sprites);
    if (d->fg_reassign)
        sp_compose_stage_fg_reassign(pmask, choice, layers, img, d);
}

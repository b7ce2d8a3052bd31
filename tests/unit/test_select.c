/* Candidate selection (sp_select.h) and the composition stage
 * (sp_compose_stage.h) on tiny hand-made cases whose answers are known, and
 * the incremental error against a full composition (sp_compose_forward). */
#include "sp_compose.h"
#include "sp_compose_stage.h"
#include "sp_select.h"
#include "sp_test.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static uint32_t lcg_state = 12345;
static float frand(void)
{
    lcg_state = lcg_state * 1664525u + 1013904223u;
    return (float)(lcg_state >> 8) / 16777216.0f;
}

/* Random candidates; the occlusion, when wanted, as sp-predict's: zero
 * diagonal, o[j][k] + o[k][j] = 1. */
static void fill(float *layers, float *masks, float *bkgs, float *occ, const sp_select_dims *d)
{
    for (size_t i = 0; i < (size_t)d->L * d->K * d->C * d->hw; i++)
        layers[i] = frand();
    for (size_t i = 0; i < (size_t)d->L * d->K * d->hw; i++)
        masks[i] = frand();
    if (bkgs)
        for (size_t i = 0; i < (size_t)d->M * d->C * d->hw; i++)
            bkgs[i] = frand();
    if (occ)
        for (int j = 0; j < d->L; j++) {
            occ[j * d->L + j] = 0.0f;
            for (int k = 0; k < j; k++) {
                float s = frand();
                occ[j * d->L + k] = s;
                occ[k * d->L + j] = 1.0f - s;
            }
        }
}

/* The error of an assignment by a full composition. */
static double full_error(const int32_t *choice, int bkg, const float *layers, const float *masks,
                         const float *bkgs, const float *occ, const float *img, const sp_select_dims *d)
{
    const size_t chw = (size_t)d->C * d->hw;
    float *ly = calloc((size_t)d->L * chw, sizeof *ly), *ms = calloc((size_t)d->L * d->hw, sizeof *ms);
    float *y = calloc(chw, sizeof *y);
    for (int l = 0; l < d->L; l++) {
        for (size_t i = 0; i < chw; i++)
            ly[l * chw + i] = layers[((size_t)l * d->K + choice[l]) * chw + i];
        for (size_t p = 0; p < d->hw; p++)
            ms[l * d->hw + p] = masks[((size_t)l * d->K + choice[l]) * d->hw + p];
    }
    sp_compose_forward(y, ly, ms, bkgs ? bkgs + (size_t)bkg * chw : NULL, occ, (size_t)d->L, 1, (size_t)d->C,
                       d->hw);
    double s = 0;
    for (size_t i = 0; i < chw; i++)
        s += ((double)y[i] - img[i]) * ((double)y[i] - img[i]);
    free(ly);
    free(ms);
    free(y);
    return s / (double)chw;
}

static void known_answer(void)
{
    /* L=2, K=3, C=1, 4 pixels, fixed order.  Target: layer 0 = candidate 1,
     * layer 1 = candidate 2, with binary masks; the others are noise. */
    sp_select_dims d = {2, 3, 0, 1, 4, 0, 0.0, 1, 0, 0};
    float layers[2 * 3 * 4], masks[2 * 3 * 4], img[4];
    fill(layers, masks, NULL, NULL, &d);
    const float m0[4] = {1, 1, 0, 0}, m1[4] = {0, 1, 1, 0};
    for (int p = 0; p < 4; p++) {
        masks[(0 * 3 + 1) * 4 + p] = m0[p];
        layers[(0 * 3 + 1) * 4 + p] = 0.5f;
        masks[(1 * 3 + 2) * 4 + p] = m1[p];
        layers[(1 * 3 + 2) * 4 + p] = 0.8f;
    }
    const float want[4] = {0.5f, 0.8f, 0.8f, 0.0f};
    for (int p = 0; p < 4; p++)
        img[p] = want[p];
    double *work = malloc(sp_select_work_size(&d) * sizeof *work);
    int32_t ch[2], bk;
    double e = sp_select_exhaustive(ch, &bk, layers, masks, NULL, NULL, img, &d, work);
    CHECK("exhaustive finds the exact composition", ch[0] == 1 && ch[1] == 2 && e < 1e-12,
          "choice %d %d error %g", ch[0], ch[1], e);
    e = sp_select_greedy(ch, &bk, layers, masks, NULL, NULL, img, &d, work);
    CHECK("greedy finds the exact composition", ch[0] == 1 && ch[1] == 2 && e < 1e-12, "choice %d %d error %g",
          ch[0], ch[1], e);

    /* the composition stage on that choice: layer 1 covers layer 0 at pixel 1 */
    sp_compose_stage_dims cd = {2, 3, 0, 1, 4, 3, 0, 0};
    float recon[4], limg[8], lmask[8];
    int32_t pm[4], ps[4];
    sp_compose_stage_image(recon, limg, lmask, pm, ps, NULL, ch, 0, layers, masks, NULL, NULL, img, &cd);
    CHECK("instance ids", pm[0] == 1 && pm[1] == 2 && pm[2] == 2 && pm[3] == 0, "%d %d %d %d", pm[0], pm[1],
          pm[2], pm[3]);
    CHECK("semantic ids", ps[0] == 2 && ps[1] == 3 && ps[2] == 3 && ps[3] == 0, "%d %d %d %d", ps[0], ps[1],
          ps[2], ps[3]);
    int rok = 1;
    for (int p = 0; p < 4; p++)
        rok &= fabsf(recon[p] - want[p]) < 1e-6f;
    CHECK("reconstruction", rok, "%g %g %g %g", recon[0], recon[1], recon[2], recon[3]);
    /* --fg-reassign: pixel 3 goes to the layer nearest 0 */
    cd.fg_reassign = 1;
    sp_compose_stage_image(recon, limg, lmask, pm, ps, NULL, ch, 0, layers, masks, NULL, NULL, img, &cd);
    CHECK("fg reassign: background pixel to the nearer layer (0.5 beats 0.8)", pm[3] == 1 && pm[1] == 2, "%d",
          pm[3]);
    free(work);
}

static void random_cases(void)
{
    int ok_err = 1, ok_order = 1;
    double worst = 0;
    for (int trial = 0; trial < 20; trial++) {
        int with_occ = trial % 2, M = trial % 3;
        sp_select_dims d = {3, 4, M, 2, 9, 0, 0.0, 1 + trial % 2, 0, 0};
        const size_t chw = (size_t)d.C * d.hw;
        float *layers = malloc(sizeof(float) * 3 * 4 * chw), *masks = malloc(sizeof(float) * 3 * 4 * d.hw);
        float *bkgs = M ? malloc(sizeof(float) * M * chw) : NULL, occ[9], img[18];
        fill(layers, masks, bkgs, with_occ ? occ : NULL, &d);
        for (size_t i = 0; i < chw; i++)
            img[i] = frand();
        double *work = malloc(sp_select_work_size(&d) * sizeof *work);
        int32_t cg[3], ce[3], bg, be;
        double eg = sp_select_greedy(cg, &bg, layers, masks, bkgs, with_occ ? occ : NULL, img, &d, work);
        double ee = sp_select_exhaustive(ce, &be, layers, masks, bkgs, with_occ ? occ : NULL, img, &d, work);
        double fg = full_error(cg, bg, layers, masks, bkgs, with_occ ? occ : NULL, img, &d);
        double fe = full_error(ce, be, layers, masks, bkgs, with_occ ? occ : NULL, img, &d);
        double dev = fabs(fg - eg) > fabs(fe - ee) ? fabs(fg - eg) : fabs(fe - ee);
        if (dev > worst)
            worst = dev;
        if (dev > 1e-6)
            ok_err = 0;
        if (ee > eg + 1e-12)
            ok_order = 0;
        free(layers);
        free(masks);
        free(bkgs);
        free(work);
    }
    CHECK("incremental error equals a full composition (occlusion, backgrounds)", ok_err, "deviation %g", worst);
    CHECK("exhaustive error <= greedy error", ok_order, "exhaustive worse than greedy");
}

static void empty_penalty(void)
{
    /* an empty sprite last (mask 0); a large penalty makes every slot empty,
     * none leaves the choice to the error alone */
    sp_select_dims d = {2, 3, 0, 1, 4, 1, 10.0, 1, 0, 0};
    float layers[24], masks[24], img[4] = {0.3f, 0.6f, 0.9f, 0.1f};
    fill(layers, masks, NULL, NULL, &d);
    for (int l = 0; l < 2; l++)
        for (int p = 0; p < 4; p++)
            masks[(l * 3 + 2) * 4 + p] = layers[(l * 3 + 2) * 4 + p] = 0.0f;
    double *work = malloc(sp_select_work_size(&d) * sizeof *work);
    int32_t ch[2], bk;
    sp_select_greedy(ch, &bk, layers, masks, NULL, NULL, img, &d, work);
    CHECK("large empty penalty: empty sprite everywhere", ch[0] == 2 && ch[1] == 2, "%d %d", ch[0], ch[1]);
    d.lambda_empty = 0.0;
    sp_select_greedy(ch, &bk, layers, masks, NULL, NULL, img, &d, work);
    CHECK("no penalty: a sprite beats the empty one here", ch[0] != 2 || ch[1] != 2, "%d %d", ch[0], ch[1]);
    free(work);
}

/* The AVX2 sums and the plain loop: the same bits, on row lengths around
 * the vector width (tails of 0..7 values) and with occlusion and backgrounds;
 * both equal to a composition computed from scratch. */
static void simd_matches_scalar(void)
{
    const size_t sizes[] = {1, 7, 8, 9, 16, 37, 81, 1225};
    int same = 1, near = 1;
    double worst = 0;
    for (size_t t = 0; t < sizeof sizes / sizeof *sizes; t++) {
        sp_select_dims d = {3, 5, (int)(t % 3), 3, sizes[t], 0, 0.0, 2, 0, 0};
        const size_t chw = (size_t)d.C * d.hw;
        float *layers = malloc(sizeof(float) * 15 * chw), *masks = malloc(sizeof(float) * 15 * d.hw);
        float *bkgs = d.M ? malloc(sizeof(float) * d.M * chw) : NULL, occ[9];
        float *img = malloc(sizeof(float) * chw);
        fill(layers, masks, bkgs, t % 2 ? occ : NULL, &d);
        for (size_t i = 0; i < chw; i++)
            img[i] = frand();
        double *work = malloc(sp_select_work_size(&d) * sizeof *work);
        int32_t c1[3], c2[3], b1, b2;
        double e[4];
        for (int scalar = 0; scalar < 2; scalar++) {
            sp_select_force_scalar(scalar);
            e[2 * scalar] = sp_select_greedy(scalar ? c2 : c1, scalar ? &b2 : &b1, layers, masks, bkgs,
                                             t % 2 ? occ : NULL, img, &d, work);
            e[2 * scalar + 1] = sp_select_exhaustive(scalar ? c2 : c1, scalar ? &b2 : &b1, layers, masks, bkgs,
                                                     t % 2 ? occ : NULL, img, &d, work);
        }
        sp_select_force_scalar(0);
        if (memcmp(&e[0], &e[2], sizeof(double)) || memcmp(&e[1], &e[3], sizeof(double)) ||
            memcmp(c1, c2, sizeof c1) || b1 != b2)
            same = 0;
        double dev = fabs(full_error(c1, b1, layers, masks, bkgs, t % 2 ? occ : NULL, img, &d) - e[1]);
        if (dev > worst)
            worst = dev;
        if (dev > 1e-6)
            near = 0;
        free(layers);
        free(masks);
        free(bkgs);
        free(img);
        free(work);
    }
    CHECK("vector and plain slot preparation and error sums agree bit for bit (row lengths 1 to 1225)", same, "they differ");
    CHECK("vector error sums equal a full composition", near, "deviation %g", worst);
}

/* Candidates in another layout (each candidate's colours then its mask,
 * candidates 3 images apart, as sp_select_from_features keeps them),
 * selected where they are through lstride / mstride: the same choice, the
 * same error bits as from the packed layout. */
static void strided_layout(void)
{
    int same = 1;
    for (int t = 0; t < 4; t++) {
        sp_select_dims d = {3, 4, t % 2, 3, 37, t >= 2, 0.01, 2, 0, 0};
        const size_t chw = (size_t)d.C * d.hw, LK = (size_t)d.L * d.K, lc = chw + d.hw, G = 3;
        float *layers = malloc(sizeof(float) * LK * chw), *masks = malloc(sizeof(float) * LK * d.hw);
        float *bkgs = d.M ? malloc(sizeof(float) * d.M * chw) : NULL, occ[9], *img = malloc(sizeof(float) * chw);
        fill(layers, masks, bkgs, t % 2 ? occ : NULL, &d);
        for (size_t i = 0; i < chw; i++)
            img[i] = frand();
        /* image 1 of a group of 3 */
        float *out = calloc(LK * G * lc, sizeof(float));
        for (size_t c = 0; c < LK; c++) {
            memcpy(out + (c * G + 1) * lc, layers + c * chw, sizeof(float) * chw);
            memcpy(out + (c * G + 1) * lc + chw, masks + c * d.hw, sizeof(float) * d.hw);
        }
        sp_select_dims ds = d;
        ds.lstride = ds.mstride = G * lc;
        double *work = malloc(sp_select_work_size(&d) * sizeof *work);
        for (int ex = 0; ex < 2; ex++) {
            int32_t c1[3], c2[3], b1, b2;
            double e1 = (ex ? sp_select_exhaustive : sp_select_greedy)(c1, &b1, layers, masks, bkgs,
                                                                       t % 2 ? occ : NULL, img, &d, work);
            double e2 = (ex ? sp_select_exhaustive : sp_select_greedy)(c2, &b2, out + lc, out + lc + chw, bkgs,
                                                                       t % 2 ? occ : NULL, img, &ds, work);
            same &= !memcmp(&e1, &e2, sizeof e1) && !memcmp(c1, c2, sizeof c1) && b1 == b2;
        }
        free(layers);
        free(masks);
        free(bkgs);
        free(img);
        free(out);
        free(work);
    }
    CHECK("strided candidates (lstride, mstride): the same choice and error bits", same, "they differ");
}

int main(void)
{
    simd_matches_scalar();
    strided_layout();
    known_answer();
    random_cases();
    empty_penalty();
    TEST_MAIN_END;
}

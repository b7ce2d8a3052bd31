/* sp_predict_forward against the reference's DTISprites.predict in eval
 * mode, on perturbed weights (tests/golden/predict, made by
 * tests/golden/make_predict_golden.py): every candidate layer, mask,
 * background and the occlusion matrix within |ours - ref| <= ATOL + RTOL *
 * |ref|, elementwise (ATOL 5e-5, RTOL 1e-4; the largest difference seen is
 * about 1e-5, on values near 1).  The tolerances cover float32 reordering (encoder
 * convolutions, sgemm, bilinear sampling); a wrong index, channel, padding
 * or clamp is off by orders of magnitude more.  Also: the golden is not
 * degenerate (layers differ from one another, i.e. the heads matter), and
 * two runs give the same bits. */
#include "sp_test.h"

#include "sp_error.h"
#include "sp_model.h"
#include "sp_predict.h"
#include "sp_stream.h"

#include <stdlib.h>
#include <string.h>

#define ATOL 5e-5
#define RTOL 1e-4

static void compare(const char *cas, const char *what, const float *got, const sp_tensor *want, size_t n)
{
    char name[160];
    snprintf(name, sizeof name, "predict_%s_%s", cas, what);
    if (!want || sp_tensor_numel(want) != n) {
        CHECK(name, 0, "golden entry missing or of another size");
        return;
    }
    const float *e = sp_f32(want);
    double worst = 0, at = 0;
    size_t bad = 0, where = 0;
    for (size_t i = 0; i < n; i++) {
        double d = fabs((double)got[i] - e[i]), lim = ATOL + RTOL * fabs((double)e[i]);
        if (!(d <= lim))
            bad++;
        if (!(d <= worst)) {
            worst = d, at = e[i], where = i;
        }
    }
    CHECK(name, bad == 0, "%zu of %zu beyond atol %g rtol %g; worst |diff| %g at %zu (ref %g)", bad, n, ATOL,
          RTOL, worst, where, at);
}

static void run_case(const char *cas)
{
    char path[256], name[160];
    snprintf(path, sizeof path, "tests/golden/predict/%s.spm", cas);
    sp_model *m = sp_model_read(path);
    sp_predictor *p = sp_predictor_new(m, path);
    snprintf(path, sizeof path, "tests/golden/predict/%s.sp", cas);
    FILE *f = fopen(path, "rb");
    snprintf(name, sizeof name, "predict_%s_golden_present", cas);
    CHECK(name, f != NULL, "cannot open %s", path);
    if (!f) {
        sp_predictor_free(p);
        sp_model_free(m);
        return;
    }
    sp_reader *r = sp_reader_open(f, path);
    sp_map b = {0};
    int64_t idx;
    sp_reader_next_stream(r);
    sp_reader_next_batch(r, &b, &idx);
    const sp_tensor *img = sp_map_tensor(&b, "image");
    const int n = (int)img->shape[0], L = m->L, K = m->K, M = m->M;
    const size_t HW = (size_t)m->H * m->W, nl = (size_t)n * L * K * m->C * HW, nm = (size_t)n * L * K * HW,
                 nb = (size_t)n * M * m->C * HW, no = (size_t)n * L * L;
    float *layers = sp_malloc(sizeof(float) * nl), *masks = sp_malloc(sizeof(float) * nm);
    float *bkgs = sp_malloc(sizeof(float) * (nb + 1)), *occ = sp_malloc(sizeof(float) * (no + 1));
    const sp_tensor *eo = sp_map_tensor(&b, "expect_occlusion");
    sp_predict_forward(p, layers, masks, M ? bkgs : NULL, eo ? occ : NULL, sp_f32(img), n);
    compare(cas, "cand_layers", layers, sp_map_tensor(&b, "expect_cand_layers"), nl);
    compare(cas, "cand_masks", masks, sp_map_tensor(&b, "expect_cand_masks"), nm);
    if (M)
        compare(cas, "backgrounds", bkgs, sp_map_tensor(&b, "expect_backgrounds"), nb);
    if (eo)
        compare(cas, "occlusion", occ, eo, no);

    /* the golden exercises the layer-dependent heads: layer 0 and layer 1
     * of image 0, sprite 0 differ */
    const size_t lay = (size_t)K * m->C * HW;
    double dmax = 0;
    for (size_t i = 0; i < (size_t)m->C * HW; i++)
        dmax = fmax(dmax, fabs((double)layers[i] - layers[lay + i]));
    snprintf(name, sizeof name, "predict_%s_layers_differ", cas);
    CHECK(name, L < 2 || dmax > 1e-2, "layer 0 and 1 differ by at most %g", dmax);

    /* without a predictor, the reference's fixed grid tril(ones, -1) */
    if (!eo) {
        sp_predict_forward(p, layers, masks, M ? bkgs : NULL, occ, sp_f32(img), n);
        int okg = 1;
        for (int i = 0; i < n; i++)
            for (int a = 0; a < L; a++)
                for (int c = 0; c < L; c++)
                    okg &= occ[((size_t)i * L + a) * L + c] == (a > c ? 1.0f : 0.0f);
        snprintf(name, sizeof name, "predict_%s_fixed_occlusion", cas);
        CHECK(name, okg, "not tril(ones, -1)");
    }

    /* deterministic: same bits again */
    float *again = sp_malloc(sizeof(float) * nl), *again_m = sp_malloc(sizeof(float) * nm);
    sp_predict_forward(p, again, again_m, M ? bkgs : NULL, eo ? occ : NULL, sp_f32(img), n);
    snprintf(name, sizeof name, "predict_%s_deterministic", cas);
    CHECK(name, !memcmp(again, layers, sizeof(float) * nl) && !memcmp(again_m, masks, sizeof(float) * nm),
          "two runs differ");
    /* the candidates of the batch repeated 8 times: made in one call (tasks
     * of up to 8 images, sp_predict.c's chunk_images), then in groups of 3
     * and image by image from the same parameters: the same bits.  (Not
     * against the 3 images' candidates above: the encoder's and the
     * regressors' GEMMs may round a column by the batch's width.) */
    {
        const int R = 8, n2 = R * n, F = sp_predictor_features(p);
        const size_t xs = (size_t)m->C * HW, li = (size_t)L * K * m->C * HW, mi = (size_t)L * K * HW,
                     bi = (size_t)M * m->C * HW;
        float *x2 = sp_malloc(sizeof(float) * n2 * xs), *feat = sp_malloc(sizeof(float) * (size_t)n2 * F);
        for (int i = 0; i < n2; i++)
            memcpy(x2 + i * xs, sp_f32(img) + (size_t)(i % n) * xs, sizeof(float) * xs);
        sp_predict_features(p, feat, x2, n2);
        sp_predict_betas *be = sp_predict_betas_new(p, feat, n2, M > 0);
        float *l1 = sp_malloc(sizeof(float) * n2 * li), *m1 = sp_malloc(sizeof(float) * n2 * mi);
        float *b1 = sp_malloc(sizeof(float) * (n2 * bi + 1));
        float *l2 = sp_malloc(sizeof(float) * n2 * li), *m2 = sp_malloc(sizeof(float) * n2 * mi);
        float *b2 = sp_malloc(sizeof(float) * (n2 * bi + 1));
        sp_predict_cands(p, be, 0, n2, l1, m1, M ? b1 : NULL);
        int same = 1;
        for (int g = 3; g >= 1; g -= 2) {
            memset(l2, 0xff, sizeof(float) * n2 * li);
            memset(m2, 0xff, sizeof(float) * n2 * mi);
            memset(b2, 0xff, sizeof(float) * n2 * bi);
            for (int i = 0; i < n2; i += g)
                sp_predict_cands(p, be, i, n2 - i < g ? n2 - i : g, l2 + i * li, m2 + i * mi, M ? b2 + i * bi : NULL);
            same &= !memcmp(l2, l1, sizeof(float) * n2 * li) && !memcmp(m2, m1, sizeof(float) * n2 * mi) &&
                    (!M || !memcmp(b2, b1, sizeof(float) * n2 * bi));
        }
        snprintf(name, sizeof name, "predict_%s_candidates_of_%d_images_whole_by_3_by_1_same_bits", cas, n2);
        CHECK(name, same, "candidates made in groups differ from the batch's");
        sp_predict_betas_free(be);
        FREE_ALL(x2, feat, l1, m1, b1, l2, m2, b2);
    }
    /* sp_predictor_open: the encoder's weights straight from the file into
     * its arena, the model's own copies left unread: the same bits */
    snprintf(path, sizeof path, "tests/golden/predict/%s.spm", cas);
    sp_model *m2;
    sp_predictor *p2 = sp_predictor_open(path, &m2);
    sp_predict_forward(p2, again, again_m, M ? bkgs : NULL, eo ? occ : NULL, sp_f32(img), n);
    snprintf(name, sizeof name, "predict_%s_open_same_bits", cas);
    CHECK(name, !memcmp(again, layers, sizeof(float) * nl) && !memcmp(again_m, masks, sizeof(float) * nm),
          "sp_predictor_open's prediction differs");
    const sp_tensor *w = sp_model_find(m2, "encoder.encoder.0.weight");
    int zero = w != NULL && w->data == NULL && !strcmp(m2->skipped, "encoder.");
    snprintf(name, sizeof name, "predict_%s_open_model_encoder_unread", cas);
    CHECK(name, zero, "the model's encoder tensors were read too");
    /* sp_predictor_open_encoder (sp-predict --features): the same
     * features, and no tensor of the model read */
    sp_model *m3;
    sp_predictor *p3 = sp_predictor_open_encoder(path, &m3);
    const size_t nf = (size_t)n * sp_predictor_features(p2);
    float *f2 = sp_malloc(sizeof(float) * nf), *f3 = sp_malloc(sizeof(float) * nf);
    memset(f3, 0xff, sizeof(float) * nf);
    sp_predict_features(p2, f2, sp_f32(img), n);
    sp_predict_features(p3, f3, sp_f32(img), n);
    int none = !strcmp(m3->skipped, SP_MODEL_ONLY_PART);
    for (int i = 0; i < m3->ntensors; i++)
        none &= m3->tensors[i].t->data == NULL;
    snprintf(name, sizeof name, "predict_%s_open_encoder_same_features", cas);
    CHECK(name, !memcmp(f2, f3, sizeof(float) * nf) && none,
          "features differ, or a tensor of the model was read (none held: %d)", none);
    free(f2);
    free(f3);
    sp_predictor_free(p3);
    sp_model_free(m3);
    sp_predictor_free(p2);
    sp_model_free(m2);
    free(again);
    free(again_m);
    free(layers);
    free(masks);
    free(bkgs);
    free(occ);
    sp_map_free(&b);
    sp_reader_close(r);
    fclose(f);
    sp_predictor_free(p);
    sp_model_free(m);
}

int main(int argc, char **argv)
{
    (void)argc;
    sp_set_prog(argv[0]);
    run_case("tetro-layer");  /* sprite transformers (colour) then the layer transformer (colour, position),
                                 empty sprite, background, occlusion predictor */
    run_case("tetro-sprite"); /* no layer transformer: sprite transformers (colour, affine) to the image size */
    TEST_MAIN_END;
}

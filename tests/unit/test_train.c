/* The training step against the reference's own (tests/golden/train, made
 * by tests/golden/make_train_golden.py): same perturbed weights, same
 * batch, same mask noise, two steps of forward, backward and Adam.
 *
 *   - the selection of the first step: equal;
 *   - the loss of both steps: |ours - ref| <= 1e-5 * (1 + |ref|);
 *   - every gradient of the first step, tensor by tensor:
 *     max |ours - ref| <= 2e-3 * max |ref| (float32 reordering through a
 *     ResNet-20 and the warps; a wrong path is off by far more), and a
 *     tensor has a gradient exactly when the reference's has one (frozen
 *     sprites, modules the curriculum has not activated);
 *   - every tensor after the second Adam step: the median |ours - ref| below
 *     2e-5 (lr / 50: the gradients' float32 differences, up to 1e-3 relative
 *     in the encoder's stem, move Adam's second step by about lr x that) and the largest below 4 lr x (updates per step): Adam's first
 *     steps move a parameter by about lr per update whatever the gradient's
 *     size, so a gradient within rounding of zero may move either way, but
 *     most parameters must land on the same bits' neighbourhood (a wrong
 *     learning rate, weight decay or number of encoder updates moves all of
 *     them).
 * Also: FD check of the whole model's gradient on the "minimum" case
 * (central differences of the loss on a few parameters of every kind). */
#include "sp_test.h"

#include "sp_error.h"
#include "sp_model.h"
#include "sp_optim.h"
#include "sp_predict.h"
#include "sp_stream.h"
#include "sp_train.h"

#include <stdlib.h>
#include <string.h>

static int cmp_float(const void *a, const void *b)
{
    float x = *(const float *)a, y = *(const float *)b;
    return (x > y) - (x < y);
}

static void run_case(const char *cas, const char *model)
{
    char path[256], name[256];
    snprintf(path, sizeof path, "tests/golden/train/%s.spm", model);
    sp_model *m = sp_model_read(path);
    snprintf(path, sizeof path, "tests/golden/train/%s.sp", cas);
    FILE *f = fopen(path, "rb");
    snprintf(name, sizeof name, "train_%s_golden_present", cas);
    CHECK(name, f != NULL, "cannot open %s", path);
    if (!f) {
        sp_model_free(m);
        return;
    }
    sp_reader *r = sp_reader_open(f, path);
    sp_map b = {0};
    int64_t idx, epoch = 0;
    sp_reader_next_stream(r);
    sp_reader_next_batch(r, &b, &idx);
    sp_map_get_int(&b, "epoch", &epoch);
    const sp_tensor *img = sp_map_tensor(&b, "image"), *noise = sp_map_tensor(&b, "noise");
    const sp_tensor *eloss = sp_map_tensor(&b, "expect_loss"), *echoice = sp_map_tensor(&b, "expect_choice");
    const int B = (int)img->shape[0], steps = (int)eloss->shape[0];
    sp_trainer *t = sp_trainer_new(m, 3, cas);
    sp_trainer_set_epoch(t, epoch);
    const size_t KHW = (size_t)m->K * m->H * m->W;
    for (int s = 0; s < steps; s++) {
        sp_trainer_set_noise(t, noise ? sp_f32(noise) + (size_t)s * KHW : NULL);
        double loss = sp_trainer_step(t, sp_f32(img), B, NULL);
        double want = sp_f32(eloss)[s];
        snprintf(name, sizeof name, "train_%s_loss_step%d", cas, s + 1);
        CHECK(name, fabs(loss - want) <= 1e-5 * (1 + fabs(want)), "loss %.9g, reference %.9g", loss, want);
        if (s > 0)
            continue;
        int same = 1;
        const int32_t *ch = sp_trainer_last_choice(t);
        for (int i = 0; i < B * m->L; i++)
            same &= ch[i] == (int32_t)sp_tensor_get(echoice, (size_t)i);
        snprintf(name, sizeof name, "train_%s_selection", cas);
        CHECK(name, same, "the first step selects other sprites");
        if (!same)
            for (int i = 0; i < B * m->L; i++)
                printf("# choice %d: ours %d, reference %d\n", i, ch[i], (int)sp_tensor_get(echoice, (size_t)i));
        /* gradients */
        int ngrad = 0, bad = 0, presence = 0;
        double worst = 0;
        char worst_name[160] = "";
        for (int i = 0; i < m->ntensors; i++) {
            const char *tn = m->tensors[i].name;
            char key[200];
            snprintf(key, sizeof key, "after/%s", tn);
            if (!sp_map_tensor(&b, key) || m->tensors[i].is_buffer)
                continue; /* not in the golden (encoder middle) */
            snprintf(key, sizeof key, "grad/%s", tn);
            const sp_tensor *eg = sp_map_tensor(&b, key);
            const float *g = sp_trainer_grad(t, tn);
            if (!eg != !g) {
                presence++;
                printf("# %s: gradient %s here, %s in the reference\n", tn, g ? "present" : "absent",
                       eg ? "present" : "absent");
                continue;
            }
            if (!eg)
                continue;
            ngrad++;
            size_t n = sp_tensor_numel(eg);
            double mx = 0, d = 0;
            for (size_t j = 0; j < n; j++) {
                mx = fmax(mx, fabs(sp_f32(eg)[j]));
                d = fmax(d, fabs((double)g[j] - sp_f32(eg)[j]));
            }
            double rel = mx > 0 ? d / mx : d;
            if (getenv("SP_TEST_VERBOSE"))
                printf("# %s: %g\n", tn, rel);
            if (rel > worst)
                worst = rel, snprintf(worst_name, sizeof worst_name, "%s", tn);
            if (!(rel <= 2e-3)) {
                bad++;
                printf("# %s: max |diff| %g, max |ref| %g\n", tn, d, mx);
            }
        }
        snprintf(name, sizeof name, "train_%s_gradient_presence", cas);
        CHECK(name, presence == 0, "%d tensors have a gradient on one side only", presence);
        snprintf(name, sizeof name, "train_%s_gradients", cas);
        CHECK(name, bad == 0 && ngrad > 10, "%d of %d tensors beyond 2e-3 relative; worst %g (%s)", bad, ngrad,
              worst, worst_name);
    }
    sp_trainer_sync(t);
    /* values after the last step */
    int bad = 0, n_after = 0;
    for (int i = 0; i < m->ntensors; i++) {
        const char *tn = m->tensors[i].name;
        char key[200];
        snprintf(key, sizeof key, "after/%s", tn);
        const sp_tensor *ea = sp_map_tensor(&b, key);
        if (!ea)
            continue;
        n_after++;
        size_t n = sp_tensor_numel(ea);
        float *d = sp_malloc(sizeof(float) * n);
        float mx = 0;
        for (size_t j = 0; j < n; j++) {
            d[j] = fabsf(sp_f32(m->tensors[i].t)[j] - sp_f32(ea)[j]);
            mx = fmaxf(mx, d[j]);
        }
        qsort(d, n, sizeof *d, cmp_float);
        float med = d[n / 2];
        free(d);
        /* lr 1e-3, at most 8 updates per step (the encoder's holders) */
        if (!(med <= 2e-5f && mx <= 4 * 1e-3f * 8 * steps)) {
            bad++;
            printf("# %s: median |diff| %g, max %g\n", tn, med, mx);
        }
    }
    snprintf(name, sizeof name, "train_%s_after_%d_steps", cas, steps);
    CHECK(name, bad == 0 && n_after > 10, "%d of %d tensors differ from the reference after the steps", bad,
          n_after);
    sp_trainer_free(t);
    sp_map_free(&b);
    sp_reader_close(r);
    fclose(f);
    sp_model_free(m);
}

/* Central differences of the training loss (float32, so the step is
 * large and the comparison loose) at the largest-gradient element of every
 * kind of parameter, on a model without noise whose selection does not
 * change under the steps. */
static void fd_check(void)
{
    sp_model *m = sp_model_read("tests/golden/train/minimum.spm");
    FILE *f = fopen("tests/golden/train/minimum.sp", "rb");
    if (!f) {
        CHECK("train_fd_golden_present", 0, "no tests/golden/train/minimum.sp");
        sp_model_free(m);
        return;
    }
    sp_reader *r = sp_reader_open(f, "minimum.sp");
    sp_map b = {0};
    int64_t idx;
    sp_reader_next_stream(r);
    sp_reader_next_batch(r, &b, &idx);
    const sp_tensor *img = sp_map_tensor(&b, "image");
    const int B = (int)img->shape[0];
    sp_trainer *t = sp_trainer_new(m, 3, "fd");
    sp_trainer_set_epoch(t, 1);
    const char *names[] = {"prototype_params", "mask_params", "bkg_params",
                           "sprite_transformers.0.tsf_sequences.0.tsf_modules.0.regressor.3.bias",
                           "sprite_transformers.0.tsf_sequences.0.tsf_modules.1.regressor.3.weight",
                           "sprite_transformers.0.tsf_sequences.0.tsf_modules.2.regressor.0.weight",
                           "bkg_transformer.tsf_sequences.0.tsf_modules.0.regressor.3.bias", "bkg_transformer.tsf_sequences.1.tsf_modules.0.regressor.3.bias",
                           "encoder.encoder.5.2.bn2.bias", "encoder.encoder.5.2.bn2.weight"};
    sp_trainer_loss(t, sp_f32(img), B, 1);
    int bad = 0, n = 0;
    for (size_t q = 0; q < sizeof names / sizeof *names; q++) {
        const float *g = sp_trainer_grad(t, names[q]);
        float *w = sp_trainer_param(t, names[q]);
        const sp_tensor *mt = sp_model_find(m, names[q]);
        if (!g || !w || !mt) {
            printf("# %s: no gradient or no such tensor\n", names[q]);
            bad++;
            continue;
        }
        size_t best = 0, len = sp_tensor_numel(mt);
        for (size_t j = 1; j < len; j++)
            if (fabsf(g[j]) > fabsf(g[best]))
                best = j;
        double an = g[best], fd = 0;
        int ok = 0;
        /* two steps: 1e-3 (float32 rounding of the loss ~1e-5 on the
         * quotient) and 1e-4 (for warps, whose bilinear sampling has kinks
         * every pixel of displacement) */
        for (int e = 0; e < 2 && !ok; e++) {
            float keep = w[best], h = (e ? 1e-4f : 1e-3f) * fmaxf(1.0f, fabsf(keep));
            w[best] = keep + h;
            double lp = sp_trainer_loss(t, sp_f32(img), B, 0);
            w[best] = keep - h;
            double lm = sp_trainer_loss(t, sp_f32(img), B, 0);
            w[best] = keep;
            fd = (lp - lm) / (2.0 * h);
            ok = fabs(fd - an) <= 0.05 * fabs(an) + 3e-5;
        }
        n++;
        bad += !ok;
        printf("# fd %s[%zu]: analytic %.6g, central difference %.6g%s\n", names[q], best, an, fd,
               ok ? "" : "  <-- differs");
    }
    CHECK("train_fd_whole_model", bad == 0 && n > 0, "%d of %d parameters differ from central differences",
          bad, n);
    sp_trainer_free(t);
    sp_map_free(&b);
    sp_reader_close(r);
    fclose(f);
    sp_model_free(m);
}

/* The model stages apply the curriculum stage a checkpoint records: the
 * "minimum" model's background sequence is colour_projective with the
 * projective module from epoch 5; at epoch 1 its backgrounds are the
 * colour-only ones, at epoch 5 and without the meta they are the full
 * sequence's, and the two differ. */
static void curriculum_check(void)
{
    sp_model *m = sp_model_read("tests/golden/train/minimum.spm");
    const int n = 2, C = m->C;
    const size_t HW = (size_t)m->H * m->W, nl = (size_t)n * m->L * m->K * C * HW, nm = (size_t)n * m->L * m->K * HW;
    const size_t nb = (size_t)n * m->M * C * HW;
    float *x = sp_malloc(sizeof(float) * n * C * HW), *l = sp_malloc(sizeof(float) * nl);
    float *mk = sp_malloc(sizeof(float) * nm), *b[3];
    for (size_t i = 0; i < (size_t)n * C * HW; i++)
        x[i] = (float)((i * 7919) % 101) / 100.0f;
    for (int c = 0; c < 3; c++) {
        sp_map_remove(&m->meta, "curriculum_epoch");
        if (c < 2)
            sp_map_put_int(&m->meta, "curriculum_epoch", c == 0 ? 1 : 5);
        sp_predictor *p = sp_predictor_new(m, "minimum");
        b[c] = sp_malloc(sizeof(float) * nb);
        sp_predict_forward(p, l, mk, b[c], NULL, x, n);
        sp_predictor_free(p);
    }
    double d01 = 0, d12 = 0;
    for (size_t i = 0; i < nb; i++) {
        d01 = fmax(d01, fabs(b[0][i] - b[1][i]));
        d12 = fmax(d12, fabs(b[1][i] - b[2][i]));
    }
    CHECK("predict_curriculum_stage", d01 > 1e-3 && d12 == 0,
          "epoch 1 vs 5: max diff %g (expected > 1e-3); epoch 5 vs no stage: %g (expected 0)", d01, d12);
    for (int c = 0; c < 3; c++)
        free(b[c]);
    free(x), free(l), free(mk);
    sp_model_free(m);
}

/* The encoder's repeated Adam update (one per holding transformer) is one
 * fused pass: it must give the floats of the same number of plain steps. */
static void adam_repeated_check(void)
{
    const size_t n = 70000; /* above the OpenMP threshold */
    for (int times = 2; times <= 3; times++) {
        float *w[2], *m[2], *v[2], *g = malloc(n * sizeof *g);
        for (int k = 0; k < 2; k++) {
            w[k] = malloc(n * sizeof(float)), m[k] = malloc(n * sizeof(float)), v[k] = malloc(n * sizeof(float));
            for (size_t i = 0; i < n; i++) {
                w[k][i] = (float)sin(0.37 * (double)i);
                m[k][i] = 1e-3f * (float)cos(0.11 * (double)i);
                v[k][i] = 1e-6f * (float)(1 + i % 7);
            }
        }
        for (size_t i = 0; i < n; i++)
            g[i] = 0.01f * (float)sin(1.7 * (double)i + 0.3);
        for (int t = 0; t < times; t++)
            sp_adam_step(w[0], m[0], v[0], g, n, 5 + t, 1e-3, 0.9, 0.999, 1e-8, 1e-6);
        sp_adam_step_repeated(w[1], m[1], v[1], g, n, 5, times, 1e-3, 0.9, 0.999, 1e-8, 1e-6);
        int same = !memcmp(w[0], w[1], n * sizeof(float)) && !memcmp(m[0], m[1], n * sizeof(float)) &&
                   !memcmp(v[0], v[1], n * sizeof(float));
        int moved = w[0][1] != (float)sin(0.37);
        CHECK("adam_repeated", same && moved, "%d fused updates differ from %d steps", times, times);
        for (int k = 0; k < 2; k++)
            free(w[k]), free(m[k]), free(v[k]);
        free(g);
    }
}

int main(void)
{
    sp_set_prog("test_train");
    adam_repeated_check();
    run_case("greedy", "greedy");
    run_case("frozen", "greedy"); /* the same model, one epoch earlier */
    run_case("minimum", "minimum");
    fd_check();
    curriculum_check();
    TEST_MAIN_END;
}

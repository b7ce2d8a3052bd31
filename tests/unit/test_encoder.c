/* sp_encoder_infer against sp_encoder_forward(training = 0): the inference
 * path fuses every eval-mode batch norm, residual add and ReLU into the
 * convolution before it and uses rotating buffers, and promises the same
 * bits.  Each architecture family is covered: the mini-ResNets (3x3 stem,
 * option-A shortcuts, stride-2 blocks), ResNet-18 (7x7 stride-2 stem through
 * im2col, max pool, downsample convolutions), with and without the final
 * pooling, at batch sizes that differ between calls (the buffers grow).
 * Batch norms get random running statistics and affine weights so that
 * every factor matters (a fresh encoder's mean 0, gamma 1, beta 0 would hide
 * a missing shift).  The bits are the same with the Winograd tile forced to
 * F(2x2), the one training's batched forward takes; left to pick, the
 * inference takes F(4x4) on some layers (sp_conv_winograd.h), and its
 * features then match forward's within 1e-4 of their largest value (a
 * wrong layer would be off by far more). */
#include "sp_conv.h"
#include "sp_conv_winograd.h"
#include "sp_encoder.h"
#include "sp_error.h"
#include "sp_rng.h"
#include "sp_test.h"

#include <math.h>
#include <setjmp.h>
#include <omp.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static void randomise_batchnorms(sp_encoder *e, sp_rng *rng)
{
    for (int i = 0; i < e->ntensors; i++) {
        const sp_enc_tensor *t = &e->tensors[i];
        float *v = sp_encoder_data(e, t);
        if (t->ndim != 1)
            continue;
        const char *dot = strrchr(t->name, '.');
        const char *leaf = dot ? dot + 1 : t->name;
        for (size_t j = 0; j < t->size; j++) {
            float u = sp_rng_uniform(rng);
            if (!strcmp(leaf, "running_var"))
                v[j] = 0.3f + u;
            else if (!strcmp(leaf, "running_mean"))
                v[j] = 0.4f * (u - 0.5f);
            else if (!strcmp(leaf, "weight"))
                v[j] = 0.6f + 0.8f * u;
            else if (!strcmp(leaf, "bias"))
                v[j] = 0.3f * (u - 0.5f);
        }
    }
}

/* An encoder with Kaiming weights and random batch-norm statistics drawn
 * from rng (seeded with seed). */
static sp_encoder *random_encoder(sp_rng *rng, uint64_t seed, const char *arch, int width, int c, int h, int w,
                                  int pool)
{
    sp_rng_init(rng, seed, 0);
    sp_encoder *e = sp_encoder_new(arch, width, c, h, w, pool, pool);
    sp_encoder_init(e, rng);
    randomise_batchnorms(e, rng);
    return e;
}

/* a case's inputs x (n images of c x h x w, uniform) and two outputs of
 * e's features, y0 and y1 (uninitialised) */
typedef struct {
    float *x, *y0, *y1;
    size_t nx, ny;
} case_io;

static case_io case_io_new(sp_rng *rng, const sp_encoder *e, int n, int c, int h, int w)
{
    case_io b;
    b.nx = (size_t)n * c * h * w;
    b.ny = (size_t)n * e->features;
    b.x = malloc(sizeof(float) * (b.nx ? b.nx : 1));
    b.y0 = malloc(sizeof(float) * (b.ny ? b.ny : 1));
    b.y1 = malloc(sizeof(float) * (b.ny ? b.ny : 1));
    for (size_t i = 0; i < b.nx; i++)
        b.x[i] = sp_rng_uniform(rng);
    return b;
}

static void case_io_free(case_io *b)
{
    free(b->x);
    free(b->y0);
    free(b->y1);
}

static int tile_forced; /* F(2x2) forced: the bits must agree */

static void run_case(const char *arch, int width, int c, int h, int w, int pool, const int *ns, int nn)
{
    char name[160];
    sp_rng rng;
    sp_encoder *e = random_encoder(&rng, 77, arch, width, c, h, w, pool);
    for (int k = 0; k < nn; k++) {
        const int n = ns[k];
        case_io io = case_io_new(&rng, e, n, c, h, w);
        float *x = io.x, *y0 = io.y0, *y1 = io.y1;
        const size_t ny = io.ny;
        sp_encoder_forward(e, y0, x, n, 0);
        memset(y1, 0xff, sizeof(float) * ny);
        sp_encoder_infer(e, y1, x, n);
        if (tile_forced) {
            size_t diff = 0, nonzero = 0;
            for (size_t i = 0; i < ny; i++) {
                diff += memcmp(&y0[i], &y1[i], sizeof(float)) != 0;
                nonzero += y0[i] != 0.0f;
            }
            snprintf(name, sizeof name,
                     "encoder %s width %d %dx%dx%d pool %d batch %d: infer = forward(eval), bit for bit", arch,
                     width, c, h, w, pool, n);
            CHECK(name, diff == 0 && (ny == 0 || nonzero > 0), "%zu of %zu values differ (%zu nonzero)", diff, ny,
                  nonzero);
        } else {
            double worst = 0, big = 0;
            for (size_t i = 0; i < ny; i++) {
                double dd = fabs((double)y0[i] - y1[i]);
                worst = dd > worst || dd != dd ? dd : worst;
                big = fmax(big, fabs((double)y0[i]));
            }
            snprintf(name, sizeof name,
                     "encoder %s width %d %dx%dx%d pool %d batch %d, Winograd tiles picked per layer: infer within "
                     "1e-4 of forward(eval)",
                     arch, width, c, h, w, pool, n);
            CHECK(name, big > 0 && worst <= 1e-4 * big, "max |diff| %g, max |forward| %g", worst, big);
            if (getenv("SP_TEST_VERBOSE"))
                printf("# max |diff| %g, max |forward| %g\n", worst, big);
        }
        case_io_free(&io);
    }
    sp_encoder_free(e);
}

/* sp_encoder_infer carries each image through a run of layers on its own,
 * in any order across threads.  An image written over another image's
 * not-yet-read input (a buffer reused with a different per-image size
 * within a run) must not happen: checked with images taken last first on
 * one thread (the order that exposes it deterministically), then with 8
 * threads, images taken dynamically, 20 times: forward's bits every time. */
static void threads_case(const char *arch, int width, int c, int h, int w, int n)
{
    char name[160];
    sp_rng rng;
    sp_encoder *e = random_encoder(&rng, 78, arch, width, c, h, w, 0);
    case_io io = case_io_new(&rng, e, n, c, h, w);
    float *x = io.x, *y0 = io.y0, *y1 = io.y1;
    const size_t ny = io.ny;
    sp_encoder_forward(e, y0, x, n, 0);
    const int saved = omp_get_max_threads();
    omp_set_num_threads(1);
    e->infer_reverse = 1;
    memset(y1, 0xff, sizeof(float) * ny);
    sp_encoder_infer(e, y1, x, n);
    e->infer_reverse = 0;
    snprintf(name, sizeof name, "encoder %s %dx%dx%d batch %d, images last first: infer = forward(eval)", arch, c,
             h, w, n);
    CHECK(name, memcmp(y0, y1, sizeof(float) * ny) == 0, "other bytes");
    omp_set_num_threads(8);
    int bad = 0;
    for (int rep = 0; rep < 20; rep++) {
        memset(y1, 0xff, sizeof(float) * ny);
        sp_encoder_infer(e, y1, x, n);
        bad += memcmp(y0, y1, sizeof(float) * ny) != 0;
    }
    omp_set_num_threads(saved);
    snprintf(name, sizeof name, "encoder %s %dx%dx%d batch %d, 8 threads, 20 runs: infer = forward(eval) every time",
             arch, c, h, w, n);
    CHECK(name, bad == 0, "%d of 20 runs differ", bad);
    case_io_free(&io);
    sp_encoder_free(e);
}

/* Weights given packed (sp_encoder_infer_pack), as a predictor reading a
 * model file gives them: an encoder whose params hold only the other
 * tensors (the packed ones stay zero: never read) computes forward's bits
 * from a full one's weights; packs_done with one missing is fatal. */
static jmp_buf fatal_jmp;
static char fatal_msg[256];
static void on_fatal(const char *msg)
{
    snprintf(fatal_msg, sizeof fatal_msg, "%s", msg);
    longjmp(fatal_jmp, 1);
}

static void given_packs_case(const char *arch, int width, int c, int h, int w, int n)
{
    char name[200];
    sp_rng rng;
    sp_encoder *full = random_encoder(&rng, 80, arch, width, c, h, w, 1);
    sp_encoder *e = sp_encoder_new(arch, width, c, h, w, 1, 1);
    int packed = 0, zero = 1;
    for (int i = 0; i < e->ntensors; i++) {
        const sp_enc_tensor *t = &e->tensors[i];
        const float *v = sp_encoder_data(full, &full->tensors[i]);
        if (sp_encoder_infer_packs(e, t)) {
            float *copy = malloc(sizeof(float) * t->size); /* any memory: freed before the next */
            memcpy(copy, v, sizeof(float) * t->size);
            sp_encoder_infer_pack(e, t, copy);
            free(copy);
            packed++;
        } else {
            memcpy(sp_encoder_data(e, t), v, sizeof(float) * t->size);
        }
    }
    sp_encoder_infer_packs_done(e);
    case_io io = case_io_new(&rng, e, n, c, h, w);
    float *x = io.x, *y0 = io.y0, *y1 = io.y1;
    const size_t ny = io.ny;
    sp_encoder_forward(full, y0, x, n, 0);
    memset(y1, 0xff, sizeof(float) * ny);
    sp_encoder_infer(e, y1, x, n);
    for (int i = 0; i < e->ntensors; i++)
        if (sp_encoder_infer_packs(e, &e->tensors[i]))
            for (size_t j = 0; j < e->tensors[i].size; j++)
                zero &= sp_encoder_data(e, &e->tensors[i])[j] == 0.0f;
    snprintf(name, sizeof name, "encoder %s width %d %dx%dx%d: %d weights given packed, the rest in params: infer = "
             "forward(eval) of the full encoder, bit for bit", arch, width, c, h, w, packed);
    CHECK(name, packed > 0 && zero && memcmp(y0, y1, sizeof(float) * ny) == 0, "%d packed, params zero %d, %s",
          packed, zero, memcmp(y0, y1, sizeof(float) * ny) ? "other bytes" : "same bytes");
    /* one weight not given: fatal at packs_done */
    sp_encoder *part = sp_encoder_new(arch, width, c, h, w, 1, 1);
    int skipped = 0;
    for (int i = 0; i < part->ntensors; i++)
        if (sp_encoder_infer_packs(part, &part->tensors[i]) && !skipped++)
            continue;
        else if (sp_encoder_infer_packs(part, &part->tensors[i]))
            sp_encoder_infer_pack(part, &part->tensors[i], sp_encoder_data(full, &full->tensors[i]));
    fatal_msg[0] = 0;
    sp_set_fatal_hook(on_fatal);
    if (setjmp(fatal_jmp) == 0)
        sp_encoder_infer_packs_done(part);
    sp_set_fatal_hook(NULL);
    snprintf(name, sizeof name, "encoder %s: one of the %d packed weights not given: packs_done is fatal", arch,
             packed);
    CHECK(name, strstr(fatal_msg, "packed weights given") != NULL, "got '%s'", fatal_msg);
    sp_encoder_free(part);
    case_io_free(&io);
    sp_encoder_free(e);
    sp_encoder_free(full);
}

/* At 128x128, ResNet-18's stem has 4,096 output positions: one image a
 * GEMM whatever the batch, so sp_encoder_infer runs it image by image
 * (sp_conv2d_image_ok) and hands each output to the max pool in the
 * thread's own buffer; the cases at that size cover that path only if it
 * is taken. */
static void stem_by_image_case(void)
{
    sp_encoder *e = sp_encoder_new("resnet18", 16, 3, 128, 128, 0, 0);
    CHECK("encoder resnet18 3x128x128: the stem is taken image by image", sp_conv2d_image_ok(&e->stem.d),
          "sp_conv2d_image_ok is 0");
    sp_encoder *small = sp_encoder_new("resnet18", 16, 3, 40, 40, 0, 0);
    CHECK("encoder resnet18 3x40x40: the stem is not (several images a GEMM)", !sp_conv2d_image_ok(&small->stem.d),
          "sp_conv2d_image_ok is 1");
    sp_encoder_free(small);
    sp_encoder_free(e);
}

/* The packed weights: an encoder whose weights may change (training's)
 * packs them at every sp_encoder_infer, so a changed weight shows at once;
 * one marked weights_fixed (a predictor's) packs once and gives forward's
 * bits on every later call. */
static void packing_case(void)
{
    sp_rng rng;
    sp_encoder *e = random_encoder(&rng, 79, "resnet20", 0, 3, 35, 35, 0);
    const int n = 3;
    case_io io = case_io_new(&rng, e, n, 3, 35, 35);
    float *x = io.x, *y0 = io.y0, *y1 = io.y1;
    const size_t ny = io.ny;
    sp_encoder_infer(e, y1, x, n);
    float *w = e->params + e->blocks[0].conv1.w; /* a 16-channel 3x3 layer (Winograd's) */
    for (int i = 0; i < 16 * 16 * 9; i++)
        w[i] *= 1.5f;
    sp_encoder_forward(e, y0, x, n, 0);
    sp_encoder_infer(e, y1, x, n);
    CHECK("encoder: a weight changed between two sp_encoder_infer calls is used (packed again)",
          memcmp(y0, y1, sizeof(float) * ny) == 0, "stale packed weights");
    e->weights_fixed = 1;
    int same = 1;
    for (int rep = 0; rep < 3; rep++) {
        memset(y1, 0xff, sizeof(float) * ny);
        sp_encoder_infer(e, y1, x, n);
        same &= memcmp(y0, y1, sizeof(float) * ny) == 0;
    }
    CHECK("encoder: weights_fixed, packed once, 3 calls: infer = forward(eval) every time", same, "other bytes");
    case_io_free(&io);
    sp_encoder_free(e);
}

/* sp_encoder_infer keeps a run's activations in each thread's own slots:
 * the batch's buffers receive only what a batch step or a later run reads.
 * gtsrb8's ResNet-32 at 28x28 has two batch steps (the stride-2 blocks'
 * first convolutions, several images a GEMM); per image, the batch's
 * buffers then get at most the first stage's output (16 x 28 x 28, read by
 * the first of them and its block's shortcut), that step's output and the
 * second stage's (32 x 14 x 14 each), the second batch step's output and
 * the last block's (64 x 7 x 7 each): 31,360 floats (every layer's output
 * through them: 43,904).  The other floats of the buffers keep the poison
 * written before the call.  (F(2x2) forced: infer = forward bit for bit.) */
static void local_runs_case(void)
{
    sp_rng rng;
    sp_encoder *e = random_encoder(&rng, 81, "resnet32", 0, 3, 28, 28, 1);
    const int n = 4;
    case_io io = case_io_new(&rng, e, n, 3, 28, 28);
    float *x = io.x, *y0 = io.y0, *y1 = io.y1;
    const size_t ny = io.ny;
    sp_encoder_forward(e, y0, x, n, 0);
    sp_encoder_infer(e, y1, x, n); /* sizes the buffers */
    const size_t nbuf = 5 * e->max_act * (size_t)e->cap;
    const uint32_t poison = 0x7fc0dead;
    for (size_t i = 0; i < nbuf; i++)
        memcpy(&e->scratch[i], &poison, sizeof poison);
    sp_encoder_infer(e, y1, x, n);
    size_t written = 0;
    for (size_t i = 0; i < nbuf; i++)
        written += memcmp(&e->scratch[i], &poison, sizeof poison) != 0;
    CHECK("encoder resnet32 3x28x28 batch 4: infer = forward(eval) with the runs in the threads' slots",
          memcmp(y0, y1, sizeof(float) * ny) == 0, "other bytes");
    char why[96];
    snprintf(why, sizeof why, "%zu floats written, at most %d expected", written, 31360 * n);
    CHECK("encoder resnet32 3x28x28 batch 4: the batch's buffers get only what later steps read",
          written <= (size_t)31360 * n && written > 0, why);
    case_io_free(&io);
    sp_encoder_free(e);
}

int main(void)
{
    sp_conv3x3_winograd_set_tile(2);
    tile_forced = 1;
    packing_case();
    const int grow[] = {3, 7, 2}, one[] = {5};
    run_case("resnet20", 0, 3, 35, 35, 0, grow, 3);  /* tetro's: 35, 18, 9 maps */
    run_case("resnet32", 0, 3, 28, 28, 1, one, 1);   /* gtsrb8's */
    run_case("resnet20", 0, 1, 16, 16, 2, one, 1);   /* grey, pooled 2x2 */
    run_case("resnet18", 16, 3, 40, 40, 1, grow, 3); /* horse's family, narrow */
    run_case("resnet18", 0, 3, 64, 64, 0, one, 1);   /* full width: direct and im2col 3x3 convs */
    run_case("resnet18", 0, 3, 128, 128, 1, one, 1); /* horse's: layer 3 (256 channels, 8x8) by Winograd */
    threads_case("resnet20", 0, 3, 35, 35, 16); /* two stride-2 blocks: buffers change size */
    threads_case("resnet18", 16, 3, 40, 40, 8); /* max pool, downsample convolutions */
    stem_by_image_case();
    local_runs_case();
    given_packs_case("resnet20", 0, 3, 35, 35, 3);   /* per-image Winograd and direct tiles */
    given_packs_case("resnet18", 16, 3, 128, 128, 2); /* the stem by im2col, batched Winograd */
    threads_case("resnet18", 16, 3, 128, 128, 8); /* the stem image by image, its output in each thread's buffer */
    sp_conv3x3_winograd_set_tile(0);
    tile_forced = 0;
    run_case("resnet20", 0, 3, 35, 35, 0, grow, 1);  /* F(4x4) at 16 channels 35x35 */
    run_case("resnet18", 0, 3, 64, 64, 0, one, 1);   /* F(4x4) at 64 channels 16x16 */
    run_case("resnet18", 0, 3, 128, 128, 1, one, 1); /* F(4x4) at 64 channels 32x32, 128 at 16x16 */
    TEST_MAIN_END;
}

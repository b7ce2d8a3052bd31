/* perturb --seed S [--head-scale F] IN OUT: writes the model file IN with every tensor
 * perturbed, deterministically, so that no transformation is the identity
 * and the batch norms' running statistics and the clamps matter (an
 * initial model's regressors end in zeros, which would test nothing).  For
 * the parity goldens of the inference chain (tests/golden/make_chain_golden.py,
 * tests/cli/chain.sh): the golden script and the test make the same model
 * with sp-train --init-only and this tool, so that no model file is
 * committed.
 *
 * The rules are those of tests/golden/make_predict_golden.py's perturb(),
 * except for the sprites, masks and backgrounds, which keep their initial
 * values plus a SMOOTH perturbation (see smooth_plane) instead of noise:
 *   prototype_params, mask_params, bkg_params   w + 0.4 s (s smooth, in [-1, 1];
 *                                               beyond [0, 1]: the clamps matter)
 *   *running_var                                0.5 + u
 *   *running_mean                               0.1 r
 *   encoder convolution weights (4-d)           w (1 + 0.2 r)
 *   other encoder weights (batch-norm scale)    1 + 0.2 r
 *   other encoder tensors (batch-norm shift)    0.1 r
 *   an all-zero weight (a regressor's last)     0.005 r F
 *   an all-zero bias                            0.05 r F
 *   anything else                               w + 0.01 r
 * (F: --head-scale, default 1: how far the transformations are from the
 * identity; the regressors see the encoder's features, whose size depends
 * on the configuration) with u uniform in [0, 1) and r a centred unit-variance variate, drawn from
 * a generator seeded by S and the tensor's name (FNV-1a 64), so a tensor's
 * perturbation does not depend on the order of the tensors.  Only exact
 * IEEE arithmetic (no libm): u = (splitmix64 >> 40) 2^-24, r the sum of four
 * u minus 2, times sqrt(3) (Irwin-Hall, variance 1); the same bits on every
 * machine. */
#include "sp_start.h"
#include "sp_error.h"
#include "sp_model.h"
#include "sp_opt.h"

#include <stdlib.h>
#include <string.h>

static uint64_t state;

static uint64_t splitmix64(void)
{
    uint64_t z = (state += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

static float unif(void) { return (float)(splitmix64() >> 40) * (1.0f / 16777216.0f); }

static float normal(void)
{
    float s = unif() + unif() + unif() + unif();
    return (s - 2.0f) * 1.7320508f;
}

static uint64_t fnv1a(const char *s)
{
    uint64_t h = 0xcbf29ce484222325ULL;
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 0x100000001b3ULL;
    return h;
}

/* A smooth random plane [h, w]: a 5x5 grid of values uniform in [-1, 1),
 * upsampled bilinearly (corners aligned).  Smooth, so that a warped sprite's
 * values do not jump between neighbouring pixels: float32 noise in a
 * sampling grid then moves a value by little, and few mask pixels sit near
 * the 0.5 thresholds of the label outputs. */
#define COARSE 5
static void smooth_plane(float *out, int h, int w)
{
    float g[COARSE][COARSE];
    for (int a = 0; a < COARSE; a++)
        for (int b = 0; b < COARSE; b++)
            g[a][b] = 2.0f * unif() - 1.0f;
    for (int i = 0; i < h; i++) {
        float y = h > 1 ? (float)i * (COARSE - 1) / (float)(h - 1) : 0.0f;
        int y0 = (int)y < COARSE - 1 ? (int)y : COARSE - 2;
        float fy = y - (float)y0;
        for (int j = 0; j < w; j++) {
            float x = w > 1 ? (float)j * (COARSE - 1) / (float)(w - 1) : 0.0f;
            int x0 = (int)x < COARSE - 1 ? (int)x : COARSE - 2;
            float fx = x - (float)x0;
            float top = g[y0][x0] + fx * (g[y0][x0 + 1] - g[y0][x0]);
            float bot = g[y0 + 1][x0] + fx * (g[y0 + 1][x0 + 1] - g[y0 + 1][x0]);
            out[(size_t)i * w + j] = top + fy * (bot - top);
        }
    }
}

static int ends_with(const char *s, const char *t)
{
    size_t a = strlen(s), b = strlen(t);
    return a >= b && strcmp(s + a - b, t) == 0;
}

int main(int argc, char **argv)
{
    sp_main_start(argv);
    int64_t seed = 0;
    double head = 1.0;
    sp_opt opts[] = {{"seed", SP_OPT_INT64, &seed, "S", "seed of the perturbation"},
                     {"head-scale", SP_OPT_DOUBLE, &head, "F",
                      "scales the perturbation of the all-zero weights and biases (default 1)"},
                     {0}};
    char **args;
    int nargs = sp_opt_parse(argc, argv, opts, "perturb --seed S [--head-scale F] IN OUT",
                             "Writes model IN with every tensor perturbed deterministically.", &args);
    if (nargs != 2)
        sp_fatal("expected IN and OUT (see --help)");
    sp_model *m = sp_model_read(args[0]);
    for (int i = 0; i < m->ntensors; i++) {
        const char *k = m->tensors[i].name;
        sp_tensor *t = m->tensors[i].t;
        float *v = sp_f32(t);
        size_t n = sp_tensor_numel(t);
        state = (uint64_t)seed ^ fnv1a(k);
        int zero = 1;
        for (size_t j = 0; j < n; j++)
            zero &= v[j] == 0.0f;
        const int enc = strncmp(k, "encoder.", 8) == 0;
        if (!strcmp(k, "prototype_params") || !strcmp(k, "mask_params") || !strcmp(k, "bkg_params")) {
            /* [n, c, h, w]: every plane plus a smooth perturbation */
            const int h = (int)t->shape[2], w = (int)t->shape[3];
            const size_t hw = (size_t)h * w;
            float *d = malloc(sizeof(float) * hw);
            if (!d)
                sp_fatal("out of memory");
            for (size_t p0 = 0; p0 < n; p0 += hw) {
                smooth_plane(d, h, w);
                for (size_t j = 0; j < hw; j++)
                    v[p0 + j] += 0.4f * d[j];
            }
            free(d);
            continue;
        }
        for (size_t j = 0; j < n; j++) {
            if (ends_with(k, "running_var"))
                v[j] = 0.5f + unif();
            else if (ends_with(k, "running_mean"))
                v[j] = 0.1f * normal();
            else if (enc && t->ndim == 4)
                v[j] *= 1.0f + 0.2f * normal();
            else if (enc && ends_with(k, "weight"))
                v[j] = 1.0f + 0.2f * normal();
            else if (enc)
                v[j] = 0.1f * normal();
            else if (ends_with(k, "weight") && zero)
                v[j] = (float)head * (0.005f * normal());
            else if (ends_with(k, "bias") && zero)
                v[j] = (float)head * (0.05f * normal());
            else
                v[j] += 0.01f * normal();
        }
    }
    sp_map_put_str(&m->meta, "perturbed", "tests/tools/perturb");
    sp_map_put_int(&m->meta, "perturb_seed", seed);
    sp_model_write(m, args[1]);
    sp_model_free(m);
    return 0;
}

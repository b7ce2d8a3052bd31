/* sp_maxpool2d_forward's vectorised path (3x3, stride 2, padding 1, no
 * argmax: the ResNet-18 stem in inference) against a window maximum
 * written out here, bit for bit, on every plane size from 1x1 to 9x9 and
 * a 64x64 one; planes with NaN (which must win, PyTorch's rule) or -0.0
 * (the scalar path's order decides a tie with +0.0) against the scalar
 * path, which runs whenever argmax is asked for. */
#include "sp_test.h"
#include "sp_pool.h"

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static float frand(unsigned *s)
{
    *s = *s * 1103515245u + 12345u;
    return (float)((*s >> 8) & 0xffff) / 65536.0f - 0.5f;
}

/* The maximum of each window, windows as PyTorch cuts them. */
static void window_max(float *y, const float *x, int h, int w)
{
    const int ho = sp_pool_out(h, 3, 2, 1), wo = sp_pool_out(w, 3, 2, 1);
    for (int oh = 0; oh < ho; oh++)
        for (int ow = 0; ow < wo; ow++) {
            float m = -INFINITY;
            for (int ih = 2 * oh - 1; ih <= 2 * oh + 1; ih++)
                for (int iw = 2 * ow - 1; iw <= 2 * ow + 1; iw++)
                    if (ih >= 0 && ih < h && iw >= 0 && iw < w && x[ih * w + iw] > m)
                        m = x[ih * w + iw];
            y[oh * wo + ow] = m;
        }
}

static int same_bits(const float *a, const float *b, size_t n)
{
    return memcmp(a, b, n * sizeof(float)) == 0;
}

static void plain_planes(void)
{
    unsigned seed = 7;
    int sizes[82][2], ns = 0;
    for (int h = 1; h <= 9; h++)
        for (int w = 1; w <= 9; w++)
            sizes[ns][0] = h, sizes[ns][1] = w, ns++;
    sizes[ns][0] = 64, sizes[ns][1] = 64, ns++;
    int bad = 0, checked = 0;
    for (int s = 0; s < ns; s++) {
        const int h = sizes[s][0], w = sizes[s][1], nc = 5;
        const size_t n = (size_t)nc * h * w, m = (size_t)nc * sp_pool_out(h, 3, 2, 1) * sp_pool_out(w, 3, 2, 1);
        float *x = malloc(n * sizeof *x), *y = malloc(m * sizeof *y), *want = malloc(m * sizeof *want);
        for (size_t i = 0; i < n; i++)
            x[i] = frand(&seed);
        x[0] = 0.0f; /* +0.0 and repeated values are plain */
        if (n > 1)
            x[n - 1] = x[n - 2];
        sp_maxpool2d_forward(y, NULL, x, nc, h, w, 3, 2, 1);
        const size_t plane = (size_t)h * w, oplane = m / nc;
        for (int c = 0; c < nc; c++)
            window_max(want + c * oplane, x + c * plane, h, w);
        if (!same_bits(y, want, m)) {
            bad++;
            printf("# %dx%d differs\n", h, w);
        }
        checked++;
        free(x);
        free(y);
        free(want);
    }
    CHECK("maxpool 3x3/2/1 without argmax = window maximum, 1x1..9x9 and 64x64, bit for bit", bad == 0,
          "%d of %d sizes differ", bad, checked);
}

/* A plane with NaN or -0.0 takes the scalar path: the same bits as with
 * argmax asked for, and NaN wins its windows. */
static void special_planes(void)
{
    const int h = 7, w = 8, nc = 3, ho = sp_pool_out(h, 3, 2, 1), wo = sp_pool_out(w, 3, 2, 1);
    float x[3 * 7 * 8], y[3 * 4 * 4], y2[3 * 4 * 4];
    int32_t am[3 * 4 * 4];
    unsigned seed = 11;
    for (int i = 0; i < nc * h * w; i++)
        x[i] = frand(&seed) - 1.0f; /* all negative: a zero would win */
    x[0 * h * w + 3 * w + 4] = NAN;
    x[1 * h * w + 0] = -0.0f;
    x[1 * h * w + 1] = 0.0f;
    sp_maxpool2d_forward(y, NULL, x, nc, h, w, 3, 2, 1);
    sp_maxpool2d_forward(y2, am, x, nc, h, w, 3, 2, 1);
    CHECK("maxpool with NaN / -0.0 planes: the same bits with and without argmax",
          same_bits(y, y2, (size_t)nc * ho * wo), "differ");
    /* pixel (3, 4) is in the windows of outputs (1..2, 2) */
    CHECK("maxpool: NaN wins its windows", isnan(y[1 * wo + 2]) && isnan(y[2 * wo + 2]) && !isnan(y[0]),
          "y[1,2]=%g y[2,2]=%g y[0,0]=%g", y[1 * wo + 2], y[2 * wo + 2], y[0]);
    CHECK("maxpool: -0.0 then +0.0 in a window gives the first (-0.0), as the scalar loop",
          y[ho * wo] == 0.0f && signbit(y[ho * wo]), "got %g (sign %d)", y[ho * wo], signbit(y[ho * wo]) != 0);
}

/* With argmax, the 3x3/2/1 pool's row-wise path against the general window
 * loop (sp_maxpool2d_force_loop), maxima and argmax bit for bit, on every
 * plane size from 1x1 to 9x9 and 64x64; values on a coarse grid (many
 * ties: the first in scan order must win), NaN, -0.0 beside +0.0, -inf. */
static void argmax_planes(void)
{
    unsigned seed = 5;
    int bad = 0, checked = 0;
    for (int h = 1; h <= 65; h++)
        for (int w = 1; w <= 65; w++) {
            if ((h > 9 || w > 9) && !(h == 64 && w == 64) && !(h == 65 && w == 63))
                continue;
            const int nc = 4;
            const size_t n = (size_t)nc * h * w, m = (size_t)nc * sp_pool_out(h, 3, 2, 1) * sp_pool_out(w, 3, 2, 1);
            float *x = malloc(n * sizeof *x), *y0 = malloc(m * sizeof *y0), *y1 = malloc(m * sizeof *y1);
            int32_t *a0 = malloc(m * sizeof *a0), *a1 = malloc(m * sizeof *a1);
            for (size_t i = 0; i < n; i++) {
                const float r = frand(&seed);
                x[i] = (float)(int)(r * 8.0f) / 4.0f; /* a few values: ties */
                if (r > 0.45f)
                    x[i] = NAN;
                else if (r < -0.47f)
                    x[i] = -INFINITY;
                else if (x[i] == 0.0f && r < 0.0f)
                    x[i] = -0.0f;
            }
            for (size_t i = 0; i < (size_t)h * w; i++)
                x[i] = -INFINITY; /* a plane of -inf: every window keeps its first position */
            sp_maxpool2d_force_loop(1);
            sp_maxpool2d_forward(y0, a0, x, nc, h, w, 3, 2, 1);
            sp_maxpool2d_force_loop(0);
            sp_maxpool2d_forward(y1, a1, x, nc, h, w, 3, 2, 1);
            if (!same_bits(y0, y1, m) || memcmp(a0, a1, m * sizeof *a0) != 0) {
                bad++;
                printf("# %dx%d differs\n", h, w);
            }
            checked++;
            free(x);
            free(y0);
            free(y1);
            free(a0);
            free(a1);
        }
    CHECK("maxpool 3x3/2/1 with argmax: row-wise path = window loop (maxima and argmax), ties, NaN, -0.0, -inf",
          bad == 0, "%d of %d sizes differ", bad, checked);
}

int main(void)
{
    plain_planes();
    special_planes();
    argmax_planes();
    TEST_MAIN_END;
}

/* The forward samplers' two paths (sp_warp.h): eight points at a time with
 * AVX2 and point by point must give the same bits, for grids whose rows mix
 * points inside the input, on its edges and outside it, both paddings, row
 * lengths around the vector width, for the fused position transform, and
 * for the projective and thin-plate-spline transforms' grids (their rows 8
 * points at a time; the spline's with 16 control points, and 9: a sum
 * whose length is not a multiple of 4).
 * (Their values against PyTorch are test_ops' golden files.) */
#include "sp_test.h"
#include "sp_warp.h"

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static uint32_t lcg_state = 777;
static float frand(void)
{
    lcg_state = lcg_state * 1664525u + 1013904223u;
    return (float)(lcg_state >> 8) / 16777216.0f;
}

/* Runs f with every path (the best there is: 16 lanes on AVX-512; 8
 * lanes at most; point by point); 1 when the outputs are the same bytes. */
static int same_both_ways(void (*f)(float *, const float *, const float *, const sp_warp_shape *), const float *x,
                          const float *p, const sp_warp_shape *s)
{
    size_t ny = s->n * (size_t)s->c * s->h * s->w;
    float *a = malloc(sizeof(float) * (ny + 1)), *b = malloc(sizeof(float) * (ny + 1));
    float *c = malloc(sizeof(float) * (ny + 1));
    sp_warp_force_scalar(0);
    f(a, x, p, s);
    sp_warp_force_scalar(1);
    f(b, x, p, s);
    sp_warp_force_scalar(2);
    f(c, x, p, s);
    sp_warp_force_scalar(0);
    int same = memcmp(a, b, sizeof(float) * ny) == 0 && memcmp(c, b, sizeof(float) * ny) == 0;
    free(a);
    free(b);
    free(c);
    return same;
}

/* the spline with 4x4 and 3x3 control points, as same_both_ways takes it */
static void tps4(float *y, const float *x, const float *beta, const sp_warp_shape *s)
{
    sp_tsf_tps_forward(y, x, beta, 4, s);
}

static void tps3(float *y, const float *x, const float *beta, const sp_warp_shape *s)
{
    sp_tsf_tps_forward(y, x, beta, 3, s);
}

int main(void)
{
    const int widths[] = {1, 7, 8, 9, 16, 24, 28, 35, 64};
    int grid_ok = 1, pos_ok = 1, proj_ok = 1, tps_ok = 1;
    /* channels: the 16-lane sampler takes up to 4 (a sprite's RGB and
     * mask) in one padded pixel array, so 1, 3 and 4, and 5 (the planes) */
    const int channels[] = {4, 1, 3, 5};
    for (int pad = 0; pad < 2; pad++)
        for (size_t t = 0; t < sizeof widths / sizeof *widths * 4; t++) {
            const int C = channels[t / (sizeof widths / sizeof *widths)];
            sp_warp_shape s = {4, C, 11, 13, 5, widths[t % (sizeof widths / sizeof *widths)],
                               pad ? SP_PAD_BORDER : SP_PAD_ZEROS};
            size_t nx = s.n * (size_t)s.c * s.hin * s.win, ng = s.n * (size_t)s.h * s.w * 2;
            float *x = malloc(sizeof(float) * nx), *grid = malloc(sizeof(float) * ng);
            for (size_t i = 0; i < nx; i++)
                x[i] = frand() * 2 - 1;
            /* image 1: pixel (0, 0) infinite, read with weight 0 for every
             * corner outside the image: NaN there, every way */
            x[(size_t)C * s.hin * s.win] = INFINITY;
            /* image 0: every point well inside; 1: inside and up to 1.3x
             * beyond the edges; 2: rows inside, rows outside, exact edges;
             * 3: a smooth enlargement (each row reads one pair of source
             * rows, eight points within a few columns) */
            for (size_t i = 0; i < ng; i++) {
                size_t img = i / ((size_t)s.h * s.w * 2), row = i / ((size_t)s.w * 2) % s.h;
                size_t col = i / 2 % (size_t)s.w;
                float v = frand() * 2 - 1;
                grid[i] = img == 0   ? 0.8f * v
                        : img == 1   ? 1.3f * v
                        : img == 3   ? (i % 2 ? -0.9f + 1.8f * (float)row / (float)s.h
                                              : -0.95f + 1.9f * (float)col / (float)s.w)
                        : row == 0   ? 0.7f * v
                        : row == 1   ? 3.0f + v
                        : row == 2   ? (i % 3 ? -1.0f : 1.0f)
                                     : v;
                if (img == 2 && row == 3 && col == 1)
                    grid[i] = NAN; /* reads nothing ('zeros'), pixel 0 ('border') */
            }
            grid_ok &= same_both_ways(sp_grid_sample_forward, x, grid, &s);
            /* the position transform (log-scale, tx, ty), one per image:
             * as is, grown, shrunk and moved, shrunk a little */
            float beta[12] = {0.0f, 0.0f, 0.0f, 0.4f, 0.3f, -0.2f, -0.5f, -0.6f, 0.9f, -0.3f, 0.1f, 0.05f};
            if (!pad)
                pos_ok &= same_both_ways(sp_tsf_position_forward, x, beta, &s);
            /* homographies, offsets from identity: small, a strong
             * perspective, one whose denominator crosses 0 in the image */
            float hom[4 * SP_TSF_PROJECTIVE_P];
            for (int k = 0; k < 4 * SP_TSF_PROJECTIVE_P; k++)
                hom[k] = (frand() * 2 - 1) * (k < 9 ? 0.1f : k < 18 ? 0.5f : 0.3f);
            hom[2 * SP_TSF_PROJECTIVE_P + 6] = 1.5f; /* image 2: w = 1.5x + ... + 1 is 0 inside */
            proj_ok &= same_both_ways(sp_tsf_projective_forward, x, hom, &s);
            /* control points moved by up to 0.3 */
            float tps[4 * 2 * 16];
            for (int k = 0; k < 4 * 2 * 16; k++)
                tps[k] = (frand() * 2 - 1) * 0.3f;
            tps_ok &= same_both_ways(tps4, x, tps, &s) && same_both_ways(tps3, x, tps, &s);
            free(x);
            free(grid);
        }
    CHECK("grid sample: 16-lane (padded pixels), eight-point and point by point give the same bits (zeros, "
          "border; widths 1-64; 1, 3, 4, 5 channels; a NaN point)",
          grid_ok, "they differ");
    CHECK("position transform: the same bits both ways", pos_ok, "they differ");
    CHECK("projective transform: the same bits both ways (its grid rows 8 points at a time)", proj_ok, "they differ");
    CHECK("thin-plate-spline transform: the same bits every way (its grid rows 32 points at a time with "
          "AVX-512, 8 with AVX2; 16 and 9 control points)",
          tps_ok, "they differ");
    TEST_MAIN_END;
}

/* convbench: the 3x3 stride-1 forward of one image on one thread, by the
 * direct tiles and by Winograd F(2x2, 3x3) and F(4x4, 3x3)
 * (common/sp_conv_winograd.c), on the encoders' layer shapes; microseconds
 * per image (the fastest of 5 rounds), each Winograd's speed-up, what the
 * inference takes for the layer (a Winograd tile, the direct tiles, or
 * im2col + sgemm where neither applies), and each Winograd's largest difference
 * from the direct tiles relative to the layer's largest output.  Part of
 * make bench (pipelines/bench-ops.sh).
 *
 *   convbench            the table
 *   convbench C O H W    one layer's row (for a profiler)
 */
#define _POSIX_C_SOURCE 200809L
#include "sp_conv_direct.h"
#include "sp_conv_winograd.h"
#include "sp_error.h"
#include "sp_progress.h"

#include <math.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>

static unsigned state = 12345;
static float frand(void)
{
    state = state * 1664525u + 1013904223u;
    return (float)(state >> 8) / 16777216.0f - 0.5f;
}

static void row(const char *what, int C, int O, int H, int W)
{
    sp_conv2d_desc d = {1, C, H, W, O, 3, 3, 1, 1, 1, 1};
    const size_t nx = (size_t)C * H * W, ny = (size_t)O * H * W, nw = (size_t)O * C * 9;
    float *x = sp_malloc(sizeof(float) * nx), *w = sp_malloc(sizeof(float) * nw);
    float *y0 = sp_malloc(sizeof(float) * ny), *y1 = sp_malloc(sizeof(float) * ny), *y2 = sp_malloc(sizeof(float) * ny);
    for (size_t i = 0; i < nx; i++)
        x[i] = frand();
    for (size_t i = 0; i < nw; i++)
        w[i] = 0.2f * frand();
    /* the direct tiles through the per-image call, weights packed once, as
     * the encoder's inference uses them (SP_CONV_WINOGRAD=0, set by main
     * before the first call, makes that call take the direct tiles) */
    float *pkd = sp_malloc(sizeof(float) * sp_conv3x3_packed_floats(&d));
    float *ws = sp_malloc(sizeof(float) * sp_conv3x3_image_floats(&d));
    sp_conv3x3_pack_forward(pkd, w, &d);
    /* Winograd with each tile */
    float *pk[2], *wi[2], *y[2] = {y1, y2};
    for (int k = 0; k < 2; k++) {
        pk[k] = sp_malloc(sizeof(float) * sp_conv3x3_winograd_packed_floats(&d, 2 + 2 * k));
        wi[k] = sp_malloc(sizeof(float) * sp_conv3x3_winograd_image_floats(&d, 2 + 2 * k));
        sp_conv3x3_winograd_pack(pk[k], w, &d, 0, 2 + 2 * k);
    }
    const int reps = (int)(2e7 / ((double)ny * C * 9)) + 1;
    double best[3] = {1e30, 1e30, 1e30};
    for (int round = 0; round < 5; round++) {
        double t0 = sp_now();
        for (int r = 0; r < reps; r++)
            sp_conv3x3_forward_image(y0, x, pkd, &d, ws, NULL, NULL);
        best[0] = fmin(best[0], sp_now() - t0);
        for (int k = 0; k < 2; k++) {
            t0 = sp_now();
            for (int r = 0; r < reps; r++)
                sp_conv3x3_winograd_forward_image(y[k], x, pk[k], NULL, &d, wi[k], NULL, NULL, 2 + 2 * k);
            best[1 + k] = fmin(best[1 + k], sp_now() - t0);
        }
    }
    double diff[2] = {0, 0}, big = 0;
    for (size_t i = 0; i < ny; i++) {
        for (int k = 0; k < 2; k++)
            diff[k] = fmax(diff[k], fabs((double)y0[i] - y[k][i]));
        big = fmax(big, fabs((double)y0[i]));
    }
    /* what the encoder's inference takes for this layer */
    char chosen[16];
    if (sp_conv3x3_winograd_ok(&d))
        snprintf(chosen, sizeof chosen, "F(%dx%d)", sp_conv3x3_winograd_tile(&d, 0), sp_conv3x3_winograd_tile(&d, 0));
    else
        snprintf(chosen, sizeof chosen, "%s", sp_conv3x3_direct_ok(&d) ? "direct" : "im2col");
    printf("| %s | %d -> %d, %dx%d | %.1f | %.1f | %.1f | %.2fx | %.2fx | %s | %.1e | %.1e |\n", what, C, O, H, W,
           best[0] / reps * 1e6, best[1] / reps * 1e6, best[2] / reps * 1e6, best[0] / best[1], best[0] / best[2],
           chosen, diff[0] / (big > 0 ? big : 1), diff[1] / (big > 0 ? big : 1));
    free(x);
    free(w);
    free(y0);
    free(y1);
    free(y2);
    free(ws);
    free(pkd);
    for (int k = 0; k < 2; k++) {
        free(pk[k]);
        free(wi[k]);
    }
}

int main(int argc, char **argv)
{
    int one[4];
    if (argc != 1 && (argc != 5 || sscanf(argv[1], "%d", &one[0]) != 1 || sscanf(argv[2], "%d", &one[1]) != 1 ||
                      sscanf(argv[3], "%d", &one[2]) != 1 || sscanf(argv[4], "%d", &one[3]) != 1 || one[0] < 1 ||
                      one[1] < 1 || one[2] < 1 || one[3] < 1)) {
        fprintf(stderr, "usage: convbench [C O H W]\n");
        return 2;
    }
    setenv("SP_CONV_WINOGRAD", "0", 1); /* sp_conv3x3_forward_image: the direct tiles */
    omp_set_num_threads(1);
    printf("| layer | channels, map | direct us | F(2x2) us | F(4x4) us | F(2x2) speed-up | F(4x4) speed-up | "
           "inference takes | F(2x2) max difference / max output | F(4x4) |\n");
    printf("|---|---|---|---|---|---|---|---|---|---|\n");
    if (argc == 5) {
        row("given", one[0], one[1], one[2], one[3]);
        return 0;
    }
    row("tetro stage 1", 16, 16, 35, 35);
    row("tetro stage 2", 32, 32, 18, 18);
    row("tetro stage 3", 64, 64, 9, 9);
    row("gtsrb8 stage 1", 16, 16, 28, 28);
    row("gtsrb8 stage 2", 32, 32, 14, 14);
    row("gtsrb8 stage 3", 64, 64, 7, 7);
    row("dsprites stage 1", 16, 16, 64, 64);
    row("dsprites stage 2", 32, 32, 32, 32);
    row("dsprites stage 3", 64, 64, 16, 16);
    row("horse layer 1", 64, 64, 32, 32);
    row("horse layer 2", 128, 128, 16, 16);
    return 0;
}

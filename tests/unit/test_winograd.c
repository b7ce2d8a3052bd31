/* The Winograd F(2x2, 3x3) and F(4x4, 3x3) forward (sp_conv_winograd.c) against a plain
 * convolution summed in double here, on maps of odd and even sizes (the
 * flat tile layout's row ends), channel counts that are not multiples of
 * the GEMM tiles' 4 or 8 outputs, chunked and single-chunk images, with
 * bias, with the batch-norm epilogue and a residual, with and without ReLU.
 * The bound is relative to sum |w| |x| of each output (what rounding in any
 * summation order scales with): 2e-6 of it for F(2x2), ~20x what the
 * transforms' reordering costs here, 1e-5 for F(4x4) (measured 2e-7 to
 * 1.9e-6: its transforms' coefficients go up to 8 and its weights' to 1/24),
 * both far below any wrong index or sign.  Every case runs with each tile
 * forced (sp_conv3x3_winograd_set_tile), so the batched forward (F(2x2)
 * unforced) and the input gradient (picked per layer) are checked with
 * both.  Then the
 * batched sp_conv3x3_forward must give the per-image function's bits (so
 * the encoder's inference and training forward agree), the input
 * gradient (the same convolution with the flipped weights) must match sums
 * in double too, and SP_CONV_WINOGRAD=0 (tests/cli/conv_paths.sh) proves
 * the direct path alone. */
#include "sp_conv_direct.h"
#include "sp_conv_winograd.h"
#include "sp_error.h"
#include "sp_test.h"

#include <omp.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static int tile; /* F(tile x tile, 3x3) */
/* the bound on the error relative to the sum of magnitudes: F(4x4)'s
 * transforms have larger coefficients (its A^T has 8s, its G 1/24) */
#define BOUND (tile == 2 ? 2e-6 : 1e-5)

static uint32_t lcg_state = 4242;
static float frand(void)
{
    lcg_state = lcg_state * 1664525u + 1013904223u;
    return (float)(lcg_state >> 8) / 16777216.0f - 0.5f;
}

/* n floats offset + scale * frand(), malloc'd (freed by the caller) */
/* FNV-1a of every forward output computed here: printed last, so that
 * tests/cli/conv_paths.sh can run this test with the 8-lane and the 16-lane
 * GEMM tiles (SP_CONV_AVX512=0 / 1) and require the same bits. */
static uint64_t digest = 1469598103934665603ull;
static void digest_add(const float *y, size_t n)
{
    const unsigned char *b = (const unsigned char *)y;
    for (size_t i = 0; i < n * sizeof(float); i++)
        digest = (digest ^ b[i]) * 1099511628211ull;
}

static float *random_floats(size_t n, float scale, float offset)
{
    float *v = malloc(sizeof(float) * (n ? n : 1));
    for (size_t i = 0; i < n; i++)
        v[i] = offset + scale * frand();
    return v;
}

/* worst |y - exact| / (sum |w||x| + |bias|, times |scale| + |shift| +
 * |residual| after an epilogue) over every output */
static double worst_error(const float *y, const float *x, const float *w, const float *bias,
                          const sp_conv2d_epilogue *ep, const float *res, int C, int O, int H, int W)
{
    double worst = 0.0;
    for (int o = 0; o < O; o++)
        for (int i = 0; i < H; i++)
            for (int j = 0; j < W; j++) {
                double s = bias ? bias[o] : 0.0, mag = bias ? fabs(bias[o]) : 0.0;
                for (int c = 0; c < C; c++)
                    for (int ki = 0; ki < 3; ki++)
                        for (int kj = 0; kj < 3; kj++) {
                            int r = i + ki - 1, q = j + kj - 1;
                            if (r < 0 || r >= H || q < 0 || q >= W)
                                continue;
                            double a = w[((size_t)(o * C + c) * 3 + ki) * 3 + kj], b = x[((size_t)c * H + r) * W + q];
                            s += a * b;
                            mag += fabs(a * b);
                        }
                size_t at = ((size_t)o * H + i) * W + j;
                if (ep) {
                    s = s * ep->scale[o] + ep->shift[o] + (res ? res[at] : 0.0);
                    mag = mag * fabs(ep->scale[o]) + fabs(ep->shift[o]) + (res ? fabs(res[at]) : 0.0);
                    if (ep->relu && s < 0.0)
                        s = 0.0;
                }
                double e = fabs((double)y[at] - s) / (mag + 1e-30);
                if (!(e <= worst)) /* NaN counts as the worst */
                    worst = e != e ? 1e30 : e;
            }
    return worst;
}

static void one_case(int C, int O, int H, int W, int with_bias, int with_ep, int relu)
{
    sp_conv2d_desc d = {1, C, H, W, O, 3, 3, 1, 1, 1, 1};
    char name[200];
    snprintf(name, sizeof name, "winograd F(%dx%d) %dx%dx%d -> %d channels%s%s%s: within %g of the exact sum", tile, tile, C, H, W, O,
             with_bias ? ", bias" : "", with_ep ? ", batch norm + residual" : "", relu ? " + relu" : "", BOUND);
    if (!sp_conv3x3_winograd_ok(&d)) {
        CHECK(name, 0, "the shape is not one Winograd takes (AVX2 + FMA missing?)");
        return;
    }
    const size_t nx = (size_t)C * H * W, ny = (size_t)O * H * W;
    float *x = random_floats(nx, 1, 0), *w = random_floats((size_t)O * C * 9, 0.3f, 0);
    float *bias = random_floats(O, 1, 0), *scale = random_floats(O, 1, 0.5f), *shift = random_floats(O, 0.2f, 0);
    float *res = random_floats(ny, 1, 0), *y = malloc(sizeof(float) * ny);
    sp_conv2d_epilogue ep = {scale, shift, NULL, relu};
    float *pk = sp_malloc(sizeof(float) * sp_conv3x3_winograd_packed_floats(&d, tile));
    float *ws = sp_malloc(sizeof(float) * sp_conv3x3_winograd_image_floats(&d, tile));
    sp_conv3x3_winograd_pack(pk, w, &d, 0, tile);
    memset(y, 0xff, sizeof(float) * ny); /* NaN: an output never written shows */
    sp_conv3x3_winograd_forward_image(y, x, pk, with_bias ? bias : NULL, &d, ws, with_ep ? &ep : NULL,
                                      with_ep ? res : NULL, tile);
    digest_add(y, ny);
    double e = worst_error(y, x, w, with_bias ? bias : NULL, with_ep ? &ep : NULL, with_ep ? res : NULL, C, O, H, W);
    CHECK(name, e <= BOUND, "relative error %.3g", e);
    FREE_ALL(x, w, bias, scale, shift, res, y, pk, ws);
}

/* sp_conv3x3_forward over a batch (threads split the images) against
 * sp_conv3x3_forward_image image by image: the same bytes */
static void batch_case(int N, int C, int O, int H, int W)
{
    sp_conv2d_desc d = {N, C, H, W, O, 3, 3, 1, 1, 1, 1};
    const size_t xs = (size_t)C * H * W, ys = (size_t)O * H * W;
    float *x = random_floats(xs * N, 1, 0), *w = random_floats((size_t)O * C * 9, 0.3f, 0);
    float *y0 = malloc(sizeof(float) * ys * N), *y1 = malloc(sizeof(float) * ys * N);
    omp_set_num_threads(3);
    float *ws = sp_malloc(sizeof(float) * sp_conv3x3_workspace(&d, 3));
    sp_conv3x3_forward(y0, x, w, NULL, &d, ws, NULL);
    float *pk = sp_malloc(sizeof(float) * sp_conv3x3_packed_floats(&d));
    float *wi = sp_malloc(sizeof(float) * sp_conv3x3_image_floats(&d));
    sp_conv3x3_pack_forward(pk, w, &d);
    for (int n = N - 1; n >= 0; n--)
        sp_conv3x3_forward_image(y1 + (size_t)n * ys, x + (size_t)n * xs, pk, &d, wi, NULL, NULL);
    char name[160];
    snprintf(name, sizeof name, "winograd F(%dx%d) batch of %d %dx%dx%d -> %d on 3 threads = image by image, bit for bit", tile, tile, N, C,
             H, W, O);
    CHECK(name, memcmp(y0, y1, sizeof(float) * ys * N) == 0, "other bytes");
    FREE_ALL(x, w, y0, y1, ws, pk, wi);
}

/* Small maps by F(4x4) over a group of images stacked in one tile
 * sequence (SP_WINOGRAD_GROUPED): gi images (a whole group or fewer), with
 * the batch-norm epilogue, a residual and ReLU, must give each image the
 * bits F(4x4) gives it alone (the stack changes which tiles share a vector,
 * not any tile's sums), and the images after gi must stay untouched. */
static void group_case(int C, int O, int H, int W, int gi)
{
    sp_conv2d_desc d = {1, C, H, W, O, 3, 3, 1, 1, 1, 1};
    const size_t G = sp_conv3x3_winograd_group(&d, SP_WINOGRAD_GROUPED), xs = (size_t)C * H * W;
    const size_t ys = (size_t)O * H * W;
    char name[200];
    snprintf(name, sizeof name, "winograd F(4x4) over %d of a group of %zu stacked %dx%dx%d -> %d: each image's bits as alone",
             gi, G, C, H, W, O);
    if (G < (size_t)gi) {
        CHECK(name, 0, "the group is %zu images", G);
        return;
    }
    float *x = random_floats(xs * G, 1, 0), *w = random_floats((size_t)O * C * 9, 0.3f, 0);
    float *scale = random_floats(O, 1, 0.5f), *shift = random_floats(O, 0.2f, 0), *res = random_floats(ys * G, 1, 0);
    float *y0 = malloc(sizeof(float) * ys * G), *y1 = malloc(sizeof(float) * ys * G);
    sp_conv2d_epilogue ep = {scale, shift, NULL, 1};
    float *pk = sp_malloc(sizeof(float) * sp_conv3x3_winograd_packed_floats(&d, SP_WINOGRAD_GROUPED));
    float *ws = sp_malloc(sizeof(float) * sp_conv3x3_winograd_image_floats(&d, SP_WINOGRAD_GROUPED));
    float *pk4 = sp_malloc(sizeof(float) * sp_conv3x3_winograd_packed_floats(&d, 4));
    float *ws4 = sp_malloc(sizeof(float) * sp_conv3x3_winograd_image_floats(&d, 4));
    sp_conv3x3_winograd_pack(pk, w, &d, 0, SP_WINOGRAD_GROUPED);
    sp_conv3x3_winograd_pack(pk4, w, &d, 0, 4);
    memset(y0, 0x7f, sizeof(float) * ys * G);
    memcpy(y1, y0, sizeof(float) * ys * G);
    sp_conv3x3_winograd_forward_images(y0, x, (size_t)gi, pk, NULL, &d, ws, &ep, res, SP_WINOGRAD_GROUPED);
    for (int i = 0; i < gi; i++)
        sp_conv3x3_winograd_forward_image(y1 + i * ys, x + i * xs, pk4, NULL, &d, ws4, &ep, res + i * ys, 4);
    digest_add(y0, ys * G);
    CHECK(name, memcmp(y0, y1, sizeof(float) * ys * G) == 0, "other bytes");
    FREE_ALL(x, w, scale, shift, res, y0, y1, pk, ws, pk4, ws4);
}

/* A block's two convolutions (BN + ReLU, then BN + residual + ReLU) with
 * the first's outputs going straight into the second's padded input
 * (sp_conv3x3_winograd_forward_images_padded): the second's outputs the
 * same bytes as through y, and the first's y left unwritten.  Only where
 * the layer takes it (F(4x4), 16-lane tiles): elsewhere padded_ok says no. */
static void padded_pair_case(int C, int H, int W, int gi)
{
    sp_conv2d_desc d = {1, C, H, W, C, 3, 3, 1, 1, 1, 1};
    const int tl = SP_WINOGRAD_GROUPED;
    const size_t G = sp_conv3x3_winograd_group(&d, tl), xs = (size_t)C * H * W;
    char name[200];
    snprintf(name, sizeof name,
             "winograd F(4x4): %d images of %dx%dx%d (stacks of %zu), a block's first convolution into the second's "
             "padding (and its own y as well): the same bytes",
             gi, C, H, W, G);
    if (!sp_conv3x3_wide() || (size_t)gi > G) {
        CHECK(name, !sp_conv3x3_winograd_padded_ok(&d, tl) || (size_t)gi > G, "taken without the 16-lane tiles");
        return;
    }
    if (!sp_conv3x3_winograd_padded_ok(&d, tl)) {
        CHECK(name, 0, "not taken");
        return;
    }
    float *x = random_floats(xs * G, 1, 0), *w1 = random_floats((size_t)C * C * 9, 0.3f, 0);
    float *w2 = random_floats((size_t)C * C * 9, 0.3f, 0);
    float *s1 = random_floats(C, 1, 0.5f), *h1 = random_floats(C, 0.2f, 0), *s2 = random_floats(C, 1, 0.5f);
    float *h2 = random_floats(C, 0.2f, 0);
    float *y1 = malloc(sizeof(float) * xs * G), *y2 = malloc(sizeof(float) * xs * G);
    float *u1 = malloc(sizeof(float) * xs * G), *u2 = malloc(sizeof(float) * xs * G);
    sp_conv2d_epilogue e1 = {s1, h1, NULL, 1}, e2 = {s2, h2, NULL, 1};
    float *p1 = sp_malloc(sizeof(float) * sp_conv3x3_winograd_packed_floats(&d, tl));
    float *p2 = sp_malloc(sizeof(float) * sp_conv3x3_winograd_packed_floats(&d, tl));
    float *ws = sp_malloc(sizeof(float) * sp_conv3x3_winograd_image_floats(&d, tl));
    sp_conv3x3_winograd_pack(p1, w1, &d, 0, tl);
    sp_conv3x3_winograd_pack(p2, w2, &d, 0, tl);
    memset(y1, 0x7f, sizeof(float) * xs * G);
    memcpy(u1, y1, sizeof(float) * xs * G);
    memcpy(y2, y1, sizeof(float) * xs * G);
    memcpy(u2, y1, sizeof(float) * xs * G);
    sp_conv3x3_winograd_forward_images(y1, x, (size_t)gi, p1, NULL, &d, ws, &e1, NULL, tl);
    sp_conv3x3_winograd_forward_images(y2, y1, (size_t)gi, p2, NULL, &d, ws, &e2, x, tl);
    sp_conv3x3_winograd_forward_images_padded(u1, x, (size_t)gi, p1, NULL, &d, ws, &e1, NULL, tl,
                                              SP_WINOGRAD_OUT_PADDED);
    sp_conv3x3_winograd_forward_images_padded(u2, NULL, (size_t)gi, p2, NULL, &d, ws, &e2, x, tl,
                                              SP_WINOGRAD_IN_PADDED);
    int untouched = 1;
    for (size_t i = 0; i < xs * G; i++)
        untouched &= ((const unsigned char *)&u1[i])[0] == 0x7f;
    const int same = memcmp(y2, u2, sizeof(float) * xs * G) == 0;
    /* the first keeping its y as well (SP_WINOGRAD_OUT_KEEP): that y's bytes too */
    memset(u2, 0x7f, sizeof(float) * xs * G);
    sp_conv3x3_winograd_forward_images_padded(u1, x, (size_t)gi, p1, NULL, &d, ws, &e1, NULL, tl,
                                              SP_WINOGRAD_OUT_PADDED | SP_WINOGRAD_OUT_KEEP);
    sp_conv3x3_winograd_forward_images_padded(u2, NULL, (size_t)gi, p2, NULL, &d, ws, &e2, x, tl,
                                              SP_WINOGRAD_IN_PADDED);
    const int kept = memcmp(y1, u1, sizeof(float) * xs * G) == 0 && memcmp(y2, u2, sizeof(float) * xs * G) == 0;
    CHECK(name, same && untouched && kept,
          !same ? "other bytes" : !untouched ? "the first's y written" : "kept: other bytes");
    FREE_ALL(x, w1, w2, s1, h1, s2, h2, y1, y2, u1, u2, p1, p2, ws);
}

/* F(4x4) with only the images' tiles (compact_tiles) against every tile
 * of the flat layout: gi of a stack's images, bias, the batch-norm
 * epilogue with a residual and ReLU; the same bytes, the images after gi
 * untouched.  The two take their own packs (the 8-lane GEMM tiles may
 * take other blocks). */
static void compact_case(int C, int O, int H, int W, int gi)
{
    sp_conv2d_desc d = {1, C, H, W, O, 3, 3, 1, 1, 1, 1};
    const int tl = SP_WINOGRAD_GROUPED;
    const size_t G = sp_conv3x3_winograd_group(&d, tl), xs = (size_t)C * H * W, ys = (size_t)O * H * W;
    char name[200];
    snprintf(name, sizeof name, "winograd F(4x4) %d of a stack of %zu %dx%dx%d -> %d, only the images' tiles: the flat layout's bytes",
             gi, G, C, H, W, O);
    if (sp_conv3x3_winograd_tile(&d, tl) != 4 || !sp_conv3x3_winograd_compact(&d, tl) || (size_t)gi > G) {
        CHECK(name, 0, "not taken (tile %d, %zu a stack)", sp_conv3x3_winograd_tile(&d, tl), G);
        return;
    }
    float *x = random_floats(xs * G, 1, 0), *w = random_floats((size_t)O * C * 9, 0.3f, 0);
    float *bias = random_floats(O, 1, 0), *scale = random_floats(O, 1, 0.5f), *shift = random_floats(O, 0.2f, 0);
    float *res = random_floats(ys * G, 1, 0);
    float *y[2] = {malloc(sizeof(float) * ys * G), malloc(sizeof(float) * ys * G)};
    sp_conv2d_epilogue ep = {scale, shift, NULL, 1};
    for (int k = 0; k < 2; k++) {
        sp_conv3x3_winograd_set_compact(k);
        float *pk = sp_malloc(sizeof(float) * sp_conv3x3_winograd_packed_floats(&d, tl));
        float *ws = sp_malloc(sizeof(float) * sp_conv3x3_winograd_image_floats(&d, tl));
        memset(ws, 0xff, sizeof(float) * sp_conv3x3_winograd_image_floats(&d, tl)); /* NaNs where nothing is written */
        sp_conv3x3_winograd_pack(pk, w, &d, 0, tl);
        memset(y[k], 0x7f, sizeof(float) * ys * G);
        sp_conv3x3_winograd_forward_images(y[k], x, (size_t)gi, pk, bias, &d, ws, &ep, res, tl);
        FREE_ALL(pk, ws);
    }
    sp_conv3x3_winograd_set_compact(1);
    CHECK(name, memcmp(y[0], y[1], sizeof(float) * ys * G) == 0, "other bytes");
    FREE_ALL(x, w, bias, scale, shift, res, y[0], y[1]);
}

/* The input gradient (sp_conv3x3_backward's dx, Winograd with the
 * flipped weights where it applies) against sums in double: within 2e-6 of
 * sum |dy| |w| of each input; odd and even maps, channel counts off the
 * tiles, 3 threads. */
static void dx_case_by(int N, int C, int O, int H, int W, int wide);
static void dx_case(int N, int C, int O, int H, int W)
{
    dx_case_by(N, C, O, H, W, 0);
}

/* wide = 1: the same through sp_conv2d_backward for layers whose weights
 * are too large for the direct tiles (sp_conv3x3_dx_wide: flat Winograd on
 * 8x8 and larger maps, one F(4x4) tile an image on 4x4 and less, im2col
 * between) */
static void dx_case_by(int N, int C, int O, int H, int W, int wide)
{
    sp_conv2d_desc d = {N, C, H, W, O, 3, 3, 1, 1, 1, 1};
    const size_t xs = (size_t)C * H * W, ys = (size_t)O * H * W, nw = (size_t)O * C * 9;
    float *x = random_floats(xs * N, 1, 0), *dy = random_floats(ys * N, 1, 0), *w = random_floats(nw, 1, 0);
    float *dx = malloc(sizeof(float) * xs * N);
    omp_set_num_threads(3);
    const size_t ws_len = wide ? sp_conv2d_workspace(&d) : sp_conv3x3_workspace(&d, 3);
    float *ws = sp_malloc(sizeof(float) * ws_len);
    memset(dx, 0xff, sizeof(float) * xs * N);
    if (wide)
        sp_conv2d_backward(dx, NULL, NULL, dy, x, w, &d, ws, ws_len);
    else
        sp_conv3x3_backward(dx, NULL, dy, x, w, &d, ws);
    double worst = 0.0;
    for (int n = 0; n < N; n++)
        for (int c = 0; c < C; c++)
            for (int r = 0; r < H; r++)
                for (int q = 0; q < W; q++) {
                    double sum = 0.0, mag = 0.0;
                    for (int o = 0; o < O; o++)
                        for (int ki = 0; ki < 3; ki++)
                            for (int kj = 0; kj < 3; kj++) {
                                int i = r - ki + 1, j = q - kj + 1; /* the output that read x[r][q] by this tap */
                                if (i < 0 || i >= H || j < 0 || j >= W)
                                    continue;
                                double a = dy[n * ys + ((size_t)o * H + i) * W + j];
                                double b = w[((size_t)(o * C + c) * 3 + ki) * 3 + kj];
                                sum += a * b;
                                mag += fabs(a * b);
                            }
                    double e = fabs(dx[n * xs + ((size_t)c * H + r) * W + q] - sum) / (mag + 1e-30);
                    if (!(e <= worst))
                        worst = e != e ? 1e30 : e;
                }
    char name[160];
    snprintf(name, sizeof name, "winograd F(%dx%d) input gradient%s, batch of %d %dx%dx%d <- %d, 3 threads: within %g of the exact sum",
             tile, tile, wide ? (sp_conv3x3_dx_wide_floats(&d, 3) ? " of a wide layer" : " of a wide layer (im2col)") : "",
             N, C, H, W, O, BOUND);
    CHECK(name, worst <= BOUND, "relative error %.3g", worst);
    FREE_ALL(x, dy, w, dx, ws);
}

/* Maps of 4x4 and less, a batch at once (sp_conv3x3_winograd_batched_*):
 * F(4x4) one tile an image, F(2x2) 2x2 tiles an image.  Every image of n
 * against sums in double, within the tile's bound, with bias, the
 * batch-norm epilogue, a residual and ReLU (NaN-filled outputs: one never
 * written shows), on 3 threads; n across chunk and vector ends. */
static void batched_case(int bt, int n, int C, int H, int W, int O, int with_ep)
{
    sp_conv2d_desc d = {n, C, H, W, O, 3, 3, 1, 1, 1, 1};
    const size_t xs = (size_t)C * H * W, ys = (size_t)O * H * W;
    const double bound = bt == 2 ? 2e-6 : 1e-5;
    char name[200];
    snprintf(name, sizeof name, "winograd F(%dx%d) batched: %d images %dx%dx%d -> %d%s, 3 threads: within %g of the exact sum",
             bt, bt, n, C, H, W, O, with_ep ? ", bias + batch norm + residual + relu" : "", bound);
    if (!sp_conv3x3_winograd_batched_ok(&d) && !sp_conv3x3_batched_pays(&d, bt)) {
        CHECK(name, 0, "not taken");
        return;
    }
    float *x = random_floats(xs * n, 1, 0), *w = random_floats((size_t)O * C * 9, 0.3f, 0);
    float *bias = random_floats(O, 1, 0), *scale = random_floats(O, 1, 0.5f), *shift = random_floats(O, 0.2f, 0);
    float *res = random_floats(ys * n, 1, 0), *y = malloc(sizeof(float) * ys * n);
    sp_conv2d_epilogue ep = {scale, shift, res, 1};
    float *pk = sp_malloc(sizeof(float) * sp_conv3x3_winograd_batched_packed_floats(&d, bt));
    float *ws = sp_malloc(sizeof(float) * sp_conv3x3_winograd_batched_floats(&d, bt));
    sp_conv3x3_winograd_batched_pack(pk, w, &d, 0, bt);
    memset(y, 0xff, sizeof(float) * ys * n);
    omp_set_num_threads(3);
    sp_conv3x3_winograd_batched_forward(y, x, (size_t)n, pk, with_ep ? bias : NULL, &d, ws, with_ep ? &ep : NULL, bt);
    digest_add(y, ys * n);
    double worst = 0.0;
    for (int i = 0; i < n; i++) {
        sp_conv2d_epilogue epi = {scale, shift, NULL, 1};
        double e = worst_error(y + i * ys, x + i * xs, w, with_ep ? bias : NULL, with_ep ? &epi : NULL,
                               with_ep ? res + i * ys : NULL, C, O, H, W);
        if (!(e <= worst))
            worst = e;
    }
    CHECK(name, worst <= bound, "relative error %.3g", worst);
    FREE_ALL(x, w, bias, scale, shift, res, y, pk, ws);
}

/* An 8x8 map, where the inference takes the batched F(4x4) instead of the
 * per-image path's stacked images (sp_conv3x3_batched_pays): the same bits
 * as that path gives each image, so that the encoder's inference keeps
 * them whichever it takes */
static void batched_bits_case(int n, int C, int H, int W, int O)
{
    sp_conv2d_desc d = {n, C, H, W, O, 3, 3, 1, 1, 1, 1};
    const size_t xs = (size_t)C * H * W, ys = (size_t)O * H * W;
    float *x = random_floats(xs * n, 1, 0), *w = random_floats((size_t)O * C * 9, 0.3f, 0);
    float *scale = random_floats(O, 1, 0.5f), *shift = random_floats(O, 0.2f, 0), *res = random_floats(ys * n, 1, 0);
    float *yb = malloc(sizeof(float) * ys * n), *yi = malloc(sizeof(float) * ys * n);
    sp_conv2d_epilogue ep = {scale, shift, res, 1};
    float *pb = sp_malloc(sizeof(float) * sp_conv3x3_winograd_batched_packed_floats(&d, 4));
    float *wb = sp_malloc(sizeof(float) * sp_conv3x3_winograd_batched_floats(&d, 4));
    sp_conv3x3_winograd_batched_pack(pb, w, &d, 0, 4);
    omp_set_num_threads(2);
    sp_conv3x3_winograd_batched_forward(yb, x, (size_t)n, pb, NULL, &d, wb, &ep, 4);
    float *pi = sp_malloc(sizeof(float) * sp_conv3x3_winograd_packed_floats(&d, SP_WINOGRAD_GROUPED));
    float *wi = sp_malloc(sizeof(float) * sp_conv3x3_winograd_image_floats(&d, SP_WINOGRAD_GROUPED));
    sp_conv3x3_winograd_pack(pi, w, &d, 0, SP_WINOGRAD_GROUPED);
    const size_t G = sp_conv3x3_winograd_group(&d, SP_WINOGRAD_GROUPED);
    sp_conv2d_epilogue epi = {scale, shift, NULL, 1};
    for (size_t i = 0; i < (size_t)n; i += G) {
        const size_t gi = (size_t)n - i < G ? (size_t)n - i : G;
        sp_conv3x3_winograd_forward_images(yi + i * ys, x + i * xs, gi, pi, NULL, &d, wi, &epi, res + i * ys,
                                           SP_WINOGRAD_GROUPED);
    }
    char name[200];
    snprintf(name, sizeof name,
             "winograd batched F(4x4) on %d images %dx%dx%d -> %d: the per-image path's bits (%zu images stacked, F(%d))",
             n, C, H, W, O, G, sp_conv3x3_winograd_tile(&d, SP_WINOGRAD_GROUPED));
    CHECK(name, sp_conv3x3_batched_pays(&d, 4) && memcmp(yb, yi, sizeof(float) * ys * n) == 0, "%s",
          sp_conv3x3_batched_pays(&d, 4) ? "bits differ" : "not taken");
    FREE_ALL(x, w, scale, shift, res, yb, yi, pb, wb, pi, wi);
}

/* Training's forward of a layer too wide for the direct tiles on a 4x4
 * map (sp_conv2d_forward: the batched F(2x2)) against sums in double */
static void forward_wide_case(int n, int C, int H, int W, int O)
{
    sp_conv2d_desc d = {n, C, H, W, O, 3, 3, 1, 1, 1, 1};
    const size_t xs = (size_t)C * H * W, ys = (size_t)O * H * W;
    float *x = random_floats(xs * n, 1, 0), *w = random_floats((size_t)O * C * 9, 0.3f, 0), *y = malloc(sizeof(float) * ys * n);
    const size_t len = sp_conv2d_workspace(&d);
    float *ws = sp_malloc(sizeof(float) * len);
    memset(y, 0xff, sizeof(float) * ys * n);
    sp_conv2d_forward(y, x, w, NULL, &d, ws, len);
    double worst = 0.0;
    for (int i = 0; i < n; i++) {
        double e = worst_error(y + i * ys, x + i * xs, w, NULL, NULL, NULL, C, O, H, W);
        if (!(e <= worst))
            worst = e;
    }
    char name[200];
    snprintf(name, sizeof name, "conv forward of a wide layer on a %dx%d map, %d images %d -> %d: by the batched F(2x2), within 2e-06 of the exact sum",
             H, W, n, C, O);
    CHECK(name, sp_conv3x3_forward_batched_floats(&d) > 0 && worst <= 2e-6, "relative error %.3g, %s", worst,
          sp_conv3x3_forward_batched_floats(&d) > 0 ? "batched" : "not batched");
    FREE_ALL(x, w, y, ws);
}

/* F(4x4)'s weight transform goes 4 kernels at a time, one double lane
 * each (the block's last ones zeros past O): each lane must give its own
 * kernel's transform.  With 6 outputs and output 5's kernels copies of
 * output 0's, output 5 (lane 1 of a block with two zero lanes) must get
 * output 0's (lane 0 of a full block) bit for bit, and the zero lanes
 * zeros; forward (the batched pack, blocks of 4) and flipped (an input
 * gradient's, a 32x32 map: blocks of 4 too). */
static void pack_lanes_case(void)
{
    const int C = 19, O = 6;
    sp_conv2d_desc d = {1, C, 4, 4, O, 3, 3, 1, 1, 1, 1}, dflip = {1, C, 32, 32, O, 3, 3, 1, 1, 1, 1};
    float *w = random_floats((size_t)O * C * 9, 1, 0), *wf = random_floats((size_t)O * C * 9, 1, 0);
    for (int c = 0; c < C; c++)
        for (int t = 0; t < 9; t++) {
            w[((size_t)5 * C + c) * 9 + t] = w[(size_t)c * 9 + t];           /* [O][C]: (5, c) = (0, c) */
            wf[((size_t)c * O + 5) * 9 + t] = wf[((size_t)c * O + 0) * 9 + t]; /* flipped [C][O] */
        }
    const size_t xs = 2 * (size_t)C * 4; /* the batched pack: 2 blocks of 4 outputs */
    /* the flat one's F(4x4) blocks: 8 outputs with the 16-lane tiles (gemm_wide's), else 4 */
    const size_t mf = sp_conv3x3_wide() ? 8 : 4, xf = (size_t)C * 8;
    float *pk = sp_malloc(sizeof(float) * sp_conv3x3_winograd_batched_packed_floats(&d, 4));
    float *pf = sp_malloc(sizeof(float) * sp_conv3x3_winograd_packed_floats(&dflip, 4));
    sp_conv3x3_winograd_batched_pack(pk, w, &d, 0, 4);
    sp_conv3x3_winograd_pack(pf, wf, &dflip, 1, 4);
    int same = 1, samef = 1, zeros = 1;
    for (size_t xi = 0; xi < 36; xi++)
        for (size_t c = 0; c < (size_t)C; c++) {
            const size_t o0 = xi * xs + c * 4, o5 = xi * xs + ((size_t)C + c) * 4 + 1;
            const size_t f0 = xi * xf + c * mf, f5 = xi * xf + (5 / mf) * C * mf + c * mf + 5 % mf;
            same &= memcmp(pk + o0, pk + o5, sizeof(float)) == 0;
            samef &= memcmp(pf + f0, pf + f5, sizeof(float)) == 0;
            zeros &= pk[o5 + 1] == 0.0f && pk[o5 + 2] == 0.0f && pf[f5 + 1] == 0.0f && pf[f5 + 2] == 0.0f;
        }
    CHECK("winograd F(4x4) weight transform, 4 kernels at once: each lane its own kernel's, zeros past O",
          same && samef && zeros, "forward %s, flipped %s, past O %s", same ? "same" : "differs",
          samef ? "same" : "differs", zeros ? "zeros" : "not zeros");
    FREE_ALL(w, wf, pk, pf);
}

/* every case with each tile, F(2x2) and F(4x4), where the layer takes Winograd */
static void cases(void)
{
    one_case(16, 16, 35, 35, 0, 0, 0); /* tetro's first stage: odd size, 18 tiles a row + 1 */
    one_case(32, 32, 18, 18, 1, 0, 0); /* even size: the extra tile column */
    one_case(64, 64, 9, 9, 0, 1, 1);   /* 8-tile GEMM columns */
    one_case(16, 16, 64, 64, 1, 1, 0); /* several chunks */
    one_case(16, 16, 28, 28, 1, 1, 1); /* gtsrb8's first stage: 56 tiles, 8-output GEMM tiles of 32 then 24 */
    one_case(16, 16, 20, 28, 0, 1, 1); /* 40 tiles: 32, then 8 */
    one_case(32, 32, 14, 14, 1, 1, 1); /* gtsrb8's second stage: a padded row of 16, 4 tiles a row */
    one_case(24, 40, 32, 32, 1, 0, 1); /* F(4x4)'s padding: a whole block of 32 in a row, nothing after */
    one_case(17, 19, 7, 8, 1, 1, 1);   /* outputs not a multiple of 4 */
    one_case(24, 20, 5, 6, 0, 1, 1);   /* the smallest maps it takes */
    one_case(20, 36, 6, 5, 1, 0, 0);
    one_case(128, 128, 8, 8, 0, 1, 1); /* a ResNet-18 layer's width */
    one_case(256, 256, 8, 8, 1, 1, 1); /* ResNet-18's layer 3: weights past the direct tiles' limit */
    batch_case(7, 16, 16, 35, 35);
    dx_case(3, 16, 16, 35, 35); /* odd map */
    dx_case(2, 19, 17, 8, 9);   /* channels off the tiles, odd width */
    dx_case(2, 24, 32, 18, 18); /* even map */
    dx_case(2, 32, 24, 16, 16); /* F(4x4)'s compact tiles, a vector two half rows */
    dx_case(1, 16, 16, 32, 32); /* and a tile row one vector */
    batch_case(5, 32, 24, 9, 10);
    dx_case_by(3, 192, 176, 8, 9, 1);  /* past the direct tiles' weights: flat Winograd */
    dx_case_by(5, 192, 200, 4, 3, 1);  /* one F(4x4) tile an image (im2col with F(2x2) forced) */
    dx_case_by(2, 176, 192, 6, 6, 1);  /* neither: im2col */
}

int main(void)
{
    for (int m = 2; m <= 4; m += 2) {
        tile = m;
        sp_conv3x3_winograd_set_tile(m);
        cases();
    }
    sp_conv3x3_winograd_set_tile(0);
    /* the per-layer choice (convbench measures both tiles on these shapes) */
    sp_conv2d_desc big = {1, 64, 32, 32, 64, 3, 3, 1, 1, 1, 1}, mid = {1, 32, 14, 14, 32, 3, 3, 1, 1, 1, 1};
    sp_conv2d_desc s9 = {1, 64, 9, 9, 64, 3, 3, 1, 1, 1, 1}, s7 = {1, 64, 7, 7, 64, 3, 3, 1, 1, 1, 1};
    sp_conv2d_desc s18 = {1, 32, 18, 18, 32, 3, 3, 1, 1, 1, 1};
    CHECK("winograd picks F(4x4) at 64 channels 32x32, 32 channels 18x18 and 14x14, F(2x2) on 9x9 and 7x7 maps",
          sp_conv3x3_winograd_tile(&big, 0) == 4 && sp_conv3x3_winograd_tile(&mid, 0) == 4 &&
              sp_conv3x3_winograd_tile(&s18, 0) == 4 && sp_conv3x3_winograd_tile(&s9, 0) == 2 &&
              sp_conv3x3_winograd_tile(&s7, 0) == 2 && sp_conv3x3_winograd_tile(&big, 2) == 2,
          "other tiles");
    group_case(64, 64, 9, 9, 8); /* tetro's third stage */
    group_case(64, 64, 7, 7, 8); /* gtsrb8's */
    group_case(64, 64, 7, 7, 3); /* a batch's last, partial group */
    group_case(17, 20, 8, 7, 5); /* channels off the tiles, an even height (a gap row between images) */
    group_case(128, 128, 16, 16, 2); /* horse's layer 2: weights past L2, two images stacked */
    group_case(128, 128, 16, 16, 1); /* a batch's odd last image */
    sp_conv2d_desc big_map = {1, 64, 32, 32, 64, 3, 3, 1, 1, 1, 1};
    CHECK("winograd groups only small maps (32x32 stays one image)",
          sp_conv3x3_winograd_group(&big_map, SP_WINOGRAD_GROUPED) == 1 &&
              sp_conv3x3_winograd_group(&big_map, 0) == 1,
          "grouped");
    sp_conv2d_desc small = {1, 8, 9, 9, 8, 3, 3, 1, 1, 1, 1}, tiny = {1, 16, 4, 4, 16, 3, 3, 1, 1, 1, 1};
    sp_conv2d_desc wide4 = {1, 512, 4, 4, 512, 3, 3, 1, 1, 1, 1}, wide8 = {1, 256, 8, 8, 256, 3, 3, 1, 1, 1, 1};
    CHECK("winograd not taken for 8 channels, a 4x4 map or 512 channels at 4x4 (direct or im2col is faster there)",
          !sp_conv3x3_winograd_ok(&small) && !sp_conv3x3_winograd_ok(&tiny) && !sp_conv3x3_winograd_ok(&wide4),
          "taken");
    CHECK("winograd taken for 256 channels at 8x8 (too wide for the direct tiles), forward only",
          sp_conv3x3_winograd_ok(&wide8) && sp_conv3x3_forward_ok(&wide8) && !sp_conv3x3_direct_ok(&wide8),
          "not taken");
    pack_lanes_case();
    for (int bt = 2; bt <= 4; bt += 2) {
        batched_case(bt, 32, 512, 4, 4, 512, 1); /* ResNet-18's layer 4 at 128x128, a batch of 32 */
        batched_case(bt, 1, 16, 4, 4, 16, 0);
        batched_case(bt, 9, 17, 3, 4, 21, 1);    /* channels off the tiles, a 3x4 map: a partial tile for F(2x2) */
        batched_case(bt, 70, 64, 2, 3, 20, 1);   /* tiles across vector ends */
        batched_case(bt, 200, 300, 4, 4, 16, 1); /* several chunks */
        batched_case(bt, 5, 16, 1, 1, 16, 1);    /* a 1x1 map */
    }
    batched_case(4, 5, 192, 8, 8, 200, 1); /* an 8x8 map (sp_conv3x3_batched_pays), channels off the tiles */
    batched_bits_case(11, 64, 8, 8, 72);   /* two stacks of 8 and a partial one */
    batched_bits_case(4, 256, 8, 8, 256);  /* ResNet-18's layer 3 at 128x128 */
    sp_conv2d_desc l3 = {32, 256, 8, 8, 256, 3, 3, 1, 1, 1, 1}, t9 = {32, 64, 9, 9, 64, 3, 3, 1, 1, 1, 1};
    sp_conv2d_desc g7 = {128, 64, 7, 7, 64, 3, 3, 1, 1, 1, 1}, d16 = {32, 64, 16, 16, 64, 3, 3, 1, 1, 1, 1};
    CHECK("the inference's batched F(4x4) on 8x8 maps (4 tiles an image against 9 stacked), not on 9x9, 7x7 (as "
          "few stacked), 16x16 or 4x4 maps (their own paths)",
          sp_conv3x3_batched_pays(&l3, 4) && !sp_conv3x3_batched_pays(&t9, 4) && !sp_conv3x3_batched_pays(&g7, 4) &&
              !sp_conv3x3_batched_pays(&d16, 4) && !sp_conv3x3_batched_pays(&wide4, 4),
          "chosen elsewhere");
    forward_wide_case(6, 192, 4, 4, 200);
    forward_wide_case(3, 200, 3, 3, 176);
    sp_conv2d_desc w5 = {1, 16, 5, 4, 16, 3, 3, 1, 1, 1, 1}, c8 = {1, 8, 4, 4, 16, 3, 3, 1, 1, 1, 1};
    CHECK("winograd batched: only maps of 4x4 and less with 16 or more channels",
          !sp_conv3x3_winograd_batched_ok(&w5) && !sp_conv3x3_winograd_batched_ok(&c8) &&
              sp_conv3x3_winograd_batched_ok(&wide4),
          "taken");
    printf("# forward outputs' FNV-1a %016llx (16-lane GEMM tiles: %s)\n", (unsigned long long)digest,
           sp_conv3x3_wide() ? "yes" : "no");
    /* after the digest: they run only with the 16-lane tiles, and their
     * random inputs would move every later case's */
    padded_pair_case(16, 28, 28, 1); /* gtsrb8's first stage: rows of 28, one block of 32 */
    padded_pair_case(32, 14, 14, 1); /* its second: rows in one vector */
    padded_pair_case(16, 35, 35, 1); /* tetro's first: two blocks a row */
    padded_pair_case(64, 32, 32, 1); /* horse's layer 1 */
    padded_pair_case(32, 18, 18, 1); /* tetro's second */
    padded_pair_case(64, 9, 9, 8);   /* tetro's third, stacked */
    padded_pair_case(64, 9, 9, 3);   /* a batch's last, partial stack */
    padded_pair_case(128, 16, 16, 2); /* horse's layer 2, two stacked */
    padded_pair_case(128, 16, 16, 1); /* its odd last image */
    compact_case(64, 64, 32, 32, 1);   /* horse's layer 1: 8 tiles a row, 64 of 72 */
    compact_case(128, 128, 16, 16, 2); /* its layer 2: a vector is two half rows, 32 of 45 */
    compact_case(128, 128, 16, 16, 1); /* the stack's second image absent */
    compact_case(16, 16, 64, 64, 1);   /* dsprites' first stage: 16 tiles a row, several chunks */
    compact_case(24, 40, 32, 32, 1);   /* other outputs than inputs */
    compact_case(64, 20, 16, 16, 1);   /* outputs off the GEMM's blocks, 16 tiles */
    sp_conv2d_desc odd = {1, 16, 35, 35, 16, 3, 3, 1, 1, 1, 1}, g28 = {1, 16, 28, 28, 16, 3, 3, 1, 1, 1, 1};
    sp_conv2d_desc h20 = {1, 32, 20, 32, 32, 3, 3, 1, 1, 1, 1};
    CHECK("winograd F(4x4) keeps the flat layout for a 35x35 map and 7 tiles a row (28x28); 20x32's 40 tiles "
          "compact only with the 16-lane GEMM tiles (the 8-lane ones take 16 or 24 at a time)",
          !sp_conv3x3_winograd_compact(&odd, 4) && !sp_conv3x3_winograd_compact(&g28, 4) &&
              sp_conv3x3_winograd_compact(&h20, 4) == (sp_conv3x3_wide() != 0),
          "other layouts");
    TEST_MAIN_END;
}

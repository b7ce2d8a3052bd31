/* The im2col forward's own GEMM tiles (common/sp_gemm_tiles.c) and the
 * convolutions that use them.
 *
 * 1. sp_gemm_tiles against a scalar loop written here, acc = fmaf(a, b, acc)
 *    over k from zero: the tiles promise exactly that chain for every
 *    output, so the bits must be equal, with 8 lanes and (where the CPU has
 *    AVX-512 F and VL) 16, on widths that leave every kind of tail (1..100
 *    columns), K from 0 to past a group of panels' 256 KB, row strides
 *    wider than the rows, and 8 to 24 rows (K <= 147 reads b in place,
 *    K >= 700 copies its panels first).  A wrong index or a dropped tail
 *    column changes the value; a reordered sum changes the last bits.
 * 2. sp_conv2d_forward of the layers that take them (7x7 stride 2 as a
 *    ResNet stem, 3x3 stride 2, 1x1 stride 2; output channels a multiple of
 *    8; output rows wide enough for the stride-2 im2col's 8-float gather)
 *    against a convolution summed in double here, within 1e-5 of the sum of
 *    |w| |x| per output, and where the tiles take it, bit for bit against
 *    the fmaf chain over (c, ki, kj) (a value of the column matrix in the
 *    wrong place, or a dropped one, changes the sum).  Both widths are run again by tests/cli/conv_paths.sh
 *    (SP_CONV_AVX512=0 / 1) and sgemm alone by SP_CONV_IM2COL=1.  Stride-2
 *    3x3 (or larger) layers whose output rows are whole blocks of 32 (or 2 of 16, 4 of 8) skip im2col with 16
 *    lanes (the input's even and odd columns read in place): the same
 *    chain, so the same check. */
#include "sp_conv.h"
#include "sp_conv_direct.h"
#include "sp_cpu.h"
#include "sp_error.h"
#include "sp_gemm_tiles.h"
#include "sp_test.h"

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static uint32_t lcg_state = 777;
static float frand(void)
{
    lcg_state = lcg_state * 1664525u + 1013904223u;
    return (float)(lcg_state >> 8) / 16777216.0f - 0.5f;
}

/* every (M, N, K, ldb - N, ldc - N) of the table, with the given width;
 * returns the number of outputs whose bits differ from the scalar chain */
static size_t gemm_mismatches(int wide, size_t M, size_t N, size_t K, size_t padb, size_t padc, size_t *first)
{
    const size_t ldb = N + padb, ldc = N + padc;
    float *a = sp_malloc(sizeof(float) * (M * K + 1)), *b = sp_malloc(sizeof(float) * (K * ldb + 1));
    float *pk = sp_malloc(sizeof(float) * (M * K + 1)), *c = sp_malloc(sizeof(float) * M * ldc);
    for (size_t i = 0; i < M * K; i++)
        a[i] = frand();
    for (size_t i = 0; i < K * ldb; i++)
        b[i] = frand();
    const float sentinel = 12345.0f;
    for (size_t i = 0; i < M * ldc; i++)
        c[i] = sentinel;
    sp_gemm_tiles_pack(pk, a, M, K);
    float *ws = sp_malloc(sizeof(float) * (sp_gemm_tiles_ws_floats(K) + 1));
    sp_gemm_tiles(c, ldc, pk, b, ldb, M, N, K, wide, ws);
    free(ws);
    size_t bad = 0;
    *first = (size_t)-1;
    for (size_t i = 0; i < M; i++)
        for (size_t j = 0; j < ldc; j++) {
            float want = sentinel; /* past column N: untouched */
            if (j < N) {
                want = 0.0f;
                for (size_t k = 0; k < K; k++)
                    want = fmaf(a[i * K + k], b[k * ldb + j], want);
            }
            if (memcmp(&want, &c[i * ldc + j], sizeof want) != 0) {
                if (!bad)
                    *first = i * ldc + j;
                bad++;
            }
        }
    FREE_ALL(a, b, pk, c);
    return bad;
}

static void gemm_cases(int wide)
{
    static const size_t Ms[] = {8, 16, 24}, Ks[] = {0, 1, 7, 147, 700};
    char name[200];
    size_t cases = 0, bad_cases = 0;
    for (size_t mi = 0; mi < sizeof Ms / sizeof *Ms; mi++)
        for (size_t ki = 0; ki < sizeof Ks / sizeof *Ks; ki++)
            for (size_t N = 1; N <= 100; N += (N < 40 ? 1 : 7)) {
                size_t first;
                size_t bad = gemm_mismatches(wide, Ms[mi], N, Ks[ki], N % 3, N % 5, &first);
                cases++;
                if (bad) {
                    bad_cases++;
                    snprintf(name, sizeof name, "gemm tiles (%d lanes) M %zu N %zu K %zu: the scalar fmaf chain's bits",
                             wide ? 16 : 8, Ms[mi], N, Ks[ki]);
                    CHECK(name, 0, "%zu outputs differ, the first at %zu", bad, first);
                }
            }
    /* K = 700: groups of 2-3 panels (above 64 or 72 columns, a second
     * group); K = 2100: one panel a group (its K rows pass the group's
     * 256 KB) */
    size_t first;
    size_t bad = gemm_mismatches(wide, 16, 77, 2100, 1, 0, &first);
    snprintf(name, sizeof name,
             "gemm tiles (%d lanes): %zu shapes (M 8-24, N 1-100, K 0-700, padded strides) and K 2100 give the "
             "scalar fmaf chain's bits, columns past N untouched",
             wide ? 16 : 8, cases);
    CHECK(name, bad_cases == 0 && bad == 0, "%zu of the shapes differ; K 2100: %zu outputs", bad_cases, bad);
}

/* y of one convolution summed in double, and sum |w| |x| per output */
static void conv_double(double *y, double *mag, const float *x, const float *w, const sp_conv2d_desc *d)
{
    const int Ho = sp_conv2d_ho(d), Wo = sp_conv2d_wo(d);
    for (int n = 0; n < d->n; n++)
        for (int o = 0; o < d->o; o++)
            for (int i = 0; i < Ho; i++)
                for (int j = 0; j < Wo; j++) {
                    double s = 0, m = 0;
                    for (int c = 0; c < d->c; c++)
                        for (int ki = 0; ki < d->kh; ki++)
                            for (int kj = 0; kj < d->kw; kj++) {
                                int ih = i * d->sh - d->ph + ki, iw = j * d->sw - d->pw + kj;
                                if (ih < 0 || ih >= d->h || iw < 0 || iw >= d->w)
                                    continue;
                                double xv = x[(((size_t)n * d->c + c) * d->h + ih) * d->w + iw];
                                double wv = w[(((size_t)o * d->c + c) * d->kh + ki) * d->kw + kj];
                                s += xv * wv;
                                m += fabs(xv * wv);
                            }
                    size_t at = (((size_t)n * d->o + o) * Ho + i) * Wo + j;
                    y[at] = s;
                    mag[at] = m;
                }
}

static void conv_case(const char *what, sp_conv2d_desc d)
{
    const size_t nx = (size_t)d.n * d.c * d.h * d.w, nw = (size_t)d.o * d.c * d.kh * d.kw;
    const size_t ny = (size_t)d.n * d.o * sp_conv2d_ho(&d) * sp_conv2d_wo(&d);
    float *x = sp_malloc(sizeof(float) * nx), *w = sp_malloc(sizeof(float) * nw), *y = sp_malloc(sizeof(float) * ny);
    double *yd = sp_malloc(sizeof(double) * ny), *mag = sp_malloc(sizeof(double) * ny);
    for (size_t i = 0; i < nx; i++)
        x[i] = frand();
    for (size_t i = 0; i < nw; i++)
        w[i] = frand();
    sp_conv2d_forward(y, x, w, NULL, &d, NULL, 0);
    conv_double(yd, mag, x, w, &d);
    double worst = 0;
    for (size_t i = 0; i < ny; i++) {
        double e = fabs(y[i] - yd[i]) / (mag[i] > 0 ? mag[i] : 1);
        if (e > worst)
            worst = e;
    }
    char name[200];
    snprintf(name, sizeof name, "conv forward (through im2col or in place) by %s, %s: within 1e-5 of sums in double",
             sp_conv_gemm_tiles_ok(&d) ? "the gemm tiles" : "sgemm", what);
    CHECK(name, worst < 1e-5, "worst error %.3g of the magnitudes", worst);
    if (sp_conv_gemm_tiles_ok(&d)) {
        /* the tiles' promise through the column matrix: each output the
         * fmaf chain over (c, ki, kj) in order from zero, a padded input
         * counted as 0 */
        const int Ho = sp_conv2d_ho(&d), Wo = sp_conv2d_wo(&d);
        size_t bad = 0, first = 0;
        for (int n = 0; n < d.n; n++)
            for (int o = 0; o < d.o; o++)
                for (int i = 0; i < Ho; i++)
                    for (int j = 0; j < Wo; j++) {
                        float acc = 0.0f;
                        for (int c = 0; c < d.c; c++)
                            for (int ki = 0; ki < d.kh; ki++)
                                for (int kj = 0; kj < d.kw; kj++) {
                                    const int ih = i * d.sh - d.ph + ki, iw = j * d.sw - d.pw + kj;
                                    const float xv = ih < 0 || ih >= d.h || iw < 0 || iw >= d.w
                                                         ? 0.0f
                                                         : x[(((size_t)n * d.c + c) * d.h + ih) * d.w + iw];
                                    acc = fmaf(w[(((size_t)o * d.c + c) * d.kh + ki) * d.kw + kj], xv, acc);
                                }
                        const size_t at = (((size_t)n * d.o + o) * Ho + i) * Wo + j;
                        if (memcmp(&acc, &y[at], sizeof acc) && !bad++)
                            first = at;
                    }
        snprintf(name, sizeof name, "conv forward by the gemm tiles, %s: the fmaf chain's bits", what);
        CHECK(name, bad == 0, "%zu outputs differ, the first at %zu", bad, first);
    }
    FREE_ALL(x, w, y, yd, mag);
}

int main(void)
{
    if (!sp_cpu_avx2_fma()) {
        printf("ok gemm tiles # skipped: this CPU has no AVX2 and FMA\n");
        TEST_MAIN_END;
    }
    gemm_cases(0);
    if (sp_cpu_avx512vl())
        gemm_cases(1);
    else
        printf("ok gemm tiles (16 lanes) # skipped: this CPU has no AVX-512 F and VL\n");
    /* n, c, h, w, o, kh, kw, sh, sw, ph, pw */
    static const struct {
        const char *what;
        sp_conv2d_desc d;
    } convs[] = {
        {"a 7x7 stride-2 stem, 3 -> 16 channels, 45x38 (23x19 out)", {2, 3, 45, 38, 16, 7, 7, 2, 2, 3, 3}},
        {"3x3 stride 2, 8 -> 24 channels, 40x41, 5 images", {5, 8, 40, 41, 24, 3, 3, 2, 2, 1, 1}},
        {"1x1 stride 2, 16 -> 32 channels, 36x36", {3, 16, 36, 36, 32, 1, 1, 2, 2, 0, 0}},
        {"5x5 stride 1 pad 2, 4 -> 8 channels, 20x20", {2, 4, 20, 20, 8, 5, 5, 1, 1, 2, 2}},
        /* a horse-sized stem (64-column rows: the stride-2 gather's last 8
         * of a row masked), then 3x3 stride 2 on maps small enough that a
         * GEMM takes several images */
        {"a 7x7 stride-2 stem, 3 -> 16 channels, 128x128", {1, 3, 128, 128, 16, 7, 7, 2, 2, 3, 3}},
        {"3x3 stride 2, 16 -> 8 channels, 9x7, 7 images", {7, 16, 9, 7, 8, 3, 3, 2, 2, 1, 1}},
        /* output rows of whole blocks of 32, read in place from the input's
         * even and odd columns (sp_conv.c's implicit GEMM, 16 lanes): an
         * odd input width, a 5x5 window, a 3x3 one, several images */
        {"5x5 stride 2 pad 2, 4 -> 8 channels, 64x63 (32x32 out), 3 images", {3, 4, 64, 63, 8, 5, 5, 2, 2, 2, 2}},
        {"3x3 stride 2 pad 1, 8 -> 16 channels, 20x128 (10x64 out), 2 images", {2, 8, 20, 128, 16, 3, 3, 2, 2, 1, 1}},
        /* pairs of 16-output rows, groups of 3 images taken one by one; a
         * 1x1 stride-2 layer of the same shape (im2col: its planes would
         * not fit its column matrix's room) */
        {"3x3 stride 2 pad 1, 16 -> 24 channels, 32x31 (16x16 out), 5 images", {5, 16, 32, 31, 24, 3, 3, 2, 2, 1, 1}},
        {"1x1 stride 2, 12 -> 16 channels, 32x32 (16x16 out), 4 images", {4, 12, 32, 32, 16, 1, 1, 2, 2, 0, 0}},
        /* four rows of 8 a block; a 1x1 again (im2col) */
        {"3x3 stride 2 pad 1, 20 -> 8 channels, 15x16 (8x8 out), 6 images", {6, 20, 15, 16, 8, 3, 3, 2, 2, 1, 1}},
        {"1x1 stride 2, 16 -> 32 channels, 16x16 (8x8 out), 3 images", {3, 16, 16, 16, 32, 1, 1, 2, 2, 0, 0}},
        /* output widths the blocks above do not take, read in place from
         * the input's four phase planes (sp_conv_phased.c, 16 lanes, one
         * image at a time): GTSRB-8's two stride-2 layers, Tetrominoes'
         * (odd input widths), a map whose outputs with their extra column
         * make exactly one block (4 rows of 7 + 1), and rows of more than
         * 32 outputs */
        {"3x3 stride 2 pad 1, 16 -> 32 channels, 28x28 (14x14 out), 3 images", {3, 16, 28, 28, 32, 3, 3, 2, 2, 1, 1}},
        {"3x3 stride 2 pad 1, 32 -> 64 channels, 14x14 (7x7 out), 3 images", {3, 32, 14, 14, 64, 3, 3, 2, 2, 1, 1}},
        {"3x3 stride 2 pad 1, 16 -> 32 channels, 35x35 (18x18 out), 2 images", {2, 16, 35, 35, 32, 3, 3, 2, 2, 1, 1}},
        {"3x3 stride 2 pad 1, 32 -> 64 channels, 18x17 (9x9 out), 2 images", {2, 32, 18, 17, 64, 3, 3, 2, 2, 1, 1}},
        {"3x3 stride 2 pad 1, 8 -> 8 channels, 7x13 (4x7 out)", {1, 8, 7, 13, 8, 3, 3, 2, 2, 1, 1}},
        {"3x3 stride 2 pad 1, 4 -> 16 channels, 9x75 (5x38 out), 2 images", {2, 4, 9, 75, 16, 3, 3, 2, 2, 1, 1}},
    };
    for (size_t i = 0; i < sizeof convs / sizeof convs[0]; i++)
        conv_case(convs[i].what, convs[i].d);
    TEST_MAIN_END;
}

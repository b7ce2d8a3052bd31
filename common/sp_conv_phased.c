/* A 3x3 stride-2 padding-1 convolution's forward read in place from four
 * phase planes of its input, for output widths the row blocks of
 * sp_conv.c's implicit GEMM do not take (GTSRB-8's 28 -> 14 and 14 -> 7
 * columns, Tetrominoes' 35 -> 18 and 18 -> 9).  Those went through im2col
 * (9 copies of the input, rows of 7 to 18 floats, then copied again into
 * the tiles' panels) at ~40 us an image for 0.9 M multiply-adds, 4x a
 * stride-1 layer's time per product, and over the whole batch, so that
 * the layers before and after them wrote and read their maps through
 * memory instead of each core's cache.
 *
 * With the input padded by one (xp), output (y, x) reads xp[2y + ki][2x + kj];
 * plane (a, b) holds Q[i][j] = xp[2i + a][2j + b], rows of S = Wo + 1 floats.
 * Then the tap (ki, kj) of output y * S + x is plane (ki % 2, kj % 2) at
 * y * S + x + (ki / 2) * S + kj / 2: for every output of the image, the
 * same offset per tap.  So the image's outputs, counted y * S + x (one
 * column in S past the row, x = Wo, computed and dropped), are one
 * arithmetic sequence, and 32 consecutive ones read 32 consecutive floats
 * of a plane for each (c, ki, kj): sp_gemm_tiles_rows's implicit GEMM with
 * blocks 32 apart.  The padding and everything past the image are zeros in
 * the planes, so each output is the chain of multiply-adds that im2col's
 * zeros give: the same bits. */
#include "sp_conv_phased.h"
#include "sp_conv_direct.h"
#include "sp_gemm_tiles.h"

#include <immintrin.h>
#include <stdint.h>
#include <string.h>

typedef struct {
    size_t S; /* a plane row's floats: Wo + 1 */
    size_t N; /* outputs computed: Ho * S rounded up to the tiles' 32 */
    size_t L; /* a plane's floats: its last block's farthest tap (N - 1 + S + 1) and beyond */
} phased;

static phased layout(const sp_conv2d_desc *d)
{
    phased f;
    const size_t Ho = (size_t)sp_conv2d_ho(d), Wo = (size_t)sp_conv2d_wo(d);
    f.S = Wo + 1;
    f.N = (Ho * f.S + 31) / 32 * 32;
    /* the image's last values land at most at ((H + 1) / 2) * S + W / 2 =
     * Ho * S + Wo - (W odd) < N + S + 1 */
    f.L = (f.N + f.S + 1 + 15) / 16 * 16;
    return f;
}

/* weights of at most 1 MB: an image's pass over them stays in the core's
 * cache (ResNet-18's last stride-2 layer, 4.7 MB at 8x8 -> 4x4, streamed
 * its weights from memory for each image: 1% slower a horse inference
 * than im2col's GEMM over groups of images) */
#define MAX_WEIGHTS ((size_t)1 << 18)

int sp_conv_phased_ok(const sp_conv2d_desc *d)
{
    if (d->kh != 3 || d->kw != 3 || d->sh != 2 || d->sw != 2 || d->ph != 1 || d->pw != 1 ||
        (size_t)d->c * (size_t)d->o * 9 > MAX_WEIGHTS || !sp_conv_gemm_tiles_ok(d) || !sp_conv3x3_wide())
        return 0;
    const phased f = layout(d);
    return 4 * (size_t)d->c * f.L < ((size_t)1 << 31); /* the taps' offsets are int32 */
}

size_t sp_conv_phased_floats(const sp_conv2d_desc *d)
{
    const phased f = layout(d);
    const size_t K = 9 * (size_t)d->c;
    /* planes, the product rows [O][N], then the offsets and block starts
     * (int32, a float's size each) */
    return 4 * (size_t)d->c * f.L + (size_t)d->o * f.N + K + f.N / 32;
}

/* even[m] = row[2m] (m < (W + 1) / 2), odd[m] = row[2m + 1] (m < W / 2),
 * 16 pairs at a time; reads row[0 .. W) only */
__attribute__((target("avx512f"))) static void split_row(float *even, float *odd, const float *row, size_t W)
{
    const __m512i pe = _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30);
    const __m512i po = _mm512_setr_epi32(1, 3, 5, 7, 9, 11, 13, 15, 17, 19, 21, 23, 25, 27, 29, 31);
    for (size_t k = 0; k < W; k += 32) {
        const size_t left = W - k < 32 ? W - k : 32;
        const uint32_t in = left == 32 ? 0xffffffffu : (1u << left) - 1u;
        const __m512 lo = _mm512_maskz_loadu_ps((__mmask16)in, row + k);
        const __m512 hi = _mm512_maskz_loadu_ps((__mmask16)(in >> 16), row + k + 16);
        const size_t ne = (left + 1) / 2, no = left / 2;
        _mm512_mask_storeu_ps(even + k / 2, (__mmask16)((1u << ne) - 1u), _mm512_permutex2var_ps(lo, pe, hi));
        _mm512_mask_storeu_ps(odd + k / 2, (__mmask16)((1u << no) - 1u), _mm512_permutex2var_ps(lo, po, hi));
    }
}

void sp_conv_phased_forward(float *y, const float *x, const float *pk, const sp_conv2d_desc *d, float *ws,
                            const float *bias, const sp_conv2d_epilogue *ep, const float *res)
{
    const phased f = layout(d);
    const size_t C = (size_t)d->c, O = (size_t)d->o, H = (size_t)d->h, W = (size_t)d->w, K = 9 * C;
    const size_t Ho = (size_t)sp_conv2d_ho(d), Wo = (size_t)sp_conv2d_wo(d), S = f.S, L = f.L;
    float *planes = ws, *prod = planes + 4 * C * L;
    int32_t *off = (int32_t *)(void *)(prod + O * f.N), *col_at = off + K;
    /* plane (c, a, b) at planes + ((2c + a) * 2 + b) * L: row i of plane
     * (., a, 1) holds input row 2i + a - 1's even columns from column 0,
     * of plane (., a, 0) its odd ones from column 1 (column 0: the
     * padding) */
    memset(planes, 0, sizeof(float) * 4 * C * L);
    for (size_t c = 0; c < C; c++)
        for (size_t a = 0; a < 2; a++)
            for (size_t i = 1 - a; 2 * i + a - 1 < H; i++) {
                float *q = planes + (2 * c + a) * 2 * L + i * S;
                split_row(q + L, q + 1, x + (c * H + 2 * i + a - 1) * W, W);
            }
    for (size_t c = 0, k = 0; c < C; c++)
        for (size_t ki = 0; ki < 3; ki++)
            for (size_t kj = 0; kj < 3; kj++, k++)
                off[k] = (int32_t)(((2 * c + ki % 2) * 2 + kj % 2) * L + (ki / 2) * S + kj / 2);
    for (size_t q = 0; q < f.N / 32; q++)
        col_at[q] = (int32_t)(32 * q);
    sp_gemm_tiles_rows(prod, f.N, pk, planes, col_at, off, 32, 0, O, f.N, K);
    /* output row (o, r): the products' row r * S, its first Wo */
    if (bias || ep) {
        sp_conv_out_rows(y, prod, O, Ho, Wo, S, f.N, bias, ep, res);
        return;
    }
    for (size_t o = 0; o < O; o++)
        for (size_t r = 0; r < Ho; r++)
            memcpy(y + (o * Ho + r) * Wo, prod + o * f.N + r * S, sizeof(float) * Wo);
}

/* The im2col forward's GEMM, c = A . b, by register tiles of our own.
 *
 * Why: the layers that are not 3x3 stride 1 (a ResNet's 7x7 stem, its
 * stride-2 and 1x1 convolutions: 17% of ResNet-18's multiply-adds at
 * 128x128) went through OpenBLAS's sgemm, whose kernel is the one for the
 * core type OpenBLAS detects or is told (OPENBLAS_CORETYPE): 8 lanes where
 * the CPU runs 16 at full width (a Zen 5 told "Haswell" spent 28% of a
 * horse inference there).  These tiles take the width our other
 * convolution kernels take (sp_conv3x3_wide).
 *
 * Every output is the same chain of fused multiply-adds over k in order
 * from zero, whatever the tile: a tile only decides which outputs are
 * computed side by side.  So the 8-lane and 16-lane builds, and a plain
 * fmaf loop, give the same bits, and the choice between them (a timing,
 * sp_conv3x3_wide) never changes a result.
 *
 * Blocking: b's columns in panels of one tile's width (32 or 24), as many
 * as fit ~256 KB in a group, every 8-row block of A over the group's panels
 * in turn, so that A is read once a group (A is at most C*k*k*O floats:
 * 4.7 MB for ResNet-18's last stride-2 layer, whose columns are few).  A
 * panel is read in place unless its rows, a whole image's positions apart,
 * fall in few L1 sets (a ResNet stem's 16 KB apart: the tiles ran at 133
 * GFLOP/s a core there, 86 on that last layer); then the group's panels
 * are first copied into K contiguous rows each (153 and 173 GFLOP/s, of
 * ~200).  A copy where the rows spread over the sets only cost time (5%
 * of a gtsrb8 inference). */
#include "sp_gemm_tiles.h"

#include <immintrin.h>
#include <stdint.h>
#include <string.h>

#define MR SP_GEMM_TILES_MR
#define PANEL_FLOATS 65536 /* b's floats in one column panel (256 KB) */

void sp_gemm_tiles_pack(float *pk, const float *a, size_t M, size_t K)
{
    for (size_t blk = 0; blk < M / MR; blk++)
        for (size_t k = 0; k < K; k++)
            for (size_t r = 0; r < MR; r++)
                pk[(blk * K + k) * MR + r] = a[(blk * MR + r) * K + k];
}

/* The 8 x 32 tile's steps (16 lanes, 16 accumulators): one k's
 * multiply-adds, its 8 weights at pk, b's 32 values in x0, x1; the
 * outputs' stores. */
__attribute__((target("avx512f,avx512vl,fma"), always_inline)) static inline void fma8x32(__m512 acc[MR][2],
                                                                                        const float *pk,
                                                                                        __m512 x0, __m512 x1)
{
    _Pragma("GCC unroll 8") for (int r = 0; r < MR; r++)
    {
        const __m512 w = _mm512_set1_ps(pk[r]);
        acc[r][0] = _mm512_fmadd_ps(w, x0, acc[r][0]);
        acc[r][1] = _mm512_fmadd_ps(w, x1, acc[r][1]);
    }
}

__attribute__((target("avx512f,avx512vl,fma"), always_inline)) static inline void store8x32(float *c, size_t ldc,
                                                                                          __m512 acc[MR][2])
{
    _Pragma("GCC unroll 8") for (int r = 0; r < MR; r++)
    {
        _mm512_storeu_ps(c + (size_t)r * ldc, acc[r][0]);
        _mm512_storeu_ps(c + (size_t)r * ldc + 16, acc[r][1]);
    }
}

/* 8 rows x 32 columns, 16 lanes */
__attribute__((target("avx512f,avx512vl,fma"))) static void tile8x32(float *c, size_t ldc, const float *pk,
                                                                   const float *b, size_t ldb, size_t K)
{
    __m512 acc[MR][2];
    _Pragma("GCC unroll 8") for (int r = 0; r < MR; r++) acc[r][0] = acc[r][1] = _mm512_setzero_ps();
    for (size_t k = 0; k < K; k++, b += ldb, pk += MR)
        fma8x32(acc, pk, _mm512_loadu_ps(b), _mm512_loadu_ps(b + 16));
    store8x32(c, ldc, acc);
}

/* 8 rows x the first n <= 16 columns, 16 lanes: masked loads and stores
 * (the lanes past n read nothing and are not written) */
__attribute__((target("avx512f,avx512vl,fma"))) static void tile8x16(float *c, size_t ldc, const float *pk,
                                                                   const float *b, size_t ldb, size_t K,
                                                                   size_t n)
{
    const __mmask16 m = (__mmask16)((1u << n) - 1u);
    __m512 acc[MR];
    _Pragma("GCC unroll 8") for (int r = 0; r < MR; r++) acc[r] = _mm512_setzero_ps();
    for (size_t k = 0; k < K; k++, b += ldb, pk += MR) {
        const __m512 x = _mm512_maskz_loadu_ps(m, b);
        _Pragma("GCC unroll 8") for (int r = 0; r < MR; r++) acc[r] =
            _mm512_fmadd_ps(_mm512_set1_ps(pk[r]), x, acc[r]);
    }
    _Pragma("GCC unroll 8") for (int r = 0; r < MR; r++) _mm512_mask_storeu_ps(c + (size_t)r * ldc, m, acc[r]);
}

/* 4 rows (weights at pk, a row step of 8) x 24 columns, 8 lanes: 12
 * accumulators of AVX2's 16 registers */
__attribute__((target("avx2,fma"))) static void tile4x24(float *c, size_t ldc, const float *pk, const float *b,
                                                         size_t ldb, size_t K)
{
    __m256 acc[4][3];
    _Pragma("GCC unroll 4") for (int r = 0; r < 4; r++) acc[r][0] = acc[r][1] = acc[r][2] = _mm256_setzero_ps();
    for (size_t k = 0; k < K; k++, b += ldb, pk += MR) {
        const __m256 x0 = _mm256_loadu_ps(b), x1 = _mm256_loadu_ps(b + 8), x2 = _mm256_loadu_ps(b + 16);
        _Pragma("GCC unroll 4") for (int r = 0; r < 4; r++)
        {
            const __m256 w = _mm256_broadcast_ss(pk + r);
            acc[r][0] = _mm256_fmadd_ps(w, x0, acc[r][0]);
            acc[r][1] = _mm256_fmadd_ps(w, x1, acc[r][1]);
            acc[r][2] = _mm256_fmadd_ps(w, x2, acc[r][2]);
        }
    }
    _Pragma("GCC unroll 4") for (int r = 0; r < 4; r++) for (int v = 0; v < 3; v++)
        _mm256_storeu_ps(c + (size_t)r * ldc + 8 * (size_t)v, acc[r][v]);
}

/* 8 rows x the first n <= 8 columns, 8 lanes: AVX2's masked loads and
 * stores */
__attribute__((target("avx2,fma"))) static void tile8x8(float *c, size_t ldc, const float *pk, const float *b,
                                                        size_t ldb, size_t K, size_t n)
{
    const __m256i m = _mm256_cmpgt_epi32(_mm256_set1_epi32((int)n), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
    __m256 acc[MR];
    _Pragma("GCC unroll 8") for (int r = 0; r < MR; r++) acc[r] = _mm256_setzero_ps();
    for (size_t k = 0; k < K; k++, b += ldb, pk += MR) {
        const __m256 x = _mm256_maskload_ps(b, m);
        _Pragma("GCC unroll 8") for (int r = 0; r < MR; r++) acc[r] =
            _mm256_fmadd_ps(_mm256_broadcast_ss(pk + r), x, acc[r]);
    }
    _Pragma("GCC unroll 8") for (int r = 0; r < MR; r++) _mm256_maskstore_ps(c + (size_t)r * ldc, m, acc[r]);
}

/* columns [j, j + w) of b's K rows into bp, w a row */
static void pack_panel(float *bp, const float *b, size_t ldb, size_t K, size_t j, size_t w)
{
    for (size_t k = 0; k < K; k++)
        memcpy(bp + k * w, b + k * ldb + j, sizeof(float) * w);
}

/* one 8-row block of c over a panel of w <= pw columns at bp, rows ldp
 * apart */
static void block_panel(float *c, size_t ldc, const float *pk, const float *bp, size_t ldp, size_t K, size_t w,
                        size_t pw, int wide)
{
    if (w == pw) {
        if (wide)
            tile8x32(c, ldc, pk, bp, ldp, K);
        else {
            tile4x24(c, ldc, pk, bp, ldp, K);
            tile4x24(c + 4 * ldc, ldc, pk + 4, bp, ldp, K);
        }
        return;
    }
    for (size_t i = 0; i < w; i += wide ? 16 : 8) {
        const size_t n = w - i < (wide ? 16u : 8u) ? w - i : (wide ? 16u : 8u);
        if (wide)
            tile8x16(c + i, ldc, pk, bp + i, ldp, K, n);
        else
            tile8x8(c + i, ldc, pk, bp + i, ldp, K, n);
    }
}

/* Whether a panel read in place, its K rows ldb floats apart, stays in L1:
 * the rows fall in a few of its 64 sets (of 12 lines, 48 KB) when ldb is
 * near a multiple of 1 KB, and a tile keeps 2 lines of each row. */
static int in_place_fits(size_t ldb, size_t K)
{
    unsigned long long seen = 0;
    for (size_t k = 0; k < K && k < 64; k++)
        seen |= 1ull << ((k * ldb * sizeof(float) / 64) % 64);
    return (size_t)__builtin_popcountll(seen) * 12 >= 2 * K;
}

/* columns per panel: 32 with 16 lanes, 24 with 8 */
static size_t panel_width(int wide)
{
    return wide ? 32 : 24;
}

/* columns per group of panels: as many panels as fit PANEL_FLOATS, one at least */
static size_t group_columns(size_t K, size_t pw)
{
    size_t nc = K ? PANEL_FLOATS / K / pw * pw : pw;
    return nc < pw ? pw : nc;
}

size_t sp_gemm_tiles_ws_floats(size_t K)
{
    const size_t a = group_columns(K, panel_width(0)) * K, b = group_columns(K, panel_width(1)) * K;
    return a > b ? a : b;
}

void sp_gemm_tiles(float *c, size_t ldc, const float *pk, const float *b, size_t ldb, size_t M, size_t N,
                   size_t K, int wide, float *ws)
{
    const size_t pw = panel_width(wide), nc = group_columns(K, pw);
    const int in_place = in_place_fits(ldb, K);
    for (size_t j0 = 0; j0 < N; j0 += nc) {
        const size_t j1 = N - j0 < nc ? N : j0 + nc;
        if (!in_place) /* the group's panels, each K rows of its width */
            for (size_t j = j0; j < j1; j += pw)
                pack_panel(ws + (j - j0) * K, b, ldb, K, j, j1 - j < pw ? j1 - j : pw);
        for (size_t blk = 0; blk < M / MR; blk++)
            for (size_t j = j0; j < j1; j += pw) {
                const size_t w = j1 - j < pw ? j1 - j : pw;
                float *cb = c + blk * MR * ldc + j;
                const float *pb = pk + blk * K * MR;
                if (in_place)
                    block_panel(cb, ldc, pb, b + j, ldb, K, w, pw, wide);
                else
                    block_panel(cb, ldc, pb, ws + (j - j0) * K, w, K, w, pw, wide);
            }
    }
}

/* tile8x32 with b's row k at b + off[k]: 32 floats there (seg 32), 16
 * there and 16 at + step (seg 16), or 8 at each of + 0, step, 2 step, 3
 * step (seg 8); the same chain of multiply-adds for every output */
__attribute__((target("avx512f,avx512vl,fma"))) static void tile8x32_rows(float *c, size_t ldc, const float *pk,
                                                                        const float *b, const int32_t *off,
                                                                        size_t seg, size_t step, size_t K)
{
    __m512 acc[MR][2];
    _Pragma("GCC unroll 8") for (int r = 0; r < MR; r++) acc[r][0] = acc[r][1] = _mm512_setzero_ps();
    for (size_t k = 0; k < K; k++, pk += MR) {
        const float *bk = b + off[k];
        __m512 x0, x1;
        if (seg == 8) { /* two 8-float rows a vector */
            x0 = _mm512_castpd_ps(_mm512_insertf64x4(_mm512_castps_pd(_mm512_castps256_ps512(_mm256_loadu_ps(bk))),
                                                     _mm256_castps_pd(_mm256_loadu_ps(bk + step)), 1));
            x1 = _mm512_castpd_ps(
                _mm512_insertf64x4(_mm512_castps_pd(_mm512_castps256_ps512(_mm256_loadu_ps(bk + 2 * step))),
                                   _mm256_castps_pd(_mm256_loadu_ps(bk + 3 * step)), 1));
        } else {
            x0 = _mm512_loadu_ps(bk);
            x1 = _mm512_loadu_ps(bk + (seg == 16 ? step : 16));
        }
        fma8x32(acc, pk, x0, x1);
    }
    store8x32(c, ldc, acc);
}

void sp_gemm_tiles_rows(float *c, size_t ldc, const float *pk, const float *b, const int32_t *col_at,
                        const int32_t *off, size_t seg, size_t step, size_t M, size_t N, size_t K)
{
    /* a block of 32 columns at a time through every 8-row block of A: its
     * K rows of b (K x 128 bytes, spread over the caller's rows) stay in
     * the cache */
    for (size_t j = 0; j < N; j += 32)
        for (size_t blk = 0; blk < M / MR; blk++)
            tile8x32_rows(c + blk * MR * ldc + j, ldc, pk + blk * K * MR, b + col_at[j / 32], off, seg, step, K);
}

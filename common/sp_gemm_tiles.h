/* Internal to sp_conv.c: the im2col forward's GEMM by our own vector tiles
 * instead of sgemm, where the CPU has AVX2 and FMA.  See sp_gemm_tiles.c. */
#ifndef SP_GEMM_TILES_H
#define SP_GEMM_TILES_H

#include <stddef.h>
#include <stdint.h>

/* Rows per packed block of A: M must be a multiple of it. */
#define SP_GEMM_TILES_MR 8

/* pk [M/8][K][8] = a [M, K] (row-major) in blocks of 8 rows, k-major: the
 * tiles' broadcast order.  M * K floats. */
void sp_gemm_tiles_pack(float *pk, const float *a, size_t M, size_t K);

/* c [M, N] (row stride ldc) = A . b, A [M, K] packed by sp_gemm_tiles_pack,
 * b [K, N] (row stride ldb); M a multiple of 8, any N and K.  Each output is
 * the one chain of fused multiply-adds over k = 0, 1, ..., K-1 from zero,
 * whatever the tile, the lane width (wide: 16 lanes, AVX-512 F and VL;
 * else 8, AVX2 and FMA) or the blocking, so both widths give the same bits,
 * those of a scalar fmaf loop (tests/unit/test_gemm_tiles.c).  ws: a
 * workspace of sp_gemm_tiles_ws_floats(K) floats of the caller's thread. */
void sp_gemm_tiles(float *c, size_t ldc, const float *pk, const float *b, size_t ldb, size_t M, size_t N,
                   size_t K, int wide, float *ws);
/* Floats of the workspace ws of sp_gemm_tiles for K (b's columns packed
 * in panels: at most ~256 KB, or one panel of K rows). */
size_t sp_gemm_tiles_ws_floats(size_t K);

/* c [M, N] = A . B with 16 lanes (sp_conv3x3_wide) where B is not stored:
 * columns [32q, 32q + 32) of its row k start at b + col_at[q] + off[k],
 * in runs of seg floats step apart (seg 32: one run; 16: two; 8: four),
 * an implicit GEMM: a convolution reading its input in place.  N a
 * multiple of 32.  The same bits as sp_gemm_tiles on the same B. */
void sp_gemm_tiles_rows(float *c, size_t ldc, const float *pk, const float *b, const int32_t *col_at,
                        const int32_t *off, size_t seg, size_t step, size_t M, size_t N, size_t K);

#endif

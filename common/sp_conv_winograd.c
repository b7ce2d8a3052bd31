/* Winograd F(2x2, 3x3) and F(4x4, 3x3) convolution, 3x3 / stride 1 /
 * padding 1, one image at a time (AVX2 + FMA; maps of one F(4x4) tile: a
 * batch at a time, at the end of this file), for the forward pass of the
 * ResNets' 3x3 layers and their input gradient.
 *
 * Why: the direct tiles (sp_conv_direct.c) run near the FMA peak, so the
 * only way to go faster is less arithmetic.  F(m x m, 3x3) computes an m x m
 * output tile from an (m+2) x (m+2) input tile with (m+2)^2 multiplications
 * per (input, output) channel pair where the direct form needs 9 m^2: F(2x2)
 * 16 for 36 (2.25x fewer), F(4x4) 36 for 144 (4x), paid for by transforms
 * that grow with C and O, not C*O.
 *
 *   weights  U = G g G^T  ((m+2)^2 per output o, input c)
 *   input    V = B^T d B  ((m+2)^2 per input c, tile t)
 *   product  M[xi][o][t] = sum_c U[xi][o][c] V[xi][c][t]  (small GEMMs, xi = position)
 *   output   Y = A^T M A  (m x m per o, t)
 *   F(2x2): G = [1 0 0; .5 .5 .5; .5 -.5 .5; 0 0 1], B^T = [1 0 -1 0; 0 1 1 0;
 *           0 -1 1 0; 0 1 0 -1], A^T = [1 1 1 0; 0 1 -1 -1]
 *   F(4x4): the points 0, 1, -1, 2, -2 and infinity (BT6, AT6 and g6 below)
 *
 * Layout (below, "the flat layout"): the transforms work on 8 consecutive
 * tiles at once (one vector), the tiles of the whole image numbered row by
 * row as one arithmetic sequence in memory (F(4x4) on maps that allow it
 * computes only the images' tiles: compact_tiles); they go in chunks whose
 * transformed input V and products M stay in the core's L2.  The GEMMs are
 * tiles of MR output channels x NR tiles as in the direct kernel (broadcast
 * weights, vectors of tiles).  The result differs from the direct sum by
 * rounding only: F(2x2) ~1e-7 of sum |w x|, about half the direct tiles'
 * own error; F(4x4) ~1e-6 (larger coefficients, and weights such as 1/6 not
 * exact in binary), which is why training's forward keeps F(2x2)
 * (sp_conv_direct.c, sp_conv_winograd.h; test_winograd, convbench). */
#include "sp_conv_winograd.h"
#include "sp_conv_direct.h"
#include "sp_error.h"

#include <immintrin.h>
#include <omp.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define SLACK 64 /* floats past the last tile row that the 8-tile blocks read */
#define STACK 8  /* images in one tile sequence where that pays (SP_WINOGRAD_GROUPED) */
#define L2_WEIGHT_BYTES ((size_t)1 << 20) /* a layer's transformed weights past a core's L2 (1 MB on Zen 4 and 5) */
#define ROW4(tw) ((4 * (tw) + 31) / 32 * 32) /* F(4x4)'s padded row, whole blocks of 32 */

/* The flat layout.  With tile rows of TW = W/2 + 1 tiles (one more than
 * needed when W is even), the padded image's even rows (0, 2, ..) are
 * stored one after the other, each 2*TW wide, in E, and its odd rows in O.
 * Tile u = ti*TW + tj then reads its four input rows at E + 2u, O + 2u,
 * E + 2u + 2TW, O + 2u + 2TW (4 floats each): every tile of the image is
 * one arithmetic sequence, so 8 consecutive tiles are one vector even
 * across tile-row ends, and nothing is wasted on partial blocks.  The last
 * tile of a row reads 2 floats past its row end: the next row's first two,
 * i.e. the zero left border and a value x[.][0] where the padded image has
 * a zero.  That value only reaches the tile's second output column (in
 * Winograd's F(2,3) the first column uses input columns 0..2 alone, exactly:
 * B^T's last row feeds only A^T's second row), which is column 2TW - 1 >= W,
 * discarded.  The outputs go the same way to even and odd output rows. */
typedef struct {
    size_t m, np;      /* output tile side (2 or 4), transform positions ((m + 2)^2: 16 or 36) */
    size_t th, tw, t;  /* tile rows, tiles per row (W/m + 1), tiles */
    size_t rows;       /* floats of one input plane (F2: E or O; F4: one of 16 phase planes) */
    size_t orows;      /* floats of one output plane (F2: even or odd rows; F4: one row phase) */
    size_t mr, nr, tg; /* GEMM tile: output channels, tiles; tiles computed (t rounded up to nr) */
    size_t tc;         /* tiles computed as the per-image choices count them (tg before gemm_wide's preference) */
    size_t nt;         /* tiles per chunk: the chunk's V and M stay in the core's L2 */
    size_t vs, ms;     /* V's and M's stride between the positions xi */
    size_t or_;        /* output channels rounded up to mr */
    size_t G, P;       /* images stacked in one tile sequence; padded rows per image (G = 1: all rows) */
    size_t cw, hr;     /* F(4x4) compact: the images' tiles a row and tile rows an image (0: flat) */
    size_t ct;         /* the tiles the chunks compute: tg, or the compact count */
} wgeom;

static int tile_choice;      /* sp_conv3x3_winograd_set_tile: 0 per layer, or 2 / 4 */
static int compact_off;      /* sp_conv3x3_winograd_set_compact(0): the flat tiles everywhere */

static size_t round_up(size_t x, size_t k)
{
    return (x + k - 1) / k * k;
}

/* The stride between the positions xi of V and M for f floats each: np
 * streams a power-of-two multiple apart would share one L1 set (the
 * transforms read or write all of them at once); a whole number of KB
 * plus one cache line puts them in different sets. */
static size_t stride_floats(size_t f)
{
    return round_up(f, 256) + 16;
}

/* The GEMM's tile for g->t tiles: 4 outputs x 24 tiles unless 16 (or, among
 * the first ncand of the three, 8 tiles x 8 outputs, broadcast-bound)
 * saves 10% of the work; sets nr, mr and tg, the tiles computed. */
static void gemm_tile(wgeom *g, int ncand)
{
    static const size_t nrs[3] = {24, 16, 8}, mrs[3] = {4, 4, 8};
    size_t best = 0, best_t = round_up(g->t, 24);
    for (int k = 1; k < ncand; k++) {
        size_t r = round_up(g->t, nrs[k]);
        if (r * 10 < best_t * 9) {
            best_t = r;
            best = (size_t)k;
        }
    }
    g->nr = nrs[best];
    g->mr = mrs[best];
    g->tg = best_t;
}

void sp_conv3x3_winograd_set_tile(int m)
{
    tile_choice = m == 2 || m == 4 ? m : 0;
}

void sp_conv3x3_winograd_set_compact(int on)
{
    compact_off = !on;
}

/* F(4x4)'s compact tiles: the flat layout computes every tile of its tile
 * rows, TW = W/4 + 1 a row where W/4 hold the map (the last one only
 * serves the arithmetic sequence), and the tile rows between stacked
 * images: 72 tiles for a 32x32 map's 64, 45 for two 16x16 maps' 32.
 * Where the map's sides are multiples of 4 and its tiles a row a multiple
 * of 8 (one tile row is whole vectors) or 4 (a vector is two half rows),
 * the chunks take only the images' tiles, numbered k = row * cw + column
 * over the images' tile rows; vector k's 8 tiles then read and write the
 * flat places of tiles k and k + 4 (flat_of), which the planes keep.  Each
 * tile's transforms and sums are the flat layout's, so the same bits
 * (test_winograd).  One core of Zen 5, microseconds an image: horse's
 * 64-channel 32x32 layer 177-199 -> 149-164 (no 8-tile chunk left over
 * for the broadcast-bound 8x8 GEMM tile), its 128-channel 16x16 pairs
 * 193-215 -> 125-133, dsprites' 32 channels 32x32 60-63 -> 51-55 and 64
 * channels 16x16 62 -> 46-51; horse's inference step 431-439 -> 454-465
 * images/s (inferchain --step 5, alternating). */
static void compact_tiles(wgeom *g, const sp_conv2d_desc *d, int wide8)
{
    g->cw = g->hr = 0;
    g->ct = g->tg;
    const size_t cw = (size_t)d->w / 4, hr = (size_t)d->h / 4, ct = g->G * hr * cw;
    if (compact_off || g->m != 4 || d->h % 4 || d->w % 4 || (cw % 8 && cw != 4) || ct % 8)
        return;
    if (!wide8) { /* the 8-lane GEMM tiles: 4 outputs by 24 or 16 tiles, whole ones */
        if (g->mr != 4 || ct % 16)
            return;
        g->nr = ct % 24 == 0 ? 24 : 16;
    }
    g->cw = cw;
    g->hr = hr;
    g->ct = ct;
}

/* compact tile k's flat number ti * TW + tj */
static size_t flat_of(size_t k, const wgeom *g)
{
    const size_t r = k / g->cw, tj = k % g->cw;
    return ((r / g->hr) * (g->P / 4) + r % g->hr) * g->tw + tj;
}

/* Compact: the flat numbers of a chunk's tiles u0, u0 + 4, u0 + 8, ..
 * (n of them, a multiple of 8) into fl, once a chunk for the transforms'
 * every channel; flat: NULL (tile u is at u). */
#define FLAT_MAX 64 /* places of a chunk: nt <= 196608 / (36 * 32) tiles (16+ channels in and out) */
static const size_t *flat_places(size_t *fl, size_t u0, size_t n, const wgeom *g)
{
    if (!g->cw)
        return NULL;
    if (n / 4 > FLAT_MAX)
        sp_fatal("internal error: winograd: a chunk of %zu compact tiles", n);
    for (size_t j = 0; j < n / 4; j++)
        fl[j] = flat_of(u0 + 4 * j, g);
    return fl;
}

/* The flat places of the two half vectors (tiles u..u+3, u+4..u+7) of a
 * chunk starting at u0: from fl (flat_places), or u and u + 4 (flat). */
static inline void vector_places(size_t *ua, size_t *ub, const size_t *fl, size_t u, size_t u0)
{
    *ua = fl ? fl[(u - u0) / 4] : u;
    *ub = fl ? fl[(u - u0) / 4 + 1] : u + 4;
}

/* the tiles of a map of h x w for output tiles of m x m, and the GEMM's
 * tile (gemm_tile) */
static void wtiles(wgeom *g, const sp_conv2d_desc *d, size_t m, size_t G)
{
    g->m = m;
    g->np = (m + 2) * (m + 2);
    g->G = G;
    /* G images stacked: each P padded rows (a multiple of 4, so that every
     * image's outputs start a tile row; at least H + 1, so that the zero
     * row after an image is the one before the next) */
    g->P = ((size_t)d->h + 1 + m - 1) / m * m;
    g->th = ((G - 1) * g->P + (size_t)d->h + m - 1) / m;
    g->tw = (size_t)d->w / m + 1;
    g->t = g->th * g->tw;
    if (G == 1)
        g->P = (g->th + 2) * m; /* every plane row belongs to image 0 */
    gemm_tile(g, 3);
}

static wgeom wgeometry(const sp_conv2d_desc *d, int tile)
{
    if (tile_choice)
        tile = tile_choice;
    wgeom g, g4, gs;
    wtiles(&g, d, 2, 1);
    wtiles(&g4, d, 4, 1);
    /* F(4x4) where its products (36 a tile, the GEMM's rounding of the
     * tiles included, those of the broadcast-bound 8x8 GEMM tile counted
     * 1.25 times) are fewer than F(2x2)'s (16 a tile) by 15% or more.
     * convbench on Zen 4, one image: F(4x4) faster than F(2x2) on every
     * encoder layer with products 0.56-0.75x (2.8x the direct tiles at 64
     * channels 32x32, F(2x2) 1.8x; 1.56 against 1.48x at 32 channels 18x18),
     * slower on 9x9 and 7x7 maps (1.125x: 9 and 4 tiles of 4x4 leave much
     * of an 8-tile vector empty), which SP_WINOGRAD_GROUPED stacks */
    const size_t p2 = 16 * g.tg * (g.nr == 8 ? 5 : 4), p4 = 36 * g4.tg * (g4.nr == 8 ? 5 : 4);
    /* SP_WINOGRAD_GROUPED: where F(2x2) wins on one image (small maps),
     * F(4x4) over STACK images stacked in one tile sequence, when that
     * cuts the products as much (9x9: 9 tiles of 4x4 an image instead of
     * 16 computed, 7x7: 4 instead of 8) */
    if (tile == 4 || ((tile == 0 || tile == SP_WINOGRAD_GROUPED) && 100 * p4 < 85 * p2))
        g = g4;
    else if (tile == SP_WINOGRAD_GROUPED) {
        wtiles(&gs, d, 4, STACK);
        if (100 * 36 * gs.tg * (gs.nr == 8 ? 5 : 4) < 85 * STACK * p2)
            g = gs;
    }
    /* SP_WINOGRAD_GROUPED, F(4x4) on maps past 8x8 whose transformed
     * weights exceed a core's L2 and whose tiles an image are too few to
     * reuse them much: two images stacked, so that the weights stream from
     * L3 once for both (ResNet-18's layer 2 on 128x128 images: 128 channels
     * 16x16, 20 tiles an image, 2.4 MB of weights; its three layers ~15%
     * faster, horse's encoder ~3%; the same bits, as every stack).  Maps of
     * 8x8 and less keep their choice: sp_conv3x3_batched_pays weighs it. */
    if (tile == SP_WINOGRAD_GROUPED && g.m == 4 && g.G == 1 && d->h > 8 && d->w > 8 && g.t <= 32 &&
        g.np * (size_t)d->c * (size_t)d->o * sizeof(float) > L2_WEIGHT_BYTES) {
        wtiles(&gs, d, 4, 2);
        g = gs;
    }
    /* The 16-lane tiles (sp_conv3x3_wide) take 8 outputs x 32 tiles at a
     * time (gemm_wide), where pairs of 4-output blocks by 24 tiles run a
     * 16- and an 8-lane register a row (a quarter of the lanes idle): F(4x4)
     * in 8-output blocks wherever they compute no more tiles (64 channels
     * 32x32, 72 tiles: 244 -> 228 us an image; 16 channels 35x35, 81: 36 ->
     * 33 us).  The choices above (and sp_conv3x3_winograd_image_products)
     * keep the count they were made with, tc. */
    g.tc = g.tg;
    const int wide8 = g.m == 4 && sp_conv3x3_wide();
    if (wide8) {
        g.nr = 8;
        g.mr = 8;
        g.tg = round_up(g.t, 8);
    }
    if (g.m == 2)
        g.rows = (g.th + 1) * 2 * g.tw + SLACK;
    else
        g.rows = (g.th + 1) * g.tw + SLACK;
    g.orows = g.m == 2 ? g.rows : 4 * g.tg + 32;
    compact_tiles(&g, d, wide8);
    g.or_ = round_up((size_t)d->o, g.mr);
    /* V [np][C][nt] and M [np][or][nt] in ~768 KB of a Zen 4 core's 1 MB
     * L2 (a quarter of that measured the same) */
    g.nt = 196608 / (g.np * ((size_t)d->c + g.or_)) / g.nr * g.nr;
    if (g.nt < g.nr)
        g.nt = g.nr;
    if (wide8) /* whole calls of 32 tiles (past the budget if need be: 128 channels, 16 + 8 were 28% slower than 24) */
        g.nt = g.nt < 32 ? 32 : g.nt / 32 * 32;
    if (g.nt > g.ct)
        g.nt = g.ct;
    g.vs = stride_floats((size_t)d->c * g.nt);
    g.ms = stride_floats(g.or_ * g.nt);
    return g;
}

int sp_conv3x3_winograd_tile(const sp_conv2d_desc *d, int tile)
{
    return (int)wgeometry(d, tile).m;
}

int sp_conv3x3_winograd_compact(const sp_conv2d_desc *d, int tile)
{
    return wgeometry(d, tile).cw != 0;
}

int sp_conv3x3_winograd_ok(const sp_conv2d_desc *d)
{
    /* weights past the direct tiles' cache limit (ResNet-18's layers 3 and
     * 4) only on maps of 8x8 or more: at 256 channels 8x8, batch of 32, 9.4
     * ms against im2col + sgemm's 15.5; at 512 channels 4x4 (6 tiles for 4
     * outputs' worth) 19.5 against 15.1 */
    return sp_conv3x3_shape_ok(d) && d->c >= 16 && d->o >= 16 && d->h >= 5 && d->w >= 5 &&
           (sp_conv3x3_direct_ok(d) || (d->h >= 8 && d->w >= 8));
}

size_t sp_conv3x3_winograd_packed_floats(const sp_conv2d_desc *d, int tile)
{
    wgeom g = wgeometry(d, tile);
    return g.np * g.or_ * (size_t)d->c;
}

/* U = G w G^T of one 3x3 kernel w (rows: the vertical direction) into
 * q[xi*xs], xi = 4i + j */
static void transform_weight2(float *q, size_t xs, const float *w)
{
    float gw[4][3];
    for (int j = 0; j < 3; j++) { /* G w: rows of G times the columns of w */
        gw[0][j] = w[j];
        gw[1][j] = 0.5f * (w[j] + w[3 + j] + w[6 + j]);
        gw[2][j] = 0.5f * (w[j] - w[3 + j] + w[6 + j]);
        gw[3][j] = w[6 + j];
    }
    for (size_t i = 0; i < 4; i++) { /* (G w) G^T */
        float *r = q + 4 * i * xs;
        r[0] = gw[i][0];
        r[xs] = 0.5f * (gw[i][0] + gw[i][1] + gw[i][2]);
        r[2 * xs] = 0.5f * (gw[i][0] - gw[i][1] + gw[i][2]);
        r[3 * xs] = gw[i][2];
    }
}

/* F(4x4)'s U = G w G^T (G: the rows [1/4 0 0], [-1/6 -1/6 -1/6],
 * [-1/6 1/6 -1/6], [1/24 1/12 1/6], [1/24 -1/12 1/6], [0 0 1]) of 4
 * kernels at once (w[r]: output mr*b + r), one double lane each (1/6 and
 * 1/24 are not exact in binary: one rounding to float at the end;
 * products with the reciprocals, not divisions, which made packing
 * ResNet-18's 512-channel layers ~5% of an inference run); U[xi], xi =
 * 6i + j, of the 4 outputs are 4 consecutive floats (q[xi*xs + r]) */
__attribute__((target("avx2"))) static void transform_weight4_x4(float *q, size_t xs, const float w[4][9])
{
    const __m256d r4 = _mm256_set1_pd(0.25), r6 = _mm256_set1_pd(1.0 / 6), r12 = _mm256_set1_pd(1.0 / 12);
    const __m256d r24 = _mm256_set1_pd(1.0 / 24), sign = _mm256_set1_pd(-0.0);
#define G6(o, a, b, c)                                                                             \
    do {                                                                                           \
        o[0] = _mm256_mul_pd(a, r4);                                                               \
        o[1] = _mm256_mul_pd(_mm256_xor_pd(sign, _mm256_add_pd(_mm256_add_pd(a, b), c)), r6);      \
        o[2] = _mm256_mul_pd(_mm256_xor_pd(sign, _mm256_add_pd(_mm256_sub_pd(a, b), c)), r6);      \
        o[3] = _mm256_add_pd(_mm256_add_pd(_mm256_mul_pd(a, r24), _mm256_mul_pd(b, r12)), _mm256_mul_pd(c, r6)); \
        o[4] = _mm256_add_pd(_mm256_sub_pd(_mm256_mul_pd(a, r24), _mm256_mul_pd(b, r12)), _mm256_mul_pd(c, r6)); \
        o[5] = c;                                                                                  \
    } while (0)
    __m256d wk[9], gw[6][3], col[6], row[6];
    for (int k = 0; k < 9; k++)
        wk[k] = _mm256_set_pd(w[3][k], w[2][k], w[1][k], w[0][k]);
    for (int j = 0; j < 3; j++) {
        G6(col, wk[j], wk[3 + j], wk[6 + j]);
        for (int i = 0; i < 6; i++)
            gw[i][j] = col[i];
    }
    for (size_t i = 0; i < 6; i++) {
        G6(row, gw[i][0], gw[i][1], gw[i][2]);
        for (size_t j = 0; j < 6; j++)
            _mm_storeu_ps(q + (6 * i + j) * xs, _mm256_cvtpd_ps(row[j]));
    }
#undef G6
}

/* pk[((xi*nb + b)*C + c)*mr + r] = U[xi] of output mr*b + r, input c (0 past
 * O), written in that order: np sequential streams.  Training packs every
 * layer at every step (2% of a tetro step on one thread): the blocks of
 * outputs go to the threads (called from a parallel region, one thread).
 * flipped: weight is the [C][O][3][3] tensor of the convolution whose input
 * gradient d is, used transposed and rotated by 180 degrees, as the direct
 * tiles' pack does. */
/* U of every (o, c) into pk for GEMM tiles of mr output channels: block b
 * of channels b*mr .. b*mr + mr - 1 (zeros past O) at
 * pk[(xi * nb + b) * C * mr + c * mr + r] */
static void pack_tiles(float *pk, const float *weight, const sp_conv2d_desc *d, int flipped, size_t m, size_t mr)
{
    const size_t C = (size_t)d->c, O = (size_t)d->o, nb = (O + mr - 1) / mr, xs = nb * C * mr;
    const size_t np = (m + 2) * (m + 2);
    /* CB inputs at a time transformed into tmp, then each position's U of
     * the block written as one run of CB*mr floats (consecutive c, r):
     * 16 or 36 streams of single floats or quads were ~30-45% slower, and
     * training packs every layer at every step */
    enum { CB = 16 };
#pragma omp parallel for schedule(static) if (nb * C >= 256)
    for (size_t b = 0; b < nb; b++) {
        float tmp[36 * CB * 8];
        for (size_t c0 = 0; c0 < C; c0 += CB) {
            const size_t cb = C - c0 < CB ? C - c0 : CB, ts = cb * mr;
            for (size_t c = c0; c < c0 + cb; c++)
                for (size_t r = 0; r < mr; r += m == 4 ? 4 : 1) {
                    const size_t o = b * mr + r;
                    float *q = tmp + (c - c0) * mr + r;
                    if (m == 4) { /* 4 kernels at once (mr is 4 or 8), zeros past O */
                        float w[4][9];
                        for (size_t k = 0; k < 4; k++)
                            for (int t = 0; t < 9; t++)
                                w[k][t] = o + k >= O ? 0.0f
                                          : flipped  ? weight[(c * O + o + k) * 9 + (size_t)(8 - t)]
                                                     : weight[((o + k) * C + c) * 9 + (size_t)t];
                        transform_weight4_x4(q, ts, w);
                        continue;
                    }
                    float w[9];
                    for (int t = 0; t < 9; t++)
                        w[t] = o >= O ? 0.0f
                               : flipped ? weight[(c * O + o) * 9 + (size_t)(8 - t)]
                                         : weight[(o * C + c) * 9 + (size_t)t];
                    transform_weight2(q, ts, w);
                }
            for (size_t xi = 0; xi < np; xi++)
                memcpy(pk + xi * xs + (b * C + c0) * mr, tmp + xi * ts, sizeof(float) * ts);
        }
    }
}

void sp_conv3x3_winograd_pack(float *pk, const float *weight, const sp_conv2d_desc *d, int flipped, int tile)
{
    wgeom g = wgeometry(d, tile);
    pack_tiles(pk, weight, d, flipped, g.m, g.mr);
}

size_t sp_conv3x3_winograd_image_floats(const sp_conv2d_desc *d, int tile)
{
    wgeom g = wgeometry(d, tile);
    /* the input planes (F2: E and O; F4: 16 phases), the output planes (F2:
     * even and odd rows, F4: 4 row phases), V [np][C][nt], M [np][or][nt] */
    return (g.m == 2 ? 2 : 16) * (size_t)d->c * g.rows + g.m * (size_t)d->o * g.orows + g.np * (g.vs + g.ms);
}

/* n zeros at p, in whole vectors: up to 7 more floats, which the caller
 * writes later or leaves in the slack (the calls are short and many: a
 * memset call each cost more than the stores) */
__attribute__((target("avx2"))) static inline void zero_on(float *p, size_t n)
{
    for (size_t j = 0; j < n; j += 8) {
        _mm256_storeu_ps(p + j, _mm256_setzero_ps());
        __asm__("" : : "r"(p + j) : "memory"); /* or GCC makes the loop a memset call again */
    }
}

/* 8 floats of p at indices i0 .. i0 + 7, those outside [0, n) read as 0
 * (masked: nothing outside is touched) */
__attribute__((target("avx2"))) static inline __m256 load_within(const float *p, long i0, long n)
{
    const __m256i idx = _mm256_add_epi32(_mm256_set1_epi32((int)i0), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
    const __m256i in = _mm256_and_si256(_mm256_cmpgt_epi32(idx, _mm256_set1_epi32(-1)),
                                        _mm256_cmpgt_epi32(_mm256_set1_epi32((int)n), idx));
    return _mm256_maskload_ps(p + i0, in);
}

/* E (even padded rows) and O (odd) of each channel: eo + 2c*rows and eo +
 * (2c + 1)*rows; rows of 8 to 36 floats, so in vectors, not memcpy and
 * memset calls (the row's end by a masked load: zeros past W), each running
 * up to 7 floats into the plane's next row, written later, or its slack */
__attribute__((target("avx2"))) static void wpad(float *eo, const float *src, size_t C, int h, int w,
                                                 const wgeom *g)
{
    const size_t rw = 2 * g->tw, npad = 2 * g->th + 2; /* padded rows */
    for (size_t c = 0; c < C; c++) {
        const float *s = src + c * (size_t)h * (size_t)w;
        for (size_t p = 0; p < npad; p++) {
            float *row = eo + (2 * c + (p & 1)) * g->rows + (p / 2) * rw;
            if (p == 0 || p > (size_t)h) {
                zero_on(row, rw);
                continue;
            }
            const float *sr = s + (p - 1) * (size_t)w;
            row[0] = 0.0f;
            for (size_t j = 0; j + 1 < rw; j += 8)
                _mm256_storeu_ps(row + 1 + j, load_within(sr, (long)j, w));
        }
        for (size_t k = 0; k < 2; k++)
            zero_on(eo + (2 * c + k) * g->rows + (g->th + 1) * rw, SLACK);
    }
}

/* the even and odd floats of p[0..16) */
#define DEINTERLEAVE(p, even, odd)                                                                 \
    do {                                                                                           \
        __m256 a_ = _mm256_loadu_ps(p), b_ = _mm256_loadu_ps((p) + 8);                             \
        even = _mm256_castpd_ps(_mm256_permute4x64_pd(_mm256_castps_pd(_mm256_shuffle_ps(a_, b_, 0x88)), 0xd8)); \
        odd = _mm256_castpd_ps(_mm256_permute4x64_pd(_mm256_castps_pd(_mm256_shuffle_ps(a_, b_, 0xdd)), 0xd8)); \
    } while (0)

/* B^T of F(2x2) on four vectors: d0 - d2, d1 + d2, d2 - d1, d1 - d3 */
#define BT4(d0, d1, d2, d3, v0, v1, v2, v3)                                                        \
    do {                                                                                           \
        v0 = _mm256_sub_ps(d0, d2);                                                                \
        v1 = _mm256_add_ps(d1, d2);                                                                \
        v2 = _mm256_sub_ps(d2, d1);                                                                \
        v3 = _mm256_sub_ps(d1, d3);                                                                \
    } while (0)

/* A^T of F(2x2): m0 + m1 + m2, m1 - m2 - m3 */
#define AT4(m0, m1, m2, m3, y0, y1)                                                                \
    do {                                                                                           \
        y0 = _mm256_add_ps(_mm256_add_ps(m0, m1), m2);                                             \
        y1 = _mm256_sub_ps(_mm256_sub_ps(m1, m2), m3);                                             \
    } while (0)

/* one input row of 8 tiles times B: its 4 columns */
#define ROW_B(p, t0, t1, t2, t3)                                                                   \
    do {                                                                                           \
        __m256 d0_, d1_, d2_, d3_;                                                                 \
        DEINTERLEAVE(p, d0_, d1_);                                                                 \
        DEINTERLEAVE((p) + 2, d2_, d3_);                                                           \
        BT4(d0_, d1_, d2_, d3_, t0, t1, t2, t3);                                                   \
    } while (0)

/* V[xi][c][u - u0] for every channel and the chunk's tiles u0 <= u < u1, 8 at a time */
__attribute__((target("avx2,fma"))) static void input_transform(float *v, const float *eo, size_t C, size_t u0,
                                                                 size_t u1, const wgeom *g)
{
    const size_t vs = g->vs, rw = 2 * g->tw; /* a padded row */
    for (size_t c = 0; c < C; c++) {
        const float *e = eo + 2 * c * g->rows, *o = e + g->rows;
        float *vc = v + c * g->nt - u0;
        for (size_t u = u0; u < u1; u += 8) {
            __m256 a0, a1, a2, a3, b0, b1, b2, b3, c0, c1, c2, c3, d0, d1, d2, d3;
            ROW_B(e + 2 * u, a0, a1, a2, a3);
            ROW_B(o + 2 * u, b0, b1, b2, b3);
            ROW_B(e + 2 * u + rw, c0, c1, c2, c3);
            ROW_B(o + 2 * u + rw, d0, d1, d2, d3);
            float *out = vc + u; /* B^T (d B): rows */
            _mm256_storeu_ps(out, _mm256_sub_ps(a0, c0));
            _mm256_storeu_ps(out + vs, _mm256_sub_ps(a1, c1));
            _mm256_storeu_ps(out + 2 * vs, _mm256_sub_ps(a2, c2));
            _mm256_storeu_ps(out + 3 * vs, _mm256_sub_ps(a3, c3));
            _mm256_storeu_ps(out + 4 * vs, _mm256_add_ps(b0, c0));
            _mm256_storeu_ps(out + 5 * vs, _mm256_add_ps(b1, c1));
            _mm256_storeu_ps(out + 6 * vs, _mm256_add_ps(b2, c2));
            _mm256_storeu_ps(out + 7 * vs, _mm256_add_ps(b3, c3));
            _mm256_storeu_ps(out + 8 * vs, _mm256_sub_ps(c0, b0));
            _mm256_storeu_ps(out + 9 * vs, _mm256_sub_ps(c1, b1));
            _mm256_storeu_ps(out + 10 * vs, _mm256_sub_ps(c2, b2));
            _mm256_storeu_ps(out + 11 * vs, _mm256_sub_ps(c3, b3));
            _mm256_storeu_ps(out + 12 * vs, _mm256_sub_ps(b0, d0));
            _mm256_storeu_ps(out + 13 * vs, _mm256_sub_ps(b1, d1));
            _mm256_storeu_ps(out + 14 * vs, _mm256_sub_ps(b2, d2));
            _mm256_storeu_ps(out + 15 * vs, _mm256_sub_ps(b3, d3));
        }
    }
}
#undef ROW_B
#undef DEINTERLEAVE

/* F(4x4, 3x3)'s layout: the padded image in 16 phase planes per channel,
 * plane (rk, ck) holding padded[4i + rk][4j + ck] at i*TW + j (TW = W/4 + 1
 * tiles a row).  Tile u = ti*TW + tj then reads its 6x6 inputs at
 * plane (r % 4, k % 4) + u + (r / 4)*TW + k / 4: 36 plain loads of 8
 * consecutive tiles, across tile-row ends too, no shuffles.  The last tile
 * of a row reads its input columns 4 and 5 as the next tile row's first two
 * (the zero left border and x[.][0]); column 4TW of the padded image is a
 * zero too (4TW >= W + 1), and input column 5 reaches only the tile's
 * fourth output column (B^T's last row is the only one with d5, and A^T's
 * last row the only one with position 5), 4TW - 1 >= W, discarded. */
/* the groups of 4 floats of v0..v3 (32 consecutive floats) transposed: a,
 * b, c, e get floats 0, 1, 2, 3 mod 4 */
#define SPLIT4(v0_, v1_, v2_, v3_, a, b, c, e)                                                     \
    do {                                                                                           \
        __m256 w0_ = _mm256_permute2f128_ps(v0_, v2_, 0x20), w1_ = _mm256_permute2f128_ps(v0_, v2_, 0x31); \
        __m256 w2_ = _mm256_permute2f128_ps(v1_, v3_, 0x20), w3_ = _mm256_permute2f128_ps(v1_, v3_, 0x31); \
        __m256 t0_ = _mm256_unpacklo_ps(w0_, w1_), t1_ = _mm256_unpackhi_ps(w0_, w1_);             \
        __m256 t2_ = _mm256_unpacklo_ps(w2_, w3_), t3_ = _mm256_unpackhi_ps(w2_, w3_);             \
        a = _mm256_shuffle_ps(t0_, t2_, 0x44);                                                     \
        b = _mm256_shuffle_ps(t0_, t2_, 0xee);                                                     \
        c = _mm256_shuffle_ps(t1_, t3_, 0x44);                                                     \
        e = _mm256_shuffle_ps(t1_, t3_, 0xee);                                                     \
    } while (0)

/* The walk over F(4x4)'s padded rows that both paddings share: for each
 * channel, padded row p of the stack (row r of image img, counted along:
 * no divisions) at dst, its place in the phase planes; a row outside the
 * given images' rows is zeros, an image row (at sr) goes by the body; then the
 * zeros past the last row that the last 8-tile blocks read (at most tile
 * tg - 1 + 7 + TW + 1 of a plane).  Padded row p of the stack is row p %
 * P of image p / P (gi of the G images are given: the others are zeros). */
#define WPAD4_ROWS(q, src, C, h, W, gi, g, ...)                                                     \
    for (size_t c = 0; c < (C); c++) {                                                             \
        float *qc = (q) + 16 * c * (g)->rows;                                                      \
        for (size_t p = 0, img = 0, r = 0; p < 4 * ((g)->th + 1); p++, r = r + 1 == (g)->P ? (img++, 0) : r + 1) { \
            float *dst = qc + (p % 4) * 4 * (g)->rows + (p / 4) * (g)->tw;                         \
            if (img >= (gi) || r == 0 || r > (size_t)(h)) {                                        \
                for (size_t k = 0; k < 4; k++)                                                     \
                    zero_on(dst + k * (g)->rows, (g)->tw);                                         \
                continue;                                                                          \
            }                                                                                      \
            const float *sr = (src) + ((img * (C) + c) * (size_t)(h) + r - 1) * (W);               \
            __VA_ARGS__                                                                            \
        }                                                                                          \
        for (size_t k = 0; k < 16; k++)                                                            \
            zero_on(qc + k * (g)->rows + ((g)->th + 1) * (g)->tw, (g)->tg + 8 - (g)->t);           \
    }

__attribute__((target("avx2"))) static void wpad4(float *q, const float *src, size_t C, int h, int w,
                                                  size_t gi, const wgeom *g)
{
    const size_t rs = g->rows, rw = ROW4(g->tw), W = (size_t)w, full = W / 32;
    /* an image row split straight into the phases, 32 floats at a time: its
     * float k is padded column k + 1, so phases 1, 2, 3 get k = 0, 1, 2 mod
     * 4 at their block's place and phase 0 gets k = 3 mod 4 one place on
     * (its place 0 is the zero border); the blocks left (the row's end, the
     * zero border after it, zeros up to rw) are masked loads.  The last
     * block's stores run up to 7 floats into the plane's next row,
     * written later, or its slack: zeros. */
    WPAD4_ROWS(q, src, C, h, W, gi, g, {
        __m256 a, b, cc, e;
        dst[0] = 0.0f;
        for (size_t j = 0; j < full; j++) {
            const float *b32 = sr + 32 * j;
            SPLIT4(_mm256_loadu_ps(b32), _mm256_loadu_ps(b32 + 8), _mm256_loadu_ps(b32 + 16),
                   _mm256_loadu_ps(b32 + 24), a, b, cc, e);
            _mm256_storeu_ps(dst + rs + 8 * j, a);
            _mm256_storeu_ps(dst + 2 * rs + 8 * j, b);
            _mm256_storeu_ps(dst + 3 * rs + 8 * j, cc);
            _mm256_storeu_ps(dst + 8 * j + 1, e);
        }
        for (size_t k0 = 32 * full; k0 < rw; k0 += 32) { /* padded columns k0 .. k0 + 31 */
            const long i0 = (long)k0 - 1, n = (long)W;
            SPLIT4(load_within(sr, i0, n), load_within(sr, i0 + 8, n), load_within(sr, i0 + 16, n),
                   load_within(sr, i0 + 24, n), a, b, cc, e);
            _mm256_storeu_ps(dst + k0 / 4, a);
            _mm256_storeu_ps(dst + rs + k0 / 4, b);
            _mm256_storeu_ps(dst + 2 * rs + k0 / 4, cc);
            _mm256_storeu_ps(dst + 3 * rs + k0 / 4, e);
        }
    })
}
#undef SPLIT4

/* wpad4 16 lanes at a time (sp_conv3x3_wide), the same floats in the same
 * places: a block of 32 padded columns is two masked loads (the row from
 * one float before the block, so padded column k0 + i is lane i; lanes
 * outside the image row read as zeros, without touching memory) and two
 * permutes, each two phases' 8 floats.  The AVX2 form's masked loads
 * (vmaskmovps) and shuffles were a tenth of GTSRB-8's inference; its maps
 * of 7 to 28 columns never fill a block of 32, so every row took them. */
__attribute__((target("avx512f"), always_inline)) static inline __m256 high8(__m512 v)
{
    return _mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(v), 1));
}

/* one padded row of wpad4_wide: image row sr (W floats, read from sr - 1
 * with its lanes masked) into its 4 phase planes at dst (rs apart) */
typedef struct {
    __m512i p01, p23, p4;
    __mmask16 narrow;
    size_t rs, rw, W;
} wpad4_consts;

__attribute__((target("avx512f,avx512vl"))) static inline wpad4_consts wpad4_wide_consts(size_t W, const wgeom *g)
{
    wpad4_consts k;
    k.p01 = _mm512_setr_epi32(0, 4, 8, 12, 16, 20, 24, 28, 1, 5, 9, 13, 17, 21, 25, 29);
    k.p23 = _mm512_setr_epi32(2, 6, 10, 14, 18, 22, 26, 30, 3, 7, 11, 15, 19, 23, 27, 31);
    /* rows of up to 15 (GTSRB-8's 14x14 and 7x7 maps): 16 padded columns,
     * lanes 1 .. W of the row from one float before it; each phase's 4
     * places (TW <= 4) go with stores of 4, the last ones past the plane
     * row as the blocks of 32 do */
    k.p4 = _mm512_setr_epi32(0, 4, 8, 12, 1, 5, 9, 13, 2, 6, 10, 14, 3, 7, 11, 15);
    k.narrow = (__mmask16)(((1u << ((W + 1) & 31)) - 1u) & ~1u);
    k.rs = g->rows;
    k.rw = ROW4(g->tw);
    k.W = W;
    return k;
}

/* padded columns 0..15 of a row of up to 15 (lanes of v) into the 4 phase
 * planes at dst, 4 places each */
__attribute__((target("avx512f,avx512vl"), always_inline)) static inline void wpad4_put16(float *dst, __m512 v,
                                                                                          const wpad4_consts *k)
{
    const size_t rs = k->rs;
    v = _mm512_permutexvar_ps(k->p4, v);
    _mm_storeu_ps(dst, _mm512_castps512_ps128(v));
    _mm_storeu_ps(dst + rs, _mm512_extractf32x4_ps(v, 1));
    _mm_storeu_ps(dst + 2 * rs, _mm512_extractf32x4_ps(v, 2));
    _mm_storeu_ps(dst + 3 * rs, _mm512_extractf32x4_ps(v, 3));
}

/* a block of 32 padded columns (lanes of lo, then hi) into the 4 phase
 * planes at dst, 8 places each */
__attribute__((target("avx512f,avx512vl"), always_inline)) static inline void wpad4_put32(float *dst, __m512 lo,
                                                                                          __m512 hi,
                                                                                          const wpad4_consts *k)
{
    const size_t rs = k->rs;
    const __m512 a = _mm512_permutex2var_ps(lo, k->p01, hi), b = _mm512_permutex2var_ps(lo, k->p23, hi);
    _mm256_storeu_ps(dst, _mm512_castps512_ps256(a));
    _mm256_storeu_ps(dst + rs, high8(a));
    _mm256_storeu_ps(dst + 2 * rs, _mm512_castps512_ps256(b));
    _mm256_storeu_ps(dst + 3 * rs, high8(b));
}

__attribute__((target("avx512f,avx512vl"), always_inline)) static inline void wpad4_wide_row(float *dst,
                                                                                             const float *sr,
                                                                                             const wpad4_consts *k)
{
    const size_t W = k->W;
    if (W < 16) { /* the padded row in one vector: one load, one permute, 4 places a phase */
        wpad4_put16(dst, _mm512_maskz_loadu_ps(k->narrow, sr - 1), k);
        return;
    }
    for (size_t k0 = 0; k0 < k->rw; k0 += 32) { /* padded columns k0 .. k0 + 31: lanes 1 - k0 .. W - k0 */
        uint64_t in = W + 1 > k0 ? W + 1 - k0 : 0;
        in = in >= 32 ? 0xffffffffu : (1u << in) - 1u;
        if (k0 == 0)
            in &= ~(uint64_t)1;
        const float *at = sr + k0 - 1;
        wpad4_put32(dst + k0 / 4, _mm512_maskz_loadu_ps((__mmask16)in, at),
                    _mm512_maskz_loadu_ps((__mmask16)(in >> 16), at + 16), k);
    }
}

__attribute__((target("avx512f,avx512vl"))) static void wpad4_wide(float *q, const float *src, size_t C, int h,
                                                                    int w, size_t gi, const wgeom *g)
{
    const size_t W = (size_t)w;
    const wpad4_consts k = wpad4_wide_consts(W, g);
    WPAD4_ROWS(q, src, C, h, W, gi, g, { wpad4_wide_row(dst, sr, &k); })
}
#undef WPAD4_ROWS

/* B^T of F(4x4) on six vectors: 4d0 - 5d2 + d4, -4d1 - 4d2 + d3 + d4,
 * 4d1 - 4d2 - d3 + d4, -2d1 - d2 + 2d3 + d4, 2d1 - d2 - 2d3 + d4,
 * 4d1 - 5d3 + d5 */
#define BT6(d0, d1, d2, d3, d4, d5, v0, v1, v2, v3, v4, v5)                                        \
    do {                                                                                           \
        const __m256 four_ = _mm256_set1_ps(4.0f), five_ = _mm256_set1_ps(-5.0f), m4_ = _mm256_set1_ps(-4.0f); \
        __m256 a_ = _mm256_fmadd_ps(m4_, d2, d4), b_ = _mm256_fmadd_ps(m4_, d1, d3);              \
        __m256 c_ = _mm256_sub_ps(d4, d2), e_ = _mm256_sub_ps(d3, d1);                              \
        e_ = _mm256_add_ps(e_, e_);                                                                \
        v0 = _mm256_fmadd_ps(four_, d0, _mm256_fmadd_ps(five_, d2, d4));                           \
        v1 = _mm256_add_ps(a_, b_);                                                                \
        v2 = _mm256_sub_ps(a_, b_);                                                                \
        v3 = _mm256_add_ps(c_, e_);                                                                \
        v4 = _mm256_sub_ps(c_, e_);                                                                \
        v5 = _mm256_fmadd_ps(four_, d1, _mm256_fmadd_ps(five_, d3, d5));                           \
    } while (0)

/* (B^T d) B of F(4x4): t holds B^T d (t[i][k] down input column k), each
 * row i then goes through B^T, into out + xi*vs, xi = 6i + j */
__attribute__((target("avx2,fma"), always_inline)) static inline void bt6_rows(float *out, size_t vs,
                                                                               __m256 t[6][6])
{
    _Pragma("GCC unroll 6") for (size_t i = 0; i < 6; i++)
    {
        __m256 w0, w1, w2, w3, w4, w5;
        BT6(t[i][0], t[i][1], t[i][2], t[i][3], t[i][4], t[i][5], w0, w1, w2, w3, w4, w5);
        _mm256_storeu_ps(out + (6 * i) * vs, w0);
        _mm256_storeu_ps(out + (6 * i + 1) * vs, w1);
        _mm256_storeu_ps(out + (6 * i + 2) * vs, w2);
        _mm256_storeu_ps(out + (6 * i + 3) * vs, w3);
        _mm256_storeu_ps(out + (6 * i + 4) * vs, w4);
        _mm256_storeu_ps(out + (6 * i + 5) * vs, w5);
    }
}

/* one vector of 8 tiles of input_transform4 into out: the planes' values
 * of tiles 0..3 at qa, of 4..7 at qb (SPLIT; else all 8 at qa) */
__attribute__((target("avx2,fma"), always_inline)) static inline void it4_vector(float *out, size_t vs,
                                                                                 const float *qa, const float *qb,
                                                                                 const size_t ro[6],
                                                                                 const size_t co[6], const int SPLIT)
{
    __m256 t[6][6]; /* t[i][k]: B^T down input column k */
    _Pragma("GCC unroll 6") for (size_t k = 0; k < 6; k++)
    {
        const float *ca = qa + co[k], *cb = qb + co[k];
        __m256 d[6];
        _Pragma("GCC unroll 6") for (size_t r = 0; r < 6; r++) d[r] =
            SPLIT ? _mm256_insertf128_ps(_mm256_castps128_ps256(_mm_loadu_ps(ca + ro[r])), _mm_loadu_ps(cb + ro[r]), 1)
                  : _mm256_loadu_ps(ca + ro[r]);
        BT6(d[0], d[1], d[2], d[3], d[4], d[5], t[0][k], t[1][k], t[2][k], t[3][k], t[4][k], t[5][k]);
    }
    bt6_rows(out, vs, t);
}

/* V[xi][c][u - u0] of F(4x4) for the chunk's tiles, 8 at a time (fl:
 * their flat places, flat_places; compact tiles 4 apart in the vector may
 * be a tile row apart in the planes) */
__attribute__((target("avx2,fma"))) static void input_transform4(float *v, const float *q, size_t C, size_t u0,
                                                                  size_t u1, const size_t *fl, const wgeom *g)
{
    const size_t vs = g->vs, rs = g->rows, tw = g->tw;
    /* input row r of a tile at + ro[r], column k at + co[k] */
    const size_t ro[6] = {0, 4 * rs, 8 * rs, 12 * rs, tw, 4 * rs + tw}, co[6] = {0, rs, 2 * rs, 3 * rs, 1, rs + 1};
    for (size_t c = 0; c < C; c++) {
        const float *qc = q + 16 * c * rs;
        float *vc = v + c * g->nt - u0;
        for (size_t u = u0; u < u1; u += 8) {
            size_t ua, ub;
            vector_places(&ua, &ub, fl, u, u0);
            if (ub == ua + 4)
                it4_vector(vc + u, vs, qc + ua, qc + ub, ro, co, 0);
            else
                it4_vector(vc + u, vs, qc + ua, qc + ub, ro, co, 1);
        }
    }
}

/* A^T of F(4x4) on six vectors: m0 + m1 + m2 + m3 + m4, m1 - m2 + 2(m3 - m4),
 * m1 + m2 + 4(m3 + m4), m1 - m2 + 8(m3 - m4) + m5 */
#define AT6(m0, m1, m2, m3, m4, m5, y0, y1, y2, y3)                                                \
    do {                                                                                           \
        __m256 a_ = _mm256_add_ps(m1, m2), b_ = _mm256_sub_ps(m1, m2);                              \
        __m256 c_ = _mm256_add_ps(m3, m4), e_ = _mm256_sub_ps(m3, m4);                              \
        y0 = _mm256_add_ps(_mm256_add_ps(m0, a_), c_);                                             \
        y1 = _mm256_fmadd_ps(_mm256_set1_ps(2.0f), e_, b_);                                        \
        y2 = _mm256_fmadd_ps(_mm256_set1_ps(4.0f), c_, a_);                                        \
        y3 = _mm256_add_ps(_mm256_fmadd_ps(_mm256_set1_ps(8.0f), e_, b_), m5);                     \
    } while (0)

/* A^T M A of F(4x4) for 8 tiles: M's positions at p + xi*ms, xi = 6i + j;
 * y[i][j]: output (i, j) */
__attribute__((target("avx2,fma"), always_inline)) static inline void at6_tile(__m256 y[4][4], const float *p,
                                                                               size_t ms)
{
    __m256 s[4][6]; /* A^T M: s[i][j] down position column j */
    _Pragma("GCC unroll 6") for (size_t j = 0; j < 6; j++)
    {
        __m256 q[6];
        _Pragma("GCC unroll 6") for (size_t i = 0; i < 6; i++) q[i] = _mm256_loadu_ps(p + (6 * i + j) * ms);
        AT6(q[0], q[1], q[2], q[3], q[4], q[5], s[0][j], s[1][j], s[2][j], s[3][j]);
    }
    _Pragma("GCC unroll 4") for (size_t i = 0; i < 4; i++) /* (A^T M) A */
        AT6(s[i][0], s[i][1], s[i][2], s[i][3], s[i][4], s[i][5], y[i][0], y[i][1], y[i][2], y[i][3]);
}

/* output plane o's 4 row phases y[0..3] (rows of 4*TW, tile u's columns at
 * 4u, its flat place): A^T M A of the chunk's tiles u0 <= u < u1, 8 at a
 * time (fl as input_transform4's) */
__attribute__((target("avx2,fma"))) static void output_transform4(float *y, size_t ors, const float *m, size_t o,
                                                                   size_t u0, size_t u1, const size_t *fl,
                                                                   const wgeom *g)
{
    const size_t ms = g->ms;
    const float *mo = m + o * g->nt - u0;
    for (size_t u = u0; u < u1; u += 8) {
        size_t ua, ub; /* tiles 0..3, 4..7 */
        vector_places(&ua, &ub, fl, u, u0);
        __m256 yt[4][4];
        at6_tile(yt, mo + u, ms);
        _Pragma("GCC unroll 4") for (size_t i = 0; i < 4; i++)
        { /* 4 columns x 8 tiles into 32 floats */
            const __m256 a = yt[i][0], b = yt[i][1], c = yt[i][2], e = yt[i][3];
            __m256 ab0 = _mm256_unpacklo_ps(a, b), ab1 = _mm256_unpackhi_ps(a, b);
            __m256 ce0 = _mm256_unpacklo_ps(c, e), ce1 = _mm256_unpackhi_ps(c, e);
            __m256 x0 = _mm256_shuffle_ps(ab0, ce0, 0x44), x1 = _mm256_shuffle_ps(ab0, ce0, 0xee);
            __m256 x2 = _mm256_shuffle_ps(ab1, ce1, 0x44), x3 = _mm256_shuffle_ps(ab1, ce1, 0xee);
            float *row = y + i * ors + 4 * ua, *rowb = y + i * ors + 4 * ub;
            _mm256_storeu_ps(row, _mm256_permute2f128_ps(x0, x1, 0x20));
            _mm256_storeu_ps(row + 8, _mm256_permute2f128_ps(x2, x3, 0x20));
            _mm256_storeu_ps(rowb, _mm256_permute2f128_ps(x0, x1, 0x31));
            _mm256_storeu_ps(rowb + 8, _mm256_permute2f128_ps(x2, x3, 0x31));
        }
    }
}

/* GEMM tiles: y[r*ldy + 0..NV*8) = sum_c pk[c*MR + r] * v[c*ldv + 0..NV*8) */
#define WTILE(name, MRR, NV)                                                                       \
    __attribute__((target("avx2,fma"))) static void name(float *y, size_t ldy, const float *v, size_t ldv, \
                                                         const float *pk, size_t cin)              \
    {                                                                                              \
        __m256 acc[MRR][NV];                                                                       \
        _Pragma("GCC unroll 8") for (int r = 0; r < MRR; r++)                                      \
            _Pragma("GCC unroll 4") for (int k = 0; k < NV; k++) acc[r][k] = _mm256_setzero_ps();  \
        for (size_t c = 0; c < cin; c++, v += ldv, pk += MRR) {                                    \
            __m256 x[NV];                                                                          \
            _Pragma("GCC unroll 4") for (int k = 0; k < NV; k++) x[k] = _mm256_loadu_ps(v + 8 * k); \
            _Pragma("GCC unroll 8") for (int r = 0; r < MRR; r++)                                  \
            {                                                                                      \
                __m256 w = _mm256_broadcast_ss(pk + r);                                            \
                _Pragma("GCC unroll 4") for (int k = 0; k < NV; k++) acc[r][k] =                   \
                    _mm256_fmadd_ps(w, x[k], acc[r][k]);                                           \
            }                                                                                      \
        }                                                                                          \
        _Pragma("GCC unroll 8") for (int r = 0; r < MRR; r++)                                      \
            _Pragma("GCC unroll 4") for (int k = 0; k < NV; k++)                                   \
                _mm256_storeu_ps(y + (size_t)r * ldy + 8 * (size_t)k, acc[r][k]);                  \
    }
WTILE(wtile4x24, 4, 3)
WTILE(wtile4x16, 4, 2)
WTILE(wtile8x8, 8, 1)
#undef WTILE

/* The same products 16 lanes at a time, where those pay (sp_conv3x3_wide:
 * Zen 5's full-width AVX-512, not Zen 4's two halves): 8 output rows (two
 * blocks of 4, or one of 8) x NT tiles, the weights of rows 4..7 at pk1
 * (rows 0..3 at pk0; one block of 8: pk1 = pk0 + 4, step 8).  Each output
 * is the same chain of fused multiply-adds over c as in the 8-lane tiles,
 * so the bits are theirs (tests/unit/test_winograd.c). */
#define WTILE_WIDE(name, NZ, NY)                                                                   \
    __attribute__((target("avx512f,avx512vl,fma"))) static void name(                              \
        float *y, size_t ldy, const float *v, size_t ldv, const float *pk0, const float *pk1, size_t step, size_t cin) \
    {                                                                                              \
        __m512 az[8][NZ > 0 ? NZ : 1];                                                             \
        __m256 ay[8];                                                                              \
        _Pragma("GCC unroll 8") for (int r = 0; r < 8; r++)                                        \
        {                                                                                          \
            _Pragma("GCC unroll 2") for (int k = 0; k < NZ; k++) az[r][k] = _mm512_setzero_ps();   \
            ay[r] = _mm256_setzero_ps();                                                           \
        }                                                                                          \
        for (size_t c = 0; c < cin; c++, v += ldv, pk0 += step, pk1 += step) {                     \
            __m512 xz[NZ > 0 ? NZ : 1];                                                            \
            _Pragma("GCC unroll 2") for (int k = 0; k < NZ; k++) xz[k] = _mm512_loadu_ps(v + 16 * k); \
            const __m256 xy = NY ? _mm256_loadu_ps(v + 16 * NZ) : _mm256_setzero_ps();             \
            _Pragma("GCC unroll 8") for (int r = 0; r < 8; r++)                                    \
            {                                                                                      \
                const __m512 w = _mm512_set1_ps(r < 4 ? pk0[r] : pk1[r - 4]);                      \
                _Pragma("GCC unroll 2") for (int k = 0; k < NZ; k++) az[r][k] =                    \
                    _mm512_fmadd_ps(w, xz[k], az[r][k]);                                           \
                if (NY)                                                                            \
                    ay[r] = _mm256_fmadd_ps(_mm512_castps512_ps256(w), xy, ay[r]);                 \
            }                                                                                      \
        }                                                                                          \
        _Pragma("GCC unroll 8") for (int r = 0; r < 8; r++)                                        \
        {                                                                                          \
            _Pragma("GCC unroll 2") for (int k = 0; k < NZ; k++)                                   \
                _mm512_storeu_ps(y + (size_t)r * ldy + 16 * (size_t)k, az[r][k]);                 \
            if (NY)                                                                                \
                _mm256_storeu_ps(y + (size_t)r * ldy + 16 * (size_t)NZ, ay[r]);                    \
        }                                                                                          \
    }
WTILE_WIDE(wtile8x24_wide, 1, 1)
WTILE_WIDE(wtile8x32_wide, 2, 0)
WTILE_WIDE(wtile8x16_wide, 1, 0)
#undef WTILE_WIDE

/* 16 output rows (two blocks of 8, at pk and pk + bs, step 8) x 16 tiles,
 * for chunks of 16 tiles (an image's 14x14 map): 16 accumulators where
 * 8 x 16 had 8, barely the multiply-adds' latency (32 channels 14x14: 19.3
 * -> 16.8 us an image); the same chains, the same bits */
__attribute__((target("avx512f,avx512vl,fma"))) static void wtile16x16_wide(float *y, size_t ldy, const float *v,
                                                                            size_t ldv, const float *pk,
                                                                            size_t bs, size_t cin)
{
    __m512 acc[16];
    _Pragma("GCC unroll 16") for (int r = 0; r < 16; r++) acc[r] = _mm512_setzero_ps();
    for (size_t c = 0; c < cin; c++, v += ldv, pk += 8) {
        const __m512 x = _mm512_loadu_ps(v);
        _Pragma("GCC unroll 16") for (int r = 0; r < 16; r++) acc[r] =
            _mm512_fmadd_ps(_mm512_set1_ps(pk[(size_t)(r / 8) * bs + (size_t)(r % 8)]), x, acc[r]);
    }
    _Pragma("GCC unroll 16") for (int r = 0; r < 16; r++) _mm512_storeu_ps(y + (size_t)r * ldy, acc[r]);
}

/* One block of mr output channels over tiles [0, n) with the 8-lane tiles. */
static void gemm_block(float *mo, const float *vx, const float *w, size_t C, size_t n, const wgeom *g)
{
    for (size_t t = 0; t < n; t += g->nr) {
        if (g->nr == 24)
            wtile4x24(mo + t, g->nt, vx + t, g->nt, w, C);
        else if (g->nr == 16)
            wtile4x16(mo + t, g->nt, vx + t, g->nt, w, C);
        else
            wtile8x8(mo + t, g->nt, vx + t, g->nt, w, C);
    }
}

/* Blocks b0 <= b < b1 of one position's GEMM with the 16-lane tiles: two
 * blocks of 4 outputs at once, or one of 8 over 16 tiles at once; a lone
 * last block of 4, or 8 tiles left, by the 8-lane tiles. */
static void gemm_wide(float *mx, const float *vx, const float *px, size_t C, size_t n, const wgeom *g, size_t b0,
                      size_t b1)
{
    const size_t nt = g->nt, mr = g->mr;
    for (size_t b = b0; b < b1;) {
        const float *w = px + b * C * mr;
        float *mo = mx + b * mr * nt;
        size_t t = 0;
        if (mr == 8 && n == 16 && b + 1 < b1) {
            wtile16x16_wide(mo, nt, vx, nt, w, C * 8, C);
            t = 16;
            b += 2;
        } else if (mr == 8) {
            /* 32 tiles a call where they go (16 accumulators: 8 left the
             * multiply-adds' latency barely covered), 24 for a last 24 */
            for (; t + 32 <= n; t += 32)
                wtile8x32_wide(mo + t, nt, vx + t, nt, w, w + 4, 8, C);
            if (t + 24 == n) {
                wtile8x24_wide(mo + t, nt, vx + t, nt, w, w + 4, 8, C);
                t += 24;
            }
            for (; t + 16 <= n; t += 16)
                wtile8x16_wide(mo + t, nt, vx + t, nt, w, w + 4, 8, C);
            b++;
        } else if (b + 1 < b1) {
            if (g->nr == 24)
                for (; t < n; t += 24)
                    wtile8x24_wide(mo + t, nt, vx + t, nt, w, w + C * 4, 4, C);
            else {
                for (; t + 32 <= n; t += 32)
                    wtile8x32_wide(mo + t, nt, vx + t, nt, w, w + C * 4, 4, C);
                for (; t < n; t += 16)
                    wtile8x16_wide(mo + t, nt, vx + t, nt, w, w + C * 4, 4, C);
            }
            b += 2;
        } else
            b++;
        if (t < n)
            gemm_block(mo + t, vx + t, w, C, n - t, g);
    }
}

/* M[xi][o][0..n) of a chunk of n tiles from its V, for the output
 * channels of blocks b0 <= b < b1 (of mr channels each) */
static void gemm(float *m, const float *v, const float *pk, size_t C, size_t n, const wgeom *g, size_t b0, size_t b1)
{
    const size_t nb = g->or_ / g->mr;
    const int wide = sp_conv3x3_wide();
    for (size_t xi = 0; xi < g->np; xi++) {
        float *mx = m + xi * g->ms;
        const float *vx = v + xi * g->vs, *px = pk + xi * nb * C * g->mr;
        if (wide)
            gemm_wide(mx, vx, px, C, n, g, b0, b1);
        else
            for (size_t b = b0; b < b1; b++)
                gemm_block(mx + b * g->mr * g->nt, vx, px + b * C * g->mr, C, n, g);
    }
}

/* output plane o's even rows ye and odd rows yo (2*TW wide): A^T M A of
 * the chunk's tiles u0 <= u < u1, 8 at a time */
__attribute__((target("avx2,fma"))) static void output_transform(float *ye, float *yo, const float *m, size_t o,
                                                                  size_t u0, size_t u1, const wgeom *g)
{
    const size_t ms = g->ms;
    const float *mo = m + o * g->nt - u0;
    for (size_t u = u0; u < u1; u += 8) {
        const float *p = mo + u;
#define COL(j, s0, s1)                                                                             \
    __m256 s0, s1;                                                                                 \
    do {                                                                                           \
        __m256 m0 = _mm256_loadu_ps(p + (size_t)(j)*ms), m1 = _mm256_loadu_ps(p + (size_t)(4 + (j)) * ms); \
        __m256 m2 = _mm256_loadu_ps(p + (size_t)(8 + (j)) * ms), m3 = _mm256_loadu_ps(p + (size_t)(12 + (j)) * ms); \
        AT4(m0, m1, m2, m3, s0, s1);                                                               \
    } while (0)
        COL(0, s00, s10); /* A^T M: rows */
        COL(1, s01, s11);
        COL(2, s02, s12);
        COL(3, s03, s13);
#undef COL
        __m256 y00, y01, y10, y11;
        AT4(s00, s01, s02, s03, y00, y01); /* (A^T M) A: columns */
        AT4(s10, s11, s12, s13, y10, y11);
        __m256 lo = _mm256_unpacklo_ps(y00, y01), hi = _mm256_unpackhi_ps(y00, y01);
        _mm256_storeu_ps(ye + 2 * u, _mm256_permute2f128_ps(lo, hi, 0x20));
        _mm256_storeu_ps(ye + 2 * u + 8, _mm256_permute2f128_ps(lo, hi, 0x31));
        lo = _mm256_unpacklo_ps(y10, y11);
        hi = _mm256_unpackhi_ps(y10, y11);
        _mm256_storeu_ps(yo + 2 * u, _mm256_permute2f128_ps(lo, hi, 0x20));
        _mm256_storeu_ps(yo + 2 * u + 8, _mm256_permute2f128_ps(lo, hi, 0x31));
    }
}

/* one vector of an output row: + bias, then (where bn: the layer has an
 * epilogue) its scale and shift, the residual ro (its lanes mk) and ReLU,
 * in sp_conv_out_row's order */
__attribute__((target("avx512f,avx512vl"), always_inline)) static inline __m512
epilogue_vec16(__m512 v, __m512 bo, int bn, __m512 sc, __m512 sh, const float *ro, __mmask16 mk, int relu)
{
    v = _mm512_add_ps(v, bo);
    if (bn) {
        v = _mm512_add_ps(_mm512_mul_ps(v, sc), sh);
        if (ro)
            v = _mm512_add_ps(v, _mm512_maskz_loadu_ps(mk, ro));
        if (relu)
            v = _mm512_max_ps(v, _mm512_setzero_ps());
    }
    return v;
}

/* What every output plane of one epilogue16 call shares: the map, the
 * source rows' layout, the row's vectors and their masks (for q, those its
 * blocks read: past W, zeros), q's phase-plane constants. */
typedef struct {
    size_t W, H, m, orows, rw, tw, nv, nb;
    __mmask16 mk[2 * SP_WINOGRAD_PADDED_W / 32 + 2];
    wpad4_consts k;
} ep16_geom;

/* image rows of one output plane from src (the plane's row phases; row r
 * of the stack is gr + r: phase (gr + r) % m): epilogue_vec16 on nv vectors
 * a row, to yo (Y) and / or the next convolution's padded planes at qo (Q).
 * Y, Q, EP, RES, RELU and NV (0: g->nv) are constants where the callers
 * (ep16_dispatch) inline it, so that each case is a loop without tests
 * and a narrow map's row one vector (the tests of a general loop, a row
 * of 7 or 14 floats, were most of the epilogue's time). */
__attribute__((target("avx512f,avx512vl"), always_inline)) static inline void
ep16_rows(float *yo, float *qo, const float *src, const float *ro, size_t gr, __m512 bo, __m512 sc, __m512 sh,
          const ep16_geom *g, const int Y, const int Q, const int EP, const int RES, const int RELU, const size_t NV)
{
    const size_t W = g->W, nv = NV ? NV : g->nv, m = g->m, nb = g->nb;
    const __m512i zero = _mm512_setzero_si512();
    size_t ph = gr % m;
    const float *s0 = src + gr / m * g->rw;
    __m512 v[2 * SP_WINOGRAD_PADDED_W / 32 + 2];
    for (size_t r = 0; r < g->H; r++) {
        const float *sr = s0 + ph * g->orows;
        for (size_t j = 0; j < nv; j++) {
            const __mmask16 mk = g->mk[j];
            const __m512 x = epilogue_vec16(_mm512_maskz_loadu_ps(mk, sr + 16 * j), bo, EP, sc, sh,
                                            RES ? ro + 16 * j : NULL, mk, RELU);
            if (Q) /* past the row: zeros */
                v[j] = _mm512_maskz_mov_ps(mk, x);
            if (Y && (NV || mk))
                _mm512_mask_storeu_ps(yo + 16 * j, mk, x);
        }
        if (Q) {
            const size_t p = gr + r + 1; /* padded row of the stack: image row r + 1 */
            float *dst = qo + (p % 4) * 4 * g->k.rs + (p / 4) * g->tw;
            if (W < 16) /* wpad4_wide's one-vector rows */
                wpad4_put16(dst, _mm512_castsi512_ps(_mm512_alignr_epi32(_mm512_castps_si512(v[0]), zero, 15)),
                            &g->k);
            else
                for (size_t c = 0; c < nb; c++) { /* padded columns 32c .. 32c + 31 */
                    const __m512i prev = c ? _mm512_castps_si512(v[2 * c - 1]) : zero;
                    const __m512i lo = _mm512_castps_si512(v[2 * c]), hi = _mm512_castps_si512(v[2 * c + 1]);
                    wpad4_put32(dst + 8 * c, _mm512_castsi512_ps(_mm512_alignr_epi32(lo, prev, 15)),
                                _mm512_castsi512_ps(_mm512_alignr_epi32(hi, lo, 15)), &g->k);
                }
        }
        if (RES)
            ro += W;
        if (Y)
            yo += W;
        if (++ph == m) {
            ph = 0;
            s0 += g->rw;
        }
    }
}

/* ep16_rows with the case's constants, a narrow map's rows (one vector)
 * apart */
#define EP16_CASE(Y, Q, EP, RES, RELU)                                                             \
    do {                                                                                           \
        if (g->W < 16)                                                                             \
            ep16_rows(yo, qo, src, ro, gr, bo, sc, sh, g, Y, Q, EP, RES, RELU, 1);                 \
        else                                                                                       \
            ep16_rows(yo, qo, src, ro, gr, bo, sc, sh, g, Y, Q, EP, RES, RELU, 0);                 \
    } while (0)
__attribute__((target("avx512f,avx512vl"))) static void ep16_dispatch(float *yo, float *qo, const float *src,
                                                                       const float *ro, size_t gr, __m512 bo,
                                                                       __m512 sc, __m512 sh, const ep16_geom *g,
                                                                       int ep, int relu)
{
    const int y = yo != NULL, q = qo != NULL, res = ro != NULL;
    if (!ep) { /* the bias alone */
        if (y && q)
            EP16_CASE(1, 1, 0, 0, 0);
        else if (q)
            EP16_CASE(0, 1, 0, 0, 0);
        else
            EP16_CASE(1, 0, 0, 0, 0);
        return;
    }
    switch ((y ? 8 : 0) | (q ? 4 : 0) | (res ? 2 : 0) | (relu ? 1 : 0)) {
    case 15: EP16_CASE(1, 1, 1, 1, 1); break;
    case 14: EP16_CASE(1, 1, 1, 1, 0); break;
    case 13: EP16_CASE(1, 1, 1, 0, 1); break;
    case 12: EP16_CASE(1, 1, 1, 0, 0); break;
    case 11: EP16_CASE(1, 0, 1, 1, 1); break;
    case 10: EP16_CASE(1, 0, 1, 1, 0); break;
    case 9: EP16_CASE(1, 0, 1, 0, 1); break;
    case 8: EP16_CASE(1, 0, 1, 0, 0); break;
    case 7: EP16_CASE(0, 1, 1, 1, 1); break;
    case 6: EP16_CASE(0, 1, 1, 1, 0); break;
    case 5: EP16_CASE(0, 1, 1, 0, 1); break;
    case 4: EP16_CASE(0, 1, 1, 0, 0); break;
    default: break; /* neither y nor q: nothing asked */
    }
}
#undef EP16_CASE

/* epilogue's rows 16 lanes at a time, the last ones masked: sp_conv_out_row's
 * operations in the same order (no multiply-add is fused: -std=c11
 * contracts none; max(v, 0) is v > 0 ? v : 0, NaN and -0 included), so
 * the same bits.  Maps of 7 to 28 columns (the mini-ResNets') left most of
 * a row to the 8-lane loop's scalar tail; an output plane's constants are
 * set once and its rows' places counted along.  Each row goes to y, where
 * y is given, and to q, where q is given: the next convolution's padded
 * input (sp_conv3x3_winograd_forward_images_padded), into the 4 phase
 * planes of padded row b * P + r + 1 as wpad4_wide would put it there from
 * y (padded column k is the row's k - 1: each 16 lanes are the row's
 * vectors moved up one lane, the border and the columns past the row
 * zeros), so the same floats in the same places without the row's trip
 * through memory.  That convolution has this one's geometry (same
 * channels, map and images): its rows outside the images, and the
 * trailing zeros, are where this one's padding left them. */
__attribute__((target("avx512f,avx512vl"))) static void epilogue16(float *y, float *q, const float *yeo,
                                                                    const float *bias, const sp_conv2d_desc *d,
                                                                    const sp_conv2d_epilogue *ep, const float *res,
                                                                    size_t gi, const wgeom *wg)
{
    ep16_geom g;
    g.W = (size_t)d->w;
    g.H = (size_t)d->h;
    g.m = wg->m;
    g.orows = wg->orows;
    g.rw = wg->m * wg->tw;
    g.tw = wg->tw;
    g.k = wpad4_wide_consts(g.W, wg);
    g.nb = g.k.rw / 32; /* q's blocks of 32 padded columns */
    g.nv = !q ? (g.W + 15) / 16 : g.W < 16 ? 1 : 2 * g.nb;
    for (size_t j = 0; j < g.nv; j++) {
        const size_t left = g.W > 16 * j ? g.W - 16 * j : 0;
        g.mk[j] = left >= 16 ? (__mmask16)0xffff : (__mmask16)((1u << left) - 1u);
    }
    const size_t hw = g.H * g.W, ys = (size_t)d->o * hw;
    for (size_t b = 0; b < gi; b++)
        for (size_t o = 0; o < (size_t)d->o; o++) {
            const __m512 bo = _mm512_set1_ps(bias ? bias[o] : 0.0f);
            const __m512 sc = _mm512_set1_ps(ep ? ep->scale[o] : 1.0f), sh = _mm512_set1_ps(ep ? ep->shift[o] : 0.0f);
            ep16_dispatch(y ? y + b * ys + o * hw : NULL, q ? q + 16 * o * g.k.rs : NULL, yeo + g.m * o * g.orows,
                          res && ep ? res + b * ys + o * hw : NULL, b * wg->P, bo, sc, sh, &g, ep != NULL,
                          ep && ep->relu);
        }
}

/* y [O,H,W] from the output planes' row phases: bias, then ep with res,
 * row by row by sp_conv_out_row (AVX2 without FMA: the bits of the plain
 * build) or, wide (the 16-lane tiles' choice, so that conv_paths.sh
 * compares both), by epilogue16: the same bits */
__attribute__((target("avx2"))) static void epilogue(float *y, const float *yeo, const float *bias,
                                                      const sp_conv2d_desc *d, const sp_conv2d_epilogue *ep,
                                                      const float *res, size_t gi, const wgeom *g, int wide)
{
    const size_t hw = (size_t)d->h * (size_t)d->w, m = g->m, rw = m * g->tw, ys = (size_t)d->o * hw;
    if (wide) {
        epilogue16(y, NULL, yeo, bias, d, ep, res, gi, g);
        return;
    }
    for (size_t b = 0; b < gi; b++)
        for (size_t o = 0; o < (size_t)d->o; o++)
            for (size_t r = 0; r < (size_t)d->h; r++) {
                const size_t at = b * ys + o * hw + r * (size_t)d->w, gr = b * g->P + r; /* the stack's row */
                const float *src = yeo + (m * o + gr % m) * g->orows + (gr / m) * rw;
                const float bo = bias ? bias[o] : 0.0f, *ro = res ? res + at : NULL;
                sp_conv_out_row(y + at, src, (size_t)d->w, bo, ep, o, ro);
            }
}

int sp_conv3x3_winograd_padded_ok(const sp_conv2d_desc *d, int tile)
{
    return d->c == d->o && d->w <= SP_WINOGRAD_PADDED_W && wgeometry(d, tile).m == 4 && sp_conv3x3_wide();
}

void sp_conv3x3_winograd_forward_images_padded(float *y, const float *x, size_t gi, const float *pk,
                                               const float *bias, const sp_conv2d_desc *d, float *ws,
                                               const sp_conv2d_epilogue *ep, const float *res, int tile, int flags)
{
    wgeom g = wgeometry(d, tile);
    if (gi > g.G)
        sp_fatal("winograd: %zu images for a stack of %zu", gi, g.G);
    if (flags && !sp_conv3x3_winograd_padded_ok(d, tile))
        sp_fatal("internal error: winograd: a padded input or output where the layer has none");
    const size_t C = (size_t)d->c, O = (size_t)d->o, nin = g.m == 2 ? 2 : 16;
    float *eo = ws, *yeo = eo + nin * C * g.rows, *v = yeo + g.m * O * g.orows, *m = v + g.np * g.vs;
    if (flags & SP_WINOGRAD_IN_PADDED)
        ; /* eo holds it: the previous convolution's epilogue16 */
    else if (g.m == 2)
        wpad(eo, x, C, d->h, d->w, &g);
    else if (sp_conv3x3_wide())
        wpad4_wide(eo, x, C, d->h, d->w, gi, &g);
    else
        wpad4(eo, x, C, d->h, d->w, gi, &g);
    for (size_t u0 = 0; u0 < g.ct; u0 += g.nt) {
        /* compact: every computed tile is output; flat: those before t */
        size_t n = g.ct - u0 < g.nt ? g.ct - u0 : g.nt, u1 = g.cw || u0 + n < g.t ? u0 + n : g.t;
        size_t fl_buf[FLAT_MAX];
        const size_t *fl = flat_places(fl_buf, u0, n, &g);
        if (g.m == 2)
            input_transform(v, eo, C, u0, u0 + n, &g);
        else
            input_transform4(v, eo, C, u0, u0 + n, fl, &g);
        gemm(m, v, pk, C, n, &g, 0, g.or_ / g.mr);
        for (size_t o = 0; o < O; o++)
            if (g.m == 2)
                output_transform(yeo + 2 * o * g.orows, yeo + (2 * o + 1) * g.orows, m, o, u0, u1, &g);
            else
                output_transform4(yeo + 4 * o * g.orows, g.orows, m, o, u0, u1, fl, &g);
    }
    if (flags & SP_WINOGRAD_OUT_PADDED)
        epilogue16(flags & SP_WINOGRAD_OUT_KEEP ? y : NULL, eo, yeo, bias, d, ep, res, gi, &g);
    else
        epilogue(y, yeo, bias, d, ep, res, gi, &g, sp_conv3x3_wide());
}

void sp_conv3x3_winograd_forward_images(float *y, const float *x, size_t gi, const float *pk, const float *bias,
                                        const sp_conv2d_desc *d, float *ws, const sp_conv2d_epilogue *ep,
                                        const float *res, int tile)
{
    sp_conv3x3_winograd_forward_images_padded(y, x, gi, pk, bias, d, ws, ep, res, tile, 0);
}

void sp_conv3x3_winograd_forward_image(float *y, const float *x, const float *pk, const float *bias,
                                       const sp_conv2d_desc *d, float *ws, const sp_conv2d_epilogue *ep,
                                       const float *res, int tile)
{
    sp_conv3x3_winograd_forward_images(y, x, 1, pk, bias, d, ws, ep, res, tile);
}

size_t sp_conv3x3_winograd_group(const sp_conv2d_desc *d, int tile)
{
    return wgeometry(d, tile).G;
}

/* Maps of 4x4 and less (ResNet-18's layer 4 on 128x128 images: 512
 * channels, 19% of its multiply-adds), a batch at once.  In the flat
 * layout such a map costs 4-6 tiles for 1 tile's outputs, and im2col +
 * sgemm streams the 9.4 MB of weights once per group of images.  Here the
 * batch's tiles are numbered image by image: F(4x4) makes each image one
 * tile (36 products per channel pair instead of 144: the inference and
 * the input gradient), F(2x2) 2x2 tiles of an image (64 instead of 144:
 * training's forward, which keeps F(2x2)).  A tile's input window (zeros
 * outside the map) is gathered, 8 tiles to a vector, and transformed; the
 * GEMM goes position by position over a chunk of whole images' tiles, so
 * each transformed weight block streams once per chunk; then the output
 * transform writes the map and the epilogue runs over each image's
 * outputs.  The threads share the input transform by channels, then each
 * takes its own output channels through the GEMM, the output transform and
 * the epilogue. */
#define BATCHED_MR 4

int sp_conv3x3_winograd_batched_ok(const sp_conv2d_desc *d)
{
    return sp_conv3x3_shape_ok(d) && d->c >= 16 && d->o >= 16 && d->h <= 4 && d->w <= 4;
}

/* the tile a call gets: the forced one (sp_conv3x3_winograd_set_tile), or its own */
static size_t btile(int tile)
{
    return tile_choice ? (size_t)tile_choice : tile == 2 ? 2 : 4;
}

size_t sp_conv3x3_winograd_image_products(const sp_conv2d_desc *d, int tile)
{
    const wgeom g = wgeometry(d, tile);
    return g.np * g.tc / g.G;
}

size_t sp_conv3x3_winograd_batched_products(const sp_conv2d_desc *d, int tile)
{
    const size_t m = btile(tile);
    return (m + 2) * (m + 2) * (((size_t)d->h + m - 1) / m) * (((size_t)d->w + m - 1) / m);
}

/* n images with tile m: th x tw tiles an image (its tile rows and
 * columns), G = images per chunk (as many as keep V of one position of
 * a chunk near 128 KB, at least one), t = tiles of a chunk of G images,
 * the GEMM tile and nt, the chunk's tiles computed */
static wgeom bgeometry(const sp_conv2d_desc *d, size_t n, size_t m)
{
    wgeom g;
    memset(&g, 0, sizeof g);
    const size_t C = (size_t)d->c;
    g.m = m, g.np = (m + 2) * (m + 2);
    g.th = ((size_t)d->h + m - 1) / m, g.tw = ((size_t)d->w + m - 1) / m;
    const size_t tpi = g.th * g.tw, cap = 32768 / C;
    g.G = cap / tpi < 1 ? 1 : cap / tpi;
    if (g.G > n && n > 0)
        g.G = n;
    g.t = g.G * tpi;
    gemm_tile(&g, 2); /* 4 outputs (BATCHED_MR) x 24 or 16 tiles */
    g.nt = g.tg;
    g.or_ = round_up((size_t)d->o, g.mr);
    g.vs = stride_floats(C * g.nt);
    g.ms = stride_floats(g.or_ * g.nt);
    return g;
}

size_t sp_conv3x3_winograd_batched_packed_floats(const sp_conv2d_desc *d, int tile)
{
    const size_t m = btile(tile);
    return (m + 2) * (m + 2) * round_up((size_t)d->o, BATCHED_MR) * (size_t)d->c;
}

void sp_conv3x3_winograd_batched_pack(float *pk, const float *weight, const sp_conv2d_desc *d, int flipped, int tile)
{
    pack_tiles(pk, weight, d, flipped, btile(tile), BATCHED_MR);
}

size_t sp_conv3x3_winograd_batched_floats(const sp_conv2d_desc *d, int tile)
{
    const wgeom g = bgeometry(d, (size_t)-1, btile(tile)); /* the largest chunk */
    const size_t nt = round_up(g.t, 48); /* whichever GEMM tile a smaller batch gets */
    return g.np * (stride_floats((size_t)d->c * nt) + stride_floats(g.or_ * nt));
}

/* tile T of a chunk: its image (from the chunk's first) and tile row and column */
static inline void btile_at(size_t T, const wgeom *g, size_t *img, size_t *ti, size_t *tj)
{
    const size_t tpi = g->th * g->tw, r = T % tpi;
    *img = T / tpi;
    *ti = r / g->tw;
    *tj = r % g->tw;
}

/* output channel o of the chunk's nv tiles: A^T M A, 8 tiles at a time,
 * into y (the chunk's first image) */
__attribute__((target("avx2,fma"))) static void output_batched(float *y, const float *mm, size_t o, size_t nv,
                                                                const sp_conv2d_desc *d, const wgeom *g)
{
    const size_t h = (size_t)d->h, w = (size_t)d->w, hw = h * w, ys = (size_t)d->o * hw, ms = g->ms, m = g->m;
    const float *mo = mm + o * g->nt;
    for (size_t t = 0; t < nv; t += 8) {
        const float *p = mo + t;
        float out[16][8]; /* out[i*m + j][k]: output (i, j) of tile t + k */
        if (m == 4) {
            __m256 yt[4][4];
            at6_tile(yt, p, ms);
            for (size_t i = 0; i < 4; i++)
                for (size_t j = 0; j < 4; j++)
                    _mm256_storeu_ps(out[4 * i + j], yt[i][j]);
        } else {
            __m256 s[2][4];
            for (size_t j = 0; j < 4; j++)
                AT4(_mm256_loadu_ps(p + j * ms), _mm256_loadu_ps(p + (4 + j) * ms), _mm256_loadu_ps(p + (8 + j) * ms),
                    _mm256_loadu_ps(p + (12 + j) * ms), s[0][j], s[1][j]);
            for (size_t i = 0; i < 2; i++) {
                __m256 a, b;
                AT4(s[i][0], s[i][1], s[i][2], s[i][3], a, b);
                _mm256_storeu_ps(out[2 * i], a);
                _mm256_storeu_ps(out[2 * i + 1], b);
            }
        }
        for (size_t k = 0; k < 8 && t + k < nv; k++) {
            size_t img, ti, tj;
            btile_at(t + k, g, &img, &ti, &tj);
            float *yo = y + img * ys + o * hw;
            for (size_t i = 0; i < m && m * ti + i < h; i++)
                for (size_t j = 0; j < m && m * tj + j < w; j++)
                    yo[(m * ti + i) * w + m * tj + j] = out[i * m + j][k];
        }
    }
}

/* The chunk's tiles for the gathers (input_gather, output_full): tile t's
 * window corner (one row above and one column left of its first output)
 * as an offset from the chunk's first image, its row and column, and its
 * outputs' offset (output channel 0); a tile past nv gets a row no window
 * reaches, so that no lane of it loads.  Offsets are 32-bit: the batched
 * forward takes this path only for chunks of fewer than 2^31 floats. */
typedef struct {
    int32_t *in, *row, *col, *out;
} btab;

static void btab_fill(btab *b, size_t nv, size_t cnt, const sp_conv2d_desc *d, const wgeom *g)
{
    const size_t hw = (size_t)d->h * (size_t)d->w, xs = (size_t)d->c * hw, ys = (size_t)d->o * hw;
    const long long w = d->w, m = (long long)g->m;
    for (size_t t = 0; t < cnt; t++) {
        size_t img = 0, ti = 0, tj = 0;
        if (t < nv)
            btile_at(t, g, &img, &ti, &tj);
        const long long r = t < nv ? m * (long long)ti - 1 : -(1 << 20), c = m * (long long)tj - 1;
        b->row[t] = (int32_t)r;
        b->col[t] = (int32_t)c;
        b->in[t] = t < nv ? (int32_t)((long long)(img * xs) + r * w + c) : 0;
        b->out[t] = t < nv ? (int32_t)(img * ys + m * ti * (size_t)w + m * tj) : 0;
    }
}

/* lanes with lo <= x < hi, all ones */
__attribute__((target("avx2"))) static inline __m256i lanes_within(__m256i x, int lo, int hi)
{
    return _mm256_and_si256(_mm256_cmpgt_epi32(x, _mm256_set1_epi32(lo - 1)),
                            _mm256_cmpgt_epi32(_mm256_set1_epi32(hi), x));
}

/* V[xi][c][0..cnt) of the chunk's tiles (the first nv real, the rest
 * zeros) from images x (the chunk's first), 8 tiles at a time, each window
 * value by a masked gather (zeros outside the map and in the lanes past
 * the real tiles).  It was a scalar copy of every window with bounds tests
 * into a block, then the same transforms: the same bits, the gathers
 * 5-25% faster a layer on one core (Zen 5; the copy was 27% of a batch
 * of ResNet-18's 256-channel 8x8 layer) */
__attribute__((target("avx2,fma"))) static void input_gather(float *v, const float *x, size_t cnt, size_t c,
                                                              const btab *b, const sp_conv2d_desc *d,
                                                              const wgeom *g)
{
    const size_t hw = (size_t)d->h * (size_t)d->w, vs = g->vs, m = g->m;
    const int w = d->w;
    const float *xc = x + c * hw;
    float *vc = v + c * g->nt;
    const __m256 zero = _mm256_setzero_ps();
    for (size_t t = 0; t < cnt; t += 8) {
        const __m256i base = _mm256_loadu_si256((const __m256i *)(b->in + t));
        const __m256i r0 = _mm256_loadu_si256((const __m256i *)(b->row + t));
        const __m256i c0 = _mm256_loadu_si256((const __m256i *)(b->col + t));
        __m256i rm[6], cm[6];
        for (size_t a = 0; a < m + 2; a++) {
            rm[a] = lanes_within(_mm256_add_epi32(r0, _mm256_set1_epi32((int)a)), 0, d->h);
            cm[a] = lanes_within(_mm256_add_epi32(c0, _mm256_set1_epi32((int)a)), 0, w);
        }
#define GATHER(a, k)                                                                               \
    _mm256_mask_i32gather_ps(zero, xc, _mm256_add_epi32(base, _mm256_set1_epi32((int)(a) * w + (int)(k))), \
                             _mm256_castsi256_ps(_mm256_and_si256(rm[a], cm[k])), 4)
        float *out = vc + t;
        if (m == 4) {
            __m256 tt[6][6]; /* tt[i][k]: B^T down window column k */
            _Pragma("GCC unroll 6") for (size_t k = 0; k < 6; k++)
            {
                __m256 dd[6];
                _Pragma("GCC unroll 6") for (size_t a = 0; a < 6; a++) dd[a] = GATHER(a, k);
                BT6(dd[0], dd[1], dd[2], dd[3], dd[4], dd[5], tt[0][k], tt[1][k], tt[2][k], tt[3][k], tt[4][k],
                    tt[5][k]);
            }
            bt6_rows(out, vs, tt);
        } else {
            __m256 tt[4][4];
            _Pragma("GCC unroll 4") for (size_t k = 0; k < 4; k++)
                BT4(GATHER(0, k), GATHER(1, k), GATHER(2, k), GATHER(3, k), tt[0][k], tt[1][k], tt[2][k], tt[3][k]);
            for (size_t i = 0; i < 4; i++) {
                __m256 w0, w1, w2, w3;
                BT4(tt[i][0], tt[i][1], tt[i][2], tt[i][3], w0, w1, w2, w3);
                _mm256_storeu_ps(out + (4 * i) * vs, w0);
                _mm256_storeu_ps(out + (4 * i + 1) * vs, w1);
                _mm256_storeu_ps(out + (4 * i + 2) * vs, w2);
                _mm256_storeu_ps(out + (4 * i + 3) * vs, w3);
            }
        }
#undef GATHER
    }
}

/* output_batched for F(4x4) where every tile is whole (the map's sides
 * multiples of 4): each row of 8 tiles' outputs transposed into 4 floats a
 * tile and stored as such, where the scalar copy tested every output
 * against the map's edges (15% of that layer) */
__attribute__((target("avx2,fma"))) static void output_full(float *y, const float *mm, size_t o, size_t nv,
                                                             const btab *b, const sp_conv2d_desc *d, const wgeom *g)
{
    const size_t hw = (size_t)d->h * (size_t)d->w, w = (size_t)d->w;
    const float *mo = mm + o * g->nt;
    float *yo = y + o * hw;
    for (size_t t = 0; t < nv; t += 8) {
        __m256 yt[4][4];
        at6_tile(yt, mo + t, g->ms);
        const size_t nk = nv - t < 8 ? nv - t : 8;
        _Pragma("GCC unroll 4") for (size_t i = 0; i < 4; i++)
        { /* 4 columns x 8 tiles: tile k's 4 outputs of row i in quad k */
            const __m256 a = yt[i][0], bb = yt[i][1], c = yt[i][2], e = yt[i][3];
            __m256 ab0 = _mm256_unpacklo_ps(a, bb), ab1 = _mm256_unpackhi_ps(a, bb);
            __m256 ce0 = _mm256_unpacklo_ps(c, e), ce1 = _mm256_unpackhi_ps(c, e);
            __m256 x0 = _mm256_shuffle_ps(ab0, ce0, 0x44), x1 = _mm256_shuffle_ps(ab0, ce0, 0xee);
            __m256 x2 = _mm256_shuffle_ps(ab1, ce1, 0x44), x3 = _mm256_shuffle_ps(ab1, ce1, 0xee);
            /* quads: tiles 0, 1 in x0, x1's low halves, 2, 3 in x2, x3's; 4..7 the high halves */
            __m128 q[8] = {_mm256_castps256_ps128(x0), _mm256_castps256_ps128(x1), _mm256_castps256_ps128(x2),
                           _mm256_castps256_ps128(x3), _mm256_extractf128_ps(x0, 1), _mm256_extractf128_ps(x1, 1),
                           _mm256_extractf128_ps(x2, 1), _mm256_extractf128_ps(x3, 1)};
            for (size_t k = 0; k < nk; k++)
                _mm_storeu_ps(yo + (size_t)b->out[t + k] + i * w, q[k]);
        }
    }
}

void sp_conv3x3_winograd_batched_forward(float *y, const float *x, size_t n, const float *pk, const float *bias,
                                         const sp_conv2d_desc *d, float *ws, const sp_conv2d_epilogue *ep, int tile)
{
    if (n == 0)
        return;
    const wgeom g = bgeometry(d, n, btile(tile));
    const size_t C = (size_t)d->c, O = (size_t)d->o, nb = g.or_ / g.mr, tpi = g.th * g.tw;
    const size_t hw = (size_t)d->h * (size_t)d->w, xs = C * hw, ys = O * hw;
    float *v = ws, *mm = ws + g.np * g.vs;
    /* the gathers' 32-bit offsets reach a whole chunk (bgeometry keeps a
     * chunk's input near 32768 floats a map position) */
    if (g.G * (xs > ys ? xs : ys) >= ((size_t)1 << 31))
        sp_fatal("internal error: batched Winograd: a chunk of %zu images of %zu floats", g.G, xs > ys ? xs : ys);
    const int full = g.m == 4 && d->h % 4 == 0 && d->w % 4 == 0;
    const size_t tmax = round_up(g.t, g.nr);
    /* the output channels in pairs of blocks (the wide tiles take two at
     * once), handed out a few pairs at a time: a thread whose CPU another
     * stage of a pipe shares for a while does fewer of them (shared out
     * equally in advance, the others idled at the barrier: horse's layers
     * 3 and 4); which thread computes a channel changes no bit of it */
    const size_t pairs = (nb + 1) / 2;
#pragma omp parallel
    {
        const size_t T = (size_t)omp_get_num_threads();
        const size_t nq = pairs < 4 * T ? pairs : 4 * T;
        int32_t *tab = sp_malloc(sizeof(int32_t) * 4 * tmax);
        btab bt = {tab, tab + tmax, tab + 2 * tmax, tab + 3 * tmax};
        for (size_t i0 = 0; i0 < n; i0 += g.G) {
            const size_t ni = n - i0 < g.G ? n - i0 : g.G, nv = ni * tpi, cnt = round_up(nv, g.nr);
            btab_fill(&bt, nv, cnt, d, &g); /* each thread its own: the loop below shares the channels out */
#pragma omp for schedule(static)
            for (size_t c = 0; c < C; c++)
                input_gather(v, x + i0 * xs, cnt, c, &bt, d, &g);
            /* (the loop's closing barrier: V is the next chunk's) */
#pragma omp for schedule(dynamic, 1)
            for (size_t q = 0; q < nq; q++) {
                const size_t p0 = pairs * q / nq, p1 = pairs * (q + 1) / nq;
                const size_t b0 = 2 * p0, b1 = 2 * p1 < nb ? 2 * p1 : nb;
                const size_t o1 = b1 * g.mr < O ? b1 * g.mr : O;
                gemm(mm, v, pk, C, cnt, &g, b0, b1);
                for (size_t o = b0 * g.mr; o < o1; o++) {
                    if (full)
                        output_full(y + i0 * ys, mm, o, nv, &bt, d, &g);
                    else
                        output_batched(y + i0 * ys, mm, o, nv, d, &g);
                    for (size_t i = i0; i < i0 + ni; i++) { /* bias, then the epilogue with its residual */
                        float *yo = y + i * ys + o * hw;
                        sp_conv_out_row(yo, yo, hw, bias ? bias[o] : 0.0f, ep, o,
                                        ep && ep->residual ? ep->residual + i * ys + o * hw : NULL);
                    }
                }
            }
        }
        free(tab);
    }
}
#undef BT4
#undef AT4
#undef BT6
#undef AT6

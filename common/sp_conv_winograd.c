/* Winograd F(2x2, 3x3) convolution, 3x3 / stride 1 / padding 1, one image
 * at a time (AVX2 + FMA), for the forward pass of the ResNets' 3x3 layers.
 *
 * Why: the direct tiles (sp_conv_direct.c) run near the FMA peak, so the
 * only way to go faster is less arithmetic.  F(2x2, 3x3) computes a 2x2
 * output tile from a 4x4 input tile with 16 multiplications per (input,
 * output) channel pair where the direct form needs 36: 2.25x fewer, paid for
 * by two cheap transforms (additions only) that grow with C and O, not C*O.
 *
 *   weights  U = G g G^T  (4x4 per output o, input c)    G = [1 0 0; .5 .5 .5; .5 -.5 .5; 0 0 1]
 *   input    V = B^T d B  (4x4 per input c, tile t)       B^T = [1 0 -1 0; 0 1 1 0; 0 -1 1 0; 0 1 0 -1]
 *   product  M[xi][o][t] = sum_c U[xi][o][c] V[xi][c][t]  (16 small GEMMs, xi = 4x4 position)
 *   output   Y = A^T M A  (2x2 per o, t)                  A^T = [1 1 1 0; 0 1 -1 -1]
 *
 * Layout (below, "the flat layout"): the transforms work on 8 consecutive
 * tiles at once (one vector), the tiles of the whole image numbered row by
 * row as one arithmetic sequence in memory; they go in chunks whose
 * transformed input V and products M stay in the core's L2.  The GEMMs are
 * tiles of MR output channels x NR tiles as in the direct kernel (broadcast
 * weights, vectors of tiles).  The result differs from the direct sum by
 * rounding only (the transforms' additions reorder it): ~1e-7 of sum |w x|,
 * about half the direct tiles' own error (test_winograd, convbench). */
#include "sp_conv_winograd.h"
#include "sp_conv_direct.h"

#include <immintrin.h>
#include <string.h>

#define SLACK 64 /* floats past the last tile row that the 8-tile blocks read */

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
    size_t th, tw, t;  /* tile rows, tiles per row (W/2 + 1), tiles */
    size_t rows;       /* floats of E (or O): (th + 1) rows of 2*tw, + slack */
    size_t mr, nr, tg; /* GEMM tile: output channels, tiles; tiles computed (t rounded up to nr) */
    size_t nt;         /* tiles per chunk: the chunk's V and M stay in the core's L2 */
    size_t vs, ms;     /* V's and M's stride between the 16 positions xi */
    size_t or_;        /* output channels rounded up to mr */
} wgeom;

static wgeom wgeometry(const sp_conv2d_desc *d)
{
    wgeom g;
    g.th = ((size_t)d->h + 1) / 2;
    g.tw = (size_t)d->w / 2 + 1;
    g.t = g.th * g.tw;
    g.rows = (g.th + 1) * 2 * g.tw + SLACK;
    /* the GEMM's tile: 4 outputs x 24 tiles unless 16 (or 8 tiles x 8
     * outputs, broadcast-bound) saves 10% of the work */
    static const size_t nrs[3] = {24, 16, 8}, mrs[3] = {4, 4, 8};
    size_t best = 0, best_t = (g.t + 23) / 24 * 24;
    for (int k = 1; k < 3; k++) {
        size_t r = (g.t + nrs[k] - 1) / nrs[k] * nrs[k];
        if (r * 10 < best_t * 9) {
            best_t = r;
            best = (size_t)k;
        }
    }
    g.nr = nrs[best];
    g.mr = mrs[best];
    g.tg = best_t;
    g.or_ = ((size_t)d->o + g.mr - 1) / g.mr * g.mr;
    /* V [16][C][nt] and M [16][or][nt] in ~768 KB of a Zen 4 core's 1 MB
     * L2 (a quarter of that measured the same) */
    g.nt = 12288 / ((size_t)d->c + g.or_) / g.nr * g.nr;
    if (g.nt < g.nr)
        g.nt = g.nr;
    if (g.nt > g.tg)
        g.nt = g.tg;
    /* 16 streams a power-of-two multiple apart would share one L1 set (the
     * transforms read or write all 16 at once): strides of a whole number of
     * KB plus one cache line put them in 16 different sets */
    g.vs = ((size_t)d->c * g.nt + 255) / 256 * 256 + 16;
    g.ms = (g.or_ * g.nt + 255) / 256 * 256 + 16;
    return g;
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

size_t sp_conv3x3_winograd_packed_floats(const sp_conv2d_desc *d)
{
    wgeom g = wgeometry(d);
    return 16 * g.or_ * (size_t)d->c;
}

/* pk[((xi*nb + b)*C + c)*mr + r] = U[xi] of output mr*b + r, input c (0 past
 * O), written in that order: 16 sequential streams.  Training packs every
 * layer at every step (2% of a tetro step on one thread): the blocks of
 * outputs go to the threads (called from a parallel region, one thread).
 * flipped: weight is the [C][O][3][3] tensor of the convolution whose input
 * gradient d is, used transposed and rotated by 180 degrees, as the direct
 * tiles' pack does. */
void sp_conv3x3_winograd_pack(float *pk, const float *weight, const sp_conv2d_desc *d, int flipped)
{
    wgeom g = wgeometry(d);
    const size_t C = (size_t)d->c, O = (size_t)d->o, nb = g.or_ / g.mr, xs = nb * C * g.mr;
#pragma omp parallel for schedule(static) if (nb * C >= 256)
    for (size_t b = 0; b < nb; b++)
        for (size_t c = 0; c < C; c++)
            for (size_t r = 0; r < g.mr; r++) {
                const size_t o = b * g.mr + r, at = (b * C + c) * g.mr + r;
                if (o >= O) {
                    for (size_t xi = 0; xi < 16; xi++)
                        pk[xi * xs + at] = 0.0f;
                    continue;
                }
                float w[9];
                for (int k = 0; k < 9; k++)
                    w[k] = flipped ? weight[(c * O + o) * 9 + (size_t)(8 - k)] : weight[(o * C + c) * 9 + (size_t)k];
                float gw[4][3];
                for (int j = 0; j < 3; j++) { /* G w: rows of G times the columns of w */
                    gw[0][j] = w[j];
                    gw[1][j] = 0.5f * (w[j] + w[3 + j] + w[6 + j]);
                    gw[2][j] = 0.5f * (w[j] - w[3 + j] + w[6 + j]);
                    gw[3][j] = w[6 + j];
                }
                for (size_t i = 0; i < 4; i++) { /* (G w) G^T */
                    float *q = pk + 4 * i * xs + at;
                    q[0] = gw[i][0];
                    q[xs] = 0.5f * (gw[i][0] + gw[i][1] + gw[i][2]);
                    q[2 * xs] = 0.5f * (gw[i][0] - gw[i][1] + gw[i][2]);
                    q[3 * xs] = gw[i][2];
                }
            }
}

size_t sp_conv3x3_winograd_image_floats(const sp_conv2d_desc *d)
{
    wgeom g = wgeometry(d);
    /* E and O per input and per output channel, V [16][C][nt], M [16][or][nt] */
    return 2 * ((size_t)d->c + (size_t)d->o) * g.rows + 16 * (g.vs + g.ms);
}

/* E (even padded rows) and O (odd) of each channel: eo + 2c*rows and eo + (2c + 1)*rows */
static void wpad(float *eo, const float *src, size_t C, int h, int w, const wgeom *g)
{
    const size_t rw = 2 * g->tw, npad = 2 * g->th + 2; /* padded rows */
    for (size_t c = 0; c < C; c++) {
        const float *s = src + c * (size_t)h * (size_t)w;
        for (size_t p = 0; p < npad; p++) {
            float *row = eo + (2 * c + (p & 1)) * g->rows + (p / 2) * rw;
            if (p == 0 || p > (size_t)h) {
                for (size_t j = 0; j < rw; j++)
                    row[j] = 0.0f;
                continue;
            }
            row[0] = 0.0f;
            memcpy(row + 1, s + (p - 1) * (size_t)w, sizeof(float) * (size_t)w);
            for (size_t j = (size_t)w + 1; j < rw; j++)
                row[j] = 0.0f;
        }
        for (size_t k = 0; k < 2; k++) {
            float *slack = eo + (2 * c + k) * g->rows + (g->th + 1) * rw;
            for (size_t j = 0; j < SLACK; j++)
                slack[j] = 0.0f;
        }
    }
}

/* the even and odd floats of p[0..16) */
#define DEINTERLEAVE(p, even, odd)                                                                 \
    do {                                                                                           \
        __m256 a_ = _mm256_loadu_ps(p), b_ = _mm256_loadu_ps((p) + 8);                             \
        even = _mm256_castpd_ps(_mm256_permute4x64_pd(_mm256_castps_pd(_mm256_shuffle_ps(a_, b_, 0x88)), 0xd8)); \
        odd = _mm256_castpd_ps(_mm256_permute4x64_pd(_mm256_castps_pd(_mm256_shuffle_ps(a_, b_, 0xdd)), 0xd8)); \
    } while (0)

/* one input row of 8 tiles times B: its 4 columns */
#define ROW_B(p, t0, t1, t2, t3)                                                                   \
    do {                                                                                           \
        __m256 d0_, d1_, d2_, d3_;                                                                 \
        DEINTERLEAVE(p, d0_, d1_);                                                                 \
        DEINTERLEAVE((p) + 2, d2_, d3_);                                                           \
        t0 = _mm256_sub_ps(d0_, d2_);                                                              \
        t1 = _mm256_add_ps(d1_, d2_);                                                              \
        t2 = _mm256_sub_ps(d2_, d1_);                                                              \
        t3 = _mm256_sub_ps(d1_, d3_);                                                              \
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

/* M[xi][o][0..n) of a chunk of n tiles from its V */
static void gemm(float *m, const float *v, const float *pk, size_t C, size_t n, const wgeom *g)
{
    const size_t nb = g->or_ / g->mr, vs = g->vs, ms = g->ms;
    for (size_t xi = 0; xi < 16; xi++)
        for (size_t b = 0; b < nb; b++) {
            const float *w = pk + (xi * nb + b) * C * g->mr;
            float *mo = m + xi * ms + b * g->mr * g->nt;
            const float *vx = v + xi * vs;
            for (size_t t = 0; t < n; t += g->nr) {
                if (g->nr == 24)
                    wtile4x24(mo + t, g->nt, vx + t, g->nt, w, C);
                else if (g->nr == 16)
                    wtile4x16(mo + t, g->nt, vx + t, g->nt, w, C);
                else
                    wtile8x8(mo + t, g->nt, vx + t, g->nt, w, C);
            }
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
        s0 = _mm256_add_ps(_mm256_add_ps(m0, m1), m2);                                             \
        s1 = _mm256_sub_ps(_mm256_sub_ps(m1, m2), m3);                                             \
    } while (0)
        COL(0, s00, s10); /* A^T M: rows */
        COL(1, s01, s11);
        COL(2, s02, s12);
        COL(3, s03, s13);
#undef COL
        __m256 y00 = _mm256_add_ps(_mm256_add_ps(s00, s01), s02); /* (A^T M) A: columns */
        __m256 y01 = _mm256_sub_ps(_mm256_sub_ps(s01, s02), s03);
        __m256 y10 = _mm256_add_ps(_mm256_add_ps(s10, s11), s12);
        __m256 y11 = _mm256_sub_ps(_mm256_sub_ps(s11, s12), s13);
        __m256 lo = _mm256_unpacklo_ps(y00, y01), hi = _mm256_unpackhi_ps(y00, y01);
        _mm256_storeu_ps(ye + 2 * u, _mm256_permute2f128_ps(lo, hi, 0x20));
        _mm256_storeu_ps(ye + 2 * u + 8, _mm256_permute2f128_ps(lo, hi, 0x31));
        lo = _mm256_unpacklo_ps(y10, y11);
        hi = _mm256_unpackhi_ps(y10, y11);
        _mm256_storeu_ps(yo + 2 * u, _mm256_permute2f128_ps(lo, hi, 0x20));
        _mm256_storeu_ps(yo + 2 * u + 8, _mm256_permute2f128_ps(lo, hi, 0x31));
    }
}

/* y [O,H,W] from the output planes' even and odd rows: bias, then ep with
 * res, by sp_conv_out_row (AVX2 without FMA: the bits of the plain build) */
__attribute__((target("avx2"))) static void epilogue(float *y, const float *yeo, const float *bias,
                                                      const sp_conv2d_desc *d, const sp_conv2d_epilogue *ep,
                                                      const float *res, const wgeom *g)
{
    const size_t hw = (size_t)d->h * (size_t)d->w, rw = 2 * g->tw;
    for (size_t o = 0; o < (size_t)d->o; o++)
        for (int r = 0; r < d->h; r++) {
            size_t at = o * hw + (size_t)r * (size_t)d->w;
            const float *src = yeo + (2 * o + (size_t)(r & 1)) * g->rows + (size_t)(r / 2) * rw;
            sp_conv_out_row(y + at, src, (size_t)d->w, bias ? bias[o] : 0.0f, ep, o, res ? res + at : NULL);
        }
}

void sp_conv3x3_winograd_forward_image(float *y, const float *x, const float *pk, const float *bias,
                                       const sp_conv2d_desc *d, float *ws, const sp_conv2d_epilogue *ep,
                                       const float *res)
{
    wgeom g = wgeometry(d);
    const size_t C = (size_t)d->c, O = (size_t)d->o;
    float *eo = ws, *yeo = eo + 2 * C * g.rows, *v = yeo + 2 * O * g.rows, *m = v + 16 * g.vs;
    wpad(eo, x, C, d->h, d->w, &g);
    for (size_t u0 = 0; u0 < g.tg; u0 += g.nt) {
        size_t n = g.tg - u0 < g.nt ? g.tg - u0 : g.nt, u1 = u0 + n < g.t ? u0 + n : g.t;
        input_transform(v, eo, C, u0, u0 + n, &g);
        gemm(m, v, pk, C, n, &g);
        for (size_t o = 0; o < O; o++)
            output_transform(yeo + 2 * o * g.rows, yeo + (2 * o + 1) * g.rows, m, o, u0, u1, &g);
    }
    epilogue(y, yeo, bias, d, ep, res, &g);
}

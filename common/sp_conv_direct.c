/* Direct 3x3 / stride 1 / padding 1 convolution with AVX2 + FMA (forward
 * tiles with AVX-512F where the CPU has it).
 *
 * Why: in the ResNets every convolution but two or three is of this kind,
 * with few channels (16..64) and many positions.  Through im2col + sgemm,
 * OpenBLAS spends as long packing the column matrix (which im2col has just
 * written) as multiplying it, and runs at ~40 GFLOP/s a core on a 16-row
 * GEMM; this kernel reads the padded image in place at 70-90 GFLOP/s.
 *
 * The "flat padded" trick: the image is copied into planes of (H+2) x (W+2)
 * with a zero border.  Output position (oh, ow) taken as q = oh*(W+2) + ow
 * reads input q + ki*(W+2) + kj for tap (ki, kj): contiguous in q across
 * row ends, so a tile of NR consecutive q is three unaligned vector loads
 * per tap.  The 2 columns per row where ow >= W are computed and discarded.
 *
 *   forward  yf[o][q] = sum_{c,ki,kj} w[o][c][ki][kj] * xp[c][q + ki*Wp + kj]
 *   input gradient: the same with the zero-padded dy as input and the kernel
 *            transposed and rotated by 180 degrees
 *   weight gradient dw[o][c][ki][kj] = sum_q dyp[o][q + Wp + 1] * xp[c][q + ki*Wp + kj]
 *            (dyp is dy zero-padded like xp, so the discarded columns count 0)
 *
 * A tile is MR = 4 output channels x NR = 24 positions: 12 accumulators,
 * 3 loads and 4 broadcasts per 12 FMAs.  Images are split across threads as
 * in sp_conv.c; each output value is one thread's sum in a fixed order, the
 * weight gradient is summed per thread and the partial sums are added in
 * thread order: deterministic for a given thread count.
 *
 * The forward and the input gradient of layers with 16 or more channels each
 * way go through Winograd instead (sp_conv_winograd.c, fewer
 * multiplications; SP_CONV_WINOGRAD=0 keeps these tiles, =2 or =4 forces one
 * Winograd tile): the entry points below dispatch, training's batched
 * forward with F(2x2, 3x3), the input gradient and the per-image inference
 * with the tile that pays per layer; the weight gradient is always these
 * tiles. */
#define _POSIX_C_SOURCE 200809L
#include "sp_conv_direct.h"
#include "sp_conv_winograd.h"
#include "sp_cpu.h"
#include "sp_gemm_tiles.h"
#include "sp_env.h"
#include "sp_error.h"
#include "sp_progress.h"

#include <immintrin.h>
#include <omp.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#define NR 24
#define MR 4
#define SLACK 64                   /* zero floats after every padded plane: tiles read past the last row */
/* C*O*9 floats (1 MB): above this (ResNet-18's layers 3 and 4 with their
 * 4x4..8x8 maps), im2col + sgemm over groups of images reuses the weights
 * better; measured on ResNet-18 at 128x128: 1 << 16 1.79 s, 1 << 18 1.51 s,
 * 1 << 20 1.55 s per training step of 32 images on one core. */
#define MAX_WEIGHTS ((size_t)1 << 18)

static int simd_ok, simd_wide; /* AVX2 + FMA; the AVX-512 forward tiles as well */
static int simd_vl;            /* AVX-512VL: 32 registers for the 256-bit tiles */
static int x16x2 = 1;           /* SP_CONV_TILE16X2=0: not the pair tile (tests prove both) */
static int winograd = 1;        /* SP_CONV_WINOGRAD=0: the forward by the direct tiles only */
/* Training's batched forward: Winograd F(2x2), whose rounding stays near
 * the direct sums'; F(4x4)'s (sp_conv_winograd.h) in the forward moved the
 * encoder stem's gradient in test_train's reference step by 2.8e-3 of its
 * largest value (F(2x2): 2e-5): its systematic error goes into the batch
 * norms' statistics and everything after.  The input gradient picks per
 * layer, as the per-image inference does: through F(4x4) that gradient
 * stayed at 1.9e-5, and training steps of dsprites and gtsrb8 ran 3-13%
 * faster (interleaved A/B). */
#define TRAIN_TILE 2
#define DX_TILE 0
static pthread_once_t simd_once = PTHREAD_ONCE_INIT;
static void simd_probe(void);
static int use_winograd(const sp_conv2d_desc *d);

int sp_conv3x3_shape_ok(const sp_conv2d_desc *d)
{
    pthread_once(&simd_once, simd_probe);
    return simd_ok && d->kh == 3 && d->kw == 3 && d->sh == 1 && d->sw == 1 && d->ph == 1 && d->pw == 1;
}

int sp_conv_gemm_tiles_ok(const sp_conv2d_desc *d)
{
    pthread_once(&simd_once, simd_probe);
    return simd_ok && d->o % SP_GEMM_TILES_MR == 0;
}

int sp_conv3x3_direct_ok(const sp_conv2d_desc *d)
{
    return sp_conv3x3_shape_ok(d) && (size_t)d->c * (size_t)d->o * 9 <= MAX_WEIGHTS;
}

int sp_conv3x3_forward_ok(const sp_conv2d_desc *d)
{
    return sp_conv3x3_direct_ok(d) || use_winograd(d);
}

typedef struct {
    size_t wp, plane, q, qr, q8; /* padded row, padded plane (+ slack), positions, rounded to nr and 8 */
    size_t nr;                   /* positions per tile: 24 or 16 (AVX2), 48 or 32 (AVX-512) */
    size_t or_, cr;              /* output / input channels rounded up to MR */
    size_t g;                    /* images padded together for the weight gradient */
} geom;

static geom geometry(const sp_conv2d_desc *d, int T)
{
    geom g;
    g.wp = (size_t)d->w + 2;
    g.plane = ((size_t)d->h + 2) * g.wp + SLACK;
    g.q = (size_t)d->h * g.wp;
    pthread_once(&simd_once, simd_probe);
    const size_t big = simd_wide ? 48 : 24, small = simd_wide ? 32 : 16;
    size_t qbig = (g.q + big - 1) / big * big, qsmall = (g.q + small - 1) / small * small;
    g.nr = qsmall * 20 < qbig * 19 ? small : big; /* the smaller tile when it saves 5% of the work */
    g.qr = g.nr == small ? qsmall : qbig;
    if (simd_wide && simd_vl && x16x2) { /* the 256-bit 16-position pair tile, again if it saves 5% */
        size_t q16 = (g.q + 15) / 16 * 16;
        if (q16 * 20 < g.qr * 19) {
            g.nr = 16;
            g.qr = q16;
        }
    }
    g.q8 = (g.q + 7) / 8 * 8;
    g.or_ = ((size_t)d->o + MR - 1) / MR * MR;
    g.cr = ((size_t)d->c + MR - 1) / MR * MR;
    /* enough images per group for ~4096 positions, at most 16 and what a thread gets */
    size_t per_thread = d->n > 0 ? ((size_t)d->n + (size_t)T - 1) / (size_t)T : 1;
    g.g = 4096 / g.q8;
    if (g.g > 16)
        g.g = 16;
    if (g.g > per_thread)
        g.g = per_thread;
    if (g.g < 1)
        g.g = 1;
    return g;
}

/* shared: packed forward weights (or * C * 9) + packed flipped weights (cr * O * 9) */
static size_t shared_floats(const sp_conv2d_desc *d, const geom *g)
{
    return g->or_ * (size_t)d->c * 9 + g->cr * (size_t)d->o * 9;
}

/* per thread: xp [g][C] planes, dyp [g][or] planes, yf [max(or, cr)][qr], dw partial [or][C][9] */
static size_t thread_floats(const sp_conv2d_desc *d, const geom *g)
{
    size_t out = g->or_ > g->cr ? g->or_ : g->cr;
    return g->g * ((size_t)d->c + g->or_) * g->plane + out * g->qr + g->or_ * (size_t)d->c * 9;
}

/* The input gradient's convolution: dy [O] -> dx [C], same map. */
static sp_conv2d_desc dx_desc(const sp_conv2d_desc *d)
{
    sp_conv2d_desc f = {1, d->o, d->h, d->w, d->c, 3, 3, 1, 1, 1, 1};
    return f;
}

/* Winograd's floats for d with tile: the transformed weights, then T
 * threads' scratch (0 where Winograd does not take d) */
static size_t winograd_floats(const sp_conv2d_desc *d, int T, int tile)
{
    if (!use_winograd(d))
        return 0;
    return sp_conv3x3_winograd_packed_floats(d, tile) + (size_t)T * sp_conv3x3_winograd_image_floats(d, tile);
}

size_t sp_conv3x3_workspace(const sp_conv2d_desc *d, int T)
{
    const size_t wino = winograd_floats(d, T, TRAIN_TILE);
    if (!sp_conv3x3_direct_ok(d)) /* weights too large for the direct tiles: Winograd's forward only */
        return wino;
    /* the backward: the direct tiles, and the input gradient's Winograd */
    const sp_conv2d_desc f = dx_desc(d);
    geom g = geometry(d, T);
    size_t direct = shared_floats(d, &g) + (size_t)T * thread_floats(d, &g) + winograd_floats(&f, T, DX_TILE);
    return wino > direct ? wino : direct;
}

/* planes [0, nplanes) of dst: src [nsrc, H, W] with a zero border, zero planes
 * after nsrc, zero slack; every float of the region is written. */
static void pad(float *dst, const float *src, size_t nsrc, size_t nplanes, int h, int w, const geom *g)
{
    for (size_t c = 0; c < nplanes; c++) {
        float *p = dst + c * g->plane;
        if (c >= nsrc) {
            memset(p, 0, sizeof(float) * g->plane);
            continue;
        }
        memset(p, 0, sizeof(float) * g->wp);
        const float *sc = src + c * (size_t)h * (size_t)w;
        for (int r = 0; r < h; r++) {
            float *row = p + (size_t)(r + 1) * g->wp;
            const float *sr = sc + (size_t)r * (size_t)w;
            row[0] = 0.0f;
            /* rows are short (7..64 floats): an inline loop beats a memcpy call */
#pragma omp simd
            for (int j = 0; j < w; j++)
                row[j + 1] = sr[j];
            row[w + 1] = 0.0f;
        }
        memset(p + (size_t)(h + 1) * g->wp, 0, sizeof(float) * (g->wp + SLACK));
    }
}

/* pk[((b*cin + c)*9 + k)*MR + r] = w_at(MR*b + r, c, k), 0 for rows >= nout, where
 * w_at is the weight [O][C][3][3] itself, or (flipped, for the input
 * gradient: nout = C, cin = O) transposed and rotated by 180 degrees. */
static void pack(float *pk, const float *w, int nout, int cin, int flipped, int C)
{
    int nb = (nout + MR - 1) / MR;
    for (int b = 0; b < nb; b++)
        for (int c = 0; c < cin; c++)
            for (int k = 0; k < 9; k++)
                for (int r = 0; r < MR; r++) {
                    int o = b * MR + r;
                    float v = 0.0f;
                    if (o < nout)
                        v = flipped ? w[((size_t)c * C + (size_t)o) * 9 + (size_t)(8 - k)]
                                    : w[((size_t)o * C + (size_t)c) * 9 + (size_t)k];
                    pk[(((size_t)b * cin + c) * 9 + k) * MR + r] = v;
                }
}

/* yf[r*ldy + 0..NR) = sum over cin channels and 9 taps of pk * x (see top). */
__attribute__((target("avx2,fma"))) static void fwd_tile(float *yf, size_t ldy, const float *x,
                                                          size_t plane, const float *pk, int cin,
                                                          size_t wp)
{
    __m256 a00 = _mm256_setzero_ps(), a01 = a00, a02 = a00, a10 = a00, a11 = a00, a12 = a00;
    __m256 a20 = a00, a21 = a00, a22 = a00, a30 = a00, a31 = a00, a32 = a00;
    for (int c = 0; c < cin; c++) {
        const float *xc = x + (size_t)c * plane;
        for (int ki = 0; ki < 3; ki++)
            for (int kj = 0; kj < 3; kj++, pk += MR) {
                const float *p = xc + (size_t)ki * wp + (size_t)kj;
                __m256 x0 = _mm256_loadu_ps(p), x1 = _mm256_loadu_ps(p + 8), x2 = _mm256_loadu_ps(p + 16);
                __m256 w = _mm256_broadcast_ss(pk);
                a00 = _mm256_fmadd_ps(w, x0, a00);
                a01 = _mm256_fmadd_ps(w, x1, a01);
                a02 = _mm256_fmadd_ps(w, x2, a02);
                w = _mm256_broadcast_ss(pk + 1);
                a10 = _mm256_fmadd_ps(w, x0, a10);
                a11 = _mm256_fmadd_ps(w, x1, a11);
                a12 = _mm256_fmadd_ps(w, x2, a12);
                w = _mm256_broadcast_ss(pk + 2);
                a20 = _mm256_fmadd_ps(w, x0, a20);
                a21 = _mm256_fmadd_ps(w, x1, a21);
                a22 = _mm256_fmadd_ps(w, x2, a22);
                w = _mm256_broadcast_ss(pk + 3);
                a30 = _mm256_fmadd_ps(w, x0, a30);
                a31 = _mm256_fmadd_ps(w, x1, a31);
                a32 = _mm256_fmadd_ps(w, x2, a32);
            }
    }
    _mm256_storeu_ps(yf, a00);
    _mm256_storeu_ps(yf + 8, a01);
    _mm256_storeu_ps(yf + 16, a02);
    yf += ldy;
    _mm256_storeu_ps(yf, a10);
    _mm256_storeu_ps(yf + 8, a11);
    _mm256_storeu_ps(yf + 16, a12);
    yf += ldy;
    _mm256_storeu_ps(yf, a20);
    _mm256_storeu_ps(yf + 8, a21);
    _mm256_storeu_ps(yf + 16, a22);
    yf += ldy;
    _mm256_storeu_ps(yf, a30);
    _mm256_storeu_ps(yf + 8, a31);
    _mm256_storeu_ps(yf + 16, a32);
}

/* The same with NR = 16 positions (8 accumulators: still FMA-bound on a
 * core with 3 loads per cycle), for images whose position count rounds up
 * badly to 24. */
__attribute__((target("avx2,fma"))) static void fwd_tile16(float *yf, size_t ldy, const float *x,
                                                            size_t plane, const float *pk, int cin,
                                                            size_t wp)
{
    __m256 a00 = _mm256_setzero_ps(), a01 = a00, a10 = a00, a11 = a00;
    __m256 a20 = a00, a21 = a00, a30 = a00, a31 = a00;
    for (int c = 0; c < cin; c++) {
        const float *xc = x + (size_t)c * plane;
        for (int ki = 0; ki < 3; ki++)
            for (int kj = 0; kj < 3; kj++, pk += MR) {
                const float *p = xc + (size_t)ki * wp + (size_t)kj;
                __m256 x0 = _mm256_loadu_ps(p), x1 = _mm256_loadu_ps(p + 8);
                __m256 w = _mm256_broadcast_ss(pk);
                a00 = _mm256_fmadd_ps(w, x0, a00);
                a01 = _mm256_fmadd_ps(w, x1, a01);
                w = _mm256_broadcast_ss(pk + 1);
                a10 = _mm256_fmadd_ps(w, x0, a10);
                a11 = _mm256_fmadd_ps(w, x1, a11);
                w = _mm256_broadcast_ss(pk + 2);
                a20 = _mm256_fmadd_ps(w, x0, a20);
                a21 = _mm256_fmadd_ps(w, x1, a21);
                w = _mm256_broadcast_ss(pk + 3);
                a30 = _mm256_fmadd_ps(w, x0, a30);
                a31 = _mm256_fmadd_ps(w, x1, a31);
            }
    }
    _mm256_storeu_ps(yf, a00);
    _mm256_storeu_ps(yf + 8, a01);
    yf += ldy;
    _mm256_storeu_ps(yf, a10);
    _mm256_storeu_ps(yf + 8, a11);
    yf += ldy;
    _mm256_storeu_ps(yf, a20);
    _mm256_storeu_ps(yf + 8, a21);
    yf += ldy;
    _mm256_storeu_ps(yf, a30);
    _mm256_storeu_ps(yf + 8, a31);
}

__attribute__((target("avx2,fma"))) static float hsum(__m256 v)
{
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
}

/* out[r*3 + j] += sum_{i < ng} sum_{q < q8} dyb[i*sdy + r*plane + q] * xr[i*sx + q + j],
 * r < MR, j < 3: a group of ng images summed in registers (one horizontal
 * sum per group, which matters for small images). */
__attribute__((target("avx2,fma"))) static void dw_tile(float *out, const float *dyb, size_t plane,
                                                         const float *xr, size_t q8, size_t ng,
                                                         size_t sdy, size_t sx)
{
    __m256 a00 = _mm256_setzero_ps(), a01 = a00, a02 = a00, a10 = a00, a11 = a00, a12 = a00;
    __m256 a20 = a00, a21 = a00, a22 = a00, a30 = a00, a31 = a00, a32 = a00;
    for (size_t i = 0; i < ng; i++, dyb += sdy, xr += sx)
    for (size_t q = 0; q < q8; q += 8) {
        __m256 x0 = _mm256_loadu_ps(xr + q), x1 = _mm256_loadu_ps(xr + q + 1), x2 = _mm256_loadu_ps(xr + q + 2);
        __m256 d = _mm256_loadu_ps(dyb + q);
        a00 = _mm256_fmadd_ps(d, x0, a00);
        a01 = _mm256_fmadd_ps(d, x1, a01);
        a02 = _mm256_fmadd_ps(d, x2, a02);
        d = _mm256_loadu_ps(dyb + plane + q);
        a10 = _mm256_fmadd_ps(d, x0, a10);
        a11 = _mm256_fmadd_ps(d, x1, a11);
        a12 = _mm256_fmadd_ps(d, x2, a12);
        d = _mm256_loadu_ps(dyb + 2 * plane + q);
        a20 = _mm256_fmadd_ps(d, x0, a20);
        a21 = _mm256_fmadd_ps(d, x1, a21);
        a22 = _mm256_fmadd_ps(d, x2, a22);
        d = _mm256_loadu_ps(dyb + 3 * plane + q);
        a30 = _mm256_fmadd_ps(d, x0, a30);
        a31 = _mm256_fmadd_ps(d, x1, a31);
        a32 = _mm256_fmadd_ps(d, x2, a32);
    }
    out[0] += hsum(a00);
    out[1] += hsum(a01);
    out[2] += hsum(a02);
    out[3] += hsum(a10);
    out[4] += hsum(a11);
    out[5] += hsum(a12);
    out[6] += hsum(a20);
    out[7] += hsum(a21);
    out[8] += hsum(a22);
    out[9] += hsum(a30);
    out[10] += hsum(a31);
    out[11] += hsum(a32);
}

/* a row of fwd_tile16x2 (below, with the AVX-512 pair tile) */
#define FMA16_ROW(a0, a1, w, off)                                                                  \
    do {                                                                                           \
        __m256 w_ = _mm256_broadcast_ss((w) + (off));                                              \
        a0 = _mm256_fmadd_ps(w_, x0, a0);                                                          \
        a1 = _mm256_fmadd_ps(w_, x1, a1);                                                          \
    } while (0)

/* AVX-512 versions of the tiles above (a core with 512-bit FMA units does
 * twice the work per instruction).  Every output of the forward tiles is
 * still one chain of FMAs over (c, ki, kj) in the same order, so their
 * results are bit-identical to the AVX2 tiles'.  The weight gradient stays
 * with AVX2: there all loads but one are unaligned, and 512-bit ones (each
 * splitting a cache line) made it 1.7x slower on this machine (AMD EPYC). */
#define FMA_ROW(a0, a1, a2, off)                                                                   \
    do {                                                                                           \
        __m512 w_ = _mm512_set1_ps(pk[off]);                                                      \
        a0 = _mm512_fmadd_ps(w_, x0, a0);                                                          \
        a1 = _mm512_fmadd_ps(w_, x1, a1);                                                          \
        a2 = _mm512_fmadd_ps(w_, x2, a2);                                                          \
    } while (0)
#define FMA2_ROW(a0, a1, w, off)                                                                   \
    do {                                                                                           \
        __m512 w_ = _mm512_set1_ps((w)[off]);                                                     \
        a0 = _mm512_fmadd_ps(w_, x0, a0);                                                          \
        a1 = _mm512_fmadd_ps(w_, x1, a1);                                                          \
    } while (0)

__attribute__((target("avx512f"))) static void fwd_tile48(float *yf, size_t ldy, const float *x,
                                                           size_t plane, const float *pk, int cin,
                                                           size_t wp)
{
    __m512 a00 = _mm512_setzero_ps(), a01 = a00, a02 = a00, a10 = a00, a11 = a00, a12 = a00;
    __m512 a20 = a00, a21 = a00, a22 = a00, a30 = a00, a31 = a00, a32 = a00;
    for (int c = 0; c < cin; c++) {
        const float *xc = x + (size_t)c * plane;
        for (int ki = 0; ki < 3; ki++)
            for (int kj = 0; kj < 3; kj++, pk += MR) {
                const float *p = xc + (size_t)ki * wp + (size_t)kj;
                __m512 x0 = _mm512_loadu_ps(p), x1 = _mm512_loadu_ps(p + 16), x2 = _mm512_loadu_ps(p + 32);
                FMA_ROW(a00, a01, a02, 0);
                FMA_ROW(a10, a11, a12, 1);
                FMA_ROW(a20, a21, a22, 2);
                FMA_ROW(a30, a31, a32, 3);
            }
    }
    __m512 acc[MR][3] = {{a00, a01, a02}, {a10, a11, a12}, {a20, a21, a22}, {a30, a31, a32}};
    for (int r = 0; r < MR; r++, yf += ldy)
        for (int v = 0; v < 3; v++)
            _mm512_storeu_ps(yf + 16 * v, acc[r][v]);
}

__attribute__((target("avx512f"))) static void fwd_tile32(float *yf, size_t ldy, const float *x,
                                                           size_t plane, const float *pk, int cin,
                                                           size_t wp)
{
    __m512 a00 = _mm512_setzero_ps(), a01 = a00, a10 = a00, a11 = a00;
    __m512 a20 = a00, a21 = a00, a30 = a00, a31 = a00;
    for (int c = 0; c < cin; c++) {
        const float *xc = x + (size_t)c * plane;
        for (int ki = 0; ki < 3; ki++)
            for (int kj = 0; kj < 3; kj++, pk += MR) {
                const float *p = xc + (size_t)ki * wp + (size_t)kj;
                __m512 x0 = _mm512_loadu_ps(p), x1 = _mm512_loadu_ps(p + 16);
                FMA2_ROW(a00, a01, pk, 0);
                FMA2_ROW(a10, a11, pk, 1);
                FMA2_ROW(a20, a21, pk, 2);
                FMA2_ROW(a30, a31, pk, 3);
            }
    }
    __m512 acc[MR][2] = {{a00, a01}, {a10, a11}, {a20, a21}, {a30, a31}};
    for (int r = 0; r < MR; r++, yf += ldy)
        for (int v = 0; v < 2; v++)
            _mm512_storeu_ps(yf + 16 * v, acc[r][v]);
}

/* fwd_tile16 / fwd_tile32 for two blocks of MR output channels at once (pk
 * and the next block's weights pk + block): 16 accumulators instead of 8,
 * enough independent FMAs to fill both units on the small maps (14x14, 9x9,
 * 7x7) where these tiles are chosen, and half the input loads per FMA.
 * Each output is still the same chain.  One body for both register widths
 * (ROW: a row's broadcast and its two FMAs).  The 256-bit one needs 16
 * accumulators + 3 registers: with AVX2's 16 it would spill; AVX-512VL
 * gives the same instructions 32, so it is built for (and only chosen on)
 * such a CPU. */
#define PAIR_TILE(name, tgt, vec, zero, load, store, lanes, ROW)                                   \
    __attribute__((target(tgt))) static void name(float *yf, size_t ldy, const float *x, size_t plane, \
                                                  const float *pk, size_t block, int cin, size_t wp)   \
    {                                                                                              \
        vec a00 = zero(), a01 = a00, a10 = a00, a11 = a00, a20 = a00, a21 = a00, a30 = a00, a31 = a00; \
        vec b00 = a00, b01 = a00, b10 = a00, b11 = a00, b20 = a00, b21 = a00, b30 = a00, b31 = a00; \
        const float *pk2 = pk + block;                                                             \
        for (int c = 0; c < cin; c++) {                                                            \
            const float *xc = x + (size_t)c * plane;                                               \
            for (int ki = 0; ki < 3; ki++)                                                         \
                for (int kj = 0; kj < 3; kj++, pk += MR, pk2 += MR) {                              \
                    const float *p = xc + (size_t)ki * wp + (size_t)kj;                            \
                    vec x0 = load(p), x1 = load(p + lanes);                                        \
                    ROW(a00, a01, pk, 0);                                                          \
                    ROW(a10, a11, pk, 1);                                                          \
                    ROW(a20, a21, pk, 2);                                                          \
                    ROW(a30, a31, pk, 3);                                                          \
                    ROW(b00, b01, pk2, 0);                                                         \
                    ROW(b10, b11, pk2, 1);                                                         \
                    ROW(b20, b21, pk2, 2);                                                         \
                    ROW(b30, b31, pk2, 3);                                                         \
                }                                                                                  \
        }                                                                                          \
        vec acc[2 * MR][2] = {{a00, a01}, {a10, a11}, {a20, a21}, {a30, a31},                      \
                              {b00, b01}, {b10, b11}, {b20, b21}, {b30, b31}};                     \
        for (int r = 0; r < 2 * MR; r++, yf += ldy)                                                \
            for (int v = 0; v < 2; v++)                                                            \
                store(yf + lanes * v, acc[r][v]);                                                  \
    }

PAIR_TILE(fwd_tile16x2, "avx2,fma,avx512f,avx512vl", __m256, _mm256_setzero_ps, _mm256_loadu_ps,
          _mm256_storeu_ps, 8, FMA16_ROW)
PAIR_TILE(fwd_tile32x2, "avx512f", __m512, _mm512_setzero_ps, _mm512_loadu_ps, _mm512_storeu_ps, 16,
          FMA2_ROW)

typedef void (*fwd_tile_fn)(float *, size_t, const float *, size_t, const float *, int, size_t);

static fwd_tile_fn tile_of(size_t nr)
{
    return nr == 48 ? fwd_tile48 : nr == 32 ? fwd_tile32 : nr == 16 ? fwd_tile16 : fwd_tile;
}

/* Whether the 512-bit tiles pay here: a CPU that splits 512-bit
 * instructions in two (AMD Zen 4) ran them at 0.86-0.98x the 256-bit ones,
 * one with full-width units (Zen 5) at ~1.3x.  Both give the same bits, so
 * the faster is chosen by timing them once per process (~2 ms) on a
 * 16-channel 35x35 image, the mini-ResNets' commonest layer;
 * SP_CONV_AVX512=0 / 1 decides instead. */
static double time_tiles(fwd_tile_fn tile, size_t nr, const float *x, const float *pk, float *yf)
{
    const size_t wp = 37, plane = 37 * 37 + SLACK, qr = 1344; /* 35 rows of 37, rounded to 48 */
    double best = 1e30;
    for (int rep = 0; rep < 3; rep++) {
        double t0 = sp_now();
        for (int k = 0; k < 20; k++)
            for (size_t q = 0; q + nr <= qr; q += nr)
                tile(yf + q, qr, x + q, plane, pk, 16, wp);
        double t = sp_now() - t0;
        if (t < best)
            best = t;
    }
    return best;
}

static int wide_pays(void)
{
    const size_t plane = 37 * 37 + SLACK;
    float *x = sp_calloc(16 * plane + 2 * 37 + 64, sizeof(float)), *pk = sp_calloc(16 * 9 * MR, sizeof(float));
    float *yf = sp_calloc(MR * 1344, sizeof(float));
    for (size_t i = 0; i < 16 * plane; i++)
        x[i] = (float)(i % 7) * 0.125f;
    for (size_t i = 0; i < 16 * 9 * MR; i++)
        pk[i] = (float)(i % 5) * 0.25f;
    double narrow = time_tiles(fwd_tile, 24, x, pk, yf), wide = time_tiles(fwd_tile48, 48, x, pk, yf);
    free(x);
    free(pk);
    free(yf);
    return wide < 0.9 * narrow;
}

int sp_conv3x3_wide(void)
{
    pthread_once(&simd_once, simd_probe);
    return simd_wide && simd_vl;
}

static void simd_probe(void)
{
    static const char *const off_on[] = {"0", "1", NULL}, *const tiles[] = {"0", "1", "2", "4", NULL};
    const int im2col = sp_env_choice("SP_CONV_IM2COL", off_on), wide = sp_env_choice("SP_CONV_AVX512", off_on);
    const int wg = sp_env_choice("SP_CONV_WINOGRAD", tiles); /* 0: off; 2 or 4: that tile wherever Winograd is taken */
    simd_ok = sp_cpu_avx2_fma() && im2col != 1;
    simd_vl = simd_ok && sp_cpu_avx512vl();
    x16x2 = sp_env_choice("SP_CONV_TILE16X2", off_on) != 0;
    winograd = wg != 0;
    if (wg >= 2)
        sp_conv3x3_winograd_set_tile(wg == 2 ? 2 : 4);
    simd_wide = simd_ok && sp_cpu_avx512f() && wide != 0 && (wide == 1 || wide_pays());
}

/* out [nout, H, W] (+ bias, then ep with this image's residual res) from the
 * padded planes xp of cin channels and packed weights pk. */
/* The tiles' rows (padded width) into the output planes, bias and epilogue
 * applied on the way; elementwise, so the AVX2 build (8 lanes, no fused
 * multiply-add) gives the same bits as the plain one. */
#define EPILOGUE_BODY                                                                              \
    const size_t hw = (size_t)h * (size_t)w;                                                       \
    for (int o = 0; o < nout; o++) {                                                               \
        float bv = bias ? bias[o] : 0.0f;                                                          \
        for (int r = 0; r < h; r++) {                                                              \
            const float *src = yf + (size_t)o * g->qr + (size_t)r * g->wp;                         \
            size_t at = (size_t)o * hw + (size_t)r * (size_t)w;                                    \
            sp_conv_out_row(out + at, src, (size_t)w, bv, ep, (size_t)o, res ? res + at : NULL);   \
        }                                                                                          \
    }
static void epilogue(float *out, const float *bias, const float *yf, int nout, int h, int w, const geom *g,
                     const sp_conv2d_epilogue *ep, const float *res)
{
    EPILOGUE_BODY
}
__attribute__((target("avx2"))) static void epilogue_avx2(float *out, const float *bias, const float *yf, int nout,
                                                          int h, int w, const geom *g,
                                                          const sp_conv2d_epilogue *ep, const float *res)
{
    EPILOGUE_BODY
}
#undef EPILOGUE_BODY

#define OUT_ROWS_BODY                                                                              \
    for (size_t o = 0; o < O; o++)                                                                 \
        for (size_t r = 0; r < rows; r++) {                                                        \
            const size_t at = (o * rows + r) * W;                                                  \
            sp_conv_out_row(y + at, src + o * src_chan + r * src_row, W, bias ? bias[o] : 0.0f, ep, o, \
                            res ? res + at : NULL);                                                \
        }
static void out_rows_plain(float *y, const float *src, size_t O, size_t rows, size_t W, size_t src_row,
                           size_t src_chan, const float *bias, const sp_conv2d_epilogue *ep, const float *res)
{
    OUT_ROWS_BODY
}
__attribute__((target("avx512f,avx512vl"))) static void out_rows_wide(float *y, const float *src, size_t O,
                                                                       size_t rows, size_t W, size_t src_row,
                                                                       size_t src_chan, const float *bias,
                                                                       const sp_conv2d_epilogue *ep,
                                                                       const float *res)
{
    OUT_ROWS_BODY
}
#undef OUT_ROWS_BODY

void sp_conv_out_rows(float *y, const float *src, size_t O, size_t rows, size_t W, size_t src_row,
                      size_t src_chan, const float *bias, const sp_conv2d_epilogue *ep, const float *res)
{
    if (sp_conv3x3_wide())
        out_rows_wide(y, src, O, rows, W, src_row, src_chan, bias, ep, res);
    else
        out_rows_plain(y, src, O, rows, W, src_row, src_chan, bias, ep, res);
}

static void conv_image(float *out, const float *bias, const float *xp, const float *pk, int cin,
                       int nout, int h, int w, const geom *g, float *yf, const sp_conv2d_epilogue *ep,
                       const float *res)
{
    const size_t nb = ((size_t)nout + MR - 1) / MR;
    const fwd_tile_fn tile = tile_of(g->nr);
    const size_t block = (size_t)cin * 9 * MR; /* packed weights of one block of MR outputs */
    for (size_t b = 0; b < nb; b++) {
        if (g->nr == 16 && b + 1 < nb && simd_vl && x16x2) { /* two blocks at once */
            for (size_t q = 0; q < g->qr; q += 16)
                fwd_tile16x2(yf + b * MR * g->qr + q, g->qr, xp + q, g->plane, pk + b * block, block, cin, g->wp);
            b++;
            continue;
        }
        if (g->nr == 32 && b + 1 < nb) { /* two blocks at once */
            for (size_t q = 0; q < g->qr; q += 32)
                fwd_tile32x2(yf + b * MR * g->qr + q, g->qr, xp + q, g->plane, pk + b * block, block, cin, g->wp);
            b++;
            continue;
        }
        for (size_t q = 0; q < g->qr; q += g->nr)
            tile(yf + b * MR * g->qr + q, g->qr, xp + q, g->plane, pk + b * block, cin, g->wp);
    }
    if (simd_ok)
        epilogue_avx2(out, bias, yf, nout, h, w, g, ep, res);
    else
        epilogue(out, bias, yf, nout, h, w, g, ep, res);
}

/* Where Winograd pays (sp_conv_winograd.c): the forward of d's layer, or
 * its input gradient when d is dx_desc's. */
static int use_winograd(const sp_conv2d_desc *d)
{
    pthread_once(&simd_once, simd_probe);
    return winograd && sp_conv3x3_winograd_ok(d);
}

int sp_conv3x3_batched_ok(const sp_conv2d_desc *d)
{
    pthread_once(&simd_once, simd_probe);
    return simd_ok && winograd && sp_conv3x3_winograd_batched_ok(d);
}

int sp_conv3x3_batched_pays(const sp_conv2d_desc *d, int tile)
{
    /* F(4x4) both ways, so that every output keeps its bits (F(2x2)
     * forced: the per-image path, as training's forward); whole images'
     * tiles gathered one by one (input_batched) cost more a tile than the
     * per-image path's vector transforms: the margin */
    return tile == 4 && d->h <= 8 && d->w <= 8 && use_winograd(d) && /* the per-image path's Winograd (16+ channels) */
           sp_conv3x3_winograd_tile(d, SP_WINOGRAD_GROUPED) == 4 &&
           10 * sp_conv3x3_winograd_batched_products(d, tile) <
               7 * sp_conv3x3_winograd_image_products(d, SP_WINOGRAD_GROUPED);
}

/* The batched Winograd (maps of 4x4 and less) with weights packed on the
 * call: its floats (the packed weights, then the scratch), and the run */
static size_t batched_floats(const sp_conv2d_desc *d, int tile)
{
    return sp_conv3x3_winograd_batched_packed_floats(d, tile) + sp_conv3x3_winograd_batched_floats(d, tile);
}

static void batched_run(float *y, const float *x, const float *weight, int flipped, const float *bias,
                        const sp_conv2d_desc *d, float *ws, const sp_conv2d_epilogue *ep, int tile)
{
    sp_conv3x3_winograd_batched_pack(ws, weight, d, flipped, tile);
    sp_conv3x3_winograd_batched_forward(y, x, (size_t)d->n, ws, bias, d,
                                        ws + sp_conv3x3_winograd_batched_packed_floats(d, tile), ep, tile);
}

size_t sp_conv3x3_forward_batched_floats(const sp_conv2d_desc *d)
{
    return sp_conv3x3_batched_ok(d) ? batched_floats(d, TRAIN_TILE) : 0;
}

void sp_conv3x3_forward_batched(float *y, const float *x, const float *weight, const float *bias,
                                const sp_conv2d_desc *d, float *ws, const sp_conv2d_epilogue *ep)
{
    batched_run(y, x, weight, 0, bias, d, ws, ep, TRAIN_TILE);
}

size_t sp_conv3x3_packed_floats(const sp_conv2d_desc *d)
{
    if (use_winograd(d))
        return sp_conv3x3_winograd_packed_floats(d, SP_WINOGRAD_GROUPED);
    return ((size_t)d->o + MR - 1) / MR * MR * (size_t)d->c * 9;
}

void sp_conv3x3_pack_forward(float *pk, const float *weight, const sp_conv2d_desc *d)
{
    if (use_winograd(d)) {
        sp_conv3x3_winograd_pack(pk, weight, d, 0, SP_WINOGRAD_GROUPED);
        return;
    }
    pack(pk, weight, d->o, d->c, 0, d->c);
}

/* one image (or group): its padded input planes, then the tiles' output */
size_t sp_conv3x3_image_floats(const sp_conv2d_desc *d)
{
    if (use_winograd(d))
        return sp_conv3x3_winograd_image_floats(d, SP_WINOGRAD_GROUPED);
    geom g = geometry(d, 1);
    return (size_t)d->c * g.plane + g.or_ * g.qr;
}

size_t sp_conv3x3_group(const sp_conv2d_desc *d)
{
    return use_winograd(d) ? sp_conv3x3_winograd_group(d, SP_WINOGRAD_GROUPED) : 1;
}

void sp_conv3x3_forward_images(float *y, const float *x, size_t gi, const float *pk, const sp_conv2d_desc *d,
                               float *ws, const sp_conv2d_epilogue *ep, const float *res)
{
    if (use_winograd(d)) {
        sp_conv3x3_winograd_forward_images(y, x, gi, pk, NULL, d, ws, ep, res, SP_WINOGRAD_GROUPED);
        return;
    }
    const size_t xs = (size_t)d->c * d->h * d->w, ys = (size_t)d->o * d->h * d->w;
    for (size_t i = 0; i < gi; i++)
        sp_conv3x3_forward_image(y + i * ys, x + i * xs, pk, d, ws, ep, res ? res + i * ys : NULL);
}

int sp_conv3x3_padded_ok(const sp_conv2d_desc *d)
{
    return use_winograd(d) && sp_conv3x3_winograd_padded_ok(d, SP_WINOGRAD_GROUPED);
}

void sp_conv3x3_forward_images_padded(float *y, const float *x, size_t gi, const float *pk, const sp_conv2d_desc *d,
                                      float *ws, const sp_conv2d_epilogue *ep, const float *res, int flags)
{
    if (!flags) {
        sp_conv3x3_forward_images(y, x, gi, pk, d, ws, ep, res);
        return;
    }
    if (!use_winograd(d)) /* the rest of sp_conv3x3_padded_ok: the Winograd call's own check */
        sp_fatal("internal error: conv3x3: a padded input or output on a direct layer");
    sp_conv3x3_winograd_forward_images_padded(y, x, gi, pk, NULL, d, ws, ep, res, SP_WINOGRAD_GROUPED, flags);
}

void sp_conv3x3_forward_image(float *y, const float *x, const float *pk, const sp_conv2d_desc *d,
                              float *ws, const sp_conv2d_epilogue *ep, const float *res)
{
    if (use_winograd(d)) {
        sp_conv3x3_winograd_forward_image(y, x, pk, NULL, d, ws, ep, res, SP_WINOGRAD_GROUPED);
        return;
    }
    geom g = geometry(d, 1);
    pad(ws, x, (size_t)d->c, (size_t)d->c, d->h, d->w, &g);
    conv_image(y, NULL, ws, pk, d->c, d->o, d->h, d->w, &g, ws + (size_t)d->c * g.plane, ep, res);
}

/* The convolution d by Winograd with tile, image by image over the threads
 * (each image as sp_conv3x3_forward_image computes it, so the per-image
 * inference gives the same bits): weight packed into ws (flipped: d is an
 * input gradient's, dx_desc), then the threads' scratch, winograd_floats */
static void forward_winograd(float *y, const float *x, const float *weight, int flipped, const float *bias,
                             const sp_conv2d_desc *d, float *ws, const sp_conv2d_epilogue *ep, int tile)
{
    float *pk = ws, *base = ws + sp_conv3x3_winograd_packed_floats(d, tile);
    sp_conv3x3_winograd_pack(pk, weight, d, flipped, tile);
    const size_t per = sp_conv3x3_winograd_image_floats(d, tile), xs = (size_t)d->c * d->h * d->w;
    const size_t ys = (size_t)d->o * d->h * d->w;
#pragma omp parallel
    {
        int T = omp_get_num_threads(), t = omp_get_thread_num();
        int n0 = (int)((long long)d->n * t / T), n1 = (int)((long long)d->n * (t + 1) / T);
        for (int n = n0; n < n1; n++)
            sp_conv3x3_winograd_forward_image(y + (size_t)n * ys, x + (size_t)n * xs, pk, bias, d,
                                              base + (size_t)t * per, ep,
                                              ep && ep->residual ? ep->residual + (size_t)n * ys : NULL, tile);
    }
}

void sp_conv3x3_forward(float *y, const float *x, const float *weight, const float *bias,
                        const sp_conv2d_desc *d, float *ws, const sp_conv2d_epilogue *ep)
{
    if (d->n == 0)
        return;
    const int Tmax = omp_get_max_threads();
    if (use_winograd(d)) {
        forward_winograd(y, x, weight, 0, bias, d, ws, ep, TRAIN_TILE);
        return;
    }
    geom g = geometry(d, Tmax);
    float *pk = ws;
    pack(pk, weight, d->o, d->c, 0, d->c);
    float *base = ws + shared_floats(d, &g);
    const size_t per = thread_floats(d, &g), xs = (size_t)d->c * d->h * d->w;
    const size_t ys = (size_t)d->o * d->h * d->w;
#pragma omp parallel num_threads(Tmax)
    {
        int T = omp_get_num_threads(), t = omp_get_thread_num();
        float *xp = base + (size_t)t * per, *yf = xp + g.g * ((size_t)d->c + g.or_) * g.plane;
        int n0 = (int)((long long)d->n * t / T), n1 = (int)((long long)d->n * (t + 1) / T);
        for (int n = n0; n < n1; n++) {
            pad(xp, x + (size_t)n * xs, (size_t)d->c, (size_t)d->c, d->h, d->w, &g);
            conv_image(y + (size_t)n * ys, bias, xp, pk, d->c, d->o, d->h, d->w, &g, yf, ep,
                       ep && ep->residual ? ep->residual + (size_t)n * ys : NULL);
        }
    }
}

/* The input gradient of a 3x3 layer whose weights the direct tiles do not
 * take (ResNet-18's layers 3 and 4): dy convolved with the flipped weights
 * by Winograd, per image where the flat tiles take its map (8x8 and more,
 * the tile picked as DX_TILE picks), over the batch with one F(4x4) tile an
 * image on 4x4 maps; 0 where neither applies (the caller's im2col then). */
static int dx_wide_kind(const sp_conv2d_desc *d)
{
    if (!sp_conv3x3_shape_ok(d) || sp_conv3x3_direct_ok(d))
        return 0;
    const sp_conv2d_desc f = dx_desc(d);
    return use_winograd(&f) ? 1 : sp_conv3x3_batched_ok(&f) ? 2 : 0;
}

size_t sp_conv3x3_dx_wide_floats(const sp_conv2d_desc *d, int T)
{
    const sp_conv2d_desc f = dx_desc(d);
    switch (dx_wide_kind(d)) {
    case 1:
        return winograd_floats(&f, T, DX_TILE);
    case 2:
        return batched_floats(&f, DX_TILE); /* the batched path's own tile: F(4x4) */
    default:
        return 0;
    }
}

int sp_conv3x3_dx_wide(float *dx, const float *dy, const float *weight, const sp_conv2d_desc *d, float *ws)
{
    const int kind = dx_wide_kind(d);
    if (!kind || d->n == 0)
        return kind != 0;
    sp_conv2d_desc f = dx_desc(d);
    f.n = d->n;
    if (kind == 2)
        batched_run(dx, dy, weight, 1, NULL, &f, ws, NULL, DX_TILE);
    else
        forward_winograd(dx, dy, weight, 1, NULL, &f, ws, NULL, DX_TILE);
    return 1;
}

void sp_conv3x3_backward(float *dx, float *dweight, const float *dy, const float *x,
                         const float *weight, const sp_conv2d_desc *d, float *ws)
{
    const int Tmax = omp_get_max_threads();
    geom g = geometry(d, Tmax);
    const size_t C = (size_t)d->c, O = (size_t)d->o, K = C * 9;
    float *pkf = ws + g.or_ * C * 9; /* flipped: input channels O, outputs C */
    float *base = ws + shared_floats(d, &g);
    const size_t per = thread_floats(d, &g), xs = C * d->h * d->w, ys = O * d->h * d->w;
    /* the input gradient by Winograd where its shape takes it: dy convolved
     * with the weights transposed and rotated by 180 degrees */
    const sp_conv2d_desc fd = dx_desc(d);
    const int dx_wino = dx && use_winograd(&fd);
    float *pkw = base + (size_t)Tmax * per, *wsw = pkw;
    size_t wper = 0;
    if (dx_wino) {
        sp_conv3x3_winograd_pack(pkw, weight, &fd, 1, DX_TILE);
        wsw = pkw + sp_conv3x3_winograd_packed_floats(&fd, DX_TILE);
        wper = sp_conv3x3_winograd_image_floats(&fd, DX_TILE);
    } else if (dx)
        pack(pkf, weight, d->c, d->o, 1, d->c);
    const size_t sx = C * g.plane, sdy = g.or_ * g.plane; /* image strides in a group */
    const size_t dw_off = g.g * (C + g.or_) * g.plane + (g.or_ > g.cr ? g.or_ : g.cr) * g.qr;
    int Tall = 1;
#pragma omp parallel num_threads(Tmax)
    {
        int T = omp_get_num_threads(), t = omp_get_thread_num();
        float *xp = base + (size_t)t * per, *dyp = xp + g.g * sx, *yf = dyp + g.g * sdy;
        float *dwp = base + (size_t)t * per + dw_off;
        int n0 = (int)((long long)d->n * t / T), n1 = (int)((long long)d->n * (t + 1) / T);
        if (t == 0)
            Tall = T;
        if (dweight)
            memset(dwp, 0, sizeof(float) * g.or_ * K);
        for (int n = n0; n < n1; n += (int)g.g) {
            size_t ng = (size_t)(n1 - n) < g.g ? (size_t)(n1 - n) : g.g;
            for (size_t i = 0; i < ng && (dweight || !dx_wino); i++) {
                pad(dyp + i * sdy, dy + (size_t)(n + (int)i) * ys, O, dweight ? g.or_ : O, d->h, d->w, &g);
                if (dweight)
                    pad(xp + i * sx, x + (size_t)(n + (int)i) * xs, C, C, d->h, d->w, &g);
            }
            if (dweight)
                for (size_t b = 0; b < g.or_ / MR; b++)
                    for (size_t c = 0; c < C; c++)
                        for (int ki = 0; ki < 3; ki++) {
                            float out[12] = {0};
                            dw_tile(out, dyp + b * MR * g.plane + g.wp + 1, g.plane,
                                    xp + c * g.plane + (size_t)ki * g.wp, g.q8, ng, sdy, sx);
                            for (int r = 0; r < MR; r++)
                                for (int j = 0; j < 3; j++)
                                    dwp[((b * MR + (size_t)r) * C + c) * 9 + (size_t)ki * 3 + (size_t)j] += out[r * 3 + j];
                        }
            if (dx_wino)
                for (size_t i = 0; i < ng; i++)
                    sp_conv3x3_winograd_forward_image(dx + (size_t)(n + (int)i) * xs, dy + (size_t)(n + (int)i) * ys,
                                                      pkw, NULL, &fd, wsw + (size_t)t * wper, NULL, NULL, DX_TILE);
            else if (dx)
                for (size_t i = 0; i < ng; i++)
                    conv_image(dx + (size_t)(n + (int)i) * xs, NULL, dyp + i * sdy, pkf, d->o, d->c, d->h,
                               d->w, &g, yf, NULL, NULL);
        }
    }
    if (dweight) {
        const size_t total = O * K;
#pragma omp parallel for schedule(static)
        for (size_t i = 0; i < total; i++) {
            float s = 0.0f;
            for (int t = 0; t < Tall; t++)
                s += base[(size_t)t * per + dw_off + i];
            dweight[i] = s;
        }
    }
}

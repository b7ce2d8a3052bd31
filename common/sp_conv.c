/* 2-D convolution through im2col + sgemm (see sp_conv.h for threads and
 * workspace).
 *
 * Layout of one GEMM: the K = C*kh*kw rows of the column matrix against the
 * P = Ho*Wo output positions of g images side by side (row stride g*P).
 * Small images give thin GEMMs (P = 81 at 9x9) on which sgemm is slow, so a
 * GEMM takes several images (g*P >= GROUP_COLS columns, g at most half
 * the batch), within a cap on the column matrix's size.
 *
 *   forward     Y_g [O, gP]   = W [O, K] . col_g [K, gP]
 *   weight grad dW  [O, K]   += dY_g [O, gP] . col_g^T
 *   input grad  stride 1: a convolution of dy with the flipped, transposed
 *               kernel (pad kh-1-ph), i.e. the same well-shaped forward GEMM;
 *               otherwise dcol_g [K, gP] = W^T . dY_g, then col2im.
 *
 * 3x3 stride-1 padding-1 convolutions with small weights (all but two or
 * three of a ResNet's) go instead to the direct AVX2 kernels of
 * sp_conv_direct.c, about twice as fast on these shapes.  The forward's
 * GEMM itself is our register tiles' (sp_gemm_tiles.c) where the CPU has
 * AVX2 and FMA and the output channels are a multiple of 8: 16 lanes where
 * the other convolution kernels take them, whatever core type OpenBLAS
 * was given; the backward's GEMMs stay sgemm's. */
#define _POSIX_C_SOURCE 200809L
#include "sp_conv.h"
#include "sp_blas.h"
#include "sp_conv_direct.h"
#include "sp_conv_phased.h"
#include "sp_gemm_tiles.h"
#include "sp_cpu.h"
#include "sp_error.h"

#include <immintrin.h>
#include <omp.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define GROUP_COLS 2048           /* columns wanted in one GEMM */
#define COL_CAP ((size_t)1 << 21) /* floats: at most 8 MB of column matrix per thread */

const char *sp_conv2d_check(const sp_conv2d_desc *d)
{
    if (d->n < 0 || d->c < 1 || d->h < 1 || d->w < 1 || d->o < 1 || d->kh < 1 || d->kw < 1)
        return "sizes must be positive";
    if (d->sh < 1 || d->sw < 1 || d->ph < 0 || d->pw < 0)
        return "stride must be >= 1 and padding >= 0";
    if (d->h + 2 * d->ph < d->kh || d->w + 2 * d->pw < d->kw)
        return "kernel larger than the padded input";
    return NULL;
}

typedef struct {
    size_t P, K, g; /* positions per image, rows of col, images per GEMM */
    size_t col, tmp, dw, per_thread; /* floats per thread */
    size_t pk;                       /* the weights packed for sp_gemm_tiles (shared), 0: sgemm */
    size_t bp;                       /* per thread: sp_gemm_tiles's panels of the column matrix */
    int T;
    int path;     /* the forward's: PATH_IM2COL, or image by image PATH_IMPLICIT (implicit_ok) or PATH_PHASED */
} plan;

/* an output map's positions (a GEMM's columns an image), and the column
 * matrix's rows C*kh*kw */
static size_t positions(const sp_conv2d_desc *d)
{
    return (size_t)sp_conv2d_ho(d) * (size_t)sp_conv2d_wo(d);
}

static size_t col_rows(const sp_conv2d_desc *d)
{
    return (size_t)d->c * (size_t)d->kh * (size_t)d->kw;
}

/* A stride-2 convolution whose output rows fill blocks of 32 outputs (a
 * ResNet stem: 7x7 on 128x128 images, 64 outputs a row; 2 rows of 16 or 4
 * of 8 a block) by an implicit GEMM with the 16-lane tiles: the input split
 * into its even and odd columns, each plane padded with zeros, so that a
 * block reads window value (c, ki, kj) as 32 consecutive floats of one
 * plane row, or runs of 16 or 8 two plane rows apart; the im2col matrix
 * (49 values an input value: 2.4 MB an image for that stem) and its copy
 * into the tiles' panels are never made.  Each output is the tiles' same
 * chain of multiply-adds over (c, ki, kj), so the same bits.  The planes'
 * layout: */
typedef struct {
    size_t rh, rw; /* a plane's rows (input rows -ph .. 2(Ho-1) - ph + kh - 1) and row length */
    int pl;        /* zero columns left of a row's first value */
} phases;

/* a window column's plane (its input columns' parity) and its shift in plane columns */
static int phase_of(const sp_conv2d_desc *d, int kj) { return ((kj - d->pw) % 2 + 2) % 2; }
static int shift_of(const sp_conv2d_desc *d, int kj) { return (kj - d->pw - phase_of(d, kj)) / 2; }

static phases phase_layout(const sp_conv2d_desc *d)
{
    phases f;
    const int Ho = sp_conv2d_ho(d), Wo = sp_conv2d_wo(d);
    int qmin = 0, qmax = 0;
    for (int kj = 0; kj < d->kw; kj++) {
        const int q = shift_of(d, kj);
        qmin = q < qmin ? q : qmin;
        qmax = q > qmax ? q : qmax;
    }
    f.pl = -qmin;
    f.rh = (size_t)(2 * (Ho - 1) + d->kh);
    f.rw = ((size_t)(f.pl + Wo + qmax) + 7) / 8 * 8;
    const size_t valid = (size_t)(d->w + 1) / 2; /* a plane's values a row, at most */
    if (f.rw < (size_t)f.pl + valid)
        f.rw = ((size_t)f.pl + valid + 7) / 8 * 8;
    return f;
}

/* the planes' floats: an even and an odd one per input channel */
static size_t phase_floats(const sp_conv2d_desc *d, const phases *f)
{
    return (size_t)d->c * 2 * f->rh * f->rw;
}

/* output rows of whole blocks of 32, or 2 rows of 16 or 4 rows of 8 a
 * block (ResNet-18's stem and layers 2 and 3's stride-2 3x3 convolutions
 * at 128x128), and the planes within the column matrix's room (not a 1x1
 * stride-2 one's: its matrix is a quarter of its input, it stays im2col) */
static int implicit_ok(const sp_conv2d_desc *d, size_t P, size_t K)
{
    const int Wo = sp_conv2d_wo(d), Ho = sp_conv2d_ho(d);
    if (d->sh != 2 || d->sw != 2 || !(Wo % 32 == 0 || (Wo == 16 && Ho % 2 == 0) || (Wo == 8 && Ho % 4 == 0)) ||
        !sp_conv3x3_wide())
        return 0;
    const phases f = phase_layout(d);
    /* the planes and the tables of sp_gemm_tiles_rows in the column
     * matrix's room, their offsets 32-bit */
    const size_t need = phase_floats(d, &f) + K + P / 32;
    return need <= K * P && need < ((size_t)1 << 31);
}

/* images per GEMM before the batch's own limit: GROUP_COLS columns within
 * COL_CAP floats of column matrix (0 or 1: one image a GEMM) */
static size_t group_cap(size_t P, size_t K)
{
    size_t g = GROUP_COLS / P;
    if (g * K * P > COL_CAP)
        g = COL_CAP / (K * P);
    return g;
}

/* how the forward reads its input: through the column matrix (im2col),
 * or in place (the packed weights' tiles only): the even and odd columns'
 * planes where output rows fill blocks of 32 (implicit_ok), else a 3x3
 * stride-2 layer's four phase planes (sp_conv_phased.c) */
enum { PATH_IM2COL, PATH_IMPLICIT, PATH_PHASED };

static int forward_path(const sp_conv2d_desc *d, int packed, size_t P, size_t K)
{
    if (!packed)
        return PATH_IM2COL;
    if (implicit_ok(d, P, K))
        return PATH_IMPLICIT;
    return sp_conv_phased_ok(d) ? PATH_PHASED : PATH_IM2COL;
}

static plan make_plan(const sp_conv2d_desc *d, int T)
{
    plan p;
    p.T = T;
    p.P = positions(d);
    p.K = col_rows(d);
    /* Images per GEMM: from the batch alone, never from the thread count
     * (the gemm tiles' sums do not depend on it; sgemm's do).
     * OpenBLAS's sgemm can give a column other last bits depending on the
     * matrix's width (on an AVX-512 EPYC, 7,043 of 36,992 outputs differ
     * between one GEMM over 4 images and four over 1), so groups that
     * followed the threads made the forward depend on OMP_NUM_THREADS.  At
     * most half the batch a group: the groups the 2-thread plan made, so
     * results on 2 cores (where the reference parity tests' tolerances were
     * set) are unchanged; more threads share the groups GROUP_COLS makes. */
    size_t nper = d->n > 0 ? ((size_t)d->n + 1) / 2 : 1;
    size_t g = group_cap(p.P, p.K);
    if (g > nper)
        g = nper;
    if (g < 1)
        g = 1;
    p.g = g;
    p.col = p.K * g * p.P;
    p.tmp = g > 1 ? (size_t)d->o * g * p.P : 0;
    p.dw = (size_t)d->o * p.K;
    p.pk = sp_conv_gemm_tiles_ok(d) ? (size_t)d->o * p.K : 0;
    p.bp = p.pk ? sp_gemm_tiles_ws_floats(p.K) : 0;
    p.path = forward_path(d, p.pk, p.P, p.K);
    if (p.path == PATH_PHASED && p.col < sp_conv_phased_floats(d))
        p.col = sp_conv_phased_floats(d);
    p.per_thread = p.col + p.tmp + p.bp;
    return p;
}

static int pointwise(const sp_conv2d_desc *d)
{
    return d->kh == 1 && d->kw == 1 && d->sh == 1 && d->sw == 1 && d->ph == 0 && d->pw == 0;
}

/* The input gradient as a forward convolution (stride 1 only). */
static int flip_ok(const sp_conv2d_desc *d)
{
    return d->sh == 1 && d->sw == 1 && d->ph <= d->kh - 1 && d->pw <= d->kw - 1;
}

static sp_conv2d_desc flip_desc(const sp_conv2d_desc *d)
{
    sp_conv2d_desc f = {d->n, d->o, sp_conv2d_ho(d), sp_conv2d_wo(d), d->c, d->kh, d->kw,
                        1, 1, d->kh - 1 - d->ph, d->kw - 1 - d->pw};
    return f;
}

static size_t fwd_need(const sp_conv2d_desc *d, int T)
{
    plan p = make_plan(d, T);
    return (size_t)T * p.per_thread + p.pk;
}

size_t sp_conv2d_workspace(const sp_conv2d_desc *d)
{
    int T = omp_get_max_threads();
    if (sp_conv3x3_direct_ok(d))
        return sp_conv3x3_workspace(d, T);
    plan p = make_plan(d, T);
    /* a forward by Winograd alone (sp_conv3x3_forward_ok), a backward by im2col */
    size_t wino = sp_conv3x3_forward_ok(d) ? sp_conv3x3_workspace(d, T) : 0;
    size_t fwd = fwd_need(d, T);
    size_t dw = (size_t)T * (p.per_thread + p.dw);
    size_t dx;
    if (flip_ok(d)) {
        sp_conv2d_desc f = flip_desc(d);
        dx = p.dw + fwd_need(&f, T);
    } else {
        dx = (size_t)T * p.per_thread;
    }
    size_t need = fwd > dw ? fwd : dw;
    need = need > dx ? need : dx;
    const size_t dx_wide = sp_conv3x3_dx_wide_floats(d, T); /* the input gradient by Winograd */
    need = need > dx_wide ? need : dx_wide;
    const size_t batched = sp_conv3x3_forward_batched_floats(d); /* the forward of 4x4 maps by Winograd */
    need = need > batched ? need : batched;
    return need > wino ? need : wino;
}

/* dst[i] = src[2i], i < n, 8 at a time (a stride-2 layer's im2col rows:
 * the scalar loop was 7% of a horse inference).  Reads src[0 .. 2n-2]
 * only: the last 8 take their 16th float masked off (a stem's rows are 64
 * long: otherwise their last 8 went by the scalar loop). */
__attribute__((target("avx2"))) static void gather_even(float *dst, const float *src, int n)
{
    int i = 0;
    const __m256i first7 = _mm256_setr_epi32(-1, -1, -1, -1, -1, -1, -1, 0);
    for (; i + 8 <= n; i += 8) {
        const __m256 a = _mm256_loadu_ps(src + 2 * i);
        const __m256 b = i + 9 <= n ? _mm256_loadu_ps(src + 2 * i + 8) : _mm256_maskload_ps(src + 2 * i + 8, first7);
        /* per 128-bit half: a0 a2 b0 b2 | a4 a6 b4 b6, then the halves' pairs in order */
        const __m256 t = _mm256_shuffle_ps(a, b, _MM_SHUFFLE(2, 0, 2, 0));
        _mm256_storeu_ps(dst + i, _mm256_castpd_ps(_mm256_permute4x64_pd(_mm256_castps_pd(t), _MM_SHUFFLE(3, 1, 2, 0))));
    }
    for (; i < n; i++)
        dst[i] = src[2 * i];
}

/* Rows (c, ki, kj) of the column matrix for one image x [C,H,W], written at
 * col with row stride ldc; zero where the window leaves the image. */
static void im2col(float *col, size_t ldc, const float *x, const sp_conv2d_desc *d)
{
    const int avx2 = sp_cpu_avx2();
    const int H = d->h, W = d->w, Ho = sp_conv2d_ho(d), Wo = sp_conv2d_wo(d);
    for (int c = 0; c < d->c; c++)
        for (int ki = 0; ki < d->kh; ki++)
            for (int kj = 0; kj < d->kw; kj++) {
                float *row = col + (size_t)((c * d->kh + ki) * d->kw + kj) * ldc;
                /* valid output columns: 0 <= ow*sw - pw + kj < W */
                int lo = d->pw - kj > 0 ? (d->pw - kj + d->sw - 1) / d->sw : 0;
                int hi = (W - 1 + d->pw - kj) >= 0 ? (W - 1 + d->pw - kj) / d->sw + 1 : 0;
                if (hi > Wo)
                    hi = Wo;
                if (lo > hi)
                    lo = hi;
                for (int oh = 0; oh < Ho; oh++) {
                    float *dst = row + (size_t)oh * Wo;
                    int ih = oh * d->sh - d->ph + ki;
                    if (ih < 0 || ih >= H) {
                        memset(dst, 0, sizeof(float) * (size_t)Wo);
                        continue;
                    }
                    const float *src = x + ((size_t)c * H + ih) * W - d->pw + kj;
                    for (int ow = 0; ow < lo; ow++)
                        dst[ow] = 0.0f;
                    if (d->sw == 1)
                        memcpy(dst + lo, src + lo, sizeof(float) * (size_t)(hi - lo));
                    else if (d->sw == 2 && avx2)
                        gather_even(dst + lo, src + 2 * lo, hi - lo);
                    else
                        for (int ow = lo; ow < hi; ow++)
                            dst[ow] = src[ow * d->sw];
                    for (int ow = hi; ow < Wo; ow++)
                        dst[ow] = 0.0f;
                }
            }
}

/* dx [C,H,W] = sum of the column gradient rows back onto the image. */
static void col2im(float *dx, const float *col, size_t ldc, const sp_conv2d_desc *d)
{
    const int H = d->h, W = d->w, Ho = sp_conv2d_ho(d), Wo = sp_conv2d_wo(d);
    memset(dx, 0, sizeof(float) * (size_t)d->c * H * W);
    for (int c = 0; c < d->c; c++)
        for (int ki = 0; ki < d->kh; ki++)
            for (int kj = 0; kj < d->kw; kj++) {
                const float *row = col + (size_t)((c * d->kh + ki) * d->kw + kj) * ldc;
                int lo = d->pw - kj > 0 ? (d->pw - kj + d->sw - 1) / d->sw : 0;
                int hi = (W - 1 + d->pw - kj) >= 0 ? (W - 1 + d->pw - kj) / d->sw + 1 : 0;
                if (hi > Wo)
                    hi = Wo;
                for (int oh = 0; oh < Ho; oh++) {
                    int ih = oh * d->sh - d->ph + ki;
                    if (ih < 0 || ih >= H)
                        continue;
                    const float *src = row + (size_t)oh * Wo;
                    float *dst = dx + ((size_t)c * H + ih) * W - d->pw + kj;
                    for (int ow = lo; ow < hi; ow++)
                        dst[ow * d->sw] += src[ow];
                }
            }
}

/* Column matrices of images [n, n+gn) side by side as one [K, gn*P] matrix
 * at col: a 1x1 stride-1 unpadded conv needs only a copy of x's rows. */
static void gather_cols(float *col, const float *x, int n, size_t gn, size_t K, size_t P,
                        const sp_conv2d_desc *d)
{
    const size_t xs = (size_t)d->c * d->h * d->w, ld = gn * P;
    for (size_t i = 0; i < gn; i++) {
        const float *xi = x + (size_t)(n + (int)i) * xs;
        if (pointwise(d))
            for (size_t r = 0; r < K; r++)
                memcpy(col + r * ld + i * P, xi + r * P, sizeof(float) * P);
        else
            im2col(col + i * P, ld, xi, d);
    }
}

/* y [O, N] = weight [O, K] . b [K, N]: by our tiles from the weights
 * packed at pk (bp: their panels' workspace), or by sgemm (pk NULL) */
static void gemm_forward(float *y, const float *weight, const float *pk, const float *b, size_t O, size_t N,
                         size_t K, float *bp)
{
    if (pk)
        sp_gemm_tiles(y, N, pk, b, N, O, N, K, sp_conv3x3_wide(), bp);
    else
        sp_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)O, (int)N, (int)K, 1.0f, weight, (int)K, b,
                 (int)N, 0.0f, y, (int)N);
}

/* y [O, P] = the convolution of one image x by the packed weights pk,
 * planes: implicit_ok's room (the column matrix's) */
static void forward_implicit(float *y, const float *x, const float *pk, const sp_conv2d_desc *d, size_t P,
                             size_t K, float *planes)
{
    const phases f = phase_layout(d);
    const int H = d->h, W = d->w, Wo = sp_conv2d_wo(d);
    /* after the planes, the window values' offsets and the blocks' (the
     * room is malloc'd memory, so it may hold int32 now, floats later) */
    int32_t *off = (int32_t *)(void *)(planes + phase_floats(d, &f)), *col_at = off + K;
    for (int c = 0; c < d->c; c++)
        for (size_t r = 0; r < f.rh; r++) {
            const int ih = (int)r - d->ph;
            float *ev = planes + ((size_t)(2 * c) * f.rh + r) * f.rw, *od = ev + f.rh * f.rw;
            memset(ev, 0, sizeof(float) * f.rw);
            memset(od, 0, sizeof(float) * f.rw);
            if (ih < 0 || ih >= H)
                continue;
            const float *xr = x + ((size_t)c * H + (size_t)ih) * W;
            for (int m = 0; 2 * m < W; m++)
                ev[f.pl + m] = xr[2 * m];
            for (int m = 0; 2 * m + 1 < W; m++)
                od[f.pl + m] = xr[2 * m + 1];
        }
    for (int c = 0, k = 0; c < d->c; c++)
        for (int ki = 0; ki < d->kh; ki++)
            for (int kj = 0; kj < d->kw; kj++, k++)
                off[k] = (int32_t)(((size_t)(2 * c + phase_of(d, kj)) * f.rh + (size_t)ki) * f.rw +
                                   (size_t)(f.pl + shift_of(d, kj)));
    /* block q: output row oh, its columns ow0 .. ow0 + 31, or rows oh .. oh + 32 / Wo - 1
     * (their input rows 2 plane rows apart) */
    for (size_t q = 0; q < P / 32; q++)
        col_at[q] = (int32_t)((2 * (32 * q / (size_t)Wo)) * f.rw + 32 * q % (size_t)Wo);
    sp_gemm_tiles_rows(y, P, pk, planes, col_at, off, Wo < 32 ? (size_t)Wo : 32, 2 * f.rw, (size_t)d->o, P, K);
}

/* One image's forward, one GEMM: y [O, P] from x [C, H, W] (col: its
 * column matrix's room, bp: the tiles' panels), bias, then ep with res,
 * this image's residual */
static void forward_one(float *y, const float *x, const float *weight, const float *pk, const float *bias,
                        const sp_conv2d_desc *d, size_t P, size_t K, int path, float *col, float *bp,
                        const sp_conv2d_epilogue *ep, const float *res)
{
    const size_t O = (size_t)d->o;
    const float *b = x;
    if (path == PATH_PHASED) { /* its epilogue too: from its rows of Wo + 1 */
        sp_conv_phased_forward(y, x, pk, d, col, bias, ep, res);
        return;
    }
    if (path == PATH_IMPLICIT) {
        forward_implicit(y, x, pk, d, P, K, col);
    } else {
        if (!pointwise(d)) {
            im2col(col, P, b, d);
            b = col;
        }
        gemm_forward(y, weight, pk, b, O, P, K, bp);
    }
    if (bias || ep)
        sp_conv_out_rows(y, y, O, 1, P, 0, P, bias, ep, res);
}

/* Images [n0, n1) of the forward, by groups of p->g (pk: the packed
 * weights, or NULL). */
static void forward_range(float *y, const float *x, const float *weight, const float *pk, const float *bias,
                          const sp_conv2d_desc *d, const plan *p, float *ws, int n0, int n1,
                          const sp_conv2d_epilogue *ep)
{
    const size_t P = p->P, K = p->K, O = (size_t)d->o, xs = (size_t)d->c * d->h * d->w;
    float *col = ws, *tmp = ws + p->col, *bp = tmp + p->tmp;
    for (int n = n0; n < n1; n += (int)p->g) {
        size_t gn = (size_t)(n1 - n) < p->g ? (size_t)(n1 - n) : p->g;
        if (gn == 1 || p->path != PATH_IM2COL) { /* an in-place GEMM takes one image at a time */
            for (int i = n; i < n + (int)gn; i++)
                forward_one(y + (size_t)i * O * P, x + (size_t)i * xs, weight, pk, bias, d, P, K, p->path, col,
                            bp, ep, ep && ep->residual ? ep->residual + (size_t)i * O * P : NULL);
            continue;
        }
        size_t ld = gn * P;
        gather_cols(col, x, n, gn, K, P, d);
        gemm_forward(tmp, weight, pk, col, O, ld, K, bp);
        for (size_t i = 0; i < gn; i++) {
            const size_t at = (size_t)(n + (int)i) * O * P;
            sp_conv_out_rows(y + at, tmp + i * P, O, 1, P, 0, ld, bias, ep,
                             ep && ep->residual ? ep->residual + at : NULL);
        }
    }
}

/* given: the weights packed for the tiles already (sp_conv2d_tiles_pack),
 * or NULL */
static void forward_ws(float *y, const float *x, const float *weight, const float *bias,
                       const sp_conv2d_desc *d, float *ws, const sp_conv2d_epilogue *ep, const float *given)
{
    if (d->n == 0)
        return;
    plan p = make_plan(d, omp_get_max_threads());
    /* the weights packed once for every thread's tiles, after the threads'
     * column matrices: the threads share the 8-row blocks (4.7 MB for
     * ResNet-18's last stride-2 layer), then wait for all of them */
    float *pk = p.pk && !given ? ws + (size_t)p.T * p.per_thread : NULL;
    const float *use = given ? given : pk;
    const long long nblk = (long long)(d->o / SP_GEMM_TILES_MR);
#pragma omp parallel num_threads(p.T)
    {
        if (pk) {
#pragma omp for schedule(static)
            for (long long b = 0; b < nblk; b++) {
                const size_t at = (size_t)b * SP_GEMM_TILES_MR * p.K;
                sp_gemm_tiles_pack(pk + at, weight + at, SP_GEMM_TILES_MR, p.K);
            }
        }
        /* whole groups per thread: every GEMM is the same whatever T */
        int T = omp_get_num_threads(), t = omp_get_thread_num();
        long long G = ((long long)d->n + (long long)p.g - 1) / (long long)p.g;
        long long g0 = G * t / T, g1 = G * (t + 1) / T;
        int n0 = (int)(g0 * (long long)p.g), n1 = (int)(g1 * (long long)p.g);
        if (n1 > d->n)
            n1 = d->n;
        if (n0 < n1)
            forward_range(y, x, weight, use, bias, d, &p, ws + (size_t)t * p.per_thread, n0, n1, ep);
    }
}

int sp_conv2d_image_ok(const sp_conv2d_desc *d)
{
    const size_t P = positions(d), K = col_rows(d);
    /* one image a GEMM anyway, or one that reads its input in place: the
     * phase planes' (GTSRB-8's 16 -> 32 channels at 28x28: ~40 us an image
     * by im2col, grouped over the batch; Tetrominoes' at 35x35), or a 1x1
     * window's, whose column matrix is a quarter of its input (ResNet-18's
     * downsampling shortcuts: over groups of 8 images the column matrix and
     * the products left the core's cache, 13-47 GMAC/s; image by image
     * layer 2's 5.4 ms of CPU a batch of 32 -> 2.2).  One image a GEMM gives
     * the same bits: each output is the tiles' one chain over k. */
    return sp_conv2d_packed_ok(d) &&
           (group_cap(P, K) <= 1 || forward_path(d, 1, P, K) == PATH_PHASED || (d->kh == 1 && d->kw == 1));
}

size_t sp_conv2d_tiles_packed_floats(const sp_conv2d_desc *d)
{
    return (size_t)d->o * col_rows(d);
}

void sp_conv2d_tiles_pack(float *pk, const float *weight, const sp_conv2d_desc *d)
{
    sp_gemm_tiles_pack(pk, weight, (size_t)d->o, col_rows(d));
}

int sp_conv2d_packed_ok(const sp_conv2d_desc *d)
{
    return !sp_conv3x3_forward_ok(d) && !sp_conv3x3_batched_ok(d) && sp_conv_gemm_tiles_ok(d);
}

void sp_conv2d_forward_packed(float *y, const float *x, const float *pk, const sp_conv2d_desc *d, float *ws,
                              size_t ws_len, const sp_conv2d_epilogue *ep)
{
    const int T = omp_get_max_threads();
    const plan p = make_plan(d, T);
    const size_t need = (size_t)T * p.per_thread;
    float *own = NULL;
    if (!ws || ws_len < need)
        ws = own = sp_malloc(sizeof(float) * (need ? need : 1));
    forward_ws(y, x, NULL, NULL, d, ws, ep, pk);
    free(own);
}

/* one image's room before the tiles' panels: its column matrix, which
 * the implicit GEMM's planes fit in, or the phase planes' */
static size_t image_room(const sp_conv2d_desc *d, size_t P, size_t K, int path)
{
    const size_t col = pointwise(d) ? 0 : K * P;
    if (path != PATH_PHASED)
        return col;
    const size_t ph = sp_conv_phased_floats(d);
    return ph > col ? ph : col;
}

size_t sp_conv2d_image_floats(const sp_conv2d_desc *d)
{
    const size_t P = positions(d), K = col_rows(d);
    return image_room(d, P, K, forward_path(d, 1, P, K)) + sp_gemm_tiles_ws_floats(K);
}

void sp_conv2d_forward_image(float *y, const float *x, const float *pk, const sp_conv2d_desc *d, float *ws,
                             const sp_conv2d_epilogue *ep, const float *res)
{
    const size_t P = positions(d), K = col_rows(d);
    const int path = forward_path(d, 1, P, K);
    forward_one(y, x, NULL, pk, NULL, d, P, K, path, ws, ws + image_room(d, P, K, path), ep, res);
}

static void forward_any(float *y, const float *x, const float *weight, const float *bias,
                        const sp_conv2d_desc *d, float *ws, size_t ws_len, const sp_conv2d_epilogue *ep)
{
    int direct = sp_conv3x3_forward_ok(d), batched = !direct && sp_conv3x3_batched_ok(d);
    int T = omp_get_max_threads();
    size_t need = direct ? sp_conv3x3_workspace(d, T) : batched ? sp_conv3x3_forward_batched_floats(d) : fwd_need(d, T);
    float *own = NULL;
    if (!ws || ws_len < need)
        ws = own = sp_malloc(sizeof(float) * (need ? need : 1));
    if (direct)
        sp_conv3x3_forward(y, x, weight, bias, d, ws, ep);
    else if (batched)
        sp_conv3x3_forward_batched(y, x, weight, bias, d, ws, ep);
    else
        forward_ws(y, x, weight, bias, d, ws, ep, NULL);
    free(own);
}

void sp_conv2d_forward(float *y, const float *x, const float *weight, const float *bias,
                       const sp_conv2d_desc *d, float *ws, size_t ws_len)
{
    forward_any(y, x, weight, bias, d, ws, ws_len, NULL);
}

void sp_conv2d_forward_fused(float *y, const float *x, const float *weight, const sp_conv2d_desc *d,
                             float *ws, size_t ws_len, const sp_conv2d_epilogue *ep)
{
    forward_any(y, x, weight, NULL, d, ws, ws_len, ep);
}

/* dy of images [n, n+gn) as one [O, gn*P] matrix: dy itself when gn == 1. */
static const float *gather_dy(float *tmp, const float *dy, int n, size_t gn, size_t O, size_t P)
{
    if (gn == 1)
        return dy + (size_t)n * O * P;
    size_t ld = gn * P;
    for (size_t i = 0; i < gn; i++)
        for (size_t o = 0; o < O; o++)
            memcpy(tmp + o * ld + i * P, dy + ((size_t)(n + (int)i) * O + o) * P, sizeof(float) * P);
    return tmp;
}

void sp_conv2d_backward(float *dx, float *dweight, float *dbias, const float *dy, const float *x,
                        const float *weight, const sp_conv2d_desc *d, float *ws, size_t ws_len)
{
    const size_t O = (size_t)d->o, K = col_rows(d);
    const size_t P = (size_t)sp_conv2d_ho(d) * sp_conv2d_wo(d);
    const size_t xs = (size_t)d->c * d->h * d->w;
    size_t need = sp_conv2d_workspace(d);
    float *own = NULL;
    if (!ws || ws_len < need)
        ws = own = sp_malloc(sizeof(float) * (need ? need : 1));

    if (dbias) {
        /* per channel, in double, images in order: independent of threads */
#pragma omp parallel for schedule(static)
        for (size_t o = 0; o < O; o++) {
            double s = 0;
            for (int n = 0; n < d->n; n++) {
                const float *v = dy + ((size_t)n * O + o) * P;
                float part = 0.0f;
#pragma omp simd reduction(+ : part)
                for (size_t q = 0; q < P; q++)
                    part += v[q];
                s += part;
            }
            dbias[o] = (float)s;
        }
    }

    if (sp_conv3x3_direct_ok(d)) {
        if (dweight || dx)
            sp_conv3x3_backward(dx, dweight, dy, x, weight, d, ws);
        free(own);
        return;
    }
    plan p = make_plan(d, omp_get_max_threads());
    if (dweight) {
        int Tall = 1;
        size_t stride = p.per_thread + p.dw;
#pragma omp parallel num_threads(p.T)
        {
            int T = omp_get_num_threads(), t = omp_get_thread_num();
            float *col = ws + (size_t)t * stride, *tmp = col + p.col, *dw = col + p.per_thread;
            int n0 = (int)((long long)d->n * t / T), n1 = (int)((long long)d->n * (t + 1) / T);
            if (t == 0)
                Tall = T;
            if (n1 == n0)
                memset(dw, 0, sizeof(float) * p.dw);
            for (int n = n0; n < n1; n += (int)p.g) {
                size_t gn = (size_t)(n1 - n) < p.g ? (size_t)(n1 - n) : p.g, ld = gn * P;
                const float *b;
                if (gn == 1 && pointwise(d)) {
                    b = x + (size_t)n * xs;
                } else {
                    gather_cols(col, x, n, gn, K, P, d);
                    b = col;
                }
                const float *a = gather_dy(tmp, dy, n, gn, O, P);
                sp_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)O, (int)K, (int)ld, 1.0f, a,
                         (int)ld, b, (int)ld, n == n0 ? 0.0f : 1.0f, dw, (int)K);
            }
        }
        /* the per-thread partial sums, added in thread order */
        size_t total = O * K;
#pragma omp parallel for schedule(static)
        for (size_t i = 0; i < total; i++) {
            float s = 0.0f;
            for (int t = 0; t < Tall; t++)
                s += ws[(size_t)t * stride + p.per_thread + i];
            dweight[i] = s;
        }
    }

    if (dx && d->n > 0 && !sp_conv3x3_dx_wide(dx, dy, weight, d, ws)) {
        if (flip_ok(d)) {
            /* wf [C, O, kh, kw] = weight [O, C, kh, kw] transposed and rotated 180 degrees */
            float *wf = ws;
            const int kh = d->kh, kw = d->kw, C = d->c;
            for (size_t o = 0; o < O; o++)
                for (int c = 0; c < C; c++)
                    for (int i = 0; i < kh; i++)
                        for (int j = 0; j < kw; j++)
                            wf[(((size_t)c * O + o) * kh + (kh - 1 - i)) * kw + (kw - 1 - j)] =
                                weight[(((o * C) + (size_t)c) * kh + i) * kw + j];
            sp_conv2d_desc f = flip_desc(d);
            forward_ws(dx, dy, wf, NULL, &f, ws + O * K, NULL, NULL);
        } else {
#pragma omp parallel num_threads(p.T)
            {
                int T = omp_get_num_threads(), t = omp_get_thread_num();
                float *dcol = ws + (size_t)t * p.per_thread, *tmp = dcol + p.col;
                int n0 = (int)((long long)d->n * t / T), n1 = (int)((long long)d->n * (t + 1) / T);
                for (int n = n0; n < n1; n += (int)p.g) {
                    size_t gn = (size_t)(n1 - n) < p.g ? (size_t)(n1 - n) : p.g, ld = gn * P;
                    const float *a = gather_dy(tmp, dy, n, gn, O, P);
                    sp_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, (int)K, (int)ld, (int)O, 1.0f,
                             weight, (int)K, a, (int)ld, 0.0f, dcol, (int)ld);
                    for (size_t i = 0; i < gn; i++)
                        col2im(dx + (size_t)(n + (int)i) * xs, dcol + i * P, ld, d);
                }
            }
        }
    }
    free(own);
}

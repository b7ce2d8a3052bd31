/* Grids, bilinear sampling and the spatial transformations (see sp_warp.h).
 *
 * One engine does everything: a grid generator produces the sampling points
 * of one output row (read from a grid tensor, or computed from an affine
 * matrix, a homography or TPS control points), the sampler interpolates all
 * channels of that row, and in the backward the sampler's point gradients
 * go straight back into the generator, which sums its parameter gradient in
 * double.  No grid tensor is ever stored for the fused transformations.
 *
 * Arithmetic follows PyTorch 1.13's CPU kernels (GridSamplerKernel.cpp,
 * AffineGridGenerator.cpp, linspace) operation by operation where it is
 * cheap to do so, so that results agree to a few ulps. */
#include "sp_warp.h"
#include "sp_error.h"
#include "sp_cpu.h"
#include "sp_parallel.h"

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#ifdef __SSE2__
#include <emmintrin.h>
#endif

int sp_padding_parse(const char *name, sp_padding *pad)
{
    if (!strcmp(name, "zeros")) {
        *pad = SP_PAD_ZEROS;
        return 0;
    }
    if (!strcmp(name, "border")) {
        *pad = SP_PAD_BORDER;
        return 0;
    }
    return -1;
}

/* ---- base coordinates ------------------------------------------------------ */

/* torch.linspace(-1, 1, n)[i] in float, as its CPU kernel computes it
 * (from the start for the first half, from the end for the second). */
static float lin_f(int i, int n)
{
    if (n <= 1)
        return -1.0f;
    float step = 2.0f / (float)(n - 1);
    return i < n / 2 ? -1.0f + step * (float)i : 1.0f - step * (float)(n - 1 - i);
}

/* affine_grid's base with align_corners=False: linspace(-1, 1, n) * (n-1) / n
 * (pixel centres), 0 for n == 1. */
static float aff_f(int i, int n)
{
    if (n <= 1)
        return 0.0f;
    return lin_f(i, n) * (float)(n - 1) / (float)n;
}

/* ---- TPS kernel ------------------------------------------------------------ */

/* phi(d2) = 0.5 * d2 * log(d2) = r^2 log r, 0 at r = 0 (the reference masks
 * the NaN of 0 * log 0). */
static double tps_phi(double d2) { return d2 > 0 ? 0.5 * d2 * log(d2) : 0.0; }

/* Inverts a (m x m, row-major) in place by Gauss-Jordan with partial
 * pivoting; fatal when singular. */
static void invert(double *a, int m)
{
    double *inv = sp_calloc((size_t)m * m, sizeof *inv);
    for (int i = 0; i < m; i++)
        inv[i * m + i] = 1;
    for (int col = 0; col < m; col++) {
        int piv = col;
        for (int r = col + 1; r < m; r++)
            if (fabs(a[r * m + col]) > fabs(a[piv * m + col]))
                piv = r;
        if (fabs(a[piv * m + col]) < 1e-300)
            sp_fatal("tps: singular kernel matrix");
        if (piv != col)
            for (int k = 0; k < m; k++) {
                double t = a[col * m + k];
                a[col * m + k] = a[piv * m + k];
                a[piv * m + k] = t;
                t = inv[col * m + k];
                inv[col * m + k] = inv[piv * m + k];
                inv[piv * m + k] = t;
            }
        double d = a[col * m + col];
        for (int k = 0; k < m; k++) {
            a[col * m + k] /= d;
            inv[col * m + k] /= d;
        }
        for (int r = 0; r < m; r++) {
            if (r == col || a[r * m + col] == 0)
                continue;
            double f = a[r * m + col];
            for (int k = 0; k < m; k++) {
                a[r * m + k] -= f * a[col * m + k];
                inv[r * m + k] -= f * inv[col * m + k];
            }
        }
    }
    memcpy(a, inv, (size_t)m * m * sizeof *a);
    free(inv);
}

/* A [h*w, g*g] = R @ inverse_kernel[:, :g*g] (TPSGrid's two products folded
 * into one, since the last 3 rows of its Y are zero). */
static float *tps_build(int h, int w, int g)
{
    int N = g * g, m = N + 3;
    double *cx = sp_malloc(sizeof(double) * N), *cy = sp_malloc(sizeof(double) * N);
    for (int k = 0; k < N; k++) {
        /* meshgrid(linspace(y), linspace(x)) flattened: x fastest */
        cx[k] = -1.0 + 2.0 * (k % g) / (g - 1);
        cy[k] = -1.0 + 2.0 * (k / g) / (g - 1);
    }
    double *K = sp_calloc((size_t)m * m, sizeof *K);
    for (int i = 0; i < N; i++) {
        for (int j = 0; j < N; j++) {
            double dx = cx[i] - cx[j], dy = cy[i] - cy[j];
            K[i * m + j] = tps_phi(dx * dx + dy * dy);
        }
        K[i * m + N] = K[N * m + i] = 1;
        K[i * m + N + 1] = K[(N + 1) * m + i] = cx[i];
        K[i * m + N + 2] = K[(N + 2) * m + i] = cy[i];
    }
    invert(K, m);
    float *A = sp_malloc(sizeof(float) * (size_t)h * w * N);
    double *r = sp_malloc(sizeof(double) * m);
    for (int i = 0; i < h; i++) {
        double ty = h > 1 ? -1.0 + 2.0 * i / (h - 1) : -1.0;
        for (int j = 0; j < w; j++) {
            double tx = w > 1 ? -1.0 + 2.0 * j / (w - 1) : -1.0;
            for (int k = 0; k < N; k++) {
                double dx = tx - cx[k], dy = ty - cy[k];
                r[k] = tps_phi(dx * dx + dy * dy);
            }
            r[N] = 1, r[N + 1] = tx, r[N + 2] = ty;
            float *a = A + ((size_t)i * w + j) * N;
            for (int k = 0; k < N; k++) {
                double s = 0;
                for (int q = 0; q < m; q++)
                    s += r[q] * K[q * m + k];
                a[k] = (float)s;
            }
        }
    }
    free(r);
    free(K);
    free(cx);
    free(cy);
    return A;
}

/* A by rows, each transposed: At [h, N, w] (tps_row8's loads) */
static float *tps_transposed(const float *A, int h, int w, int N)
{
    float *At = sp_malloc(sizeof(float) * (size_t)h * w * N);
    for (size_t i = 0; i < (size_t)h; i++)
        for (size_t k = 0; k < (size_t)N; k++)
            for (size_t j = 0; j < (size_t)w; j++)
                At[(i * N + k) * w + j] = A[(i * w + j) * N + k];
    return At;
}

/* Built matrices (A and its transposed rows) are kept for the life of the
 * process (a model uses one or two sizes); past the cache size the caller
 * gets its own copies to free. */
#define TPS_CACHE 32
static struct {
    int h, w, g;
    float *A, *At;
} tps_cache[TPS_CACHE];
static int tps_cached;

/* A and At for (h, w, g): the cache's, or built for the caller to free
 * (*ownA, *ownAt; ownAt NULL: At is not wanted past the cache) */
static void tps_matrices(int h, int w, int g, const float **A, const float **At, float **ownA, float **ownAt)
{
    *A = *At = NULL;
    *ownA = NULL;
    if (ownAt)
        *ownAt = NULL;
#pragma omp critical(sp_tps_cache)
    {
        for (int i = 0; i < tps_cached && !*A; i++)
            if (tps_cache[i].h == h && tps_cache[i].w == w && tps_cache[i].g == g) {
                *A = tps_cache[i].A;
                *At = tps_cache[i].At;
            }
        if (!*A && tps_cached < TPS_CACHE) {
            float *B = tps_build(h, w, g);
            tps_cache[tps_cached].h = h;
            tps_cache[tps_cached].w = w;
            tps_cache[tps_cached].g = g;
            tps_cache[tps_cached].A = B;
            tps_cache[tps_cached++].At = tps_transposed(B, h, w, g * g);
            *A = B;
            *At = tps_cache[tps_cached - 1].At;
        }
    }
    if (!*A) {
        *A = *ownA = tps_build(h, w, g);
        if (ownAt) /* a caller of A alone (sp_tps_matrix) wants no copy */
            *At = *ownAt = tps_transposed(*A, h, w, g * g);
    }
}

const float *sp_tps_matrix(int h, int w, int g, float **owned)
{
    const float *A, *At;
    tps_matrices(h, w, g, &A, &At, owned, NULL);
    return A;
}

static void check_g(int g)
{
    if (g < 2 || g > SP_TPS_MAX_G)
        sp_fatal("tps: grid size %d, expected 2 to %d", g, SP_TPS_MAX_G);
}

/* ---- grid generators ------------------------------------------------------- */

enum { GEN_GRID, GEN_AFFINE, GEN_HOMOGRAPHY, GEN_TPS };
#define MAXP (2 * SP_TPS_MAX_G * SP_TPS_MAX_G)

/* What is shared by the images of one call. */
typedef struct {
    int kind;
    int h, w;
    float *bx, *by; /* base coordinates, [w] and [h] (affine / homography) */
    const float *A; /* GEN_TPS: [h*w, np/2] */
    const float *At; /* GEN_TPS: A by rows, each transposed: [h, np/2, w] (tps_row8) */
    float *A_owned, *At_owned;
    int np; /* parameters per image: 6, 9 or 2 g^2 */
} plan_t;

/* One image's generator: its parameters and their gradient. */
typedef struct {
    const float *grid; /* GEN_GRID: this image's [h,w,2] */
    float *dgrid;      /* GEN_GRID backward, or NULL */
    float p[MAXP];
    double dp[MAXP];
} gen_t;

static void plan_init(plan_t *pl, int kind, int h, int w, int g)
{
    memset(pl, 0, sizeof *pl);
    pl->kind = kind;
    pl->h = h;
    pl->w = w;
    if (kind == GEN_AFFINE || kind == GEN_HOMOGRAPHY) {
        pl->bx = sp_malloc(sizeof(float) * (size_t)(w ? w : 1));
        pl->by = sp_malloc(sizeof(float) * (size_t)(h ? h : 1));
        for (int j = 0; j < w; j++)
            pl->bx[j] = kind == GEN_AFFINE ? aff_f(j, w) : lin_f(j, w);
        for (int i = 0; i < h; i++)
            pl->by[i] = kind == GEN_AFFINE ? aff_f(i, h) : lin_f(i, h);
        pl->np = kind == GEN_AFFINE ? 6 : 9;
    } else if (kind == GEN_TPS) {
        check_g(g);
        pl->np = 2 * g * g;
        if ((size_t)h * w > 0)
            tps_matrices(h, w, g, &pl->A, &pl->At, &pl->A_owned, &pl->At_owned);
    }
}

static void plan_free(plan_t *pl)
{
    free(pl->bx);
    free(pl->by);
    free(pl->A_owned);
    free(pl->At_owned);
}

static int warp_scalar; /* sp_warp_force_scalar: 1 point by point, 2 AVX2 at most */

#ifdef __x86_64__
#include <immintrin.h>

/* the 8-lane forms: AVX2 there, and not held to the scalar loops */
static int warp_avx2(void)
{
    return warp_scalar != 1 && sp_cpu_avx2();
}

/* the 16-lane forms: AVX-512 there, and not held to AVX2 or less */
static int warp_wide(void)
{
    return warp_scalar == 0 && sp_cpu_avx512f();
}

/* A homography's row (y = by) from its first point: gen_row's operations lane by
 * lane (no fused multiply-add; the same division and test), so the same
 * bits, 8 at a time; returns where it stopped (the rest: gen_row's loop). */
__attribute__((target("avx2"))) static int homography_row8(const plan_t *pl, const float *p, float y, float *gx,
                                                           float *gy)
{
    const __m256 p0 = _mm256_set1_ps(p[0]), p3 = _mm256_set1_ps(p[3]), p6 = _mm256_set1_ps(p[6]);
    const __m256 p1y = _mm256_set1_ps(p[1] * y), p4y = _mm256_set1_ps(p[4] * y), p7y = _mm256_set1_ps(p[7] * y);
    const __m256 p2 = _mm256_set1_ps(p[2]), p5 = _mm256_set1_ps(p[5]), p8 = _mm256_set1_ps(p[8]);
    const __m256 eps = _mm256_set1_ps(1e-8f), one = _mm256_set1_ps(1.0f);
    const __m256 nosign = _mm256_castsi256_ps(_mm256_set1_epi32(0x7fffffff));
    int j = 0;
    for (; j + 8 <= pl->w; j += 8) {
        const __m256 x = _mm256_loadu_ps(pl->bx + j);
        const __m256 px = _mm256_add_ps(_mm256_add_ps(_mm256_mul_ps(p0, x), p1y), p2);
        const __m256 py = _mm256_add_ps(_mm256_add_ps(_mm256_mul_ps(p3, x), p4y), p5);
        const __m256 pz = _mm256_add_ps(_mm256_add_ps(_mm256_mul_ps(p6, x), p7y), p8);
        const __m256 far = _mm256_cmp_ps(_mm256_and_ps(pz, nosign), eps, _CMP_GT_OQ);
        const __m256 sc = _mm256_blendv_ps(one, _mm256_div_ps(one, _mm256_add_ps(pz, eps)), far);
        _mm256_storeu_ps(gx + j, _mm256_mul_ps(sc, px));
        _mm256_storeu_ps(gy + j, _mm256_mul_ps(sc, py));
    }
    return j;
}

/* A TPS row (i) 8 points at a time from the transposed matrix: each lane
 * gen_row's sums in its order (four partial sums over k = q mod 4, the
 * rest into the first, then paired; products and sums not fused), so the
 * same bits; the row's last points masked.  gen_row's sums point by
 * point (4 lanes of 16 products) were 3% of GTSRB-8's inference. */
__attribute__((target("avx2"))) static void tps_row8(const plan_t *pl, const float *p, int i, float *gx, float *gy)
{
    const int N = pl->np / 2, w = pl->w;
    const float *at = pl->At + (size_t)i * N * w, *px = p, *py = p + N;
    for (int j = 0; j < w; j += 8) {
        /* the row's last points: lanes past its end masked off */
        const __m256i in = _mm256_cmpgt_epi32(_mm256_set1_epi32(w - j), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
        __m256 sx[4], sy[4];
        #pragma GCC unroll 4
        for (int q = 0; q < 4; q++)
            sx[q] = sy[q] = _mm256_setzero_ps();
        int k = 0;
        for (; k + 4 <= N; k += 4)
            #pragma GCC unroll 4 /* the accumulators in registers, not an array in memory */
            for (int q = 0; q < 4; q++) {
                const __m256 a = _mm256_maskload_ps(at + (size_t)(k + q) * w + j, in);
                sx[q] = _mm256_add_ps(sx[q], _mm256_mul_ps(a, _mm256_set1_ps(px[k + q])));
                sy[q] = _mm256_add_ps(sy[q], _mm256_mul_ps(a, _mm256_set1_ps(py[k + q])));
            }
        for (; k < N; k++) {
            const __m256 a = _mm256_maskload_ps(at + (size_t)k * w + j, in);
            sx[0] = _mm256_add_ps(sx[0], _mm256_mul_ps(a, _mm256_set1_ps(px[k])));
            sy[0] = _mm256_add_ps(sy[0], _mm256_mul_ps(a, _mm256_set1_ps(py[k])));
        }
        _mm256_maskstore_ps(gx + j, in, _mm256_add_ps(_mm256_add_ps(sx[0], sx[1]), _mm256_add_ps(sx[2], sx[3])));
        _mm256_maskstore_ps(gy + j, in, _mm256_add_ps(_mm256_add_ps(sy[0], sy[1]), _mm256_add_ps(sy[2], sy[3])));
    }
}

/* tps_row8 32 points at a time (two 16-lane vectors, the second masked
 * where the row is shorter), the same sums lane by lane: each (px[k],
 * py[k]) is broadcast once for 32 points instead of four times, and a
 * 28-point row (GTSRB-8) is one pass with 16 accumulators. */
#define TPS_ACC(s0, s1, q, a, k)                                                                    \
    do {                                                                                           \
        const __m512 bx_ = _mm512_set1_ps(px[k]), by_ = _mm512_set1_ps(py[k]);                     \
        s0[q] = _mm512_add_ps(s0[q], _mm512_mul_ps(a, bx_));                                       \
        s1[q] = _mm512_add_ps(s1[q], _mm512_mul_ps(a, by_));                                       \
    } while (0)
__attribute__((target("avx512f"))) static void tps_row16(const plan_t *pl, const float *p, int i, float *gx,
                                                         float *gy)
{
    const int N = pl->np / 2, w = pl->w;
    const float *at = pl->At + (size_t)i * N * w, *px = p, *py = p + N;
    for (int j = 0; j < w; j += 32) {
        const int n0 = w - j < 16 ? w - j : 16, n1 = w - j - 16 <= 0 ? 0 : w - j - 16 < 16 ? w - j - 16 : 16;
        const __mmask16 m0 = (__mmask16)((1u << n0) - 1u), m1 = (__mmask16)((1u << n1) - 1u);
        __m512 sx0[4], sy0[4], sx1[4], sy1[4];
        #pragma GCC unroll 4
        for (int q = 0; q < 4; q++)
            sx0[q] = sy0[q] = sx1[q] = sy1[q] = _mm512_setzero_ps();
        int k = 0;
        for (; k + 4 <= N; k += 4)
            #pragma GCC unroll 4 /* the accumulators in registers, not an array in memory */
            for (int q = 0; q < 4; q++) {
                const float *ak = at + (size_t)(k + q) * w + j;
                const __m512 a0 = _mm512_maskz_loadu_ps(m0, ak), a1 = _mm512_maskz_loadu_ps(m1, ak + 16);
                TPS_ACC(sx0, sy0, q, a0, k + q);
                TPS_ACC(sx1, sy1, q, a1, k + q);
            }
        for (; k < N; k++) {
            const float *ak = at + (size_t)k * w + j;
            const __m512 a0 = _mm512_maskz_loadu_ps(m0, ak), a1 = _mm512_maskz_loadu_ps(m1, ak + 16);
            TPS_ACC(sx0, sy0, 0, a0, k);
            TPS_ACC(sx1, sy1, 0, a1, k);
        }
        _mm512_mask_storeu_ps(gx + j, m0, _mm512_add_ps(_mm512_add_ps(sx0[0], sx0[1]), _mm512_add_ps(sx0[2], sx0[3])));
        _mm512_mask_storeu_ps(gy + j, m0, _mm512_add_ps(_mm512_add_ps(sy0[0], sy0[1]), _mm512_add_ps(sy0[2], sy0[3])));
        _mm512_mask_storeu_ps(gx + j + 16, m1,
                              _mm512_add_ps(_mm512_add_ps(sx1[0], sx1[1]), _mm512_add_ps(sx1[2], sx1[3])));
        _mm512_mask_storeu_ps(gy + j + 16, m1,
                              _mm512_add_ps(_mm512_add_ps(sy1[0], sy1[1]), _mm512_add_ps(sy1[2], sy1[3])));
    }
}
#undef TPS_ACC
#endif

/* Grid points of output row i into gx[w], gy[w]. */
static void gen_row(const plan_t *pl, const gen_t *g, int i, float *gx, float *gy)
{
    int w = pl->w;
    const float *p = g->p;
    switch (pl->kind) {
    case GEN_GRID: {
        const float *q = g->grid + (size_t)i * w * 2;
        for (int j = 0; j < w; j++) {
            gx[j] = q[2 * j];
            gy[j] = q[2 * j + 1];
        }
        break;
    }
    case GEN_AFFINE: {
        /* affine_grid: base (x, y, 1) times theta^T; the parameters in
         * locals, so that the compiler sees no aliasing and uses vectors
         * (the same operations) */
        const float y = pl->by[i], a0 = p[0], a1y = p[1] * y, a2 = p[2], a3 = p[3], a4y = p[4] * y, a5 = p[5];
        const float *bx = pl->bx;
#pragma omp simd
        for (int j = 0; j < w; j++) {
            gx[j] = a0 * bx[j] + a1y + a2;
            gy[j] = a3 * bx[j] + a4y + a5;
        }
        break;
    }
    case GEN_HOMOGRAPHY: {
        float y = pl->by[i];
        int j = 0;
#ifdef __x86_64__
        if (warp_avx2())
            j = homography_row8(pl, p, y, gx, gy);
#endif
        for (; j < w; j++) {
            float x = pl->bx[j];
            float px = p[0] * x + p[1] * y + p[2];
            float py = p[3] * x + p[4] * y + p[5];
            float pz = p[6] * x + p[7] * y + p[8];
            float sc = fabsf(pz) > 1e-8f ? 1.0f / (pz + 1e-8f) : 1.0f;
            gx[j] = sc * px;
            gy[j] = sc * py;
        }
        break;
    }
    case GEN_TPS: {
        /* g->p holds the points deinterleaved: x of every point, then y */
        const int N = pl->np / 2;
#ifdef __x86_64__
        if (warp_wide()) {
            tps_row16(pl, p, i, gx, gy);
            break;
        }
        if (warp_avx2()) {
            tps_row8(pl, p, i, gx, gy);
            break;
        }
#endif
        const float *a = pl->A + (size_t)i * w * N, *px = p, *py = p + N;
        for (int j = 0; j < w; j++, a += N) {
            /* four partial sums, so that the compiler can use vectors */
            float sx[4] = {0, 0, 0, 0}, sy[4] = {0, 0, 0, 0};
            int k = 0;
            for (; k + 4 <= N; k += 4)
                for (int q = 0; q < 4; q++) {
                    sx[q] += a[k + q] * px[k + q];
                    sy[q] += a[k + q] * py[k + q];
                }
            for (; k < N; k++) {
                sx[0] += a[k] * px[k];
                sy[0] += a[k] * py[k];
            }
            gx[j] = (sx[0] + sx[1]) + (sx[2] + sx[3]);
            gy[j] = (sy[0] + sy[1]) + (sy[2] + sy[3]);
        }
        break;
    }
    }
}

/* Gradient of row i's points (dgx, dgy) into the generator's parameters. */
static void gen_row_backward(const plan_t *pl, gen_t *g, int i, const float *dgx, const float *dgy)
{
    int w = pl->w;
    const float *p = g->p;
    double *dp = g->dp;
    switch (pl->kind) {
    case GEN_GRID:
        if (g->dgrid) {
            float *q = g->dgrid + (size_t)i * w * 2;
            for (int j = 0; j < w; j++) {
                q[2 * j] = dgx[j];
                q[2 * j + 1] = dgy[j];
            }
        }
        break;
    case GEN_AFFINE: {
        double y = pl->by[i], sx = 0, sxx = 0, sy = 0, syx = 0;
        for (int j = 0; j < w; j++) {
            double x = pl->bx[j];
            sx += dgx[j];
            sxx += dgx[j] * x;
            sy += dgy[j];
            syx += dgy[j] * x;
        }
        dp[0] += sxx;
        dp[1] += sx * y;
        dp[2] += sx;
        dp[3] += syx;
        dp[4] += sy * y;
        dp[5] += sy;
        break;
    }
    case GEN_HOMOGRAPHY: {
        float y = pl->by[i];
        for (int j = 0; j < w; j++) {
            float x = pl->bx[j];
            float px = p[0] * x + p[1] * y + p[2];
            float py = p[3] * x + p[4] * y + p[5];
            float pz = p[6] * x + p[7] * y + p[8];
            int m = fabsf(pz) > 1e-8f;
            double sc = m ? 1.0f / (pz + 1e-8f) : 1.0f;
            double dpx = dgx[j] * sc, dpy = dgy[j] * sc;
            double dpz = m ? -((double)dgx[j] * px + (double)dgy[j] * py) * sc * sc : 0.0;
            dp[0] += dpx * x, dp[1] += dpx * y, dp[2] += dpx;
            dp[3] += dpy * x, dp[4] += dpy * y, dp[5] += dpy;
            dp[6] += dpz * x, dp[7] += dpz * y, dp[8] += dpz;
        }
        break;
    }
    case GEN_TPS: {
        /* the row's sums in float (at most w terms), then into double */
        const int N = pl->np / 2;
        const float *a = pl->A + (size_t)i * w * N;
        float rx[SP_TPS_MAX_G * SP_TPS_MAX_G], ry[SP_TPS_MAX_G * SP_TPS_MAX_G];
        for (int k = 0; k < N; k++)
            rx[k] = ry[k] = 0.0f;
        for (int j = 0; j < w; j++, a += N) {
            const float gx = dgx[j], gy = dgy[j];
            if (gx == 0.0f && gy == 0.0f)
                continue;
            for (int k = 0; k < N; k++) {
                rx[k] += a[k] * gx;
                ry[k] += a[k] * gy;
            }
        }
        for (int k = 0; k < N; k++) {
            dp[k] += rx[k];
            dp[N + k] += ry[k];
        }
        break;
    }
    }
}

/* ---- the bilinear sampler -------------------------------------------------- */

/* One sampling point, as PyTorch's CPU kernel computes it: the four
 * corners' offsets in the input plane (0 for a corner outside, whose weight
 * is then 0), their interpolation weights, and (backward) the derivatives
 * of the weights with respect to the grid coordinates, times the
 * unnormalisation scale and, for 'border', the clipping gradient (0 where
 * clipped, the border included). */
typedef struct {
    int32_t o[4]; /* nw, ne, sw, se */
    float w[4];
    float cx[4], cy[4];
} point;

typedef struct {
    int hin, win;
    float sx, sy;     /* size / 2 */
    float maxx, maxy; /* size - 1 */
    int border;
} sampler;

static void sampler_init(sampler *sm, const sp_warp_shape *s)
{
    sm->hin = s->hin;
    sm->win = s->win;
    sm->sx = (float)s->win / 2;
    sm->sy = (float)s->hin / 2;
    sm->maxx = (float)(s->win - 1);
    sm->maxy = (float)(s->hin - 1);
    sm->border = s->pad == SP_PAD_BORDER;
}

static inline int ifloor(float v)
{
    int i = (int)v;
    return (float)i > v ? i - 1 : i;
}

/* Fills pt for grid point (gx, gy); returns 0 when the point reads nothing
 * and has no gradient ('zeros' and every corner outside: ix < -1 or
 * ix >= win, likewise y; NaN too), 2 when its four corners are all inside
 * (offsets o, o+1, o+win, o+win+1), else 1. */
static inline __attribute__((always_inline)) int point_setup(point *pt, const sampler *sm, float gx, float gy, int grad)
{
    /* unnormalize, align_corners=False: ((g + 1) * size/2) - 0.5 */
    float ix = (gx + 1.0f) * sm->sx - 0.5f;
    float iy = (gy + 1.0f) * sm->sy - 0.5f;
    float mx = sm->sx, my = sm->sy;
    if (sm->border) {
        /* clip to [0, size-1] (NaN to 0, as PyTorch's forward); the
         * gradient is 0 where clipped, borders included */
        ix = ix > 0.0f ? ix : 0.0f;
        if (ix == 0.0f)
            mx = 0;
        if (ix >= sm->maxx)
            ix = sm->maxx, mx = 0;
        iy = iy > 0.0f ? iy : 0.0f;
        if (iy == 0.0f)
            my = 0;
        if (iy >= sm->maxy)
            iy = sm->maxy, my = 0;
    } else if (!(ix >= -1.0f && ix < (float)sm->win && iy >= -1.0f && iy < (float)sm->hin)) {
        return 0;
    }
    int x0 = ifloor(ix), y0 = ifloor(iy);
    float we = ix - (float)x0, ea = 1.0f - we; /* distances to the west / east sides */
    float no = iy - (float)y0, so = 1.0f - no; /* to the north / south sides */
    int32_t base = (int32_t)y0 * sm->win + x0;
    pt->w[0] = so * ea, pt->w[1] = so * we, pt->w[2] = no * ea, pt->w[3] = no * we;
    pt->o[0] = base, pt->o[1] = base + 1, pt->o[2] = base + sm->win, pt->o[3] = base + sm->win + 1;
    if (grad) {
        pt->cx[0] = -so * mx, pt->cx[1] = so * mx, pt->cx[2] = -no * mx, pt->cx[3] = no * mx;
        pt->cy[0] = -ea * my, pt->cy[1] = -we * my, pt->cy[2] = ea * my, pt->cy[3] = we * my;
    }
    if (x0 >= 0 && x0 + 1 < sm->win && y0 >= 0 && y0 + 1 < sm->hin)
        return 2; /* all four corners inside: the common case */
    int vw = x0 >= 0 && x0 < sm->win, ve = x0 + 1 >= 0 && x0 + 1 < sm->win;
    int vn = y0 >= 0 && y0 < sm->hin, vs = y0 + 1 >= 0 && y0 + 1 < sm->hin;
    int v[4] = {vw && vn, ve && vn, vw && vs, ve && vs};
    for (int k = 0; k < 4; k++)
        if (!v[k]) {
            pt->o[k] = 0;
            pt->w[k] = 0.0f;
            pt->cx[k] = pt->cy[k] = 0.0f;
        }
    return 1;
}

#ifdef __SSE2__
/* The four corners of an inside point as one vector: two pairs of
 * neighbours, (nw, ne) and (sw, se). */
static inline __m128 load_corners(const float *p, int win)
{
    __m128 v = _mm_loadl_pi(_mm_setzero_ps(), (const __m64 *)p);
    return _mm_loadh_pi(v, (const __m64 *)(p + win));
}
static inline float hsum(__m128 v)
{
    __m128 s = _mm_add_ps(v, _mm_movehl_ps(v, v));
    return _mm_cvtss_f32(_mm_add_ss(s, _mm_shuffle_ps(s, s, 1)));
}
#endif

#ifdef __x86_64__
#include <immintrin.h>

/* Eight grid points (gx, gy) as point_setup sees them, lane by lane: which
 * read anything ('zeros' padding: -1 <= ix < win, likewise y; false for
 * NaN), the nw corner's column and row (fx, fy), which corners are inside
 * (v0..v3: nw, ne, sw, se) and their weights, 0 outside (w0..w3) */
typedef struct {
    __m256 reads, fx, fy, v0, v1, v2, v3, w0, w1, w2, w3;
} points8;

__attribute__((target("avx2"), always_inline)) static inline points8 points8_setup(__m256 gx, __m256 gy,
                                                                                  const sampler *sm)
{
    const __m256 one = _mm256_set1_ps(1.0f), half = _mm256_set1_ps(0.5f), zero = _mm256_setzero_ps();
    const __m256 m1 = _mm256_set1_ps(-1.0f), fwin = _mm256_set1_ps((float)sm->win), fhin = _mm256_set1_ps((float)sm->hin);
    __m256 ix = _mm256_sub_ps(_mm256_mul_ps(_mm256_add_ps(gx, one), _mm256_set1_ps(sm->sx)), half);
    __m256 iy = _mm256_sub_ps(_mm256_mul_ps(_mm256_add_ps(gy, one), _mm256_set1_ps(sm->sy)), half);
    points8 t;
    if (sm->border) { /* NaN to 0 as point_setup: max returns its second operand */
        ix = _mm256_min_ps(_mm256_max_ps(ix, zero), _mm256_set1_ps(sm->maxx));
        iy = _mm256_min_ps(_mm256_max_ps(iy, zero), _mm256_set1_ps(sm->maxy));
        t.reads = _mm256_castsi256_ps(_mm256_set1_epi32(-1));
    } else { /* false for NaN */
        t.reads = _mm256_and_ps(_mm256_and_ps(_mm256_cmp_ps(ix, m1, _CMP_GE_OQ), _mm256_cmp_ps(ix, fwin, _CMP_LT_OQ)),
                                _mm256_and_ps(_mm256_cmp_ps(iy, m1, _CMP_GE_OQ), _mm256_cmp_ps(iy, fhin, _CMP_LT_OQ)));
    }
    /* which columns x0, x0 + 1 and rows y0, y0 + 1 are inside, compared as
     * floats so that far points cannot overflow an int (false for NaN) */
    t.fx = _mm256_floor_ps(ix), t.fy = _mm256_floor_ps(iy);
    const __m256 fx1 = _mm256_add_ps(t.fx, one), fy1 = _mm256_add_ps(t.fy, one);
    const __m256 vw = _mm256_and_ps(_mm256_cmp_ps(t.fx, zero, _CMP_GE_OQ), _mm256_cmp_ps(t.fx, fwin, _CMP_LT_OQ));
    const __m256 ve = _mm256_and_ps(_mm256_cmp_ps(fx1, zero, _CMP_GE_OQ), _mm256_cmp_ps(fx1, fwin, _CMP_LT_OQ));
    const __m256 vn = _mm256_and_ps(_mm256_cmp_ps(t.fy, zero, _CMP_GE_OQ), _mm256_cmp_ps(t.fy, fhin, _CMP_LT_OQ));
    const __m256 vs = _mm256_and_ps(_mm256_cmp_ps(fy1, zero, _CMP_GE_OQ), _mm256_cmp_ps(fy1, fhin, _CMP_LT_OQ));
    t.v0 = _mm256_and_ps(vw, vn), t.v1 = _mm256_and_ps(ve, vn), t.v2 = _mm256_and_ps(vw, vs), t.v3 = _mm256_and_ps(ve, vs);
    const __m256 we = _mm256_sub_ps(ix, t.fx), ea = _mm256_sub_ps(one, we);
    const __m256 no = _mm256_sub_ps(iy, t.fy), so = _mm256_sub_ps(one, no);
    t.w0 = _mm256_and_ps(t.v0, _mm256_mul_ps(so, ea)), t.w1 = _mm256_and_ps(t.v1, _mm256_mul_ps(so, we));
    t.w2 = _mm256_and_ps(t.v2, _mm256_mul_ps(no, ea)), t.w3 = _mm256_and_ps(t.v3, _mm256_mul_ps(no, we));
    return t;
}

/* Eight points j..j+7 of a row, all channels: the same operations as
 * point_setup and row_forward's point-by-point loop, lane by lane (no fused
 * multiply-add), so the same bits.  Points with four corners inside sum
 * (nw w0 + sw w2) + (ne w1 + se w3) as the SSE path, the others
 * ((nw w0 + ne w1) + sw w2) + se w3 with their outside corners read at
 * offset 0 with weight 0 as point_setup leaves them, and points that read
 * nothing ('zeros' padding) are 0.  When all eight are inside, each corner
 * pair (nw, ne) or (sw, se) is one 64-bit gather: the points go 0,1,4,5 into
 * one vector and 2,3,6,7 into the other, so that one shuffle per lane half
 * puts the eight back in order. */
__attribute__((target("avx2"))) static void row_forward8(float *yr, const float *x, const float *gx,
                                                          const float *gy, const sampler *sm, int C,
                                                          size_t in_plane, size_t out_plane)
{
    const points8 t = points8_setup(_mm256_loadu_ps(gx), _mm256_loadu_ps(gy), sm);
    const __m256 reads = t.reads, fx = t.fx, fy = t.fy, v0 = t.v0, v1 = t.v1, v2 = t.v2, v3 = t.v3;
    const __m256 w0 = t.w0, w1 = t.w1, w2 = t.w2, w3 = t.w3;
    if (!sm->border && _mm256_movemask_ps(reads) == 0) {
        for (int c = 0; c < C; c++)
            _mm256_storeu_ps(yr + c * out_plane, _mm256_setzero_ps());
        return;
    }
    const __m256 all4 = _mm256_and_ps(_mm256_and_ps(v0, v1), _mm256_and_ps(v2, v3));
    /* the offsets of lanes with no valid corner are never used */
    const __m256 any = _mm256_or_ps(_mm256_or_ps(v0, v1), _mm256_or_ps(v2, v3));
    const __m256i base = _mm256_and_si256(
        _mm256_castps_si256(any),
        _mm256_add_epi32(_mm256_mullo_epi32(_mm256_cvttps_epi32(_mm256_and_ps(any, fy)), _mm256_set1_epi32(sm->win)),
                         _mm256_cvttps_epi32(_mm256_and_ps(any, fx))));
    const float *xc = x;
    if (_mm256_movemask_ps(all4) == 0xff) {
        /* points 0,1,4,5 and 2,3,6,7 */
        const __m128i ia =
            _mm256_castsi256_si128(_mm256_permutevar8x32_epi32(base, _mm256_setr_epi32(0, 1, 4, 5, 0, 0, 0, 0)));
        const __m128i ib =
            _mm256_castsi256_si128(_mm256_permutevar8x32_epi32(base, _mm256_setr_epi32(2, 3, 6, 7, 0, 0, 0, 0)));
        const __m128i sa = _mm_add_epi32(ia, _mm_set1_epi32(sm->win)), sb = _mm_add_epi32(ib, _mm_set1_epi32(sm->win));
        for (int c = 0; c < C; c++, xc += in_plane) {
            const double *d = (const double *)(const void *)xc;
            __m256 na = _mm256_castpd_ps(_mm256_i32gather_pd(d, ia, 4)), nb = _mm256_castpd_ps(_mm256_i32gather_pd(d, ib, 4));
            __m256 ta = _mm256_castpd_ps(_mm256_i32gather_pd(d, sa, 4)), tb = _mm256_castpd_ps(_mm256_i32gather_pd(d, sb, 4));
            const __m256 nw = _mm256_shuffle_ps(na, nb, 0x88), ne = _mm256_shuffle_ps(na, nb, 0xdd);
            const __m256 sw = _mm256_shuffle_ps(ta, tb, 0x88), se = _mm256_shuffle_ps(ta, tb, 0xdd);
            const __m256 v = _mm256_add_ps(_mm256_add_ps(_mm256_mul_ps(nw, w0), _mm256_mul_ps(sw, w2)),
                                           _mm256_add_ps(_mm256_mul_ps(ne, w1), _mm256_mul_ps(se, w3)));
            _mm256_storeu_ps(yr + c * out_plane, v);
        }
        return;
    }
    const __m256i win = _mm256_set1_epi32(sm->win), i1 = _mm256_set1_epi32(1);
    const __m256i o0 = _mm256_and_si256(_mm256_castps_si256(v0), base);
    const __m256i o1 = _mm256_and_si256(_mm256_castps_si256(v1), _mm256_add_epi32(base, i1));
    const __m256i o2 = _mm256_and_si256(_mm256_castps_si256(v2), _mm256_add_epi32(base, win));
    const __m256i o3 = _mm256_and_si256(_mm256_castps_si256(v3), _mm256_add_epi32(_mm256_add_epi32(base, win), i1));
    for (int c = 0; c < C; c++, xc += in_plane) {
        const __m256 p0 = _mm256_mul_ps(_mm256_i32gather_ps(xc, o0, 4), w0);
        const __m256 p1 = _mm256_mul_ps(_mm256_i32gather_ps(xc, o1, 4), w1);
        const __m256 p2 = _mm256_mul_ps(_mm256_i32gather_ps(xc, o2, 4), w2);
        const __m256 p3 = _mm256_mul_ps(_mm256_i32gather_ps(xc, o3, 4), w3);
        const __m256 inside = _mm256_add_ps(_mm256_add_ps(p0, p2), _mm256_add_ps(p1, p3));
        const __m256 edge = _mm256_add_ps(_mm256_add_ps(_mm256_add_ps(p0, p1), p2), p3);
        _mm256_storeu_ps(yr + c * out_plane, _mm256_and_ps(reads, _mm256_blendv_ps(edge, inside, all4)));
    }
}
#endif

#ifdef __x86_64__
/* The 16-lane forward sampler reads an image as a padded array of pixels
 * (sp_warp.c's "AoS" copy): cell (r + 1, k + 1) of a (hin + 2) x (win + 2)
 * grid holds pixel (r, k)'s channels in 4 floats (C <= 4; the others 0),
 * so that a point's two northern corners are 8 consecutive floats, as are
 * its two southern ones: two loads a point where the planes took four
 * gathered values a channel (gtsrb8's candidates: 4 channels, 28 x 28,
 * ~30 cycles a point).  The ring around the image holds each channel's
 * value at pixel (0, 0): a corner outside the image is read there with
 * weight 0, the value row_forward8 and point_setup read for it (offset 0),
 * so the same products, signed zeros included.  AOS_SLACK: the last row's
 * vector stores may run past its ring cell. */
#define AOS_SLACK 64

static size_t aos_floats(int hin, int win)
{
    return 4 * (size_t)(hin + 2) * (size_t)(win + 2) + AOS_SLACK;
}

/* a (aos_floats) from image x [C, hin, win]: rows 16 pixels at a time
 * (a 4 x 16 transpose), then the ring */
__attribute__((target("avx512f"))) static void aos_fill(float *a, const float *x, int C, int hin, int win)
{
    const size_t plane = (size_t)hin * win, pw = (size_t)win + 2;
    const __m512 zero = _mm512_setzero_ps();
    for (int r = 0; r < hin; r++) {
        float *row = a + 4 * ((size_t)(r + 1) * pw + 1);
        const float *xr = x + (size_t)r * win;
        for (int k = 0; k < win; k += 16) {
            const int left = win - k;
            const __mmask16 m = left >= 16 ? (__mmask16)0xffff : (__mmask16)((1u << left) - 1u);
            const __m512 r0 = _mm512_maskz_loadu_ps(m, xr + k);
            const __m512 r1 = C > 1 ? _mm512_maskz_loadu_ps(m, xr + plane + k) : zero;
            const __m512 r2 = C > 2 ? _mm512_maskz_loadu_ps(m, xr + 2 * plane + k) : zero;
            const __m512 r3 = C > 3 ? _mm512_maskz_loadu_ps(m, xr + 3 * plane + k) : zero;
            const __m512 t0 = _mm512_unpacklo_ps(r0, r1), t1 = _mm512_unpackhi_ps(r0, r1);
            const __m512 t2 = _mm512_unpacklo_ps(r2, r3), t3 = _mm512_unpackhi_ps(r2, r3);
            /* u0..u3: pixels 4L, 4L + 1, 4L + 2, 4L + 3 in 128-bit block L */
            const __m512 u0 = _mm512_shuffle_ps(t0, t2, 0x44), u1 = _mm512_shuffle_ps(t0, t2, 0xee);
            const __m512 u2 = _mm512_shuffle_ps(t1, t3, 0x44), u3 = _mm512_shuffle_ps(t1, t3, 0xee);
            const __m512 v0 = _mm512_shuffle_f32x4(u0, u1, 0x44), v1 = _mm512_shuffle_f32x4(u0, u1, 0xee);
            const __m512 v2 = _mm512_shuffle_f32x4(u2, u3, 0x44), v3 = _mm512_shuffle_f32x4(u2, u3, 0xee);
            float *o = row + 4 * (size_t)k;
            _mm512_storeu_ps(o, _mm512_shuffle_f32x4(v0, v2, 0x88));
            if (left > 4)
                _mm512_storeu_ps(o + 16, _mm512_shuffle_f32x4(v0, v2, 0xdd));
            if (left > 8)
                _mm512_storeu_ps(o + 32, _mm512_shuffle_f32x4(v1, v3, 0x88));
            if (left > 12)
                _mm512_storeu_ps(o + 48, _mm512_shuffle_f32x4(v1, v3, 0xdd));
        }
    }
    float pad[4] = {0.0f, 0.0f, 0.0f, 0.0f};
    for (int c = 0; c < C; c++)
        pad[c] = x[(size_t)c * plane];
    const __m128 pv = _mm_loadu_ps(pad);
    for (size_t k = 0; k < pw; k++) {
        _mm_storeu_ps(a + 4 * k, pv);
        _mm_storeu_ps(a + 4 * ((size_t)(hin + 1) * pw + k), pv);
    }
    for (int r = 1; r <= hin; r++) {
        _mm_storeu_ps(a + 4 * ((size_t)r * pw), pv);
        _mm_storeu_ps(a + 4 * ((size_t)r * pw + pw - 1), pv);
    }
}

/* Output row yr's points 0..w-1 (8 at a time, the last ones masked) from
 * the padded pixels a (aos_fill): row_forward8's coordinates, validity and
 * weights lane by lane, then two points a vector: [nw | ne] x [w0 | w1]
 * and [sw | se] x [w2 | w3] over the 4 channels, summed as point_setup's
 * points with four corners inside: (nw w0 + sw w2) + (ne w1 + se w3).
 * That is the bits of its order on the edges too, ((nw w0 + ne w1) +
 * sw w2) + se w3: there the corners outside come in pairs (a row or a
 * column; three at an image corner), each product x[0] * 0, a zero (NaN
 * where x[0] is not finite, in both), so both orders add the same one or
 * two other products once, and a sum of zeros is -0 in either only when
 * every term is. */
__attribute__((target("avx512f,avx512vl,avx2"))) static void row_forward_aos(float *yr, const float *a,
                                                                            const float *gx, const float *gy,
                                                                            const sampler *sm, int C,
                                                                            size_t out_plane, int w)
{
    const int pw = sm->win + 2;
    /* pair q's weights: lanes 0-3 point 2q's, 8-11 point 2q + 1's, from
     * [w0 | w1] (or [w2 | w3]) of the 8 points */
    static const int32_t widx[4][16] = {
        {0, 0, 0, 0, 8, 8, 8, 8, 1, 1, 1, 1, 9, 9, 9, 9},
        {2, 2, 2, 2, 10, 10, 10, 10, 3, 3, 3, 3, 11, 11, 11, 11},
        {4, 4, 4, 4, 12, 12, 12, 12, 5, 5, 5, 5, 13, 13, 13, 13},
        {6, 6, 6, 6, 14, 14, 14, 14, 7, 7, 7, 7, 15, 15, 15, 15}};
    const __m512i pick4 = _mm512_setr_epi32(0, 1, 2, 3, 8, 9, 10, 11, 16, 17, 18, 19, 24, 25, 26, 27);
    const __m512i ch01 = _mm512_setr_epi32(0, 4, 8, 12, 16, 20, 24, 28, 1, 5, 9, 13, 17, 21, 25, 29);
    const __m512i ch23 = _mm512_setr_epi32(2, 6, 10, 14, 18, 22, 26, 30, 3, 7, 11, 15, 19, 23, 27, 31);
    for (int j = 0; j < w; j += 8) {
        const int left = w - j;
        const __mmask8 lm = left >= 8 ? (__mmask8)0xff : (__mmask8)((1u << left) - 1u);
        const points8 t = points8_setup(_mm256_maskz_loadu_ps(lm, gx + j), _mm256_maskz_loadu_ps(lm, gy + j), sm);
        const __mmask8 rm = (__mmask8)_mm256_movemask_ps(t.reads) & lm;
        const __m256 fx = t.fx, fy = t.fy, w0 = t.w0, w1 = t.w1, w2 = t.w2, w3 = t.w3;
        /* the padded cell of corner nw; points that read nothing (and
         * the masked tail) at cell (1, 1), their sums dropped */
        const __m256 rd = _mm256_castsi256_ps(_mm256_maskz_set1_epi32(rm, -1));
        const __m256i cell = _mm256_add_epi32(
            _mm256_mullo_epi32(_mm256_add_epi32(_mm256_cvttps_epi32(_mm256_and_ps(rd, fy)), _mm256_set1_epi32(1)),
                               _mm256_set1_epi32(pw)),
            _mm256_add_epi32(_mm256_cvttps_epi32(_mm256_and_ps(rd, fx)), _mm256_set1_epi32(1)));
        int32_t o[8];
        _mm256_storeu_si256((__m256i *)o, cell);
        const __m512 wn = _mm512_castpd_ps(_mm512_insertf64x4(_mm512_castpd256_pd512(_mm256_castps_pd(w0)),
                                                              _mm256_castps_pd(w1), 1));
        const __m512 ws = _mm512_castpd_ps(_mm512_insertf64x4(_mm512_castpd256_pd512(_mm256_castps_pd(w2)),
                                                              _mm256_castps_pd(w3), 1));
        __m512 z[4];
        #pragma GCC unroll 4
        for (int q = 0; q < 4; q++) {
            const float *pa = a + 4 * (size_t)o[2 * q], *pb = a + 4 * (size_t)o[2 * q + 1];
            const __m512 n = _mm512_castpd_ps(_mm512_insertf64x4(
                _mm512_castpd256_pd512(_mm256_loadu_pd((const double *)(const void *)pa)),
                _mm256_loadu_pd((const double *)(const void *)pb), 1));
            const __m512 t = _mm512_castpd_ps(_mm512_insertf64x4(
                _mm512_castpd256_pd512(_mm256_loadu_pd((const double *)(const void *)(pa + 4 * pw))),
                _mm256_loadu_pd((const double *)(const void *)(pb + 4 * pw)), 1));
            const __m512i wi = _mm512_loadu_si512((const void *)widx[q]);
            const __m512 pn = _mm512_mul_ps(n, _mm512_permutexvar_ps(wi, wn));
            const __m512 ps = _mm512_mul_ps(t, _mm512_permutexvar_ps(wi, ws));
            const __m512 sum = _mm512_add_ps(pn, ps);
            z[q] = _mm512_add_ps(sum, _mm512_shuffle_f32x4(sum, sum, 0xb1));
        }
        const __m512 q01 = _mm512_permutex2var_ps(z[0], pick4, z[1]), q23 = _mm512_permutex2var_ps(z[2], pick4, z[3]);
        const __m512 c01 = _mm512_maskz_mov_ps((__mmask16)(rm | (unsigned)rm << 8), _mm512_permutex2var_ps(q01, ch01, q23));
        const __m512 c23 = _mm512_maskz_mov_ps((__mmask16)(rm | (unsigned)rm << 8), _mm512_permutex2var_ps(q01, ch23, q23));
        float *y0 = yr + j;
        _mm256_mask_storeu_ps(y0, lm, _mm512_castps512_ps256(c01));
        if (C > 1)
            _mm256_mask_storeu_ps(y0 + out_plane, lm, _mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(c01), 1)));
        if (C > 2)
            _mm256_mask_storeu_ps(y0 + 2 * out_plane, lm, _mm512_castps512_ps256(c23));
        if (C > 3)
            _mm256_mask_storeu_ps(y0 + 3 * out_plane, lm,
                                  _mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(c23), 1)));
    }
}
#endif

void sp_warp_force_scalar(int on) { warp_scalar = on; }

/* Output row i of every channel of one image, from the row's grid points. */
static void row_forward(float *y, const float *x, const float *gx, const float *gy, int i,
                        const sampler *sm, const sp_warp_shape *s)
{
    const int w = s->w, C = s->c;
    const size_t in_plane = (size_t)s->hin * s->win, out_plane = (size_t)s->h * s->w;
    float *yr = y + (size_t)i * w;
    point pt;
    int simd = 0;
#ifdef __x86_64__
    simd = warp_avx2();
#endif
    for (int j = 0; j < w; j++) {
#ifdef __x86_64__
        if (simd && j + 8 <= w) {
            row_forward8(yr + j, x, gx + j, gy + j, sm, C, in_plane, out_plane);
            j += 7;
            continue;
        }
#endif
        int kind = point_setup(&pt, sm, gx[j], gy[j], 0);
        if (!kind) {
            for (int c = 0; c < C; c++)
                yr[c * out_plane + j] = 0.0f;
            continue;
        }
        const float *xc = x;
#ifdef __SSE2__
        if (kind == 2) {
            const __m128 wv = _mm_loadu_ps(pt.w);
            const float *xo = x + pt.o[0];
            for (int c = 0; c < C; c++, xo += in_plane)
                yr[c * out_plane + j] = hsum(_mm_mul_ps(load_corners(xo, sm->win), wv));
            continue;
        }
#endif
        for (int c = 0; c < C; c++, xc += in_plane)
            yr[c * out_plane + j] = xc[pt.o[0]] * pt.w[0] + xc[pt.o[1]] * pt.w[1] +
                                    xc[pt.o[2]] * pt.w[2] + xc[pt.o[3]] * pt.w[3];
    }
    (void)simd;
}

/* Row i's backward: scatter into dx (when not NULL) and, when dgx is not
 * NULL, the gradient of each grid point into dgx, dgy. */
static void row_backward(float *dx, float *dgx, float *dgy, const float *dy, const float *x,
                         const float *gx, const float *gy, int i, const sampler *sm,
                         const sp_warp_shape *s)
{
    const int w = s->w, C = s->c, win = sm->win;
    const size_t in_plane = (size_t)s->hin * s->win, out_plane = (size_t)s->h * s->w;
    const float *dyr = dy + (size_t)i * w;
    point pt;
    for (int j = 0; j < w; j++) {
        int kind = point_setup(&pt, sm, gx[j], gy[j], dgx != NULL);
        if (!kind) {
            if (dgx)
                dgx[j] = dgy[j] = 0.0f;
            continue;
        }
#ifdef __SSE2__
        if (kind == 2) {
            /* corners as vectors; the point's gradient summed over channels
             * per corner, reduced once at the end */
            const __m128 wv = _mm_loadu_ps(pt.w);
            const float *xo = x + pt.o[0];
            float *dxo = dx ? dx + pt.o[0] : NULL;
            if (dgx) {
                const __m128 cxv = _mm_loadu_ps(pt.cx), cyv = _mm_loadu_ps(pt.cy);
                __m128 ax = _mm_setzero_ps(), ay = _mm_setzero_ps();
                for (int c = 0; c < C; c++, xo += in_plane) {
                    const __m128 g = _mm_set1_ps(dyr[c * out_plane + j]);
                    const __m128 gv = _mm_mul_ps(g, load_corners(xo, win));
                    ax = _mm_add_ps(ax, _mm_mul_ps(gv, cxv));
                    ay = _mm_add_ps(ay, _mm_mul_ps(gv, cyv));
                    if (dxo) {
                        __m128 d = _mm_add_ps(load_corners(dxo, win), _mm_mul_ps(g, wv));
                        _mm_storel_pi((__m64 *)dxo, d);
                        _mm_storeh_pi((__m64 *)(dxo + win), d);
                        dxo += in_plane;
                    }
                }
                dgx[j] = hsum(ax);
                dgy[j] = hsum(ay);
            } else if (dxo) {
                for (int c = 0; c < C; c++, dxo += in_plane) {
                    const __m128 g = _mm_set1_ps(dyr[c * out_plane + j]);
                    __m128 d = _mm_add_ps(load_corners(dxo, win), _mm_mul_ps(g, wv));
                    _mm_storel_pi((__m64 *)dxo, d);
                    _mm_storeh_pi((__m64 *)(dxo + win), d);
                }
            }
            continue;
        }
#endif
        float sgx = 0.0f, sgy = 0.0f;
        const float *xc = x;
        float *dxc = dx;
        for (int c = 0; c < C; c++, xc += in_plane) {
            const float g = dyr[c * out_plane + j];
            if (dxc) {
                dxc[pt.o[0]] += g * pt.w[0];
                dxc[pt.o[1]] += g * pt.w[1];
                dxc[pt.o[2]] += g * pt.w[2];
                dxc[pt.o[3]] += g * pt.w[3];
                dxc += in_plane;
            }
            if (dgx) {
                const float v0 = xc[pt.o[0]], v1 = xc[pt.o[1]], v2 = xc[pt.o[2]], v3 = xc[pt.o[3]];
                sgx += g * (v0 * pt.cx[0] + v1 * pt.cx[1] + v2 * pt.cx[2] + v3 * pt.cx[3]);
                sgy += g * (v0 * pt.cy[0] + v1 * pt.cy[1] + v2 * pt.cy[2] + v3 * pt.cy[3]);
            }
        }
        if (dgx)
            dgx[j] = sgx, dgy[j] = sgy;
    }
}

/* ---- the engine ------------------------------------------------------------ */

/* How one image's generator parameters come from the op's inputs, and how
 * their gradient goes back. */
typedef struct {
    const float *src; /* [n, P] */
    int P;
    void (*to_params)(float *p, const float *b, int P);
    void (*to_dsrc)(float *db, const double *dp, const float *b, int P);
    const float *grid; /* GEN_GRID */
} source_t;

static void gen_setup(gen_t *g, const plan_t *pl, const source_t *src, size_t n)
{
    if (pl->kind == GEN_GRID) {
        g->grid = src->grid + n * (size_t)pl->h * pl->w * 2;
        return;
    }
    memset(g->dp, 0, sizeof(double) * pl->np);
    src->to_params(g->p, src->src + n * src->P, src->P);
}

/* warp_forward's images [n0, n1), with this call's own grid buffers */
typedef struct {
    float *y;
    const float *x;
    const plan_t *pl;
    const source_t *src;
    const sp_warp_shape *s;
    const sampler *sm;
    int aos; /* the 16-lane sampler on each image's padded pixels */
} warp_ctx;

static void warp_images(void *ctx, size_t n0, size_t n1)
{
    const warp_ctx *k = ctx;
    const sp_warp_shape *s = k->s;
    const size_t in_img = (size_t)s->c * s->hin * s->win, out_img = (size_t)s->c * s->h * s->w;
    const int aos = k->aos;
    gen_t *g = sp_malloc(sizeof *g);
    /* the AoS path generates the image's grid rows first: a row read
     * right after its (masked, wider) stores waited on them */
    const size_t rows = aos ? (size_t)s->h : 1;
    float *gx = sp_malloc(sizeof(float) * 2 * rows * s->w), *gy = gx + rows * s->w;
    float *a = aos ? sp_malloc(sizeof(float) * aos_floats(s->hin, s->win)) : NULL;
    for (size_t n = n0; n < n1; n++) {
        gen_setup(g, k->pl, k->src, n);
#ifdef __x86_64__
        if (aos) {
            for (int i = 0; i < s->h; i++)
                gen_row(k->pl, g, i, gx + (size_t)i * s->w, gy + (size_t)i * s->w);
            aos_fill(a, k->x + n * in_img, s->c, s->hin, s->win);
            for (int i = 0; i < s->h; i++)
                row_forward_aos(k->y + n * out_img + (size_t)i * s->w, a, gx + (size_t)i * s->w,
                                gy + (size_t)i * s->w, k->sm, s->c, (size_t)s->h * s->w, s->w);
            continue;
        }
#endif
        for (int i = 0; i < s->h; i++) {
            gen_row(k->pl, g, i, gx, gy);
            row_forward(k->y + n * out_img, k->x + n * in_img, gx, gy, i, k->sm, s);
        }
    }
    free(a);
    free(gx);
    free(g);
}

static void warp_forward(float *y, const float *x, const plan_t *pl, const source_t *src,
                         const sp_warp_shape *s)
{
    const size_t out_img = (size_t)s->c * s->h * s->w;
    if (s->n == 0 || out_img == 0)
        return;
    sampler sm;
    sampler_init(&sm, s);
    warp_ctx k = {y, x, pl, src, s, &sm, 0};
#ifdef __x86_64__
    k.aos = warp_wide() && s->c <= 4;
#endif
    sp_parallel_for((size_t)s->n, 2, warp_images, &k);
}

/* dx [n,c,hin,win] (or NULL), dsrc [n,P] or dgrid [n,h,w,2] (or NULL). */
static void warp_backward(float *dx, float *dsrc, const float *dy, const float *x, const plan_t *pl,
                          const source_t *src, const sp_warp_shape *s)
{
    const size_t in_img = (size_t)s->c * s->hin * s->win, out_img = (size_t)s->c * s->h * s->w;
    if (dx)
        memset(dx, 0, sizeof(float) * in_img * s->n);
    if (dsrc)
        memset(dsrc, 0,
               sizeof(float) * s->n * (pl->kind == GEN_GRID ? (size_t)s->h * s->w * 2 : (size_t)src->P));
    if (s->n == 0 || out_img == 0)
        return;
    const int want_grid = dsrc != NULL;
    sampler sm;
    sampler_init(&sm, s);
#pragma omp parallel
    {
        gen_t *g = sp_malloc(sizeof *g);
        float *gx = sp_malloc(sizeof(float) * 4 * s->w), *gy = gx + s->w, *dgx = gx + 2 * s->w,
              *dgy = gx + 3 * s->w;
#pragma omp for schedule(static)
        for (size_t n = 0; n < s->n; n++) {
            gen_setup(g, pl, src, n);
            if (pl->kind == GEN_GRID)
                g->dgrid = dsrc ? dsrc + n * (size_t)s->h * s->w * 2 : NULL;
            for (int i = 0; i < s->h; i++) {
                gen_row(pl, g, i, gx, gy);
                row_backward(dx ? dx + n * in_img : NULL, want_grid ? dgx : NULL, dgy,
                             dy + n * out_img, x + n * in_img, gx, gy, i, &sm, s);
                if (want_grid)
                    gen_row_backward(pl, g, i, dgx, dgy);
            }
            if (want_grid && pl->kind != GEN_GRID)
                src->to_dsrc(dsrc + n * src->P, g->dp, src->src + n * src->P, src->P);
        }
        free(gx);
        free(g);
    }
}

/* ---- parameterisations ----------------------------------------------------- */

/* The generator's parameters are the op's (theta, homography, points). */
static void copy_p(float *p, const float *b, int P) { memcpy(p, b, sizeof(float) * P); }
static void copy_dp(float *db, const double *dp, const float *b, int P)
{
    (void)b;
    for (int k = 0; k < P; k++)
        db[k] = (float)dp[k];
}

/* PositionModule: scale = exp(s) * I, theta = [scale | t] + [I | 0] */
static void pos_params(float *p, const float *b, int P)
{
    (void)P;
    float sc = expf(b[0]);
    p[0] = sc + 1.0f, p[1] = 0.0f, p[2] = b[1];
    p[3] = 0.0f, p[4] = sc + 1.0f, p[5] = b[2];
}
static void pos_dsrc(float *db, const double *dp, const float *b, int P)
{
    (void)P;
    db[0] = (float)((dp[0] + dp[4]) * (double)expf(b[0]));
    db[1] = (float)dp[2];
    db[2] = (float)dp[5];
}

/* SimilarityModule: [[a, -b], [b, a]] | t, plus [I | 0] */
static void sim_params(float *p, const float *b, int P)
{
    (void)P;
    p[0] = b[0] + 1.0f, p[1] = -b[1], p[2] = b[2];
    p[3] = b[1], p[4] = b[0] + 1.0f, p[5] = b[3];
}
static void sim_dsrc(float *db, const double *dp, const float *b, int P)
{
    (void)b, (void)P;
    db[0] = (float)(dp[0] + dp[4]);
    db[1] = (float)(dp[3] - dp[1]);
    db[2] = (float)dp[2];
    db[3] = (float)dp[5];
}

/* AffineModule: beta.view(2, 3) + [I | 0] */
static void aff_params(float *p, const float *b, int P)
{
    (void)P;
    for (int k = 0; k < 6; k++)
        p[k] = b[k] + (k == 0 || k == 4 ? 1.0f : 0.0f);
}

/* ProjectiveModule: beta.view(3, 3) + I */
static void proj_params(float *p, const float *b, int P)
{
    (void)P;
    for (int k = 0; k < 9; k++)
        p[k] = b[k] + (k % 4 == 0 ? 1.0f : 0.0f);
}

/* TPSModule: the lattice (float linspace, as the reference's buffer) + beta;
 * P = 2 g^2. */
static void tps_params(float *p, const float *b, int P)
{
    int g = (int)lround(sqrt(P / 2)), N = g * g;
    for (int k = 0; k < N; k++) {
        p[k] = lin_f(k % g, g) + b[2 * k];
        p[N + k] = lin_f(k / g, g) + b[2 * k + 1];
    }
}

/* TPS generator parameters are deinterleaved (x of every point, then y);
 * sources and gradients are (x, y) pairs. */
static void tps_copy_p(float *p, const float *b, int P)
{
    int N = P / 2;
    for (int k = 0; k < N; k++) {
        p[k] = b[2 * k];
        p[N + k] = b[2 * k + 1];
    }
}
static void tps_copy_dp(float *db, const double *dp, const float *b, int P)
{
    (void)b;
    int N = P / 2;
    for (int k = 0; k < N; k++) {
        db[2 * k] = (float)dp[k];
        db[2 * k + 1] = (float)dp[N + k];
    }
}

/* ---- public: grids --------------------------------------------------------- */

/* Writes the grid of every image (GEN_* generator with parameters src). */
static void grid_forward(float *grid, const plan_t *pl, const source_t *src, size_t n)
{
    const size_t hw = (size_t)pl->h * pl->w;
    if (n == 0 || hw == 0)
        return;
#pragma omp parallel
    {
        gen_t *g = sp_malloc(sizeof *g);
        float *gx = sp_malloc(sizeof(float) * (size_t)pl->w), *gy = sp_malloc(sizeof(float) * (size_t)pl->w);
#pragma omp for schedule(static)
        for (size_t b = 0; b < n; b++) {
            gen_setup(g, pl, src, b);
            for (int i = 0; i < pl->h; i++) {
                gen_row(pl, g, i, gx, gy);
                float *q = grid + b * hw * 2 + (size_t)i * pl->w * 2;
                for (int j = 0; j < pl->w; j++) {
                    q[2 * j] = gx[j];
                    q[2 * j + 1] = gy[j];
                }
            }
        }
        free(gx);
        free(gy);
        free(g);
    }
}

static void grid_backward(float *dsrc, const float *dgrid, const plan_t *pl, const source_t *src,
                          size_t n)
{
    const size_t hw = (size_t)pl->h * pl->w;
    memset(dsrc, 0, sizeof(float) * n * src->P);
    if (n == 0 || hw == 0)
        return;
#pragma omp parallel
    {
        gen_t *g = sp_malloc(sizeof *g);
        float *gx = sp_malloc(sizeof(float) * (size_t)pl->w), *gy = sp_malloc(sizeof(float) * (size_t)pl->w);
#pragma omp for schedule(static)
        for (size_t b = 0; b < n; b++) {
            gen_setup(g, pl, src, b);
            for (int i = 0; i < pl->h; i++) {
                const float *q = dgrid + b * hw * 2 + (size_t)i * pl->w * 2;
                for (int j = 0; j < pl->w; j++) {
                    gx[j] = q[2 * j];
                    gy[j] = q[2 * j + 1];
                }
                gen_row_backward(pl, g, i, gx, gy);
            }
            src->to_dsrc(dsrc + b * src->P, g->dp, src->src + b * src->P, src->P);
        }
        free(gx);
        free(gy);
        free(g);
    }
}

void sp_affine_grid_forward(float *grid, const float *theta, size_t n, int h, int w)
{
    plan_t pl;
    plan_init(&pl, GEN_AFFINE, h, w, 0);
    source_t src = {theta, 6, copy_p, copy_dp, NULL};
    grid_forward(grid, &pl, &src, n);
    plan_free(&pl);
}

void sp_affine_grid_backward(float *dtheta, const float *dgrid, size_t n, int h, int w)
{
    plan_t pl;
    plan_init(&pl, GEN_AFFINE, h, w, 0);
    source_t src = {NULL, 6, copy_p, copy_dp, NULL};
    /* the affine gradient does not depend on theta: feed zeros */
    float *zero = sp_calloc(n ? n * 6 : 1, sizeof(float));
    src.src = zero;
    grid_backward(dtheta, dgrid, &pl, &src, n);
    free(zero);
    plan_free(&pl);
}

void sp_homography_grid_forward(float *grid, const float *hom, size_t n, int h, int w)
{
    plan_t pl;
    plan_init(&pl, GEN_HOMOGRAPHY, h, w, 0);
    source_t src = {hom, 9, copy_p, copy_dp, NULL};
    grid_forward(grid, &pl, &src, n);
    plan_free(&pl);
}

void sp_homography_grid_backward(float *dhom, const float *dgrid, const float *hom, size_t n,
                                 int h, int w)
{
    plan_t pl;
    plan_init(&pl, GEN_HOMOGRAPHY, h, w, 0);
    source_t src = {hom, 9, copy_p, copy_dp, NULL};
    grid_backward(dhom, dgrid, &pl, &src, n);
    plan_free(&pl);
}

void sp_tps_grid_forward(float *grid, const float *points, size_t n, int h, int w, int g)
{
    plan_t pl;
    plan_init(&pl, GEN_TPS, h, w, g);
    source_t src = {points, 2 * g * g, tps_copy_p, tps_copy_dp, NULL};
    grid_forward(grid, &pl, &src, n);
    plan_free(&pl);
}

void sp_tps_grid_backward(float *dpoints, const float *dgrid, size_t n, int h, int w, int g)
{
    plan_t pl;
    plan_init(&pl, GEN_TPS, h, w, g);
    float *zero = sp_calloc(n ? n * 2 * g * g : 1, sizeof(float));
    source_t src = {zero, 2 * g * g, tps_copy_p, tps_copy_dp, NULL};
    grid_backward(dpoints, dgrid, &pl, &src, n);
    free(zero);
    plan_free(&pl);
}

/* ---- public: sampling and transformations ----------------------------------- */

/* One plan per call: built for the output size, used once, freed. */
static void warp_apply_forward(int kind, int g, const source_t *src, float *y, const float *x,
                               const sp_warp_shape *s)
{
    plan_t pl;
    plan_init(&pl, kind, s->h, s->w, g);
    warp_forward(y, x, &pl, src, s);
    plan_free(&pl);
}

static void warp_apply_backward(int kind, int g, const source_t *src, float *dx, float *dsrc,
                                const float *dy, const float *x, const sp_warp_shape *s)
{
    plan_t pl;
    plan_init(&pl, kind, s->h, s->w, g);
    warp_backward(dx, dsrc, dy, x, &pl, src, s);
    plan_free(&pl);
}

void sp_grid_sample_forward(float *y, const float *x, const float *grid, const sp_warp_shape *s)
{
    warp_apply_forward(GEN_GRID, 0, &(source_t){NULL, 0, NULL, NULL, grid}, y, x, s);
}

void sp_grid_sample_backward(float *dx, float *dgrid, const float *dy, const float *x,
                             const float *grid, const sp_warp_shape *s)
{
    warp_apply_backward(GEN_GRID, 0, &(source_t){NULL, 0, NULL, NULL, grid}, dx, dgrid, dy, x, s);
}

void sp_warp_affine_forward(float *y, const float *x, const float *theta, const sp_warp_shape *s)
{
    warp_apply_forward(GEN_AFFINE, 0, &(source_t){theta, 6, copy_p, copy_dp, NULL}, y, x, s);
}
void sp_warp_affine_backward(float *dx, float *dtheta, const float *dy, const float *x,
                             const float *theta, const sp_warp_shape *s)
{
    warp_apply_backward(GEN_AFFINE, 0, &(source_t){theta, 6, copy_p, copy_dp, NULL}, dx, dtheta, dy, x,
                        s);
}

void sp_tsf_position_forward(float *y, const float *x, const float *beta, const sp_warp_shape *s)
{
    warp_apply_forward(GEN_AFFINE, 0, &(source_t){beta, 3, pos_params, pos_dsrc, NULL}, y, x, s);
}
void sp_tsf_position_backward(float *dx, float *dbeta, const float *dy, const float *x,
                              const float *beta, const sp_warp_shape *s)
{
    warp_apply_backward(GEN_AFFINE, 0, &(source_t){beta, 3, pos_params, pos_dsrc, NULL}, dx, dbeta, dy,
                        x, s);
}

void sp_tsf_similarity_forward(float *y, const float *x, const float *beta, const sp_warp_shape *s)
{
    warp_apply_forward(GEN_AFFINE, 0, &(source_t){beta, 4, sim_params, sim_dsrc, NULL}, y, x, s);
}
void sp_tsf_similarity_backward(float *dx, float *dbeta, const float *dy, const float *x,
                                const float *beta, const sp_warp_shape *s)
{
    warp_apply_backward(GEN_AFFINE, 0, &(source_t){beta, 4, sim_params, sim_dsrc, NULL}, dx, dbeta, dy,
                        x, s);
}

void sp_tsf_affine_forward(float *y, const float *x, const float *beta, const sp_warp_shape *s)
{
    warp_apply_forward(GEN_AFFINE, 0, &(source_t){beta, 6, aff_params, copy_dp, NULL}, y, x, s);
}
void sp_tsf_affine_backward(float *dx, float *dbeta, const float *dy, const float *x,
                            const float *beta, const sp_warp_shape *s)
{
    warp_apply_backward(GEN_AFFINE, 0, &(source_t){beta, 6, aff_params, copy_dp, NULL}, dx, dbeta, dy,
                        x, s);
}

void sp_tsf_projective_forward(float *y, const float *x, const float *beta, const sp_warp_shape *s)
{
    warp_apply_forward(GEN_HOMOGRAPHY, 0, &(source_t){beta, 9, proj_params, copy_dp, NULL}, y, x, s);
}
void sp_tsf_projective_backward(float *dx, float *dbeta, const float *dy, const float *x,
                                const float *beta, const sp_warp_shape *s)
{
    warp_apply_backward(GEN_HOMOGRAPHY, 0, &(source_t){beta, 9, proj_params, copy_dp, NULL}, dx, dbeta,
                        dy, x, s);
}

void sp_tsf_tps_forward(float *y, const float *x, const float *beta, int g, const sp_warp_shape *s)
{
    warp_apply_forward(GEN_TPS, g, &(source_t){beta, 2 * g * g, tps_params, tps_copy_dp, NULL}, y, x, s);
}
void sp_tsf_tps_backward(float *dx, float *dbeta, const float *dy, const float *x,
                         const float *beta, int g, const sp_warp_shape *s)
{
    warp_apply_backward(GEN_TPS, g, &(source_t){beta, 2 * g * g, tps_params, tps_copy_dp, NULL}, dx,
                        dbeta, dy, x, s);
}

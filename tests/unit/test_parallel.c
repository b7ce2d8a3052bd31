/* The ops that sp-select and sp-compose call from their own threads (a
 * group of images each), and the max pool and option-A shortcut that
 * sp_encoder_infer calls per image, must not open a parallel region of
 * their own there: libgomp builds a one-thread team for a nested region, ~2.4 us a
 * call, 15 calls an image on Tetrominoes (sp_parallel.h).  This binary
 * defines GOMP_parallel itself, so the library's calls (linked in
 * statically) reach it first: it counts the calls made while a region is
 * active and hands every call on to libgomp's.  Each op runs inside a
 * region of two threads, each on its own output, and must make no nested
 * call and give the bits it gives outside (where it opens its own region).
 * A region opened inside a region is counted: the counter can fail. */
#define _GNU_SOURCE
#include "sp_test.h"
#include "sp_activation.h"
#include "sp_compose.h"
#include "sp_pool.h"
#include "sp_residual.h"
#include "sp_tsf.h"
#include "sp_warp.h"

#include <dlfcn.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static long nested_calls;

void GOMP_parallel(void (*fn)(void *), void *data, unsigned num_threads, unsigned flags);
void GOMP_parallel(void (*fn)(void *), void *data, unsigned num_threads, unsigned flags)
{
    static void (*real)(void (*)(void *), void *, unsigned, unsigned);
    if (!real) {
        void *p = dlsym(RTLD_NEXT, "GOMP_parallel");
        if (!p) {
            fprintf(stderr, "test_parallel: no GOMP_parallel in libgomp\n");
            exit(1);
        }
        memcpy(&real, &p, sizeof p);
    }
    if (omp_in_parallel())
        __atomic_add_fetch(&nested_calls, 1, __ATOMIC_RELAXED);
    real(fn, data, num_threads, flags);
}

static void fill(float *p, size_t n, unsigned seed)
{
    for (size_t i = 0; i < n; i++) {
        seed = seed * 1103515245u + 12345u;
        p[i] = (float)((seed >> 8) & 0xffff) / 65536.0f - 0.25f;
    }
}

enum { RELU, COLOR, WARP, COMPOSE, MAXPOOL, SHORTCUT, NOPS };
static const char *names[NOPS] = {"relu of 100,000 values",
                                  "colour transformation of 4 images",
                                  "affine warp of 4 images",
                                  "composition of 2 layers over 4 images",
                                  "3x3 stride-2 max pool of 4 images",
                                  "option-A shortcut of 4 images"};

/* sizes: relu 100,000; images 4 x 3 x 20 x 24 */
enum { NR = 100000, N = 4, C = 3, H = 20, W = 24, HW = H * W, L = 2 };

static float x[NR], beta[N * 2 * C], theta[N * 6], layers[L * N * C * HW], masks[L * N * HW], bg[N * C * HW];

static size_t out_len(int op)
{
    const size_t half = (size_t)((H + 1) / 2) * ((W + 1) / 2); /* both halve the map */
    return op == RELU ? NR : op == MAXPOOL ? (size_t)N * C * half : op == SHORTCUT ? (size_t)N * (C + 2) * half
                                                                                   : (size_t)N * C * HW;
}

static void run(int op, float *y)
{
    const sp_warp_shape s = {N, C, H, W, H, W, SP_PAD_ZEROS};
    const sp_clamp clamp = {SP_CLAMP_SOFT, 0.01f};
    switch (op) {
    case RELU: sp_relu_forward(y, x, NR); break;
    case COLOR: sp_tsf_color_forward(y, x, beta, N, C, C, HW, clamp); break;
    case WARP: sp_warp_affine_forward(y, x, theta, &s); break;
    case COMPOSE: sp_compose_forward(y, layers, masks, bg, NULL, L, N, C, HW); break;
    case MAXPOOL: sp_maxpool2d_forward(y, NULL, x, (size_t)N * C, H, W, 3, 2, 1); break;
    default: sp_shortcut_a_forward(y, x, N, C, H, W, 1); break;
    }
}

static void nested_region(int *ran)
{
#pragma omp parallel num_threads(2)
    {
#pragma omp atomic
        (*ran)++;
    }
}

int main(void)
{
    fill(x, NR, 1);
    fill(beta, sizeof beta / sizeof *beta, 2);
    fill(theta, sizeof theta / sizeof *theta, 3);
    for (int i = 0; i < N; i++) { /* near the identity */
        theta[6 * i] += 1.0f;
        theta[6 * i + 4] += 1.0f;
    }
    fill(layers, sizeof layers / sizeof *layers, 4);
    fill(masks, sizeof masks / sizeof *masks, 5);
    fill(bg, sizeof bg / sizeof *bg, 6);
    omp_set_max_active_levels(1);
    char name[160];
    for (int op = 0; op < NOPS; op++) {
        const size_t n = out_len(op);
        float *ref = calloc(n, sizeof(float)), *y[2] = {calloc(n, sizeof(float)), calloc(n, sizeof(float))};
        if (!ref || !y[0] || !y[1])
            return 1;
        run(op, ref); /* outside a region: its own, if any */
        nested_calls = 0;
#pragma omp parallel num_threads(2)
        run(op, y[omp_get_thread_num() & 1]);
        const int same = !memcmp(ref, y[0], n * sizeof(float)) && !memcmp(ref, y[1], n * sizeof(float));
        snprintf(name, sizeof name, "%s inside a parallel region: no region of its own, the same bits", names[op]);
        CHECK(name, nested_calls == 0 && same, "%ld nested regions, outputs %s", nested_calls,
              same ? "the same" : "differ");
        FREE_ALL(ref, y[0], y[1]);
    }
    /* the counter itself */
    int ran = 0;
    nested_calls = 0;
#pragma omp parallel num_threads(2)
    nested_region(&ran);
    CHECK("a region opened inside a region is counted", nested_calls == 2 && ran == 2,
          "%ld nested calls counted, %d bodies ran", nested_calls, ran);
    TEST_MAIN_END;
}

/* roofline: how fast the encoder of a model could possibly run on this CPU,
 * for pipelines/bench-infer.sh to say what a speed-up over the reference is
 * physically allowed to be.
 *
 *   roofline [--seconds S] MODEL...
 *
 * First line: "peak GFLOPS G threads T isa I": the fused multiply-add
 * throughput of this CPU with OMP_NUM_THREADS threads, measured (each
 * thread runs independent FMA chains from registers, no memory: nothing
 * real can go faster; the wider of AVX2 and AVX-512 counts).  Then a line
 * per model: "MODEL arch A macs M macs3x3 M3": the multiply-adds per image
 * of its encoder's convolutions (every conv layer, weight [O,C,kh,kw] at
 * output Ho x Wo: O*C*kh*kw*Ho*Wo) and the part of them in 3x3 stride-1
 * convolutions (the only ones a Winograd F(m, 3x3) transform can shorten).
 * The encoder is the sp_encoder the model's configuration builds: the
 * same layer list sp-predict runs. */
#include "sp_start.h"
#include "sp_encoder.h"
#include "sp_error.h"
#include "sp_model.h"
#include "sp_opt.h"
#include "sp_progress.h"

#include <immintrin.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>

/* n iterations of nch independent FMA chains of vec: nch * lanes * 2 * n
 * flops.  12 chains of 8 lanes cover FMA latency (4-5 cycles) times 2
 * units; the 512-bit build has 32 registers and runs 24.  The loop over
 * the chains is unrolled so that they live in registers (rolled, GCC keeps
 * the array on the stack and measures store forwarding instead). */
#define CHAINS(name, tgt, vec, set1, fma, add, sum, nch)                                          \
    __attribute__((target(tgt))) static float name(long n, float s)                              \
    {                                                                                            \
        vec m = set1(0.999999f), c = set1(s), a[nch];                                            \
        for (int i = 0; i < nch; i++)                                                            \
            a[i] = set1((float)i);                                                               \
        for (long k = 0; k < n; k++) {                                                           \
            _Pragma("GCC unroll 24") for (int i = 0; i < nch; i++) a[i] = fma(a[i], m, c);       \
        }                                                                                        \
        vec t = a[0];                                                                            \
        for (int i = 1; i < nch; i++)                                                            \
            t = add(t, a[i]);                                                                    \
        return sum(t);                                                                           \
    }

__attribute__((target("avx2"))) static float sum256(__m256 t)
{
    float out[8];
    _mm256_storeu_ps(out, t);
    return out[0];
}

CHAINS(chains256, "avx2,fma", __m256, _mm256_set1_ps, _mm256_fmadd_ps, _mm256_add_ps, sum256, 12)
CHAINS(chains512, "avx512f", __m512, _mm512_set1_ps, _mm512_fmadd_ps, _mm512_add_ps, _mm512_reduce_add_ps, 24)

/* GFLOP/s of all threads running fn for about `seconds`, the best of 3 */
static double peak(int wide, double seconds, int *threads)
{
    const long flops_per_iter = wide ? 24 * 16 * 2 : 12 * 8 * 2;
    long n = 1000;
    /* grow n until one run takes a tenth of the time asked */
    for (;;) {
        double t0 = sp_now();
        volatile float sink = wide ? chains512(n, 1e-3f) : chains256(n, 1e-3f);
        (void)sink;
        if (sp_now() - t0 > seconds / 30 || n > (1L << 40))
            break;
        n *= 2;
    }
    double best = 0;
    for (int rep = 0; rep < 3; rep++) {
        double t0 = sp_now();
        int T = 1;
        float sum = 0;
#pragma omp parallel reduction(+ : sum)
        {
#pragma omp single
            T = omp_get_num_threads();
            sum += wide ? chains512(n, 1e-3f) : chains256(n, 1e-3f);
        }
        double dt = sp_now() - t0;
        volatile float sink = sum;
        (void)sink;
        double g = (double)T * (double)n * (double)flops_per_iter / dt * 1e-9;
        if (g > best)
            best = g;
        *threads = T;
    }
    return best;
}

static void conv_macs(const sp_enc_conv *cv, double *all, double *k3)
{
    const sp_conv2d_desc *d = &cv->d;
    double m = (double)d->o * d->c * d->kh * d->kw * sp_conv2d_ho(d) * sp_conv2d_wo(d);
    *all += m;
    if (d->kh == 3 && d->kw == 3 && d->sh == 1 && d->sw == 1)
        *k3 += m;
}

int main(int argc, char **argv)
{
    sp_main_start(argv);
    double seconds = 1.0;
    sp_opt opts[] = {{"seconds", SP_OPT_DOUBLE, &seconds, "S", "time the peak for about S seconds (1)"}, {0}};
    char **args;
    int nargs = sp_opt_parse(argc, argv, opts, "roofline [--seconds S] MODEL...",
                             "The CPU's measured FMA peak and the encoder multiply-adds per image of each model.",
                             &args);
    if (seconds <= 0)
        sp_fatal("--seconds: expected a positive number");
    __builtin_cpu_init();
    int wide = __builtin_cpu_supports("avx512f"), threads = 1;
    if (!__builtin_cpu_supports("avx2") || !__builtin_cpu_supports("fma"))
        sp_fatal("this CPU has no AVX2 + FMA: no peak to measure");
    double g = peak(0, seconds / 2, &threads), isa_g = g;
    const char *isa = "avx2";
    if (wide) {
        double g512 = peak(1, seconds / 2, &threads);
        if (g512 > isa_g) {
            isa_g = g512;
            isa = "avx512";
        }
    }
    printf("peak GFLOPS %.1f threads %d isa %s\n", isa_g, threads, isa);
    for (int i = 0; i < nargs; i++) {
        sp_model *m = sp_model_read(args[i]);
        int ph, pw;
        sp_config_with_pool(m->cfg, &ph, &pw);
        const char *arch = sp_config_str(m->cfg, "model.encoder_name");
        sp_encoder *e = sp_encoder_new(arch, 0, m->C, m->H, m->W, ph, pw);
        double all = 0, k3 = 0;
        conv_macs(&e->stem, &all, &k3);
        for (int b = 0; b < e->nblocks; b++) {
            const sp_enc_block *bl = &e->blocks[b];
            conv_macs(&bl->conv1, &all, &k3);
            conv_macs(&bl->conv2, &all, &k3);
            if (bl->shortcut == SP_SHORTCUT_CONV)
                conv_macs(&bl->ds, &all, &k3);
        }
        printf("%s arch %s macs %.0f macs3x3 %.0f\n", args[i], arch, all, k3);
        sp_encoder_free(e);
        sp_model_free(m);
    }
    return 0;
}

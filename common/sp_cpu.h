/* The x86-64 vector extensions our hand-written kernels need, as this CPU
 * reports them.  One place for the questions that pick a kernel (each
 * caller adds its own test switch: SP_CONV_*, sp_select_force_scalar, ...);
 * __builtin_cpu_supports reads what libgcc asked the CPU once at start, so
 * a call costs a load.  Elsewhere every answer is 0: the plain C paths. */
#ifndef SP_CPU_H
#define SP_CPU_H

#if defined(__x86_64__) && defined(__GNUC__)
/* AVX2 (selection's and sampling's double/float lanes) */
static inline int sp_cpu_avx2(void) { return __builtin_cpu_supports("avx2"); }
/* AVX2 with FMA (convolution tiles, Adam) */
static inline int sp_cpu_avx2_fma(void)
{
    return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
}
/* AVX-512 F (the 16-lane tiles) */
static inline int sp_cpu_avx512f(void) { return __builtin_cpu_supports("avx512f"); }
/* AVX-512 F and VL (masked 8-lane loads and stores) */
static inline int sp_cpu_avx512vl(void)
{
    return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512vl");
}
#else
static inline int sp_cpu_avx2(void) { return 0; }
static inline int sp_cpu_avx2_fma(void) { return 0; }
static inline int sp_cpu_avx512f(void) { return 0; }
static inline int sp_cpu_avx512vl(void) { return 0; }
#endif

#endif

/* Counter-based random numbers: Philox 4x32-10 (Salmon et al., SC'11).
 *
 * Every random choice of the project comes from here, keyed by (seed,
 * stream): value number i of a stream is word i%4 of
 * philox(counter = {i/4 low, i/4 high, stream low, stream high},
 *        key = {seed low, seed high}).
 * Because any value can be computed from its index, the CPU and the GPU can
 * draw identical noise and a resumed run can continue the same sequence. */
#ifndef SP_RNG_H
#define SP_RNG_H

#include <stddef.h>
#include <stdint.h>

void sp_philox4x32_10(uint32_t out[4], const uint32_t ctr[4], const uint32_t key[2]);

/* 32 random bits: value number index of (seed, stream). */
uint32_t sp_philox_u32_at(uint64_t seed, uint64_t stream, uint64_t index);
/* Float in [0, 1) with 24 random bits: (u32 >> 8) * 2^-24. */
float sp_philox_uniform_at(uint64_t seed, uint64_t stream, uint64_t index);
/* u[i] = sp_philox_uniform_at(seed, stream, index0 + i) for i < n, each
 * Philox block computed once. */
void sp_philox_uniform_range(float *u, size_t n, uint64_t seed, uint64_t stream, uint64_t index0);

/* A sequential generator over one (seed, stream); its whole state is
 * (seed, stream, next index), so checkpoints store three integers.  The
 * rest is a cache of the last Philox block (four values), valid only for
 * the (seed, stream, block) it records: sequential draws compute each block
 * once, not once per value, and any change to the three fields misses it. */
typedef struct {
    uint64_t seed, stream, index;
    uint64_t cached_seed, cached_stream, cached_block; /* cache key */
    int cached;                                        /* 0: none */
    uint32_t block[4];
} sp_rng;

void sp_rng_init(sp_rng *r, uint64_t seed, uint64_t stream);
uint32_t sp_rng_u32(sp_rng *r);
/* Uniform in [0, 1): float with 24 bits, double with 53 bits. */
float sp_rng_uniform(sp_rng *r);
double sp_rng_double(sp_rng *r);
/* Uniform integer in [0, n) without modulo bias (n >= 1). */
uint32_t sp_rng_below(sp_rng *r, uint32_t n);
/* Standard normal (Box-Muller on two doubles). */
double sp_rng_normal(sp_rng *r);
/* Fisher-Yates shuffle of n indices. */
void sp_rng_shuffle(sp_rng *r, int64_t *a, int64_t n);

#endif

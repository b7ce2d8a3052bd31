#include "sp_rng.h"

#include <math.h>

#define PHILOX_M0 0xD2511F53u
#define PHILOX_M1 0xCD9E8D57u
#define PHILOX_W0 0x9E3779B9u
#define PHILOX_W1 0xBB67AE85u

void sp_philox4x32_10(uint32_t out[4], const uint32_t ctr[4], const uint32_t key[2])
{
    uint32_t c0 = ctr[0], c1 = ctr[1], c2 = ctr[2], c3 = ctr[3];
    uint32_t k0 = key[0], k1 = key[1];
    for (int round = 0; round < 10; round++) {
        uint64_t p0 = (uint64_t)PHILOX_M0 * c0, p1 = (uint64_t)PHILOX_M1 * c2;
        uint32_t hi0 = (uint32_t)(p0 >> 32), lo0 = (uint32_t)p0;
        uint32_t hi1 = (uint32_t)(p1 >> 32), lo1 = (uint32_t)p1;
        c0 = hi1 ^ c1 ^ k0;
        c1 = lo1;
        c2 = hi0 ^ c3 ^ k1;
        c3 = lo0;
        k0 += PHILOX_W0;
        k1 += PHILOX_W1;
    }
    out[0] = c0, out[1] = c1, out[2] = c2, out[3] = c3;
}

/* A float in [0, 1) from 32 random bits: the top 24, times 2^-24. */
static inline float u32_uniform(uint32_t x) { return (float)(x >> 8) * (1.0f / 16777216.0f); }

/* The four values of block number block of (seed, stream). */
static void philox_block(uint32_t out[4], uint64_t seed, uint64_t stream, uint64_t block)
{
    uint32_t ctr[4] = {(uint32_t)block, (uint32_t)(block >> 32), (uint32_t)stream,
                       (uint32_t)(stream >> 32)};
    uint32_t key[2] = {(uint32_t)seed, (uint32_t)(seed >> 32)};
    sp_philox4x32_10(out, ctr, key);
}

uint32_t sp_philox_u32_at(uint64_t seed, uint64_t stream, uint64_t index)
{
    uint32_t out[4];
    philox_block(out, seed, stream, index >> 2);
    return out[index & 3];
}

void sp_philox_uniform_range(float *u, size_t n, uint64_t seed, uint64_t stream, uint64_t index0)
{
    uint32_t out[4];
    for (size_t i = 0; i < n; i++) {
        const uint64_t index = index0 + i;
        if (i == 0 || (index & 3) == 0)
            philox_block(out, seed, stream, index >> 2);
        u[i] = u32_uniform(out[index & 3]);
    }
}

float sp_philox_uniform_at(uint64_t seed, uint64_t stream, uint64_t index)
{
    return u32_uniform(sp_philox_u32_at(seed, stream, index));
}

void sp_rng_init(sp_rng *r, uint64_t seed, uint64_t stream)
{
    r->seed = seed;
    r->stream = stream;
    r->index = 0;
    r->cached = 0;
}

uint32_t sp_rng_u32(sp_rng *r)
{
    const uint64_t block = r->index >> 2;
    if (!r->cached || r->cached_block != block || r->cached_seed != r->seed ||
        r->cached_stream != r->stream) {
        philox_block(r->block, r->seed, r->stream, block);
        r->cached_seed = r->seed;
        r->cached_stream = r->stream;
        r->cached_block = block;
        r->cached = 1;
    }
    return r->block[r->index++ & 3];
}

float sp_rng_uniform(sp_rng *r) { return u32_uniform(sp_rng_u32(r)); }

double sp_rng_double(sp_rng *r)
{
    uint64_t a = sp_rng_u32(r) >> 5, b = sp_rng_u32(r) >> 6; /* 27 + 26 bits */
    return ((double)a * 67108864.0 + (double)b) * (1.0 / 9007199254740992.0);
}

uint32_t sp_rng_below(sp_rng *r, uint32_t n)
{
    /* Reject the top partial range so that every value is equally likely. */
    uint32_t limit = UINT32_MAX - UINT32_MAX % n;
    uint32_t x;
    do
        x = sp_rng_u32(r);
    while (x >= limit);
    return x % n;
}

double sp_rng_normal(sp_rng *r)
{
    double u1 = sp_rng_double(r), u2 = sp_rng_double(r);
    if (u1 < 1e-300)
        u1 = 1e-300;
    return sqrt(-2.0 * log(u1)) * cos(6.283185307179586 * u2);
}

void sp_rng_shuffle(sp_rng *r, int64_t *a, int64_t n)
{
    for (int64_t i = n - 1; i > 0; i--) {
        int64_t j = (int64_t)sp_rng_below(r, (uint32_t)(i + 1));
        int64_t t = a[i];
        a[i] = a[j];
        a[j] = t;
    }
}

#include "sp_mt19937.h"
#include "sp_error.h"

#include <stdlib.h>

void sp_mt19937_seed(sp_mt19937 *s, uint32_t seed)
{
    s->mt[0] = seed;
    for (int i = 1; i < 624; i++)
        s->mt[i] = 1812433253u * (s->mt[i - 1] ^ (s->mt[i - 1] >> 30)) + (uint32_t)i;
    s->pos = 624;
}

static void regenerate(sp_mt19937 *s)
{
    static const uint32_t mag01[2] = {0u, 0x9908b0dfu};
    int k;
    uint32_t y;
    for (k = 0; k < 624 - 397; k++) {
        y = (s->mt[k] & 0x80000000u) | (s->mt[k + 1] & 0x7fffffffu);
        s->mt[k] = s->mt[k + 397] ^ (y >> 1) ^ mag01[y & 1];
    }
    for (; k < 623; k++) {
        y = (s->mt[k] & 0x80000000u) | (s->mt[k + 1] & 0x7fffffffu);
        s->mt[k] = s->mt[k + 397 - 624] ^ (y >> 1) ^ mag01[y & 1];
    }
    y = (s->mt[623] & 0x80000000u) | (s->mt[0] & 0x7fffffffu);
    s->mt[623] = s->mt[396] ^ (y >> 1) ^ mag01[y & 1];
    s->pos = 0;
}

uint32_t sp_mt19937_next32(sp_mt19937 *s)
{
    if (s->pos == 624)
        regenerate(s);
    uint32_t y = s->mt[s->pos++];
    y ^= y >> 11;
    y ^= (y << 7) & 0x9d2c5680u;
    y ^= (y << 15) & 0xefc60000u;
    y ^= y >> 18;
    return y;
}

/* numpy's random_interval: smallest all-ones mask >= max, then rejection. */
static uint64_t random_interval(sp_mt19937 *s, uint64_t max)
{
    if (max == 0)
        return 0;
    uint64_t mask = max, v;
    for (int sh = 1; sh <= 32; sh <<= 1)
        mask |= mask >> sh;
    if (max > 0xffffffffu)
        sp_fatal("internal error: numpy choice over more than 2^32 items");
    while ((v = (sp_mt19937_next32(s) & mask)) > max)
        ;
    return v;
}

void sp_numpy_choice(int64_t *out, uint32_t seed, int64_t n, int64_t k)
{
    sp_mt19937 s;
    int64_t *perm = sp_malloc(sizeof(int64_t) * (size_t)(n ? n : 1));
    sp_mt19937_seed(&s, seed);
    for (int64_t i = 0; i < n; i++)
        perm[i] = i;
    /* RandomState.permutation(n) = shuffle(arange(n)), Fisher-Yates from the end. */
    for (int64_t i = n - 1; i > 0; i--) {
        int64_t j = (int64_t)random_interval(&s, (uint64_t)i);
        int64_t t = perm[i];
        perm[i] = perm[j];
        perm[j] = t;
    }
    for (int64_t i = 0; i < k; i++)
        out[i] = perm[i];
    free(perm);
}

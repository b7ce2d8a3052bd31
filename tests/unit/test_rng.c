/* Philox 4x32-10 against the Random123 known-answer vectors, numpy's legacy
 * choice() against indices numpy drew (tests/golden/numpy_choice.txt), and
 * the statistics of the derived draws. */
#include "sp_test.h"
#include "sp_mt19937.h"
#include "sp_rng.h"

#include <stdint.h>
#include <stdlib.h>

static void philox_kat(void)
{
    /* Random123 kat_vectors: philox4x32 10 rounds. */
    static const uint32_t cases[3][10] = {
        {0, 0, 0, 0, 0, 0, 0x6627e8d5, 0xe169c58d, 0xbc57ac4c, 0x9b00dbd8},
        {0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff, 0x408f276d,
         0x41c83b0e, 0xa20bc7c6, 0x6d5451fd},
        {0x243f6a88, 0x85a308d3, 0x13198a2e, 0x03707344, 0xa4093822, 0x299f31d0, 0xd16cfe09,
         0x94fdcceb, 0x5001e420, 0x24126ea1},
    };
    for (int c = 0; c < 3; c++) {
        uint32_t out[4];
        sp_philox4x32_10(out, cases[c], cases[c] + 4);
        int same = 1;
        for (int i = 0; i < 4; i++)
            same &= out[i] == cases[c][6 + i];
        char name[64];
        snprintf(name, sizeof name, "philox4x32_10 known answer %d", c);
        CHECK(name, same, "got %08x %08x %08x %08x", out[0], out[1], out[2], out[3]);
    }
}

/* The block cache of sp_rng and the range fill give the indexed values:
 * ranges starting anywhere in a block, and a generator whose fields are
 * changed between draws (the cache must miss). */
static void cached_equals_indexed(void)
{
    int same = 1;
    for (uint64_t i0 = 0; i0 < 9; i0++)
        for (size_t n = 0; n < 11; n++) {
            float u[16];
            sp_philox_uniform_range(u, n, 99, 3, i0);
            for (size_t i = 0; i < n; i++)
                same &= u[i] == sp_philox_uniform_at(99, 3, i0 + i);
        }
    CHECK("sp_philox_uniform_range = sp_philox_uniform_at, any start and length", same, "mismatch");
    sp_rng r;
    sp_rng_init(&r, 5, 1);
    same = sp_rng_u32(&r) == sp_philox_u32_at(5, 1, 0);
    r.seed = 6; /* same block number, another key */
    same &= sp_rng_u32(&r) == sp_philox_u32_at(6, 1, 1);
    r.stream = 2;
    same &= sp_rng_u32(&r) == sp_philox_u32_at(6, 2, 2);
    r.index = 40;
    same &= sp_rng_u32(&r) == sp_philox_u32_at(6, 2, 40);
    r.index = 1; /* back into an earlier block */
    same &= sp_rng_u32(&r) == sp_philox_u32_at(6, 2, 1);
    CHECK("sp_rng after its seed, stream or index is set: the indexed values", same, "stale cache");
}

static void indexed_equals_sequential(void)
{
    sp_rng r;
    sp_rng_init(&r, 1234, 7);
    int same = 1;
    for (uint64_t i = 0; i < 100; i++)
        same &= sp_rng_u32(&r) == sp_philox_u32_at(1234, 7, i);
    CHECK("rng sequential draws equal indexed draws", same, "mismatch");
}

static void uniform_stats(void)
{
    sp_rng r;
    sp_rng_init(&r, 1, 0);
    double sum = 0, sum2 = 0;
    int n = 200000, out_of_range = 0, below_bad = 0;
    int hist[10] = {0};
    for (int i = 0; i < n; i++) {
        float u = sp_rng_uniform(&r);
        out_of_range += !(u >= 0.0f && u < 1.0f);
        sum += u;
        sum2 += (double)u * u;
        uint32_t b = sp_rng_below(&r, 10);
        below_bad += b >= 10;
        if (b < 10)
            hist[b]++;
    }
    double mean = sum / n, var = sum2 / n - mean * mean;
    CHECK("uniform in [0,1)", out_of_range == 0, "%d out of range", out_of_range);
    CHECK("uniform mean 1/2", fabs(mean - 0.5) < 0.005, "mean %f", mean);
    CHECK("uniform variance 1/12", fabs(var - 1.0 / 12) < 0.002, "var %f", var);
    int hist_ok = below_bad == 0;
    for (int i = 0; i < 10; i++)
        hist_ok &= abs(hist[i] - n / 10) < n / 100;
    CHECK("below(10) uniform", hist_ok, "histogram off");
    double s = 0, s2 = 0;
    for (int i = 0; i < n; i++) {
        double g = sp_rng_normal(&r);
        s += g;
        s2 += g * g;
    }
    CHECK("normal mean 0 variance 1", fabs(s / n) < 0.01 && fabs(s2 / n - 1) < 0.02,
          "mean %f var %f", s / n, s2 / n);
}

static void numpy_choice(void)
{
    FILE *f = fopen("tests/golden/numpy_choice.txt", "r");
    CHECK("numpy_choice golden file", f != NULL, "tests/golden/numpy_choice.txt missing");
    if (!f)
        return;
    long seed, n, k;
    int cases = 0;
    while (fscanf(f, "%ld %ld %ld", &seed, &n, &k) == 3) {
        int64_t *got = malloc(sizeof(int64_t) * (size_t)k);
        sp_numpy_choice(got, (uint32_t)seed, n, k);
        int same = 1;
        for (long i = 0; i < k; i++) {
            long want;
            if (fscanf(f, "%ld", &want) != 1 || want != got[i])
                same = 0;
        }
        char name[96];
        snprintf(name, sizeof name, "numpy choice seed %ld n %ld k %ld", seed, n, k);
        CHECK(name, same, "differs from numpy");
        free(got);
        cases++;
    }
    fclose(f);
    CHECK("numpy_choice cases read", cases == 5, "%d cases", cases);
}

int main(void)
{
    philox_kat();
    indexed_equals_sequential();
    cached_equals_indexed();
    uniform_stats();
    numpy_choice();
    TEST_MAIN_END;
}

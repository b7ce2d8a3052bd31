/* numpy's legacy RandomState (MT19937) — only what the reference's dataset
 * splits use: np.random.seed(s); np.random.choice(range(n), k, replace=False).
 * Reproducing it lets `sp-load --split val` pick exactly the reference's
 * validation images. */
#ifndef SP_MT19937_H
#define SP_MT19937_H

#include <stdint.h>

typedef struct {
    uint32_t mt[624];
    int pos;
} sp_mt19937;

void sp_mt19937_seed(sp_mt19937 *s, uint32_t seed);
uint32_t sp_mt19937_next32(sp_mt19937 *s);
/* np.random.seed(seed); np.random.choice(range(n), k, replace=False) into
 * out[0..k) (k <= n). */
void sp_numpy_choice(int64_t *out, uint32_t seed, int64_t n, int64_t k);

#endif

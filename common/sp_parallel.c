#include "sp_parallel.h"

#include <omp.h>

void sp_parallel_for(size_t n, size_t min_n, sp_range_fn fn, void *ctx)
{
    if (n == 0)
        return;
    if (n < min_n || omp_in_parallel() || omp_get_max_threads() < 2) {
        fn(ctx, 0, n);
        return;
    }
#pragma omp parallel
    {
        const size_t T = (size_t)omp_get_num_threads(), t = (size_t)omp_get_thread_num();
        const size_t q = n / T, r = n % T, i0 = t * q + (t < r ? t : r), i1 = i0 + q + (t < r ? 1 : 0);
        if (i0 < i1)
            fn(ctx, i0, i1);
    }
}

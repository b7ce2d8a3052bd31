/* What the kernel files share: launch sizes and fatal error checks. */
#ifndef SP_CUDA_UTIL_CUH
#define SP_CUDA_UTIL_CUH

#include "sp_cuda.h"

#include <cuda_runtime.h>
#include <stddef.h>
#include <stdint.h>

extern "C" {
#include "sp_error.h"
}

#define SP_CUDA_THREADS 256

/* Blocks of SP_CUDA_THREADS for n items (at least 1; grid-stride loops
 * cover what a capped grid does not). */
static inline unsigned sp_cuda_blocks(size_t n)
{
    size_t b = (n + SP_CUDA_THREADS - 1) / SP_CUDA_THREADS;
    if (b < 1)
        b = 1;
    if (b > 65535u * 16u)
        b = 65535u * 16u;
    return (unsigned)b;
}

#define SP_CUDA_CALL(expr)                                                                     \
    do {                                                                                       \
        cudaError_t sp_e_ = (expr);                                                            \
        if (sp_e_ != cudaSuccess)                                                              \
            sp_fatal("cuda: %s: %s", #expr, cudaGetErrorString(sp_e_));                        \
    } while (0)

/* A grid-stride loop over [0, n). */
#define SP_CUDA_FOR(i, n)                                                                      \
    for (size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x; i < (n);                   \
         i += (size_t)blockDim.x * gridDim.x)

#endif

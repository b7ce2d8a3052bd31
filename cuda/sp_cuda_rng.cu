/* Philox 4x32-10 on the GPU: the same function of (seed, stream, index) as
 * common/sp_rng.c, so both devices draw identical bits. */
#include "sp_cuda_util.cuh"

__device__ static uint32_t philox_u32_at(uint64_t seed, uint64_t stream, uint64_t index)
{
    uint64_t block = index >> 2;
    uint32_t c0 = (uint32_t)block, c1 = (uint32_t)(block >> 32), c2 = (uint32_t)stream,
             c3 = (uint32_t)(stream >> 32);
    uint32_t k0 = (uint32_t)seed, k1 = (uint32_t)(seed >> 32);
    for (int round = 0; round < 10; round++) {
        uint32_t hi0 = __umulhi(0xD2511F53u, c0), lo0 = 0xD2511F53u * c0;
        uint32_t hi1 = __umulhi(0xCD9E8D57u, c2), lo1 = 0xCD9E8D57u * c2;
        c0 = hi1 ^ c1 ^ k0;
        c1 = lo1;
        c2 = hi0 ^ c3 ^ k1;
        c3 = lo0;
        k0 += 0x9E3779B9u;
        k1 += 0xBB67AE85u;
    }
    switch (index & 3) {
    case 0: return c0;
    case 1: return c1;
    case 2: return c2;
    default: return c3;
    }
}

__global__ static void uniform_k(float *y, size_t n, float scale, float lo, uint64_t seed,
                                 uint64_t stream, uint64_t index0)
{
    SP_CUDA_FOR(i, n)
    {
        float u = __fmul_rn((float)(philox_u32_at(seed, stream, index0 + i) >> 8),
                            1.0f / 16777216.0f);
        y[i] = __fadd_rn(__fmul_rn(scale, u), lo);
    }
}

__global__ static void u32_k(uint32_t *out, size_t n, uint64_t seed, uint64_t stream, uint64_t index0)
{
    SP_CUDA_FOR(i, n) out[i] = philox_u32_at(seed, stream, index0 + i);
}

extern "C" void sp_cuda_uniform_noise(float *y, size_t n, double low, double high, uint64_t seed,
                                      uint64_t stream, uint64_t index0)
{
    if (n == 0)
        return;
    uniform_k<<<sp_cuda_blocks(n), SP_CUDA_THREADS>>>(y, n, (float)(high - low), (float)low, seed,
                                                      stream, index0);
    sp_cuda_check("uniform_k");
}

extern "C" void sp_cuda_philox_u32(uint32_t *out, size_t n, uint64_t seed, uint64_t stream,
                                   uint64_t index0)
{
    if (n == 0)
        return;
    u32_k<<<sp_cuda_blocks(n), SP_CUDA_THREADS>>>(out, n, seed, stream, index0);
    sp_cuda_check("u32_k");
}

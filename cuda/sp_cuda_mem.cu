/* The per-process device arena (see sp_cuda.h). */
#include "sp_cuda_util.cuh"

#include <string.h>

#define ALIGN 256
#define MAX_EXTRA 64

static char *block;               /* the main block */
static size_t cap, used, peak;    /* its size, bytes handed out this call, most ever asked */
static void *extra[MAX_EXTRA];    /* blocks taken by a call that did not fit */
static int nextra;

static size_t round_up(size_t b) { return (b + ALIGN - 1) / ALIGN * ALIGN; }

extern "C" void sp_cuda_arena_reset(void)
{
    if (nextra > 0) {
        /* Last call overflowed: one block of the whole need replaces all. */
        for (int i = 0; i < nextra; i++)
            SP_CUDA_CALL(cudaFree(extra[i]));
        nextra = 0;
        if (block)
            SP_CUDA_CALL(cudaFree(block));
        block = NULL;
        cap = 0;
        if (peak > 0) {
            SP_CUDA_CALL(cudaMalloc((void **)&block, peak));
            cap = peak;
        }
    }
    used = 0;
}

extern "C" void *sp_cuda_alloc(size_t bytes)
{
    size_t b = round_up(bytes ? bytes : 1);
    if (used + b > peak)
        peak = used + b;
    if (used + b <= cap) {
        void *p = block + used;
        used += b;
        return p;
    }
    if (nextra == MAX_EXTRA)
        sp_fatal("cuda: arena: more than %d overflow blocks in one call", MAX_EXTRA);
    void *p = NULL;
    SP_CUDA_CALL(cudaMalloc(&p, b));
    extra[nextra++] = p;
    used += b; /* counted, so that the next block holds everything */
    return p;
}

extern "C" size_t sp_cuda_arena_capacity(void) { return cap; }

extern "C" void *sp_cuda_upload(const void *host, size_t bytes)
{
    if (!host)
        return NULL;
    void *d = sp_cuda_alloc(bytes);
    if (bytes)
        SP_CUDA_CALL(cudaMemcpy(d, host, bytes, cudaMemcpyHostToDevice));
    return d;
}

extern "C" void sp_cuda_download(void *host, const void *dev, size_t bytes)
{
    if (bytes)
        SP_CUDA_CALL(cudaMemcpy(host, dev, bytes, cudaMemcpyDeviceToHost));
}

extern "C" void sp_cuda_zero(void *dev, size_t bytes)
{
    if (bytes)
        SP_CUDA_CALL(cudaMemset(dev, 0, bytes));
}

extern "C" void sp_cuda_check(const char *what)
{
    cudaError_t e = cudaGetLastError();
    if (e == cudaSuccess)
        e = cudaDeviceSynchronize();
    if (e != cudaSuccess)
        sp_fatal("cuda: %s: %s", what, cudaGetErrorString(e));
}

#include "sp_cuda.h"

#include <cstdio>
#include <cuda_runtime.h>

/* Writes 1 so the probe knows kernels really launch on this device. */
__global__ static void sp_probe_kernel(int *flag) { *flag = 1; }

extern "C" int sp_cuda_usable_devices(char *err, size_t errlen)
{
    int n = 0;
    cudaError_t e = cudaGetDeviceCount(&n);
    if (e != cudaSuccess || n == 0) {
        snprintf(err, errlen, "%s", e != cudaSuccess ? cudaGetErrorString(e) : "no CUDA device");
        return 0;
    }
    int *flag = nullptr, host = 0;
    if ((e = cudaMalloc(&flag, sizeof *flag)) == cudaSuccess) {
        sp_probe_kernel<<<1, 1>>>(flag);
        e = cudaGetLastError();
        if (e == cudaSuccess)
            e = cudaMemcpy(&host, flag, sizeof host, cudaMemcpyDeviceToHost);
        cudaFree(flag);
    }
    if (e != cudaSuccess || host != 1) {
        snprintf(err, errlen, "%s", e != cudaSuccess ? cudaGetErrorString(e) : "probe kernel did not run");
        return 0;
    }
    return n;
}

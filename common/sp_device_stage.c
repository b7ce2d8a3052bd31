/* sp_device_resolve_stage: the GPUs counted through the CUDA runtime opened
 * with dlopen, only when --device asks (auto, cuda), so that the stages
 * without a CUDA path load neither it nor libstdc++ at start.  The count is
 * only said, never used: no kernel is launched. */
#include "sp_device.h"

#include <stdio.h>

#ifdef SP_HAVE_CUDA
#include <dlfcn.h>

/* the runtime the build linked (its soname, from the Makefile), found
 * where the programs' run path says, as the linked ones find it */
#ifndef SP_CUDART_SONAME
#define SP_CUDART_SONAME "libcudart.so"
#endif

static int count_gpus(char *why, size_t len)
{
    void *h = dlopen(SP_CUDART_SONAME, RTLD_NOW | RTLD_LOCAL);
    if (!h) {
        snprintf(why, len, "cannot open the CUDA runtime: %s", dlerror());
        return 0;
    }
    int (*count)(int *) = (int (*)(int *))dlsym(h, "cudaGetDeviceCount");
    const char *(*name)(int) = (const char *(*)(int))dlsym(h, "cudaGetErrorString");
    int n = 0, e = count && name ? count(&n) : -1;
    if (e != 0 || n <= 0)
        snprintf(why, len, "%s", e == -1 ? "the CUDA runtime lacks cudaGetDeviceCount" : e ? name(e) : "no CUDA device");
    /* the runtime stays loaded: unloading it after its first call is not safe */
    return e == 0 && n > 0 ? n : 0;
}
#endif

sp_device sp_device_resolve_stage(const char *choice, const char *stage)
{
#ifdef SP_HAVE_CUDA
    return sp_device_decide(choice, 0, stage, count_gpus);
#else
    return sp_device_decide(choice, 0, stage, NULL);
#endif
}

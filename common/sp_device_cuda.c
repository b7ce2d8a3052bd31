/* sp_device_resolve: the programs with a CUDA path (sp-train, sp-op) link
 * the CUDA runtime and probe with a kernel launch (cuda/sp_cuda_probe.cu);
 * apart from sp_device.c so that the stages without one do not link it. */
#include "sp_device.h"

#ifdef SP_HAVE_CUDA
#include "../cuda/sp_cuda.h"
#endif

sp_device sp_device_resolve(const char *choice)
{
#ifdef SP_HAVE_CUDA
    return sp_device_decide(choice, 1, NULL, sp_cuda_usable_devices);
#else
    return sp_device_decide(choice, 1, NULL, NULL);
#endif
}

/* The CUDA side of the library, callable from C.  Every GPU stage links the
 * same library; a build without nvcc has none of these symbols and
 * common/sp_device.c never calls them. */
#ifndef SP_CUDA_H
#define SP_CUDA_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Number of usable GPUs: 0 with a reason in err when CUDA reports any error
 * (without a GPU the runtime answers "insufficient driver", not "no
 * device"), or when a trivial kernel cannot run. */
int sp_cuda_usable_devices(char *err, size_t errlen);

#ifdef __cplusplus
}
#endif

#endif

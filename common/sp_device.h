/* Which device a stage runs on: --device auto|cpu|cuda. */
#ifndef SP_DEVICE_H
#define SP_DEVICE_H

typedef enum { SP_DEVICE_CPU, SP_DEVICE_CUDA } sp_device;

/* Resolves the --device value.  "auto" picks the GPU when one works and
 * otherwise the CPU, and says on stderr which it uses and why; "cuda" without
 * a usable GPU (or in a build without nvcc) is a fatal error. */
sp_device sp_device_resolve(const char *choice);
const char *sp_device_name(sp_device d);

#endif

/* Which device a stage runs on: --device auto|cpu|cuda. */
#ifndef SP_DEVICE_H
#define SP_DEVICE_H

#include <stddef.h>

typedef enum { SP_DEVICE_CPU, SP_DEVICE_CUDA } sp_device;

/* Resolves the --device value.  "auto" picks the GPU when one works and
 * otherwise the CPU, and says on stderr which it uses and why; "cuda" without
 * a usable GPU (or in a build without nvcc) is a fatal error. */
sp_device sp_device_resolve(const char *choice);

/* The same for a stage whose computation has no CUDA path yet (sp-predict,
 * sp-select, sp-compose); returns the device it really runs on, the CPU,
 * and never claims a GPU it does not use: "cpu" is silent; "auto" says in
 * one line that it uses the CPU (no usable GPU, or a GPU but no CUDA path
 * for the stage); "cuda" without a usable GPU is the fatal error above,
 * and "cuda" with a GPU says in one line that it runs on the CPU.  stage
 * names the stage in those lines ("sp-predict").  It counts the GPUs
 * through the CUDA runtime opened at run time (sp_device_stage.c), so that
 * these stages do not load it, nor libstdc++, at every start (~7 ms here)
 * for a device they never use. */
sp_device sp_device_resolve_stage(const char *choice, const char *stage);

/* What both share: choice checked, gpus counted by count (NULL: none, why
 * says so) only for auto and cuda, the lines above. */
typedef int (*sp_device_count_fn)(char *why, size_t len);
sp_device sp_device_decide(const char *choice, int has_cuda, const char *stage, sp_device_count_fn count);

const char *sp_device_name(sp_device d);

/* The --device option of the model stages that have no CUDA path yet
 * (sp-predict, sp-select, sp-compose), for their sp_opt tables. */
#define SP_STAGE_DEVICE_HELP                                                                       \
    "auto|cpu|cuda (default cpu).  No CUDA path yet: auto says on stderr that it\n"                \
    "                         uses the CPU; cuda is an error without a usable GPU, else\n"         \
    "                         runs on the CPU and says so"
#define SP_STAGE_DEVICE_OPT(ptr) {"device", SP_OPT_STR, (ptr), "D", SP_STAGE_DEVICE_HELP}

#endif

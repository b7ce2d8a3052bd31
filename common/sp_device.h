/* Which device a stage runs on: --device auto|cpu|cuda. */
#ifndef SP_DEVICE_H
#define SP_DEVICE_H

typedef enum { SP_DEVICE_CPU, SP_DEVICE_CUDA } sp_device;

/* Resolves the --device value.  "auto" picks the GPU when one works and
 * otherwise the CPU, and says on stderr which it uses and why; "cuda" without
 * a usable GPU (or in a build without nvcc) is a fatal error. */
sp_device sp_device_resolve(const char *choice);

/* The same for a stage whose computation may have no CUDA path yet
 * (has_cuda 0); returns the device the computation really runs on, and
 * never claims a GPU it does not use: "cpu" is silent; "auto" says in one
 * line which device it uses (the CPU, also when a GPU works but the stage
 * has no CUDA path); "cuda" without a usable GPU is the fatal error above,
 * and "cuda" with a GPU but no CUDA path says in one line that it runs on
 * the CPU.  stage names the stage in those lines ("sp-predict"). */
sp_device sp_device_resolve_stage(const char *choice, int has_cuda, const char *stage);

const char *sp_device_name(sp_device d);

/* The --device option of the model stages that have no CUDA path yet
 * (sp-predict, sp-select, sp-compose), for their sp_opt tables. */
#define SP_STAGE_DEVICE_HELP                                                                       \
    "auto|cpu|cuda (default cpu).  No CUDA path yet: auto says on stderr that it\n"                \
    "                         uses the CPU; cuda is an error without a usable GPU, else\n"         \
    "                         runs on the CPU and says so"
#define SP_STAGE_DEVICE_OPT(ptr) {"device", SP_OPT_STR, (ptr), "D", SP_STAGE_DEVICE_HELP}

#endif

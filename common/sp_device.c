#include "sp_device.h"
#include "sp_error.h"

#include <stdio.h>
#include <string.h>

const char *sp_device_name(sp_device d) { return d == SP_DEVICE_CUDA ? "cuda" : "cpu"; }

sp_device sp_device_decide(const char *choice, int has_cuda, const char *stage, sp_device_count_fn count)
{
    char why[256] = "this build has no CUDA (nvcc was not found, or CUDA=0)";
    int gpus = 0;
    if (strcmp(choice, "cpu") == 0)
        return SP_DEVICE_CPU;
    if (strcmp(choice, "auto") != 0 && strcmp(choice, "cuda") != 0)
        sp_fatal("--device: '%s' is not one of auto, cpu, cuda", choice);
    if (count)
        gpus = count(why, sizeof why);
    const int is_auto = strcmp(choice, "auto") == 0;
    if (gpus > 0 && has_cuda) {
        if (is_auto)
            sp_warn("device: cuda (%d GPU%s)", gpus, gpus > 1 ? "s" : "");
        return SP_DEVICE_CUDA;
    }
    if (gpus > 0) {
        if (is_auto)
            sp_warn("device: cpu (%s has no CUDA path yet; %d GPU%s unused)", stage, gpus, gpus > 1 ? "s" : "");
        else
            sp_warn("--device cuda: %s has no CUDA path yet; running on the CPU", stage);
        return SP_DEVICE_CPU;
    }
    if (!is_auto)
        sp_fatal("--device cuda: no usable GPU: %s", why);
    sp_warn("device: cpu (no usable GPU: %s)", why);
    return SP_DEVICE_CPU;
}

/* What the CUDA op wrappers (sp_ops_cuda_*.c) share: moving tensors to and
 * from the device arena.  Only for builds with SP_HAVE_CUDA. */
#ifndef SP_OPS_CUDA_H
#define SP_OPS_CUDA_H

#ifdef SP_HAVE_CUDA
#include "../cuda/sp_cuda.h"
#include "sp_op.h"

/* The tensor's data in the arena (NULL for NULL). */
float *sp_cu_in(const sp_tensor *t);
/* A device buffer for a tensor of this shape. */
float *sp_cu_buf(int ndim, const int64_t *shape);
/* A new host tensor of shape, filled from dev, put into out as name. */
void sp_cu_out(sp_map *out, const char *name, const float *dev, int ndim, const int64_t *shape);
/* 1 when any of the n tensors (NULL ones skipped) holds no element: the
 * wrappers leave such cases to the CPU. */
int sp_cu_any_empty(int n, ...);
#endif

#endif

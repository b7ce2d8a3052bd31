/* The CUDA backend table of the op registry (sp_op.h): which ops have a
 * CUDA implementation, and running an op on a device.  The
 * implementations are in sp_ops_cuda_nn.c, sp_ops_cuda_geom.c and
 * sp_ops_cuda_compose.c; in a build without CUDA their tables are empty. */
#include "sp_ops_cuda.h"
#include "sp_error.h"
#include "sp_op.h"

#include <stdarg.h>
#include <string.h>

static const sp_op_impl *const cuda_families[] = {sp_ops_cuda_nn, sp_ops_cuda_geom,
                                                  sp_ops_cuda_compose};

const sp_op_impl *sp_op_cuda_find(const char *name)
{
    for (size_t f = 0; f < sizeof cuda_families / sizeof *cuda_families; f++)
        for (const sp_op_impl *i = cuda_families[f]; i->name; i++)
            if (strcmp(i->name, name) == 0)
                return i;
    return NULL;
}

void sp_op_cuda_foreach(void (*fn)(const sp_op_impl *impl, void *ctx), void *ctx)
{
    for (size_t f = 0; f < sizeof cuda_families / sizeof *cuda_families; f++)
        for (const sp_op_impl *i = cuda_families[f]; i->name; i++)
            fn(i, ctx);
}

const char *sp_op_cuda_coverage(const sp_op_def *op)
{
#ifndef SP_HAVE_CUDA
    (void)op;
    return "none (this build has no CUDA)";
#else
    const sp_op_impl *i = sp_op_cuda_find(op->name);
    if (!i || !i->forward)
        return "none";
    return i->backward || !op->backward ? (op->backward ? "forward, backward" : "forward")
                                        : "forward (backward on the CPU)";
#endif
}

int sp_op_run(const sp_op_def *op, int dev, int backward, sp_map *out, const sp_map *in,
              const sp_op_attrs *a)
{
#ifdef SP_HAVE_CUDA
    if (dev == 1) {
        const sp_op_impl *i = sp_op_cuda_find(op->name);
        sp_op_impl_fn fn = i ? (backward ? i->backward : i->forward) : NULL;
        if (fn) {
            sp_cuda_arena_reset();
            if (fn(out, in, a))
                return 1;
        }
    }
#else
    (void)dev;
#endif
    if (backward)
        op->backward(out, in, a);
    else
        op->forward(out, in, a);
    return 0;
}

#ifdef SP_HAVE_CUDA
float *sp_cu_in(const sp_tensor *t)
{
    if (!t)
        return NULL;
    return (float *)sp_cuda_upload(t->data, t->nbytes);
}

float *sp_cu_buf(int ndim, const int64_t *shape)
{
    return (float *)sp_cuda_alloc(sizeof(float) * sp_shape_numel(ndim, shape));
}

void sp_cu_out(sp_map *out, const char *name, const float *dev, int ndim, const int64_t *shape)
{
    sp_tensor *t = sp_tensor_new(SP_F32, ndim, shape);
    sp_cuda_download(t->data, dev, t->nbytes);
    sp_map_put_tensor(out, name, t);
}

int sp_cu_any_empty(int n, ...)
{
    va_list ap;
    int empty = 0;
    va_start(ap, n);
    for (int i = 0; i < n; i++) {
        const sp_tensor *t = va_arg(ap, const sp_tensor *);
        if (t && sp_tensor_numel(t) == 0)
            empty = 1;
    }
    va_end(ap);
    return empty;
}
#endif

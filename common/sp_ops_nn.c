/* Registry entries of the network ops (see sp_op.h for the conventions).
 * Each entry is a thin wrapper: check the inputs, allocate outputs, call the
 * typed function of the family's header. */
#include "sp_activation.h"
#include "sp_error.h"
#include "sp_op.h"

static void relu_fwd(sp_map *out, const sp_map *in, const sp_op_attrs *a)
{
    (void)a;
    const sp_tensor *x = sp_op_input("relu", in, "x", SP_F32, -1);
    sp_tensor *y = sp_tensor_new(SP_F32, x->ndim, x->shape);
    sp_relu_forward(sp_f32(y), sp_f32(x), sp_tensor_numel(x));
    sp_map_put_tensor(out, "y", y);
}

static void relu_bwd(sp_map *grads, const sp_map *in, const sp_op_attrs *a)
{
    (void)a;
    const sp_tensor *x = sp_op_input("relu", in, "x", SP_F32, -1);
    const sp_tensor *dy = sp_op_input("relu", in, "dy", SP_F32, x->ndim);
    for (int i = 0; i < x->ndim; i++)
        sp_op_check_dim("relu", "dy", dy, i, x->shape[i]);
    sp_tensor *dx = sp_tensor_new(SP_F32, x->ndim, x->shape);
    sp_relu_backward(sp_f32(dx), sp_f32(dy), sp_f32(x), sp_tensor_numel(x));
    sp_map_put_tensor(grads, "dx", dx);
}

const sp_op_def sp_ops_nn[] = {
    {"relu", "rectified linear unit, y = max(x, 0)", "x", "y", "x", "x f32 [any] -> y f32 [same]",
     NULL, relu_fwd, relu_bwd},
    {0}};

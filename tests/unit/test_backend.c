/* The op registry's CUDA backend table, as far as a machine without a GPU
 * can check it: every entry names a registered op, has a forward, has a
 * backward only where the CPU op has one; in a CUDA build the table holds
 * exactly the ops listed below (so that a change of coverage is deliberate
 * and the README's list stays true), in a CPU-only build it is empty; and
 * sp_op_run on the CPU is the CPU op.  The kernels themselves are checked
 * on a GPU by make test-cuda. */
#include "sp_error.h"
#include "sp_op.h"
#include "sp_test.h"

#include <stdlib.h>
#include <string.h>

/* The ops with CUDA code (forward; "+" also backward). */
static const char *const expected[] = {
    "relu+", "conv2d+", "batchnorm2d+", "add+",
    "affine_grid+", "homography_grid+", "tps_grid+", "grid_sample+", "warp_affine+",
    "tsf_identity+", "tsf_position+", "tsf_similarity+", "tsf_affine+", "tsf_projective+",
    "tsf_tps+", "linear+", "mlp+",
    "clamp+", "sigmoid+", "compose+", "occlusion_grid+", "mse+", "adam", "uniform_noise",
    "mask_noise+",
    NULL};

static int count;

static void each(const sp_op_impl *impl, void *ctx)
{
    (void)ctx;
    char name[160];
    const sp_op_def *op = sp_op_find(impl->name);
    snprintf(name, sizeof name, "cuda table: %s is a registered op", impl->name);
    CHECK(name, op != NULL, "unknown op");
    snprintf(name, sizeof name, "cuda table: %s has a forward", impl->name);
    CHECK(name, impl->forward != NULL, "no forward");
    if (op) {
        snprintf(name, sizeof name, "cuda table: %s backward only with a CPU backward", impl->name);
        CHECK(name, !impl->backward || op->backward, "CUDA backward without a CPU one");
    }
    snprintf(name, sizeof name, "cuda table: %s found by name", impl->name);
    CHECK(name, sp_op_cuda_find(impl->name) == impl, "sp_op_cuda_find disagrees");
    count++;
}

int main(void)
{
    sp_set_prog("test_backend");
    sp_op_cuda_foreach(each, NULL);
#ifdef SP_HAVE_CUDA
    int n = 0;
    for (const char *const *e = expected; *e; e++, n++) {
        char op[64], name[160];
        size_t len = strcspn(*e, "+");
        snprintf(op, sizeof op, "%.*s", (int)len, *e);
        const sp_op_impl *impl = sp_op_cuda_find(op);
        snprintf(name, sizeof name, "cuda table lists %s%s", op, (*e)[len] ? " (forward, backward)" : "");
        CHECK(name, impl && impl->forward && !impl->backward == !(*e)[len], "%s",
              !impl ? "absent" : impl->backward ? "has a backward" : "has no backward");
    }
    CHECK("cuda table has no op beyond the expected list", count == n, "%d entries, %d expected",
          count, n);
    const sp_op_def *relu = sp_op_find("relu"), *pool = sp_op_find("maxpool2d");
    CHECK("coverage text of an op with both", !strcmp(sp_op_cuda_coverage(relu), "forward, backward"),
          "'%s'", sp_op_cuda_coverage(relu));
    CHECK("coverage text of an op without", !strcmp(sp_op_cuda_coverage(pool), "none"), "'%s'",
          sp_op_cuda_coverage(pool));
#else
    (void)expected;
    CHECK("cuda table empty without CUDA", count == 0, "%d entries", count);
    const sp_op_def *relu = sp_op_find("relu");
    CHECK("coverage text without CUDA", !strcmp(sp_op_cuda_coverage(relu), "none (this build has no CUDA)"),
          "'%s'", sp_op_cuda_coverage(relu));
#endif
    /* sp_op_run on the CPU is the CPU op */
    const sp_op_def *op = sp_op_find("relu");
    sp_map in = {0}, a = {0}, b = {0};
    sp_tensor *x = sp_tensor_newv(SP_F32, 1, (int64_t)4);
    float v[4] = {-1.0f, 0.0f, 2.5f, -0.0f};
    memcpy(x->data, v, sizeof v);
    sp_map_put_tensor(&in, "x", x);
    sp_op_attrs at;
    sp_op_attrs_defaults(&at, op);
    int dev = sp_op_run(op, 0, 0, &a, &in, &at);
    op->forward(&b, &in, &at);
    const sp_tensor *ya = sp_map_tensor(&a, "y"), *yb = sp_map_tensor(&b, "y");
    CHECK("sp_op_run on the cpu runs the cpu op", dev == 0 && ya && yb && !memcmp(ya->data, yb->data, 16),
          "device %d", dev);
    sp_map_free(&in);
    sp_map_free(&a);
    sp_map_free(&b);
    TEST_MAIN_END;
}

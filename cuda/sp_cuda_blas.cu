/* Linear layers through cuBLAS (one handle per process, FP32 without
 * TF32).  Row-major [r,c] arrays are column-major [c,r] ones to cuBLAS,
 * hence the transposes below. */
#include "sp_cuda_util.cuh"

#include <cublas_v2.h>

#define BLAS(expr)                                                                             \
    do {                                                                                       \
        cublasStatus_t sp_s_ = (expr);                                                         \
        if (sp_s_ != CUBLAS_STATUS_SUCCESS)                                                    \
            sp_fatal("cublas: %s: status %d", #expr, (int)sp_s_);                              \
    } while (0)

static cublasHandle_t handle;

static cublasHandle_t blas(void)
{
    if (!handle) {
        BLAS(cublasCreate(&handle));
        BLAS(cublasSetMathMode(handle, CUBLAS_PEDANTIC_MATH)); /* plain FP32, no TF32 */
    }
    return handle;
}

/* y [n,out] = bias broadcast over rows. */
__global__ static void bias_rows_k(float *y, const float *b, size_t n, int out)
{
    SP_CUDA_FOR(i, n * (size_t)out) y[i] = b[i % out];
}

/* db [out] = sum over rows of dy [n,out], rows in order (one thread per column). */
__global__ static void sum_rows_k(float *db, const float *dy, size_t n, int out)
{
    SP_CUDA_FOR(o, (size_t)out)
    {
        double s = 0.0; /* in double, as the CPU */
        for (size_t r = 0; r < n; r++)
            s += dy[r * out + o];
        db[o] = (float)s;
    }
}

static int as_int(size_t v)
{
    if (v > 2147483647u)
        sp_fatal("cublas: dimension %zu too large", v);
    return (int)v;
}

extern "C" void sp_cuda_linear_forward(float *y, const float *x, const float *w, const float *b,
                                       size_t n, int in, int out)
{
    if (n == 0 || out == 0)
        return;
    float one = 1.0f, beta = b ? 1.0f : 0.0f;
    if (b) {
        bias_rows_k<<<sp_cuda_blocks(n * out), SP_CUDA_THREADS>>>(y, b, n, out);
        sp_cuda_check("bias_rows_k");
    } else if (in == 0) {
        sp_cuda_zero(y, sizeof(float) * n * out);
        return;
    }
    if (in == 0)
        return;
    /* y^T [out,n] = w [out,in] x^T [in,n] */
    BLAS(cublasSgemm(blas(), CUBLAS_OP_T, CUBLAS_OP_N, out, as_int(n), in, &one, w, in, x, in, &beta,
                     y, out));
    sp_cuda_check("linear forward");
}

extern "C" void sp_cuda_linear_backward(float *dx, float *dw, float *db, const float *dy,
                                        const float *x, const float *w, size_t n, int in, int out)
{
    float one = 1.0f, zero = 0.0f;
    if (dx && n > 0 && in > 0) {
        if (out == 0)
            sp_cuda_zero(dx, sizeof(float) * n * in);
        else /* dx^T [in,n] = w^T [in,out] dy^T [out,n] */
            BLAS(cublasSgemm(blas(), CUBLAS_OP_N, CUBLAS_OP_N, in, as_int(n), out, &one, w, in, dy,
                             out, &zero, dx, in));
    }
    if (dw && in > 0 && out > 0) {
        if (n == 0)
            sp_cuda_zero(dw, sizeof(float) * in * out);
        else /* dw^T [in,out] = x^T [in,n] dy [n,out] */
            BLAS(cublasSgemm(blas(), CUBLAS_OP_N, CUBLAS_OP_T, in, out, as_int(n), &one, x, in, dy,
                             out, &zero, dw, in));
    }
    if (db && out > 0) {
        sum_rows_k<<<sp_cuda_blocks((size_t)out), SP_CUDA_THREADS>>>(db, dy, n, out);
        sp_cuda_check("sum_rows_k");
    }
    sp_cuda_check("linear backward");
}

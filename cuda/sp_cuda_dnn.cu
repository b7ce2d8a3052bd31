/* Convolution and batch normalisation through cuDNN (legacy API, which
 * cuDNN 9 still ships).  One handle per process, one workspace capped at
 * SP_CUDA_WORKSPACE_MB MiB (default 256), and per convolution shape the
 * descriptors and algorithms chosen once (cuDNN's heuristics, restricted to
 * FMA math, no TF32, and, for the backward, to deterministic algorithms),
 * kept for the life of the process. */
#include "sp_cuda_util.cuh"

#include <cudnn.h>
#include <stdlib.h>
#include <string.h>

#define DNN(expr)                                                                              \
    do {                                                                                       \
        cudnnStatus_t sp_s_ = (expr);                                                          \
        if (sp_s_ != CUDNN_STATUS_SUCCESS)                                                     \
            sp_fatal("cudnn: %s: %s", #expr, cudnnGetErrorString(sp_s_));                      \
    } while (0)

static cudnnHandle_t handle;
static void *workspace;
static size_t workspace_size;

static cudnnHandle_t dnn(void)
{
    if (!handle)
        DNN(cudnnCreate(&handle));
    return handle;
}

static size_t workspace_cap(void)
{
    const char *s = getenv("SP_CUDA_WORKSPACE_MB");
    long mb = s ? atol(s) : 256;
    if (mb < 0)
        mb = 0;
    return (size_t)mb << 20;
}

/* The one workspace, grown (never past the cap) when a shape needs more. */
static void *workspace_get(size_t bytes)
{
    if (bytes == 0)
        return NULL;
    if (bytes > workspace_size) {
        if (workspace)
            SP_CUDA_CALL(cudaFree(workspace));
        SP_CUDA_CALL(cudaMalloc(&workspace, bytes));
        workspace_size = bytes;
    }
    return workspace;
}

/* ---- convolution --------------------------------------------------------------- */

typedef struct {
    sp_cuda_conv_shape s;
    cudnnTensorDescriptor_t x, y, b;
    cudnnFilterDescriptor_t w;
    cudnnConvolutionDescriptor_t conv;
    cudnnConvolutionFwdAlgo_t fwd;
    cudnnConvolutionBwdDataAlgo_t bwd_data;
    cudnnConvolutionBwdFilterAlgo_t bwd_filter;
    size_t ws_fwd, ws_data, ws_filter;
} conv_plan;

#define MAX_PLANS 128
static conv_plan plans[MAX_PLANS];
static int nplans;

static int math_ok(cudnnMathType_t m) { return m == CUDNN_DEFAULT_MATH || m == CUDNN_FMA_MATH; }

static conv_plan *conv_get(const sp_cuda_conv_shape *s)
{
    for (int i = 0; i < nplans; i++)
        if (memcmp(&plans[i].s, s, sizeof *s) == 0)
            return &plans[i];
    if (nplans == MAX_PLANS)
        sp_fatal("cudnn: more than %d convolution shapes", MAX_PLANS);
    conv_plan *p = &plans[nplans];
    memset(p, 0, sizeof *p);
    p->s = *s;
    int ho = (s->h + 2 * s->ph - s->kh) / s->sh + 1, wo = (s->w + 2 * s->pw - s->kw) / s->sw + 1;
    cudnnHandle_t h = dnn();
    DNN(cudnnCreateTensorDescriptor(&p->x));
    DNN(cudnnCreateTensorDescriptor(&p->y));
    DNN(cudnnCreateTensorDescriptor(&p->b));
    DNN(cudnnCreateFilterDescriptor(&p->w));
    DNN(cudnnCreateConvolutionDescriptor(&p->conv));
    DNN(cudnnSetTensor4dDescriptor(p->x, CUDNN_TENSOR_NCHW, CUDNN_DATA_FLOAT, s->n, s->c, s->h, s->w));
    DNN(cudnnSetTensor4dDescriptor(p->y, CUDNN_TENSOR_NCHW, CUDNN_DATA_FLOAT, s->n, s->o, ho, wo));
    DNN(cudnnSetTensor4dDescriptor(p->b, CUDNN_TENSOR_NCHW, CUDNN_DATA_FLOAT, 1, s->o, 1, 1));
    DNN(cudnnSetFilter4dDescriptor(p->w, CUDNN_DATA_FLOAT, CUDNN_TENSOR_NCHW, s->o, s->c, s->kh, s->kw));
    DNN(cudnnSetConvolution2dDescriptor(p->conv, s->ph, s->pw, s->sh, s->sw, 1, 1,
                                        CUDNN_CROSS_CORRELATION, CUDNN_DATA_FLOAT));
    DNN(cudnnSetConvolutionMathType(p->conv, CUDNN_FMA_MATH)); /* no TF32 */
    const size_t cap = workspace_cap();
    int got = 0, found = 0;

    cudnnConvolutionFwdAlgoPerf_t fp[CUDNN_CONVOLUTION_FWD_ALGO_COUNT];
    DNN(cudnnGetConvolutionForwardAlgorithm_v7(h, p->x, p->w, p->conv, p->y,
                                               CUDNN_CONVOLUTION_FWD_ALGO_COUNT, &got, fp));
    for (int i = 0; i < got && !found; i++)
        if (fp[i].status == CUDNN_STATUS_SUCCESS && fp[i].memory <= cap && math_ok(fp[i].mathType) &&
            fp[i].determinism == CUDNN_DETERMINISTIC)
            p->fwd = fp[i].algo, p->ws_fwd = fp[i].memory, found = 1;
    if (!found)
        sp_fatal("cudnn: no deterministic forward algorithm within the workspace cap for this "
                 "convolution (SP_CUDA_WORKSPACE_MB)");

    found = 0;
    cudnnConvolutionBwdDataAlgoPerf_t dp[CUDNN_CONVOLUTION_BWD_DATA_ALGO_COUNT];
    DNN(cudnnGetConvolutionBackwardDataAlgorithm_v7(h, p->w, p->y, p->conv, p->x,
                                                    CUDNN_CONVOLUTION_BWD_DATA_ALGO_COUNT, &got, dp));
    for (int i = 0; i < got && !found; i++)
        if (dp[i].status == CUDNN_STATUS_SUCCESS && dp[i].memory <= cap && math_ok(dp[i].mathType) &&
            dp[i].determinism == CUDNN_DETERMINISTIC)
            p->bwd_data = dp[i].algo, p->ws_data = dp[i].memory, found = 1;
    if (!found)
        sp_fatal("cudnn: no deterministic backward-data algorithm within the workspace cap");

    found = 0;
    cudnnConvolutionBwdFilterAlgoPerf_t wp[CUDNN_CONVOLUTION_BWD_FILTER_ALGO_COUNT];
    DNN(cudnnGetConvolutionBackwardFilterAlgorithm_v7(h, p->x, p->y, p->conv, p->w,
                                                      CUDNN_CONVOLUTION_BWD_FILTER_ALGO_COUNT, &got, wp));
    for (int i = 0; i < got && !found; i++)
        if (wp[i].status == CUDNN_STATUS_SUCCESS && wp[i].memory <= cap && math_ok(wp[i].mathType) &&
            wp[i].determinism == CUDNN_DETERMINISTIC)
            p->bwd_filter = wp[i].algo, p->ws_filter = wp[i].memory, found = 1;
    if (!found)
        sp_fatal("cudnn: no deterministic backward-filter algorithm within the workspace cap");
    nplans++;
    return p;
}

static const float one = 1.0f, zero = 0.0f;

extern "C" void sp_cuda_conv2d_forward(float *y, const float *x, const float *weight,
                                       const float *bias, const sp_cuda_conv_shape *d)
{
    conv_plan *p = conv_get(d);
    void *ws = workspace_get(p->ws_fwd);
    DNN(cudnnConvolutionForward(dnn(), &one, p->x, x, p->w, weight, p->conv, p->fwd, ws, p->ws_fwd,
                                &zero, p->y, y));
    if (bias)
        DNN(cudnnAddTensor(dnn(), &one, p->b, bias, &one, p->y, y));
    sp_cuda_check("conv2d forward");
}

extern "C" void sp_cuda_conv2d_backward(float *dx, float *dweight, float *dbias, const float *dy,
                                        const float *x, const float *weight,
                                        const sp_cuda_conv_shape *d)
{
    conv_plan *p = conv_get(d);
    if (dx) {
        void *ws = workspace_get(p->ws_data);
        DNN(cudnnConvolutionBackwardData(dnn(), &one, p->w, weight, p->y, dy, p->conv, p->bwd_data,
                                         ws, p->ws_data, &zero, p->x, dx));
    }
    if (dweight) {
        void *ws = workspace_get(p->ws_filter);
        DNN(cudnnConvolutionBackwardFilter(dnn(), &one, p->x, x, p->y, dy, p->conv, p->bwd_filter,
                                           ws, p->ws_filter, &zero, p->w, dweight));
    }
    if (dbias)
        DNN(cudnnConvolutionBackwardBias(dnn(), &one, p->y, dy, &zero, p->b, dbias));
    sp_cuda_check("conv2d backward");
}

/* ---- batch normalisation ----------------------------------------------------- */

__global__ static void fill_k(float *y, float v, size_t n)
{
    SP_CUDA_FOR(i, n) y[i] = v;
}

static const float *filled(const float *p, float v, size_t n)
{
    if (p)
        return p;
    float *q = (float *)sp_cuda_alloc(sizeof(float) * n);
    fill_k<<<sp_cuda_blocks(n), SP_CUDA_THREADS>>>(q, v, n);
    sp_cuda_check("fill_k");
    return q;
}

/* [n, c, hw, 1] and its per-channel derived descriptor. */
static void bn_descs(cudnnTensorDescriptor_t *x, cudnnTensorDescriptor_t *bn, size_t n, size_t c,
                     size_t hw)
{
    if (n > 2147483647u || c > 2147483647u || hw > 2147483647u)
        sp_fatal("cudnn: batch norm: dimensions too large");
    DNN(cudnnCreateTensorDescriptor(x));
    DNN(cudnnCreateTensorDescriptor(bn));
    DNN(cudnnSetTensor4dDescriptor(*x, CUDNN_TENSOR_NCHW, CUDNN_DATA_FLOAT, (int)n, (int)c, (int)hw, 1));
    DNN(cudnnDeriveBNTensorDescriptor(*bn, *x, CUDNN_BATCHNORM_SPATIAL));
}

extern "C" void sp_cuda_batchnorm_forward(float *y, float *save_mean, float *save_invstd,
                                          float *running_mean, float *running_var, const float *x,
                                          const float *gamma, const float *beta, size_t n, size_t c,
                                          size_t hw, int training, float momentum, float eps)
{
    cudnnTensorDescriptor_t xd, bd;
    bn_descs(&xd, &bd, n, c, hw);
    const float *g = filled(gamma, 1.0f, c), *b = filled(beta, 0.0f, c);
    if (training)
        DNN(cudnnBatchNormalizationForwardTraining(dnn(), CUDNN_BATCHNORM_SPATIAL, &one, &zero, xd, x,
                                                   xd, y, bd, g, b, (double)momentum, running_mean,
                                                   running_var, (double)eps, save_mean, save_invstd));
    else
        DNN(cudnnBatchNormalizationForwardInference(dnn(), CUDNN_BATCHNORM_SPATIAL, &one, &zero, xd, x,
                                                    xd, y, bd, g, b, running_mean, running_var,
                                                    (double)eps));
    sp_cuda_check("batchnorm forward");
    DNN(cudnnDestroyTensorDescriptor(xd));
    DNN(cudnnDestroyTensorDescriptor(bd));
}

extern "C" void sp_cuda_batchnorm_backward(float *dx, float *dgamma, float *dbeta, const float *dy,
                                           const float *x, const float *gamma,
                                           const float *save_mean, const float *save_invstd,
                                           size_t n, size_t c, size_t hw, float eps)
{
    cudnnTensorDescriptor_t xd, bd;
    bn_descs(&xd, &bd, n, c, hw);
    const float *g = filled(gamma, 1.0f, c);
    float *dg = dgamma ? dgamma : (float *)sp_cuda_alloc(sizeof(float) * c);
    float *db = dbeta ? dbeta : (float *)sp_cuda_alloc(sizeof(float) * c);
    DNN(cudnnBatchNormalizationBackward(dnn(), CUDNN_BATCHNORM_SPATIAL, &one, &zero, &one, &zero, xd,
                                        x, xd, dy, xd, dx, bd, g, dg, db, (double)eps, save_mean,
                                        save_invstd));
    sp_cuda_check("batchnorm backward");
    DNN(cudnnDestroyTensorDescriptor(xd));
    DNN(cudnnDestroyTensorDescriptor(bd));
}

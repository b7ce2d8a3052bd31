/* 2-D convolution (PyTorch's nn.Conv2d without groups or dilation), forward
 * and backward, on the CPU: im2col + cblas_sgemm, except 3x3 / stride 1 /
 * padding 1 convolutions with small weights on a CPU with AVX2 + FMA, which
 * go to a direct kernel (sp_conv_direct.c, about twice as fast there; the
 * environment variable SP_CONV_IM2COL=1 turns it off, e.g. to test the
 * general path; its forward uses AVX-512 where the CPU has it, bit-identical,
 * and SP_CONV_AVX512=0 keeps it to AVX2; SP_CONV_TILE16X2=0 turns off its
 * two-block 16-position tile for small maps, also bit-identical).
 *
 * Threads.  Debian's default OpenBLAS is the pthread build; its own threads
 * would fight with ours and make the summation order depend on timing, so
 * its sgemm runs on one thread (sp_blas.h; process-wide: any other sgemm
 * caller gets one thread too) and this code parallelises itself with OpenMP
 * (OMP_NUM_THREADS) over images.  The forward cuts the batch into groups of
 * images that depend on the batch alone and gives each thread whole groups,
 * so its GEMMs, and its bytes, are the same whatever the thread count.  The
 * backward gives thread t of T images [t*N/T, (t+1)*N/T); the weight
 * gradient is summed per thread and the T partial sums are then added in
 * thread order, so gradients are bit-identical from run to run for a given
 * OMP_NUM_THREADS (and may differ in the last bits between thread counts).
 *
 * Workspace.  Every function takes (ws, ws_len): scratch memory of ws_len
 * floats owned by the caller (the encoder keeps one for all its layers).  If
 * it is too small (or NULL) the function allocates and frees its own;
 * sp_conv2d_workspace() says how much is enough for the current thread
 * count. */
#ifndef SP_CONV_H
#define SP_CONV_H

#include <stddef.h>

typedef struct {
    int n, c, h, w;     /* input x [N,C,H,W] */
    int o, kh, kw;      /* weight [O,C,kh,kw] */
    int sh, sw, ph, pw; /* stride, zero padding on each side */
} sp_conv2d_desc;

/* Output size (floor, as PyTorch): (H + 2*ph - kh) / sh + 1. */
static inline int sp_conv2d_ho(const sp_conv2d_desc *d) { return (d->h + 2 * d->ph - d->kh) / d->sh + 1; }
static inline int sp_conv2d_wo(const sp_conv2d_desc *d) { return (d->w + 2 * d->pw - d->kw) / d->sw + 1; }

/* NULL when d is valid (positive sizes except N >= 0, output at least 1x1),
 * else a short reason. */
const char *sp_conv2d_check(const sp_conv2d_desc *d);

/* Floats of workspace that make forward and backward allocation-free with
 * the current omp_get_max_threads(). */
size_t sp_conv2d_workspace(const sp_conv2d_desc *d);

/* y [N,O,Ho,Wo] = conv(x [N,C,H,W], weight [O,C,kh,kw]) + bias [O] (bias may be NULL). */
void sp_conv2d_forward(float *y, const float *x, const float *weight, const float *bias,
                       const sp_conv2d_desc *d, float *ws, size_t ws_len);

/* What an inference forward does to each output value while it is still in
 * cache, instead of a pass of its own over memory: v * scale[o] + shift[o]
 * (+ residual, same shape as y), then max(0, v) when relu.  That is batch
 * norm in eval mode (sp_batchnorm2d_eval_affine), the residual add and the
 * ReLU of a ResNet block, with the same numbers as the separate passes. */
typedef struct {
    const float *scale, *shift; /* [O] */
    const float *residual;      /* [N,O,Ho,Wo] or NULL */
    int relu;
} sp_conv2d_epilogue;

/* sp_conv2d_forward without bias, then ep (NULL: none) on every output. */
void sp_conv2d_forward_fused(float *y, const float *x, const float *weight, const sp_conv2d_desc *d,
                             float *ws, size_t ws_len, const sp_conv2d_epilogue *ep);

/* An im2col convolution by the GEMM tiles with its weights packed once
 * (inference, whose weights do not change), with the bits of
 * sp_conv2d_forward_fused, which packs them at every call.
 * sp_conv2d_packed_ok: d takes the tiles (neither the direct nor the
 * Winograd 3x3 kernels, the tiles usable); sp_conv2d_tiles_pack packs the
 * weights (sp_conv2d_tiles_packed_floats floats); sp_conv2d_forward_packed
 * is then sp_conv2d_forward_fused's batch forward from them.
 *
 * One image at a time, when the output is large enough for one image a
 * GEMM whatever the batch (sp_conv2d_image_ok; ResNet-18's stem at
 * 128x128: 4,096 positions), so with the batch forward's bits:
 * sp_encoder_infer runs such a layer image by image, each image's output
 * going straight on to the next layer while in cache.
 * sp_conv2d_forward_image: y [O,Ho,Wo] from x [C,H,W] with ws of
 * sp_conv2d_image_floats floats (the caller's thread's), then ep on every
 * output with res, this image's residual (ep->residual is not read; NULL:
 * none). */
int sp_conv2d_packed_ok(const sp_conv2d_desc *d);
size_t sp_conv2d_tiles_packed_floats(const sp_conv2d_desc *d);
void sp_conv2d_tiles_pack(float *pk, const float *weight, const sp_conv2d_desc *d);
void sp_conv2d_forward_packed(float *y, const float *x, const float *pk, const sp_conv2d_desc *d, float *ws,
                              size_t ws_len, const sp_conv2d_epilogue *ep);
int sp_conv2d_image_ok(const sp_conv2d_desc *d);
size_t sp_conv2d_image_floats(const sp_conv2d_desc *d);
void sp_conv2d_forward_image(float *y, const float *x, const float *pk, const sp_conv2d_desc *d, float *ws,
                             const sp_conv2d_epilogue *ep, const float *res);

/* Given dy [N,O,Ho,Wo]: dx [N,C,H,W], dweight [O,C,kh,kw], dbias [O]; each
 * may be NULL when not wanted.  All are overwritten (not accumulated). */
void sp_conv2d_backward(float *dx, float *dweight, float *dbias, const float *dy, const float *x,
                        const float *weight, const sp_conv2d_desc *d, float *ws, size_t ws_len);

#endif

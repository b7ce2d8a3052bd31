/* The CUDA side of the library, callable from C.  Every GPU stage links the
 * same library; a build without nvcc has none of these symbols and the C
 * code calls them only under SP_HAVE_CUDA.
 *
 * Conventions: every pointer below is a device pointer unless its name ends
 * in _host; sizes and shapes are the CPU functions' (common/sp_*.h), and so
 * are the semantics.  Kernels run on the default stream; a CUDA, cuBLAS or
 * cuDNN error is fatal (one line naming the call).  Nothing here uses float
 * atomics: results are deterministic for a given GPU and build.
 *
 * Checked on one H200 against the CPU on the golden cases, with
 * compute-sanitizer (README, CUDA; tests/cuda/device.sh). */
#ifndef SP_CUDA_H
#define SP_CUDA_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Number of usable GPUs: 0 with a reason in err when CUDA reports any error
 * (without a GPU the runtime answers "insufficient driver", not "no
 * device"), or when a trivial kernel cannot run. */
int sp_cuda_usable_devices(char *err, size_t errlen);

/* ---- memory (sp_cuda_mem.cu) ----------------------------------------------
 * One arena per process.  sp_cuda_arena_reset() starts a new call (an op on
 * one batch); sp_cuda_alloc() hands out 256-byte aligned pieces of it.  A
 * call that does not fit takes extra blocks, and the next reset replaces
 * everything by one block of the largest total seen: for a stream of
 * batches of one shape, memory is allocated once, not per batch. */
void sp_cuda_arena_reset(void);
void *sp_cuda_alloc(size_t bytes);
/* Bytes the arena holds now (for tests and messages). */
size_t sp_cuda_arena_capacity(void);
/* Arena copy of host data (NULL for a NULL host pointer). */
void *sp_cuda_upload(const void *host, size_t bytes);
void sp_cuda_download(void *host, const void *dev, size_t bytes);
void sp_cuda_zero(void *dev, size_t bytes);
/* Fatal when a kernel launch or anything before failed ("what: error"). */
void sp_cuda_check(const char *what);

/* ---- element-wise (sp_cuda_elementwise.cu) -------------------------------- */
void sp_cuda_relu_forward(float *y, const float *x, size_t n);
void sp_cuda_relu_backward(float *dx, const float *dy, const float *x, size_t n);
void sp_cuda_add_forward(float *y, const float *a, const float *b, size_t n);
void sp_cuda_copy(float *y, const float *x, size_t n);
void sp_cuda_sigmoid_forward(float *y, const float *x, size_t n);
void sp_cuda_sigmoid_backward(float *dx, const float *dy, const float *x, size_t n);
/* kind: sp_clamp_kind of sp_clamp.h (0 none, 1 hard, 2 soft, 3 diff). */
void sp_cuda_clamp_forward(float *y, const float *x, size_t n, int kind, float alpha);
void sp_cuda_clamp_backward(float *dx, const float *dy, const float *x, size_t n, int kind,
                            float alpha);
/* sp_init.h's mask noise: y = add + x * (2 a u - a), add may be NULL;
 * x, y [L,K,N,1,hw], u [K,hw]. */
void sp_cuda_mask_noise(float *y, const float *add, const float *x, const float *u, double a,
                        size_t L, size_t K, size_t N, size_t hw);
/* sp_compose.h's occlusion matrix. */
void sp_cuda_occlusion_grid_forward(float *occ, const float *logits, size_t N, size_t L);
void sp_cuda_occlusion_grid_backward(float *dlogits, const float *docc, const float *logits,
                                     size_t N, size_t L);

/* ---- loss (sp_cuda_loss.cu) -------------------------------------------------
 * sp_loss.h; the per-image sums in double, a fixed-order tree per image.
 * *loss_host (when not NULL) gets the mean of dist, summed on the host in
 * image order as the CPU does. */
void sp_cuda_mse_forward(float *dist, float *loss_host, const float *x, const float *t, size_t N,
                         size_t D);
void sp_cuda_mse_backward(float *dx, float *dt, const float *ddist, float dloss, const float *x,
                          const float *t, size_t N, size_t D);

/* ---- optimiser (sp_cuda_adam.cu) -------------------------------------------
 * sp_adam_step: the same float operations in the same order (explicit
 * round-to-nearest intrinsics, so nvcc cannot contract them differently). */
void sp_cuda_adam_step(float *param, float *m, float *v, const float *grad, size_t n,
                       int64_t step, double lr, double beta1, double beta2, double eps,
                       double weight_decay);

/* ---- random numbers (sp_cuda_rng.cu) ---------------------------------------
 * sp_uniform_noise: value i is scale * philox_uniform(seed, stream,
 * index0 + i) + low, identical bits to common/sp_rng.c. */
void sp_cuda_uniform_noise(float *y, size_t n, double low, double high, uint64_t seed,
                           uint64_t stream, uint64_t index0);
/* The raw words, for tests: out[i] = sp_philox_u32_at(seed, stream, index0 + i). */
void sp_cuda_philox_u32(uint32_t *out, size_t n, uint64_t seed, uint64_t stream,
                        uint64_t index0);

/* ---- grids (sp_cuda_grid.cu) -------------------------------------------------
 * Generator parameters per image p [n,np]: affine theta (np 6, affine_grid
 * base, align_corners=False), homography (np 9, kornia linspace base), TPS
 * (np 2 g^2, deinterleaved: x of every control point, then y; A [h*w, g^2]
 * the kernel product of sp_tps_matrix). */
enum { SP_CUDA_GEN_AFFINE = 1, SP_CUDA_GEN_HOMOGRAPHY = 2, SP_CUDA_GEN_TPS = 3 };
void sp_cuda_grid_forward(float *grid, int kind, const float *p, int np, const float *A, size_t n,
                          int h, int w);
/* dp [n,np] in double from dgrid [n,h,w,2] (p: the forward parameters). */
void sp_cuda_grid_backward(double *dp, int kind, const float *p, int np, const float *A,
                           const float *dgrid, size_t n, int h, int w);

/* ---- sampling (sp_cuda_sample.cu) --------------------------------------------
 * sp_grid_sample_*: bilinear, zeros (border 0) or border (1) padding,
 * align_corners=False.  The input gradient is gathered, not scattered: the
 * four (input pixel, weight) pairs of every output point are sorted by
 * input pixel (a stable radix sort keeps output order), then each input
 * pixel sums its pairs in output order, as the CPU's serial scatter does.
 * dx or dgrid may be NULL. */
void sp_cuda_grid_sample_forward(float *y, const float *x, const float *grid, size_t n, int c,
                                 int hin, int win, int h, int w, int border);
void sp_cuda_grid_sample_backward(float *dx, float *dgrid, const float *dy, const float *x,
                                  const float *grid, size_t n, int c, int hin, int win, int h,
                                  int w, int border);

/* ---- composition (sp_cuda_compose.cu) ----------------------------------------
 * sp_compose.h; bg and occ may be NULL; docc's pixel sums are per-pixel
 * terms reduced per image in double by a fixed-order tree. */
void sp_cuda_compose_forward(float *y, const float *layers, const float *masks, const float *bg,
                             const float *occ, size_t L, size_t N, size_t C, size_t hw);
void sp_cuda_compose_backward(float *dlayers, float *dmasks, float *dbg, float *docc,
                              const float *dy, const float *layers, const float *masks,
                              const float *bg, const float *occ, size_t L, size_t N, size_t C,
                              size_t hw);

/* ---- cuDNN and cuBLAS (sp_cuda_dnn.cu, sp_cuda_blas.cu) ------------------------
 * One cuDNN handle and one cuBLAS handle per process, one workspace capped
 * at SP_CUDA_WORKSPACE_MB (default 256) MiB; convolution algorithms chosen
 * once per shape (deterministic ones for the backward) and cached. */
typedef struct {
    int n, c, h, w, o, kh, kw, sh, sw, ph, pw; /* sp_conv2d_desc's fields */
} sp_cuda_conv_shape;
void sp_cuda_conv2d_forward(float *y, const float *x, const float *weight, const float *bias,
                            const sp_cuda_conv_shape *d);
/* dx, dweight, dbias may be NULL. */
void sp_cuda_conv2d_backward(float *dx, float *dweight, float *dbias, const float *dy,
                             const float *x, const float *weight, const sp_cuda_conv_shape *d);
/* Training: batch statistics, running stats (may be NULL) updated in place;
 * eval: running statistics.  gamma/beta NULL: 1 and 0.  save_mean,
 * save_invstd [c] for the backward. */
void sp_cuda_batchnorm_forward(float *y, float *save_mean, float *save_invstd,
                               float *running_mean, float *running_var, const float *x,
                               const float *gamma, const float *beta, size_t n, size_t c,
                               size_t hw, int training, float momentum, float eps);
/* Training mode only (batch statistics); dgamma, dbeta may be NULL. */
void sp_cuda_batchnorm_backward(float *dx, float *dgamma, float *dbeta, const float *dy,
                                const float *x, const float *gamma, const float *save_mean,
                                const float *save_invstd, size_t n, size_t c, size_t hw,
                                float eps);
/* sp_mlp.h's linear layer through cuBLAS sgemm (bias NULL: none). */
void sp_cuda_linear_forward(float *y, const float *x, const float *w, const float *b, size_t n,
                            int in, int out);
void sp_cuda_linear_backward(float *dx, float *dw, float *db, const float *dy, const float *x,
                             const float *w, size_t n, int in, int out);

#ifdef __cplusplus
}
#endif

#endif

/* The image encoders of the reference (ref/src/model/transformer.py, class
 * Encoder), as plain structs in the Darknet / llm.c manner: parameters,
 * gradients, running statistics and activations each in one arena, a
 * forward that caches what the backward needs, a backward that fills the
 * gradient arena.
 *
 * Architectures (BasicBlock ResNets; every convolution without bias, each
 * followed by BatchNorm2d(momentum 0.1, eps 1e-5)):
 *  - "resnet20", "resnet32", "resnet44", "resnet56", "resnet110": the CIFAR
 *    mini-ResNets of ref/src/model/mini_resnet.py (Idelbayev): 3x3 stem conv
 *    to 16 channels (stride 1), bn, relu; 3 stages of n blocks (n = 3, 5, 7,
 *    9, 18) with 16, 32, 64 channels, stride 1, 2, 2; the shortcut of a
 *    block that changes shape is option A (x[:, :, ::2, ::2] + zero
 *    channels).  The Encoder keeps conv1, bn1, relu, layer1..3 and drops the
 *    classifier's own pooling and linear layer.
 *  - "resnet18", "resnet34": torchvision's ResNet (ref/src/model/resnet.py):
 *    7x7 stride-2 stem to 64 channels, bn, relu, 3x3 stride-2 max pool; 4
 *    stages ([2,2,2,2] or [3,4,6,3] blocks) with 64..512 channels, stride 1,
 *    2, 2, 2; a block that changes shape has a 1x1 strided conv + bn
 *    "downsample" shortcut.  avgpool and fc dropped.
 * Then, with with_pool, AdaptiveAvgPool2d((pool_h, pool_w)) (the reference's
 * with_pool: True -> (1, 1), a list -> that size; False -> no pool), and
 * flatten: y [N, F], F = channels * pool_h * pool_w (or * h * w unpooled).
 *
 * Tensor names are the keys of the reference Encoder's state_dict()
 * ("encoder.0.weight", "encoder.3.0.bn1.running_mean",
 * "encoder.5.0.downsample.0.weight", ...), in state_dict order, so weights
 * can be exchanged by name; num_batches_tracked is not kept (it only
 * matters for momentum=None). */
#ifndef SP_ENCODER_H
#define SP_ENCODER_H

#include "sp_conv.h"
#include "sp_rng.h"

#include <stddef.h>
#include <stdint.h>

typedef struct {
    char name[64];     /* state_dict key */
    int ndim;
    int64_t shape[4];
    int is_buffer;     /* running_mean / running_var: in buffers, no gradient */
    size_t offset, size; /* floats, in params (and grads) or in buffers */
} sp_enc_tensor;

typedef struct {
    sp_conv2d_desc d; /* d.n set per call */
    size_t w;         /* weight offset in params */
} sp_enc_conv;

typedef struct {
    int c;
    size_t gamma, beta; /* offsets in params */
    size_t mean, var;   /* offsets in buffers */
    size_t stats;       /* offset in the saved-statistics arena: mean [c], invstd [c] */
} sp_enc_bn;

enum { SP_SHORTCUT_IDENTITY, SP_SHORTCUT_A, SP_SHORTCUT_CONV };

typedef struct {
    int cin, cout, hin, win, hout, wout, shortcut;
    sp_enc_conv conv1, conv2, ds;
    sp_enc_bn bn1, bn2, dsbn;
    /* per-image offsets in the activation arena */
    size_t in, c1, a1, c2, out, cd;
} sp_enc_block;

typedef struct {
    char arch[16];
    int in_c, h, w;
    int width; /* stem channels: 16 (mini) or 64; stages have width * 1, 2, 4(, 8) */
    int pool_h, pool_w; /* 0, 0: no pooling */
    int out_c, out_h, out_w; /* last feature map */
    size_t features;         /* floats per image of y */
    float momentum, eps;

    sp_enc_conv stem;
    sp_enc_bn stem_bn;
    int maxpool; /* 3x3 stride 2 pad 1 after the stem (resnet18/34) */
    int stem_h, stem_w, mp_h, mp_w;
    int nblocks;
    sp_enc_block *blocks;

    int ntensors;
    sp_enc_tensor *tensors;
    size_t nparams, nbuffers, nstats;
    float *params, *grads, *buffers, *stats;

    /* per-image layout of the activation arena */
    size_t act_per_image, x_off, c0_off, a0_off, m0_off, max_act;
    /* state of the last forward */
    int n, training, cap;
    int cached;       /* the last forward was sp_encoder_forward: backward may follow */
    float *acts;      /* cap * act_per_image */
    int32_t *argmax;  /* cap * 64-channel map after the max pool */
    float *scratch;   /* 5 buffers of cap * max_act */
    float *ws;        /* convolution workspace */
    /* sp_encoder_infer's: every batch norm's eval scale and shift (laid out
     * as stats), the per-image convolutions' packed weights, the threads'
     * slices (img_ws_per floats each: img_ws_local of their own buffer and
     * 4 slots of img_ws_slot, then scratch) */
    float *affine, *packed, *img_ws;
    size_t packed_len, img_ws_len, img_ws_per, img_ws_local, img_ws_slot;
    int infer_reverse; /* tests: sp_encoder_infer takes images last first (an adversarial order) */
    /* set by an owner whose weights never change again (an inference
     * predictor): sp_encoder_infer packs them once, not every batch */
    int weights_fixed, packed_ready;
    int packs_given; /* packs made by sp_encoder_infer_pack since e->packed was allocated */
    size_t ws_len;
} sp_encoder;

/* A new encoder for images [*, in_c, h, w]; width 0 is the architecture's
 * (16 or 64), another value scales every stage (tests use narrow nets to
 * keep golden files small).  Conv weights zero, batch norms as PyTorch
 * creates them (call sp_encoder_init or load weights).  Fatal (one line) on
 * an unknown arch or bad sizes. */
sp_encoder *sp_encoder_new(const char *arch, int width, int in_c, int h, int w, int pool_h,
                           int pool_w);
void sp_encoder_free(sp_encoder *e);

/* The weights sp_encoder_infer reads only packed (every convolution's
 * where the CPU has the tiles: all of ResNet-18's 45 MB but the batch
 * norms'), packed
 * straight from their values, which then need not be in params at all: for
 * an owner whose weights never change (an inference predictor, reading
 * them from a file).  sp_encoder_infer_packs: t is one of them;
 * sp_encoder_infer_pack: packs t's values now (values: t's size, any
 * memory); sp_encoder_infer_packs_done, once each of them was given: the
 * packs are final (weights_fixed), sp_encoder_infer never packs from
 * params again (fatal, an internal error, if one is missing).  Every other
 * tensor goes into params as usual. */
int sp_encoder_infer_packs(const sp_encoder *e, const sp_enc_tensor *t);
void sp_encoder_infer_pack(sp_encoder *e, const sp_enc_tensor *t, const float *values);
void sp_encoder_infer_packs_done(sp_encoder *e);

/* The reference's initial state, drawn from rng in tensor order: conv
 * weights Kaiming-normal (mini-ResNets: fan_in, gain sqrt(2), as
 * _weights_init; resnet18/34: fan_out, relu, as torchvision), bn weight 1,
 * bias 0, running mean 0 and running var 0.81 — not 1: the reference's
 * constructors run the fresh encoder twice in training mode on a zero image
 * (get_output_size), which moves every running variance to 0.9^2. */
void sp_encoder_init(sp_encoder *e, sp_rng *rng);

/* The tensor called name, or NULL. */
const sp_enc_tensor *sp_encoder_find(const sp_encoder *e, const char *name);
/* Its data: params + offset or buffers + offset. */
float *sp_encoder_data(const sp_encoder *e, const sp_enc_tensor *t);

/* y [n, features] from x [n, in_c, h, w].  training: batch statistics and
 * running-statistic update (needs n*h*w > 1 at every batch norm, as
 * PyTorch); else the running statistics.  Caches what backward needs. */
void sp_encoder_forward(sp_encoder *e, float *y, const float *x, int n, int training);

/* The same y as sp_encoder_forward(e, y, x, n, 0), bit for bit, for
 * inference: each batch norm (eval mode), residual add and ReLU is applied
 * by the convolution before it (sp_conv2d_forward_fused), and activations
 * go through four rotating buffers instead of the arena that backward
 * needs (never allocated for an encoder that only infers), so fewer passes
 * over memory and far fewer pages to touch.  No backward may follow. */
void sp_encoder_infer(sp_encoder *e, float *y, const float *x, int n);

/* After a forward: the gradients of every parameter into e->grads
 * (overwritten) and, when dx is not NULL, dx [n, in_c, h, w]; dy [n, features]. */
void sp_encoder_backward(sp_encoder *e, float *dx, const float *dy);

#endif

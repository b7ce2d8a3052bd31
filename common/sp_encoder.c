/* The reference's ResNet encoders (see sp_encoder.h).
 *
 * Activation arena: every cached tensor of the forward is one contiguous
 * [N, ...] block at acts + off * cap, where off is the running sum of the
 * per-image sizes of the tensors before it (so a larger batch only rescales
 * the offsets).  What a block keeps for its backward: its conv outputs c1,
 * c2 (batch-norm inputs), a1 = relu(bn1(c1)) (conv2's input and bn1's ReLU
 * mask), out = relu(bn2(c2) + shortcut) (bn2's ReLU mask and the next
 * block's input), and cd, the downsample conv's output.  Batch norm, ReLU
 * and the residual add are fused (sp_batchnorm2d_forward_ex), which saves
 * three passes over memory per block.
 *
 * Backward walks the blocks in reverse with five scratch buffers of the
 * largest activation: G (gradient of the block output, turned in place into
 * that of c2), R (the gradient reaching the shortcut), A (of a1, then c1),
 * X (of the block input, the next G) and S (the downsample path's input
 * gradient). */
#include "sp_encoder.h"
#include "sp_batchnorm.h"
#include "sp_error.h"
#include "sp_pool.h"
#include "sp_residual.h"
#include "sp_conv_direct.h"
#include "sp_conv_winograd.h"
#include "sp_zeroed.h"

#include <omp.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- building the tensor table ---- */

static sp_enc_tensor *add_tensor(sp_encoder *e, const char *name, int is_buffer, int ndim,
                                 const int64_t *shape)
{
    e->tensors = sp_realloc(e->tensors, sizeof *e->tensors * (size_t)(e->ntensors + 1));
    sp_enc_tensor *t = &e->tensors[e->ntensors++];
    memset(t, 0, sizeof *t);
    if (strlen(name) >= sizeof t->name)
        sp_fatal("internal error: tensor name '%s' too long", name);
    strcpy(t->name, name);
    t->ndim = ndim;
    t->is_buffer = is_buffer;
    t->size = 1;
    for (int i = 0; i < ndim; i++) {
        t->shape[i] = shape[i];
        t->size *= (size_t)shape[i];
    }
    size_t *count = is_buffer ? &e->nbuffers : &e->nparams;
    t->offset = *count;
    *count += t->size;
    return t;
}

static void add_conv(sp_encoder *e, sp_enc_conv *cv, const char *name, int cin, int cout, int k,
                     int stride, int pad, int h, int w)
{
    sp_conv2d_desc d = {0, cin, h, w, cout, k, k, stride, stride, pad, pad};
    cv->d = d;
    int64_t shape[4] = {cout, cin, k, k};
    char full[128];
    snprintf(full, sizeof full, "%s.weight", name);
    cv->w = add_tensor(e, full, 0, 4, shape)->offset;
}

static void add_bn(sp_encoder *e, sp_enc_bn *bn, const char *name, int c)
{
    static const char *const part[4] = {"weight", "bias", "running_mean", "running_var"};
    size_t *off[4] = {&bn->gamma, &bn->beta, &bn->mean, &bn->var};
    int64_t shape[1] = {c};
    char full[128];
    bn->c = c;
    for (int i = 0; i < 4; i++) {
        snprintf(full, sizeof full, "%s.%s", name, part[i]);
        *off[i] = add_tensor(e, full, i >= 2, 1, shape)->offset;
    }
    bn->stats = e->nstats;
    e->nstats += 2 * (size_t)c;
}

static size_t take(sp_encoder *e, size_t per_image)
{
    size_t off = e->act_per_image;
    e->act_per_image += per_image;
    if (per_image > e->max_act)
        e->max_act = per_image;
    return off;
}

static int half(int h) { return (h - 1) / 2 + 1; } /* 3x3 stride-2 pad-1 conv, ::2, 1x1 stride 2 */

sp_encoder *sp_encoder_new(const char *arch, int width, int in_c, int h, int w, int pool_h, int pool_w)
{
    static const struct {
        const char *name;
        int mini, stages, blocks[4];
    } archs[] = {
        {"resnet20", 1, 3, {3, 3, 3, 0}},   {"resnet32", 1, 3, {5, 5, 5, 0}},
        {"resnet44", 1, 3, {7, 7, 7, 0}},   {"resnet56", 1, 3, {9, 9, 9, 0}},
        {"resnet110", 1, 3, {18, 18, 18, 0}}, {"resnet18", 0, 4, {2, 2, 2, 2}},
        {"resnet34", 0, 4, {3, 4, 6, 3}},
    };
    int a = -1;
    for (size_t i = 0; i < sizeof archs / sizeof *archs; i++)
        if (!strcmp(arch, archs[i].name))
            a = (int)i;
    if (a < 0)
        sp_fatal("encoder: unknown architecture '%s' (resnet20/32/44/56/110, resnet18/34)", arch);
    if (in_c < 1 || h < 1 || w < 1)
        sp_fatal("encoder: image [%d,%d,%d] is empty", in_c, h, w);
    if (pool_h < 0 || pool_w < 0 || (pool_h == 0) != (pool_w == 0))
        sp_fatal("encoder: pool size %dx%d: both positive, or both 0 for no pooling", pool_h, pool_w);
    const int mini = archs[a].mini;

    sp_encoder *e = sp_calloc(1, sizeof *e);
    snprintf(e->arch, sizeof e->arch, "%s", arch);
    e->in_c = in_c;
    e->h = h;
    e->w = w;
    e->pool_h = pool_h;
    e->pool_w = pool_w;
    e->momentum = 0.1f;
    e->eps = 1e-5f;
    int nb = 0;
    for (int s = 0; s < archs[a].stages; s++)
        nb += archs[a].blocks[s];
    e->nblocks = nb;
    e->blocks = sp_calloc((size_t)nb, sizeof *e->blocks);

    e->x_off = take(e, (size_t)in_c * h * w);
    if (width < 0 || width > 4096 || (mini && width % 4))
        sp_fatal("encoder: width %d: expected 1..4096%s (0: the architecture's)", width,
                 mini ? ", a multiple of 4 (option-A shortcuts pad width/4 channels)" : "");
    int c0 = width ? width : mini ? 16 : 64;
    e->width = c0;
    if (mini)
        add_conv(e, &e->stem, "encoder.0", in_c, c0, 3, 1, 1, h, w);
    else
        add_conv(e, &e->stem, "encoder.0", in_c, c0, 7, 2, 3, h, w);
    add_bn(e, &e->stem_bn, "encoder.1", c0);
    e->stem_h = sp_conv2d_ho(&e->stem.d);
    e->stem_w = sp_conv2d_wo(&e->stem.d);
    e->c0_off = take(e, (size_t)c0 * e->stem_h * e->stem_w);
    e->a0_off = take(e, (size_t)c0 * e->stem_h * e->stem_w);
    size_t cur = e->a0_off;
    int ch = c0, hh = e->stem_h, ww = e->stem_w;
    if (!mini) {
        e->maxpool = 1;
        e->mp_h = sp_pool_out(hh, 3, 2, 1);
        e->mp_w = sp_pool_out(ww, 3, 2, 1);
        hh = e->mp_h;
        ww = e->mp_w;
        e->m0_off = take(e, (size_t)c0 * hh * ww);
        cur = e->m0_off;
    }
    int bi = 0;
    for (int s = 0; s < archs[a].stages; s++) {
        int planes = c0 << s, stride = s == 0 ? 1 : 2;
        int module = (mini ? 3 : 4) + s;
        for (int k = 0; k < archs[a].blocks[s]; k++, bi++) {
            sp_enc_block *b = &e->blocks[bi];
            int st = k == 0 ? stride : 1;
            char p[48], q[64];
            snprintf(p, sizeof p, "encoder.%d.%d", module, k);
            b->cin = ch;
            b->cout = planes;
            b->hin = hh;
            b->win = ww;
            b->hout = st == 2 ? half(hh) : hh;
            b->wout = st == 2 ? half(ww) : ww;
            b->in = cur;
            snprintf(q, sizeof q, "%s.conv1", p);
            add_conv(e, &b->conv1, q, ch, planes, 3, st, 1, hh, ww);
            snprintf(q, sizeof q, "%s.bn1", p);
            add_bn(e, &b->bn1, q, planes);
            snprintf(q, sizeof q, "%s.conv2", p);
            add_conv(e, &b->conv2, q, planes, planes, 3, 1, 1, b->hout, b->wout);
            snprintf(q, sizeof q, "%s.bn2", p);
            add_bn(e, &b->bn2, q, planes);
            if (st == 1 && ch == planes) {
                b->shortcut = SP_SHORTCUT_IDENTITY;
            } else if (mini) {
                b->shortcut = SP_SHORTCUT_A; /* pads planes/4 channels each side */
                if (ch + 2 * (planes / 4) != planes || st != 2)
                    sp_fatal("internal error: option A shortcut %d -> %d", ch, planes);
            } else {
                b->shortcut = SP_SHORTCUT_CONV;
                snprintf(q, sizeof q, "%s.downsample.0", p);
                add_conv(e, &b->ds, q, ch, planes, 1, st, 0, hh, ww);
                snprintf(q, sizeof q, "%s.downsample.1", p);
                add_bn(e, &b->dsbn, q, planes);
            }
            size_t sz = (size_t)planes * b->hout * b->wout;
            b->c1 = take(e, sz);
            b->a1 = take(e, sz);
            b->c2 = take(e, sz);
            b->out = take(e, sz);
            if (b->shortcut == SP_SHORTCUT_CONV)
                b->cd = take(e, sz);
            cur = b->out;
            ch = planes;
            hh = b->hout;
            ww = b->wout;
        }
    }
    e->out_c = ch;
    e->out_h = hh;
    e->out_w = ww;
    e->features = pool_h ? (size_t)ch * pool_h * pool_w : (size_t)ch * hh * ww;

    /* sp_encoder_infer's eval scale and shift of every batch norm, laid out as stats */
    e->affine = sp_malloc(sizeof(float) * (e->nstats ? e->nstats : 1));
    /* pages written only where used: an inference encoder writes neither
     * its packed weights' places nor the gradients (sp_zeroed.h) */
    e->params = sp_zeroed_alloc(sizeof(float) * e->nparams);
    e->grads = sp_zeroed_alloc(sizeof(float) * e->nparams);
    e->buffers = sp_calloc(e->nbuffers ? e->nbuffers : 1, sizeof(float));
    e->stats = sp_calloc(e->nstats ? e->nstats : 1, sizeof(float));
    /* PyTorch's fresh BatchNorm2d: weight 1, bias 0, running mean 0, var 1 */
    for (int i = 0; i < e->ntensors; i++) {
        const sp_enc_tensor *t = &e->tensors[i];
        size_t len = strlen(t->name);
        int is_var = len > 12 && !strcmp(t->name + len - 12, ".running_var");
        int is_bn_w = t->ndim == 1 && !t->is_buffer && !strcmp(t->name + len - 7, ".weight");
        if (is_var || is_bn_w) {
            float *v = sp_encoder_data(e, t);
            for (size_t j = 0; j < t->size; j++)
                v[j] = 1.0f;
        }
    }
    return e;
}

void sp_encoder_free(sp_encoder *e)
{
    if (!e)
        return;
    free(e->blocks);
    free(e->tensors);
    sp_zeroed_free(e->params, sizeof(float) * e->nparams);
    sp_zeroed_free(e->grads, sizeof(float) * e->nparams);
    free(e->buffers);
    free(e->stats);
    free(e->acts);
    free(e->argmax);
    free(e->scratch);
    free(e->ws);
    free(e->affine);
    free(e->packed);
    free(e->img_ws);
    free(e);
}

const sp_enc_tensor *sp_encoder_find(const sp_encoder *e, const char *name)
{
    for (int i = 0; i < e->ntensors; i++)
        if (!strcmp(e->tensors[i].name, name))
            return &e->tensors[i];
    return NULL;
}

float *sp_encoder_data(const sp_encoder *e, const sp_enc_tensor *t)
{
    return (t->is_buffer ? e->buffers : e->params) + t->offset;
}

void sp_encoder_init(sp_encoder *e, sp_rng *rng)
{
    const int mini = e->maxpool == 0;
    for (int i = 0; i < e->ntensors; i++) {
        const sp_enc_tensor *t = &e->tensors[i];
        float *v = sp_encoder_data(e, t);
        size_t len = strlen(t->name);
        if (t->ndim == 4) {
            /* kaiming_normal_: std = sqrt(2 / fan), fan_in = C*k*k (mini), fan_out = O*k*k */
            double fan = (double)t->shape[2] * (double)t->shape[3] * (double)(mini ? t->shape[1] : t->shape[0]);
            double sd = sqrt(2.0 / fan);
            for (size_t j = 0; j < t->size; j++)
                v[j] = (float)(sd * sp_rng_normal(rng));
        } else {
            /* bn weight 1, bias 0, running mean 0; running var 0.81 = 0.9^2: the
             * reference's constructors run the encoder twice in training mode
             * on a zero image (get_output_size in Encoder and in
             * PrototypeTransformationNetwork), whose batch variance is 0 */
            float val = 0.0f;
            if (len > 12 && !strcmp(t->name + len - 12, ".running_var"))
                val = 0.81f;
            else if (!t->is_buffer && !strcmp(t->name + len - 7, ".weight"))
                val = 1.0f;
            for (size_t j = 0; j < t->size; j++)
                v[j] = val;
        }
    }
}

/* ---- forward / backward ---- */

static float *act(const sp_encoder *e, size_t off) { return e->acts + off * (size_t)e->cap; }

/* Room for batches of n: the scratch buffers, arg-max and convolution
 * workspace always, the activation arena (what backward needs, several
 * times the scratch) only when arena is set, i.e. not for sp_encoder_infer. */
static void ensure_capacity(sp_encoder *e, int n, int arena)
{
    if (n <= e->cap && e->scratch) {
        if (arena && !e->acts)
            e->acts = sp_malloc(sizeof(float) * e->act_per_image * (size_t)e->cap);
        return;
    }
    int cap = n > 0 ? n : 1;
    free(e->acts);
    e->acts = NULL;
    free(e->argmax);
    free(e->scratch);
    free(e->ws);
    e->cap = cap;
    if (arena)
        e->acts = sp_malloc(sizeof(float) * e->act_per_image * (size_t)cap);
    size_t am = e->maxpool ? (size_t)e->stem_bn.c * e->mp_h * e->mp_w * (size_t)cap : 1;
    e->argmax = sp_malloc(sizeof(int32_t) * am);
    e->scratch = sp_malloc(sizeof(float) * 5 * e->max_act * (size_t)cap);
    size_t need = 0;
    const sp_enc_conv *convs[3];
    sp_conv2d_desc d = e->stem.d;
    d.n = cap;
    need = sp_conv2d_workspace(&d);
    for (int i = 0; i < e->nblocks; i++) {
        const sp_enc_block *b = &e->blocks[i];
        convs[0] = &b->conv1;
        convs[1] = &b->conv2;
        convs[2] = b->shortcut == SP_SHORTCUT_CONV ? &b->ds : NULL;
        for (int k = 0; k < 3; k++) {
            if (!convs[k])
                continue;
            d = convs[k]->d;
            d.n = cap;
            size_t s = sp_conv2d_workspace(&d);
            if (s > need)
                need = s;
        }
    }
    e->ws_len = need;
    e->ws = sp_malloc(sizeof(float) * (need ? need : 1));
}

static void conv_fwd(sp_encoder *e, const sp_enc_conv *cv, float *y, const float *x, int n)
{
    sp_conv2d_desc d = cv->d;
    d.n = n;
    sp_conv2d_forward(y, x, e->params + cv->w, NULL, &d, e->ws, e->ws_len);
}

static void conv_bwd(sp_encoder *e, const sp_enc_conv *cv, float *dx, const float *dy,
                     const float *x, int n)
{
    sp_conv2d_desc d = cv->d;
    d.n = n;
    sp_conv2d_backward(dx, e->grads + cv->w, NULL, dy, x, e->params + cv->w, &d, e->ws, e->ws_len);
}

static void bn_fwd(sp_encoder *e, const sp_enc_bn *bn, float *y, const float *x,
                   const float *residual, int relu, int n, int hw)
{
    float *st = e->stats + bn->stats;
    sp_batchnorm2d_forward_ex(y, st, st + bn->c, e->buffers + bn->mean, e->buffers + bn->var, x,
                              e->params + bn->gamma, e->params + bn->beta, residual, relu,
                              (size_t)n, (size_t)bn->c, (size_t)hw, e->training, e->momentum, e->eps);
}

static void bn_bwd(sp_encoder *e, const sp_enc_bn *bn, float *dx, float *dresidual,
                   const float *dy, const float *y, int relu, const float *x, int n, int hw)
{
    const float *st = e->stats + bn->stats;
    sp_batchnorm2d_backward_ex(dx, e->grads + bn->gamma, e->grads + bn->beta, dresidual, dy, y,
                               relu, x, e->params + bn->gamma, st, st + bn->c, (size_t)n,
                               (size_t)bn->c, (size_t)hw, e->training);
}

void sp_encoder_forward(sp_encoder *e, float *y, const float *x, int n, int training)
{
    if (n < 0)
        sp_fatal("encoder: negative batch size");
    if (training && (size_t)n * e->out_h * e->out_w == 1)
        sp_fatal("encoder: training needs more than 1 value per channel at every batch norm, "
                 "got a batch of 1 and a %dx%d last feature map", e->out_h, e->out_w);
    ensure_capacity(e, n, 1);
    e->n = n;
    e->training = training;
    e->cached = 1;
    float *xs = act(e, e->x_off);
    memcpy(xs, x, sizeof(float) * (size_t)n * e->in_c * e->h * e->w);
    const int shw = e->stem_h * e->stem_w;
    conv_fwd(e, &e->stem, act(e, e->c0_off), xs, n);
    bn_fwd(e, &e->stem_bn, act(e, e->a0_off), act(e, e->c0_off), NULL, 1, n, shw);
    if (e->maxpool)
        sp_maxpool2d_forward(act(e, e->m0_off), e->argmax, act(e, e->a0_off),
                             (size_t)n * e->stem_bn.c, e->stem_h, e->stem_w, 3, 2, 1);
    float *tmp = e->scratch;
    for (int i = 0; i < e->nblocks; i++) {
        const sp_enc_block *b = &e->blocks[i];
        const int hw = b->hout * b->wout;
        const float *in = act(e, b->in), *res = in;
        conv_fwd(e, &b->conv1, act(e, b->c1), in, n);
        bn_fwd(e, &b->bn1, act(e, b->a1), act(e, b->c1), NULL, 1, n, hw);
        conv_fwd(e, &b->conv2, act(e, b->c2), act(e, b->a1), n);
        if (b->shortcut == SP_SHORTCUT_A) {
            sp_shortcut_a_forward(tmp, in, (size_t)n, b->cin, b->hin, b->win, (b->cout - b->cin) / 2);
            res = tmp;
        } else if (b->shortcut == SP_SHORTCUT_CONV) {
            conv_fwd(e, &b->ds, act(e, b->cd), in, n);
            bn_fwd(e, &b->dsbn, tmp, act(e, b->cd), NULL, 0, n, hw);
            res = tmp;
        }
        bn_fwd(e, &b->bn2, act(e, b->out), act(e, b->c2), res, 1, n, hw);
    }
    const float *last = e->nblocks ? act(e, e->blocks[e->nblocks - 1].out)
                                   : act(e, e->maxpool ? e->m0_off : e->a0_off);
    if (e->pool_h)
        sp_adaptive_avgpool2d_forward(y, last, (size_t)n * e->out_c, e->out_h, e->out_w, e->pool_h,
                                      e->pool_w);
    else
        memcpy(y, last, sizeof(float) * (size_t)n * e->features);
}

/* ---- inference: eval mode, nothing kept for a backward ----
 *
 * sp_encoder_infer runs a list of steps (stem conv, max pool, each block's
 * convolutions and shortcut) over four rotating buffers of the largest
 * activation: the block input P, conv1's output Q, the shortcut S, the block
 * output R, which becomes the next P.  A convolution applies its batch norm
 * (eval factors), residual add and ReLU to each output while it is in cache.
 *
 * Most steps run image by image: the direct 3x3 convolutions, the max pool,
 * the option-A shortcut, an im2col convolution with one image a GEMM
 * whatever the batch or one that reads its input in place from its phase
 * planes (sp_conv2d_image_ok: ResNet-18's stem at 128x128, whose output
 * then goes to the pool through the thread's own buffer; the mini-ResNets'
 * 3x3 stride-2 layers; ResNet-18's 1x1 downsampling shortcuts).
 * Consecutive such steps make one parallel loop in
 * which each thread takes the next image (dynamic) and carries it through
 * all of them: one synchronisation per run of steps instead of one per
 * layer, and an image's activations stay in this core's cache from layer to
 * layer.  Both matter most in a pipe, where another stage's threads share
 * the cores: a thread that is descheduled holds up one image, not a barrier
 * per layer.  (The 3x3 ones go image by image through the direct tiles or
 * Winograd, sp_conv3x3_forward_ok, as sp_encoder_forward's do; on small
 * maps Winograd takes 8 images at once, sp_conv3x3_group, and a run of
 * such layers hands its images out 8 at a time.)  The other
 * convolutions (im2col and the GEMM tiles: the other strided ones; the widest 3x3 on maps
 * of 4x4 and less by Winograd F(4x4) with one tile an image,
 * sp_conv3x3_batched_ok, and the 3x3 ones on 8x8 maps with 4 tiles an
 * image where stacking images would cost 9, sp_conv3x3_batched_pays: the
 * same bits) run over the whole batch; the im2col ones as
 * sp_encoder_forward runs them, by the same groups of images, so every
 * value is the same bits (the F(4x4) ones differ from training's F(2x2) by
 * rounding, as the per-image layers' F(4x4) do). */

enum { STEP_CONV, STEP_MAXPOOL, STEP_SHORTCUT_A };
/* the batch steps' Winograd tile: F(4x4), one tile an image (packed once
 * for every batch; training's forward takes F(2x2)) */
enum { INFER_BATCHED_TILE = 4 };
/* the input images; 0..3 are the rotating buffers; BUF_LOCAL: the running
 * thread's own, for a stem taken image by image (sp_conv2d_image_ok) whose
 * output the max pool reads at once: ResNet-18's stem output at 128x128 is
 * 1 MB an image, 4x the pool's, and went through memory (and, for 32
 * images, 33.5 MB of fresh pages in every process) */
enum { BUF_X = -1, BUF_LOCAL = -2 };

typedef struct {
    int kind, in, out, res, relu; /* res -1: none */
    const sp_enc_conv *cv;
    const sp_enc_bn *bn;
    int c, h, w;    /* per-image input */
    int oc, oh, ow; /* per-image output */
    int pad;        /* the shortcut's zero channels on each side */
    int per_image;  /* a direct or Winograd convolution, the pool or the shortcut */
    size_t pk;      /* per-image convolution: its packed weights in e->packed */
    int group;      /* per-image convolution: images it takes at once (sp_conv3x3_group) */
    int batched;    /* a batch step by Winograd F(4x4), whole images' tiles (sp_conv3x3_batched_ok or _pays; F(2x2) forced: 2x2 tiles a 4x4 map) */
    int im2col;     /* by im2col and the GEMM tiles, its weights packed once (sp_conv2d_packed_ok); per image when one image a GEMM (sp_conv2d_image_ok) */
    int padded;     /* PADDED_OUT: its outputs may go straight into the next step's padded input (PADDED_IN) */
    int local;      /* LOCAL_IN / _OUT / _RES: that buffer in the running thread's own slots (localize_run) */
} infer_step;

/* infer_step.local's bits */
enum { LOCAL_IN = 1, LOCAL_OUT = 2, LOCAL_RES = 4 };

/* a convolution's outputs straight into the next one's padded input
 * (sp_conv3x3_forward_images_padded's flags); PADDED_KEEP: into its output
 * buffer too (read again later) */
enum { PADDED_IN = SP_WINOGRAD_IN_PADDED, PADDED_OUT = SP_WINOGRAD_OUT_PADDED, PADDED_KEEP = SP_WINOGRAD_OUT_KEEP };

static infer_step conv_step(const sp_enc_conv *cv, const sp_enc_bn *bn, int in, int out, int res, int relu)
{
    const sp_conv2d_desc *d = &cv->d;
    const int per_image = sp_conv3x3_forward_ok(d);
    infer_step st = {STEP_CONV, in, out, res, relu, cv, bn, d->c, d->h, d->w, d->o,
                     sp_conv2d_ho(d), sp_conv2d_wo(d), 0, per_image, 0, 1, 0, 0, 0, 0};
    st.batched = per_image ? sp_conv3x3_batched_pays(d, INFER_BATCHED_TILE) : sp_conv3x3_batched_ok(d);
    st.per_image = per_image && !st.batched;
    st.im2col = !per_image && !st.batched && sp_conv2d_packed_ok(d);
    st.per_image |= st.im2col && sp_conv2d_image_ok(d);
    return st;
}

/* The steps of e in order into st (2 + 3 * nblocks of room); their count. */
static int infer_steps(const sp_encoder *e, infer_step *st)
{
    int ns = 0, P = 0, Q = 1, R = 2, S = 3;
    st[ns++] = conv_step(&e->stem, &e->stem_bn, BUF_X, P, -1, 1);
    if (e->maxpool) {
        const int local = st[0].per_image; /* the stem's output in each thread's own buffer */
        if (local)
            st[0].out = BUF_LOCAL;
        infer_step mp = {STEP_MAXPOOL, local ? BUF_LOCAL : P, local ? P : Q, -1, 0, NULL, NULL, e->stem_bn.c,
                         e->stem_h, e->stem_w, e->stem_bn.c, e->mp_h, e->mp_w, 0, 1, 0, 1, 0, 0, 0, 0};
        st[ns++] = mp;
        if (!local) {
            int t = P;
            P = Q;
            Q = t;
        }
    }
    for (int i = 0; i < e->nblocks; i++) {
        const sp_enc_block *b = &e->blocks[i];
        int res = P;
        st[ns++] = conv_step(&b->conv1, &b->bn1, P, Q, -1, 1);
        if (b->shortcut == SP_SHORTCUT_A) {
            infer_step sa = {STEP_SHORTCUT_A, P, S, -1, 0, NULL, NULL, b->cin, b->hin, b->win,
                             b->cout, b->hout, b->wout, (b->cout - b->cin) / 2, 1, 0, 1, 0, 0, 0, 0};
            st[ns++] = sa;
            res = S;
        } else if (b->shortcut == SP_SHORTCUT_CONV) {
            st[ns++] = conv_step(&b->ds, &b->dsbn, P, S, -1, 0);
            res = S;
        }
        st[ns++] = conv_step(&b->conv2, &b->bn2, Q, R, res, 1);
        int t = P;
        P = R;
        R = t;
    }
    return ns;
}

/* A per-image step's thread: its scratch, its own buffer (BUF_LOCAL), its
 * own slots (a run's buffers 0..3 where localize_run put them there: slot b
 * at slots + b * slot_len) and the first image of its group (the own
 * buffer and the slots hold the group's images) */
typedef struct {
    float *ws, *local, *slots;
    size_t slot_len;
    int i0;
} step_thread;

/* where image i's tensor of n floats per image is in buffer b, local (in
 * this thread's slots) or not */
static float *step_buf(float *const *bufs, const float *x, int b, int local, size_t n, int i, const step_thread *th)
{
    if (b == BUF_LOCAL)
        return th->local + (size_t)(i - th->i0) * n;
    if (local)
        return th->slots + (size_t)b * th->slot_len + (size_t)(i - th->i0) * n;
    return (b == BUF_X ? (float *)x : bufs[b]) + (size_t)i * n;
}

static const float *step_in(float *const *bufs, const float *x, const infer_step *st, int i, const step_thread *th)
{
    return step_buf(bufs, x, st->in, st->local & LOCAL_IN, (size_t)st->c * st->h * st->w, i, th);
}

static float *step_out(float *const *bufs, const infer_step *st, int i, const step_thread *th)
{
    return step_buf(bufs, NULL, st->out, st->local & LOCAL_OUT, (size_t)st->oc * st->oh * st->ow, i, th);
}

/* image i's residual (the output's size), or NULL */
static const float *step_res(float *const *bufs, const infer_step *st, int i, const step_thread *th)
{
    if (st->res < 0)
        return NULL;
    return step_buf(bufs, NULL, st->res, st->local & LOCAL_RES, (size_t)st->oc * st->oh * st->ow, i, th);
}

static sp_conv2d_epilogue step_epilogue(const sp_encoder *e, const infer_step *st, float *const *bufs)
{
    const float *aff = e->affine + st->bn->stats;
    sp_conv2d_epilogue ep = {aff, aff + st->bn->c, st->res >= 0 ? bufs[st->res] : NULL, st->relu};
    return ep;
}

/* convolution step st on images i .. i + gi - 1 at once (gi up to its
 * group, sp_conv3x3_group; 1 for im2col), on this thread */
static void step_images(const sp_encoder *e, const infer_step *st, float *const *bufs, const float *x, int i,
                        int gi, const step_thread *th, int padded)
{
    const float *in = step_in(bufs, x, st, i, th);
    float *out = step_out(bufs, st, i, th);
    sp_conv2d_epilogue ep = step_epilogue(e, st, bufs);
    const float *res = step_res(bufs, st, i, th);
    ep.residual = NULL; /* these images' residual goes as res */
    if (st->im2col)
        sp_conv2d_forward_image(out, in, e->packed + st->pk, &st->cv->d, th->ws, &ep, res);
    else
        sp_conv3x3_forward_images_padded(out, in, (size_t)gi, e->packed + st->pk, &st->cv->d, th->ws, &ep, res,
                                         padded);
}

/* step st on image i alone, on this thread; th->ws: its scratch */
static void step_image(const sp_encoder *e, const infer_step *st, float *const *bufs, const float *x, int i,
                       const step_thread *th, int padded)
{
    const float *in = step_in(bufs, x, st, i, th);
    float *out = step_out(bufs, st, i, th);
    if (st->kind == STEP_MAXPOOL) {
        /* no argmax: nothing goes backward from here, and without it the
         * pool takes its vectorised path (sp_pool.c); inside this region
         * both run on the calling thread (sp_parallel_for) */
        sp_maxpool2d_forward(out, NULL, in, (size_t)st->c, st->h, st->w, 3, 2, 1);
    } else if (st->kind == STEP_SHORTCUT_A) {
        sp_shortcut_a_forward(out, in, 1, st->c, st->h, st->w, st->pad);
    } else {
        step_images(e, st, bufs, x, i, 1, th, padded);
    }
}

/* the images a run's threads take at once: the largest group of its steps */
static int run_group(const infer_step *st, int k, int k1)
{
    int G = 1; /* every step's group is 1 but such convolutions' */
    for (int j = k; j < k1; j++)
        if (st[j].group > G)
            G = st[j].group;
    return G;
}

static int read_later(const infer_step *st, int ns, int k, int b);

/* one per-image size for the batch's buffer b in a run: n for this access,
 * size[b] for the run's earlier ones (0: none) */
static int one_size(size_t *size, int b, size_t n)
{
    if (size[b] && size[b] != n)
        return 0;
    size[b] = n;
    return 1;
}

/* A run of per-image steps k .. k1 - 1 keeps what only it reads in each
 * thread's own slots: a value goes to the batch's buffer only where a later
 * step (or the caller: the last step's output) reads it, and a step reads
 * the batch's buffer only for what was there before the run.  So an
 * image's activations stay in this core's cache from layer to layer where
 * they went through memory (gtsrb8, 128 images: 4 buffers of 6.4 MB, every
 * page of them fresh in each process).  Sets each step's local bits in set
 * (st itself; NULL: only asks); 0 where the run cannot be: image i's values are at
 * [i * size, (i + 1) * size) of a batch's buffer, so the run must see each
 * buffer of the batch with one per-image size (a larger one read for
 * image i + 1 could be overwritten by a smaller one's image i on the other
 * thread), and a run must not end between a stem and its pool (BUF_LOCAL) */
static int localize(const infer_step *st, int k, int k1, int ns, infer_step *set)
{
    int here[4] = {0, 0, 0, 0}; /* buffer b's value is in the slots */
    size_t size[4] = {0, 0, 0, 0};
    if (st[k1 - 1].out == BUF_LOCAL)
        return 0;
    for (int j = k; j < k1; j++) {
        const infer_step *s = &st[j];
        const size_t is = (size_t)s->c * s->h * s->w, os = (size_t)s->oc * s->oh * s->ow;
        int loc = 0;
        if (s->in >= 0 && here[s->in])
            loc |= LOCAL_IN;
        else if (s->in >= 0 && !one_size(size, s->in, is))
            return 0;
        if (s->res >= 0 && here[s->res])
            loc |= LOCAL_RES;
        else if (s->res >= 0 && !one_size(size, s->res, os))
            return 0;
        if (s->out >= 0) {
            int last = 1; /* the run's last writer of this buffer */
            for (int q = j + 1; q < k1; q++)
                last &= st[q].out != s->out;
            const int out_read = last && (read_later(st, ns, k1, s->out) || (k1 == ns && j == ns - 1));
            if (out_read && !one_size(size, s->out, os))
                return 0;
            here[s->out] = !out_read;
            if (!out_read)
                loc |= LOCAL_OUT;
        }
        if (set)
            set[j].local = loc;
    }
    return 1;
}

/* The end of the run of per-image steps from k: the longest that localize
 * takes (at least the one step) whose steps take the same group of images:
 * a run takes its largest group at once through all its steps, so a
 * stage of small maps (8 images a group) joined to the larger maps before
 * it would carry 8 images' activations through those (GTSRB-8, once its
 * stride-2 layers ran per image: the encoder 5% slower than with the
 * runs split there) */
static int run_end(const infer_step *st, int k, int ns)
{
    int end = k + 1;
    for (int j = k + 1; j <= ns && st[j - 1].per_image && st[j - 1].group == st[k].group; j++)
        if (localize(st, k, j, ns, NULL))
            end = j;
    return end;
}

/* the run k .. k1 - 1's local bits into its steps */
static void localize_run(infer_step *st, int k, int k1, int ns)
{
    if (!localize(st, k, k1, ns, st))
        for (int j = k; j < k1; j++) /* a lone step run_end gave all the same */
            st[j].local = 0;
}

/* the floats of one slot (localize_run) for the runs of st: the run's
 * group of its largest tensor */
static size_t slot_floats(const infer_step *st, int ns)
{
    size_t most = 0;
    for (int k = 0; k < ns;) {
        if (!st[k].per_image) {
            k++;
            continue;
        }
        const int k1 = run_end(st, k, ns), G = run_group(st, k, k1);
        for (int j = k; j < k1; j++) {
            const size_t is = (size_t)st[j].c * st[j].h * st[j].w, os = (size_t)st[j].oc * st[j].oh * st[j].ow;
            const size_t f = (is > os ? is : os) * (size_t)G;
            if (f > most)
                most = f;
        }
        k = k1;
    }
    return most;
}

/* a convolution over the whole batch (im2col + sgemm, or Winograd with one
 * tile an image; its own threads) */
static void step_batch(sp_encoder *e, const infer_step *st, float *const *bufs, const float *x, int n)
{
    sp_conv2d_epilogue ep = step_epilogue(e, st, bufs);
    sp_conv2d_desc d = st->cv->d;
    d.n = n;
    if (st->batched) {
        sp_conv3x3_winograd_batched_forward(bufs[st->out], step_in(bufs, x, st, 0, NULL), (size_t)n, e->packed + st->pk,
                                            NULL, &d, e->img_ws, &ep, INFER_BATCHED_TILE);
        return;
    }
    if (st->im2col) {
        sp_conv2d_forward_packed(bufs[st->out], step_in(bufs, x, st, 0, NULL), e->packed + st->pk, &d, e->ws,
                                 e->ws_len, &ep);
        return;
    }
    sp_conv2d_forward_fused(bufs[st->out], step_in(bufs, x, st, 0, NULL), e->params + st->cv->w, &d, e->ws,
                            e->ws_len, &ep);
}

/* Where the steps' packed weights go and what their threads need: each
 * packed step's offset in e->packed (st[k].pk) and its group of images;
 * the packs' floats, a per-image thread's slice (its own buffer, local,
 * then scratch) and the batch steps' Winograd scratch. */
typedef struct {
    size_t packed, per, local, slot, batched_ws;
} infer_layout;

/* n floats rounded up to whole cache lines */
static size_t round_up_floats(size_t n)
{
    return (n + 15) / 16 * 16;
}

/* 1 when a step from k on reads buffer b before one writes it */
static int read_later(const infer_step *st, int ns, int k, int b)
{
    for (int j = k; j < ns; j++) {
        if (st[j].in == b || st[j].res == b)
            return 1;
        if (st[j].out == b)
            return 0;
    }
    return 0;
}

/* The pairs of per-image convolutions where the first's outputs may go
 * straight into the second's padded input: one after the other, the same
 * layout (sp_conv3x3_padded_ok: F(4x4) with the 16-lane tiles), the second
 * reading the first's output buffer: an identity block's conv1 and conv2,
 * and its conv2 and the next identity block's conv1.  Where the buffer is
 * read again (the next block's residual) the first writes it as well
 * (PADDED_KEEP).  Whether a pair runs so is decided per run
 * (sp_encoder_infer: the two calls must follow each other on one thread
 * with the same images and scratch). */
static void mark_padded(infer_step *st, int ns)
{
    for (int k = 0; k + 1 < ns; k++) {
        infer_step *a = &st[k], *b = &st[k + 1];
        if (a->kind != STEP_CONV || b->kind != STEP_CONV || !a->per_image || !b->per_image || a->im2col ||
            b->im2col || a->out < 0 || b->in != a->out)
            continue;
        const sp_conv2d_desc *da = &a->cv->d, *db = &b->cv->d;
        if (da->c != db->c || da->o != db->o || da->h != db->h || da->w != db->w || !sp_conv3x3_padded_ok(da) ||
            !sp_conv3x3_padded_ok(db))
            continue;
        a->padded |= PADDED_OUT;
        if (b->res == a->out || read_later(st, ns, k + 2, a->out))
            a->padded |= PADDED_KEEP;
        b->padded |= PADDED_IN;
    }
}

static infer_layout layout_steps(infer_step *st, int ns)
{
    infer_layout l = {0, 0, 0, 0, 0};
    size_t local_per_image = 0;
    int gmax = 1;
    for (int k = 0; k < ns; k++) {
        if (st[k].out == BUF_LOCAL)
            local_per_image = (size_t)st[k].oc * st[k].oh * st[k].ow;
        if (st[k].kind != STEP_CONV)
            continue;
        const sp_conv2d_desc *d = &st[k].cv->d;
        if (st[k].batched) { /* its scratch is the per-image steps', not in use meanwhile */
            st[k].pk = l.packed;
            l.packed += sp_conv3x3_winograd_batched_packed_floats(d, INFER_BATCHED_TILE);
            const size_t f = sp_conv3x3_winograd_batched_floats(d, INFER_BATCHED_TILE);
            if (f > l.batched_ws)
                l.batched_ws = f;
        }
        if (st[k].im2col && !st[k].per_image) {
            st[k].pk = l.packed;
            l.packed += sp_conv2d_tiles_packed_floats(d);
        }
        if (!st[k].per_image)
            continue;
        st[k].pk = l.packed;
        st[k].group = st[k].im2col ? 1 : (int)sp_conv3x3_group(d);
        l.packed += st[k].im2col ? sp_conv2d_tiles_packed_floats(d) : sp_conv3x3_packed_floats(d);
        size_t f = st[k].im2col ? sp_conv2d_image_floats(d) : sp_conv3x3_image_floats(d);
        if (f > l.per)
            l.per = f;
        if (st[k].group > gmax)
            gmax = st[k].group;
    }
    /* each thread's slice: its own buffer (the images of a group), its
     * slots, then its scratch (rounded to cache lines: the slots' 16-lane
     * rows) */
    l.slot = round_up_floats(slot_floats(st, ns));
    l.local = round_up_floats(local_per_image * (size_t)gmax) + 4 * l.slot;
    l.per += l.local;
    return l;
}

/* whether step st reads its weights only packed (from e->packed) */
static int step_packed(const infer_step *st)
{
    return st->kind == STEP_CONV && (st->per_image || st->batched || st->im2col);
}

/* step st's weights w packed into e->packed at its place */
static void pack_step(sp_encoder *e, const infer_step *st, const float *w)
{
    const sp_conv2d_desc *d = &st->cv->d;
    if (st->im2col)
        sp_conv2d_tiles_pack(e->packed + st->pk, w, d);
    else if (st->per_image)
        sp_conv3x3_pack_forward(e->packed + st->pk, w, d);
    else
        sp_conv3x3_winograd_batched_pack(e->packed + st->pk, w, d, 0, INFER_BATCHED_TILE);
}

/* room for the packs of layout l (a new arena is not packed yet) */
static void ensure_packed(sp_encoder *e, const infer_layout *l)
{
    if (l->packed > e->packed_len) {
        free(e->packed);
        e->packed = sp_malloc(sizeof(float) * l->packed);
        e->packed_len = l->packed;
        e->packed_ready = 0;
        e->packs_given = 0;
    }
}

/* Every batch norm's eval factors, the per-image convolutions' packed
 * weights and the threads' scratch, for these steps and this thread count. */
static void infer_prepare(sp_encoder *e, const infer_step *st, int ns, const infer_layout *l, int T)
{
    for (int k = 0; k < ns; k++) {
        if (st[k].kind != STEP_CONV)
            continue;
        const sp_enc_bn *bn = st[k].bn;
        float *aff = e->affine + bn->stats;
        sp_batchnorm2d_eval_affine(aff, aff + bn->c, e->params + bn->gamma, e->params + bn->beta,
                                   e->buffers + bn->mean, e->buffers + bn->var, (size_t)bn->c, e->eps);
    }
    ensure_packed(e, l);
    if (!e->packed_ready) {
        /* layers in parallel: Winograd's packing is ~1 ms a batch for tetro */
#pragma omp parallel for schedule(dynamic, 1) num_threads(T)
        for (int k = 0; k < ns; k++)
            if (step_packed(&st[k]))
                pack_step(e, &st[k], e->params + st[k].cv->w);
        e->packed_ready = e->weights_fixed;
    }
    const size_t ws_need = l->per * (size_t)T > l->batched_ws ? l->per * (size_t)T : l->batched_ws;
    if (ws_need > e->img_ws_len) {
        free(e->img_ws);
        e->img_ws_len = ws_need;
        e->img_ws = sp_malloc(sizeof(float) * e->img_ws_len);
    }
    e->img_ws_per = l->per;
    e->img_ws_local = l->local;
    e->img_ws_slot = l->slot;
}

/* The steps (malloc'd, *ns of them) laid out, and the packed step whose
 * weight is t (-1: none). */
static infer_step *laid_out_steps(const sp_encoder *e, int *ns, infer_layout *l, const sp_enc_tensor *t, int *k)
{
    infer_step *st = sp_malloc(sizeof(infer_step) * (2 + 3 * (size_t)e->nblocks));
    *ns = infer_steps(e, st);
    *l = layout_steps(st, *ns);
    *k = -1;
    for (int j = 0; j < *ns && t; j++)
        if (step_packed(&st[j]) && !t->is_buffer && st[j].cv->w == t->offset)
            *k = j;
    return st;
}

int sp_encoder_infer_packs(const sp_encoder *e, const sp_enc_tensor *t)
{
    int ns, k;
    infer_layout l;
    free(laid_out_steps(e, &ns, &l, t, &k));
    return k >= 0;
}

void sp_encoder_infer_pack(sp_encoder *e, const sp_enc_tensor *t, const float *values)
{
    int ns, k;
    infer_layout l;
    infer_step *st = laid_out_steps(e, &ns, &l, t, &k);
    if (k < 0)
        sp_fatal("internal error: encoder tensor %s is not one sp_encoder_infer packs", t->name);
    ensure_packed(e, &l);
    pack_step(e, &st[k], values);
    e->packs_given++;
    free(st);
}

void sp_encoder_infer_packs_done(sp_encoder *e)
{
    int ns, k, want = 0;
    infer_layout l;
    infer_step *st = laid_out_steps(e, &ns, &l, NULL, &k);
    for (int j = 0; j < ns; j++)
        want += step_packed(&st[j]);
    free(st);
    if (e->packs_given != want || e->packed_len < l.packed)
        sp_fatal("internal error: %d of the encoder's %d packed weights given", e->packs_given, want);
    e->weights_fixed = 1;
    e->packed_ready = 1;
}

void sp_encoder_infer(sp_encoder *e, float *y, const float *x, int n)
{
    if (n < 0)
        sp_fatal("encoder: negative batch size");
    ensure_capacity(e, n, 0);
    e->n = n;
    e->training = 0;
    e->cached = 0;
    const size_t big = e->max_act * (size_t)e->cap;
    float *const bufs[4] = {e->scratch, e->scratch + big, e->scratch + 2 * big, e->scratch + 3 * big};
    int ns, none;
    infer_layout lay;
    infer_step *st = laid_out_steps(e, &ns, &lay, NULL, &none);
    mark_padded(st, ns);
    const int T = omp_get_max_threads();
    infer_prepare(e, st, ns, &lay, T);
    for (int k = 0; k < ns;) {
        if (!st[k].per_image) {
            step_batch(e, &st[k], bufs, x, n);
            k++;
            continue;
        }
        const int k1 = run_end(st, k, ns);
        /* groups of G images where a convolution of the run takes G at once
         * (small maps, sp_conv3x3_group): each step over the group, one
         * image at a time but for those */
        const int G = run_group(st, k, k1), ng = (n + G - 1) / G;
        localize_run(st, k, k1, ns);
#pragma omp parallel num_threads(T)
        {
            float *slice = e->img_ws + (size_t)omp_get_thread_num() * e->img_ws_per;
            step_thread th = {slice + e->img_ws_local, slice, slice + e->img_ws_local - 4 * e->img_ws_slot,
                              e->img_ws_slot, 0};
#pragma omp for schedule(dynamic, 1)
            for (int q = 0; q < ng; q++) {
                const int i0 = (e->infer_reverse ? ng - 1 - q : q) * G, gi = n - i0 < G ? n - i0 : G;
                th.i0 = i0;
                int in_padded = 0; /* the previous step left its outputs in this step's padded input */
                for (int j = k; j < k1; j++) {
                    /* a marked pair's calls follow each other, the same images on this
                     * thread's scratch: both over the group, or the run image by image */
                    const int out_padded = (st[j].padded & PADDED_OUT) && j + 1 < k1 && (st[j].group > 1 || G == 1);
                    const int padded = (in_padded ? PADDED_IN : 0) |
                                       (out_padded ? PADDED_OUT | (st[j].padded & PADDED_KEEP) : 0);
                    in_padded = out_padded;
                    if (st[j].group > 1) {
                        step_images(e, &st[j], bufs, x, i0, gi, &th, padded);
                        continue;
                    }
                    for (int a = 0; a < gi; a++)
                        step_image(e, &st[j], bufs, x, e->infer_reverse ? i0 + gi - 1 - a : i0 + a, &th, padded);
                }
            }
        }
        k = k1;
    }
    /* the last block's output: P after the last swap */
    const float *last = bufs[ns > 0 ? st[ns - 1].out : 0];
    free(st);
    if (e->pool_h)
        sp_adaptive_avgpool2d_forward(y, last, (size_t)n * e->out_c, e->out_h, e->out_w, e->pool_h,
                                      e->pool_w);
    else
        memcpy(y, last, sizeof(float) * (size_t)n * e->features);
}

void sp_encoder_backward(sp_encoder *e, float *dx, const float *dy)
{
    const int n = e->n;
    if (!e->acts || !e->cached)
        sp_fatal("encoder: backward without a forward (sp_encoder_infer keeps nothing for it)");
    const size_t big = e->max_act * (size_t)e->cap;
    float *G = e->scratch, *R = G + big, *A = R + big, *X = A + big, *S = X + big;
    if (e->pool_h)
        sp_adaptive_avgpool2d_backward(G, dy, (size_t)n * e->out_c, e->out_h, e->out_w, e->pool_h,
                                       e->pool_w);
    else
        memcpy(G, dy, sizeof(float) * (size_t)n * e->features);
    for (int i = e->nblocks - 1; i >= 0; i--) {
        const sp_enc_block *b = &e->blocks[i];
        const int hw = b->hout * b->wout;
        const float *in = act(e, b->in);
        bn_bwd(e, &b->bn2, G, R, G, act(e, b->out), 1, act(e, b->c2), n, hw);
        conv_bwd(e, &b->conv2, A, G, act(e, b->a1), n);
        bn_bwd(e, &b->bn1, A, NULL, A, act(e, b->a1), 1, act(e, b->c1), n, hw);
        conv_bwd(e, &b->conv1, X, A, in, n);
        const size_t nin = (size_t)n * b->cin * b->hin * b->win;
        if (b->shortcut == SP_SHORTCUT_IDENTITY) {
            sp_add_forward(X, X, R, nin);
        } else if (b->shortcut == SP_SHORTCUT_A) {
            sp_shortcut_a_backward_add(X, R, (size_t)n, b->cin, b->hin, b->win, (b->cout - b->cin) / 2);
        } else {
            bn_bwd(e, &b->dsbn, R, NULL, R, NULL, 0, act(e, b->cd), n, hw);
            conv_bwd(e, &b->ds, S, R, in, n);
            sp_add_forward(X, X, S, nin);
        }
        float *t = G;
        G = X;
        X = t;
    }
    const int shw = e->stem_h * e->stem_w;
    if (e->maxpool) {
        sp_maxpool2d_backward(R, G, e->argmax, (size_t)n * e->stem_bn.c, e->stem_h, e->stem_w, 3, 2, 1);
        G = R;
    }
    bn_bwd(e, &e->stem_bn, G, NULL, G, act(e, e->a0_off), 1, act(e, e->c0_off), n, shw);
    conv_bwd(e, &e->stem, dx, G, act(e, e->x_off), n);
}

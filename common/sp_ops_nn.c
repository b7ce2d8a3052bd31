/* Registry entries of the network ops (see sp_op.h for the conventions).
 * Each entry is a thin wrapper: check the inputs, allocate outputs, call the
 * typed function of the family's header (sp_activation.h, sp_conv.h,
 * sp_batchnorm.h, sp_pool.h, sp_residual.h, sp_encoder.h).
 *
 * Ops that update state (batch norm's running statistics in training mode)
 * output the new values as "new.<input name>": the golden files hold inputs
 * and expected outputs in one batch, so the names must differ. */
#include "sp_activation.h"
#include "sp_batchnorm.h"
#include "sp_conv.h"
#include "sp_encoder.h"
#include "sp_error.h"
#include "sp_op.h"
#include "sp_ops_inputs.h"
#include "sp_pool.h"
#include "sp_residual.h"

#include <stdio.h>
#include <string.h>

/* ---- helpers ---- */

static sp_tensor *like(const sp_tensor *t) { return sp_tensor_new(SP_F32, t->ndim, t->shape); }

/* ---- relu ---- */

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
    const sp_tensor *dy = sp_opin_relu_dy(in, x);
    sp_tensor *dx = sp_tensor_new(SP_F32, x->ndim, x->shape);
    sp_relu_backward(sp_f32(dx), sp_f32(dy), sp_f32(x), sp_tensor_numel(x));
    sp_map_put_tensor(grads, "dx", dx);
}

/* ---- conv2d ---- */

static const sp_op_attr conv_attrs[] = {
    {"stride", 'n', "1", "stride (both directions unless stride_w is set)"},
    {"padding", 'n', "0", "zero padding on each side (both directions unless padding_w is set)"},
    {"stride_w", 'n', "-1", "horizontal stride (-1: same as stride)"},
    {"padding_w", 'n', "-1", "horizontal padding (-1: same as padding)"},
    {0}};

static void conv_fwd(sp_map *out, const sp_map *in, const sp_op_attrs *a)
{
    const sp_tensor *x, *w, *b;
    sp_conv2d_desc d = sp_opin_conv(in, a, &x, &w, &b);
    sp_tensor *y = sp_tensor_newv(SP_F32, 4, (int64_t)d.n, (int64_t)d.o, (int64_t)sp_conv2d_ho(&d),
                                  (int64_t)sp_conv2d_wo(&d));
    sp_conv2d_forward(sp_f32(y), sp_f32(x), sp_f32(w), b ? sp_f32(b) : NULL, &d, NULL, 0);
    sp_map_put_tensor(out, "y", y);
}

static void conv_bwd(sp_map *grads, const sp_map *in, const sp_op_attrs *a)
{
    const sp_tensor *x, *w, *b;
    sp_conv2d_desc d = sp_opin_conv(in, a, &x, &w, &b);
    const sp_tensor *dy = sp_opin_conv_dy(in, &d);
    sp_tensor *dx = like(x), *dw = like(w), *db = b ? like(b) : NULL;
    sp_conv2d_backward(sp_f32(dx), sp_f32(dw), db ? sp_f32(db) : NULL, sp_f32(dy), sp_f32(x),
                       sp_f32(w), &d, NULL, 0);
    sp_map_put_tensor(grads, "dx", dx);
    sp_map_put_tensor(grads, "dweight", dw);
    if (db)
        sp_map_put_tensor(grads, "dbias", db);
}

/* ---- batchnorm2d ---- */

static const sp_op_attr bn_attrs[] = {
    {"training", 'n', "1", "1: batch statistics and running-statistic update; 0: running statistics"},
    {"momentum", 'n', "0.1", "running = (1 - momentum) * running + momentum * batch"},
    {"eps", 'n', "1e-5", "added to the variance"},
    {0}};

static void bn_fwd(sp_map *out, const sp_map *in, const sp_op_attrs *a)
{
    sp_opin_bn r = sp_opin_batchnorm(in, a);
    sp_tensor *y = like(r.x);
    sp_tensor *st = sp_tensor_newv(SP_F32, 1, (int64_t)(2 * r.c));
    sp_tensor *nm = r.rm ? sp_tensor_copy(r.rm) : NULL, *nv = r.rv ? sp_tensor_copy(r.rv) : NULL;
    sp_batchnorm2d_forward(sp_f32(y), sp_f32(st), sp_f32(st) + r.c, nm ? sp_f32(nm) : NULL,
                           nv ? sp_f32(nv) : NULL, sp_f32(r.x), r.g ? sp_f32(r.g) : NULL,
                           r.b ? sp_f32(r.b) : NULL, r.n, r.c, r.hw, r.training,
                           r.momentum, r.eps);
    sp_tensor_free(st);
    sp_map_put_tensor(out, "y", y);
    if (nm && r.training) {
        sp_map_put_tensor(out, "new.running_mean", nm);
        sp_map_put_tensor(out, "new.running_var", nv);
    } else {
        sp_tensor_free(nm);
        sp_tensor_free(nv);
    }
}

static void bn_bwd(sp_map *grads, const sp_map *in, const sp_op_attrs *a)
{
    sp_opin_bn r = sp_opin_batchnorm(in, a);
    const sp_tensor *dy = sp_opin_grad("batchnorm2d", in, "dy", r.x->ndim, r.x->shape);
    /* recompute the statistics the forward used (running stats on copies) */
    sp_tensor *y = like(r.x), *st = sp_tensor_newv(SP_F32, 1, (int64_t)(2 * r.c));
    sp_tensor *nm = r.rm ? sp_tensor_copy(r.rm) : NULL, *nv = r.rv ? sp_tensor_copy(r.rv) : NULL;
    sp_batchnorm2d_forward(sp_f32(y), sp_f32(st), sp_f32(st) + r.c, nm ? sp_f32(nm) : NULL,
                           nv ? sp_f32(nv) : NULL, sp_f32(r.x), r.g ? sp_f32(r.g) : NULL,
                           r.b ? sp_f32(r.b) : NULL, r.n, r.c, r.hw, r.training,
                           r.momentum, r.eps);
    sp_tensor *dx = like(r.x), *dg = r.g ? like(r.g) : NULL, *db = r.b ? like(r.b) : NULL;
    sp_batchnorm2d_backward(sp_f32(dx), dg ? sp_f32(dg) : NULL, db ? sp_f32(db) : NULL, sp_f32(dy),
                            sp_f32(r.x), r.g ? sp_f32(r.g) : NULL, sp_f32(st), sp_f32(st) + r.c,
                            r.n, r.c, r.hw, r.training);
    sp_tensor_free(y);
    sp_tensor_free(st);
    sp_tensor_free(nm);
    sp_tensor_free(nv);
    sp_map_put_tensor(grads, "dx", dx);
    if (dg)
        sp_map_put_tensor(grads, "dweight", dg);
    if (db)
        sp_map_put_tensor(grads, "dbias", db);
}

/* ---- pooling ---- */

static const sp_op_attr maxpool_attrs[] = {
    {"kernel", 'n', "3", "window size"},
    {"stride", 'n', "2", "stride"},
    {"padding", 'n', "1", "implicit -inf padding on each side (at most kernel/2)"},
    {0}};

static void window_check(const char *op, const sp_tensor *x, int k, int s, int p)
{
    if (k < 1 || s < 1 || p < 0 || p > k / 2)
        sp_fatal("%s: kernel %d, stride %d, padding %d: need kernel, stride >= 1 and 0 <= padding "
                 "<= kernel/2", op, k, s, p);
    if (x->shape[2] + 2 * p < k || x->shape[3] + 2 * p < k)
        sp_fatal("%s: input 'x' is %lldx%lld, smaller than the %d-wide window with padding %d", op,
                 (long long)x->shape[2], (long long)x->shape[3], k, p);
}

static void maxpool_fwd(sp_map *out, const sp_map *in, const sp_op_attrs *a)
{
    const sp_tensor *x = sp_opin_input4("maxpool2d", in, "x");
    int k = sp_attr_int(a, "kernel"), s = sp_attr_int(a, "stride"), p = sp_attr_int(a, "padding");
    window_check("maxpool2d", x, k, s, p);
    int h = (int)x->shape[2], w = (int)x->shape[3];
    sp_tensor *y = sp_tensor_newv(SP_F32, 4, x->shape[0], x->shape[1], (int64_t)sp_pool_out(h, k, s, p),
                                  (int64_t)sp_pool_out(w, k, s, p));
    sp_maxpool2d_forward(sp_f32(y), NULL, sp_f32(x), (size_t)(x->shape[0] * x->shape[1]), h, w, k, s, p);
    sp_map_put_tensor(out, "y", y);
}

static void maxpool_bwd(sp_map *grads, const sp_map *in, const sp_op_attrs *a)
{
    const sp_tensor *x = sp_opin_input4("maxpool2d", in, "x");
    int k = sp_attr_int(a, "kernel"), s = sp_attr_int(a, "stride"), p = sp_attr_int(a, "padding");
    window_check("maxpool2d", x, k, s, p);
    int h = (int)x->shape[2], w = (int)x->shape[3];
    int64_t ys[4] = {x->shape[0], x->shape[1], sp_pool_out(h, k, s, p), sp_pool_out(w, k, s, p)};
    const sp_tensor *dy = sp_opin_grad("maxpool2d", in, "dy", 4, ys);
    size_t nc = (size_t)(x->shape[0] * x->shape[1]);
    sp_tensor *y = sp_tensor_new(SP_F32, 4, ys), *am = sp_tensor_new(SP_I32, 4, ys);
    sp_maxpool2d_forward(sp_f32(y), sp_i32(am), sp_f32(x), nc, h, w, k, s, p);
    sp_tensor *dx = like(x);
    sp_maxpool2d_backward(sp_f32(dx), sp_f32(dy), sp_i32(am), nc, h, w, k, s, p);
    sp_tensor_free(y);
    sp_tensor_free(am);
    sp_map_put_tensor(grads, "dx", dx);
}

static const sp_op_attr avgpool_attrs[] = {
    {"kernel", 'n', "2", "window size"},
    {"stride", 'n', "0", "stride (0: the kernel size, PyTorch's default)"},
    {"padding", 'n', "0", "zero padding on each side (at most kernel/2)"},
    {"count_include_pad", 'n', "1", "1: divide by the window size including padding; 0: by the real pixels"},
    {0}};

static void avg_params(const sp_op_attrs *a, int *k, int *s, int *p, int *cip)
{
    *k = sp_attr_int(a, "kernel");
    *s = sp_attr_int(a, "stride");
    if (*s == 0)
        *s = *k;
    *p = sp_attr_int(a, "padding");
    *cip = sp_attr_int(a, "count_include_pad") != 0;
}

static void avgpool_fwd(sp_map *out, const sp_map *in, const sp_op_attrs *a)
{
    const sp_tensor *x = sp_opin_input4("avgpool2d", in, "x");
    int k, s, p, cip;
    avg_params(a, &k, &s, &p, &cip);
    window_check("avgpool2d", x, k, s, p);
    int h = (int)x->shape[2], w = (int)x->shape[3];
    sp_tensor *y = sp_tensor_newv(SP_F32, 4, x->shape[0], x->shape[1], (int64_t)sp_pool_out(h, k, s, p),
                                  (int64_t)sp_pool_out(w, k, s, p));
    sp_avgpool2d_forward(sp_f32(y), sp_f32(x), (size_t)(x->shape[0] * x->shape[1]), h, w, k, s, p, cip);
    sp_map_put_tensor(out, "y", y);
}

static void avgpool_bwd(sp_map *grads, const sp_map *in, const sp_op_attrs *a)
{
    const sp_tensor *x = sp_opin_input4("avgpool2d", in, "x");
    int k, s, p, cip;
    avg_params(a, &k, &s, &p, &cip);
    window_check("avgpool2d", x, k, s, p);
    int h = (int)x->shape[2], w = (int)x->shape[3];
    int64_t ys[4] = {x->shape[0], x->shape[1], sp_pool_out(h, k, s, p), sp_pool_out(w, k, s, p)};
    const sp_tensor *dy = sp_opin_grad("avgpool2d", in, "dy", 4, ys);
    sp_tensor *dx = like(x);
    sp_avgpool2d_backward(sp_f32(dx), sp_f32(dy), (size_t)(x->shape[0] * x->shape[1]), h, w, k, s, p, cip);
    sp_map_put_tensor(grads, "dx", dx);
}

static const sp_op_attr adaptive_attrs[] = {
    {"out_h", 'n', "1", "output rows"},
    {"out_w", 'n', "1", "output columns"},
    {0}};

static void adaptive_params(const sp_op_attrs *a, int *oh, int *ow)
{
    *oh = sp_attr_int(a, "out_h");
    *ow = sp_attr_int(a, "out_w");
    if (*oh < 1 || *ow < 1 || *oh > (1 << 16) || *ow > (1 << 16))
        sp_fatal("adaptive_avgpool2d: output %dx%d, expected 1 to 65536 each", *oh, *ow);
}

static void adaptive_fwd(sp_map *out, const sp_map *in, const sp_op_attrs *a)
{
    const sp_tensor *x = sp_opin_input4("adaptive_avgpool2d", in, "x");
    int oh, ow;
    adaptive_params(a, &oh, &ow);
    sp_tensor *y = sp_tensor_newv(SP_F32, 4, x->shape[0], x->shape[1], (int64_t)oh, (int64_t)ow);
    sp_adaptive_avgpool2d_forward(sp_f32(y), sp_f32(x), (size_t)(x->shape[0] * x->shape[1]),
                                  (int)x->shape[2], (int)x->shape[3], oh, ow);
    sp_map_put_tensor(out, "y", y);
}

static void adaptive_bwd(sp_map *grads, const sp_map *in, const sp_op_attrs *a)
{
    const sp_tensor *x = sp_opin_input4("adaptive_avgpool2d", in, "x");
    int oh, ow;
    adaptive_params(a, &oh, &ow);
    int64_t ys[4] = {x->shape[0], x->shape[1], oh, ow};
    const sp_tensor *dy = sp_opin_grad("adaptive_avgpool2d", in, "dy", 4, ys);
    sp_tensor *dx = like(x);
    sp_adaptive_avgpool2d_backward(sp_f32(dx), sp_f32(dy), (size_t)(x->shape[0] * x->shape[1]),
                                   (int)x->shape[2], (int)x->shape[3], oh, ow);
    sp_map_put_tensor(grads, "dx", dx);
}

/* ---- residual add, option-A shortcut ---- */

static void add_fwd(sp_map *out, const sp_map *in, const sp_op_attrs *a)
{
    (void)a;
    const sp_tensor *b, *x = sp_opin_add(in, &b);
    sp_tensor *y = like(x);
    sp_add_forward(sp_f32(y), sp_f32(x), sp_f32(b), sp_tensor_numel(x));
    sp_map_put_tensor(out, "y", y);
}

static void add_bwd(sp_map *grads, const sp_map *in, const sp_op_attrs *a)
{
    (void)a;
    const sp_tensor *b, *x = sp_opin_add(in, &b);
    const sp_tensor *dy = sp_opin_add_dy(in, x);
    sp_map_put_tensor(grads, "da", sp_tensor_copy(dy));
    sp_map_put_tensor(grads, "db", sp_tensor_copy(dy));
}

static const sp_op_attr shortcut_attrs[] = {
    {"pad", 'n', "-1", "zero channels added on each side (-1: C/2, doubling the channels)"},
    {0}};

static int shortcut_pad(const sp_tensor *x, const sp_op_attrs *a)
{
    int p = sp_attr_int(a, "pad");
    if (p < 0)
        p = (int)(x->shape[1] / 2);
    if (p > (1 << 20))
        sp_fatal("shortcut_a: pad %d too large", p);
    return p;
}

static void shortcut_fwd(sp_map *out, const sp_map *in, const sp_op_attrs *a)
{
    const sp_tensor *x = sp_opin_input4("shortcut_a", in, "x");
    int p = shortcut_pad(x, a);
    int c = (int)x->shape[1], h = (int)x->shape[2], w = (int)x->shape[3];
    sp_tensor *y = sp_tensor_newv(SP_F32, 4, x->shape[0], (int64_t)(c + 2 * p), (int64_t)((h + 1) / 2),
                                  (int64_t)((w + 1) / 2));
    sp_shortcut_a_forward(sp_f32(y), sp_f32(x), (size_t)x->shape[0], c, h, w, p);
    sp_map_put_tensor(out, "y", y);
}

static void shortcut_bwd(sp_map *grads, const sp_map *in, const sp_op_attrs *a)
{
    const sp_tensor *x = sp_opin_input4("shortcut_a", in, "x");
    int p = shortcut_pad(x, a);
    int c = (int)x->shape[1], h = (int)x->shape[2], w = (int)x->shape[3];
    int64_t ys[4] = {x->shape[0], c + 2 * p, (h + 1) / 2, (w + 1) / 2};
    const sp_tensor *dy = sp_opin_grad("shortcut_a", in, "dy", 4, ys);
    sp_tensor *dx = like(x);
    sp_shortcut_a_backward(sp_f32(dx), sp_f32(dy), (size_t)x->shape[0], c, h, w, p);
    sp_map_put_tensor(grads, "dx", dx);
}

/* ---- encoders ---- */

/* The state_dict keys of the reference Encoder, written out by macros so
 * that the registry strings are constants; the op checks them against the
 * encoder's own table on every call. */
#define BN_ALL(p) p ".weight," p ".bias," p ".running_mean," p ".running_var"
#define BN_PAR(p) p ".weight," p ".bias"
#define BN_NEW(p) "new." p ".running_mean,new." p ".running_var"
#define BLK_ALL(p) p ".conv1.weight," BN_ALL(p ".bn1") "," p ".conv2.weight," BN_ALL(p ".bn2")
#define BLK_PAR(p) p ".conv1.weight," BN_PAR(p ".bn1") "," p ".conv2.weight," BN_PAR(p ".bn2")
#define BLK_NEW(p) BN_NEW(p ".bn1") "," BN_NEW(p ".bn2")
#define DS_ALL(p) BLK_ALL(p) "," p ".downsample.0.weight," BN_ALL(p ".downsample.1")
#define DS_PAR(p) BLK_PAR(p) "," p ".downsample.0.weight," BN_PAR(p ".downsample.1")
#define DS_NEW(p) BLK_NEW(p) "," BN_NEW(p ".downsample.1")
#define STAGE5(X, m) X(m ".0") "," X(m ".1") "," X(m ".2") "," X(m ".3") "," X(m ".4")
#define MINI32(X, B) "encoder.0.weight," B("encoder.1") "," STAGE5(X, "encoder.3") "," \
    STAGE5(X, "encoder.4") "," STAGE5(X, "encoder.5")
#define R18(X, D, B) "encoder.0.weight," B("encoder.1") "," X("encoder.4.0") "," X("encoder.4.1") "," \
    D("encoder.5.0") "," X("encoder.5.1") "," D("encoder.6.0") "," X("encoder.6.1") "," \
    D("encoder.7.0") "," X("encoder.7.1")
#define MINI32_NEW "y," BN_NEW("encoder.1") "," STAGE5(BLK_NEW, "encoder.3") "," \
    STAGE5(BLK_NEW, "encoder.4") "," STAGE5(BLK_NEW, "encoder.5")
#define R18_NEW "y," BN_NEW("encoder.1") "," BLK_NEW("encoder.4.0") "," BLK_NEW("encoder.4.1") "," \
    DS_NEW("encoder.5.0") "," BLK_NEW("encoder.5.1") "," DS_NEW("encoder.6.0") "," \
    BLK_NEW("encoder.6.1") "," DS_NEW("encoder.7.0") "," BLK_NEW("encoder.7.1")

static const char resnet32_inputs[] = "x," MINI32(BLK_ALL, BN_ALL);
static const char resnet32_diff[] = "x," MINI32(BLK_PAR, BN_PAR);
static const char resnet18_inputs[] = "x," R18(BLK_ALL, DS_ALL, BN_ALL);
static const char resnet18_diff[] = "x," R18(BLK_PAR, DS_PAR, BN_PAR);

#define ENCODER_ATTRS(width)                                                                       \
    {"training", 'n', "1", "1: batch norm on batch statistics, running statistics updated (outputs new.*); 0: eval mode"}, \
    {"pool_h", 'n', "1", "AdaptiveAvgPool2d output rows (the reference's with_pool; 0 with pool_w 0: no pooling)"}, \
    {"pool_w", 'n', "1", "AdaptiveAvgPool2d output columns"},                                      \
    {"width", 'n', width, "channels of the stem; stages have width x 1, 2, 4(, 8) (narrower nets for tests)"}, {0}
static const sp_op_attr r32_attrs[] = {ENCODER_ATTRS("16")};
static const sp_op_attr r18_attrs[] = {ENCODER_ATTRS("64")};

/* Fatal unless list ("x,name,...") names exactly the encoder's tensors, in order. */
static void check_names(const char *op, const char *list, const sp_encoder *e)
{
    const char *p = list + 2; /* after "x," */
    for (int i = 0; i < e->ntensors; i++) {
        size_t len = strlen(e->tensors[i].name);
        if (strncmp(p, e->tensors[i].name, len) || (p[len] != ',' && p[len] != 0))
            sp_fatal("internal error: %s: registry names disagree at '%s'", op, e->tensors[i].name);
        p += len + (p[len] == ',');
    }
    if (*p)
        sp_fatal("internal error: %s: registry names more tensors than the encoder", op);
}

/* The last encoder built, kept so that a stream of batches of one shape
 * (sp-op, benchmarks) does not rebuild the arenas and fault their pages in
 * on every call; parameters and statistics are reloaded each time.  Ops run
 * on one thread; the cache stays reachable until exit. */
static sp_encoder *encoder_cache;

static sp_encoder *encoder_get(const char *arch, int width, int c, int h, int w, int ph, int pw)
{
    sp_encoder *e = encoder_cache;
    if (e && !strcmp(e->arch, arch) && e->in_c == c && e->h == h && e->w == w && e->pool_h == ph &&
        e->pool_w == pw && e->width == (width ? width : e->maxpool ? 64 : 16))
        return e;
    sp_encoder_free(e);
    encoder_cache = NULL;
    return encoder_cache = sp_encoder_new(arch, width, c, h, w, ph, pw);
}

/* The encoder of x's size with every tensor loaded from `in`. */
static sp_encoder *encoder_load(const char *op, const char *arch, const char *list,
                                const sp_map *in, const sp_op_attrs *a, const sp_tensor **x)
{
    *x = sp_opin_input4(op, in, "x");
    int ph = sp_attr_int(a, "pool_h"), pw = sp_attr_int(a, "pool_w");
    if (ph < 0 || pw < 0 || (ph == 0) != (pw == 0) || ph > 4096 || pw > 4096)
        sp_fatal("%s: pool %dx%d: both in 1..4096, or both 0 for no pooling", op, ph, pw);
    sp_encoder *e = encoder_get(arch, sp_attr_int(a, "width"), (int)(*x)->shape[1], (int)(*x)->shape[2],
                                (int)(*x)->shape[3], ph, pw);
    check_names(op, list, e);
    for (int i = 0; i < e->ntensors; i++) {
        const sp_enc_tensor *t = &e->tensors[i];
        const sp_tensor *v = sp_op_input(op, in, t->name, SP_F32, t->ndim);
        for (int j = 0; j < t->ndim; j++)
            sp_op_check_dim(op, t->name, v, j, t->shape[j]);
        memcpy(sp_encoder_data(e, t), v->data, sizeof(float) * t->size);
    }
    return e;
}

static void encoder_run(sp_map *out, sp_map *grads, const sp_map *in, const sp_op_attrs *a,
                        const char *op, const char *arch, const char *list)
{
    const sp_tensor *x;
    sp_encoder *e = encoder_load(op, arch, list, in, a, &x);
    int n = (int)x->shape[0], training = sp_attr_int(a, "training") != 0;
    if (training && (int64_t)n * e->out_h * e->out_w == 1)
        sp_fatal("%s: training needs more than 1 value per channel at the last batch norm: x has "
                 "1 image and the last feature map is 1x1", op);
    sp_tensor *y = sp_tensor_newv(SP_F32, 2, (int64_t)n, (int64_t)e->features);
    sp_encoder_forward(e, sp_f32(y), sp_f32(x), n, training);
    if (out) {
        sp_map_put_tensor(out, "y", y);
        for (int i = 0; training && i < e->ntensors; i++) {
            const sp_enc_tensor *t = &e->tensors[i];
            if (!t->is_buffer)
                continue;
            char name[80];
            snprintf(name, sizeof name, "new.%s", t->name);
            sp_tensor *v = sp_tensor_new(SP_F32, t->ndim, t->shape);
            memcpy(v->data, sp_encoder_data(e, t), sizeof(float) * t->size);
            sp_map_put_tensor(out, name, v);
        }
    } else {
        const sp_tensor *dy = sp_opin_grad(op, in, "dy", 2, y->shape);
        sp_tensor *dx = like(x);
        sp_encoder_backward(e, sp_f32(dx), sp_f32(dy));
        sp_map_put_tensor(grads, "dx", dx);
        for (int i = 0; i < e->ntensors; i++) {
            const sp_enc_tensor *t = &e->tensors[i];
            if (t->is_buffer)
                continue;
            char name[80];
            snprintf(name, sizeof name, "d%s", t->name);
            sp_tensor *g = sp_tensor_new(SP_F32, t->ndim, t->shape);
            memcpy(g->data, e->grads + t->offset, sizeof(float) * t->size);
            sp_map_put_tensor(grads, name, g);
        }
        sp_tensor_free(y);
    }
}

static void r32_fwd(sp_map *out, const sp_map *in, const sp_op_attrs *a)
{
    encoder_run(out, NULL, in, a, "encoder_resnet32", "resnet32", resnet32_inputs);
}
static void r32_bwd(sp_map *grads, const sp_map *in, const sp_op_attrs *a)
{
    encoder_run(NULL, grads, in, a, "encoder_resnet32", "resnet32", resnet32_inputs);
}
static void r18_fwd(sp_map *out, const sp_map *in, const sp_op_attrs *a)
{
    encoder_run(out, NULL, in, a, "encoder_resnet18", "resnet18", resnet18_inputs);
}
static void r18_bwd(sp_map *grads, const sp_map *in, const sp_op_attrs *a)
{
    encoder_run(NULL, grads, in, a, "encoder_resnet18", "resnet18", resnet18_inputs);
}

const sp_op_def sp_ops_nn[] = {
    {"relu", "rectified linear unit, y = max(x, 0)", "x", "y", "x", "x f32 [any] -> y f32 [same]",
     NULL, relu_fwd, relu_bwd},
    {"conv2d", "2-D convolution (nn.Conv2d, no groups/dilation): im2col + sgemm", "x,weight,bias", "y",
     "x,weight,bias",
     "x f32 [N,C,H,W]; weight f32 [O,C,kh,kw]; bias f32 [O] optional -> y f32 [N,O,Ho,Wo], "
     "Ho = (H + 2*padding - kh) / stride + 1",
     conv_attrs, conv_fwd, conv_bwd},
    {"batchnorm2d", "batch normalisation (nn.BatchNorm2d; BatchNorm1d for [N,C])",
     "x,weight,bias,running_mean,running_var", "y,new.running_mean,new.running_var", "x,weight,bias",
     "x f32 [N,C,...]; weight, bias f32 [C] optional (affine); running_mean, running_var f32 [C] "
     "optional in training -> y f32 [N,C,...]; training with running stats: new.running_mean, "
     "new.running_var f32 [C] (unbiased variance, momentum)",
     bn_attrs, bn_fwd, bn_bwd},
    {"maxpool2d", "max pooling (nn.MaxPool2d, floor mode); gradient to the first maximum", "x", "y", "x",
     "x f32 [N,C,H,W] -> y f32 [N,C,Ho,Wo], Ho = (H + 2*padding - kernel) / stride + 1",
     maxpool_attrs, maxpool_fwd, maxpool_bwd},
    {"avgpool2d", "average pooling (nn.AvgPool2d, floor mode)", "x", "y", "x",
     "x f32 [N,C,H,W] -> y f32 [N,C,Ho,Wo], Ho = (H + 2*padding - kernel) / stride + 1",
     avgpool_attrs, avgpool_fwd, avgpool_bwd},
    {"adaptive_avgpool2d", "adaptive average pooling (nn.AdaptiveAvgPool2d)", "x", "y", "x",
     "x f32 [N,C,H,W] -> y f32 [N,C,out_h,out_w]", adaptive_attrs, adaptive_fwd, adaptive_bwd},
    {"add", "residual add, y = a + b", "a,b", "y", "a,b", "a f32 [any]; b f32 [same] -> y f32 [same]",
     NULL, add_fwd, add_bwd},
    {"shortcut_a", "mini-ResNet option-A shortcut: x[:, :, ::2, ::2] with pad zero channels each side",
     "x", "y", "x", "x f32 [N,C,H,W] -> y f32 [N,C+2*pad,(H+1)/2,(W+1)/2]", shortcut_attrs,
     shortcut_fwd, shortcut_bwd},
    {"encoder_resnet32",
     "the reference Encoder(encoder_name='resnet32'): CIFAR mini-ResNet-32 (16/32/64 channels, "
     "option-A shortcuts), adaptive average pool, flatten",
     resnet32_inputs, MINI32_NEW, resnet32_diff,
     "x f32 [N,C,H,W]; every tensor of the reference Encoder's state_dict (num_batches_tracked "
     "excepted) by its key -> y f32 [N, 4*width*pool_h*pool_w] (unpooled: 4*width*ceil(H/4)*ceil(W/4)); "
     "training: new.<running stat> f32 [channels]",
     r32_attrs, r32_fwd, r32_bwd},
    {"encoder_resnet18",
     "the reference Encoder(encoder_name='resnet18'): torchvision ResNet-18 without avgpool/fc, "
     "adaptive average pool, flatten",
     resnet18_inputs, R18_NEW, resnet18_diff,
     "x f32 [N,C,H,W]; every tensor of the reference Encoder's state_dict (num_batches_tracked "
     "excepted) by its key -> y f32 [N, 8*width*pool_h*pool_w] (unpooled: 8*width * the last map); "
     "training: new.<running stat> f32 [channels]",
     r18_attrs, r18_fwd, r18_bwd},
    {0}};

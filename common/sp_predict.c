/* Eval-mode prediction of the candidate layers (see sp_predict.h).  Built
 * from the library's ops: sp_encoder (running statistics), sp_mlp (the
 * regressors), sp_tsf_seq (the transformation chains, grid sampling
 * included), sp_clamp. */
#include "sp_predict.h"

#include "sp_encoder.h"
#include "sp_error.h"
#include "sp_mlp.h"
#include "sp_train.h"
#include "sp_tsf_seq.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <omp.h>
#include <string.h>

/* One thread's temporaries for candidate tasks of up to cap images, each
 * made at its first task of a kind and kept by the predictor from batch to
 * batch: a thread's blocks freed at the end of every batch went back to the
 * system from its own arena in a program that runs alone (the chain,
 * sp-train) and came back as fresh pages the next batch. */
typedef struct {
    int cap;
    float *in, *ts, *lo, *bin, *bo;
    void *blk; /* sp_predict_thread_block's */
    size_t blk_len;
} cands_tmp;

/* the temporaries (not the caller's block), to be made again for cap images */
static void tmp_resize(cands_tmp *t, int cap)
{
    free(t->bo);
    free(t->bin);
    free(t->lo);
    free(t->ts);
    free(t->in);
    t->in = t->ts = t->lo = t->bin = t->bo = NULL;
    t->cap = cap;
}

struct sp_predictor {
    const sp_model *m;
    sp_encoder *enc;
    sp_clamp clamp;
    float *sprites; /* [K, C+1, h, w]: clamped prototypes and masks, empty sprite last */
    float *bkgs;    /* [M, C, H, W] clamped */
    sp_tsf_heads sprite_tsf[64]; /* per layer (sp_model_new caps L at 64) */
    sp_tsf_heads layer_tsf, bkg_tsf;
    int has_occ;
    sp_head_mlp occ;
    int sh, sw; /* sprite transformers' output size */
    int psprite, player, pbkg; /* sp_predict_param_sizes, from the transformers at creation */
    cands_tmp *scratch; /* [nscratch]: thread t's (sp_predict_threads_ready) */
    int nscratch;
};

/* The curriculum stage of a checkpoint: the epoch its meta records (-1:
 * none, a model not written by training: every module applies, as the
 * reference's evaluation after activate_all). */
static int64_t curriculum_epoch(const sp_model *m)
{
    int64_t e;
    return sp_map_get_int(&m->meta, "curriculum_epoch", &e) == 0 && e >= 0 ? e : -1;
}

/* The heads under prefix, at the curriculum stage the checkpoint records. */
static void tsf_load(sp_tsf_heads *t, const sp_model *m, const char *prefix, const char *seq, const char *cur_key,
                     int nheads, int h, int w, sp_padding pad, sp_clamp clamp)
{
    sp_tsf_heads_load(t, m, prefix, seq, cur_key, nheads, h, w, pad, clamp);
    int64_t epoch = curriculum_epoch(m);
    if (epoch >= 0)
        sp_tsf_heads_stage(t, m->cfg, epoch);
}

/* Parameters a transformer takes per image (0: identity, or none). */
static int tsf_params(const sp_tsf_heads *t, int present) { return present && !t->identity ? t->P : 0; }

sp_predictor *sp_predictor_new(const sp_model *m, const char *where)
{
    sp_predictor *p = sp_calloc(1, sizeof *p);
    p->m = m;
    const sp_config *c = m->cfg;
    if (sp_clamp_parse(sp_config_str(c, "model.use_clamp"), &p->clamp) != 0)
        sp_fatal("%s: model.use_clamp: unknown clamp '%s'", where, sp_config_str(c, "model.use_clamp"));

    char name[SP_MODEL_NAME_MAX];

    /* sprites: the reference's `prototypes` and `masks` properties in eval
     * mode (clamp_func of the parameters, zeros for the empty sprite) */
    const int C = m->C, K = m->K, K0 = m->n_sprites;
    const size_t hw = (size_t)m->h * m->w, HW = (size_t)m->H * m->W;
    p->sprites = sp_calloc((size_t)K * (C + 1) * hw, sizeof(float));
    const float *proto = sp_f32(sp_model_find(m, "prototype_params"));
    const float *mask = sp_f32(sp_model_find(m, "mask_params"));
    for (int k = 0; k < K; k++) {
        float *s = p->sprites + (size_t)k * (C + 1) * hw;
        if (k < K0) {
            memcpy(s, proto + (size_t)k * C * hw, sizeof(float) * C * hw);
            memcpy(s + (size_t)C * hw, mask + (size_t)k * hw, sizeof(float) * hw);
        }
        sp_clamp_forward(s, s, (size_t)(C + 1) * hw, p->clamp); /* clamp(0) = 0 for every kind */
    }
    if (m->M > 0) {
        p->bkgs = sp_malloc(sizeof(float) * (size_t)m->M * C * HW);
        sp_clamp_forward(p->bkgs, sp_f32(sp_model_find(m, "bkg_params")), (size_t)m->M * C * HW, p->clamp);
    }

    /* transformers: sprite transformers work at the sprite size when a
     * layer transformer follows, else at the image size (DTISprites.__init__);
     * both sample with model.padding_mode ('zeros'), backgrounds with
     * 'border' (REFERENCE-NOTES 6) */
    sp_padding pad;
    if (sp_padding_parse(sp_config_str(c, "model.padding_mode"), &pad) != 0)
        sp_fatal("%s: model.padding_mode: '%s'", where, sp_config_str(c, "model.padding_mode"));
    p->sh = m->has_layer_tsf ? m->h : m->H;
    p->sw = m->has_layer_tsf ? m->w : m->W;
    const char *seq = sp_config_str(c, "model.transformation_sequence");
    for (int l = 0; l < m->L; l++) {
        snprintf(name, sizeof name, "sprite_transformers.%d", l);
        tsf_load(&p->sprite_tsf[l], m, name, seq, "model.curriculum_learning", K, p->sh, p->sw, pad, p->clamp);
    }
    int cs, hs, ws;
    if (sp_tsf_seq_shape(&p->sprite_tsf[0].q, C + 1, m->h, m->w, &cs, &hs, &ws) != 0)
        sp_fatal("%s: model.transformation_sequence: cannot transform %dx%dx%d sprites", where, C, m->h, m->w);
    if (m->has_layer_tsf) {
        tsf_load(&p->layer_tsf, m, "layer_transformer", sp_config_str(c, "model.transformation_sequence_layer"),
                 "model.curriculum_learning_layer", m->L, m->H, m->W, pad, p->clamp);
        if (sp_tsf_seq_shape(&p->layer_tsf.q, cs, hs, ws, &cs, &hs, &ws) != 0)
            sp_fatal("%s: model.transformation_sequence_layer: cannot transform %dx%d layers", where, hs, ws);
    }
    if (cs != C + 1 || hs != m->H || ws != m->W)
        sp_fatal("%s: the transformations give %dx%dx%d layers, not the image size %dx%dx%d", where, cs - 1,
                 hs, ws, C, m->H, m->W);
    if (m->M > 0) {
        tsf_load(&p->bkg_tsf, m, "bkg_transformer", sp_config_str(c, "model.transformation_sequence_bkg"),
                 "model.curriculum_learning_bkg", m->M, m->H, m->W, SP_PAD_BORDER, p->clamp);
        if (sp_tsf_seq_shape(&p->bkg_tsf.q, C, m->H, m->W, &cs, &hs, &ws) != 0 || cs != C || hs != m->H ||
            ws != m->W)
            sp_fatal("%s: model.transformation_sequence_bkg does not keep the image size", where);
    }
    p->psprite = tsf_params(&p->sprite_tsf[0], 1);
    for (int l = 1; l < m->L; l++)
        if (tsf_params(&p->sprite_tsf[l], 1) != p->psprite) /* one sequence for every layer */
            sp_fatal("internal error: the sprite transformers of layers 0 and %d differ in size", l);
    p->player = tsf_params(&p->layer_tsf, m->has_layer_tsf);
    p->pbkg = tsf_params(&p->bkg_tsf, m->M > 0);
    p->has_occ = sp_config_bool(c, "model.pred_occlusion") && m->L > 1;
    if (p->has_occ)
        sp_head_mlp_load(&p->occ, m, "occ_predictor");
    return p;
}


/* An encoder of m's architecture, its weights zero. */
static sp_encoder *encoder_for(const sp_model *m)
{
    int pool_h, pool_w;
    sp_config_with_pool(m->cfg, &pool_h, &pool_w);
    return sp_encoder_new(sp_config_str(m->cfg, "model.encoder_name"), 0, m->C, m->H, m->W, pool_h, pool_w);
}

/* The encoder, built at its first use with the model's weights copied in
 * by name: sp-select --model makes candidates from features and never runs
 * it (ResNet-18's 45 MB copied for nothing was a third of that stage's
 * time on horse).  A predictor from sp_predictor_open has it already. */
static sp_encoder *encoder_of(sp_predictor *p)
{
    if (p->enc)
        return p->enc;
    const sp_model *m = p->m;
    if (m->skipped[0])
        sp_fatal("internal error: the encoder's weights were not read (sp_model_read_part)");
    p->enc = encoder_for(m);
    char name[SP_MODEL_NAME_MAX];
    for (int i = 0; i < p->enc->ntensors; i++) {
        const sp_enc_tensor *et = &p->enc->tensors[i];
        snprintf(name, sizeof name, "encoder.%s", et->name);
        const sp_tensor *t = sp_model_find(m, name);
        if (!t) /* sp_model_new made the model's tensors from the same config */
            sp_fatal("internal error: the model has no tensor %s", name);
        if (sp_encoder_infer_packs(p->enc, et)) /* only its packed form is read */
            sp_encoder_infer_pack(p->enc, et, t->data);
        else
            memcpy(sp_encoder_data(p->enc, et), t->data, et->size * sizeof(float));
    }
    sp_encoder_infer_packs_done(p->enc); /* a predictor's weights: never written again */
    return p->enc;
}

/* sp_predictor_open's reading: the encoder, built when its first tensor
 * comes, receives every "encoder." tensor's values: in its arena, or, for
 * a weight inference reads only packed, in a staging buffer from which it
 * is packed as soon as it is read (the next tensor reuses the buffer):
 * horse's ResNet-18 then touches one 9.4 MB buffer, not 38 MB of arena. */
typedef struct {
    sp_encoder *enc;
    int filled;
    float *staging;
    size_t staging_len;
    const sp_enc_tensor *pending; /* the tensor in staging */
} encoder_fill;

static float *encoder_dest(void *ctx, const sp_model *m, const char *name, size_t count)
{
    encoder_fill *f = ctx;
    if (!f->enc)
        f->enc = encoder_for(m);
    const sp_enc_tensor *t = sp_encoder_find(f->enc, name + strlen("encoder."));
    if (!t) /* sp_model_new made the model's tensors from the same config */
        sp_fatal("internal error: the encoder has no tensor %s", name);
    if (t->size != count)
        sp_fatal("internal error: encoder tensor %s has %zu values, the model %zu", name, t->size, count);
    f->filled++;
    if (!sp_encoder_infer_packs(f->enc, t))
        return sp_encoder_data(f->enc, t);
    if (count > f->staging_len) {
        free(f->staging);
        f->staging = sp_malloc(sizeof(float) * count);
        f->staging_len = count;
    }
    f->pending = t;
    return f->staging;
}

static void encoder_done(void *ctx, const char *name, const float *values, size_t count)
{
    encoder_fill *f = ctx;
    (void)name;
    (void)count;
    if (values == f->staging)
        sp_encoder_infer_pack(f->enc, f->pending, values);
}

/* The model at path with its encoder read as sp_predictor_open says;
 * encoder_only: nothing else read (sp_model_read_only_into) and nothing
 * else built. */
static sp_predictor *open_model(const char *path, sp_model **model, int encoder_only)
{
    encoder_fill f = {NULL, 0, NULL, 0, NULL};
    sp_model *m = encoder_only ? sp_model_read_only_into(path, "encoder.", encoder_dest, encoder_done, &f)
                               : sp_model_read_into(path, "encoder.", encoder_dest, encoder_done, &f);
    free(f.staging);
    /* every tensor of the model was in the file (the reader checks), and
     * the encoder's are exactly the model's "encoder." ones */
    if (!f.enc || f.filled != f.enc->ntensors)
        sp_fatal("internal error: %s: %d of the encoder's tensors read", path, f.filled);
    sp_encoder_infer_packs_done(f.enc);
    sp_predictor *p;
    if (encoder_only) { /* no sprites, no heads: m holds no values for them */
        p = sp_calloc(1, sizeof *p);
        p->m = m;
    } else {
        p = sp_predictor_new(m, path);
    }
    p->enc = f.enc;
    *model = m;
    return p;
}

sp_predictor *sp_predictor_open(const char *path, sp_model **model) { return open_model(path, model, 0); }

sp_predictor *sp_predictor_open_encoder(const char *path, sp_model **model) { return open_model(path, model, 1); }

void sp_predictor_free(sp_predictor *p)
{
    if (!p)
        return;
    sp_encoder_free(p->enc);
    for (int l = 0; l < p->m->L; l++)
        sp_tsf_heads_free(&p->sprite_tsf[l]);
    sp_tsf_heads_free(&p->layer_tsf);
    sp_tsf_heads_free(&p->bkg_tsf);
    for (int t = 0; t < p->nscratch; t++) {
        tmp_resize(&p->scratch[t], 0);
        free(p->scratch[t].blk);
    }
    free(p->scratch);
    free(p->sprites);
    free(p->bkgs);
    free(p);
}


/* Transformer t's parameters for head k over the whole batch [n, t->P] (the
 * regressors are GEMMs, whose rows may depend on the batch's width, so they
 * run on the whole batch as before, not per chunk); NULL for identity. */
static float *tsf_beta(const sp_tsf_heads *t, int k, const float *feat, int n)
{
    if (t->identity)
        return NULL;
    float *beta = sp_malloc(sizeof(float) * ((size_t)n * t->P + 1));
    sp_tsf_heads_beta(beta, t, k, feat, n);
    return beta;
}

/* Transformer t on x [cn, c, h, w] with its parameters' rows beta (NULL:
 * identity) into y; returns what holds the result (x itself for identity). */
static const float *tsf_chunk(float *y, const sp_tsf_heads *t, const float *beta, const float *x, int cn,
                              int c, int h, int w)
{
    if (!beta)
        return x;
    sp_tsf_seq_forward(y, NULL, x, beta, (size_t)cn, c, h, w, &t->q);
    return y;
}

/* Rows [i0, ...) of a batch's parameters [n, P] (NULL stays NULL: identity). */
static const float *beta_rows(const float *beta, int i0, int P)
{
    return beta ? beta + (size_t)i0 * P : NULL;
}

int sp_predictor_features(const sp_predictor *p) { return (int)p->m->features; }
const sp_model *sp_predictor_model(const sp_predictor *p) { return p->m; }
int sp_predictor_has_occlusion(const sp_predictor *p) { return p->has_occ; }

void sp_predict_features(sp_predictor *p, float *feat, const float *x, int n)
{
    if (n > 0)
        sp_encoder_infer(encoder_of(p), feat, x, n);
}

void sp_predict_forward(sp_predictor *p, float *layers, float *masks, float *bkgs, float *occ,
                        const float *x, int n)
{
    if (n <= 0)
        return;
    float *feat = sp_malloc(sizeof(float) * (size_t)n * sp_predictor_features(p));
    sp_predict_features(p, feat, x, n);
    sp_predict_from_features(p, layers, masks, bkgs, occ, feat, n);
    free(feat);
}

struct sp_predict_betas {
    int nbeta;
    float **bs; /* [L*K] sprite heads, [L] layer heads, [M] backgrounds; NULL: identity */
};

/* The regressors first, once each: a beta per (layer, sprite) for the
 * sprite transformers, per layer for the layer transformer, per background;
 * NULL for an identity. */
/* A predictor from sp_predictor_open_encoder runs the encoder alone (its
 * model read one part, sp_model_read_only_into). */
static void need_heads(const sp_predictor *p)
{
    if (!strcmp(p->m->skipped, SP_MODEL_ONLY_PART))
        sp_fatal("internal error: a predictor opened for the encoder alone has no regressors");
}

sp_predict_betas *sp_predict_betas_new(sp_predictor *p, const float *feat, int n, int with_bkgs)
{
    need_heads(p);
    const sp_model *m = p->m;
    const int K = m->K, L = m->L, M = m->M;
    sp_predict_betas *b = sp_malloc(sizeof *b);
    b->nbeta = L * K + L + M;
    float **bs = b->bs = sp_calloc((size_t)b->nbeta, sizeof *bs);
    if (n <= 0)
        return b;
#pragma omp parallel for schedule(dynamic, 1)
    for (int j = 0; j < b->nbeta; j++) {
        if (j < L * K)
            bs[j] = tsf_beta(&p->sprite_tsf[j / K], j % K, feat, n);
        else if (j < L * K + L)
            bs[j] = m->has_layer_tsf ? tsf_beta(&p->layer_tsf, j - L * K, feat, n) : NULL;
        else if (with_bkgs)
            bs[j] = tsf_beta(&p->bkg_tsf, j - L * K - L, feat, n);
    }
    return b;
}

void sp_predict_betas_free(sp_predict_betas *b)
{
    if (!b)
        return;
    for (int j = 0; j < b->nbeta; j++)
        free(b->bs[j]);
    free(b->bs);
    free(b);
}

/* Images per task of sp_predict_cands for cn images of nh heads:
 * SP_PREDICT_CHUNK, or fewer where that leaves under MIN_TASKS tasks.  Horse (one sprite, one
 * background) in sp-select --model's groups of 8 images was two tasks of
 * 8, one thread's: its candidates ran on one core.  From the images and
 * heads alone, never the thread count (the bits do not depend on it
 * anyway: the transformers are per image). */
#define MIN_TASKS 8
static int chunk_images(int cn, int nh)
{
    long long c = (long long)cn * nh / MIN_TASKS;
    return c < 1 ? 1 : c > SP_PREDICT_CHUNK ? SP_PREDICT_CHUNK : (int)c;
}

/* Threads [0, threads) get temporaries for tasks of up to cap images.
 * They are the predictor's: one parallel region at a time uses them. */
void sp_predict_threads_ready(sp_predictor *p, int threads, int cap)
{
    if (omp_in_parallel())
        sp_fatal("internal error: a predictor's threads readied inside a parallel region");
    if (cap < 1)
        cap = 1;
    if (p->nscratch < threads) {
        p->scratch = sp_realloc(p->scratch, sizeof *p->scratch * (size_t)threads);
        for (int t = p->nscratch; t < threads; t++)
            p->scratch[t] = (cands_tmp){0};
        p->nscratch = threads;
    }
    for (int t = 0; t < threads; t++)
        if (p->scratch[t].cap < cap)
            tmp_resize(&p->scratch[t], cap);
}

void *sp_predict_thread_block(sp_predictor *p, int thread, size_t bytes)
{
    if (thread < 0 || thread >= p->nscratch)
        sp_fatal("internal error: thread %d not readied for its block", thread);
    cands_tmp *t = &p->scratch[thread];
    if (t->blk_len < bytes) {
        free(t->blk);
        t->blk = sp_malloc(bytes);
        t->blk_len = bytes;
    }
    return t->blk;
}

/* Background b of tn images, its parameters' rows beta (NULL: identity),
 * into bk: the i-th image's at bk + (i M + b) C H W. */
static void bkg_core(sp_predictor *p, int b, const float *beta, int tn, float *bk, cands_tmp *t)
{
    const sp_model *m = p->m;
    const int C = m->C, M = m->M;
    const size_t bc = (size_t)C * m->H * m->W;
    if (!t->bin) {
        t->bin = sp_malloc(sizeof(float) * (size_t)t->cap * bc);
        t->bo = sp_malloc(sizeof(float) * (size_t)t->cap * bc);
    }
    for (int i = 0; i < tn; i++)
        memcpy(t->bin + (size_t)i * bc, p->bkgs + (size_t)b * bc, sizeof(float) * bc);
    const float *res = tsf_chunk(t->bo, &p->bkg_tsf, beta, t->bin, tn, C, m->H, m->W);
    for (int i = 0; i < tn; i++)
        memcpy(bk + ((size_t)i * M + b) * bc, res + (size_t)i * bc, sizeof(float) * bc);
}

/* Background b of images [a, a + tn) into bk: image i's at bk + (i M + b) C H W. */
static void bkg_task(sp_predictor *p, const sp_predict_betas *be, int b, int a, int tn, float *bk,
                     cands_tmp *t)
{
    const float *bb = be->bs[p->m->L * p->m->K + p->m->L + b];
    bkg_core(p, b, beta_rows(bb, a, p->bkg_tsf.P), tn, bk, t);
}

/* Head lk = (layer l, sprite k) of tn images, the sprite transformer's
 * parameters' rows bsp and the layer transformer's blp (NULL: identity):
 * into dst [tn, C+1, H, W] (colours then mask, as the transformers write
 * them), or when dst is NULL packed into layers / masks, the i-th image's
 * candidate at (i L + l) K + k. */
static void head_core(sp_predictor *p, int lk, const float *bsp, const float *blp, int tn, float *dst, float *layers,
                      float *masks, cands_tmp *t)
{
    const sp_model *m = p->m;
    const int C = m->C, K = m->K, L = m->L, l = lk / K, k = lk % K;
    const size_t hw = (size_t)m->h * m->w, HW = (size_t)m->H * m->W, shw = (size_t)p->sh * p->sw;
    const size_t sc = (size_t)(C + 1) * hw, tc = (size_t)(C + 1) * shw, lc = (size_t)(C + 1) * HW;
    if (!t->in) {
        t->in = sp_malloc(sizeof(float) * (size_t)t->cap * sc);
        t->ts = sp_malloc(sizeof(float) * (size_t)t->cap * tc);
    }
    if (m->has_layer_tsf && !dst && !t->lo)
        t->lo = sp_malloc(sizeof(float) * (size_t)t->cap * lc);
    for (int i = 0; i < tn; i++) /* the sprite, once per image (the transformers take a batch) */
        memcpy(t->in + (size_t)i * sc, p->sprites + (size_t)k * sc, sizeof(float) * sc);
    /* the last transformer writes straight into dst when there is one */
    const float *t1 =
        tsf_chunk(m->has_layer_tsf || !dst ? t->ts : dst, &p->sprite_tsf[l], bsp, t->in, tn, C + 1, m->h, m->w);
    const float *res = t1;
    if (m->has_layer_tsf)
        res = tsf_chunk(dst ? dst : t->lo, &p->layer_tsf, blp, t1, tn, C + 1, p->sh, p->sw);
    if (dst) {
        if (res != dst) /* identities all the way */
            memcpy(dst, res, sizeof(float) * tn * lc);
        return;
    }
    for (int i = 0; i < tn; i++) {
        size_t o = ((size_t)i * L + l) * K + k;
        memcpy(layers + o * C * HW, res + (size_t)i * lc, sizeof(float) * C * HW);
        memcpy(masks + o * HW, res + (size_t)i * lc + (size_t)C * HW, sizeof(float) * HW);
    }
}

/* Head lk of images [a, a + tn), as head_core. */
static void head_task(sp_predictor *p, const sp_predict_betas *be, int lk, int a, int tn, float *dst, float *layers,
                      float *masks, cands_tmp *t)
{
    const int K = p->m->K, L = p->m->L, l = lk / K;
    const float *bsp = beta_rows(be->bs[lk], a, p->sprite_tsf[l].P);
    const float *blp = p->m->has_layer_tsf ? beta_rows(be->bs[L * K + l], a, p->layer_tsf.P) : NULL;
    head_core(p, lk, bsp, blp, tn, dst, layers, masks, t);
}

void sp_predict_cands(sp_predictor *p, const sp_predict_betas *be, int i0, int cn, float *layers, float *masks,
                      float *bkgs)
{
    const sp_model *m = p->m;
    const int C = m->C, K = m->K, L = m->L, M = m->M;
    const size_t HW = (size_t)m->H * m->W;
    if (cn <= 0)
        return;
    /* (layer, sprite, chunk of images) tasks, then (background, chunk)
     * ones, in one loop, each writing its own slices of the outputs: the
     * result does not depend on the schedule, and the warps are per image,
     * so chunks (and ranges) give the whole batch's bits. */
    const int nb = M > 0 && bkgs ? M : 0, ch = chunk_images(cn, L * K + nb);
    const int nch = (cn + ch - 1) / ch, nsprite = L * K * nch;
    const int T = omp_get_max_threads();
    sp_predict_threads_ready(p, T, ch);
#pragma omp parallel num_threads(T)
    {
        cands_tmp *t = &p->scratch[omp_get_thread_num()];
#pragma omp for schedule(dynamic, 1)
        for (int task = 0; task < nsprite + nb * nch; task++) {
            const int r = task < nsprite ? task : task - nsprite, j0 = r % nch * ch;
            const int tn = cn - j0 < ch ? cn - j0 : ch;
            if (task >= nsprite) /* a background's chunk */
                bkg_task(p, be, r / nch, i0 + j0, tn, bkgs + (size_t)j0 * M * C * HW, t);
            else
                head_task(p, be, r / nch, i0 + j0, tn, NULL, layers + (size_t)j0 * L * K * C * HW,
                          masks + (size_t)j0 * L * K * HW, t);
        }
    }
}

void sp_predict_cands_chunk(sp_predictor *p, const sp_predict_betas *be, int i0, int cn, float *out,
                            size_t head_stride, float *bkgs, int thread)
{
    const sp_model *m = p->m;
    if (cn <= 0)
        return;
    if (thread < 0 || thread >= p->nscratch || cn > p->scratch[thread].cap)
        sp_fatal("internal error: %d images on thread %d, not readied for them", cn, thread);
    cands_tmp *t = &p->scratch[thread];
    for (int lk = 0; lk < m->L * m->K; lk++)
        head_task(p, be, lk, i0, cn, out + (size_t)lk * head_stride, NULL, NULL, t);
    if (bkgs)
        for (int b = 0; b < m->M; b++)
            bkg_task(p, be, b, i0, cn, bkgs, t);
}

void sp_predict_param_sizes(const sp_predictor *p, int *sprite, int *layer, int *bkg)
{
    need_heads(p);
    *sprite = p->psprite;
    *layer = p->player;
    *bkg = p->pbkg;
}

void sp_predict_betas_chosen(const sp_predictor *p, const sp_predict_betas *be, int i, const int32_t *choice,
                             int32_t bkg, float *params, float *bkg_params)
{
    const sp_model *m = p->m;
    const int K = m->K, L = m->L, ps = p->psprite, pl = p->player, pb = p->pbkg; /* per image: no lookups */
    for (int l = 0; l < L; l++) {
        float *o = params + (size_t)l * (ps + pl);
        if (ps)
            memcpy(o, be->bs[l * K + choice[l]] + (size_t)i * ps, sizeof(float) * ps);
        if (pl)
            memcpy(o + ps, be->bs[L * K + l] + (size_t)i * pl, sizeof(float) * pl);
    }
    if (pb && bkg_params)
        memcpy(bkg_params, be->bs[L * K + L + bkg] + (size_t)i * pb, sizeof(float) * pb);
}

void sp_predict_chosen(sp_predictor *p, const int32_t *choice, const float *params, const int32_t *bkg_choice,
                       const float *bkg_params, int n, float *sel_layers, float *sel_masks, float *sel_bkg)
{
    const sp_model *m = p->m;
    const int C = m->C, K = m->K, L = m->L, M = m->M;
    const size_t HW = (size_t)m->H * m->W, chw = (size_t)C * HW, lc = (size_t)(C + 1) * HW;
    if (n <= 0)
        return;
    int ps, pl, pb;
    sp_predict_param_sizes(p, &ps, &pl, &pb);
    const int nb = M > 0 && sel_bkg ? 1 : 0, per = L + nb;
    const int T = omp_get_max_threads();
    sp_predict_threads_ready(p, T, 1);
    /* one task per (image, layer) and per image's background: each warp is
     * per image (as in sp_predict_cands), so the bits are those of the
     * candidate made among the whole batch's */
#pragma omp parallel num_threads(T)
    {
        const int me = omp_get_thread_num();
        cands_tmp *t = &p->scratch[me];
        float *dst = sp_predict_thread_block(p, me, sizeof(float) * (lc > (size_t)M * chw ? lc : (size_t)M * chw));
#pragma omp for schedule(dynamic, 1)
        for (int task = 0; task < n * per; task++) {
            const int i = task / per, l = task % per;
            if (l == L) { /* the background: bkg_core writes background b of the one image at b C H W */
                const int b = bkg_choice[i];
                bkg_core(p, b, pb ? bkg_params + (size_t)i * pb : NULL, 1, dst, t);
                memcpy(sel_bkg + (size_t)i * chw, dst + (size_t)b * chw, sizeof(float) * chw);
                continue;
            }
            const float *pr = params + ((size_t)i * L + l) * (ps + pl);
            head_core(p, l * K + choice[(size_t)i * L + l], ps ? pr : NULL, pl ? pr + ps : NULL, 1, dst, NULL, NULL,
                      t);
            memcpy(sel_layers + ((size_t)i * L + l) * chw, dst, sizeof(float) * chw);
            memcpy(sel_masks + ((size_t)i * L + l) * HW, dst + chw, sizeof(float) * HW);
        }
    }
}

void sp_predict_occlusion(sp_predictor *p, float *occ, const float *feat, int n)
{
    /* predict_occlusion_grid: sigmoid of the predictor's outputs below the
     * diagonal (torch.tril_indices order: row by row), 1 - the transpose
     * above it, zero diagonal; without a predictor the fixed grid
     * tril(ones, -1) (layer i hides every layer j < i). */
    need_heads(p);
    const int L = p->m->L;
    if (n <= 0)
        return;
    const int np = L * (L - 1) / 2;
    float *o = p->has_occ ? sp_malloc(sizeof(float) * ((size_t)n * np + 1)) : NULL;
    if (p->has_occ)
        sp_mlp_forward(o, NULL, feat, (size_t)n, p->occ.nl, p->occ.l);
    for (int i = 0; i < n; i++) {
        float *g = occ + (size_t)i * L * L;
        memset(g, 0, sizeof(float) * L * L);
        int t = 0;
        for (int r = 1; r < L; r++)
            for (int c2 = 0; c2 < r; c2++, t++)
                g[r * L + c2] = p->has_occ ? 1.0f / (1.0f + expf(-o[(size_t)i * np + t])) : 1.0f;
        for (int r = 0; p->has_occ && r < L; r++)
            for (int c2 = r + 1; c2 < L; c2++)
                g[r * L + c2] = 1.0f - g[c2 * L + r];
    }
    free(o);
}

void sp_predict_from_features(sp_predictor *p, float *layers, float *masks, float *bkgs, float *occ,
                              const float *feat, int n)
{
    if (n <= 0)
        return;
    sp_predict_betas *b = sp_predict_betas_new(p, feat, n, bkgs != NULL);
    sp_predict_cands(p, b, 0, n, layers, masks, bkgs);
    sp_predict_betas_free(b);
    if (occ)
        sp_predict_occlusion(p, occ, feat, n);
}

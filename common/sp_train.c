/* The training step and the state between steps (see sp_train.h). */
#include "sp_train.h"

#include "sp_clamp.h"
#include "sp_compose.h"
#include "sp_encoder.h"
#include "sp_error.h"
#include "sp_loss.h"
#include "sp_mlp.h"
#include "sp_optim.h"
#include "sp_pack.h"
#include "sp_rng.h"
#include "sp_select.h"
#include "sp_tsf_seq.h"

#include <math.h>
#include <msgpack.h>
#ifdef _OPENMP
#include <omp.h>
#endif
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NOISE_SCALE 1e-4 /* the reference's NOISE_SCALE for reassigned sprites */

/* Purposes of the Philox streams (arbitrary distinct constants). */
enum { RNG_MASK_NOISE = 0x6d61736bu, RNG_REASSIGN = 0x72656173u, RNG_LAYER = 0x6c617972u };

typedef struct {
    char name[SP_MODEL_NAME_MAX];
    float *w, *g;
    size_t n;
    int group, times, used;
    int nonfinite; /* set by the last Adam step: a weight is NaN or Inf */
    float *m, *v;
    int64_t step;
} tparam;

struct sp_trainer {
    sp_model *m;
    uint64_t seed;
    sp_encoder *enc;
    sp_clamp clamp;
    int C, H, W, h, w, K, K0, L, M, F, cin, sh, sw;
    int noise, empty, frozen_until, greedy, greedy_iters, pred_occ, reassign;
    double inject, lambda_empty, threshold;
    sp_tsf_heads spr[64], lay, bkg;
    int has_lay, holders;
    sp_head_mlp occ;
    int np;
    tparam *p;
    int *pindex; /* model tensor -> parameter, -1 */
    /* optimiser settings */
    double lr[2], gamma[2], wd[2], beta1, beta2, eps;
    int64_t milestones[16];
    int nmilestones;
    int64_t check_interval;
    /* state */
    int64_t iteration, epoch, last_check, prop_count;
    double *prop_sum;
    int nclusters;
    const float *noise_override; /* [K, HW] uniforms, parity tests */
    int32_t *last_choice;
    float *last_recon; /* [n_recon, C, H, W] */
    int n_recon;
};

/* ---- curriculum ---------------------------------------------------------- */

int sp_curriculum_active(const sp_config *cfg, const char *key, int n, int64_t epoch)
{
    double ms[SP_TSF_SEQ_MAX];
    int nm = sp_config_list(cfg, key, ms, SP_TSF_SEQ_MAX);
    if (nm == 0 || n <= 1)
        return n;
    /* TransformationSequence: 1 + (milestones == 0) active at first, then
     * module next_act_idx when its milestone equals the step count */
    int act = 1;
    for (int i = 0; i < nm; i++)
        act += ms[i] == 0;
    for (int64_t cur = 1; cur <= epoch && act < n; cur++)
        while (act < n && act - 1 < nm && (int64_t)ms[act - 1] == cur)
            act++;
    return act < n ? act : n;
}

/* ---- parameters ---------------------------------------------------------- */

static int param_add(sp_trainer *t, const char *name, float *w, size_t n, int group)
{
    t->p = sp_realloc(t->p, sizeof *t->p * (size_t)(t->np + 1));
    tparam *p = &t->p[t->np];
    memset(p, 0, sizeof *p);
    snprintf(p->name, sizeof p->name, "%s", name);
    p->w = w, p->n = n, p->group = group, p->times = 1;
    p->g = sp_calloc(n, sizeof(float));
    p->m = sp_calloc(n, sizeof(float));
    p->v = sp_calloc(n, sizeof(float));
    return t->np++;
}

/* The parameter of model tensor i (made on first use). */
static int tensor_param(sp_trainer *t, int i, int group)
{
    if (t->pindex[i] < 0) {
        sp_tensor *x = t->m->tensors[i].t;
        t->pindex[i] = param_add(t, t->m->tensors[i].name, sp_f32(x), sp_tensor_numel(x), group);
    }
    return t->pindex[i];
}

static int model_param(sp_trainer *t, const char *name, int group)
{
    for (int i = 0; i < t->m->ntensors; i++)
        if (!strcmp(t->m->tensors[i].name, name))
            return tensor_param(t, i, group);
    sp_fatal("%s: no tensor %s", sp_prog(), name);
}

/* The optimiser parameters of a head's layers (group 1), in the order
 * weight, bias of each layer. */
static void head_params(sp_trainer *t, const sp_head_mlp *h)
{
    for (int i = 0; i < 2 * h->nl; i++)
        tensor_param(t, h->index[i], 1);
}

/* The parameter of layer i's weight (bias 0) or bias (1) of head h. */
static tparam *head_param(const sp_trainer *t, const sp_head_mlp *h, int i, int bias)
{
    return &t->p[t->pindex[h->index[2 * i + bias]]];
}

static void tsf_load(sp_trainer *t, sp_tsf_heads *o, const char *prefix, const char *seq, const char *cur_key,
                     int nheads, int h, int w, sp_padding pad)
{
    sp_tsf_heads_load(o, t->m, prefix, seq, cur_key, nheads, h, w, pad, t->clamp);
    if (o->identity)
        return;
    for (int k = 0; k < nheads; k++)
        for (int j = 0; j < o->full.n; j++)
            if (o->full.kind[j] != SP_TSF_IDENTITY)
                head_params(t, &o->heads[(size_t)k * o->full.n + j]);
}

/* Every transformer at the curriculum stage of the current epoch. */
static void stage_transformers(sp_trainer *t)
{
    for (int l = 0; l < t->L; l++)
        sp_tsf_heads_stage(&t->spr[l], t->m->cfg, t->epoch);
    sp_tsf_heads_stage(&t->lay, t->m->cfg, t->epoch);
    sp_tsf_heads_stage(&t->bkg, t->m->cfg, t->epoch);
}

/* ---- construction ------------------------------------------------------- */

static double cfg_float_or(const sp_config *c, const char *key, double dflt)
{
    return sp_config_is_set(c, key) ? sp_config_float(c, key) : dflt;
}

static void load_state(sp_trainer *t, const char *where);

sp_trainer *sp_trainer_new(sp_model *m, uint64_t seed, const char *where)
{
    sp_trainer *t = sp_calloc(1, sizeof *t);
    const sp_config *c = m->cfg;
    t->m = m, t->seed = seed;
    t->C = m->C, t->H = m->H, t->W = m->W, t->h = m->h, t->w = m->w;
    t->K = m->K, t->K0 = m->n_sprites, t->L = m->L, t->M = m->M, t->F = (int)m->features;
    t->has_lay = m->has_layer_tsf;
    t->inject = sp_config_float(c, "model.inject_noise");
    t->noise = t->inject != 0;
    t->cin = t->C + 1 + t->noise;
    t->empty = t->K > t->K0;
    t->lambda_empty = sp_config_float(c, "model.lambda_empty_sprite");
    t->frozen_until = (int)sp_config_int(c, "model.freeze_sprite");
    t->greedy = sp_config_bool(c, "model.estimate_minimum");
    t->greedy_iters = (int)sp_config_int(c, "model.greedy_algo_iter");
    t->pred_occ = sp_config_bool(c, "model.pred_occlusion") && t->L > 1;
    t->reassign = sp_config_bool(c, "model.reassign_cluster");
    t->threshold = cfg_float_or(c, "model.empty_cluster_threshold", 0.2 / t->K0);
    if (sp_clamp_parse(sp_config_str(c, "model.use_clamp"), &t->clamp) != 0)
        sp_fatal("%s: model.use_clamp: unknown clamp '%s'", where, sp_config_str(c, "model.use_clamp"));
    t->pindex = sp_malloc(sizeof(int) * (size_t)m->ntensors);
    for (int i = 0; i < m->ntensors; i++)
        t->pindex[i] = -1;

    /* group 0: the cluster parameters */
    model_param(t, "prototype_params", 0);
    model_param(t, "mask_params", 0);
    if (t->M > 0)
        model_param(t, "bkg_params", 0);

    /* the encoder: its own arena, its parameters in group 1 */
    int ph, pw;
    sp_config_with_pool(c, &ph, &pw);
    t->enc = sp_encoder_new(sp_config_str(c, "model.encoder_name"), 0, t->C, t->H, t->W, ph, pw);
    char name[SP_MODEL_NAME_MAX];
    int first_enc = t->np;
    for (int i = 0; i < t->enc->ntensors; i++) {
        sp_enc_tensor *et = &t->enc->tensors[i];
        snprintf(name, sizeof name, "encoder.%s", et->name);
        const sp_tensor *mt = sp_model_find(m, name);
        if (!mt)
            sp_fatal("%s: no tensor %s", where, name);
        memcpy(sp_encoder_data(t->enc, et), mt->data, et->size * sizeof(float));
        if (!et->is_buffer) {
            int j = param_add(t, name, t->enc->params + et->offset, et->size, 1);
            free(t->p[j].g);
            t->p[j].g = t->enc->grads + et->offset;
        }
    }
    int last_enc = t->np;

    /* transformers, in the reference's parameter order */
    sp_padding pad;
    if (sp_padding_parse(sp_config_str(c, "model.padding_mode"), &pad) != 0)
        sp_fatal("%s: model.padding_mode: '%s'", where, sp_config_str(c, "model.padding_mode"));
    t->sh = t->has_lay ? t->h : t->H;
    t->sw = t->has_lay ? t->w : t->W;
    int holders = 0;
    for (int l = 0; l < t->L; l++) {
        snprintf(name, sizeof name, "sprite_transformers.%d", l);
        tsf_load(t, &t->spr[l], name, sp_config_str(c, "model.transformation_sequence"),
                 "model.curriculum_learning", t->K, t->sh, t->sw, pad);
        holders += !t->spr[l].identity;
    }
    if (t->has_lay) {
        tsf_load(t, &t->lay, "layer_transformer", sp_config_str(c, "model.transformation_sequence_layer"),
                 "model.curriculum_learning_layer", t->L, t->H, t->W, pad);
        holders++;
    } else {
        tsf_load(t, &t->lay, "layer_transformer", "identity", "model.curriculum_learning_layer", t->L, t->H,
                 t->W, pad);
    }
    if (t->M > 0) {
        tsf_load(t, &t->bkg, "bkg_transformer", sp_config_str(c, "model.transformation_sequence_bkg"),
                 "model.curriculum_learning_bkg", t->M, t->H, t->W, SP_PAD_BORDER);
        holders += !t->bkg.identity;
    }
    if (t->pred_occ) {
        sp_head_mlp_load(&t->occ, t->m, "occ_predictor");
        head_params(t, &t->occ);
    }
    /* REFERENCE-NOTES 1: the shared encoder is in every transformer that
     * holds it, so Adam updates it once per holder */
    for (int i = first_enc; i < last_enc; i++)
        t->p[i].times = holders;
    t->holders = holders;
    if (holders == 0)
        for (int i = first_enc; i < last_enc; i++)
            t->p[i].group = -1; /* no gradient ever */

    /* optimiser and schedule */
    double base = sp_config_float(c, "training.optimizer.lr");
    double wd = sp_config_float(c, "training.optimizer.weight_decay");
    t->lr[0] = cfg_float_or(c, "training.optimizer.cluster.lr", base);
    t->lr[1] = cfg_float_or(c, "training.optimizer.transformer.lr", base);
    t->wd[0] = cfg_float_or(c, "training.optimizer.cluster.weight_decay", wd);
    t->wd[1] = cfg_float_or(c, "training.optimizer.transformer.weight_decay", wd);
    t->beta1 = 0.9, t->beta2 = 0.999, t->eps = 1e-8;
    double g[2];
    int ng = sp_config_list(c, "training.scheduler.gamma", g, 2);
    if (ng == 0)
        g[0] = sp_config_is_set(c, "training.scheduler.gamma") ? sp_config_float(c, "training.scheduler.gamma")
                                                               : 0.1;
    t->gamma[0] = g[0];
    t->gamma[1] = ng == 2 ? g[1] : g[0];
    double ms[16];
    t->nmilestones = sp_config_list(c, "training.scheduler.milestones", ms, 16);
    if (t->nmilestones == 0 && sp_config_is_set(c, "training.scheduler.milestones"))
        ms[0] = (double)sp_config_int(c, "training.scheduler.milestones"), t->nmilestones = 1;
    for (int i = 0; i < t->nmilestones; i++)
        t->milestones[i] = (int64_t)ms[i];
    t->check_interval = sp_config_is_set(c, "training.check_cluster_interval")
                            ? sp_config_int(c, "training.check_cluster_interval")
                            : 0;
    t->nclusters = t->greedy ? t->L * t->K : 0;
    if (!t->greedy) {
        int64_t n = t->M > 1 ? t->M : 1;
        for (int l = 0; l < t->L; l++)
            n *= t->K;
        t->nclusters = (int)n;
    }
    t->prop_sum = sp_calloc((size_t)t->nclusters, sizeof(double));
    load_state(t, where);
    stage_transformers(t);
    return t;
}


void sp_trainer_free(sp_trainer *t)
{
    if (!t)
        return;
    for (int i = 0; i < t->np; i++) {
        if (!(t->p[i].g >= t->enc->grads && t->p[i].g < t->enc->grads + t->enc->nparams))
            free(t->p[i].g);
        free(t->p[i].m);
        free(t->p[i].v);
    }
    free(t->p);
    free(t->pindex);
    for (int l = 0; l < t->L; l++)
        sp_tsf_heads_free(&t->spr[l]);
    sp_tsf_heads_free(&t->lay);
    sp_tsf_heads_free(&t->bkg);
    sp_encoder_free(t->enc);
    free(t->prop_sum);
    free(t->last_choice);
    free(t->last_recon);
    free(t);
}

int64_t sp_trainer_iteration(const sp_trainer *t) { return t->iteration; }
int64_t sp_trainer_epoch(const sp_trainer *t) { return t->epoch; }
int sp_trainer_frozen(const sp_trainer *t) { return t->frozen_until > 0 && t->epoch < t->frozen_until; }
double sp_trainer_lr(const sp_trainer *t, int g)
{
    return sp_multistep_lr(t->lr[g], t->gamma[g], t->milestones, t->nmilestones, t->epoch);
}

static tparam *param_named(const sp_trainer *t, const char *name)
{
    for (int i = 0; i < t->np; i++)
        if (!strcmp(t->p[i].name, name))
            return &t->p[i];
    return NULL;
}

const float *sp_trainer_grad(const sp_trainer *t, const char *name)
{
    tparam *p = param_named(t, name);
    return p && p->used ? p->g : NULL;
}

float *sp_trainer_param(sp_trainer *t, const char *name)
{
    tparam *p = param_named(t, name);
    return p ? p->w : NULL;
}

/* ---- forward and backward ----------------------------------------------- */

/* The MLP gradients of head k from dbeta [B, q.P]: parameter gradients
 * (overwritten, marked used) and dfeat [B, F] (overwritten). */
static void tsf_beta_backward(sp_trainer *t, float *dfeat, const sp_tsf_heads *o, int k, const float *dbeta,
                              const float *feat, int B)
{
    memset(dfeat, 0, sizeof(float) * (size_t)B * t->F);
    int off = 0;
    float *dy = sp_malloc(sizeof(float) * ((size_t)B * (o->P + 1)));
    float *dx = sp_malloc(sizeof(float) * (size_t)B * t->F);
    for (int j = 0; j < o->q.n; j++) {
        int P = sp_tsf_params(&o->q, o->q.kind[j]);
        if (!P)
            continue;
        const sp_head_mlp *h = &o->heads[(size_t)k * o->full.n + j];
        for (int i = 0; i < B; i++)
            memcpy(dy + (size_t)i * P, dbeta + (size_t)i * o->P + off, sizeof(float) * P);
        float *acts = sp_malloc(sizeof(float) * (sp_mlp_acts_size((size_t)B, h->nl, h->l) + 1));
        float *y = sp_malloc(sizeof(float) * (size_t)B * P);
        sp_mlp_forward(y, acts, feat, (size_t)B, h->nl, h->l);
        sp_mlp_grad gr[SP_HEAD_MLP_MAX];
        for (int i = 0; i < h->nl; i++) {
            gr[i].dw = head_param(t, h, i, 0)->g, gr[i].db = head_param(t, h, i, 1)->g;
            head_param(t, h, i, 0)->used = head_param(t, h, i, 1)->used = 1;
        }
        sp_mlp_backward(dx, gr, dy, feat, acts, (size_t)B, h->nl, h->l);
        for (size_t i = 0; i < (size_t)B * t->F; i++)
            dfeat[i] += dx[i];
        free(y);
        free(acts);
        off += P;
    }
    free(dx);
    free(dy);
}

/* Everything one forward keeps for its backward. */
typedef struct {
    int B;
    float *feat;     /* [B, F] */
    float *sprites;  /* [K, cin, h, w] the transformers' input */
    float *ts;       /* [L*K][B, cin, sh, sw] sprite-transformer outputs (layer tsf only) */
    float *out;      /* [L*K][B, cin, H, W] transformed layers, raw */
    float *bspr;     /* [L*K][B, Ps] */
    float *blay;     /* [L][B, Pl] */
    float *bin;      /* [M, C, H, W] clamped backgrounds */
    float *bout;     /* [M][B, C, H, W] */
    float *bbkg;     /* [M][B, Pb] */
    float *noise;    /* [K, HW]: 2a u - a */
    float *masks;    /* [L*K][B, HW] final masks (noise, clamp) */
    float *occ;      /* [B, L, L] (NULL: fixed order) */
    float *logits;   /* [B, L(L-1)/2] */
    int32_t *choice; /* [B, L] */
    int32_t *bchoice;/* [B] */
    float *sel_l, *sel_m, *sel_b; /* [L,B,C,HW], [L,B,HW], [B,C,HW] or NULL */
    float *recon;    /* [B, C, HW] */
} fwd;

static void fwd_free(fwd *f)
{
    free(f->feat), free(f->sprites), free(f->ts), free(f->out), free(f->bspr), free(f->blay);
    free(f->bin), free(f->bout), free(f->bbkg), free(f->noise), free(f->masks), free(f->occ);
    free(f->logits), free(f->choice), free(f->bchoice), free(f->sel_l), free(f->sel_m), free(f->sel_b);
    free(f->recon);
}

static int omp_threads(void)
{
#ifdef _OPENMP
    return omp_get_max_threads();
#else
    return 1;
#endif
}

static void forward(sp_trainer *t, fwd *f, const float *x, int B)
{
    const int C = t->C, K = t->K, L = t->L, M = t->M, cin = t->cin;
    const size_t hw = (size_t)t->h * t->w, HW = (size_t)t->H * t->W, shw = (size_t)t->sh * t->sw;
    memset(f, 0, sizeof *f);
    f->B = B;
    f->feat = sp_malloc(sizeof(float) * (size_t)B * t->F);
    sp_encoder_forward(t->enc, f->feat, x, B, 1);

    /* the sprites: clamp(prototypes), masks clamped unless noise is
     * injected (then clamped after it), a canvas of ones (zeros for the
     * empty sprite), zeros for the empty sprite */
    const float *proto = t->p[0].w, *mask = t->p[1].w;
    f->sprites = sp_calloc((size_t)K * cin * hw, sizeof(float));
    for (int k = 0; k < t->K0; k++) {
        float *s = f->sprites + (size_t)k * cin * hw;
        sp_clamp_forward(s, proto + (size_t)k * C * hw, (size_t)C * hw, t->clamp);
        if (t->noise) {
            memcpy(s + (size_t)C * hw, mask + (size_t)k * hw, sizeof(float) * hw);
            for (size_t i = 0; i < hw; i++)
                s[(size_t)(C + 1) * hw + i] = 1.0f;
        } else {
            sp_clamp_forward(s + (size_t)C * hw, mask + (size_t)k * hw, hw, t->clamp);
        }
    }

    for (int l = 0; l < L; l++) {
        const sp_tsf_heads *o = &t->spr[l];
        if (!sp_tsf_heads_is_copy(o)) {
            if (!f->bspr)
                f->bspr = sp_malloc(sizeof(float) * ((size_t)L * K * B * o->P + 1));
            for (int k = 0; k < K; k++)
                sp_tsf_heads_beta(f->bspr + ((size_t)l * K + k) * B * o->P, o, k, f->feat, B);
        }
    }
    if (t->has_lay && !sp_tsf_heads_is_copy(&t->lay)) {
        f->blay = sp_malloc(sizeof(float) * ((size_t)L * B * t->lay.P + 1));
        for (int l = 0; l < L; l++)
            sp_tsf_heads_beta(f->blay + (size_t)l * B * t->lay.P, &t->lay, l, f->feat, B);
    }
    const int Ps = t->spr[0].P, Pl = t->lay.P;
    if (t->has_lay)
        f->ts = sp_malloc(sizeof(float) * (size_t)L * K * B * cin * shw);
    f->out = sp_malloc(sizeof(float) * (size_t)L * K * B * cin * HW);
    int threads = omp_threads();
#pragma omp parallel for schedule(dynamic, 1) if (L * K >= threads)
    for (int lk = 0; lk < L * K; lk++) {
        const int l = lk / K, k = lk % K;
        const size_t sc = (size_t)cin * hw;
        float *in = sp_malloc(sizeof(float) * (size_t)B * sc);
        for (int i = 0; i < B; i++)
            memcpy(in + (size_t)i * sc, f->sprites + (size_t)k * sc, sizeof(float) * sc);
        float *dst = t->has_lay ? f->ts + (size_t)lk * B * cin * shw : f->out + (size_t)lk * B * cin * HW;
        if (sp_tsf_heads_is_copy(&t->spr[l]))
            memcpy(dst, in, sizeof(float) * (size_t)B * sc);
        else
            sp_tsf_seq_forward(dst, NULL, in, f->bspr + (size_t)lk * B * Ps, (size_t)B, cin, t->h, t->w,
                               &t->spr[l].q);
        if (t->has_lay) {
            float *o = f->out + (size_t)lk * B * cin * HW;
            if (sp_tsf_heads_is_copy(&t->lay))
                memcpy(o, dst, sizeof(float) * (size_t)B * cin * HW);
            else
                sp_tsf_seq_forward(o, NULL, dst, f->blay + (size_t)l * B * Pl, (size_t)B, cin, t->sh, t->sw,
                                   &t->lay.q);
        }
        free(in);
    }

    if (M > 0) {
        const sp_tsf_heads *o = &t->bkg;
        f->bin = sp_malloc(sizeof(float) * (size_t)M * C * HW);
        sp_clamp_forward(f->bin, t->p[2].w, (size_t)M * C * HW, t->clamp);
        f->bout = sp_malloc(sizeof(float) * (size_t)M * B * C * HW);
        if (!sp_tsf_heads_is_copy(o))
            f->bbkg = sp_malloc(sizeof(float) * ((size_t)M * B * o->P + 1));
        for (int b = 0; b < M; b++) {
            float *in = sp_malloc(sizeof(float) * (size_t)B * C * HW);
            for (int i = 0; i < B; i++)
                memcpy(in + (size_t)i * C * HW, f->bin + (size_t)b * C * HW, sizeof(float) * C * HW);
            float *dst = f->bout + (size_t)b * B * C * HW;
            if (sp_tsf_heads_is_copy(o)) {
                memcpy(dst, in, sizeof(float) * (size_t)B * C * HW);
            } else {
                float *beta = f->bbkg + (size_t)b * B * o->P;
                sp_tsf_heads_beta(beta, o, b, f->feat, B);
                sp_tsf_seq_forward(dst, NULL, in, beta, (size_t)B, C, t->H, t->W, &o->q);
            }
            free(in);
        }
    }

    /* masks: noise on the canvas channel, then the clamp */
    f->masks = sp_malloc(sizeof(float) * (size_t)L * K * B * HW);
    if (t->noise) {
        f->noise = sp_malloc(sizeof(float) * (size_t)K * HW);
        uint64_t base = (uint64_t)t->iteration * (uint64_t)K * HW;
        if (t->noise_override)
            memcpy(f->noise, t->noise_override, sizeof(float) * (size_t)K * HW);
        else
            sp_philox_uniform_range(f->noise, (size_t)K * HW, t->seed, RNG_MASK_NOISE, base);
        for (size_t i = 0; i < (size_t)K * HW; i++)
            f->noise[i] = (float)(2 * t->inject) * f->noise[i] - (float)t->inject;
    }
    /* parallel: L K B planes of H W, a serial loop here was ~5% of a tetro step */
#pragma omp parallel for schedule(static)
    for (int lki = 0; lki < L * K * B; lki++) {
        const int lk = lki / B, i = lki % B;
        const float *o = f->out + ((size_t)lk * B + i) * cin * HW;
        float *dm = f->masks + ((size_t)lk * B + i) * HW;
        if (t->noise) {
            const float *nz = f->noise + (size_t)(lk % K) * HW;
            for (size_t p = 0; p < HW; p++)
                dm[p] = sp_clamp1(o[(size_t)C * HW + p] + o[(size_t)(C + 1) * HW + p] * nz[p], t->clamp);
        } else {
            memcpy(dm, o + (size_t)C * HW, sizeof(float) * HW);
        }
    }

    /* occlusion */
    if (t->pred_occ) {
        const int np = L * (L - 1) / 2;
        f->logits = sp_malloc(sizeof(float) * (size_t)B * np);
        sp_mlp_forward(f->logits, NULL, f->feat, (size_t)B, t->occ.nl, t->occ.l);
        f->occ = sp_malloc(sizeof(float) * (size_t)B * L * L);
        sp_occlusion_grid_forward(f->occ, f->logits, (size_t)B, (size_t)L);
    }

    /* selection, image by image (candidates regrouped per image) */
    f->choice = sp_malloc(sizeof(int32_t) * (size_t)B * L);
    f->bchoice = sp_calloc((size_t)B, sizeof(int32_t));
    const int frozen = sp_trainer_frozen(t);
    const int Ks = t->greedy && t->empty && frozen ? K - 1 : K;
    sp_select_dims d = {L, Ks, M, C, HW, t->empty && Ks == K, Ks == K ? t->lambda_empty : 0,
                        t->greedy_iters, 0, 0};
    if (!d.empty)
        d.lambda_empty = 0;
#pragma omp parallel for schedule(dynamic, 1)
    for (int i = 0; i < B; i++) {
        float *li = sp_malloc(sizeof(float) * (size_t)L * Ks * C * HW);
        float *mi = sp_malloc(sizeof(float) * (size_t)L * Ks * HW);
        float *bi = M > 0 ? sp_malloc(sizeof(float) * (size_t)M * C * HW) : NULL;
        for (int l = 0; l < L; l++)
            for (int k = 0; k < Ks; k++) {
                size_t lk = (size_t)l * K + k, o = (size_t)l * Ks + k;
                memcpy(li + o * C * HW, f->out + (lk * B + i) * cin * HW, sizeof(float) * C * HW);
                memcpy(mi + o * HW, f->masks + (lk * B + i) * HW, sizeof(float) * HW);
            }
        for (int b = 0; b < M; b++)
            memcpy(bi + (size_t)b * C * HW, f->bout + ((size_t)b * B + i) * C * HW, sizeof(float) * C * HW);
        double *work = sp_malloc(sizeof(double) * sp_select_work_size(&d));
        const float *occ = f->occ ? f->occ + (size_t)i * L * L : NULL;
        const float *img = x + (size_t)i * C * HW;
        if (t->greedy)
            sp_select_greedy(f->choice + (size_t)i * L, f->bchoice + i, li, mi, bi, occ, img, &d, work);
        else
            sp_select_exhaustive(f->choice + (size_t)i * L, f->bchoice + i, li, mi, bi, occ, img, &d, work);
        free(work);
        free(bi);
        free(mi);
        free(li);
    }

    /* the selected composition */
    f->sel_l = sp_malloc(sizeof(float) * (size_t)L * B * C * HW);
    f->sel_m = sp_malloc(sizeof(float) * (size_t)L * B * HW);
    for (int l = 0; l < L; l++)
        for (int i = 0; i < B; i++) {
            size_t lk = (size_t)l * K + f->choice[(size_t)i * L + l];
            memcpy(f->sel_l + ((size_t)l * B + i) * C * HW, f->out + (lk * B + i) * cin * HW,
                   sizeof(float) * C * HW);
            memcpy(f->sel_m + ((size_t)l * B + i) * HW, f->masks + (lk * B + i) * HW, sizeof(float) * HW);
        }
    if (M > 0) {
        f->sel_b = sp_malloc(sizeof(float) * (size_t)B * C * HW);
        for (int i = 0; i < B; i++)
            memcpy(f->sel_b + (size_t)i * C * HW, f->bout + ((size_t)f->bchoice[i] * B + i) * C * HW,
                   sizeof(float) * C * HW);
    }
    f->recon = sp_malloc(sizeof(float) * (size_t)B * C * HW);
    sp_compose_forward(f->recon, f->sel_l, f->sel_m, f->sel_b, f->occ, (size_t)L, (size_t)B, (size_t)C, HW);
}

static void backward(sp_trainer *t, fwd *f, const float *x)
{
    const int B = f->B, C = t->C, K = t->K, L = t->L, M = t->M, cin = t->cin, F = t->F;
    const size_t hw = (size_t)t->h * t->w, HW = (size_t)t->H * t->W, shw = (size_t)t->sh * t->sw;
    const size_t D = (size_t)C * HW;
    for (int i = 0; i < t->np; i++)
        t->p[i].used = 0;

    float *drecon = sp_malloc(sizeof(float) * (size_t)B * D);
    sp_mse_backward(drecon, NULL, NULL, 1.0f, f->recon, x, (size_t)B, D);
    float *dsel_l = sp_malloc(sizeof(float) * (size_t)L * B * D);
    float *dsel_m = sp_malloc(sizeof(float) * (size_t)L * B * HW);
    float *dbg = M > 0 ? sp_malloc(sizeof(float) * (size_t)B * D) : NULL;
    float *docc = f->occ ? sp_malloc(sizeof(float) * (size_t)B * L * L) : NULL;
    sp_compose_backward(dsel_l, dsel_m, dbg, docc, drecon, f->sel_l, f->sel_m, f->sel_b, f->occ, (size_t)L,
                        (size_t)B, (size_t)C, HW);
    free(drecon);

    /* every (layer, sprite): the images that chose it */
    const int Ps = t->spr[0].P, Pl = t->lay.P;
    float *dbspr = f->bspr ? sp_calloc((size_t)L * K * B * Ps + 1, sizeof(float)) : NULL;
    float *dblay_part = f->blay ? sp_calloc((size_t)L * K * B * Pl + 1, sizeof(float)) : NULL;
    float *dspr_part = sp_calloc((size_t)L * K * cin * hw, sizeof(float));
    const int frozen = sp_trainer_frozen(t);
    int threads = omp_threads();
#pragma omp parallel for schedule(dynamic, 1) if (L * K >= threads)
    for (int lk = 0; lk < L * K; lk++) {
        const int l = lk / K, k = lk % K;
        int nS = 0;
        int *S = sp_malloc(sizeof(int) * (size_t)B);
        for (int i = 0; i < B; i++)
            if (f->choice[(size_t)i * L + l] == k)
                S[nS++] = i;
        if (nS == 0) {
            free(S);
            continue;
        }
        /* gradient of the raw transformer output [nS, cin, H, W] */
        float *dy = sp_calloc((size_t)nS * cin * HW, sizeof(float));
        for (int s = 0; s < nS; s++) {
            const int i = S[s];
            float *g = dy + (size_t)s * cin * HW;
            const float *o = f->out + ((size_t)lk * B + i) * cin * HW;
            memcpy(g, dsel_l + ((size_t)l * B + i) * D, sizeof(float) * D);
            const float *dm = dsel_m + ((size_t)l * B + i) * HW;
            if (t->noise) {
                const float *nz = f->noise + (size_t)k * HW;
                for (size_t p = 0; p < HW; p++) {
                    float pre = o[(size_t)C * HW + p] + o[(size_t)(C + 1) * HW + p] * nz[p];
                    float gp = dm[p] * sp_clamp1_grad(pre, t->clamp);
                    g[(size_t)C * HW + p] = gp;
                    g[(size_t)(C + 1) * HW + p] = gp * nz[p];
                }
            } else {
                memcpy(g + (size_t)C * HW, dm, sizeof(float) * HW);
            }
        }
        /* the inputs again, for the images of S */
        const size_t sc = (size_t)cin * hw;
        float *in = sp_malloc(sizeof(float) * (size_t)nS * sc);
        for (int s = 0; s < nS; s++)
            memcpy(in + (size_t)s * sc, f->sprites + (size_t)k * sc, sizeof(float) * sc);
        float *dts = dy;
        if (t->has_lay) {
            dts = sp_malloc(sizeof(float) * (size_t)nS * cin * shw);
            if (sp_tsf_heads_is_copy(&t->lay)) {
                memcpy(dts, dy, sizeof(float) * (size_t)nS * cin * shw);
            } else {
                float *ts = sp_malloc(sizeof(float) * (size_t)nS * cin * shw);
                float *beta = sp_malloc(sizeof(float) * (size_t)nS * Pl);
                float *dbeta = sp_malloc(sizeof(float) * (size_t)nS * Pl);
                for (int s = 0; s < nS; s++) {
                    memcpy(ts + (size_t)s * cin * shw, f->ts + ((size_t)lk * B + S[s]) * cin * shw,
                           sizeof(float) * cin * shw);
                    memcpy(beta + (size_t)s * Pl, f->blay + ((size_t)l * B + S[s]) * Pl, sizeof(float) * Pl);
                }
                sp_tsf_seq_backward(dts, dbeta, dy, ts, beta, NULL, (size_t)nS, cin, t->sh, t->sw, &t->lay.q);
                for (int s = 0; s < nS; s++)
                    memcpy(dblay_part + ((size_t)lk * B + S[s]) * Pl, dbeta + (size_t)s * Pl, sizeof(float) * Pl);
                free(dbeta);
                free(beta);
                free(ts);
            }
        }
        float *din = sp_malloc(sizeof(float) * (size_t)nS * sc);
        if (sp_tsf_heads_is_copy(&t->spr[l])) {
            memcpy(din, dts, sizeof(float) * (size_t)nS * sc);
        } else {
            float *beta = sp_malloc(sizeof(float) * (size_t)nS * Ps);
            float *dbeta = sp_malloc(sizeof(float) * (size_t)nS * Ps);
            for (int s = 0; s < nS; s++)
                memcpy(beta + (size_t)s * Ps, f->bspr + ((size_t)lk * B + S[s]) * Ps, sizeof(float) * Ps);
            sp_tsf_seq_backward(frozen ? NULL : din, dbeta, dts, in, beta, NULL, (size_t)nS, cin, t->h, t->w,
                                &t->spr[l].q);
            for (int s = 0; s < nS; s++)
                memcpy(dbspr + ((size_t)lk * B + S[s]) * Ps, dbeta + (size_t)s * Ps, sizeof(float) * Ps);
            free(dbeta);
            free(beta);
        }
        if (!frozen) {
            float *acc = dspr_part + (size_t)lk * sc;
            for (int s = 0; s < nS; s++)
                for (size_t j = 0; j < sc; j++)
                    acc[j] += din[(size_t)s * sc + j];
        }
        free(din);
        if (dts != dy)
            free(dts);
        free(in);
        free(dy);
        free(S);
    }

    /* the networks' gradients, summed into dfeat in a fixed order */
    float *dfeat = sp_calloc((size_t)B * F, sizeof(float));
    float *part = sp_malloc(sizeof(float) * (size_t)B * F);
    for (int l = 0; l < L; l++) {
        if (sp_tsf_heads_is_copy(&t->spr[l]))
            continue;
        for (int k = 0; k < K; k++) {
            tsf_beta_backward(t, part, &t->spr[l], k, dbspr + ((size_t)l * K + k) * B * Ps, f->feat, B);
            for (size_t i = 0; i < (size_t)B * F; i++)
                dfeat[i] += part[i];
        }
    }
    if (f->blay) {
        float *db = sp_malloc(sizeof(float) * ((size_t)B * Pl + 1));
        for (int l = 0; l < L; l++) {
            memset(db, 0, sizeof(float) * (size_t)B * Pl);
            for (int k = 0; k < K; k++)
                for (size_t j = 0; j < (size_t)B * Pl; j++)
                    db[j] += dblay_part[((size_t)l * K + k) * B * Pl + j];
            tsf_beta_backward(t, part, &t->lay, l, db, f->feat, B);
            for (size_t i = 0; i < (size_t)B * F; i++)
                dfeat[i] += part[i];
        }
        free(db);
    }

    /* backgrounds */
    if (M > 0) {
        const sp_tsf_heads *o = &t->bkg;
        float *dbin = sp_calloc((size_t)M * D, sizeof(float));
        float *dbeta = f->bbkg ? sp_malloc(sizeof(float) * ((size_t)B * o->P + 1)) : NULL;
        for (int b = 0; b < M; b++) {
            float *dy = sp_calloc((size_t)B * D, sizeof(float));
            for (int i = 0; i < B; i++)
                if (f->bchoice[i] == b)
                    memcpy(dy + (size_t)i * D, dbg + (size_t)i * D, sizeof(float) * D);
            float *din = sp_malloc(sizeof(float) * (size_t)B * D);
            if (sp_tsf_heads_is_copy(o)) {
                memcpy(din, dy, sizeof(float) * (size_t)B * D);
            } else {
                float *in = sp_malloc(sizeof(float) * (size_t)B * D);
                for (int i = 0; i < B; i++)
                    memcpy(in + (size_t)i * D, f->bin + (size_t)b * D, sizeof(float) * D);
                sp_tsf_seq_backward(din, dbeta, dy, in, f->bbkg + (size_t)b * B * o->P, NULL, (size_t)B, C, t->H,
                                    t->W, &o->q);
                free(in);
                tsf_beta_backward(t, part, o, b, dbeta, f->feat, B);
                for (size_t i = 0; i < (size_t)B * F; i++)
                    dfeat[i] += part[i];
            }
            for (int i = 0; i < B; i++)
                for (size_t j = 0; j < D; j++)
                    dbin[(size_t)b * D + j] += din[(size_t)i * D + j];
            free(din);
            free(dy);
        }
        sp_clamp_backward(t->p[2].g, dbin, t->p[2].w, (size_t)M * D, t->clamp);
        t->p[2].used = 1;
        free(dbeta);
        free(dbin);
    }

    /* occlusion */
    if (docc) {
        const int np = L * (L - 1) / 2;
        float *dlog = sp_malloc(sizeof(float) * (size_t)B * np);
        sp_occlusion_grid_backward(dlog, docc, f->logits, (size_t)B, (size_t)L);
        float *acts = sp_malloc(sizeof(float) * (sp_mlp_acts_size((size_t)B, t->occ.nl, t->occ.l) + 1));
        float *y = sp_malloc(sizeof(float) * (size_t)B * np);
        sp_mlp_forward(y, acts, f->feat, (size_t)B, t->occ.nl, t->occ.l);
        sp_mlp_grad gr[SP_HEAD_MLP_MAX];
        for (int i = 0; i < t->occ.nl; i++) {
            gr[i].dw = head_param(t, &t->occ, i, 0)->g, gr[i].db = head_param(t, &t->occ, i, 1)->g;
            head_param(t, &t->occ, i, 0)->used = head_param(t, &t->occ, i, 1)->used = 1;
        }
        sp_mlp_backward(part, gr, dlog, f->feat, acts, (size_t)B, t->occ.nl, t->occ.l);
        for (size_t i = 0; i < (size_t)B * F; i++)
            dfeat[i] += part[i];
        free(y);
        free(acts);
        free(dlog);
    }

    /* the encoder (held by at least one transformer) */
    if (t->holders > 0) {
        sp_encoder_backward(t->enc, NULL, dfeat);
        for (int i = 0; i < t->np; i++)
            if (t->p[i].g >= t->enc->grads && t->p[i].g < t->enc->grads + t->enc->nparams)
                t->p[i].used = 1;
    }

    /* sprites and masks (not while frozen: the reference detaches them) */
    if (!frozen) {
        const size_t sc = (size_t)cin * hw;
        float *ds = sp_calloc((size_t)t->K0 * sc, sizeof(float));
        for (int lk = 0; lk < L * K; lk++)
            if (lk % K < t->K0)
                for (size_t j = 0; j < sc; j++)
                    ds[(size_t)(lk % K) * sc + j] += dspr_part[(size_t)lk * sc + j];
        for (int k = 0; k < t->K0; k++) {
            const float *g = ds + (size_t)k * sc;
            sp_clamp_backward(t->p[0].g + (size_t)k * C * hw, g, t->p[0].w + (size_t)k * C * hw, (size_t)C * hw,
                              t->clamp);
            if (t->noise)
                memcpy(t->p[1].g + (size_t)k * hw, g + (size_t)C * hw, sizeof(float) * hw);
            else
                sp_clamp_backward(t->p[1].g + (size_t)k * hw, g + (size_t)C * hw, t->p[1].w + (size_t)k * hw, hw,
                                  t->clamp);
        }
        t->p[0].used = t->p[1].used = 1;
        free(ds);
    }
    free(part);
    free(dfeat);
    free(dspr_part);
    free(dblay_part);
    free(dbspr);
    free(docc);
    free(dbg);
    free(dsel_m);
    free(dsel_l);
}

/* The forward pass on x into f (freed by the caller) and its mean squared
 * error. */
static float forward_loss(sp_trainer *t, fwd *f, const float *x, int B)
{
    forward(t, f, x, B);
    float loss;
    float *dist = sp_malloc(sizeof(float) * (size_t)B);
    sp_mse_forward(dist, &loss, f->recon, x, (size_t)B, (size_t)t->C * t->H * t->W);
    free(dist);
    return loss;
}

double sp_trainer_loss(sp_trainer *t, const float *x, int B, int grads)
{
    fwd f;
    float loss = forward_loss(t, &f, x, B);
    if (grads)
        backward(t, &f, x);
    fwd_free(&f);
    return loss;
}

/* Proportions of this batch (the trainer's prop_clus), added to the sums. */
static void add_proportions(sp_trainer *t, const fwd *f)
{
    const int B = f->B, L = t->L, K = t->K;
    for (int i = 0; i < B; i++) {
        if (t->greedy) {
            for (int l = 0; l < L; l++)
                t->prop_sum[l * K + f->choice[(size_t)i * L + l]] += 1.0 / B;
        } else {
            int64_t c = f->bchoice[i];
            for (int l = 0; l < L; l++)
                c = c * K + f->choice[(size_t)i * L + l];
            t->prop_sum[c] += 1.0 / B;
        }
    }
    t->prop_count++;
}

/* One Adam step of parameter p (when it has a gradient: torch's Adam skips
 * one without), and whether a weight became NaN or Inf. */
static void adam_param(const sp_trainer *t, tparam *p, const double lr[2])
{
    p->nonfinite = 0;
    if (!p->used || p->group < 0)
        return;
    sp_adam_step_repeated(p->w, p->m, p->v, p->g, p->n, p->step + 1, p->times, lr[p->group], t->beta1, t->beta2,
                          t->eps, t->wd[p->group]);
    p->step += p->times;
    for (size_t j = 0; j < p->n; j++)
        if (!isfinite(p->w[j])) {
            p->nonfinite = 1;
            break;
        }
}

/* Every parameter's step.  The large ones split their elements over the
 * threads (inside sp_adam_step_repeated); the many small ones (a tetro
 * model has none over SP_ADAM_PARALLEL_MIN) go one per thread, where a serial loop
 * left the other cores waiting.  Element-wise, so the result does not
 * depend on the split. */
static void adam_all(sp_trainer *t)
{
    const double lr[2] = {sp_trainer_lr(t, 0), sp_trainer_lr(t, 1)};
    for (int i = 0; i < t->np; i++)
        if (t->p[i].n > SP_ADAM_PARALLEL_MIN)
            adam_param(t, &t->p[i], lr);
#pragma omp parallel for schedule(dynamic, 1)
    for (int i = 0; i < t->np; i++)
        if (t->p[i].n <= SP_ADAM_PARALLEL_MIN)
            adam_param(t, &t->p[i], lr);
}

double sp_trainer_step(sp_trainer *t, const float *x, int B, const char **bad)
{
    if (bad)
        *bad = NULL;
    fwd f;
    float loss = forward_loss(t, &f, x, B);
    if (!isfinite(loss)) {
        fwd_free(&f);
        return loss; /* the caller stops; nothing is updated */
    }
    backward(t, &f, x);
    adam_all(t);
    for (int i = 0; bad && !*bad && i < t->np; i++)
        if (t->p[i].nonfinite)
            *bad = t->p[i].name; /* the first in parameter order, as a serial loop finds */
    add_proportions(t, &f);
    t->last_choice = sp_realloc(t->last_choice, sizeof(int32_t) * (size_t)B * t->L);
    memcpy(t->last_choice, f.choice, sizeof(int32_t) * (size_t)B * t->L);
    t->n_recon = B < 8 ? B : 8;
    const size_t one = (size_t)t->C * t->H * t->W;
    t->last_recon = sp_realloc(t->last_recon, sizeof(float) * (size_t)t->n_recon * one);
    memcpy(t->last_recon, f.recon, sizeof(float) * (size_t)t->n_recon * one);
    fwd_free(&f);
    t->iteration++;
    return loss;
}

/* ---- between steps ------------------------------------------------------ */

static void copy_head(sp_trainer *t, int dst, int src, int with_state)
{
    for (int l = 0; l < t->L; l++) {
        const sp_tsf_heads *o = &t->spr[l];
        if (o->identity)
            continue;
        for (int j = 0; j < o->full.n; j++) {
            const sp_head_mlp *a = &o->heads[(size_t)dst * o->full.n + j];
            const sp_head_mlp *b = &o->heads[(size_t)src * o->full.n + j];
            if (o->full.kind[j] == SP_TSF_IDENTITY)
                continue;
            for (int i = 0; i < a->nl; i++) {
                for (int q = 0; q < 2; q++) {
                    tparam *x = head_param(t, a, i, q), *y = head_param(t, b, i, q);
                    memcpy(x->w, y->w, sizeof(float) * x->n);
                    /* the reference makes the two parameters share their Adam
                     * moments (one tensor updated by both); we copy them */
                    if (with_state && y->step > 0) {
                        memcpy(x->m, y->m, sizeof(float) * x->n);
                        memcpy(x->v, y->v, sizeof(float) * x->n);
                    }
                }
            }
        }
    }
}

/* DTISprites.restart_branch_from(i, j). */
static void restart_branch(sp_trainer *t, int i, int j, sp_rng *r)
{
    const size_t chw = (size_t)t->C * t->h * t->w, hw = (size_t)t->h * t->w;
    tparam *pp = &t->p[0], *mp = &t->p[1];
    float *tmp = sp_malloc(sizeof(float) * chw);
    for (size_t q = 0; q < chw; q++)
        tmp[q] = pp->w[(size_t)j * chw + q] + (float)(sp_rng_normal(r) * NOISE_SCALE);
    memcpy(pp->w + (size_t)i * chw, tmp, sizeof(float) * chw);
    free(tmp);
    memmove(mp->w + (size_t)i * hw, mp->w + (size_t)j * hw, sizeof(float) * hw);
    memmove(mp->m + (size_t)i * hw, mp->m + (size_t)j * hw, sizeof(float) * hw);
    memmove(mp->v + (size_t)i * hw, mp->v + (size_t)j * hw, sizeof(float) * hw);
    if (i != j)
        copy_head(t, i, j, 1);
}

int sp_trainer_check_clusters(sp_trainer *t, int *layer, int *from)
{
    *layer = 0, *from = -1;
    if (t->check_interval <= 0 || t->iteration - t->last_check < t->check_interval)
        return 0;
    t->last_check = t->iteration;
    const int K = t->K, L = t->L;
    double *prop = sp_calloc((size_t)K, sizeof(double));
    double cnt = t->prop_count > 0 ? (double)t->prop_count : 1;
    if (t->greedy) {
        int k = L > 1 ? (int)(sp_philox_u32_at(t->seed, RNG_LAYER, (uint64_t)t->iteration) % (uint32_t)L) : 0;
        *layer = k;
        for (int s = 0; s < K; s++)
            prop[s] = t->prop_sum[k * K + s] / cnt;
    } else {
        /* one layer (the paper's exact-minimum configs): per sprite, summed
         * over backgrounds; several layers: the marginal of a random layer */
        int k = L > 1 ? (int)(sp_philox_u32_at(t->seed, RNG_LAYER, (uint64_t)t->iteration) % (uint32_t)L) : 0;
        *layer = k;
        for (int c = 0; c < t->nclusters; c++) {
            int64_t r = c;
            for (int l = L - 1; l > k; l--)
                r /= K;
            prop[r % K] += t->prop_sum[c] / cnt;
        }
    }
    memset(t->prop_sum, 0, sizeof(double) * (size_t)t->nclusters);
    t->prop_count = 0;
    int n = 0;
    if (t->reassign && !sp_trainer_frozen(t)) {
        int N = t->K0;
        if (t->empty) {
            double mx = prop[0];
            for (int s = 1; s < N; s++)
                mx = prop[s] > mx ? prop[s] : mx;
            for (int s = 0; s < N; s++)
                prop[s] /= mx; /* 0/0 is NaN: nothing below the threshold, as torch */
        }
        int idx = 0;
        for (int s = 1; s < N; s++)
            if (prop[s] > prop[idx])
                idx = s;
        sp_rng r;
        sp_rng_init(&r, t->seed, RNG_REASSIGN ^ ((uint64_t)t->iteration << 20));
        for (int s = 0; s < N; s++)
            if (prop[s] < t->threshold) {
                restart_branch(t, s, idx, &r);
                n++;
            }
        if (n > 0)
            restart_branch(t, idx, idx, &r);
        *from = idx;
    }
    free(prop);
    return n;
}

void sp_trainer_set_noise(sp_trainer *t, const float *uniform) { t->noise_override = uniform; }
const int32_t *sp_trainer_last_choice(const sp_trainer *t) { return t->last_choice; }
int sp_trainer_last_recon(const sp_trainer *t, const float **recon)
{
    *recon = t->last_recon;
    return t->n_recon;
}

void sp_trainer_set_epoch(sp_trainer *t, int64_t epoch)
{
    t->epoch = epoch - 1;
    sp_trainer_epoch_end(t);
}

void sp_trainer_epoch_end(sp_trainer *t)
{
    t->epoch++;
    stage_transformers(t);
}

/* ---- state in the model file (formats/model.md, checkpoints) ------------ */

static int sbuf_write(void *data, const char *buf, size_t len) { return msgpack_sbuffer_write(data, buf, len); }

/* A new section's buffer and packer, starting with a map of n entries. */
static void begin_section(msgpack_sbuffer *sb, msgpack_packer *pk, size_t n)
{
    msgpack_sbuffer_init(sb);
    msgpack_packer_init(pk, sb, sbuf_write);
    msgpack_pack_map(pk, n);
}

static void pack_key_int64(msgpack_packer *pk, const char *key, int64_t v)
{
    sp_pack_str(pk, key);
    msgpack_pack_int64(pk, v);
}

static void put_section(sp_map *m, const char *key, msgpack_sbuffer *sb)
{
    sp_map_remove(m, key);
    sp_map_put_raw(m, key, sb->data, sb->size);
    msgpack_sbuffer_destroy(sb);
}

void sp_trainer_sync(sp_trainer *t)
{
    sp_model *m = t->m;
    char name[SP_MODEL_NAME_MAX];
    for (int i = 0; i < t->enc->ntensors; i++) {
        sp_enc_tensor *et = &t->enc->tensors[i];
        snprintf(name, sizeof name, "encoder.%s", et->name);
        memcpy(sp_model_find(m, name)->data, sp_encoder_data(t->enc, et), et->size * sizeof(float));
    }
    msgpack_sbuffer sb;
    msgpack_packer pk;
    /* optimizer: per parameter m, v, step */
    begin_section(&sb, &pk, (size_t)t->np * 3);
    for (int i = 0; i < t->np; i++) {
        tparam *p = &t->p[i];
        int64_t shape[1] = {(int64_t)p->n};
        sp_tensor *x = sp_tensor_new(SP_F32, 1, shape);
        char key[SP_MODEL_NAME_MAX + 8];
        snprintf(key, sizeof key, "m/%s", p->name);
        sp_pack_str(&pk, key);
        memcpy(x->data, p->m, sizeof(float) * p->n);
        sp_pack_tensor(&pk, x);
        snprintf(key, sizeof key, "v/%s", p->name);
        sp_pack_str(&pk, key);
        memcpy(x->data, p->v, sizeof(float) * p->n);
        sp_pack_tensor(&pk, x);
        snprintf(key, sizeof key, "step/%s", p->name);
        pack_key_int64(&pk, key, p->step);
        sp_tensor_free(x);
    }
    put_section(&m->ckpt, "optimizer", &sb);
    /* rng: stateless (keyed by iteration), only the seed */
    begin_section(&sb, &pk, 1);
    sp_pack_str(&pk, "seed");
    msgpack_pack_uint64(&pk, t->seed);
    put_section(&m->ckpt, "rng", &sb);
    /* schedule */
    begin_section(&sb, &pk, 5);
    pack_key_int64(&pk, "iteration", t->iteration);
    pack_key_int64(&pk, "epoch", t->epoch);
    pack_key_int64(&pk, "last_check", t->last_check);
    pack_key_int64(&pk, "prop_count", t->prop_count);
    sp_pack_str(&pk, "prop_sum");
    msgpack_pack_array(&pk, (size_t)t->nclusters);
    for (int i = 0; i < t->nclusters; i++)
        msgpack_pack_double(&pk, t->prop_sum[i]);
    put_section(&m->ckpt, "schedule", &sb);
    sp_map_remove(&m->meta, "epoch");
    sp_map_remove(&m->meta, "iteration");
    sp_map_remove(&m->meta, "curriculum_epoch");
    sp_map_put_int(&m->meta, "epoch", t->epoch);
    sp_map_put_int(&m->meta, "iteration", t->iteration);
    sp_map_put_int(&m->meta, "curriculum_epoch", t->epoch);
}

static int64_t obj_int(const msgpack_object *o, const char *where, const char *what)
{
    int64_t v;
    if (sp_obj_int(o, &v) != 0)
        sp_fatal("%s: checkpoint: %s is not an integer", where, what);
    return v;
}

static void load_state(sp_trainer *t, const char *where)
{
    const sp_entry *opt = sp_map_find(&t->m->ckpt, "optimizer");
    const sp_entry *sch = sp_map_find(&t->m->ckpt, "schedule");
    if (!opt && !sch)
        return;
    if (!opt || !sch)
        sp_fatal("%s: checkpoint: needs both the optimizer and schedule sections", where);
    msgpack_unpacked u;
    msgpack_unpacked_init(&u);
    size_t off = 0;
    if (msgpack_unpack_next(&u, opt->raw, opt->raw_len, &off) != MSGPACK_UNPACK_SUCCESS)
        sp_fatal("%s: checkpoint: bad optimizer section", where);
    const msgpack_object *o = &u.data;
    char *seen = sp_calloc((size_t)t->np * 3 + 1, 1);
    for (uint32_t i = 0; i < o->via.map.size; i++) {
        const msgpack_object_kv *kv = &o->via.map.ptr[i];
        if (kv->key.type != MSGPACK_OBJECT_STR || kv->key.via.str.size >= SP_MODEL_NAME_MAX + 8)
            sp_fatal("%s: checkpoint: bad optimizer key", where);
        char key[SP_MODEL_NAME_MAX + 8];
        memcpy(key, kv->key.via.str.ptr, kv->key.via.str.size);
        key[kv->key.via.str.size] = 0;
        int kind = !strncmp(key, "m/", 2) ? 0 : !strncmp(key, "v/", 2) ? 1 : !strncmp(key, "step/", 5) ? 2 : -1;
        const char *pname = kind == 2 ? key + 5 : key + 2;
        int j = 0;
        while (kind >= 0 && j < t->np && strcmp(t->p[j].name, pname) != 0)
            j++;
        if (kind < 0 || j == t->np)
            sp_fatal("%s: checkpoint: optimizer entry '%s' is not a parameter of this model", where, key);
        if (seen[j * 3 + kind]++)
            sp_fatal("%s: checkpoint: duplicate optimizer entry '%s'", where, key);
        if (kind == 2) {
            t->p[j].step = obj_int(&kv->val, where, key);
            continue;
        }
        int64_t shape[1] = {(int64_t)t->p[j].n};
        sp_tensor *x = sp_tensor_new(SP_F32, 1, shape);
        sp_model_read_tensor(x, key, &kv->val, where);
        memcpy(kind ? t->p[j].v : t->p[j].m, x->data, sizeof(float) * t->p[j].n);
        sp_tensor_free(x);
    }
    for (int j = 0; j < t->np * 3; j++)
        if (!seen[j])
            sp_fatal("%s: checkpoint: no optimizer state for %s", where, t->p[j / 3].name);
    free(seen);
    msgpack_unpacked_destroy(&u);

    msgpack_unpacked_init(&u);
    off = 0;
    if (msgpack_unpack_next(&u, sch->raw, sch->raw_len, &off) != MSGPACK_UNPACK_SUCCESS)
        sp_fatal("%s: checkpoint: bad schedule section", where);
    o = &u.data;
    int have = 0;
    for (uint32_t i = 0; i < o->via.map.size; i++) {
        const msgpack_object_kv *kv = &o->via.map.ptr[i];
        if (sp_obj_str_is(&kv->key, "iteration"))
            t->iteration = obj_int(&kv->val, where, "iteration"), have |= 1;
        else if (sp_obj_str_is(&kv->key, "epoch"))
            t->epoch = obj_int(&kv->val, where, "epoch"), have |= 2;
        else if (sp_obj_str_is(&kv->key, "last_check"))
            t->last_check = obj_int(&kv->val, where, "last_check"), have |= 4;
        else if (sp_obj_str_is(&kv->key, "prop_count"))
            t->prop_count = obj_int(&kv->val, where, "prop_count"), have |= 8;
        else if (sp_obj_str_is(&kv->key, "prop_sum")) {
            if (kv->val.type != MSGPACK_OBJECT_ARRAY || (int)kv->val.via.array.size != t->nclusters)
                sp_fatal("%s: checkpoint: prop_sum is not an array of %d numbers", where, t->nclusters);
            for (int c = 0; c < t->nclusters; c++) {
                const msgpack_object *e = &kv->val.via.array.ptr[c];
                if (e->type != MSGPACK_OBJECT_FLOAT64 && e->type != MSGPACK_OBJECT_FLOAT32)
                    sp_fatal("%s: checkpoint: prop_sum[%d] is not a number", where, c);
                t->prop_sum[c] = e->via.f64;
            }
            have |= 16;
        }
    }
    if (have != 31)
        sp_fatal("%s: checkpoint: incomplete schedule section", where);
    if (t->iteration < 0 || t->epoch < 0)
        sp_fatal("%s: checkpoint: negative iteration or epoch", where);
    msgpack_unpacked_destroy(&u);
}

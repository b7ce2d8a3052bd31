/* The model's networks as the op library takes them (see sp_model.h):
 * one reader of the regressor / occlusion-predictor names and of the
 * transformation-sequence settings, for the predictor and the trainer. */
#include "sp_model.h"

#include "sp_error.h"
#include "sp_train.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int tensor_index(const sp_model *m, const char *name)
{
    for (int i = 0; i < m->ntensors; i++)
        if (!strcmp(m->tensors[i].name, name))
            return i;
    return -1;
}

int sp_model_mlp(const sp_model *m, const char *prefix, sp_mlp_layer *layers, int max, int *index)
{
    char name[SP_MODEL_NAME_MAX + 32];
    int nl = 0;
    /* create_mlp's Linear layers: module indices 0, 3, 5, ... (1 is the
     * identity norm, 2, 4, ... ReLUs), as far as they exist */
    for (int i = 0; i < max; i++) {
        snprintf(name, sizeof name, "%s.%d.weight", prefix, i == 0 ? 0 : 1 + 2 * i);
        int w = tensor_index(m, name);
        if (w < 0)
            break;
        snprintf(name, sizeof name, "%s.%d.bias", prefix, i == 0 ? 0 : 1 + 2 * i);
        int b = tensor_index(m, name);
        if (b < 0)
            sp_fatal("%s: no tensor %s", sp_prog(), name);
        const sp_tensor *tw = m->tensors[w].t;
        layers[nl] = (sp_mlp_layer){sp_f32(tw), sp_f32(m->tensors[b].t), (int)tw->shape[1], (int)tw->shape[0]};
        if (index)
            index[2 * nl] = w, index[2 * nl + 1] = b;
        nl++;
    }
    if (!nl)
        sp_fatal("%s: no tensor %s.0.weight", sp_prog(), prefix);
    return nl;
}

void sp_model_tsf_seq(const sp_model *m, const char *seq, int h, int w, sp_padding pad, sp_clamp clamp,
                      sp_tsf_seq *q)
{
    sp_tsf_seq_defaults(q);
    if (sp_tsf_seq_parse(q, seq) != 0)
        sp_fatal("%s: unknown transformation sequence '%s'", sp_prog(), seq);
    q->h = h, q->w = w, q->pad = pad, q->clamp = clamp;
    q->color_channels = m->C;
    q->grid_size = (int)sp_config_int(m->cfg, "model.grid_size");
    q->kernel_size = (int)sp_config_int(m->cfg, "model.kernel_size");
}

void sp_head_mlp_load(sp_head_mlp *o, const sp_model *m, const char *prefix)
{
    o->nl = sp_model_mlp(m, prefix, o->l, SP_HEAD_MLP_MAX, o->index);
}

void sp_tsf_heads_load(sp_tsf_heads *o, const sp_model *m, const char *prefix, const char *seq,
                       const char *cur_key, int nheads, int h, int w, sp_padding pad, sp_clamp clamp)
{
    memset(o, 0, sizeof *o);
    sp_model_tsf_seq(m, seq, h, w, pad, clamp, &o->full);
    o->identity = o->full.n == 1 && o->full.kind[0] == SP_TSF_IDENTITY;
    o->q = o->full;
    o->P = sp_tsf_seq_params(&o->q);
    o->nheads = nheads;
    o->cur_key = cur_key;
    if (o->identity)
        return;
    o->heads = sp_calloc((size_t)nheads * o->full.n, sizeof *o->heads);
    char name[SP_MODEL_NAME_MAX];
    for (int k = 0; k < nheads; k++)
        for (int j = 0; j < o->full.n; j++) {
            if (o->full.kind[j] == SP_TSF_IDENTITY)
                continue; /* Linear(F, 0): nothing to predict */
            snprintf(name, sizeof name, "%s.tsf_sequences.%d.tsf_modules.%d.regressor", prefix, k, j);
            sp_head_mlp_load(&o->heads[(size_t)k * o->full.n + j], m, name);
        }
}

void sp_tsf_heads_stage(sp_tsf_heads *o, const sp_config *cfg, int64_t epoch)
{
    if (o->identity || !o->cur_key)
        return;
    o->q = o->full;
    o->q.n = sp_curriculum_active(cfg, o->cur_key, o->full.n, epoch);
    o->P = sp_tsf_seq_params(&o->q);
}

int sp_tsf_heads_is_copy(const sp_tsf_heads *o)
{
    for (int j = 0; j < o->q.n; j++)
        if (o->q.kind[j] != SP_TSF_IDENTITY)
            return 0;
    return 1;
}

void sp_tsf_heads_beta(float *beta, const sp_tsf_heads *o, int k, const float *feat, int n)
{
    int off = 0;
    float *tmp = sp_malloc(sizeof(float) * ((size_t)n * (o->P + 1)));
    for (int j = 0; j < o->q.n; j++) {
        int P = sp_tsf_params(&o->q, o->q.kind[j]);
        if (!P)
            continue;
        const sp_head_mlp *h = &o->heads[(size_t)k * o->full.n + j];
        sp_mlp_forward(tmp, NULL, feat, (size_t)n, h->nl, h->l);
        for (int i = 0; i < n; i++)
            memcpy(beta + (size_t)i * o->P + off, tmp + (size_t)i * P, sizeof(float) * P);
        off += P;
    }
    free(tmp);
}

void sp_tsf_heads_free(sp_tsf_heads *o)
{
    free(o->heads);
    o->heads = NULL;
}

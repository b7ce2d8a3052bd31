/* The model's networks as the op library takes them (see sp_model.h):
 * one reader of the regressor / occlusion-predictor names and of the
 * transformation-sequence settings, for the predictor and the trainer. */
#include "sp_model.h"

#include "sp_error.h"

#include <stdio.h>
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

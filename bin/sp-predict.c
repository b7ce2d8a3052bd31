/* sp-predict: the model's first stage.  Adds to every batch the candidate
 * layers and masks of every (layer, sprite) pair, the transformed
 * backgrounds and the occlusion matrix (formats/model.md, "Entries
 * sp-predict adds"); everything else passes through.  All the work is
 * sp_predict_features then sp_predict_from_features (common/sp_predict_stage.c),
 * what sp-train runs in-process.  --features stops after the first and hands
 * the features on, for sp-select --model to do the second. */
#include "sp_start.h"
#include "sp_device.h"
#include "sp_error.h"
#include "sp_filter.h"
#include "sp_model.h"
#include "sp_opt.h"
#include "sp_pin.h"
#include "sp_predict.h"
#include "sp_predict_stage.h"

#include <stdlib.h>
#include <string.h>

/* The loaded model, what every batch needs of it. */
typedef struct {
    sp_predictor *p;
    const char *path;
    int features_only; /* --features */
} predict_stage;

/* What later stages need of the model, in the header meta. */
static void on_stream(const sp_map *in, sp_map *out, void *ctx)
{
    (void)in;
    const predict_stage *g = ctx;
    const sp_model *m = sp_predictor_model(g->p);
    sp_map_put_str(out, "model", g->path);
    sp_map_put_int(out, "n_layers", m->L);
    sp_map_put_int(out, "n_candidates", m->K);
    sp_map_put_int(out, "n_backgrounds", m->M);
    sp_map_put_int(out, "empty_sprite", sp_config_bool(m->cfg, "model.add_empty_sprite"));
    /* what sp-select needs of the model, so that it selects as the model was trained */
    sp_map_put_double(out, "lambda_empty_sprite", sp_config_float(m->cfg, "model.lambda_empty_sprite"));
    sp_map_put_int(out, "greedy_algo_iter", sp_config_int(m->cfg, "model.greedy_algo_iter"));
}

/* Adds the candidates, backgrounds and occlusion (or, --features, the
 * encoder's features alone) to one batch. */
static void predict_batch(sp_map *b, int64_t idx, void *ctx)
{
    const predict_stage *g = ctx;
    const sp_tensor *img = sp_predict_stage_image(g->p, b, idx);
    sp_tensor *feat = sp_predict_stage_features(g->p, img);
    if (g->features_only) {
        sp_map_put_tensor(b, SP_FEATURES, feat);
        return;
    }
    sp_predict_stage_put(g->p, b, sp_f32(feat), img->shape[0]);
    sp_tensor_free(feat);
}

int main(int argc, char **argv)
{
    sp_main_start(argv);
    const char *model_path = NULL, *device = "cpu", *drop = NULL;
    int features_only = 0;
    sp_opt opts[] = {{"model", SP_OPT_STR, &model_path, "M", "the model file (required)"},
                     {"features", SP_OPT_FLAG, &features_only, NULL,
                      "add only the encoder's output, features f32 [N,F], for sp-select --model M\n"
                      "to make the candidates from (the same numbers; no candidates in the pipe)"},
                     SP_STAGE_DEVICE_OPT(&device),
                     SP_FILTER_DROP_OPT(&drop),
                     {0}};
    char **args;
    int nargs = sp_opt_parse(argc, argv, opts, "sp-predict --model M [--features] [--device D] [--drop NAMES]",
                             "Adds to every batch of images, in eval mode (no noise, batch norms with\n"
                             "their running statistics):\n"
                             "  cand_layers f32 [N,L,K,C,H,W]  every sprite transformed into every layer\n"
                             "  cand_masks  f32 [N,L,K,1,H,W]  their masks (the empty sprite last, if any)\n"
                             "  backgrounds f32 [N,M,C,H,W]    the transformed backgrounds (M > 0)\n"
                             "  occlusion   f32 [N,L,L]        the predicted occlusion (pred_occlusion)\n"
                             "Values are not clamped to [0,1] (the composition does it).  With\n"
                             "--features, only features f32 [N,F] (the encoder's output): sp-select --model\n"
                             "M makes all of the above from it.  Everything else passes through.",
                             &args);
    if (nargs != 0)
        sp_fatal("unexpected argument '%s' (see --help)", args[0]);
    if (!model_path)
        sp_fatal("--model: required");
    sp_device_resolve_stage(device, "sp-predict"); /* the computation is on the CPU */
    sp_pin_stage_threads(); /* in a pipe: its threads one per CPU (sp_pin.h) */
    sp_model *m;
    /* --features: the encoder's weights alone are read */
    sp_predictor *p = features_only ? sp_predictor_open_encoder(model_path, &m) : sp_predictor_open(model_path, &m);
    predict_stage g = {p, model_path, features_only};
    sp_filter f = {"sp-predict", on_stream, predict_batch, &g, drop};
    sp_filter_run(&f);
    sp_predictor_free(p);
    sp_model_free(m);
    return 0;
}

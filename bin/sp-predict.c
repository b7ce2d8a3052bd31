/* sp-predict: the model's first stage.  Adds to every batch the candidate
 * layers and masks of every (layer, sprite) pair, the transformed
 * backgrounds and the occlusion matrix (formats/model.md, "Entries
 * sp-predict adds"); everything else passes through.  All the work is
 * sp_predict_forward, the function sp-train runs in-process. */
#include "sp_device.h"
#include "sp_error.h"
#include "sp_filter.h"
#include "sp_model.h"
#include "sp_opt.h"
#include "sp_predict.h"

#include <stdlib.h>
#include <string.h>

/* The loaded model, what every batch needs of it. */
typedef struct {
    sp_model *m;
    sp_predictor *p;
    const char *path;
    int C, H, W, L, K, M, has_occ;
} predict_stage;

/* What later stages need of the model, in the header meta. */
static void on_stream(const sp_map *in, sp_map *out, void *ctx)
{
    (void)in;
    const predict_stage *g = ctx;
    sp_map_put_str(out, "model", g->path);
    sp_map_put_int(out, "n_layers", g->L);
    sp_map_put_int(out, "n_candidates", g->K);
    sp_map_put_int(out, "n_backgrounds", g->M);
    sp_map_put_int(out, "empty_sprite", sp_config_bool(g->m->cfg, "model.add_empty_sprite"));
    /* what sp-select needs of the model, so that it selects as the model was trained */
    sp_map_put_double(out, "lambda_empty_sprite", sp_config_float(g->m->cfg, "model.lambda_empty_sprite"));
    sp_map_put_int(out, "greedy_algo_iter", sp_config_int(g->m->cfg, "model.greedy_algo_iter"));
}

/* Adds the candidates, backgrounds and occlusion to one batch. */
static void predict_batch(sp_map *b, int64_t idx, void *ctx)
{
    const predict_stage *g = ctx;
    const sp_tensor *img = sp_filter_image(b, idx);
    if (img->shape[1] != g->C || img->shape[2] != g->H || img->shape[3] != g->W)
        sp_fatal("stdin: batch %lld: image is [%lld,%lld,%lld,%lld], the model expects %dx%dx%d",
                 (long long)idx, (long long)img->shape[0], (long long)img->shape[1],
                 (long long)img->shape[2], (long long)img->shape[3], g->C, g->H, g->W);
    int64_t n = img->shape[0];
    if (n > 1 << 20)
        sp_fatal("stdin: batch %lld: %lld images (at most 2^20 a batch)", (long long)idx, (long long)n);
    sp_tensor *tl = sp_tensor_newv(SP_F32, 6, n, (int64_t)g->L, (int64_t)g->K, (int64_t)g->C, (int64_t)g->H, (int64_t)g->W);
    sp_tensor *tm = sp_tensor_newv(SP_F32, 6, n, (int64_t)g->L, (int64_t)g->K, (int64_t)1, (int64_t)g->H, (int64_t)g->W);
    sp_tensor *tb = g->M > 0 ? sp_tensor_newv(SP_F32, 5, n, (int64_t)g->M, (int64_t)g->C, (int64_t)g->H, (int64_t)g->W) : NULL;
    sp_tensor *to = g->has_occ ? sp_tensor_newv(SP_F32, 3, n, (int64_t)g->L, (int64_t)g->L) : NULL;
    sp_predict_forward(g->p, sp_f32(tl), sp_f32(tm), tb ? sp_f32(tb) : NULL, to ? sp_f32(to) : NULL,
                       sp_f32(img), (int)n);
    sp_map_put_tensor(b, "cand_layers", tl);
    sp_map_put_tensor(b, "cand_masks", tm);
    if (tb)
        sp_map_put_tensor(b, "backgrounds", tb);
    if (to)
        sp_map_put_tensor(b, "occlusion", to);
}

int main(int argc, char **argv)
{
    sp_set_prog(argv[0]);
    const char *model_path = NULL, *device = "cpu", *drop = NULL;
    sp_opt opts[] = {{"model", SP_OPT_STR, &model_path, "M", "the model file (required)"},
                     SP_STAGE_DEVICE_OPT(&device),
                     SP_FILTER_DROP_OPT(&drop),
                     {0}};
    char **args;
    int nargs = sp_opt_parse(argc, argv, opts, "sp-predict --model M [--device D] [--drop NAMES]",
                             "Adds to every batch of images, in eval mode (no noise, batch norms with\n"
                             "their running statistics):\n"
                             "  cand_layers f32 [N,L,K,C,H,W]  every sprite transformed into every layer\n"
                             "  cand_masks  f32 [N,L,K,1,H,W]  their masks (the empty sprite last, if any)\n"
                             "  backgrounds f32 [N,M,C,H,W]    the transformed backgrounds (M > 0)\n"
                             "  occlusion   f32 [N,L,L]        the predicted occlusion (pred_occlusion)\n"
                             "Values are not clamped to [0,1] (the composition does it).  Everything\n"
                             "else passes through.",
                             &args);
    if (nargs != 0)
        sp_fatal("unexpected argument '%s' (see --help)", args[0]);
    if (!model_path)
        sp_fatal("--model: required");
    sp_device_resolve_stage(device, 0, "sp-predict"); /* the computation is on the CPU */
    sp_model *m = sp_model_read(model_path);
    sp_predictor *p = sp_predictor_new(m, model_path);
    const int C = m->C, H = m->H, W = m->W, L = m->L, K = m->K, M = m->M;
    const int has_occ = sp_config_bool(m->cfg, "model.pred_occlusion") && L > 1;

    predict_stage g = {m, p, model_path, C, H, W, L, K, M, has_occ};
    sp_filter f = {"sp-predict", on_stream, predict_batch, &g, drop};
    sp_filter_run(&f);
    sp_predictor_free(p);
    sp_model_free(m);
    return 0;
}

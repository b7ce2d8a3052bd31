/* Entries of the prediction stage; see sp_predict_stage.h. */
#include "sp_predict_stage.h"

#include "sp_error.h"
#include "sp_filter.h"

const sp_tensor *sp_predict_stage_image(const sp_predictor *p, const sp_map *b, int64_t idx)
{
    const sp_model *m = sp_predictor_model(p);
    const sp_tensor *img = sp_filter_image(b, idx);
    if (img->shape[1] != m->C || img->shape[2] != m->H || img->shape[3] != m->W)
        sp_fatal("stdin: batch %lld: image is [%lld,%lld,%lld,%lld], the model expects %dx%dx%d",
                 (long long)idx, (long long)img->shape[0], (long long)img->shape[1],
                 (long long)img->shape[2], (long long)img->shape[3], m->C, m->H, m->W);
    if (img->shape[0] > 1 << 20)
        sp_fatal("stdin: batch %lld: %lld images (at most 2^20 a batch)", (long long)idx,
                 (long long)img->shape[0]);
    return img;
}

sp_tensor *sp_predict_stage_features(sp_predictor *p, const sp_tensor *img)
{
    const int64_t n = img->shape[0];
    sp_tensor *t = sp_tensor_outv(SP_F32, 2, n, (int64_t)sp_predictor_features(p));
    sp_predict_features(p, sp_f32(t), sp_f32(img), (int)n);
    return t;
}

void sp_predict_stage_put(sp_predictor *p, sp_map *b, const float *feat, int64_t n)
{
    const sp_model *m = sp_predictor_model(p);
    const int64_t L = m->L, K = m->K, M = m->M, C = m->C, H = m->H, W = m->W;
    const int has_occ = sp_predictor_has_occlusion(p);
    sp_tensor *tl = sp_tensor_outv(SP_F32, 6, n, L, K, C, H, W);
    sp_tensor *tm = sp_tensor_outv(SP_F32, 6, n, L, K, (int64_t)1, H, W);
    sp_tensor *tb = M > 0 ? sp_tensor_outv(SP_F32, 5, n, M, C, H, W) : NULL;
    sp_tensor *to = has_occ ? sp_tensor_newv(SP_F32, 3, n, L, L) : NULL;
    sp_predict_from_features(p, sp_f32(tl), sp_f32(tm), tb ? sp_f32(tb) : NULL, to ? sp_f32(to) : NULL, feat,
                             (int)n);
    sp_map_put_tensor(b, "cand_layers", tl);
    sp_map_put_tensor(b, "cand_masks", tm);
    if (tb)
        sp_map_put_tensor(b, "backgrounds", tb);
    if (to)
        sp_map_put_tensor(b, "occlusion", to);
}

const float *sp_predict_stage_get_features(const sp_predictor *p, const sp_map *b, int64_t idx, int64_t n)
{
    const sp_tensor *t = sp_map_tensor(b, SP_FEATURES);
    if (!t)
        sp_fatal("stdin: batch %lld: needs " SP_FEATURES " (run sp-predict --features first)", (long long)idx);
    const int F = sp_predictor_features(p);
    if (t->dtype != SP_F32 || t->ndim != 2 || t->shape[0] != n || t->shape[1] != F)
        sp_fatal("stdin: batch %lld: " SP_FEATURES " must be f32 [%lld,%d] (the model's encoder width)",
                 (long long)idx, (long long)n, F);
    return sp_f32(t);
}

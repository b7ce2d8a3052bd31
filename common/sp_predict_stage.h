/* The entries sp-predict adds to a batch (formats/model.md, "Entries
 * sp-predict adds"), for the two programs that make them: sp-predict, from
 * the images, and sp-select --model, from the encoder features that
 * sp-predict --features hands on instead (the candidates are then made
 * where they are consumed and never cross a pipe: the same library calls,
 * the same numbers). */
#ifndef SP_PREDICT_STAGE_H
#define SP_PREDICT_STAGE_H

#include "sp_map.h"
#include "sp_predict.h"

#include <stdint.h>

/* The entry sp-predict --features adds: the encoder's output. */
#define SP_FEATURES "features"

/* The batch's image, checked against the model's C, H, W and a batch size
 * bound; fatal in one line naming the batch otherwise. */
const sp_tensor *sp_predict_stage_image(const sp_predictor *p, const sp_map *b, int64_t idx);

/* features f32 [N,F] of the batch's image. */
sp_tensor *sp_predict_stage_features(sp_predictor *p, const sp_tensor *img);

/* Puts cand_layers, cand_masks, backgrounds (M > 0) and occlusion
 * (sp_predictor_has_occlusion) made from feat [n, F] into b, replacing any
 * there. */
void sp_predict_stage_put(sp_predictor *p, sp_map *b, const float *feat, int64_t n);

/* The batch's features, checked against the model and the image (n
 * images); fatal in one line naming the batch, and saying which stage makes
 * them, when absent or of the wrong shape. */
const float *sp_predict_stage_get_features(const sp_predictor *p, const sp_map *b, int64_t idx, int64_t n);

#endif

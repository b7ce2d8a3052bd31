/* Validation inside training: the whole inference chain (sp_predict,
 * sp_select, sp_compose_stage, the metrics of sp-eval) on batches held in
 * memory, with the model as it is now.  The numbers are those of
 * sp-predict | sp-select | sp-compose | sp-eval on the same batches: the
 * same library calls, in the same order. */
#ifndef SP_VALIDATE_H
#define SP_VALIDATE_H

#include "sp_map.h"
#include "sp_model.h"

#include <stdint.h>

typedef struct {
    int64_t n;     /* images */
    double ari;    /* instance masks, all pixels (NaN without masks) */
    double ari_fg; /* foreground pixels, background given to the nearest layer (sp-compose --fg-reassign) */
    double fg_acc; /* foreground / background pixel accuracy when every true mask value is 0 or 1 (else NaN) */
    double acc;    /* clusters of one-layer models against labels, Hungarian (NaN without labels or L > 1) */
} sp_val_scores;

/* Scores model m on batches [nb] (each with "image" f32 [N,C,H,W] of the
 * model's size, and "mask" [N,H,W] and / or "label" [N] when present);
 * fatal, naming the batch, on a bad entry. */
void sp_validate(const sp_model *m, const sp_map *batches, int nb, sp_val_scores *out);

#endif

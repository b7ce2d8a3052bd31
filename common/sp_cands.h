/* The candidate entries sp-predict adds to a batch (formats/model.md,
 * "Entries sp-predict adds"), looked up and checked once for the stages
 * after it (sp-select, sp-compose): shapes must agree with each other and
 * with the image, else a one-line fatal error naming the batch. */
#ifndef SP_CANDS_H
#define SP_CANDS_H

#include "sp_map.h"

#include <stddef.h>
#include <stdint.h>

typedef struct {
    int64_t N;
    int L, K, M, C; /* M == 0: no backgrounds */
    size_t hw;
    int H, W;
    const float *layers, *masks, *bkgs, *occ, *img; /* bkgs, occ NULL when absent */
} sp_cands;

/* Fills c from batch b (index idx, for messages); the pointers borrow b's
 * tensors. */
void sp_cands_get(sp_cands *c, const sp_map *b, int64_t idx);

#endif

/* Pictures of a model and of a training step, for people: the sprites
 * (colour times mask over grey, then the mask) and backgrounds of a model,
 * and a strip of images beside their reconstructions.  Used by sp-viz
 * --model and sp-train --viz. */
#ifndef SP_VIZ_H
#define SP_VIZ_H

#include "sp_model.h"

/* PNG at path (atomically): one column per sprite, rows: sprite over grey,
 * mask in grey; then one row of backgrounds when the model has them.
 * Values through the model's clamp, as the model uses them; each pixel
 * drawn as a scale x scale block. */
void sp_viz_sprites(const sp_model *m, const char *path, int scale);

/* PNG at path: two rows, images x [n, C, H, W] above recon (same shape),
 * values in [0, 1] (clipped), grey or RGB. */
void sp_viz_pairs(const float *x, const float *recon, int n, int C, int H, int W, const char *path,
                  int scale);

#endif

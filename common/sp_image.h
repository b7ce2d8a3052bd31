/* Images as they come out of files: 8- or 16-bit samples, channels
 * interleaved (H x W x C), before conversion to float tensors. */
#ifndef SP_IMAGE_H
#define SP_IMAGE_H

#include <stdint.h>
#include "sp_tensor.h"

typedef struct {
    int h, w, c; /* c: 1 grey, 2 grey+alpha, 3 RGB, 4 RGBA */
    int depth;   /* 8 or 16 */
    uint16_t *px; /* owned, h*w*c samples, 0..255 or 0..65535 */
} sp_image;

void sp_image_free(sp_image *im);
sp_image sp_image_alloc(int h, int w, int c, int depth);

/* PNG of any colour type: palette expanded to RGB(A), transparency to
 * alpha, low bit depths to 8.  Fatal with the path on any error. */
sp_image sp_png_read(const char *path);
/* A label PNG: one integer id per pixel (grey value, palette index, or the
 * common value of R=G=B); fatal for a true-colour image.  Returns i32 [H,W]. */
sp_tensor *sp_png_read_labels(const char *path);
/* The same, returning -1 with "path: reason" in err instead of exiting
 * (for parallel loaders that report the first failure themselves). */
int sp_png_try_read(const char *path, sp_image *out, char *err, size_t errlen);
int sp_png_try_read_labels(const char *path, sp_tensor **out, char *err, size_t errlen);
/* Writes 8-bit grey/GA/RGB/RGBA (c = 1..4) from interleaved bytes,
 * atomically (temporary + rename). */
void sp_png_write(const char *path, const uint8_t *px, int h, int w, int c);

/* PNG encoding into memory with a reusable deflate state (one encoder per
 * thread; encoders share nothing).  *out points into the encoder and is
 * valid until its next use.  Returns 0, or -1 with the reason in err. */
typedef struct sp_png_encoder sp_png_encoder;
sp_png_encoder *sp_png_encoder_new(void);
void sp_png_encoder_free(sp_png_encoder *e);
int sp_png_encode(sp_png_encoder *e, const uint8_t *px, int h, int w, int c, const uint8_t **out,
                  size_t *out_len, char *err, size_t errlen);

/* Converts channels the way PIL's convert() does: to 1 (L = ITU-R 601-2
 * luma in integer arithmetic, alpha dropped) or 3 (grey replicated, alpha
 * dropped). */
sp_image sp_image_to_channels(const sp_image *im, int c);

/* Resampling as PIL's Image.resize (what torchvision's Resize does to the
 * reference's PIL images): BILINEAR is PIL's antialiased triangle filter
 * with its 22-bit fixed-point arithmetic and 8-bit rounding between the
 * horizontal and vertical passes (16-bit images: the same filter in double
 * precision); NEAREST picks floor((x + 0.5) * in / out). */
sp_image sp_image_resize_bilinear(const sp_image *im, int h, int w);
sp_image sp_image_resize_nearest(const sp_image *im, int h, int w);

/* Writes the image into out[C,H,W] (f32, /255 or /65535). */
void sp_image_to_f32(const sp_image *im, float *out);

#endif

#include "sp_image.h"
#include "sp_error.h"

#include <errno.h>
#include <png.h>
#include <setjmp.h>
#include <stdlib.h>
#include <string.h>

/* Largest side accepted from a file: a corrupt header cannot ask for more. */
#define PNG_MAX_SIDE 16384

void sp_image_free(sp_image *im)
{
    free(im->px);
    im->px = NULL;
}

sp_image sp_image_alloc(int h, int w, int c, int depth)
{
    sp_image im = {h, w, c, depth, NULL};
    im.px = sp_malloc((size_t)h * (size_t)w * (size_t)c * sizeof *im.px);
    return im;
}

typedef struct {
    char msg[200];
    jmp_buf jb;
} png_err;

static void on_error(png_structp png, png_const_charp msg)
{
    png_err *e = png_get_error_ptr(png);
    snprintf(e->msg, sizeof e->msg, "%s", msg);
    longjmp(e->jb, 1);
}

static void on_warning(png_structp png, png_const_charp msg)
{
    (void)png;
    (void)msg; /* libpng warnings (e.g. sRGB profile quirks) are not errors */
}

/* Reads the file; labels=1 keeps palette indices and grey values as they
 * are.  Returns 0, or -1 with the reason in err (nothing allocated). */
static int read_png(const char *path, int labels, sp_image *out, char *errbuf, size_t errlen)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        snprintf(errbuf, errlen, "%s: cannot open: %s", path, strerror(errno));
        return -1;
    }
    unsigned char sig[8];
    if (fread(sig, 1, 8, f) != 8 || png_sig_cmp(sig, 0, 8) != 0) {
        fclose(f);
        snprintf(errbuf, errlen, "%s: not a PNG file", path);
        return -1;
    }
    png_err err;
    png_structp png = png_create_read_struct(PNG_LIBPNG_VER_STRING, &err, on_error, on_warning);
    png_infop info = png ? png_create_info_struct(png) : NULL;
    if (!info)
        sp_fatal("out of memory");
    /* Volatile: assigned between setjmp and a possible longjmp. */
    uint8_t *volatile rows_data = NULL;
    png_bytep *volatile rows = NULL;
    if (setjmp(err.jb)) {
        png_destroy_read_struct(&png, &info, NULL);
        fclose(f);
        free(rows_data);
        free(rows);
        snprintf(errbuf, errlen, "%s: corrupt PNG: %s", path, err.msg);
        return -1;
    }
    png_init_io(png, f);
    png_set_sig_bytes(png, 8);
    png_set_user_limits(png, PNG_MAX_SIDE, PNG_MAX_SIDE);
    png_read_info(png, info);
    int type = png_get_color_type(png, info), depth = png_get_bit_depth(png, info);
    if (type == PNG_COLOR_TYPE_PALETTE && !labels)
        png_set_palette_to_rgb(png);
    if (depth < 8)
        png_set_packing(png); /* one byte per sample, values unchanged */
    if (type == PNG_COLOR_TYPE_GRAY && depth < 8 && !labels)
        png_set_expand_gray_1_2_4_to_8(png);
    if (png_get_valid(png, info, PNG_INFO_tRNS) && !labels)
        png_set_tRNS_to_alpha(png);
    if (depth == 16)
        png_set_swap(png); /* host order for uint16 */
    png_set_interlace_handling(png);
    png_read_update_info(png, info);
    int h = (int)png_get_image_height(png, info), w = (int)png_get_image_width(png, info);
    int c = png_get_channels(png, info), d = png_get_bit_depth(png, info);
    size_t rowbytes = png_get_rowbytes(png, info);
    rows_data = sp_malloc(rowbytes * (size_t)h);
    rows = sp_malloc(sizeof(png_bytep) * (size_t)h);
    for (int y = 0; y < h; y++)
        rows[y] = rows_data + (size_t)y * rowbytes;
    png_read_image(png, rows);
    png_read_end(png, NULL);
    png_destroy_read_struct(&png, &info, NULL);
    fclose(f);
    sp_image im = sp_image_alloc(h, w, c, d == 16 ? 16 : 8);
    size_t n = (size_t)h * (size_t)w * (size_t)c;
    if (d == 16) {
        memcpy(im.px, rows_data, n * 2);
    } else {
        for (size_t i = 0; i < n; i++)
            im.px[i] = rows_data[i];
    }
    free(rows_data);
    free(rows);
    *out = im;
    return 0;
}

int sp_png_try_read(const char *path, sp_image *out, char *err, size_t errlen)
{
    return read_png(path, 0, out, err, errlen);
}

sp_image sp_png_read(const char *path)
{
    char err[512];
    sp_image im;
    if (read_png(path, 0, &im, err, sizeof err) != 0)
        sp_fatal("%s", err);
    return im;
}

int sp_png_try_read_labels(const char *path, sp_tensor **out, char *err, size_t errlen)
{
    sp_image im;
    if (read_png(path, 1, &im, err, errlen) != 0)
        return -1;
    sp_tensor *t = sp_tensor_newv(SP_I32, 2, (int64_t)im.h, (int64_t)im.w);
    int32_t *lab = sp_i32(t);
    size_t n = (size_t)im.h * (size_t)im.w;
    for (size_t i = 0; i < n; i++) {
        const uint16_t *p = im.px + i * (size_t)im.c;
        if (im.c >= 3 && (p[0] != p[1] || p[1] != p[2])) {
            sp_image_free(&im);
            sp_tensor_free(t);
            snprintf(err, errlen, "%s: label image is in colour (R, G, B differ at pixel %zu); "
                     "labels need grey or palette PNGs", path, i);
            return -1;
        }
        lab[i] = p[0]; /* grey value, palette index or common R=G=B value; alpha ignored */
    }
    sp_image_free(&im);
    *out = t;
    return 0;
}

sp_tensor *sp_png_read_labels(const char *path)
{
    char err[512];
    sp_tensor *t;
    if (sp_png_try_read_labels(path, &t, err, sizeof err) != 0)
        sp_fatal("%s", err);
    return t;
}

void sp_png_write(const char *path, const uint8_t *px, int h, int w, int c)
{
    char err[256];
    const uint8_t *png;
    size_t len;
    sp_png_encoder *e = sp_png_encoder_new();
    if (sp_png_encode(e, px, h, w, c, &png, &len, err, sizeof err) != 0)
        sp_fatal("%s: %s", path, err);
    FILE *f = sp_outfile_open(path);
    if (fwrite(png, 1, len, f) != len)
        sp_fatal("%s: write failed", path);
    sp_outfile_commit(f);
    sp_png_encoder_free(e);
}

sp_image sp_image_to_channels(const sp_image *im, int c)
{
    sp_image out = sp_image_alloc(im->h, im->w, c, im->depth);
    size_t n = (size_t)im->h * (size_t)im->w;
    for (size_t i = 0; i < n; i++) {
        const uint16_t *p = im->px + i * (size_t)im->c;
        uint16_t *q = out.px + i * (size_t)c;
        int colour = im->c >= 3;
        if (c == 1) {
            /* PIL's L = R*299/1000 + G*587/1000 + B*114/1000, fixed point. */
            q[0] = colour ? (uint16_t)(((uint32_t)p[0] * 19595u + (uint32_t)p[1] * 38470u +
                                        (uint32_t)p[2] * 7471u + 0x8000u) >> 16)
                          : p[0];
        } else {
            q[0] = p[0];
            q[1] = colour ? p[1] : p[0];
            q[2] = colour ? p[2] : p[0];
        }
    }
    return out;
}

void sp_image_to_f32(const sp_image *im, float *out)
{
    /* A division, not a multiplication by the reciprocal: torchvision's
     * ToTensor divides by 255, and the two differ in the last bit. */
    float scale = im->depth == 16 ? 65535.0f : 255.0f;
    size_t hw = (size_t)im->h * (size_t)im->w;
    for (int ch = 0; ch < im->c; ch++)
        for (size_t i = 0; i < hw; i++)
            out[(size_t)ch * hw + i] = (float)im->px[i * (size_t)im->c + (size_t)ch] / scale;
}

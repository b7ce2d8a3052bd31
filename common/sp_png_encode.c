/* A small PNG encoder into memory (8-bit grey, grey+alpha, RGB, RGBA; one
 * IDAT) that keeps its deflate stream between images: libpng sets up and
 * frees zlib's ~300 KB state for every file, which for small images (35x35
 * Tetrominoes) costs more than everything else together.  One encoder per
 * thread; no global state, so threads may encode in parallel.
 * Settings: zlib level 3; filter SUB for colour images (smooth shading
 * compresses better), none for grey (flat label maps). */
#include "sp_image.h"
#include "sp_error.h"

#include <stdlib.h>
#include <string.h>
#include <zlib.h>

struct sp_png_encoder {
    uint8_t *data;
    size_t len, cap;
    uint8_t *rows; /* filtered rows: h * (1 + w * c) */
    size_t rows_cap;
    z_stream z;
    int z_ready;
};

sp_png_encoder *sp_png_encoder_new(void) { return sp_calloc(1, sizeof(sp_png_encoder)); }

static void put32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24), p[1] = (uint8_t)(v >> 16), p[2] = (uint8_t)(v >> 8), p[3] = (uint8_t)v;
}

/* Appends a chunk whose data (n bytes) already sits at e->data + e->len + 8. */
static void close_chunk(sp_png_encoder *e, const char *type, size_t n)
{
    uint8_t *p = e->data + e->len;
    put32(p, (uint32_t)n);
    memcpy(p + 4, type, 4);
    put32(p + 8 + n, (uint32_t)crc32(crc32(0L, Z_NULL, 0), p + 4, (uInt)(n + 4)));
    e->len += 12 + n;
}

void sp_png_encoder_free(sp_png_encoder *e)
{
    if (!e)
        return;
    if (e->z_ready)
        deflateEnd(&e->z);
    free(e->data);
    free(e->rows);
    free(e);
}

int sp_png_encode(sp_png_encoder *e, const uint8_t *px, int h, int w, int c, const uint8_t **out,
                  size_t *out_len, char *err, size_t errlen)
{
    static const uint8_t colour_type[5] = {0, 0, 4, 2, 6};
    if (c < 1 || c > 4 || h <= 0 || w <= 0) {
        snprintf(err, errlen, "cannot encode a %dx%dx%d image", h, w, c);
        return -1;
    }
    size_t stride = (size_t)w * (size_t)c, raw = (size_t)h * (1 + stride);
    if (!e->z_ready) {
        memset(&e->z, 0, sizeof e->z);
        if (deflateInit2(&e->z, 3, Z_DEFLATED, 15, 8, Z_DEFAULT_STRATEGY) != Z_OK) {
            snprintf(err, errlen, "zlib: cannot initialise");
            return -1;
        }
        e->z_ready = 1;
    } else if (deflateReset(&e->z) != Z_OK) {
        snprintf(err, errlen, "zlib: cannot reset");
        return -1;
    }
    if (e->rows_cap < raw) {
        e->rows = sp_realloc(e->rows, raw);
        e->rows_cap = raw;
    }
    for (int y = 0; y < h; y++) {
        const uint8_t *src = px + (size_t)y * stride;
        uint8_t *dst = e->rows + (size_t)y * (1 + stride);
        if (c >= 3) {
            dst[0] = 1; /* SUB: each byte minus the same channel of the pixel to its left */
            for (size_t i = 0; i < stride; i++)
                dst[1 + i] = (uint8_t)(src[i] - (i >= (size_t)c ? src[i - (size_t)c] : 0));
        } else {
            dst[0] = 0;
            memcpy(dst + 1, src, stride);
        }
    }
    size_t bound = deflateBound(&e->z, (uLong)raw), need = 8 + 25 + 12 + bound + 12;
    if (e->cap < need) {
        e->data = sp_realloc(e->data, need);
        e->cap = need;
    }
    static const uint8_t sig[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
    memcpy(e->data, sig, 8);
    e->len = 8;
    uint8_t *ihdr = e->data + e->len + 8;
    put32(ihdr, (uint32_t)w);
    put32(ihdr + 4, (uint32_t)h);
    ihdr[8] = 8;              /* bit depth */
    ihdr[9] = colour_type[c]; /* grey, grey+alpha, RGB, RGBA */
    ihdr[10] = ihdr[11] = ihdr[12] = 0; /* deflate, adaptive filtering, no interlace */
    close_chunk(e, "IHDR", 13);
    e->z.next_in = e->rows;
    e->z.avail_in = (uInt)raw;
    e->z.next_out = e->data + e->len + 8;
    e->z.avail_out = (uInt)bound;
    if (deflate(&e->z, Z_FINISH) != Z_STREAM_END) {
        snprintf(err, errlen, "zlib: compression failed");
        return -1;
    }
    close_chunk(e, "IDAT", bound - e->z.avail_out);
    close_chunk(e, "IEND", 0);
    *out = e->data;
    *out_len = e->len;
    return 0;
}

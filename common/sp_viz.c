/* Pictures of models and reconstructions (see sp_viz.h). */
#include "sp_viz.h"

#include "sp_clamp.h"
#include "sp_error.h"
#include "sp_image.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PAD 2

typedef struct {
    uint8_t *px;
    int w, h, scale;
    int ch, cw; /* cell size in image pixels */
} canvas;

static uint8_t byte_of(float v)
{
    return !(v > 0.0f) ? 0 : v >= 1.0f ? 255 : (uint8_t)(v * 255.0f + 0.5f);
}

/* Cell (row, col): pixel (y, x) gets rgb. */
static void dot(canvas *c, int row, int col, int y, int x, const uint8_t *rgb)
{
    for (int dy = 0; dy < c->scale; dy++)
        for (int dx = 0; dx < c->scale; dx++) {
            int py = PAD + row * (c->ch * c->scale + PAD) + y * c->scale + dy;
            int px = PAD + col * (c->cw * c->scale + PAD) + x * c->scale + dx;
            memcpy(c->px + ((size_t)py * c->w + px) * 3, rgb, 3);
        }
}

static canvas canvas_new(int rows, int cols, int ch, int cw, int scale)
{
    canvas c = {NULL, PAD + cols * (cw * scale + PAD), PAD + rows * (ch * scale + PAD), scale, ch, cw};
    c.px = sp_malloc((size_t)c.w * c.h * 3);
    memset(c.px, 255, (size_t)c.w * c.h * 3);
    return c;
}

static void canvas_write(canvas *c, const char *path)
{
    sp_png_write(path, c->px, c->h, c->w, 3); /* atomic */
    free(c->px);
}

/* An image [C, h, w] (C 1 or 3) into a cell. */
static void draw_image(canvas *c, int row, int col, const float *x, int C, int h, int w)
{
    for (int y = 0; y < h; y++)
        for (int xx = 0; xx < w; xx++) {
            uint8_t rgb[3];
            for (int k = 0; k < 3; k++)
                rgb[k] = byte_of(x[(size_t)(C == 3 ? k : 0) * h * w + (size_t)y * w + xx]);
            dot(c, row, col, y, xx, rgb);
        }
}

void sp_viz_sprites(const sp_model *m, const char *path, int scale)
{
    sp_clamp cl;
    if (sp_clamp_parse(sp_config_str(m->cfg, "model.use_clamp"), &cl) != 0)
        cl.kind = SP_CLAMP_HARD, cl.alpha = 0;
    const int K = m->n_sprites, C = m->C, h = m->h, w = m->w;
    const size_t hw = (size_t)h * w;
    int cols = K > m->M ? K : m->M, rows = 2 + (m->M > 0);
    int ch = h > m->H ? h : m->H, cw = w > m->W ? w : m->W;
    canvas c = canvas_new(rows, cols, ch, cw, scale);
    const float *proto = sp_f32(sp_model_find(m, "prototype_params"));
    const float *mask = sp_f32(sp_model_find(m, "mask_params"));
    float *s = sp_malloc(sizeof(float) * (size_t)3 * hw), *mk = sp_malloc(sizeof(float) * hw);
    for (int k = 0; k < K; k++) {
        sp_clamp_forward(mk, mask + (size_t)k * hw, hw, cl);
        for (int q = 0; q < 3; q++)
            for (size_t i = 0; i < hw; i++) {
                float v = sp_clamp1(proto[((size_t)k * C + (C == 3 ? q : 0)) * hw + i], cl);
                s[(size_t)q * hw + i] = mk[i] * v + (1 - mk[i]) * 0.5f; /* over grey */
            }
        draw_image(&c, 0, k, s, 3, h, w);
        draw_image(&c, 1, k, mk, 1, h, w);
    }
    free(s);
    free(mk);
    if (m->M > 0) {
        const float *b = sp_f32(sp_model_find(m, "bkg_params"));
        const size_t HW = (size_t)m->H * m->W;
        float *bb = sp_malloc(sizeof(float) * (size_t)C * HW);
        for (int k = 0; k < m->M; k++) {
            sp_clamp_forward(bb, b + (size_t)k * C * HW, (size_t)C * HW, cl);
            draw_image(&c, 2, k, bb, C, m->H, m->W);
        }
        free(bb);
    }
    canvas_write(&c, path);
}

void sp_viz_pairs(const float *x, const float *recon, int n, int C, int H, int W, const char *path, int scale)
{
    canvas c = canvas_new(2, n, H, W, scale);
    const size_t one = (size_t)C * H * W;
    for (int i = 0; i < n; i++) {
        draw_image(&c, 0, i, x + (size_t)i * one, C, H, W);
        draw_image(&c, 1, i, recon + (size_t)i * one, C, H, W);
    }
    canvas_write(&c, path);
}

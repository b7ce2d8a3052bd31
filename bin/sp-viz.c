/* sp-viz: draws a grid PNG of a stream: one row per image, one column per
 * entry among image, recon (colour) and mask, pred_mask, sem_mask, pred_sem
 * (ids colour-coded, 0 = black).  Reads the whole stream (so a truncated one
 * is still an error) but keeps only the first --max images (with --every K,
 * images 0, K, 2K, ... of the stream). */
#include "sp_start.h"
#include "sp_error.h"
#include "sp_image.h"
#include "sp_opt.h"
#include "sp_model.h"
#include "sp_stream.h"
#include "sp_viz.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

static const char *const all_columns[] = {"image", "recon", "mask", "pred_mask", "sem_mask", "pred_sem"};
#define NCOL_MAX 6
#define PAD 2

/* Distinct colours for ids 1, 2, ... (id 0, the background, is black). */
static const uint8_t palette[20][3] = {
    {230, 25, 75},  {60, 180, 75},   {255, 225, 25}, {0, 130, 200},   {245, 130, 48},
    {145, 30, 180}, {70, 240, 240},  {240, 50, 230}, {210, 245, 60},  {250, 190, 212},
    {0, 128, 128},  {220, 190, 255}, {170, 110, 40}, {255, 250, 200}, {128, 0, 0},
    {170, 255, 195}, {128, 128, 0},  {255, 215, 180}, {0, 0, 128},    {128, 128, 128}};

typedef struct {
    int ncol;
    const char *col[NCOL_MAX];
    int h, w, rows, max, scale;
    int64_t every, seen; /* draw images 0, every, 2 every, ... of the stream; images seen so far */
    uint8_t *canvas; /* rows grow as images arrive: allocated for max rows */
    int cw, ch;      /* canvas size */
} grid;

static void id_colour(int64_t id, uint8_t *rgb)
{
    if (id <= 0) {
        rgb[0] = rgb[1] = rgb[2] = 0;
        return;
    }
    memcpy(rgb, palette[(id - 1) % 20], 3);
}

static void put(grid *g, int row, int col, int y, int x, const uint8_t *rgb)
{
    for (int dy = 0; dy < g->scale; dy++)
        for (int dx = 0; dx < g->scale; dx++) {
            int py = PAD + row * (g->h * g->scale + PAD) + y * g->scale + dy;
            int px = PAD + col * (g->w * g->scale + PAD) + x * g->scale + dx;
            memcpy(g->canvas + ((size_t)py * (size_t)g->cw + (size_t)px) * 3, rgb, 3);
        }
}

static uint8_t to_byte(float v)
{
    if (!(v > 0.0f))
        return 0;
    if (v >= 1.0f)
        return 255;
    return (uint8_t)(v * 255.0f + 0.5f);
}

static void check_shape(const sp_reader *r, const char *name, const sp_tensor *t, int want_ndim,
                        int64_t n, int h, int w)
{
    int ok = t->ndim == want_ndim && t->shape[0] == n && t->shape[want_ndim - 2] == h &&
             t->shape[want_ndim - 1] == w;
    if (want_ndim == 4)
        ok = ok && (t->shape[1] == 1 || t->shape[1] == 3) && t->dtype == SP_F32;
    else
        ok = ok && (t->dtype == SP_U8 || t->dtype == SP_I32 || t->dtype == SP_I64);
    if (!ok) {
        char buf[128];
        sp_fatal("%s: batch %lld: entry '%s' is %s, expected %s [%lld,%s%d,%d]", sp_reader_name(r),
                 (long long)sp_reader_count(r) - 1, name, sp_tensor_describe(t, buf, sizeof buf),
                 want_ndim == 4 ? "f32" : "an integer tensor", (long long)n,
                 want_ndim == 4 ? "C," : "", h, w);
    }
}

static void draw_batch(grid *g, const sp_reader *r, const sp_map *b)
{
    const sp_tensor *first = sp_map_tensor(b, g->col[0]);
    int64_t n = first->shape[0];
    for (int64_t i = 0; i < n && g->rows < g->max; i++) {
        if ((g->seen + i) % g->every != 0)
            continue;
        for (int c = 0; c < g->ncol; c++) {
            const sp_tensor *t = sp_map_tensor(b, g->col[c]);
            if (!t)
                sp_fatal("%s: batch %lld: entry '%s' is missing (it was in the first batch)",
                         sp_reader_name(r), (long long)sp_reader_count(r) - 1, g->col[c]);
            int colour = c < 2 && (!strcmp(g->col[c], "image") || !strcmp(g->col[c], "recon"));
            check_shape(r, g->col[c], t, colour ? 4 : 3, n, g->h, g->w);
            size_t hw = (size_t)g->h * (size_t)g->w;
            for (int y = 0; y < g->h; y++)
                for (int x = 0; x < g->w; x++) {
                    uint8_t rgb[3];
                    size_t p = (size_t)y * (size_t)g->w + (size_t)x;
                    if (colour) {
                        int C = (int)t->shape[1];
                        const float *f = sp_f32(t) + (size_t)i * (size_t)C * hw;
                        for (int k = 0; k < 3; k++)
                            rgb[k] = to_byte(f[(size_t)(C == 3 ? k : 0) * hw + p]);
                    } else {
                        id_colour((int64_t)sp_tensor_get(t, (size_t)i * hw + p), rgb);
                    }
                    put(g, (int)g->rows, c, y, x, rgb);
                }
        }
        g->rows++;
    }
    g->seen += n;
}

int main(int argc, char **argv)
{
    sp_main_start(argv);
    const char *out = NULL, *only = NULL, *model = NULL;
    int max = 16, scale = 0, every = 1;
    sp_opt opts[] = {
        {"out", SP_OPT_STR, &out, "FILE.png", "the picture to write (required)"},
        {"max", SP_OPT_INT, &max, "N", "rows: at most N images (default 16)"},
        {"every", SP_OPT_INT, &every, "K", "draw every K-th image of the stream (default 1: the first ones)"},
        {"scale", SP_OPT_INT, &scale, "S", "pixel size (default: cells of at least 96 px)"},
        {"entries", SP_OPT_STR, &only, "A,B", "columns to draw, in order (default: all present of "
                                               "image,recon,mask,pred_mask,sem_mask,pred_sem)"},
        {"model", SP_OPT_STR, &model, "MODEL", "draw this model's sprites, masks and backgrounds instead"},
        {0}};
    char **args;
    int nargs = sp_opt_parse(argc, argv, opts,
                             "sp-viz --out FILE.png [options] [STREAM]\n       sp-viz --model MODEL --out FILE.png",
                             "Draws a grid of a stream's images, reconstructions and colour-coded\n"
                             "masks (rows = images, columns = entries) into a PNG; with --model,\n"
                             "the model's sprites (over grey), their masks and its backgrounds.",
                             &args);
    if (!out)
        sp_fatal("--out: required (the PNG to write)");
    if (max <= 0 || max > 4096)
        sp_fatal("--max: must be between 1 and 4096 (got %d)", max);
    if (every <= 0)
        sp_fatal("--every: must be at least 1 (got %d)", every);
    if (scale < 0 || scale > 64)
        sp_fatal("--scale: must be between 1 and 64 (got %d)", scale);
    if (nargs > 1)
        sp_fatal("%s: one input stream at most", args[1]);
    if (model) {
        if (nargs)
            sp_fatal("%s: --model draws a model, not a stream", args[0]);
        sp_model *m = sp_model_read_part(model, "encoder."); /* draws sprites only */
        sp_viz_sprites(m, out, scale ? scale : 4);
        fprintf(stderr, "sp-viz: %s: %d sprites%s\n", out, m->n_sprites, m->M ? " and backgrounds" : "");
        sp_model_free(m);
        return 0;
    }
    FILE *in = stdin;
    const char *inname = "stdin";
    if (nargs == 1) {
        inname = args[0];
        if (!(in = fopen(inname, "rb")))
            sp_fatal("%s: cannot open: %s", inname, strerror(errno));
    }
    sp_reader *r = sp_reader_open(in, inname);
    sp_map b = {0};
    grid g = {0};
    g.max = max;
    g.every = every;
    int64_t index;
    while (sp_reader_next_stream(r))
        while (sp_reader_next_batch(r, &b, &index)) {
            if (!g.canvas) {
                /* Columns and cell size come from the first batch. */
                for (int c = 0; c < NCOL_MAX; c++) {
                    const char *name = all_columns[c];
                    int wanted = 1;
                    if (only) {
                        /* exact match of a comma-separated item */
                        const char *p = strstr(only, name);
                        size_t n = strlen(name);
                        wanted = 0;
                        while (p && !wanted) {
                            wanted = (p == only || p[-1] == ',') && (p[n] == 0 || p[n] == ',');
                            p = strstr(p + 1, name);
                        }
                    }
                    if (wanted && sp_map_tensor(&b, name))
                        g.col[g.ncol++] = name;
                }
                if (g.ncol == 0)
                    sp_fatal("%s: batch 0: none of image, recon, mask, pred_mask, sem_mask, "
                             "pred_sem%s to draw", inname, only ? " (as chosen by --entries)" : "");
                const sp_tensor *t = sp_map_tensor(&b, g.col[0]);
                if (t->ndim < 3)
                    sp_fatal("%s: batch 0: entry '%s' has %d dimensions, expected 3 or 4", inname,
                             g.col[0], t->ndim);
                g.h = (int)t->shape[t->ndim - 2];
                g.w = (int)t->shape[t->ndim - 1];
                if (g.h <= 0 || g.w <= 0 || g.h > 4096 || g.w > 4096)
                    sp_fatal("%s: batch 0: images of %dx%d cannot be drawn", inname, g.h, g.w);
                g.scale = scale ? scale : (96 + g.h - 1) / g.h;
                if (g.scale < 1)
                    g.scale = 1;
                g.cw = PAD + g.ncol * (g.w * g.scale + PAD);
                g.ch = PAD + max * (g.h * g.scale + PAD);
                g.canvas = sp_malloc((size_t)g.cw * (size_t)g.ch * 3);
                memset(g.canvas, 255, (size_t)g.cw * (size_t)g.ch * 3);
            }
            if (g.rows < g.max)
                draw_batch(&g, r, &b);
        }
    if (!g.canvas || g.rows == 0)
        sp_fatal("%s: no images in the stream", inname);
    int height = PAD + g.rows * (g.h * g.scale + PAD);
    sp_png_write(out, g.canvas, height, g.cw, 3);
    fprintf(stderr, "sp-viz: %s: %d rows x %d columns (", out, g.rows, g.ncol);
    for (int c = 0; c < g.ncol; c++)
        fprintf(stderr, "%s%s", c ? ", " : "", g.col[c]);
    fprintf(stderr, ")\n");
    free(g.canvas);
    sp_map_free(&b);
    sp_reader_close(r);
    if (in != stdin)
        fclose(in);
    return 0;
}

/* sp-baseline: trivial predictors that fill pred_mask / pred_sem without any
 * learning, as a floor for sp-eval and a way to run the chain end to end.
 *   background: every pixel is background (pred_mask = 0)
 *   colour:     4-connected regions of one hue, brighter than --threshold,
 *               are instances (numbered 1.. in raster order); pred_sem = 1
 *               on them.  The hue of a pixel is the set of its channels
 *               above half its brightest one, so shading (the bevel of
 *               Tetrominoes blocks) does not split a region. */
#include "sp_start.h"
#include "sp_error.h"
#include "sp_filter.h"
#include "sp_opt.h"

#include <stdlib.h>
#include <string.h>

static unsigned hue(const float *img, size_t hw, int c, size_t p)
{
    float top = 0;
    unsigned bits = 0;
    for (int k = 0; k < c; k++)
        top = img[(size_t)k * hw + p] > top ? img[(size_t)k * hw + p] : top;
    for (int k = 0; k < c && k < 32; k++)
        bits |= (unsigned)(img[(size_t)k * hw + p] > 0.5f * top) << k;
    return bits;
}

static int same_colour(const float *img, size_t hw, int c, size_t a, size_t b)
{
    return hue(img, hw, c, a) == hue(img, hw, c, b);
}

/* Labels regions of one image by flood fill with an explicit stack. */
static void colour_regions(int32_t *out, int32_t *sem, const float *img, int c, int h, int w,
                           float threshold, size_t *stack)
{
    size_t hw = (size_t)h * (size_t)w;
    int32_t next = 1;
    memset(out, 0, hw * sizeof *out);
    for (size_t p = 0; p < hw; p++) {
        float bright = 0;
        for (int k = 0; k < c; k++)
            bright = img[(size_t)k * hw + p] > bright ? img[(size_t)k * hw + p] : bright;
        sem[p] = bright > threshold;
    }
    for (size_t p = 0; p < hw; p++) {
        if (!sem[p] || out[p])
            continue;
        size_t top = 0;
        stack[top++] = p;
        out[p] = next;
        while (top) {
            size_t q = stack[--top];
            int y = (int)(q / (size_t)w), x = (int)(q % (size_t)w);
            const int dy[4] = {-1, 1, 0, 0}, dx[4] = {0, 0, -1, 1};
            for (int k = 0; k < 4; k++) {
                int ny = y + dy[k], nx = x + dx[k];
                if (ny < 0 || ny >= h || nx < 0 || nx >= w)
                    continue;
                size_t n = (size_t)ny * (size_t)w + (size_t)nx;
                if (sem[n] && !out[n] && same_colour(img, hw, c, p, n)) {
                    out[n] = next;
                    stack[top++] = n;
                }
            }
        }
        next++;
    }
}

typedef struct {
    int colour; /* method: 1 colour, 0 background */
    float threshold;
} baseline;

/* Adds pred_mask and pred_sem to one batch (ctx: the baseline). */
static void predict_batch(sp_map *b, int64_t idx, void *ctx)
{
    const baseline *o = ctx;
    const sp_tensor *img = sp_filter_image(b, idx);
    int64_t n = img->shape[0], c = img->shape[1], h = img->shape[2], wd = img->shape[3];
    sp_tensor *pm = sp_tensor_newv(SP_I32, 3, n, h, wd);
    sp_tensor *ps = sp_tensor_newv(SP_I32, 3, n, h, wd);
    size_t hw = (size_t)h * (size_t)wd;
    if (o->colour) {
        size_t *stack = sp_malloc(sizeof(size_t) * (hw ? hw : 1));
        for (int64_t i = 0; i < n; i++)
            colour_regions(sp_i32(pm) + (size_t)i * hw, sp_i32(ps) + (size_t)i * hw,
                           sp_f32(img) + (size_t)i * (size_t)c * hw, (int)c, (int)h,
                           (int)wd, o->threshold, stack);
        free(stack);
    }
    sp_map_put_tensor(b, "pred_mask", pm);
    sp_map_put_tensor(b, "pred_sem", ps);
}

int main(int argc, char **argv)
{
    sp_main_start(argv);
    double threshold = 0.0;
    const char *drop = NULL;
    sp_opt opts[] = {
        {"threshold", SP_OPT_DOUBLE, &threshold, "T",
         "colour: pixels whose brightest channel is at most T are background (default 0)"},
        SP_FILTER_DROP_OPT(&drop),
        {0}};
    char **args;
    int nargs = sp_opt_parse(argc, argv, opts, "sp-baseline background|colour [options]",
                             "Adds pred_mask and pred_sem (i32 [N,H,W]) to every batch from a trivial\n"
                             "rule: 'background' predicts no object; 'colour' takes each 4-connected\n"
                             "region of one hue as an instance.  Everything else passes through.",
                             &args);
    if (nargs != 1 || (strcmp(args[0], "background") != 0 && strcmp(args[0], "colour") != 0))
        sp_fatal("expected the method: background or colour (see --help)");
    int colour = strcmp(args[0], "colour") == 0;
    baseline o = {colour, (float)threshold};
    sp_filter f = {"sp-baseline", NULL, predict_batch, &o, drop};
    sp_filter_run(&f);
    return 0;
}

/* Multi-dSprites, "coloured sprites on a greyscale background" (DeepMind
 * multi_object_datasets, colored_on_grayscale), rendered from (seed, index).
 *
 * The dSprites npz is not available, so the shapes are drawn analytically,
 * binary (a pixel is inside when its centre is):
 *   square:  side 20 px x scale (the measured dSprites size);
 *   ellipse: axes 2:1, area equal to the square's;
 *   heart:   (x^2 + y^2 - 1)^3 - x^2 y^3 <= 0 (lobes up at orientation 0),
 *            area equal to the square's, centred on its bounding box;
 * rotated counter-clockwise (as seen) by the orientation, centred at
 * 16 + 32 * pos pixels (pos in linspace(0, 1, 32); pixel i spans [i, i+1)).
 * Latents as in dSprites: scale linspace(0.5, 1, 6), orientation
 * linspace(0, 2 pi, 40), x and y linspace(0, 1, 32), each uniform.
 * Scene: 2..5 objects (uniform), uniform grey background 0..255, colours
 * HSV with hue U[0,1), saturation and value U[0.5,1]; later objects occlude
 * earlier ones; a scene where some object keeps fewer than 10 visible
 * pixels is drawn again (same object count).  formats/dataset.md lists
 * which of these are facts and which assumptions. */
#include "sp_gen.h"
#include "sp_rng.h"

#include <math.h>
#include <string.h>

const char *const sp_dsprite_shape_names[SP_DSPR_SHAPES + 1] = {"background", "square", "ellipse",
                                                                "heart"};

#define N SP_DSPR_SIZE

/* Heart of the implicit curve above: area 3.66196 (numerical), bounding box
 * x in [-1.1384, 1.1384], y in [-0.99737, 1.23593]. */
#define HEART_AREA 3.661963
#define HEART_YMID 0.119281

static const double PI = 3.14159265358979323846;

int sp_dsprite_raster(const sp_dsprite *s, uint8_t *mask)
{
    memset(mask, 0, N * N);
    double scale = 0.5 + 0.1 * s->scale;
    double theta = 2.0 * PI * s->orientation / (SP_DSPR_ORIENTATIONS - 1);
    double cx = 16.0 + 32.0 * s->x / (SP_DSPR_POSITIONS - 1);
    double cy = 16.0 + 32.0 * s->y / (SP_DSPR_POSITIONS - 1);
    double c = cos(theta), sn = sin(theta);
    double side = 20.0 * scale, area = side * side;
    /* Shape parameters and a radius that bounds the shape around its centre. */
    double half = side / 2;                             /* square */
    double eb = sqrt(area / (2.0 * PI)), ea = 2.0 * eb; /* ellipse semi-axes */
    double hk = sqrt(area / HEART_AREA);                /* heart: px per unit */
    double radius = s->shape == 1 ? half * 1.4143 : s->shape == 2 ? ea : hk * 1.62;
    int y0 = (int)floor(cy - radius - 1), y1 = (int)ceil(cy + radius + 1);
    int x0 = (int)floor(cx - radius - 1), x1 = (int)ceil(cx + radius + 1);
    y0 = y0 < 0 ? 0 : y0;
    x0 = x0 < 0 ? 0 : x0;
    y1 = y1 > N - 1 ? N - 1 : y1;
    x1 = x1 > N - 1 ? N - 1 : x1;
    int count = 0;
    for (int py = y0; py <= y1; py++)
        for (int px = x0; px <= x1; px++) {
            /* Offset of the pixel centre, y up; then into the shape's frame
             * (rotation by -theta). */
            double X = px + 0.5 - cx, Y = cy - (py + 0.5);
            double u = c * X + sn * Y, v = -sn * X + c * Y;
            int in;
            if (s->shape == 1) {
                in = fabs(u) <= half && fabs(v) <= half;
            } else if (s->shape == 2) {
                in = (u * u) / (ea * ea) + (v * v) / (eb * eb) <= 1.0;
            } else {
                double hx = u / hk, hy = v / hk + HEART_YMID;
                double q = hx * hx + hy * hy - 1.0;
                in = q * q * q - hx * hx * hy * hy * hy <= 0.0;
            }
            if (in) {
                mask[py * N + px] = 1;
                count++;
            }
        }
    return count;
}

static void hsv_to_rgb(double h, double s, double v, uint8_t rgb[3])
{
    double hh = h * 6.0;
    int i = (int)floor(hh);
    double f = hh - i;
    double p = v * (1 - s), q = v * (1 - s * f), t = v * (1 - s * (1 - f));
    double r, g, b;
    switch (i % 6) {
    case 0: r = v, g = t, b = p; break;
    case 1: r = q, g = v, b = p; break;
    case 2: r = p, g = v, b = t; break;
    case 3: r = p, g = q, b = v; break;
    case 4: r = t, g = p, b = v; break;
    default: r = v, g = p, b = q; break;
    }
    rgb[0] = (uint8_t)(r * 255.0 + 0.5);
    rgb[1] = (uint8_t)(g * 255.0 + 0.5);
    rgb[2] = (uint8_t)(b * 255.0 + 0.5);
}

int sp_gen_multi_dsprites(uint64_t seed, uint64_t index, uint8_t *rgb, uint8_t *inst, uint8_t *sem,
                          sp_dsprite *objects, uint8_t *background)
{
    sp_rng r;
    sp_rng_init(&r, seed, SP_GEN_STREAM(SP_GEN_MULTI_DSPRITES, index));
    int n = SP_DSPR_MIN_OBJECTS +
            (int)sp_rng_below(&r, SP_DSPR_MAX_OBJECTS - SP_DSPR_MIN_OBJECTS + 1);
    uint8_t bg = (uint8_t)sp_rng_below(&r, 256);
    sp_dsprite o[SP_DSPR_MAX_OBJECTS];
    uint8_t mask[N * N];
    for (;;) {
        memset(inst, 0, N * N);
        memset(sem, 0, N * N);
        for (int k = 0; k < n; k++) {
            sp_dsprite *s = &o[k];
            s->shape = 1 + (int)sp_rng_below(&r, SP_DSPR_SHAPES);
            s->scale = (int)sp_rng_below(&r, SP_DSPR_SCALES);
            s->orientation = (int)sp_rng_below(&r, SP_DSPR_ORIENTATIONS);
            s->x = (int)sp_rng_below(&r, SP_DSPR_POSITIONS);
            s->y = (int)sp_rng_below(&r, SP_DSPR_POSITIONS);
            double h = sp_rng_double(&r), sat = 0.5 + 0.5 * sp_rng_double(&r),
                   val = 0.5 + 0.5 * sp_rng_double(&r);
            hsv_to_rgb(h, sat, val, s->rgb);
            sp_dsprite_raster(s, mask);
            for (int i = 0; i < N * N; i++)
                if (mask[i]) {
                    inst[i] = (uint8_t)(k + 1);
                    sem[i] = (uint8_t)s->shape;
                }
        }
        int visible[SP_DSPR_MAX_OBJECTS + 1] = {0};
        for (int i = 0; i < N * N; i++)
            visible[inst[i]]++;
        int ok = 1;
        for (int k = 1; k <= n; k++)
            ok &= visible[k] >= SP_DSPR_MIN_VISIBLE;
        if (ok)
            break;
    }
    for (int i = 0; i < N * N; i++) {
        int k = inst[i];
        for (int ch = 0; ch < 3; ch++)
            rgb[3 * i + ch] = k ? o[k - 1].rgb[ch] : bg;
    }
    if (objects)
        memcpy(objects, o, (size_t)n * sizeof *o);
    if (background)
        *background = bg;
    return n;
}

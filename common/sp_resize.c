/* PIL-compatible resampling (see sp_image.h).  The reference resizes PIL
 * images with torchvision's Resize, so matching PIL bit for bit keeps our
 * inputs identical to the reference's. */
#include "sp_image.h"
#include "sp_error.h"

#include <math.h>
#include <stdlib.h>

#define PRECISION_BITS (32 - 8 - 2)

static double triangle(double x)
{
    if (x < 0)
        x = -x;
    return x < 1.0 ? 1.0 - x : 0.0;
}

/* For each output position: first source index, count, and normalised
 * weights (ksize per output).  Same arithmetic as PIL's precompute_coeffs. */
static int coeffs(int in_size, int out_size, int **bounds_out, double **k_out)
{
    double scale = (double)in_size / out_size, filterscale = scale < 1.0 ? 1.0 : scale;
    double support = 1.0 * filterscale;
    int ksize = (int)ceil(support) * 2 + 1;
    int *bounds = sp_malloc(sizeof(int) * 2 * (size_t)out_size);
    double *kk = sp_calloc((size_t)out_size * (size_t)ksize, sizeof(double));
    for (int xx = 0; xx < out_size; xx++) {
        double center = (xx + 0.5) * scale, ww = 0.0, ss = 1.0 / filterscale;
        int xmin = (int)(center - support + 0.5), xmax = (int)(center + support + 0.5);
        if (xmin < 0)
            xmin = 0;
        if (xmax > in_size)
            xmax = in_size;
        xmax -= xmin;
        double *k = kk + (size_t)xx * (size_t)ksize;
        for (int x = 0; x < xmax; x++) {
            double w = triangle((x + xmin - center + 0.5) * ss);
            k[x] = w;
            ww += w;
        }
        for (int x = 0; x < xmax; x++)
            if (ww != 0.0)
                k[x] /= ww;
        bounds[2 * xx] = xmin;
        bounds[2 * xx + 1] = xmax;
    }
    *bounds_out = bounds;
    *k_out = kk;
    return ksize;
}

static int *fixed_coeffs(const double *k, size_t n)
{
    int *q = sp_malloc(sizeof(int) * n);
    for (size_t i = 0; i < n; i++)
        q[i] = k[i] < 0 ? (int)(-0.5 + k[i] * (1 << PRECISION_BITS))
                        : (int)(0.5 + k[i] * (1 << PRECISION_BITS));
    return q;
}

static uint16_t clip8(int64_t v)
{
    if (v >= ((int64_t)1 << PRECISION_BITS << 8))
        return 255;
    if (v <= 0)
        return 0;
    return (uint16_t)(v >> PRECISION_BITS);
}

static uint16_t clip16(double v)
{
    v = floor(v + 0.5);
    return v < 0 ? 0 : v > 65535 ? 65535 : (uint16_t)v;
}

/* One pass along one axis.  axis 0: along x (rows), axis 1: along y. */
static sp_image pass(const sp_image *in, int out_len, int axis)
{
    int in_len = axis == 0 ? in->w : in->h;
    int *bounds;
    double *kd;
    int ksize = coeffs(in_len, out_len, &bounds, &kd);
    int *kq = fixed_coeffs(kd, (size_t)out_len * (size_t)ksize);
    sp_image out = axis == 0 ? sp_image_alloc(in->h, out_len, in->c, in->depth)
                             : sp_image_alloc(out_len, in->w, in->c, in->depth);
    int c = in->c;
    size_t stride = axis == 0 ? (size_t)c : (size_t)in->w * (size_t)c; /* step along the axis */
    int lines = axis == 0 ? in->h : in->w;
    for (int line = 0; line < lines; line++)
        for (int o = 0; o < out_len; o++) {
            int xmin = bounds[2 * o], xmax = bounds[2 * o + 1];
            const int *k = kq + (size_t)o * (size_t)ksize;
            const double *kdd = kd + (size_t)o * (size_t)ksize;
            size_t base_in = axis == 0 ? (size_t)line * (size_t)in->w * (size_t)c
                                       : (size_t)line * (size_t)c;
            size_t at_out = axis == 0 ? ((size_t)line * (size_t)out_len + (size_t)o) * (size_t)c
                                      : ((size_t)o * (size_t)in->w + (size_t)line) * (size_t)c;
            for (int ch = 0; ch < c; ch++) {
                const uint16_t *src = in->px + base_in + (size_t)ch + (size_t)xmin * stride;
                if (in->depth == 8) {
                    int64_t ss = (int64_t)1 << (PRECISION_BITS - 1);
                    for (int x = 0; x < xmax; x++)
                        ss += (int64_t)src[(size_t)x * stride] * k[x];
                    out.px[at_out + (size_t)ch] = clip8(ss);
                } else {
                    double ss = 0;
                    for (int x = 0; x < xmax; x++)
                        ss += src[(size_t)x * stride] * kdd[x];
                    out.px[at_out + (size_t)ch] = clip16(ss);
                }
            }
        }
    free(bounds);
    free(kd);
    free(kq);
    return out;
}

static sp_image copy_image(const sp_image *im)
{
    sp_image out = sp_image_alloc(im->h, im->w, im->c, im->depth);
    for (size_t i = 0; i < (size_t)im->h * (size_t)im->w * (size_t)im->c; i++)
        out.px[i] = im->px[i];
    return out;
}

sp_image sp_image_resize_bilinear(const sp_image *im, int h, int w)
{
    /* PIL restricts the horizontal pass to the rows the vertical pass reads;
     * running it on every row gives the same values for those rows. */
    sp_image tmp = im->w != w ? pass(im, w, 0) : copy_image(im);
    if (im->h == h)
        return tmp;
    sp_image out = pass(&tmp, h, 1);
    sp_image_free(&tmp);
    return out;
}

sp_image sp_image_resize_nearest(const sp_image *im, int h, int w)
{
    sp_image out = sp_image_alloc(h, w, im->c, im->depth);
    double sx = (double)im->w / w, sy = (double)im->h / h;
    int *xin = sp_malloc(sizeof(int) * (size_t)w);
    /* PIL accumulates the source coordinate: xo = 0.5 * scale, += scale. */
    double xo = 0.5 * sx;
    for (int x = 0; x < w; x++, xo += sx)
        xin[x] = xo < 0 ? -1 : (int)xo >= im->w ? im->w - 1 : (int)xo;
    double yo = 0.5 * sy;
    for (int y = 0; y < h; y++, yo += sy) {
        int yi = (int)yo >= im->h ? im->h - 1 : (int)yo;
        for (int x = 0; x < w; x++)
            for (int ch = 0; ch < im->c; ch++)
                out.px[((size_t)y * (size_t)w + (size_t)x) * (size_t)im->c + (size_t)ch] =
                    im->px[((size_t)yi * (size_t)im->w + (size_t)xin[x]) * (size_t)im->c + (size_t)ch];
    }
    free(xin);
    return out;
}

#define _DEFAULT_SOURCE
/* The generators of common/sp_gen.h.  Tetrominoes: one checker of the facts
 * measured on real images (size, black background, three pieces of exactly
 * 100 px made of four 5x5 blocks on the piece's own grid, one of the 19
 * shapes, one of the 6 colours, every lit channel = the bevel, nothing else
 * lit), run on the 10 real images of ../shared/data/tetrominoes-real10 (when
 * present) and on 200 generated ones, whose histograms must then cover all
 * 19 shapes and 6 colours.  Multi-dSprites: object count, grey background,
 * masks consistent with the image and the returned objects, shape areas,
 * containment, coverage of every latent.  Both: determinism in (seed, i). */
#include "sp_test.h"
#include "sp_error.h"
#include "sp_gen.h"
#include "sp_image.h"

#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define T SP_TETRO_SIZE
#define D SP_DSPR_SIZE

/* ---------------------------------------------------------- Tetrominoes */

typedef struct {
    int shape[SP_TETRO_SHAPES];
    int colour[SP_TETRO_COLOURS];
    int off_grid; /* pieces whose offset is not a multiple of 5 */
} tetro_hist;

/* Checks one image (rgb HWC, inst ids, sem or NULL); on failure writes why
 * and returns 0.  Found pieces go into the histogram and, when want is not
 * NULL, must match it (shape, colour, offset). */
static int check_tetro(const uint8_t *rgb, const int *inst, const uint8_t *sem,
                       const sp_tetro_piece *want, tetro_hist *hist, char *why, size_t whylen)
{
    int count[256] = {0};
    for (int i = 0; i < T * T; i++) {
        if (inst[i] < 0 || inst[i] > 255) {
            snprintf(why, whylen, "instance id %d", inst[i]);
            return 0;
        }
        count[inst[i]]++;
        if (inst[i] == 0 && (rgb[3 * i] || rgb[3 * i + 1] || rgb[3 * i + 2])) {
            snprintf(why, whylen, "background pixel %d is not black", i);
            return 0;
        }
        if (sem && (inst[i] == 0) != (sem[i] == 0)) {
            snprintf(why, whylen, "sem and inst disagree on the background at %d", i);
            return 0;
        }
    }
    for (int k = 1; k < 256; k++)
        if ((k <= SP_TETRO_PIECES) != (count[k] > 0)) {
            snprintf(why, whylen, "piece ids are not exactly 1..%d (id %d has %d px)",
                     SP_TETRO_PIECES, k, count[k]);
            return 0;
        }
    for (int k = 1; k <= SP_TETRO_PIECES; k++) {
        if (count[k] != 100) {
            snprintf(why, whylen, "piece %d has %d px, not 100", k, count[k]);
            return 0;
        }
        int y0 = T, x0 = T, y1 = -1, x1 = -1;
        for (int i = 0; i < T * T; i++)
            if (inst[i] == k) {
                int y = i / T, x = i % T;
                y0 = y < y0 ? y : y0, x0 = x < x0 ? x : x0;
                y1 = y > y1 ? y : y1, x1 = x > x1 ? x : x1;
            }
        int rows = (y1 - y0 + 1) / 5, cols = (x1 - x0 + 1) / 5;
        if ((y1 - y0 + 1) % 5 || (x1 - x0 + 1) % 5 || rows > 4 || cols > 4) {
            snprintf(why, whylen, "piece %d: bounding box %dx%d is not whole blocks", k,
                     y1 - y0 + 1, x1 - x0 + 1);
            return 0;
        }
        /* Block occupancy: each block wholly the piece's, or wholly not. */
        int occ[4][4] = {{0}};
        for (int by = 0; by < rows; by++)
            for (int bx = 0; bx < cols; bx++) {
                int n = 0;
                for (int dy = 0; dy < 5; dy++)
                    for (int dx = 0; dx < 5; dx++)
                        n += inst[(y0 + 5 * by + dy) * T + x0 + 5 * bx + dx] == k;
                if (n != 0 && n != 25) {
                    snprintf(why, whylen, "piece %d: block (%d,%d) is partly covered", k, by, bx);
                    return 0;
                }
                occ[by][bx] = n == 25;
            }
        int shape = -1;
        for (int s = 0; s < SP_TETRO_SHAPES && shape < 0; s++) {
            const sp_tetro_shape *sh = &sp_tetro_shapes[s];
            if (sh->rows != rows || sh->cols != cols)
                continue;
            int o[4][4] = {{0}}, same = 1;
            for (int c = 0; c < 4; c++)
                o[sh->cell[c][0]][sh->cell[c][1]] = 1;
            for (int by = 0; by < 4; by++)
                for (int bx = 0; bx < 4; bx++)
                    same &= o[by][bx] == occ[by][bx];
            if (same)
                shape = s;
        }
        if (shape < 0) {
            snprintf(why, whylen, "piece %d: block pattern is none of the 19 shapes", k);
            return 0;
        }
        /* Colour: the set of lit channels, the same in every pixel; each lit
         * channel equals the bevel at the pixel's place in its block. */
        int colour = -1;
        for (int i = 0; i < T * T; i++) {
            if (inst[i] != k)
                continue;
            int y = i / T, x = i % T, v = sp_tetro_bevel[(y - y0) % 5][(x - x0) % 5];
            uint8_t on[3];
            for (int ch = 0; ch < 3; ch++) {
                int p = rgb[3 * i + ch];
                if (p != 0 && p != v) {
                    snprintf(why, whylen, "piece %d: pixel (%d,%d) channel %d is %d, bevel %d", k,
                             y, x, ch, p, v);
                    return 0;
                }
                on[ch] = p != 0;
            }
            int c = -1;
            for (int j = 0; j < SP_TETRO_COLOURS; j++)
                if (memcmp(on, sp_tetro_colour_on[j], 3) == 0)
                    c = j;
            if (c < 0 || (colour >= 0 && c != colour)) {
                snprintf(why, whylen, "piece %d: pixel (%d,%d) has a colour outside the set", k, y,
                         x);
                return 0;
            }
            colour = c;
            if (sem && sem[i] != shape + 1) {
                snprintf(why, whylen, "piece %d: sem %d, shape %d", k, sem[i], shape + 1);
                return 0;
            }
        }
        if (want && (want[k - 1].shape != shape || want[k - 1].colour != colour ||
                     want[k - 1].y != y0 || want[k - 1].x != x0)) {
            snprintf(why, whylen, "piece %d differs from the one the generator returned", k);
            return 0;
        }
        hist->shape[shape]++;
        hist->colour[colour]++;
        hist->off_grid += y0 % 5 != 0 || x0 % 5 != 0;
    }
    return 1;
}

static const char *data_dir(void)
{
    const char *d = getenv("SP_DATA");
    return d && *d ? d : "../shared/data";
}

static void test_tetro_real(void)
{
    char dir[512], path[600], why[256] = "";
    snprintf(dir, sizeof dir, "%s/tetrominoes-real10", data_dir());
    struct stat st;
    if (stat(dir, &st) != 0) {
        printf("ok tetrominoes real images match the checker # skipped: no data (%s)\n", dir);
        return;
    }
    tetro_hist hist;
    memset(&hist, 0, sizeof hist);
    int ok = 1, n = 0;
    for (int i = 0; ok && i < 10; i++) {
        snprintf(path, sizeof path, "%s/images/%d.png", dir, i);
        sp_image im = sp_png_read(path);
        snprintf(path, sizeof path, "%s/masks/%d.png", dir, i);
        sp_tensor *m = sp_png_read_labels(path);
        if (im.h != T || im.w != T || im.c != 3 || im.depth != 8 || m->shape[0] != T ||
            m->shape[1] != T) {
            snprintf(why, sizeof why, "image %d: %dx%dx%d, not 35x35x3", i, im.h, im.w, im.c);
            ok = 0;
        } else {
            uint8_t rgb[T * T * 3];
            for (int j = 0; j < T * T * 3; j++)
                rgb[j] = (uint8_t)im.px[j];
            char inner[200];
            ok = check_tetro(rgb, sp_i32(m), NULL, NULL, &hist, inner, sizeof inner);
            if (!ok)
                snprintf(why, sizeof why, "image %d: %s", i, inner);
            n++;
        }
        sp_image_free(&im);
        sp_tensor_free(m);
    }
    CHECK("tetrominoes real images match the checker", ok, "%s", why);
    int off = hist.off_grid;
    CHECK("tetrominoes real pieces sit off the 5-px grid too", ok && off > 0,
          "%d of %d pieces off the grid", off, 3 * n);
}

static void test_tetro_generated(void)
{
    enum { COUNT = 200 };
    tetro_hist hist;
    memset(&hist, 0, sizeof hist);
    uint8_t rgb[T * T * 3], inst[T * T], sem[T * T];
    int ids[T * T];
    char why[256] = "";
    int ok = 1, touching = 0;
    for (int i = 0; ok && i < COUNT; i++) {
        sp_tetro_piece p[SP_TETRO_PIECES];
        sp_gen_tetrominoes(7, (uint64_t)i, rgb, inst, sem, p);
        for (int j = 0; j < T * T; j++)
            ids[j] = inst[j];
        ok = check_tetro(rgb, ids, sem, p, &hist, why, sizeof why);
        for (int y = 0; y < T; y++)
            for (int x = 0; x + 1 < T; x++) {
                int a = inst[y * T + x], b = inst[y * T + x + 1];
                touching += a && b && a != b;
            }
    }
    CHECK("tetrominoes 200 generated images match the checker", ok, "%s", why);
    int shapes = 0, colours = 0;
    for (int s = 0; s < SP_TETRO_SHAPES; s++)
        shapes += hist.shape[s] > 0;
    for (int c = 0; c < SP_TETRO_COLOURS; c++)
        colours += hist.colour[c] > 0;
    CHECK("tetrominoes generated shapes cover all 19", shapes == SP_TETRO_SHAPES, "%d of 19",
          shapes);
    CHECK("tetrominoes generated colours cover all 6", colours == SP_TETRO_COLOURS, "%d of 6",
          colours);
    /* Uniform: 600 pieces, 31.6 expected per shape, 100 per colour. */
    int lo = COUNT * 3, hi = 0;
    for (int s = 0; s < SP_TETRO_SHAPES; s++)
        lo = hist.shape[s] < lo ? hist.shape[s] : lo, hi = hist.shape[s] > hi ? hist.shape[s] : hi;
    CHECK("tetrominoes shape histogram is near uniform", lo >= 10 && hi <= 60,
          "counts range %d..%d (expected ~32)", lo, hi);
    CHECK("tetrominoes pieces at any pixel offset", hist.off_grid > COUNT * 3 / 2,
          "%d of %d off the 5-px grid", hist.off_grid, COUNT * 3);
    CHECK("tetrominoes pieces may touch", touching > 0, "no two pieces ever touch");
}

/* The checker itself rejects images that break one fact each. */
static void test_tetro_checker_rejects(void)
{
    uint8_t rgb[T * T * 3], inst[T * T], sem[T * T];
    int ids[T * T], rejected = 0, cases = 0;
    char why[256];
    tetro_hist hist;
    sp_tetro_piece p[SP_TETRO_PIECES];
    for (int c = 0; c < 5; c++) {
        sp_gen_tetrominoes(1, 0, rgb, inst, sem, p);
        for (int j = 0; j < T * T; j++)
            ids[j] = inst[j];
        int first = -1, bgpx = -1;
        for (int j = 0; j < T * T; j++) {
            if (inst[j] == 1 && first < 0)
                first = j;
            if (inst[j] == 0 && bgpx < 0)
                bgpx = j;
        }
        if (c == 0) { /* a wrong bevel value */
            rgb[3 * first] = rgb[3 * first + 1] = rgb[3 * first + 2] = 200;
        } else if (c == 1) { /* a background pixel not black */
            rgb[3 * bgpx + 1] = 1;
        } else if (c == 2) { /* a piece of 99 px */
            ids[first] = 0;
            rgb[3 * first] = rgb[3 * first + 1] = rgb[3 * first + 2] = 0;
        } else if (c == 3) { /* a piece of 101 px */
            ids[bgpx] = 1;
        } else { /* two pieces */
            for (int j = 0; j < T * T; j++)
                if (ids[j] == 3) {
                    ids[j] = 0;
                    rgb[3 * j] = rgb[3 * j + 1] = rgb[3 * j + 2] = 0;
                }
        }
        memset(&hist, 0, sizeof hist);
        cases++;
        rejected += !check_tetro(rgb, ids, NULL, NULL, &hist, why, sizeof why);
    }
    CHECK("tetrominoes checker rejects broken images", rejected == cases, "%d of %d rejected",
          rejected, cases);
}

static void test_tetro_determinism(void)
{
    uint8_t a[T * T * 5], b[T * T * 5];
    int same = 1, differ = 0;
    for (int i = 0; i < 50; i++) {
        sp_gen_tetrominoes(3, (uint64_t)i, a, a + T * T * 3, a + T * T * 4, NULL);
        sp_gen_tetrominoes(3, (uint64_t)i, b, b + T * T * 3, b + T * T * 4, NULL);
        same &= memcmp(a, b, sizeof a) == 0;
        sp_gen_tetrominoes(4, (uint64_t)i, b, b + T * T * 3, b + T * T * 4, NULL);
        differ += memcmp(a, b, sizeof a) != 0;
    }
    CHECK("tetrominoes same (seed, i) gives the same image", same, "differs");
    CHECK("tetrominoes another seed gives other images", differ == 50, "%d of 50 differ", differ);
}

/* ------------------------------------------------------- Multi-dSprites */

static void test_dsprites_raster(void)
{
    uint8_t m[D * D];
    int ok_area = 1, ok_inside = 1, ok_sym = 1;
    char why[256] = "";
    for (int shape = 1; shape <= 3; shape++)
        for (int sc = 0; sc < SP_DSPR_SCALES; sc++) {
            double s = 0.5 + 0.1 * sc, want = 400.0 * s * s;
            for (int o = 0; o < SP_DSPR_ORIENTATIONS; o += 3) {
                sp_dsprite d = {shape, sc, o, 15, 16, {255, 255, 255}};
                int n = sp_dsprite_raster(&d, m);
                /* Binary rasters of these sizes stay within ~8% of the area
                 * (the 10x10 square at 45 degrees is the worst). */
                if (n < want * 0.88 || n > want * 1.12) {
                    ok_area = 0;
                    snprintf(why, sizeof why, "shape %d scale %d orientation %d: %d px, area %.0f",
                             shape, sc, o, n, want);
                }
            }
            /* Every drawn pixel centre lies within 16 px (per axis) of the
             * sprite's centre, at every sub-pixel phase the 32 positions
             * give; centres lie in [16, 48], so nothing is ever clipped. */
            for (int o = 0; o < SP_DSPR_ORIENTATIONS; o++)
                for (int pos = 0; pos < SP_DSPR_POSITIONS; pos++) {
                    sp_dsprite d = {shape, sc, o, pos, pos, {0}};
                    double c = 16.0 + 32.0 * pos / (SP_DSPR_POSITIONS - 1);
                    sp_dsprite_raster(&d, m);
                    for (int i = 0; i < D * D; i++)
                        if (m[i] && (fabs(i / D + 0.5 - c) >= 16.0 || fabs(i % D + 0.5 - c) >= 16.0))
                            ok_inside = 0;
                }
        }
    CHECK("dsprites shape areas match the square's (20 px x scale)^2", ok_area, "%s", why);
    CHECK("dsprites sprites stay within 16 px of their centre (never clipped)", ok_inside,
          "a pixel 16 px or more from the centre");
    /* Orientation 0 and the last one (2 pi) are the same drawing. */
    uint8_t m2[D * D];
    for (int shape = 1; shape <= 3; shape++) {
        sp_dsprite a = {shape, 5, 0, 10, 20, {0}}, b = a;
        b.orientation = SP_DSPR_ORIENTATIONS - 1;
        sp_dsprite_raster(&a, m);
        sp_dsprite_raster(&b, m2);
        int diff = 0;
        for (int i = 0; i < D * D; i++)
            diff += m[i] != m2[i];
        ok_sym &= diff <= 2;
    }
    CHECK("dsprites orientation 2 pi draws as 0", ok_sym, "drawings differ");
    /* Heart upright at orientation 0: more pixels in the upper half. */
    sp_dsprite h = {3, 5, 0, 16, 16, {0}};
    sp_dsprite_raster(&h, m);
    int top = 0, bottom = 0;
    for (int i = 0; i < D * D; i++)
        if (m[i]) {
            if (i / D < 32)
                top++;
            else
                bottom++;
        }
    CHECK("dsprites heart is upright at orientation 0", top > bottom, "top %d bottom %d", top,
          bottom);
}

static void test_dsprites_generated(void)
{
    enum { COUNT = 200 };
    uint8_t rgb[D * D * 3], inst[D * D], sem[D * D], bg;
    sp_dsprite o[SP_DSPR_MAX_OBJECTS];
    int ncount[SP_DSPR_MAX_OBJECTS + 1] = {0}, shapes[4] = {0}, scales[SP_DSPR_SCALES] = {0};
    int bg_lo = 255, bg_hi = 0, ok = 1, occluded = 0;
    char why[256] = "";
    for (int i = 0; ok && i < COUNT; i++) {
        int n = sp_gen_multi_dsprites(11, (uint64_t)i, rgb, inst, sem, o, &bg);
        if (n < SP_DSPR_MIN_OBJECTS || n > SP_DSPR_MAX_OBJECTS) {
            snprintf(why, sizeof why, "image %d: %d objects", i, n);
            ok = 0;
            break;
        }
        ncount[n]++;
        bg_lo = bg < bg_lo ? bg : bg_lo, bg_hi = bg > bg_hi ? bg : bg_hi;
        int vis[SP_DSPR_MAX_OBJECTS + 1] = {0};
        for (int p = 0; ok && p < D * D; p++) {
            int k = inst[p];
            const uint8_t *c = rgb + 3 * p;
            if (k > n) {
                snprintf(why, sizeof why, "image %d: id %d of %d objects", i, k, n), ok = 0;
            } else if (k == 0 && (c[0] != bg || c[1] != bg || c[2] != bg || sem[p] != 0)) {
                snprintf(why, sizeof why, "image %d: background pixel %d is not grey %d", i, p, bg),
                    ok = 0;
            } else if (k > 0 && (memcmp(c, o[k - 1].rgb, 3) != 0 || sem[p] != o[k - 1].shape ||
                                 sem[p] < 1 || sem[p] > 3)) {
                snprintf(why, sizeof why, "image %d: pixel %d is not object %d's colour/class", i,
                         p, k),
                    ok = 0;
            }
            vis[k]++;
        }
        /* Each object: not grey (saturation >= 0.5), visible, drawn where its
         * own raster says, and hidden only by later objects. */
        uint8_t m[D * D];
        for (int k = 1; ok && k <= n; k++) {
            const uint8_t *c = o[k - 1].rgb;
            int mx = c[0] > c[1] ? c[0] : c[1], mn = c[0] < c[1] ? c[0] : c[1];
            mx = c[2] > mx ? c[2] : mx, mn = c[2] < mn ? c[2] : mn;
            if (mx - mn < 60 || mx < 127) {
                snprintf(why, sizeof why, "image %d: object %d colour %d,%d,%d", i, k, c[0], c[1],
                         c[2]);
                ok = 0;
            }
            if (vis[k] < SP_DSPR_MIN_VISIBLE) {
                snprintf(why, sizeof why, "image %d: object %d has %d visible px", i, k, vis[k]);
                ok = 0;
            }
            int area = sp_dsprite_raster(&o[k - 1], m);
            occluded += area > vis[k];
            for (int p = 0; ok && p < D * D; p++)
                if ((inst[p] == k && !m[p]) || (m[p] && inst[p] < k)) {
                    snprintf(why, sizeof why, "image %d: object %d mask disagrees at %d", i, k, p);
                    ok = 0;
                }
            shapes[o[k - 1].shape]++;
            scales[o[k - 1].scale]++;
        }
    }
    CHECK("dsprites 200 generated images are consistent", ok, "%s", why);
    int all_n = 1, all_shapes = shapes[1] && shapes[2] && shapes[3], all_scales = 1;
    for (int n = SP_DSPR_MIN_OBJECTS; n <= SP_DSPR_MAX_OBJECTS; n++)
        all_n &= ncount[n] > 20;
    for (int s = 0; s < SP_DSPR_SCALES; s++)
        all_scales &= scales[s] > 0;
    CHECK("dsprites object counts cover 2..5", all_n, "counts %d %d %d %d", ncount[2], ncount[3],
          ncount[4], ncount[5]);
    CHECK("dsprites shapes cover square ellipse heart", all_shapes, "%d %d %d", shapes[1],
          shapes[2], shapes[3]);
    CHECK("dsprites scales cover all 6", all_scales, "missing a scale");
    CHECK("dsprites backgrounds span dark to light greys", bg_lo < 30 && bg_hi > 225,
          "range %d..%d", bg_lo, bg_hi);
    CHECK("dsprites objects occlude each other", occluded > 20, "%d occluded objects", occluded);
}

static void test_dsprites_determinism(void)
{
    uint8_t a[D * D * 5], b[D * D * 5];
    int same = 1, differ = 0, differ_index = 0;
    for (int i = 0; i < 50; i++) {
        sp_gen_multi_dsprites(3, (uint64_t)i, a, a + D * D * 3, a + D * D * 4, NULL, NULL);
        sp_gen_multi_dsprites(3, (uint64_t)i, b, b + D * D * 3, b + D * D * 4, NULL, NULL);
        same &= memcmp(a, b, sizeof a) == 0;
        sp_gen_multi_dsprites(4, (uint64_t)i, b, b + D * D * 3, b + D * D * 4, NULL, NULL);
        differ += memcmp(a, b, sizeof a) != 0;
        sp_gen_multi_dsprites(3, (uint64_t)i + 1, b, b + D * D * 3, b + D * D * 4, NULL, NULL);
        differ_index += memcmp(a, b, sizeof a) != 0;
    }
    CHECK("dsprites same (seed, i) gives the same image", same, "differs");
    CHECK("dsprites another seed gives other images", differ == 50, "%d of 50 differ", differ);
    CHECK("dsprites another index gives another image", differ_index == 50, "%d of 50 differ",
          differ_index);
}

/* sp-gen's files decode (with libpng, sp_png_read) to exactly what the
 * renderers give for (seed, i): its own PNG encoder and the file layout. */
static void test_sp_gen_files(void)
{
    struct stat st;
    if (stat("bin/sp-gen", &st) != 0) {
        printf("ok sp-gen files decode to the rendered images # skipped: no bin/sp-gen\n");
        return;
    }
    char dir[300], cmd[512], path[600], why[1200] = "";
    const char *tmpdir = getenv("TMPDIR");
    snprintf(dir, sizeof dir, "%s/sp-test-gen.XXXXXX", tmpdir && *tmpdir ? tmpdir : "/tmp");
    if (!mkdtemp(dir)) {
        CHECK("sp-gen files decode to the rendered images", 0, "mkdtemp failed");
        return;
    }
    int ok = 1;
    for (int kind = 0; ok && kind < 2; kind++) {
        const sp_gen_info *info = sp_gen_kind_info((sp_gen_kind)kind);
        int h = info->h, w = info->w, n = 12;
        snprintf(cmd, sizeof cmd, "bin/sp-gen %s --count %d --seed 21 --threads 2 --quiet --out %s/%s",
                 info->name, n, dir, info->name);
        if (system(cmd) != 0) {
            snprintf(why, sizeof why, "%s failed", cmd);
            ok = 0;
            break;
        }
        uint8_t *buf = malloc((size_t)h * w * 5);
        for (int i = 0; ok && i < n; i++) {
            sp_gen_render((sp_gen_kind)kind, 21, (uint64_t)i, buf, buf + h * w * 3, buf + h * w * 4);
            static const char *sub[3] = {"images", "masks", "sem_masks"};
            for (int f = 0; ok && f < 3; f++) {
                snprintf(path, sizeof path, "%s/%s/%s/%d.png", dir, info->name, sub[f], i);
                sp_image im = sp_png_read(path);
                int c = f == 0 ? 3 : 1;
                const uint8_t *want = f == 0 ? buf : buf + h * w * (2 + f);
                int same = im.h == h && im.w == w && im.c == c && im.depth == 8;
                for (int j = 0; same && j < h * w * c; j++)
                    same = im.px[j] == want[j];
                if (!same) {
                    snprintf(why, sizeof why, "%s differs", path);
                    ok = 0;
                }
                sp_image_free(&im);
            }
        }
        free(buf);
    }
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    if (system(cmd) != 0)
        ok = 0;
    CHECK("sp-gen files decode to the rendered images", ok, "%s", why);
}

static void test_dispatch(void)
{
    const sp_gen_info *t = sp_gen_kind_info(SP_GEN_TETROMINOES),
                      *d = sp_gen_kind_info(SP_GEN_MULTI_DSPRITES);
    CHECK("gen kinds parse and describe themselves",
          sp_gen_kind_parse("tetrominoes") == SP_GEN_TETROMINOES &&
              sp_gen_kind_parse("multi-dsprites") == SP_GEN_MULTI_DSPRITES &&
              sp_gen_kind_parse("clevr6") == -1 && t->h == 35 && t->n_classes == 20 && d->h == 64 &&
              d->n_classes == 4,
          "wrong table");
}

int main(void)
{
    sp_set_prog("test_gen");
    test_dispatch();
    test_tetro_real();
    test_tetro_generated();
    test_tetro_checker_rejects();
    test_tetro_determinism();
    test_dsprites_raster();
    test_dsprites_generated();
    test_dsprites_determinism();
    test_sp_gen_files();
    TEST_MAIN_END;
}

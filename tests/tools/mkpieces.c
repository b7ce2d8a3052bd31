/* mkpieces: a class-folder data set of single Tetromino pieces for the
 * short training test (issue: "a few hundred generated images of distinct
 * single tetromino pieces").  Writes DIR/<shape>/<i>.png, 35x35 RGB on
 * black: each image one piece of one of the first S shapes of
 * sp_tetro_shapes that --shapes names (indices), in one of the six colours,
 * at a uniform position (within --jitter pixels of the centre when given),
 * drawn with the generator's bevelled blocks.
 * Deterministic in --seed (Philox).
 *
 *   mkpieces DIR --count N --seed S --shapes 0,1,5,9 */
#include "sp_start.h"
#include "sp_error.h"
#include "sp_gen.h"
#include "sp_image.h"
#include "sp_opt.h"
#include "sp_rng.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

int main(int argc, char **argv)
{
    sp_main_start(argv);
    int count = 0;
    int64_t seed = 0;
    const char *shapes = "0,1,5,9";
    int jitter = -1;
    sp_opt opts[] = {{"count", SP_OPT_INT, &count, "N", "images"},
                     {"seed", SP_OPT_INT64, &seed, "S", "seed"},
                     {"shapes", SP_OPT_STR, &shapes, "LIST", "shape indices (0..18), comma separated"},
                     {"jitter", SP_OPT_INT, &jitter, "P", "positions within P pixels of the centre"},
                     {0}};
    char **args;
    if (sp_opt_parse(argc, argv, opts, "mkpieces DIR --count N [--seed S] [--shapes LIST]",
                     "Single Tetromino pieces in class folders.", &args) != 1 || count <= 0)
        sp_fatal("expected DIR and --count N > 0");
    int sh[SP_TETRO_SHAPES], ns = 0;
    for (const char *p = shapes; *p && ns < SP_TETRO_SHAPES;) {
        sh[ns] = atoi(p);
        if (sh[ns] < 0 || sh[ns] >= SP_TETRO_SHAPES)
            sp_fatal("--shapes: %d is not a shape index", sh[ns]);
        ns++;
        p = strchr(p, ',');
        if (!p)
            break;
        p++;
    }
    const char *dir = args[0];
    mkdir(dir, 0777);
    char path[4096];
    for (int s = 0; s < ns; s++) {
        snprintf(path, sizeof path, "%s/%02d-%s", dir, sh[s], sp_tetro_shapes[sh[s]].name);
        mkdir(path, 0777);
    }
    const int N = SP_TETRO_SIZE, B = SP_TETRO_BLOCK;
    uint8_t *rgb = malloc((size_t)N * N * 3);
    for (int i = 0; i < count; i++) {
        sp_rng r;
        sp_rng_init(&r, (uint64_t)seed, (uint64_t)i);
        int s = sh[i % ns], c = (int)sp_rng_below(&r, SP_TETRO_COLOURS);
        const sp_tetro_shape *t = &sp_tetro_shapes[s];
        int ry = N - t->rows * B, rx = N - t->cols * B; /* free range of the top-left corner */
        int y0 = (int)sp_rng_below(&r, (uint32_t)(ry + 1)), x0 = (int)sp_rng_below(&r, (uint32_t)(rx + 1));
        if (jitter >= 0) {
            y0 = ry / 2 - jitter + (int)sp_rng_below(&r, (uint32_t)(2 * jitter + 1));
            x0 = rx / 2 - jitter + (int)sp_rng_below(&r, (uint32_t)(2 * jitter + 1));
            y0 = y0 < 0 ? 0 : y0 > ry ? ry : y0;
            x0 = x0 < 0 ? 0 : x0 > rx ? rx : x0;
        }
        memset(rgb, 0, (size_t)N * N * 3);
        for (int q = 0; q < 4; q++)
            for (int dy = 0; dy < B; dy++)
                for (int dx = 0; dx < B; dx++) {
                    int y = y0 + t->cell[q][0] * B + dy, x = x0 + t->cell[q][1] * B + dx;
                    for (int ch = 0; ch < 3; ch++)
                        rgb[((size_t)y * N + x) * 3 + ch] = sp_tetro_colour_on[c][ch] ? sp_tetro_bevel[dy][dx] : 0;
                }
        snprintf(path, sizeof path, "%s/%02d-%s/%04d.png", dir, s, t->name, i);
        sp_png_write(path, rgb, N, N, 3);
    }
    free(rgb);
    return 0;
}

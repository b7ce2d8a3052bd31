/* Tetrominoes (DeepMind multi_object_datasets), rendered from (seed, index).
 *
 * Measured on real images (../shared/data/tetrominoes-real10): 35x35 RGB,
 * pure black background, three pieces that never overlap (they may touch),
 * each made of four 5x5 blocks aligned on the piece's own 5-px grid and
 * placed at any pixel offset fully inside the image; colours red, green,
 * blue, yellow, magenta, cyan, drawn with replacement; every lit channel of
 * a block pixel carries the bevel value below (the shade is 255, so the
 * value is the bevel itself).  Assumed: shape, colour and offset uniform and
 * independent; a piece that would overlap an earlier one is moved (a new
 * uniform offset, same shape and colour) until it fits. */
#include "sp_gen.h"
#include "sp_rng.h"

#include <string.h>

const uint8_t sp_tetro_bevel[SP_TETRO_BLOCK][SP_TETRO_BLOCK] = {
    {191, 255, 255, 255, 223},
    {127, 159, 159, 159, 191},
    {127, 159, 159, 159, 191},
    {127, 159, 159, 159, 191},
    {95, 63, 63, 63, 127},
};

const uint8_t sp_tetro_colour_on[SP_TETRO_COLOURS][3] = {
    {1, 0, 0}, {0, 1, 0}, {0, 0, 1}, {1, 1, 0}, {1, 0, 1}, {0, 1, 1},
};

const char *const sp_tetro_colour_names[SP_TETRO_COLOURS] = {"red",    "green",   "blue",
                                                             "yellow", "magenta", "cyan"};

/* The 19 one-sided tetrominoes counting rotations.  The sem mask of a piece
 * is its index here + 1. */
const sp_tetro_shape sp_tetro_shapes[SP_TETRO_SHAPES] = {
    {"O", 2, 2, {{0, 0}, {0, 1}, {1, 0}, {1, 1}}},
    {"I-h", 1, 4, {{0, 0}, {0, 1}, {0, 2}, {0, 3}}},
    {"I-v", 4, 1, {{0, 0}, {1, 0}, {2, 0}, {3, 0}}},
    {"S-h", 2, 3, {{0, 1}, {0, 2}, {1, 0}, {1, 1}}},
    {"S-v", 3, 2, {{0, 0}, {1, 0}, {1, 1}, {2, 1}}},
    {"Z-h", 2, 3, {{0, 0}, {0, 1}, {1, 1}, {1, 2}}},
    {"Z-v", 3, 2, {{0, 1}, {1, 0}, {1, 1}, {2, 0}}},
    {"T-down", 2, 3, {{0, 0}, {0, 1}, {0, 2}, {1, 1}}},
    {"T-up", 2, 3, {{0, 1}, {1, 0}, {1, 1}, {1, 2}}},
    {"T-right", 3, 2, {{0, 0}, {1, 0}, {1, 1}, {2, 0}}},
    {"T-left", 3, 2, {{0, 1}, {1, 0}, {1, 1}, {2, 1}}},
    {"L-0", 3, 2, {{0, 0}, {1, 0}, {2, 0}, {2, 1}}},
    {"L-90", 2, 3, {{0, 0}, {0, 1}, {0, 2}, {1, 0}}},
    {"L-180", 3, 2, {{0, 0}, {0, 1}, {1, 1}, {2, 1}}},
    {"L-270", 2, 3, {{0, 2}, {1, 0}, {1, 1}, {1, 2}}},
    {"J-0", 3, 2, {{0, 1}, {1, 1}, {2, 0}, {2, 1}}},
    {"J-90", 2, 3, {{0, 0}, {1, 0}, {1, 1}, {1, 2}}},
    {"J-180", 3, 2, {{0, 0}, {0, 1}, {1, 0}, {2, 0}}},
    {"J-270", 2, 3, {{0, 0}, {0, 1}, {0, 2}, {1, 2}}},
};

#define N SP_TETRO_SIZE
#define B SP_TETRO_BLOCK

/* Whether piece p (shape s at y, x) touches a non-zero pixel of inst. */
static int overlaps(const uint8_t *inst, const sp_tetro_shape *s, int y, int x)
{
    for (int k = 0; k < 4; k++) {
        int y0 = y + B * s->cell[k][0], x0 = x + B * s->cell[k][1];
        for (int dy = 0; dy < B; dy++)
            for (int dx = 0; dx < B; dx++)
                if (inst[(y0 + dy) * N + x0 + dx])
                    return 1;
    }
    return 0;
}

static void draw(uint8_t *rgb, uint8_t *inst, uint8_t *sem, const sp_tetro_piece *p, int id)
{
    const sp_tetro_shape *s = &sp_tetro_shapes[p->shape];
    const uint8_t *on = sp_tetro_colour_on[p->colour];
    for (int k = 0; k < 4; k++) {
        int y0 = p->y + B * s->cell[k][0], x0 = p->x + B * s->cell[k][1];
        for (int dy = 0; dy < B; dy++)
            for (int dx = 0; dx < B; dx++) {
                int i = (y0 + dy) * N + x0 + dx;
                uint8_t v = sp_tetro_bevel[dy][dx];
                rgb[3 * i + 0] = on[0] ? v : 0;
                rgb[3 * i + 1] = on[1] ? v : 0;
                rgb[3 * i + 2] = on[2] ? v : 0;
                inst[i] = (uint8_t)id;
                sem[i] = (uint8_t)(p->shape + 1);
            }
    }
}

void sp_gen_tetrominoes(uint64_t seed, uint64_t index, uint8_t *rgb, uint8_t *inst, uint8_t *sem,
                        sp_tetro_piece *pieces)
{
    sp_rng r;
    sp_rng_init(&r, seed, SP_GEN_STREAM(SP_GEN_TETROMINOES, index));
    sp_tetro_piece p[SP_TETRO_PIECES];
    for (;;) {
        memset(rgb, 0, N * N * 3);
        memset(inst, 0, N * N);
        memset(sem, 0, N * N);
        int placed = 0;
        while (placed < SP_TETRO_PIECES) {
            sp_tetro_piece *q = &p[placed];
            q->shape = (int)sp_rng_below(&r, SP_TETRO_SHAPES);
            q->colour = (int)sp_rng_below(&r, SP_TETRO_COLOURS);
            const sp_tetro_shape *s = &sp_tetro_shapes[q->shape];
            int tries = 0;
            do {
                q->y = (int)sp_rng_below(&r, (uint32_t)(N - B * s->rows + 1));
                q->x = (int)sp_rng_below(&r, (uint32_t)(N - B * s->cols + 1));
            } while (overlaps(inst, s, q->y, q->x) && ++tries < 1000);
            if (tries >= 1000)
                break; /* no room left (practically never): start the image over */
            draw(rgb, inst, sem, q, placed + 1);
            placed++;
        }
        if (placed == SP_TETRO_PIECES)
            break;
    }
    if (pieces)
        memcpy(pieces, p, sizeof p);
}

/* Synthetic multi-object data sets, rendered image by image.
 *
 * Image i of a set is a pure function of (seed, i): every random choice
 * comes from the Philox stream (seed, SP_GEN_STREAM(kind, i)), so images can
 * be rendered in any order, on any number of threads, with identical bytes.
 * The renderers do no I/O and allocate nothing; the caller gives buffers of
 * h*w*3 bytes (RGB, interleaved HWC) and h*w bytes for each mask:
 *   inst: 0 = background, 1..n = objects in drawing order (the visible one
 *         at each pixel);
 *   sem:  0 = background, 1.. = the object's class (Tetrominoes: shape
 *         1..19; Multi-dSprites: 1 square, 2 ellipse, 3 heart).
 * formats/dataset.md ("Generated sets") says what is measured fact and what
 * is assumption in each generator. */
#ifndef SP_GEN_H
#define SP_GEN_H

#include <stdint.h>
#include <string.h>

typedef enum { SP_GEN_TETROMINOES = 0, SP_GEN_MULTI_DSPRITES = 1 } sp_gen_kind;

/* The Philox stream of image `index`: the kind in the top byte keeps the
 * two generators (and streams of other uses, which count from 0) apart. */
#define SP_GEN_STREAM(kind, index) (((uint64_t)(kind) + 0x47u) << 56 | ((uint64_t)(index) & 0xFFFFFFFFFFFFFFull))

/* ---------------------------------------------------------- Tetrominoes */

#define SP_TETRO_SIZE 35    /* 35x35 RGB */
#define SP_TETRO_PIECES 3   /* pieces per image */
#define SP_TETRO_SHAPES 19  /* tetrominoes counting rotations */
#define SP_TETRO_COLOURS 6  /* red green blue yellow magenta cyan */
#define SP_TETRO_BLOCK 5    /* block side in pixels */

typedef struct {
    const char *name; /* "O", "I-h", "T-down", ... */
    int rows, cols;   /* extent in blocks */
    uint8_t cell[4][2]; /* the four blocks as (row, col), row-major order */
} sp_tetro_shape;

extern const sp_tetro_shape sp_tetro_shapes[SP_TETRO_SHAPES];
/* Bevel of every block (rows top to bottom), the value of a lit channel. */
extern const uint8_t sp_tetro_bevel[SP_TETRO_BLOCK][SP_TETRO_BLOCK];
/* Which channels are lit, per colour (1 = the bevel value, 0 = 0). */
extern const uint8_t sp_tetro_colour_on[SP_TETRO_COLOURS][3];
extern const char *const sp_tetro_colour_names[SP_TETRO_COLOURS];

typedef struct {
    int shape;  /* 0..18: index into sp_tetro_shapes (sem mask = shape + 1) */
    int colour; /* 0..5 */
    int y, x;   /* top-left pixel of the piece's bounding box */
} sp_tetro_piece;

/* Renders image `index`: rgb[35*35*3], inst[35*35], sem[35*35]; pieces
 * (may be NULL) receives the three pieces in drawing order (id 1, 2, 3). */
void sp_gen_tetrominoes(uint64_t seed, uint64_t index, uint8_t *rgb, uint8_t *inst, uint8_t *sem,
                        sp_tetro_piece *pieces);

/* ------------------------------------------------------- Multi-dSprites */

#define SP_DSPR_SIZE 64        /* 64x64 RGB */
#define SP_DSPR_MIN_OBJECTS 2
#define SP_DSPR_MAX_OBJECTS 5
#define SP_DSPR_SHAPES 3       /* 1 square, 2 ellipse, 3 heart */
#define SP_DSPR_SCALES 6       /* linspace(0.5, 1, 6) */
#define SP_DSPR_ORIENTATIONS 40 /* linspace(0, 2 pi, 40) */
#define SP_DSPR_POSITIONS 32   /* linspace(0, 1, 32), for x and for y */
#define SP_DSPR_MIN_VISIBLE 10 /* fewest visible pixels of any object */

typedef struct {
    int shape;       /* 1 square, 2 ellipse, 3 heart (the sem mask value) */
    int scale;       /* 0..5 */
    int orientation; /* 0..39 */
    int x, y;        /* 0..31 each */
    uint8_t rgb[3];
} sp_dsprite;

extern const char *const sp_dsprite_shape_names[SP_DSPR_SHAPES + 1]; /* [0] = "background" */

/* Draws one sprite as a binary 64x64 mask (1 inside, 0 outside; pixel
 * centres sampled, no anti-aliasing); returns its pixel count. */
int sp_dsprite_raster(const sp_dsprite *s, uint8_t *mask);

/* Renders image `index`: rgb[64*64*3], inst[64*64], sem[64*64]; returns the
 * number of objects (2..5).  objects (may be NULL, room for 5) receives them
 * in drawing order (id 1 at the bottom); *background (may be NULL) the grey
 * level of the background. */
int sp_gen_multi_dsprites(uint64_t seed, uint64_t index, uint8_t *rgb, uint8_t *inst, uint8_t *sem,
                          sp_dsprite *objects, uint8_t *background);

/* ------------------------------------------------------------- Dispatch */

typedef struct {
    const char *name; /* as on the command line */
    int h, w;
    int n_classes; /* semantic classes counting the background */
} sp_gen_info;

static inline const sp_gen_info *sp_gen_kind_info(sp_gen_kind k)
{
    static const sp_gen_info info[2] = {
        {"tetrominoes", SP_TETRO_SIZE, SP_TETRO_SIZE, SP_TETRO_SHAPES + 1},
        {"multi-dsprites", SP_DSPR_SIZE, SP_DSPR_SIZE, SP_DSPR_SHAPES + 1},
    };
    return &info[k == SP_GEN_MULTI_DSPRITES];
}

/* The kind named `name`, or -1. */
static inline int sp_gen_kind_parse(const char *name)
{
    if (strcmp(name, "tetrominoes") == 0)
        return SP_GEN_TETROMINOES;
    if (strcmp(name, "multi-dsprites") == 0)
        return SP_GEN_MULTI_DSPRITES;
    return -1;
}

static inline void sp_gen_render(sp_gen_kind k, uint64_t seed, uint64_t index, uint8_t *rgb,
                                 uint8_t *inst, uint8_t *sem)
{
    if (k == SP_GEN_MULTI_DSPRITES)
        sp_gen_multi_dsprites(seed, index, rgb, inst, sem, NULL, NULL);
    else
        sp_gen_tetrominoes(seed, index, rgb, inst, sem, NULL);
}

#endif

/* A chain of transformations, as the reference's TransformationSequence
 * (model/transformer.py) applies it with apply_parameters(x, beta): the
 * modules named by the sequence ("color_projective_tps",
 * "identity_similarity", ...) in order, each taking its slice of beta.
 * Forward keeps every intermediate image (acts) for the backward. */
#ifndef SP_TSF_SEQ_H
#define SP_TSF_SEQ_H

#include "sp_clamp.h"
#include "sp_warp.h"

#include <stddef.h>

typedef enum {
    SP_TSF_IDENTITY,
    SP_TSF_COLOR,
    SP_TSF_POSITION,
    SP_TSF_SIMILARITY,
    SP_TSF_AFFINE,
    SP_TSF_PROJECTIVE,
    SP_TSF_TPS,
    SP_TSF_MORPHO
} sp_tsf_kind;

#define SP_TSF_SEQ_MAX 8

typedef struct {
    int n;
    sp_tsf_kind kind[SP_TSF_SEQ_MAX];
    int h, w;           /* the modules' img_size: output of position, similarity, affine, tps */
    sp_padding pad;     /* 'zeros' for sprites, 'border' for backgrounds */
    int color_channels; /* ColorModule's cc (the image's channels) */
    sp_clamp clamp;     /* ColorModule's clamp (use_clamp, 'soft' by default) */
    int grid_size;      /* TPS lattice side (4) */
    int kernel_size;    /* MorphologicalModule's window (3) */
} sp_tsf_seq;

/* Parses the reference's names joined by '_' (id, identity, col, color, aff,
 * affine, pos, position, proj, projective, homography, sim, similarity, tps,
 * thinplatespline, morpho, morphological) into q->n / q->kind, leaving the
 * other fields alone; returns 0, or -1 for an unknown name or too many. */
int sp_tsf_seq_parse(sp_tsf_seq *q, const char *sequence);
/* Defaults of the reference: zeros, cc 3, soft clamp, grid 4, kernel 3
 * (h, w are set to 0: set them). */
void sp_tsf_seq_defaults(sp_tsf_seq *q);

/* Parameters of one module / of the whole chain (the regressors' outputs). */
int sp_tsf_params(const sp_tsf_seq *q, sp_tsf_kind k);
int sp_tsf_seq_params(const sp_tsf_seq *q);

/* Output shape of x [*, c, hin, win] through the chain; -1 when a module
 * cannot take its input (colour channels), else 0. */
int sp_tsf_seq_shape(const sp_tsf_seq *q, int c, int hin, int win, int *cout, int *hout,
                     int *wout);
/* Floats of the intermediate images the forward keeps for the backward
 * (all but the input and the output). */
size_t sp_tsf_seq_acts_size(const sp_tsf_seq *q, size_t n, int c, int hin, int win);

/* y [n,cout,hout,wout] from x [n,c,hin,win], beta [n, sp_tsf_seq_params]:
 * acts (sp_tsf_seq_acts_size floats) receives the intermediates, or NULL. */
void sp_tsf_seq_forward(float *y, float *acts, const float *x, const float *beta, size_t n, int c,
                        int hin, int win, const sp_tsf_seq *q);
/* dx [n,c,hin,win], dbeta [n,P] (either may be NULL) from dy; acts as the
 * forward left them, or NULL to recompute them. */
void sp_tsf_seq_backward(float *dx, float *dbeta, const float *dy, const float *x,
                         const float *beta, const float *acts, size_t n, int c, int hin, int win,
                         const sp_tsf_seq *q);

#endif

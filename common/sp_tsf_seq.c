/* TransformationSequence (see sp_tsf_seq.h). */
#include "sp_tsf_seq.h"
#include "sp_error.h"
#include "sp_tsf.h"

#include <stdlib.h>
#include <string.h>

static const struct {
    const char *name;
    sp_tsf_kind kind;
} names[] = {{"id", SP_TSF_IDENTITY},         {"identity", SP_TSF_IDENTITY},
             {"col", SP_TSF_COLOR},           {"color", SP_TSF_COLOR},
             {"aff", SP_TSF_AFFINE},          {"affine", SP_TSF_AFFINE},
             {"pos", SP_TSF_POSITION},        {"position", SP_TSF_POSITION},
             {"proj", SP_TSF_PROJECTIVE},     {"projective", SP_TSF_PROJECTIVE},
             {"homography", SP_TSF_PROJECTIVE}, {"sim", SP_TSF_SIMILARITY},
             {"similarity", SP_TSF_SIMILARITY}, {"tps", SP_TSF_TPS},
             {"thinplatespline", SP_TSF_TPS}, {"morpho", SP_TSF_MORPHO},
             {"morphological", SP_TSF_MORPHO}};

int sp_tsf_seq_parse(sp_tsf_seq *q, const char *sequence)
{
    int n = 0;
    const char *p = sequence;
    while (p && *p) {
        const char *e = strchr(p, '_');
        size_t len = e ? (size_t)(e - p) : strlen(p);
        size_t k = 0;
        while (k < sizeof names / sizeof *names &&
               !(strlen(names[k].name) == len && !strncmp(names[k].name, p, len)))
            k++;
        if (k == sizeof names / sizeof *names || n == SP_TSF_SEQ_MAX)
            return -1;
        q->kind[n++] = names[k].kind;
        p = e ? e + 1 : NULL;
    }
    if (n == 0)
        return -1;
    q->n = n;
    return 0;
}

void sp_tsf_seq_defaults(sp_tsf_seq *q)
{
    memset(q, 0, sizeof *q);
    q->pad = SP_PAD_ZEROS;
    q->color_channels = 3;
    q->clamp.kind = SP_CLAMP_SOFT;
    q->clamp.alpha = 0.01f;
    q->grid_size = 4;
    q->kernel_size = 3;
}

int sp_tsf_params(const sp_tsf_seq *q, sp_tsf_kind k)
{
    switch (k) {
    case SP_TSF_IDENTITY: return 0;
    case SP_TSF_COLOR: return 2 * q->color_channels;
    case SP_TSF_POSITION: return SP_TSF_POSITION_P;
    case SP_TSF_SIMILARITY: return SP_TSF_SIMILARITY_P;
    case SP_TSF_AFFINE: return SP_TSF_AFFINE_P;
    case SP_TSF_PROJECTIVE: return SP_TSF_PROJECTIVE_P;
    case SP_TSF_TPS: return 2 * q->grid_size * q->grid_size;
    case SP_TSF_MORPHO: return 1 + q->kernel_size * q->kernel_size;
    }
    return 0;
}

int sp_tsf_seq_params(const sp_tsf_seq *q)
{
    int P = 0;
    for (int i = 0; i < q->n; i++)
        P += sp_tsf_params(q, q->kind[i]);
    return P;
}

/* Shape after module i given its input shape. */
static int step_shape(const sp_tsf_seq *q, sp_tsf_kind k, int *c, int *h, int *w)
{
    switch (k) {
    case SP_TSF_COLOR:
        *c = sp_tsf_color_channels(*c, q->color_channels);
        return *c < 0 ? -1 : 0;
    case SP_TSF_POSITION:
    case SP_TSF_SIMILARITY:
    case SP_TSF_AFFINE:
    case SP_TSF_TPS:
        if (q->h < 1 || q->w < 1)
            return -1;
        *h = q->h, *w = q->w;
        return 0;
    default: /* identity, morpho, projective (dsize = the input's size) */
        return 0;
    }
}

int sp_tsf_seq_shape(const sp_tsf_seq *q, int c, int hin, int win, int *cout, int *hout,
                     int *wout)
{
    for (int i = 0; i < q->n; i++)
        if (step_shape(q, q->kind[i], &c, &hin, &win))
            return -1;
    *cout = c, *hout = hin, *wout = win;
    return 0;
}

/* Sizes of every stage's input and output: shapes[i] = (c, h, w) of the
 * input of module i; shapes[n] the output. */
static void stage_shapes(const sp_tsf_seq *q, int c, int h, int w, int shapes[][3])
{
    shapes[0][0] = c, shapes[0][1] = h, shapes[0][2] = w;
    for (int i = 0; i < q->n; i++) {
        if (step_shape(q, q->kind[i], &c, &h, &w))
            sp_fatal("transformation sequence: module %d cannot take %d channels", i + 1, c);
        shapes[i + 1][0] = c, shapes[i + 1][1] = h, shapes[i + 1][2] = w;
    }
}

size_t sp_tsf_seq_acts_size(const sp_tsf_seq *q, size_t n, int c, int hin, int win)
{
    int sh[SP_TSF_SEQ_MAX + 1][3];
    stage_shapes(q, c, hin, win, sh);
    size_t s = 0;
    for (int i = 1; i < q->n; i++)
        s += n * (size_t)sh[i][0] * sh[i][1] * sh[i][2];
    return s;
}

/* beta's columns [off, off + P) as a contiguous [n, P]. */
static float *columns(const float *beta, size_t n, int Ptot, int off, int P)
{
    float *b = sp_malloc(sizeof(float) * (n * P + 1));
    for (size_t r = 0; r < n; r++)
        memcpy(b + r * P, beta + r * Ptot + off, sizeof(float) * P);
    return b;
}

static void stage_forward(const sp_tsf_seq *q, sp_tsf_kind k, float *y, const float *x,
                          const float *b, size_t n, const int in[3], const int out[3])
{
    sp_warp_shape s = {n, in[0], in[1], in[2], out[1], out[2], q->pad};
    size_t hw = (size_t)in[1] * in[2];
    switch (k) {
    case SP_TSF_IDENTITY: memcpy(y, x, sizeof(float) * n * in[0] * hw); break;
    case SP_TSF_COLOR:
        sp_tsf_color_forward(y, x, b, n, in[0], q->color_channels, hw, q->clamp);
        break;
    case SP_TSF_POSITION: sp_tsf_position_forward(y, x, b, &s); break;
    case SP_TSF_SIMILARITY: sp_tsf_similarity_forward(y, x, b, &s); break;
    case SP_TSF_AFFINE: sp_tsf_affine_forward(y, x, b, &s); break;
    case SP_TSF_PROJECTIVE: sp_tsf_projective_forward(y, x, b, &s); break;
    case SP_TSF_TPS: sp_tsf_tps_forward(y, x, b, q->grid_size, &s); break;
    case SP_TSF_MORPHO:
        sp_tsf_morpho_forward(y, x, b, n, in[0], in[1], in[2], q->kernel_size);
        break;
    }
}

static void stage_backward(const sp_tsf_seq *q, sp_tsf_kind k, float *dx, float *db,
                           const float *dy, const float *x, const float *b, size_t n,
                           const int in[3], const int out[3])
{
    sp_warp_shape s = {n, in[0], in[1], in[2], out[1], out[2], q->pad};
    size_t hw = (size_t)in[1] * in[2];
    switch (k) {
    case SP_TSF_IDENTITY:
        if (dx)
            memcpy(dx, dy, sizeof(float) * n * in[0] * hw);
        break;
    case SP_TSF_COLOR:
        sp_tsf_color_backward(dx, db, dy, x, b, n, in[0], q->color_channels, hw, q->clamp);
        break;
    case SP_TSF_POSITION: sp_tsf_position_backward(dx, db, dy, x, b, &s); break;
    case SP_TSF_SIMILARITY: sp_tsf_similarity_backward(dx, db, dy, x, b, &s); break;
    case SP_TSF_AFFINE: sp_tsf_affine_backward(dx, db, dy, x, b, &s); break;
    case SP_TSF_PROJECTIVE: sp_tsf_projective_backward(dx, db, dy, x, b, &s); break;
    case SP_TSF_TPS: sp_tsf_tps_backward(dx, db, dy, x, b, q->grid_size, &s); break;
    case SP_TSF_MORPHO:
        sp_tsf_morpho_backward(dx, db, dy, x, b, n, in[0], in[1], in[2], q->kernel_size);
        break;
    }
}

void sp_tsf_seq_forward(float *y, float *acts, const float *x, const float *beta, size_t n, int c,
                        int hin, int win, const sp_tsf_seq *q)
{
    int sh[SP_TSF_SEQ_MAX + 1][3];
    stage_shapes(q, c, hin, win, sh);
    const int Ptot = sp_tsf_seq_params(q);
    float *own = NULL;
    if (!acts && q->n > 1)
        acts = own = sp_malloc(sizeof(float) * (sp_tsf_seq_acts_size(q, n, c, hin, win) + 1));
    const float *in = x;
    float *a = acts;
    int off = 0;
    for (int i = 0; i < q->n; i++) {
        int P = sp_tsf_params(q, q->kind[i]);
        float *b = columns(beta, n, Ptot, off, P);
        float *out = i + 1 < q->n ? a : y;
        stage_forward(q, q->kind[i], out, in, b, n, sh[i], sh[i + 1]);
        free(b);
        in = out;
        if (i + 1 < q->n)
            a += n * (size_t)sh[i + 1][0] * sh[i + 1][1] * sh[i + 1][2];
        off += P;
    }
    free(own);
}

void sp_tsf_seq_backward(float *dx, float *dbeta, const float *dy, const float *x,
                         const float *beta, const float *acts, size_t n, int c, int hin, int win,
                         const sp_tsf_seq *q)
{
    int sh[SP_TSF_SEQ_MAX + 1][3];
    stage_shapes(q, c, hin, win, sh);
    const int Ptot = sp_tsf_seq_params(q);
    float *own = NULL;
    if (!acts && q->n > 1) {
        float *y = sp_malloc(sizeof(float) * (n * (size_t)sh[q->n][0] * sh[q->n][1] * sh[q->n][2] + 1));
        own = sp_malloc(sizeof(float) * (sp_tsf_seq_acts_size(q, n, c, hin, win) + 1));
        sp_tsf_seq_forward(y, own, x, beta, n, c, hin, win, q);
        free(y);
        acts = own;
    }
    /* the input of every stage */
    const float *ins[SP_TSF_SEQ_MAX];
    int offs[SP_TSF_SEQ_MAX + 1];
    ins[0] = x;
    offs[0] = 0;
    const float *a = acts;
    for (int i = 0; i < q->n; i++) {
        offs[i + 1] = offs[i] + sp_tsf_params(q, q->kind[i]);
        if (i + 1 < q->n) {
            ins[i + 1] = a;
            a += n * (size_t)sh[i + 1][0] * sh[i + 1][1] * sh[i + 1][2];
        }
    }
    const float *g = dy;
    float *gbuf = NULL;
    for (int i = q->n - 1; i >= 0; i--) {
        int P = offs[i + 1] - offs[i];
        float *b = columns(beta, n, Ptot, offs[i], P);
        float *db = dbeta ? sp_malloc(sizeof(float) * (n * P + 1)) : NULL;
        float *gin = i > 0 ? sp_malloc(sizeof(float) * (n * (size_t)sh[i][0] * sh[i][1] * sh[i][2] + 1))
                           : dx;
        stage_backward(q, q->kind[i], gin, db, g, ins[i], b, n, sh[i], sh[i + 1]);
        if (db) {
            for (size_t r = 0; r < n; r++)
                memcpy(dbeta + r * Ptot + offs[i], db + r * P, sizeof(float) * P);
            free(db);
        }
        free(b);
        free(gbuf);
        gbuf = i > 0 ? gin : NULL;
        g = gin;
    }
    free(gbuf);
    free(own);
}

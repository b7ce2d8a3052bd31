/* Candidate entries of a batch; see sp_cands.h. */
#include "sp_cands.h"

#include "sp_compose.h"
#include "sp_error.h"

#include <string.h>

static const sp_tensor *need(const sp_map *b, int64_t idx, const char *name, int ndim)
{
    const sp_tensor *t = sp_map_tensor(b, name);
    if (!t)
        sp_fatal("stdin: batch %lld: needs %s (run %s first)", (long long)idx, name,
                 strncmp(name, "sel_", 4) == 0 ? "sp-select --gather" : "sp-predict");
    if (t->dtype != SP_F32 || t->ndim != ndim)
        sp_fatal("stdin: batch %lld: %s must be f32 with %d dimensions", (long long)idx, name, ndim);
    return t;
}

/* The image (absent allowed when image_use is NULL: c->img NULL; else a
 * missing one is an error saying image_use) and, when present, the
 * occlusion of a batch whose layer tensor (cand_layers or sel_layers) says
 * N, L, C, H, W. */
static void image_and_occlusion(sp_cands *c, const sp_map *b, int64_t idx, const char *lname, const char *image_use)
{
    const sp_tensor *ti = sp_map_tensor(b, "image");
    if (!ti && image_use)
        sp_fatal("stdin: batch %lld: %s", (long long)idx, image_use);
    if (ti) {
        ti = need(b, idx, "image", 4);
        const int64_t *im = ti->shape;
        if (im[0] != c->N || im[1] != c->C || im[2] != c->H || im[3] != c->W)
            sp_fatal("stdin: batch %lld: image is [%lld,%lld,%lld,%lld], %s [%lld,..,%d,%d,%d]", (long long)idx,
                     (long long)im[0], (long long)im[1], (long long)im[2], (long long)im[3], lname,
                     (long long)c->N, c->C, c->H, c->W);
    }
    const sp_tensor *to = sp_map_tensor(b, "occlusion") ? need(b, idx, "occlusion", 3) : NULL;
    if (to && (to->shape[0] != c->N || to->shape[1] != c->L || to->shape[2] != c->L))
        sp_fatal("stdin: batch %lld: occlusion must be [%lld,%d,%d]", (long long)idx, (long long)c->N, c->L,
                 c->L);
    c->img = ti ? sp_f32(ti) : NULL;
    c->occ = to ? sp_f32(to) : NULL;
}

static void gathered(sp_cands *c, const sp_map *b, int64_t idx, const char *image_use)
{
    const sp_tensor *tl = need(b, idx, SP_SEL_LAYERS, 5);
    const sp_tensor *tm = need(b, idx, SP_SEL_MASKS, 5);
    const int64_t *s = tl->shape, *m = tm->shape;
    c->N = s[0];
    c->L = (int)s[1];
    c->K = 1;
    c->C = (int)s[2];
    c->H = (int)s[3];
    c->W = (int)s[4];
    c->hw = (size_t)s[3] * (size_t)s[4];
    c->gathered = 1;
    if (c->L < 1 || c->L > SP_COMPOSE_MAX_LAYERS)
        sp_fatal("stdin: batch %lld: " SP_SEL_LAYERS " has %d layers (1..%d)", (long long)idx, c->L,
                 SP_COMPOSE_MAX_LAYERS);
    if (m[0] != s[0] || m[1] != s[1] || m[2] != 1 || m[3] != s[3] || m[4] != s[4])
        sp_fatal("stdin: batch %lld: " SP_SEL_MASKS " must be [%lld,%lld,1,%lld,%lld] like " SP_SEL_LAYERS,
                 (long long)idx, (long long)s[0], (long long)s[1], (long long)s[3], (long long)s[4]);
    image_and_occlusion(c, b, idx, SP_SEL_LAYERS, image_use);
    c->M = 0;
    c->bkgs = NULL;
    if (sp_map_tensor(b, SP_SEL_BACKGROUND)) {
        const sp_tensor *tb = need(b, idx, SP_SEL_BACKGROUND, 4);
        const int64_t *bs = tb->shape;
        if (bs[0] != s[0] || bs[1] != s[2] || bs[2] != s[3] || bs[3] != s[4])
            sp_fatal("stdin: batch %lld: " SP_SEL_BACKGROUND " must be [%lld,%lld,%lld,%lld]", (long long)idx,
                     (long long)s[0], (long long)s[2], (long long)s[3], (long long)s[4]);
        c->M = 1;
        c->bkgs = sp_f32(tb);
    }
    c->layers = sp_f32(tl);
    c->masks = sp_f32(tm);
}

static void candidates(sp_cands *c, const sp_map *b, int64_t idx, const char *image_use);

void sp_cands_get_any(sp_cands *c, const sp_map *b, int64_t idx, const char *image_use)
{
    if (!sp_map_tensor(b, "cand_layers") && sp_map_tensor(b, SP_SEL_LAYERS))
        gathered(c, b, idx, image_use);
    else
        candidates(c, b, idx, image_use);
}

void sp_cands_get(sp_cands *c, const sp_map *b, int64_t idx, const char *image_use)
{
    candidates(c, b, idx, image_use);
}

static void candidates(sp_cands *c, const sp_map *b, int64_t idx, const char *image_use)
{
    const sp_tensor *tl = need(b, idx, "cand_layers", 6);
    const sp_tensor *tm = need(b, idx, "cand_masks", 6);
    const sp_tensor *tb = sp_map_tensor(b, "backgrounds") ? need(b, idx, "backgrounds", 5) : NULL;
    const int64_t *s = tl->shape;
    c->N = s[0];
    c->L = (int)s[1];
    c->K = (int)s[2];
    c->C = (int)s[3];
    c->H = (int)s[4];
    c->W = (int)s[5];
    c->hw = (size_t)s[4] * (size_t)s[5];
    c->gathered = 0;
    if (c->L < 1 || c->K < 1 || c->L > SP_COMPOSE_MAX_LAYERS)
        sp_fatal("stdin: batch %lld: cand_layers has %d layers and %d candidates (1..%d layers, >= 1 candidate)",
                 (long long)idx, c->L, c->K, SP_COMPOSE_MAX_LAYERS);
    const int64_t *m = tm->shape;
    if (m[0] != s[0] || m[1] != s[1] || m[2] != s[2] || m[3] != 1 || m[4] != s[4] || m[5] != s[5])
        sp_fatal("stdin: batch %lld: cand_masks must be [%lld,%lld,%lld,1,%lld,%lld] like cand_layers",
                 (long long)idx, (long long)s[0], (long long)s[1], (long long)s[2], (long long)s[4],
                 (long long)s[5]);
    image_and_occlusion(c, b, idx, "cand_layers", image_use);
    c->M = 0;
    if (tb) {
        const int64_t *bs = tb->shape;
        if (bs[0] != s[0] || bs[1] < 1 || bs[2] != s[3] || bs[3] != s[4] || bs[4] != s[5])
            sp_fatal("stdin: batch %lld: backgrounds must be [%lld,M,%lld,%lld,%lld]", (long long)idx,
                     (long long)s[0], (long long)s[3], (long long)s[4], (long long)s[5]);
        c->M = (int)bs[1];
    }
    c->layers = sp_f32(tl);
    c->masks = sp_f32(tm);
    c->bkgs = tb ? sp_f32(tb) : NULL;
}

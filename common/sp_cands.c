/* Candidate entries of a batch; see sp_cands.h. */
#include "sp_cands.h"

#include "sp_compose.h"
#include "sp_error.h"

static const sp_tensor *need(const sp_map *b, int64_t idx, const char *name, int ndim)
{
    const sp_tensor *t = sp_map_tensor(b, name);
    if (!t)
        sp_fatal("stdin: batch %lld: needs %s (run sp-predict first)", (long long)idx, name);
    if (t->dtype != SP_F32 || t->ndim != ndim)
        sp_fatal("stdin: batch %lld: %s must be f32 with %d dimensions", (long long)idx, name, ndim);
    return t;
}

void sp_cands_get(sp_cands *c, const sp_map *b, int64_t idx)
{
    const sp_tensor *tl = need(b, idx, "cand_layers", 6);
    const sp_tensor *tm = need(b, idx, "cand_masks", 6);
    const sp_tensor *ti = sp_map_tensor(b, "image");
    if (!ti)
        sp_fatal("stdin: batch %lld: needs image", (long long)idx);
    ti = need(b, idx, "image", 4);
    const sp_tensor *tb = sp_map_tensor(b, "backgrounds") ? need(b, idx, "backgrounds", 5) : NULL;
    const sp_tensor *to = sp_map_tensor(b, "occlusion") ? need(b, idx, "occlusion", 3) : NULL;
    const int64_t *s = tl->shape;
    c->N = s[0];
    c->L = (int)s[1];
    c->K = (int)s[2];
    c->C = (int)s[3];
    c->H = (int)s[4];
    c->W = (int)s[5];
    c->hw = (size_t)s[4] * (size_t)s[5];
    if (c->L < 1 || c->K < 1 || c->L > SP_COMPOSE_MAX_LAYERS)
        sp_fatal("stdin: batch %lld: cand_layers has %d layers and %d candidates (1..%d layers, >= 1 candidate)",
                 (long long)idx, c->L, c->K, SP_COMPOSE_MAX_LAYERS);
    const int64_t *m = tm->shape, *im = ti->shape;
    if (m[0] != s[0] || m[1] != s[1] || m[2] != s[2] || m[3] != 1 || m[4] != s[4] || m[5] != s[5])
        sp_fatal("stdin: batch %lld: cand_masks must be [%lld,%lld,%lld,1,%lld,%lld] like cand_layers",
                 (long long)idx, (long long)s[0], (long long)s[1], (long long)s[2], (long long)s[4],
                 (long long)s[5]);
    if (im[0] != s[0] || im[1] != s[3] || im[2] != s[4] || im[3] != s[5])
        sp_fatal("stdin: batch %lld: image is [%lld,%lld,%lld,%lld], cand_layers [%lld,..,%lld,%lld,%lld]",
                 (long long)idx, (long long)im[0], (long long)im[1], (long long)im[2], (long long)im[3],
                 (long long)s[0], (long long)s[3], (long long)s[4], (long long)s[5]);
    c->M = 0;
    if (tb) {
        const int64_t *bs = tb->shape;
        if (bs[0] != s[0] || bs[1] < 1 || bs[2] != s[3] || bs[3] != s[4] || bs[4] != s[5])
            sp_fatal("stdin: batch %lld: backgrounds must be [%lld,M,%lld,%lld,%lld]", (long long)idx,
                     (long long)s[0], (long long)s[3], (long long)s[4], (long long)s[5]);
        c->M = (int)bs[1];
    }
    if (to && (to->shape[0] != s[0] || to->shape[1] != s[1] || to->shape[2] != s[1]))
        sp_fatal("stdin: batch %lld: occlusion must be [%lld,%lld,%lld]", (long long)idx, (long long)s[0],
                 (long long)s[1], (long long)s[1]);
    c->layers = sp_f32(tl);
    c->masks = sp_f32(tm);
    c->img = sp_f32(ti);
    c->bkgs = tb ? sp_f32(tb) : NULL;
    c->occ = to ? sp_f32(to) : NULL;
}

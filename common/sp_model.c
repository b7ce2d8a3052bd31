/* The model as named tensors (sp_model.h): construction from a config as
 * the reference's DTISprites.__init__, initialisation, model files. */
#define _DEFAULT_SOURCE /* MAP_POPULATE, fileno */
#include "sp_model.h"
#include "sp_pack.h"
#include "sp_encoder.h"
#include "sp_error.h"
#include "sp_init.h"
#include "sp_msgscan.h"
#include "sp_rng.h"
#include "sp_tsf_seq.h"
#include "sp_warp.h"

#include <errno.h>
#include <math.h>
#include <msgpack.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>

#define N_HIDDEN_UNITS 128 /* the reference's transformer.N_HIDDEN_UNITS */

/* ---- datasets ---------------------------------------------------------------- */

static const struct {
    const char *name;
    int c, h, w;
    int resizable; /* honours dataset.img_size (the torchvision datasets) */
} DATASETS[] = {
    {"tetrominoes", 3, 35, 35, 0}, {"dsprites_gray", 3, 64, 64, 0}, {"clevr6", 3, 128, 128, 0},
    {"gtsrb8", 3, 28, 28, 0},      {"svhn", 3, 32, 32, 1},          {"weizmann_horse", 3, 128, 128, 0},
    {"instagram", 3, 128, 128, 0}, {"fashion_mnist", 1, 28, 28, 1}, {"mnist", 1, 28, 28, 1},
};

int sp_dataset_dims(const sp_config *cfg, int *c, int *h, int *w)
{
    const char *name = sp_config_str(cfg, "dataset.name");
    for (size_t i = 0; i < sizeof DATASETS / sizeof DATASETS[0]; i++) {
        if (strcmp(DATASETS[i].name, name) != 0)
            continue;
        *c = DATASETS[i].c;
        *h = DATASETS[i].h;
        *w = DATASETS[i].w;
        double sz[SP_CFG_MAX_LIST];
        int n = sp_config_list(cfg, "dataset.img_size", sz, SP_CFG_MAX_LIST);
        if (n && DATASETS[i].resizable) {
            /* an int means a square, as the reference's (img_size, img_size) */
            *h = (int)sz[0];
            *w = (int)sz[n > 1 ? 1 : 0];
        }
        return 0;
    }
    return -1;
}

/* ---- tensors ---------------------------------------------------------------- */

static uint64_t fnv1a(const char *s)
{
    uint64_t h = 0xcbf29ce484222325ULL;
    for (; *s; s++) {
        h ^= (unsigned char)*s;
        h *= 0x100000001b3ULL;
    }
    return h;
}

static sp_tensor *add_tensor(sp_model *m, const char *name, int is_buffer, int ndim, const int64_t *shape)
{
    if (strlen(name) >= SP_MODEL_NAME_MAX)
        sp_fatal("internal: tensor name too long: %s", name);
    if (m->ntensors == m->cap) {
        m->cap = m->cap ? 2 * m->cap : 64;
        m->tensors = sp_realloc(m->tensors, sizeof *m->tensors * (size_t)m->cap);
    }
    sp_model_tensor *e = &m->tensors[m->ntensors++];
    snprintf(e->name, sizeof e->name, "%s", name);
    /* shape only: sp_model_new gives every tensor its zeros, a model
     * file's reader only the values it reads (calloc'd zeros would be
     * written, page by page, for nothing) */
    e->t = sp_tensor_new_no_data(SP_F32, ndim, shape);
    e->is_buffer = is_buffer;
    return e->t;
}

sp_tensor *sp_model_find(const sp_model *m, const char *name)
{
    for (int i = 0; i < m->ntensors; i++)
        if (strcmp(m->tensors[i].name, name) == 0)
            return m->tensors[i].t;
    return NULL;
}

size_t sp_model_numel(const sp_model *m)
{
    size_t n = 0;
    for (int i = 0; i < m->ntensors; i++)
        n += sp_tensor_numel(m->tensors[i].t);
    return n;
}

/* create_mlp(in, out, 128, n_layers) without norm: Linear at module indices
 * 0, then 3, 5, ... (index 1 is the Identity norm, 2 and 4 the ReLUs). */
static void add_mlp(sp_model *m, const char *prefix, int64_t in, int64_t out, int n_layers)
{
    char name[SP_MODEL_NAME_MAX + 32];
    int nlin = n_layers > 0 ? n_layers + 1 : 1;
    for (int i = 0; i < nlin; i++) {
        int idx = i == 0 ? 0 : 1 + 2 * i;
        int64_t fi = i == 0 ? in : N_HIDDEN_UNITS;
        int64_t fo = i == nlin - 1 ? out : N_HIDDEN_UNITS;
        int64_t ws[2] = {fo, fi}, bs[1] = {fo};
        snprintf(name, sizeof name, "%s.%d.weight", prefix, idx);
        add_tensor(m, name, 0, 2, ws);
        snprintf(name, sizeof name, "%s.%d.bias", prefix, idx);
        add_tensor(m, name, 0, 1, bs);
    }
}

/* A PrototypeTransformationNetwork's regressors: n heads, each the chain
 * sequence; identity modules keep their Linear(in, 0). */
static void add_transformer(sp_model *m, const char *prefix, int n, const char *sequence,
                            const char *key, const char *where)
{
    sp_tsf_seq q;
    sp_tsf_seq_defaults(&q);
    q.color_channels = m->C;
    q.grid_size = (int)sp_config_int(m->cfg, "model.grid_size");
    q.kernel_size = (int)sp_config_int(m->cfg, "model.kernel_size");
    if (sp_tsf_seq_parse(&q, sequence) != 0)
        sp_fatal("%s: %s: unknown transformation sequence '%s'", where, key, sequence);
    if (q.n == 1 && q.kind[0] == SP_TSF_IDENTITY)
        return; /* the reference returns before building anything */
    if (q.grid_size < 2 || q.grid_size > SP_TPS_MAX_G)
        sp_fatal("%s: model.grid_size: %d (2 to %d allowed)", where, q.grid_size, SP_TPS_MAX_G);
    if (q.kernel_size < 1 || q.kernel_size % 2 == 0)
        sp_fatal("%s: model.kernel_size: %d (an odd number)", where, q.kernel_size);
    int nh = (int)sp_config_int(m->cfg, "model.n_hidden_layers");
    char name[SP_MODEL_NAME_MAX];
    for (int k = 0; k < n; k++)
        for (int j = 0; j < q.n; j++) {
            snprintf(name, sizeof name, "%s.tsf_sequences.%d.tsf_modules.%d.regressor", prefix, k, j);
            if (q.kind[j] == SP_TSF_IDENTITY) {
                add_mlp(m, name, m->features, 0, 0);
            } else {
                add_mlp(m, name, m->features, sp_tsf_params(&q, q.kind[j]), nh);
            }
        }
}

static int is_identity(const char *s) { return !strcmp(s, "id") || !strcmp(s, "identity"); }

/* The curriculum of a transformer: false, or one milestone per
 * transformation after the first (the reference asserts it). */
static void check_curriculum(const sp_config *c, const char *key, const char *seq_key, const char *where)
{
    const sp_cfg_value *v = sp_config_get(c, key);
    if (v->kind == SP_CFGV_UNSET)
        sp_fatal("%s: %s is required with %s", where, key, seq_key);
    if (v->kind != SP_CFGV_LIST) {
        if (v->i)
            sp_fatal("%s: %s: true is not a list of milestones", where, key);
        return;
    }
    sp_tsf_seq q;
    sp_tsf_seq_defaults(&q);
    if (sp_tsf_seq_parse(&q, sp_config_str(c, seq_key)) == 0 && v->n != q.n - 1)
        sp_fatal("%s: %s: %d milestones for the %d transformations of %s (one per transformation after the first)",
                 where, key, v->n, q.n, seq_key);
}

/* The model the config describes, its tensors without data (add_tensor). */
static sp_model *model_shapes(const sp_config *cfg, const char *where)
{
    sp_model *m = sp_calloc(1, sizeof *m);
    m->cfg = sp_config_copy(cfg);
    const sp_config *c = m->cfg;
    if (strcmp(sp_config_str(c, "model.name"), "dti_sprites") != 0)
        sp_fatal("%s: model.name: '%s' (only dti_sprites)", where, sp_config_str(c, "model.name"));
    if (sp_dataset_dims(c, &m->C, &m->H, &m->W) != 0)
        sp_fatal("%s: dataset.name: unknown dataset '%s'", where, sp_config_str(c, "dataset.name"));
    if (!sp_config_is_set(c, "model.n_sprites"))
        sp_fatal("%s: model.n_sprites is required", where);
    if (!sp_config_is_set(c, "model.transformation_sequence"))
        sp_fatal("%s: model.transformation_sequence is required", where);
    int64_t ns = sp_config_int(c, "model.n_sprites"), L = sp_config_int(c, "model.n_objects"),
            M = sp_config_int(c, "model.n_backgrounds");
    if (ns < 1 || ns > 4096)
        sp_fatal("%s: model.n_sprites: %lld (1 to 4096)", where, (long long)ns);
    if (L < 1 || L > 64)
        sp_fatal("%s: model.n_objects: %lld (1 to 64)", where, (long long)L);
    if (M < 0 || M > 4096)
        sp_fatal("%s: model.n_backgrounds: %lld (0 to 4096)", where, (long long)M);
    m->n_sprites = (int)ns;
    m->K = m->n_sprites + sp_config_bool(c, "model.add_empty_sprite");
    m->L = (int)L;
    m->M = (int)M;
    double sz[SP_CFG_MAX_LIST];
    int nsz = sp_config_list(c, "model.sprite_size", sz, SP_CFG_MAX_LIST);
    if (nsz == 0) {
        m->h = m->H;
        m->w = m->W;
    } else if (nsz == 2 && sz[0] >= 1 && sz[1] >= 1 && sz[0] <= 4096 && sz[1] <= 4096) {
        m->h = (int)sz[0];
        m->w = (int)sz[1];
    } else {
        sp_fatal("%s: model.sprite_size: expected h, w", where);
    }
    int nh = (int)sp_config_int(c, "model.n_hidden_layers"),
        nl = (int)sp_config_int(c, "model.n_linear_layers");
    if (nh < 0 || nh > 16 || nl < 0 || nl > 16)
        sp_fatal("%s: model.n_hidden_layers / n_linear_layers: 0 to 16", where);
    const char *norm = sp_config_str(c, "model.norm_layer");
    if (*norm && !is_identity(norm))
        sp_fatal("%s: model.norm_layer: '%s' is not supported (identity only)", where, norm);
    const char *seq = sp_config_str(c, "model.transformation_sequence");
    const char *lseq = sp_config_str(c, "model.transformation_sequence_layer");
    m->has_layer_tsf = !is_identity(lseq);
    if (!m->has_layer_tsf && is_identity(seq))
        sp_fatal("%s: model.transformation_sequence: identity needs a model.transformation_sequence_layer "
                 "(the reference has no encoder then)", where);
    check_curriculum(c, "model.curriculum_learning", "model.transformation_sequence", where);
    if (m->has_layer_tsf)
        check_curriculum(c, "model.curriculum_learning_layer", "model.transformation_sequence_layer", where);
    if (m->M > 0) {
        if (!sp_config_is_set(c, "model.transformation_sequence_bkg"))
            sp_fatal("%s: model.transformation_sequence_bkg is required with backgrounds", where);
        check_curriculum(c, "model.curriculum_learning_bkg", "model.transformation_sequence_bkg", where);
    }
    sp_padding pad;
    if (sp_padding_parse(sp_config_str(c, "model.padding_mode"), &pad) != 0)
        sp_fatal("%s: model.padding_mode: '%s' (zeros or border)", where, sp_config_str(c, "model.padding_mode"));

    /* Parameters in the reference's registration order. */
    int64_t ps[4] = {m->n_sprites, m->C, m->h, m->w};
    add_tensor(m, "prototype_params", 0, 4, ps);
    int64_t ms[4] = {m->n_sprites, 1, m->h, m->w};
    add_tensor(m, "mask_params", 0, 4, ms);
    if (m->M > 0) {
        int64_t bs[4] = {m->M, m->C, m->H, m->W};
        add_tensor(m, "bkg_params", 0, 4, bs);
    }

    /* The encoder: built for the image size by whichever transformer comes
     * first (layer transformer, else the first sprite transformer). */
    int pool_h = 1, pool_w = 1;
    const sp_cfg_value *wp = sp_config_get(c, "model.with_pool");
    if (wp->kind == SP_CFGV_LIST) {
        if (wp->n != 2 || wp->list[0] < 1 || wp->list[1] < 1)
            sp_fatal("%s: model.with_pool: expected true, false or h, w", where);
        pool_h = (int)wp->list[0];
        pool_w = (int)wp->list[1];
    } else if (wp->kind == SP_CFGV_BOOL && !wp->i) {
        pool_h = pool_w = 0;
    }
    const char *arch = sp_config_str(c, "model.encoder_name");
    static const char *ARCHS[] = {"resnet20", "resnet32", "resnet44", "resnet56", "resnet110", "resnet18", "resnet34"};
    int known = 0;
    for (size_t i = 0; i < sizeof ARCHS / sizeof ARCHS[0]; i++)
        known |= !strcmp(arch, ARCHS[i]);
    if (!known)
        sp_fatal("%s: model.encoder_name: '%s' is not supported (resnet20/32/44/56/110, resnet18/34)", where, arch);
    sp_encoder *e = sp_encoder_new(arch, 0, m->C, m->H, m->W, pool_h, pool_w);
    m->features = (int64_t)e->features;
    char name[SP_MODEL_NAME_MAX];
    for (int i = 0; i < e->ntensors; i++) {
        snprintf(name, sizeof name, "encoder.%s", e->tensors[i].name);
        add_tensor(m, name, e->tensors[i].is_buffer, e->tensors[i].ndim, e->tensors[i].shape);
    }
    sp_encoder_free(e);

    if (m->has_layer_tsf)
        add_transformer(m, "layer_transformer", m->L, lseq, "model.transformation_sequence_layer", where);
    for (int l = 0; l < m->L; l++) {
        snprintf(name, sizeof name, "sprite_transformers.%d", l);
        add_transformer(m, name, m->K, seq, "model.transformation_sequence", where);
    }
    if (m->M > 0)
        add_transformer(m, "bkg_transformer", m->M, sp_config_str(c, "model.transformation_sequence_bkg"),
                        "model.transformation_sequence_bkg", where);
    if (sp_config_bool(c, "model.pred_occlusion"))
        add_mlp(m, "occ_predictor", m->features, (int64_t)m->L * (m->L - 1) / 2, nl);
    return m;
}

sp_model *sp_model_new(const sp_config *cfg, const char *where)
{
    sp_model *m = model_shapes(cfg, where);
    for (int i = 0; i < m->ntensors; i++) {
        sp_tensor *t = m->tensors[i].t;
        t->data = sp_calloc(1, t->nbytes ? t->nbytes : 1);
    }
    return m;
}

void sp_model_free(sp_model *m)
{
    if (!m)
        return;
    for (int i = 0; i < m->ntensors; i++)
        sp_tensor_free(m->tensors[i].t);
    free(m->tensors);
    sp_config_free(m->cfg);
    sp_map_free(&m->meta);
    sp_map_free(&m->ckpt);
    free(m);
}

/* ---- initialisation ------------------------------------------------------- */

static int init_uses_data(const char *init) { return !strcmp(init, "sample") || !strcmp(init, "mean"); }

int sp_model_init_needs_data(const sp_config *cfg)
{
    return init_uses_data(sp_config_str(cfg, "model.proto_init")) ||
           (sp_config_int(cfg, "model.n_backgrounds") > 0 && init_uses_data(sp_config_str(cfg, "model.bkg_init")));
}

/* The reference's generate_data(dataset, K, init_type, value, std, size)
 * into t [K, C, h, w]. */
static void generate_data(sp_tensor *t, const sp_model *m, const char *name, const char *key,
                          const char *init, double value, uint64_t seed, const float *images, size_t n)
{
    size_t K = (size_t)t->shape[0], C = (size_t)t->shape[1], h = (size_t)t->shape[2], w = (size_t)t->shape[3];
    size_t one = C * h * w, img = (size_t)m->C * m->H * m->W;
    float *y = sp_f32(t);
    uint64_t stream = fnv1a(name);
    if (!strcmp(init, "constant")) {
        for (size_t i = 0; i < K * one; i++)
            y[i] = (float)value;
    } else if (!strcmp(init, "gaussian")) {
        if (!sp_config_is_set(m->cfg, "model.gaussian_weights_std") || !strcmp(name, "bkg_params"))
            sp_fatal("%s: %s gaussian needs model.gaussian_weights_std", sp_prog(), key);
        for (size_t k = 0; k < K; k++)
            sp_gaussian_weights(y + k * one, C, h, w, sp_config_float(m->cfg, "model.gaussian_weights_std"));
    } else if (!strcmp(init, "soup")) {
        /* torch.rand(C, h, w) * 1 + value */
        sp_uniform_noise(y, K * one, value, value + 1.0, seed, stream, 0);
    } else if (!strcmp(init, "random_color")) {
        /* torch.ones(3, h, w) * torch.rand(3, 1, 1) */
        if (C != 3)
            sp_fatal("%s: %s random_color needs 3 channels", sp_prog(), key);
        for (size_t k = 0; k < K; k++)
            for (size_t ch = 0; ch < 3; ch++) {
                float v = sp_philox_uniform_at(seed, stream, k * 3 + ch);
                for (size_t p = 0; p < h * w; p++)
                    y[k * one + ch * h * w + p] = v;
            }
    } else if (!strcmp(init, "mean")) {
        /* images.mean(0) over a batch of 100, at the image size */
        if (!images || n == 0)
            sp_fatal("%s: %s mean needs images", sp_prog(), key);
        if (h != (size_t)m->H || w != (size_t)m->W)
            sp_fatal("%s: %s mean gives image-sized sprites, but model.sprite_size differs", sp_prog(), key);
        size_t nm = n < 100 ? n : 100;
        for (size_t i = 0; i < one; i++) {
            double s = 0;
            for (size_t j = 0; j < nm; j++)
                s += images[j * img + i];
            y[i] = (float)(s / (double)nm);
        }
        for (size_t k = 1; k < K; k++)
            memcpy(y + k * one, y, one * sizeof *y);
    } else if (!strcmp(init, "sample")) {
        /* dataset[randint(len)], F.interpolate(bilinear, align_corners=False)
         * to the sprite size: the identity affine warp with border padding
         * samples exactly the same points. */
        if (!images || n == 0)
            sp_fatal("%s: %s sample needs images", sp_prog(), key);
        sp_rng r;
        sp_rng_init(&r, seed, stream);
        for (size_t k = 0; k < K; k++) {
            size_t j = sp_rng_below(&r, n > UINT32_MAX ? UINT32_MAX : (uint32_t)n);
            const float *x = images + j * img;
            if (h == (size_t)m->H && w == (size_t)m->W) {
                memcpy(y + k * one, x, one * sizeof *y);
            } else {
                float theta[6] = {1, 0, 0, 0, 1, 0};
                sp_warp_shape s = {1, (int)C, m->H, m->W, (int)h, (int)w, SP_PAD_BORDER};
                sp_warp_affine_forward(y + k * one, x, theta, &s);
            }
        }
    } else {
        sp_fatal("%s: %s: '%s' is not supported (constant, gaussian, soup, random_color, mean, sample)",
                 sp_prog(), key, init);
    }
}

/* Whether name (<mlp>.<index>.{weight,bias}) belongs to the last Linear of
 * its MLP, the one with the largest module index: the reference zeroes it
 * so that every transformation starts as the identity. */
static int is_last_linear(const sp_model *m, const char *name)
{
    const char *dot = strrchr(name, '.');
    if (!dot || dot == name)
        return 0;
    const char *d2 = dot - 1;
    while (d2 > name && *d2 != '.')
        d2--;
    int idx = atoi(d2 + 1);
    size_t mlen = (size_t)(d2 - name);
    int max = -1;
    for (int i = 0; i < m->ntensors; i++) {
        const char *o = m->tensors[i].name;
        if (strncmp(o, name, mlen) == 0 && o[mlen] == '.') {
            int oi = atoi(o + mlen + 1);
            if (oi > max)
                max = oi;
        }
    }
    return idx == max;
}

static int has_prefix(const char *s, const char *p) { return strncmp(s, p, strlen(p)) == 0; }

void sp_model_init(sp_model *m, uint64_t seed, const float *images, size_t n)
{
    const sp_config *c = m->cfg;
    for (int i = 0; i < m->ntensors; i++)
        memset(m->tensors[i].t->data, 0, m->tensors[i].t->nbytes);

    generate_data(sp_model_find(m, "prototype_params"), m, "prototype_params", "model.proto_init",
                  sp_config_str(c, "model.proto_init"), 0.9, seed, images, n);

    sp_tensor *mk = sp_model_find(m, "mask_params");
    const char *mi = sp_config_str(c, "model.mask_init");
    size_t hw = (size_t)m->h * m->w;
    if (!strcmp(mi, "constant")) {
        for (size_t i = 0; i < (size_t)m->n_sprites * hw; i++)
            sp_f32(mk)[i] = 1;
    } else if (!strcmp(mi, "gaussian")) {
        /* one Gaussian expanded over K; REFERENCE-NOTES 2: separate copies,
         * identical at initialisation (the reference's GPU behaviour) */
        if (!sp_config_is_set(c, "model.gaussian_weights_std"))
            sp_fatal("%s: model.mask_init gaussian needs model.gaussian_weights_std", sp_prog());
        sp_gaussian_weights(sp_f32(mk), 1, (size_t)m->h, (size_t)m->w, sp_config_float(c, "model.gaussian_weights_std"));
        for (int k = 1; k < m->n_sprites; k++)
            memcpy(sp_f32(mk) + (size_t)k * hw, sp_f32(mk), hw * sizeof(float));
    } else if (!strcmp(mi, "random")) {
        /* torch.rand(K, h, w); we keep the [K, 1, h, w] shape the model needs */
        sp_uniform_noise(sp_f32(mk), (size_t)m->n_sprites * hw, 0, 1, seed, fnv1a("mask_params"), 0);
    } else {
        sp_fatal("%s: model.mask_init: '%s' is not supported (constant, gaussian, random)", sp_prog(), mi);
    }

    if (m->M > 0)
        generate_data(sp_model_find(m, "bkg_params"), m, "bkg_params", "model.bkg_init",
                      sp_config_str(c, "model.bkg_init"), 0.5, seed, images, n);

    /* The encoder: sp_encoder_init's draws, then copied out by name. */
    {
        int pool_h, pool_w;
        sp_config_with_pool(c, &pool_h, &pool_w);
        sp_encoder *e = sp_encoder_new(sp_config_str(c, "model.encoder_name"), 0, m->C, m->H, m->W, pool_h, pool_w);
        sp_rng r;
        sp_rng_init(&r, seed, fnv1a("encoder"));
        sp_encoder_init(e, &r);
        char name[SP_MODEL_NAME_MAX];
        for (int i = 0; i < e->ntensors; i++) {
            snprintf(name, sizeof name, "encoder.%s", e->tensors[i].name);
            sp_tensor *t = sp_model_find(m, name);
            memcpy(t->data, sp_encoder_data(e, &e->tensors[i]), e->tensors[i].size * sizeof(float));
        }
        sp_encoder_free(e);
    }

    /* Linear layers: nn.Linear's reset_parameters (kaiming_uniform with
     * a = sqrt(5), i.e. U(-1/sqrt(in), 1/sqrt(in)), and the bias alike);
     * the last layer of every head zero (identity at start). */
    for (int i = 0; i < m->ntensors; i++) {
        const char *nm = m->tensors[i].name;
        if (!(has_prefix(nm, "layer_transformer.") || has_prefix(nm, "sprite_transformers.") ||
              has_prefix(nm, "bkg_transformer.") || has_prefix(nm, "occ_predictor.")))
            continue;
        if (is_last_linear(m, nm))
            continue;
        sp_tensor *t = m->tensors[i].t;
        /* fan_in: the weight's second dimension (the bias takes its weight's) */
        int64_t fan_in;
        if (t->ndim == 2) {
            fan_in = t->shape[1];
        } else {
            char wn[SP_MODEL_NAME_MAX];
            snprintf(wn, sizeof wn, "%.*sweight", (int)(strlen(nm) - 4), nm);
            fan_in = sp_model_find(m, wn)->shape[1];
        }
        double b = fan_in > 0 ? 1.0 / sqrt((double)fan_in) : 0;
        sp_uniform_noise(sp_f32(t), sp_tensor_numel(t), -b, b, seed, fnv1a(nm), 0);
    }
}

/* ---- model files ---------------------------------------------------------------- */


static int sbuf_write(void *data, const char *buf, size_t len)
{
    return msgpack_sbuffer_write(data, buf, len);
}

char *sp_model_pack(const sp_model *m, size_t *len)
{
    if (m->skipped[0])
        sp_fatal("internal error: a model read without its '%s' values cannot be written", m->skipped);
    msgpack_sbuffer sb;
    msgpack_sbuffer_init(&sb);
    msgpack_packer pk;
    msgpack_packer_init(&pk, &sb, sbuf_write);
    msgpack_pack_map(&pk, 4 + (size_t)m->ckpt.n);
    sp_pack_str(&pk, "sprites-model");
    msgpack_pack_int(&pk, SP_MODEL_VERSION);
    sp_pack_str(&pk, "config");
    sp_config_pack(m->cfg, &pk);
    sp_pack_str(&pk, "tensors");
    msgpack_pack_map(&pk, (size_t)m->ntensors);
    for (int i = 0; i < m->ntensors; i++) {
        sp_pack_str(&pk, m->tensors[i].name);
        sp_pack_tensor(&pk, m->tensors[i].t);
    }
    sp_pack_str(&pk, "meta");
    msgpack_pack_map(&pk, (size_t)m->meta.n);
    for (int i = 0; i < m->meta.n; i++) {
        const sp_entry *e = &m->meta.e[i];
        sp_pack_str(&pk, e->name);
        if (e->tensor)
            sp_pack_tensor(&pk, e->tensor);
        else
            msgpack_sbuffer_write(&sb, e->raw, e->raw_len);
    }
    for (int i = 0; i < m->ckpt.n; i++) {
        sp_pack_str(&pk, m->ckpt.e[i].name);
        msgpack_sbuffer_write(&sb, m->ckpt.e[i].raw, m->ckpt.e[i].raw_len);
    }
    *len = sb.size;
    return msgpack_sbuffer_release(&sb);
}

void sp_model_write(const sp_model *m, const char *path)
{
    size_t len;
    char *buf = sp_model_pack(m, &len);
    FILE *f = sp_outfile_open(path);
    if (fwrite(buf, 1, len, f) != len)
        sp_fatal("%s: write failed: %s", path, strerror(errno));
    sp_outfile_commit(f);
    free(buf);
}


static void key_copy(char *buf, size_t len, const msgpack_object *k, const char *name)
{
    if (k->type != MSGPACK_OBJECT_STR || k->via.str.size == 0 || k->via.str.size >= len ||
        memchr(k->via.str.ptr, 0, k->via.str.size))
        sp_fatal("%s: a map key is not a string of 1 to %zu bytes", name, len - 1);
    memcpy(buf, k->via.str.ptr, k->via.str.size);
    buf[k->via.str.size] = 0;
}

/* One tensor entry against the tensor the config implies. */
static void read_tensor(sp_tensor *t, const char *tname, const msgpack_object *o, const char *name, void *dst);
static sp_model *unpack(const char *buf, size_t len, const char *name, const char *skip, int rest_unread,
                        sp_model_dest_fn dest, sp_model_done_fn done, void *ctx);

void sp_model_read_tensor(sp_tensor *t, const char *tname, const msgpack_object *o, const char *name)
{
    read_tensor(t, tname, o, name, t->data);
}

/* Checks the entry against t (dtype, shape, size) and copies its values to
 * dst (NULL: not read), which must hold t->nbytes. */
static void read_tensor(sp_tensor *t, const char *tname, const msgpack_object *o, const char *name, void *dst)
{
    if (o->type != MSGPACK_OBJECT_MAP || o->via.map.size != 3)
        sp_fatal("%s: tensor '%s': a tensor has exactly the keys dtype, shape, data", name, tname);
    const msgpack_object *dt = NULL, *sh = NULL, *da = NULL;
    for (uint32_t i = 0; i < 3; i++) {
        const msgpack_object_kv *kv = &o->via.map.ptr[i];
        if (sp_obj_str_is(&kv->key, "dtype"))
            dt = &kv->val;
        else if (sp_obj_str_is(&kv->key, "shape"))
            sh = &kv->val;
        else if (sp_obj_str_is(&kv->key, "data"))
            da = &kv->val;
    }
    if (!dt || !sh || !da)
        sp_fatal("%s: tensor '%s': a tensor has exactly the keys dtype, shape, data", name, tname);
    sp_dtype d;
    if (dt->type != MSGPACK_OBJECT_STR || sp_dtype_parse(dt->via.str.ptr, dt->via.str.size, &d) != 0)
        sp_fatal("%s: tensor '%s': unknown dtype", name, tname);
    char want[128], got[128] = "";
    sp_tensor_describe(t, want, sizeof want);
    if (sh->type != MSGPACK_OBJECT_ARRAY || sh->via.array.size > SP_MAX_DIMS)
        sp_fatal("%s: tensor '%s': shape is not an array of at most %d integers", name, tname, SP_MAX_DIMS);
    int same = d == t->dtype && (int)sh->via.array.size == t->ndim;
    size_t pos = (size_t)snprintf(got, sizeof got, "%s [", sp_dtype_name(d));
    for (uint32_t i = 0; i < sh->via.array.size; i++) {
        int64_t x;
        if (sp_obj_int(&sh->via.array.ptr[i], &x) != 0)
            sp_fatal("%s: tensor '%s': dimension %u is not an integer", name, tname, i);
        if (pos < sizeof got)
            pos += (size_t)snprintf(got + pos, sizeof got - pos, "%s%lld", i ? "," : "", (long long)x);
        if (same && x != t->shape[i])
            same = 0;
    }
    if (pos < sizeof got)
        snprintf(got + pos, sizeof got - pos, "]");
    if (!same)
        sp_fatal("%s: tensor '%s': %s, the config implies %s", name, tname, got, want);
    if (da->type != MSGPACK_OBJECT_BIN || da->via.bin.size != t->nbytes)
        sp_fatal("%s: tensor '%s': data is not a bin of %zu bytes", name, tname, t->nbytes);
    if (!dst)
        return;
    memcpy(dst, da->via.bin.ptr, t->nbytes);
    const float *f = dst;
    for (size_t i = 0; i < t->nbytes / sizeof(float); i++)
        if (!isfinite(f[i]))
            sp_fatal("%s: tensor '%s': element %zu is not finite", name, tname, i);
}

sp_model *sp_model_unpack(const char *buf, size_t len, const char *name)
{
    return unpack(buf, len, name, NULL, 0, NULL, NULL, NULL);
}

/* rest_unread: the tensors outside skip are not read either (see
 * sp_model_read_only_into) */
static sp_model *unpack(const char *buf, size_t len, const char *name, const char *skip, int rest_unread,
                        sp_model_dest_fn dest, sp_model_done_fn done, void *ctx)
{
    /* Scan first: a corrupt header could otherwise make the unpacker
     * allocate without limit (sp_msgscan.h). */
    sp_scan_limits lim = sp_scan_default_limits();
    size_t objlen;
    char err[256];
    sp_scan_result sr = sp_msgscan((const unsigned char *)buf, len, &lim, &objlen, err, sizeof err);
    if (len == 0)
        sp_fatal("%s: empty file, not a model", name);
    if (sr == SP_SCAN_NEED_MORE)
        sp_fatal("%s: truncated model file (%zu bytes)", name, len);
    if (sr == SP_SCAN_INVALID)
        sp_fatal("%s: not a model file: %s", name, err);
    if (objlen != len)
        sp_fatal("%s: %zu bytes of trailing data after the model", name, len - objlen);
    msgpack_unpacked u;
    msgpack_unpacked_init(&u);
    size_t off = 0;
    if (msgpack_unpack_next(&u, buf, len, &off) != MSGPACK_UNPACK_SUCCESS)
        sp_fatal("%s: not a model file: invalid msgpack", name);
    const msgpack_object *o = &u.data;
    if (o->type != MSGPACK_OBJECT_MAP)
        sp_fatal("%s: not a model file: not a msgpack map", name);
    const msgpack_object *ver = NULL, *cfg = NULL, *ten = NULL, *meta = NULL;
    sp_map ckpt = {0};
    for (uint32_t i = 0; i < o->via.map.size; i++) {
        const msgpack_object_kv *kv = &o->via.map.ptr[i];
        char key[64];
        key_copy(key, sizeof key, &kv->key, name);
        const msgpack_object **slot = !strcmp(key, "sprites-model") ? &ver
                                      : !strcmp(key, "config")      ? &cfg
                                      : !strcmp(key, "tensors")     ? &ten
                                      : !strcmp(key, "meta")        ? &meta
                                                                    : NULL;
        /* checkpoint sections (formats/model.md): kept raw for the trainer */
        if (!slot && (!strcmp(key, "optimizer") || !strcmp(key, "rng") || !strcmp(key, "schedule"))) {
            if (kv->val.type != MSGPACK_OBJECT_MAP)
                sp_fatal("%s: checkpoint section '%s' is not a map", name, key);
            if (sp_map_find(&ckpt, key))
                sp_fatal("%s: duplicate key '%s'", name, key);
            msgpack_sbuffer sb;
            msgpack_packer pk;
            msgpack_sbuffer_init(&sb);
            msgpack_packer_init(&pk, &sb, sbuf_write);
            msgpack_pack_object(&pk, kv->val);
            sp_map_put_raw(&ckpt, key, sb.data, sb.size);
            msgpack_sbuffer_destroy(&sb);
            continue;
        }
        if (!slot)
            sp_fatal("%s: unknown key '%s' in the model map", name, key);
        if (*slot)
            sp_fatal("%s: duplicate key '%s'", name, key);
        *slot = &kv->val;
    }
    int64_t v;
    if (!ver)
        sp_fatal("%s: not a model file (no \"sprites-model\" key)", name);
    if (sp_obj_int(ver, &v) != 0 || v != SP_MODEL_VERSION)
        sp_fatal("%s: model format version is not %d", name, SP_MODEL_VERSION);
    if (!cfg)
        sp_fatal("%s: no \"config\" map", name);
    if (!ten || ten->type != MSGPACK_OBJECT_MAP)
        sp_fatal("%s: no \"tensors\" map", name);
    if (meta && meta->type != MSGPACK_OBJECT_MAP)
        sp_fatal("%s: \"meta\" is not a map", name);
    sp_config *c = sp_config_from_msgpack(cfg, err, sizeof err);
    if (!c)
        sp_fatal("%s: %s", name, err);
    char where[512];
    snprintf(where, sizeof where, "%s: config", name);
    sp_model *m = model_shapes(c, where);
    sp_config_free(c);
    char *seen = sp_calloc((size_t)m->ntensors + 1, 1);
    for (uint32_t i = 0; i < ten->via.map.size; i++) {
        const msgpack_object_kv *kv = &ten->via.map.ptr[i];
        char tname[SP_MODEL_NAME_MAX + 1];
        key_copy(tname, sizeof tname, &kv->key, name);
        int j = 0;
        while (j < m->ntensors && strcmp(m->tensors[j].name, tname) != 0)
            j++;
        if (j == m->ntensors)
            sp_fatal("%s: tensor '%s' is not part of the model the config describes", name, tname);
        if (seen[j])
            sp_fatal("%s: duplicate tensor '%s'", name, tname);
        seen[j] = 1;
        sp_tensor *t = m->tensors[j].t;
        void *dst = NULL;
        const int given = skip && strncmp(tname, skip, strlen(skip)) == 0;
        if (given)
            dst = dest ? dest(ctx, m, tname, t->nbytes / sizeof(float)) : NULL;
        else if (!rest_unread)
            dst = t->data = sp_malloc(t->nbytes ? t->nbytes : 1);
        read_tensor(t, tname, &kv->val, name, dst);
        if (given && dst && done)
            done(ctx, tname, dst, t->nbytes / sizeof(float));
    }
    for (int j = 0; j < m->ntensors; j++)
        if (!seen[j])
            sp_fatal("%s: missing tensor '%s'", name, m->tensors[j].name);
    free(seen);
    if (meta) {
        for (uint32_t i = 0; i < meta->via.map.size; i++) {
            const msgpack_object_kv *kv = &meta->via.map.ptr[i];
            char key[256];
            key_copy(key, sizeof key, &kv->key, name);
            if (sp_map_find(&m->meta, key))
                sp_fatal("%s: duplicate meta key '%s'", name, key);
            msgpack_sbuffer sb;
            msgpack_packer pk;
            msgpack_sbuffer_init(&sb);
            msgpack_packer_init(&pk, &sb, sbuf_write);
            msgpack_pack_object(&pk, kv->val);
            sp_map_put_raw(&m->meta, key, sb.data, sb.size);
            msgpack_sbuffer_destroy(&sb);
        }
    }
    m->ckpt = ckpt;
    if (skip)
        snprintf(m->skipped, sizeof m->skipped, "%s", rest_unread ? SP_MODEL_ONLY_PART : skip);
    msgpack_unpacked_destroy(&u);
    return m;
}

sp_model *sp_model_read(const char *path)
{
    return sp_model_read_into(path, NULL, NULL, NULL, NULL);
}

sp_model *sp_model_read_part(const char *path, const char *skip)
{
    return sp_model_read_into(path, skip, NULL, NULL, NULL);
}

static sp_model *read_file(const char *path, const char *skip, int rest_unread, sp_model_dest_fn dest,
                           sp_model_done_fn done, void *ctx)
{
    if (skip && strlen(skip) >= sizeof ((sp_model *)0)->skipped)
        sp_fatal("%s: internal: skipped prefix '%s' too long", path, skip);
    FILE *f = fopen(path, "rb");
    if (!f)
        sp_fatal("%s: %s", path, strerror(errno));
    /* A regular file is mapped with its pages populated in one call: no
     * copy into a buffer and no fault per page (a ResNet-18 model is 45 MB:
     * ~11,000 faults, a tenth of a second in this VM, paid by every stage
     * that opens it). */
    struct stat st;
    if (fstat(fileno(f), &st) == 0 && S_ISREG(st.st_mode) && st.st_size > 0) {
        size_t len = (size_t)st.st_size;
        /* (a partial read touches only the headers and the values it
         * reads: populating the skipped values' pages would cost more) */
        void *map = mmap(NULL, len, PROT_READ, MAP_PRIVATE | (skip && !dest ? 0 : MAP_POPULATE), fileno(f), 0);
        if (map != MAP_FAILED) {
            fclose(f);
            sp_model *m = unpack(map, len, path, skip, rest_unread, dest, done, ctx);
            munmap(map, len);
            return m;
        }
    }
    size_t cap = 1 << 16, n = 0, r;
    char *buf = sp_malloc(cap);
    while ((r = fread(buf + n, 1, cap - n, f)) > 0) {
        n += r;
        if (n == cap) {
            cap *= 2;
            buf = sp_realloc(buf, cap);
        }
    }
    if (ferror(f))
        sp_fatal("%s: read error: %s", path, strerror(errno));
    fclose(f);
    sp_model *m = unpack(buf, n, path, skip, rest_unread, dest, done, ctx);
    free(buf);
    return m;
}

sp_model *sp_model_read_into(const char *path, const char *skip, sp_model_dest_fn dest, sp_model_done_fn done,
                             void *ctx)
{
    return read_file(path, skip, 0, dest, done, ctx);
}

sp_model *sp_model_read_only_into(const char *path, const char *prefix, sp_model_dest_fn dest, sp_model_done_fn done,
                                  void *ctx)
{
    return read_file(path, prefix, 1, dest, done, ctx);
}

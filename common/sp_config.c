/* Configurations (sp_config.h): the key table, the "key = value" parser and
 * the msgpack form kept in model files. */
#include "sp_config.h"
#include "sp_error.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <msgpack.h>
#include <stdlib.h>
#include <string.h>

/* Every option the reference's code reads (trainer.py, model/dti_sprites.py,
 * model/transformer.py, the dataset classes), with the default of its
 * kwargs.get(); "" where the reference's default is None or where the key
 * is required (the model and the trainer check those where they use them). */
static const sp_cfg_key KEYS[] = {
    {"dataset.name", SP_CFG_STR, "", "dataset: tetrominoes, dsprites_gray, clevr6, gtsrb8, svhn, weizmann_horse, instagram, fashion_mnist, mnist"},
    {"dataset.tag", SP_CFG_STR, "", "instagram: the hashtag of the collection"},
    {"dataset.img_size", SP_CFG_INTS, "", "torchvision datasets: resize to H, W"},
    {"dataset.eval_mode", SP_CFG_BOOL, "false", "multi-object datasets: evaluation mode"},
    {"dataset.eval_semantic", SP_CFG_BOOL, "false", "multi-object datasets: semantic masks"},

    {"model.name", SP_CFG_STR, "dti_sprites", "model: dti_sprites"},
    {"model.n_sprites", SP_CFG_INT, "", "K: learned sprites (required)"},
    {"model.n_objects", SP_CFG_INT, "1", "L: object layers"},
    {"model.n_backgrounds", SP_CFG_INT, "0", "M: learned backgrounds (0: none)"},
    {"model.proto_init", SP_CFG_STR, "sample", "sprite colours: constant, gaussian, sample, soup, random_color, mean, kmeans"},
    {"model.mask_init", SP_CFG_STR, "constant", "masks: constant, gaussian, random"},
    {"model.bkg_init", SP_CFG_STR, "constant", "backgrounds: constant, mean, sample, ..."},
    {"model.sprite_size", SP_CFG_INTS, "", "h, w of the sprites (default: the image size)"},
    {"model.gaussian_weights_std", SP_CFG_FLOAT, "", "std of the Gaussian mask / sprite init"},
    {"model.add_empty_sprite", SP_CFG_BOOL, "false", "add the empty sprite"},
    {"model.lambda_empty_sprite", SP_CFG_FLOAT, "0", "penalty of a non-empty sprite"},
    {"model.use_clamp", SP_CFG_STR, "soft", "clamp of sprites, masks and colours: soft, clamp, diff, ..."},
    {"model.n_linear_layers", SP_CFG_INT, "2", "hidden layers of the occlusion predictor"},
    {"model.estimate_minimum", SP_CFG_BOOL, "false", "greedy selection of one sprite per layer"},
    {"model.greedy_algo_iter", SP_CFG_INT, "1", "iterations of the greedy selection"},
    {"model.freeze_sprite", SP_CFG_INT_OR_FALSE, "false", "epochs with frozen sprites (false: none)"},
    {"model.inject_noise", SP_CFG_FLOAT, "0", "amplitude of the uniform mask noise"},
    {"model.encoder_name", SP_CFG_STR, "resnet20", "encoder: resnet20/32/44/56/110, resnet18/34"},
    {"model.with_pool", SP_CFG_INTS_OR_BOOL, "true", "adaptive average pooling of the features: true (1, 1), false, or h, w"},
    {"model.transformation_sequence", SP_CFG_STR, "", "sprite transformations, e.g. color_projective_tps (required)"},
    {"model.transformation_sequence_layer", SP_CFG_STR, "identity", "layer transformations"},
    {"model.transformation_sequence_bkg", SP_CFG_STR, "", "background transformations (required with backgrounds)"},
    {"model.curriculum_learning", SP_CFG_INTS_OR_BOOL, "false", "epochs at which each further sprite transformation starts"},
    {"model.curriculum_learning_layer", SP_CFG_INTS_OR_BOOL, "", "same for the layer transformations (required with them)"},
    {"model.curriculum_learning_bkg", SP_CFG_INTS_OR_BOOL, "", "same for the background (required with backgrounds)"},
    {"model.pred_occlusion", SP_CFG_BOOL, "false", "predict the occlusion between layers"},
    {"model.norm_layer", SP_CFG_STR, "", "norm of the occlusion predictor: none (identity) or batch_norm"},
    {"model.empty_cluster_threshold", SP_CFG_FLOAT, "", "reassignment threshold (default 0.2 / n_sprites)"},
    {"model.reassign_cluster", SP_CFG_BOOL, "true", "reassign rarely chosen sprites"},
    {"model.grid_size", SP_CFG_INT, "4", "TPS control points per side"},
    {"model.kernel_size", SP_CFG_INT, "3", "morphological window"},
    {"model.padding_mode", SP_CFG_STR, "zeros", "padding of the sprite transformations"},
    {"model.n_hidden_layers", SP_CFG_INT, "2", "hidden layers of the transformation regressors"},

    {"training.batch_size", SP_CFG_INT, "", "images per batch (required)"},
    {"training.n_workers", SP_CFG_INT, "4", "data loader workers (ignored: sp-load feeds the data)"},
    {"training.optimizer.name", SP_CFG_STR, "", "optimizer: adam (required)"},
    {"training.optimizer.lr", SP_CFG_FLOAT, "0.001", "learning rate (Adam's default)"},
    {"training.optimizer.weight_decay", SP_CFG_FLOAT, "0", "weight decay of every group"},
    {"training.optimizer.cluster.lr", SP_CFG_FLOAT, "", "learning rate of sprites, masks, backgrounds"},
    {"training.optimizer.cluster.weight_decay", SP_CFG_FLOAT, "", "weight decay of sprites, masks, backgrounds"},
    {"training.optimizer.transformer.lr", SP_CFG_FLOAT, "", "learning rate of the networks"},
    {"training.optimizer.transformer.weight_decay", SP_CFG_FLOAT, "", "weight decay of the networks"},
    {"training.scheduler.name", SP_CFG_STR, "", "scheduler: multi_step (not set: constant)"},
    {"training.scheduler.gamma", SP_CFG_FLOATS, "0.1", "multi_step: factor(s) at the milestones"},
    {"training.scheduler.milestones", SP_CFG_INTS, "", "multi_step: epochs of the learning-rate steps"},
    {"training.scheduler.update_range", SP_CFG_STR, "epoch", "scheduler steps per epoch or batch"},
    {"training.n_epoches", SP_CFG_INT, "", "epochs (or n_iterations)"},
    {"training.n_iterations", SP_CFG_INT, "", "iterations (or n_epoches)"},
    {"training.train_stat_interval", SP_CFG_INT, "", "iterations between training statistics"},
    {"training.val_stat_interval", SP_CFG_INT, "", "iterations between validations"},
    {"training.check_cluster_interval", SP_CFG_INT, "", "iterations between sprite reassignments"},
    {"training.eval_with_bkg", SP_CFG_BOOL, "false", "instance scores count the background"},
    {"training.eval_semantic", SP_CFG_BOOL, "false", "semantic scores"},
    {"training.eval_qualitative", SP_CFG_BOOL, "false", "qualitative outputs"},
    {"training.seed", SP_CFG_INT, "4321", "random seed"},
    {"training.visualizer_port", SP_CFG_INT, "", "visdom port (ignored)"},
    {"training.pretrained", SP_CFG_STR, "", "start from this model"},
    {"training.resume", SP_CFG_STR, "", "resume this checkpoint"},
};

#define NKEYS ((int)(sizeof KEYS / sizeof KEYS[0]))

const sp_cfg_key *sp_config_keys(int *n)
{
    *n = NKEYS;
    return KEYS;
}

static int find_key(const char *key)
{
    for (int i = 0; i < NKEYS; i++)
        if (strcmp(KEYS[i].key, key) == 0)
            return i;
    return -1;
}

static void trim(char **s, char **e)
{
    while (*s < *e && isspace((unsigned char)**s))
        (*s)++;
    while (*e > *s && isspace((unsigned char)(*e)[-1]))
        (*e)--;
}

/* A whole integer (decimal, optional sign); 0 on success. */
static int parse_int(const char *s, int64_t *v)
{
    char *end;
    errno = 0;
    long long x = strtoll(s, &end, 10);
    if (end == s || *end || errno)
        return -1;
    *v = x;
    return 0;
}

static int parse_float(const char *s, double *v)
{
    char *end;
    errno = 0;
    double x = strtod(s, &end);
    if (end == s || *end || errno || !isfinite(x))
        return -1;
    *v = x;
    return 0;
}

static int parse_bool(const char *s, int64_t *v)
{
    /* YAML 1.1 spellings the reference's configs use (True/False). */
    if (!strcmp(s, "true") || !strcmp(s, "True") || !strcmp(s, "TRUE")) {
        *v = 1;
        return 0;
    }
    if (!strcmp(s, "false") || !strcmp(s, "False") || !strcmp(s, "FALSE")) {
        *v = 0;
        return 0;
    }
    return -1;
}

/* "100, 200" (or "[100, 200]", as YAML writes it) into list; ints: every
 * element an integer. */
static int parse_list(const char *s, sp_cfg_value *v, int ints, char *err, size_t errlen)
{
    char buf[1024];
    size_t n = strlen(s);
    if (n >= sizeof buf) {
        snprintf(err, errlen, "value too long");
        return -1;
    }
    memcpy(buf, s, n + 1);
    char *b = buf, *e = buf + n;
    if (n >= 2 && *b == '[' && e[-1] == ']') {
        b++;
        e--;
        trim(&b, &e);
    }
    *e = 0;
    v->n = 0;
    if (b == e) {
        snprintf(err, errlen, "empty list");
        return -1;
    }
    for (char *p = b;;) {
        char *q = strchr(p, ',');
        char *pe = q ? q : p + strlen(p);
        char *ps = p;
        trim(&ps, &pe);
        char save = *pe;
        *pe = 0;
        if (v->n == SP_CFG_MAX_LIST) {
            snprintf(err, errlen, "more than %d elements", SP_CFG_MAX_LIST);
            return -1;
        }
        if (ints) {
            int64_t x;
            if (parse_int(ps, &x) != 0) {
                snprintf(err, errlen, "'%s' is not an integer", ps);
                return -1;
            }
            v->list[v->n++] = (double)x;
        } else {
            double x;
            if (parse_float(ps, &x) != 0) {
                snprintf(err, errlen, "'%s' is not a number", ps);
                return -1;
            }
            v->list[v->n++] = x;
        }
        *pe = save;
        if (!q)
            break;
        p = q + 1;
    }
    v->kind = SP_CFGV_LIST;
    return 0;
}

/* Parses s (trimmed) as a value of type t. */
static int parse_value(sp_cfg_value *v, sp_cfg_type t, const char *s, char *err, size_t errlen)
{
    memset(v, 0, sizeof *v);
    if (!*s) {
        v->kind = SP_CFGV_UNSET; /* YAML's empty value: None */
        return 0;
    }
    switch (t) {
    case SP_CFG_INT:
        if (parse_int(s, &v->i) != 0) {
            snprintf(err, errlen, "'%s' is not an integer", s);
            return -1;
        }
        v->kind = SP_CFGV_INT;
        return 0;
    case SP_CFG_INT_OR_FALSE:
        if (parse_bool(s, &v->i) == 0 && v->i == 0) {
            v->kind = SP_CFGV_BOOL;
            return 0;
        }
        if (parse_int(s, &v->i) != 0) {
            snprintf(err, errlen, "'%s' is not an integer or false", s);
            return -1;
        }
        v->kind = SP_CFGV_INT;
        return 0;
    case SP_CFG_FLOAT:
        if (parse_float(s, &v->f) != 0) {
            snprintf(err, errlen, "'%s' is not a number", s);
            return -1;
        }
        v->kind = SP_CFGV_FLOAT;
        return 0;
    case SP_CFG_BOOL:
        if (parse_bool(s, &v->i) != 0) {
            snprintf(err, errlen, "'%s' is not true or false", s);
            return -1;
        }
        v->kind = SP_CFGV_BOOL;
        return 0;
    case SP_CFG_STR:
        if (strlen(s) >= SP_CFG_MAX_STR) {
            snprintf(err, errlen, "string longer than %d bytes", SP_CFG_MAX_STR - 1);
            return -1;
        }
        strcpy(v->s, s);
        v->kind = SP_CFGV_STR;
        return 0;
    case SP_CFG_INTS_OR_BOOL:
        if (parse_bool(s, &v->i) == 0) {
            v->kind = SP_CFGV_BOOL;
            return 0;
        }
        return parse_list(s, v, 1, err, errlen);
    case SP_CFG_INTS:
        return parse_list(s, v, 1, err, errlen);
    case SP_CFG_FLOATS:
        return parse_list(s, v, 0, err, errlen);
    }
    snprintf(err, errlen, "bad type");
    return -1;
}

sp_config *sp_config_new(void)
{
    sp_config *c = sp_calloc(1, sizeof *c);
    c->n = NKEYS;
    c->v = sp_calloc(NKEYS, sizeof *c->v);
    c->given = sp_calloc(NKEYS, sizeof *c->given);
    char err[256];
    for (int i = 0; i < NKEYS; i++)
        if (parse_value(&c->v[i], KEYS[i].type, KEYS[i].def, err, sizeof err) != 0)
            sp_fatal("internal: default of %s: %s", KEYS[i].key, err);
    return c;
}

void sp_config_free(sp_config *c)
{
    if (!c)
        return;
    free(c->v);
    free(c->given);
    free(c);
}

sp_config *sp_config_copy(const sp_config *c)
{
    sp_config *d = sp_config_new();
    memcpy(d->v, c->v, sizeof *c->v * (size_t)NKEYS);
    memcpy(d->given, c->given, sizeof *c->given * (size_t)NKEYS);
    return d;
}

int sp_config_set(sp_config *c, const char *key, const char *value, char *err, size_t errlen)
{
    int k = find_key(key);
    if (k < 0) {
        snprintf(err, errlen, "%s: unknown key", key);
        return -1;
    }
    char e2[256];
    sp_cfg_value v;
    if (parse_value(&v, KEYS[k].type, value, e2, sizeof e2) != 0) {
        snprintf(err, errlen, "%s: %s", key, e2);
        return -1;
    }
    c->v[k] = v;
    c->given[k] = 1;
    return 0;
}

sp_config *sp_config_parse(const char *text, size_t len, const char *name)
{
    sp_config *c = sp_config_new();
    size_t pos = 0;
    int line = 0;
    char err[512];
    while (pos < len) {
        line++;
        size_t end = pos;
        while (end < len && text[end] != '\n')
            end++;
        size_t n = end - pos;
        char *buf = sp_malloc(n + 1);
        memcpy(buf, text + pos, n);
        buf[n] = 0;
        pos = end + 1;
        if (memchr(buf, 0, n))
            sp_fatal("%s:%d: NUL byte in the line", name, line);
        /* A comment runs from '#' to the end of the line (no value needs '#'). */
        char *hash = strchr(buf, '#');
        if (hash)
            *hash = 0;
        char *s = buf, *e = buf + strlen(buf);
        trim(&s, &e);
        *e = 0;
        if (s == e) {
            free(buf);
            continue;
        }
        char *eq = strchr(s, '=');
        if (!eq)
            sp_fatal("%s:%d: expected 'key = value'", name, line);
        char *ks = s, *ke = eq, *vs = eq + 1, *ve = e;
        trim(&ks, &ke);
        trim(&vs, &ve);
        *ke = 0;
        *ve = 0;
        if (ks == ke)
            sp_fatal("%s:%d: missing key before '='", name, line);
        int k = find_key(ks);
        if (k >= 0 && c->given[k])
            sp_fatal("%s:%d: %s: duplicate key", name, line, ks);
        if (sp_config_set(c, ks, vs, err, sizeof err) != 0)
            sp_fatal("%s:%d: %s", name, line, err);
        free(buf);
    }
    return c;
}

sp_config *sp_config_read(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        sp_fatal("%s: %s", path, strerror(errno));
    size_t cap = 4096, n = 0;
    char *buf = sp_malloc(cap);
    size_t r;
    while ((r = fread(buf + n, 1, cap - n, f)) > 0) {
        n += r;
        if (n == cap) {
            if (cap >= ((size_t)1 << 24))
                sp_fatal("%s: config file larger than 16 MiB", path);
            cap *= 2;
            buf = sp_realloc(buf, cap);
        }
    }
    if (ferror(f))
        sp_fatal("%s: read error", path);
    fclose(f);
    sp_config *c = sp_config_parse(buf, n, path);
    free(buf);
    return c;
}

static int index_or_die(const char *key)
{
    int k = find_key(key);
    if (k < 0)
        sp_fatal("internal: config key %s is not in the table", key);
    return k;
}

const sp_cfg_value *sp_config_get(const sp_config *c, const char *key)
{
    return &c->v[index_or_die(key)];
}

int sp_config_is_set(const sp_config *c, const char *key)
{
    return sp_config_get(c, key)->kind != SP_CFGV_UNSET;
}

int64_t sp_config_int(const sp_config *c, const char *key)
{
    const sp_cfg_value *v = sp_config_get(c, key);
    if (v->kind == SP_CFGV_INT)
        return v->i;
    if (v->kind == SP_CFGV_BOOL && KEYS[index_or_die(key)].type == SP_CFG_INT_OR_FALSE)
        return 0;
    if (v->kind == SP_CFGV_UNSET)
        sp_fatal("config: %s is required", key);
    sp_fatal("config: %s is not an integer", key);
}

double sp_config_float(const sp_config *c, const char *key)
{
    const sp_cfg_value *v = sp_config_get(c, key);
    if (v->kind == SP_CFGV_FLOAT)
        return v->f;
    if (v->kind == SP_CFGV_INT)
        return (double)v->i;
    if (v->kind == SP_CFGV_LIST && v->n == 1)
        return v->list[0];
    if (v->kind == SP_CFGV_UNSET)
        sp_fatal("config: %s is required", key);
    sp_fatal("config: %s is not a number", key);
}

int sp_config_bool(const sp_config *c, const char *key)
{
    const sp_cfg_value *v = sp_config_get(c, key);
    if (v->kind == SP_CFGV_BOOL)
        return (int)v->i;
    if (v->kind == SP_CFGV_LIST)
        return 1;
    if (v->kind == SP_CFGV_UNSET)
        return 0; /* None is falsy, as in the reference */
    sp_fatal("config: %s is not a bool", key);
}

const char *sp_config_str(const sp_config *c, const char *key)
{
    const sp_cfg_value *v = sp_config_get(c, key);
    if (v->kind == SP_CFGV_STR)
        return v->s;
    if (v->kind == SP_CFGV_UNSET)
        return "";
    sp_fatal("config: %s is not a string", key);
}

int sp_config_list(const sp_config *c, const char *key, double *out, int max)
{
    const sp_cfg_value *v = sp_config_get(c, key);
    if (v->kind != SP_CFGV_LIST)
        return 0;
    for (int i = 0; i < v->n && i < max; i++)
        out[i] = v->list[i];
    return v->n;
}

/* ---- msgpack --------------------------------------------------------------- */

static void pack_str(msgpack_packer *pk, const char *s)
{
    size_t n = strlen(s);
    msgpack_pack_str(pk, n);
    msgpack_pack_str_body(pk, s, n);
}

void sp_config_pack(const sp_config *c, msgpack_packer *pk)
{
    msgpack_pack_map(pk, (size_t)NKEYS);
    for (int k = 0; k < NKEYS; k++) {
        const sp_cfg_value *v = &c->v[k];
        pack_str(pk, KEYS[k].key);
        switch (v->kind) {
        case SP_CFGV_UNSET:
            msgpack_pack_nil(pk);
            break;
        case SP_CFGV_INT:
            msgpack_pack_int64(pk, v->i);
            break;
        case SP_CFGV_FLOAT:
            msgpack_pack_double(pk, v->f);
            break;
        case SP_CFGV_BOOL:
            if (v->i)
                msgpack_pack_true(pk);
            else
                msgpack_pack_false(pk);
            break;
        case SP_CFGV_STR:
            pack_str(pk, v->s);
            break;
        case SP_CFGV_LIST: {
            int ints = KEYS[k].type != SP_CFG_FLOATS;
            msgpack_pack_array(pk, (size_t)v->n);
            for (int i = 0; i < v->n; i++) {
                if (ints)
                    msgpack_pack_int64(pk, (int64_t)v->list[i]);
                else
                    msgpack_pack_double(pk, v->list[i]);
            }
            break;
        }
        }
    }
}

static int obj_number(const msgpack_object *o, double *x, int *is_int, int64_t *i)
{
    if (o->type == MSGPACK_OBJECT_POSITIVE_INTEGER && o->via.u64 <= INT64_MAX) {
        *i = (int64_t)o->via.u64;
        *x = (double)*i;
        *is_int = 1;
        return 0;
    }
    if (o->type == MSGPACK_OBJECT_NEGATIVE_INTEGER) {
        *i = o->via.i64;
        *x = (double)*i;
        *is_int = 1;
        return 0;
    }
    if (o->type == MSGPACK_OBJECT_FLOAT64 || o->type == MSGPACK_OBJECT_FLOAT32) {
        *x = o->via.f64;
        *is_int = 0;
        return isfinite(*x) ? 0 : -1;
    }
    return -1;
}

/* One value of key k from its msgpack form; 0 or -1. */
static int value_from_msgpack(sp_cfg_value *v, int k, const msgpack_object *o)
{
    sp_cfg_type t = KEYS[k].type;
    memset(v, 0, sizeof *v);
    if (o->type == MSGPACK_OBJECT_NIL) {
        v->kind = SP_CFGV_UNSET;
        return 0;
    }
    if (o->type == MSGPACK_OBJECT_BOOLEAN) {
        if (t != SP_CFG_BOOL && t != SP_CFG_INTS_OR_BOOL && !(t == SP_CFG_INT_OR_FALSE && !o->via.boolean))
            return -1;
        v->kind = SP_CFGV_BOOL;
        v->i = o->via.boolean;
        return 0;
    }
    if (o->type == MSGPACK_OBJECT_STR) {
        if (t != SP_CFG_STR || o->via.str.size >= SP_CFG_MAX_STR)
            return -1;
        memcpy(v->s, o->via.str.ptr, o->via.str.size);
        if (memchr(v->s, 0, o->via.str.size))
            return -1;
        v->kind = SP_CFGV_STR;
        return 0;
    }
    if (o->type == MSGPACK_OBJECT_ARRAY) {
        if ((t != SP_CFG_INTS && t != SP_CFG_FLOATS && t != SP_CFG_INTS_OR_BOOL) ||
            o->via.array.size == 0 || o->via.array.size > SP_CFG_MAX_LIST)
            return -1;
        for (uint32_t i = 0; i < o->via.array.size; i++) {
            double x;
            int is_int;
            int64_t xi;
            if (obj_number(&o->via.array.ptr[i], &x, &is_int, &xi) != 0 || (t != SP_CFG_FLOATS && !is_int))
                return -1;
            v->list[v->n++] = x;
        }
        v->kind = SP_CFGV_LIST;
        return 0;
    }
    double x;
    int is_int;
    int64_t xi;
    if (obj_number(o, &x, &is_int, &xi) != 0)
        return -1;
    if ((t == SP_CFG_INT || t == SP_CFG_INT_OR_FALSE) && is_int) {
        v->kind = SP_CFGV_INT;
        v->i = xi;
        return 0;
    }
    if (t == SP_CFG_FLOAT) {
        v->kind = SP_CFGV_FLOAT;
        v->f = x;
        return 0;
    }
    return -1;
}

sp_config *sp_config_from_msgpack(const msgpack_object *o, char *err, size_t errlen)
{
    if (o->type != MSGPACK_OBJECT_MAP) {
        snprintf(err, errlen, "config is not a map");
        return NULL;
    }
    sp_config *c = sp_config_new();
    for (uint32_t i = 0; i < o->via.map.size; i++) {
        const msgpack_object_kv *kv = &o->via.map.ptr[i];
        char key[128];
        if (kv->key.type != MSGPACK_OBJECT_STR || kv->key.via.str.size == 0 ||
            kv->key.via.str.size >= sizeof key) {
            snprintf(err, errlen, "config: a key is not a short string");
            goto fail;
        }
        memcpy(key, kv->key.via.str.ptr, kv->key.via.str.size);
        key[kv->key.via.str.size] = 0;
        int k = find_key(key);
        if (k < 0 || memchr(key, 0, kv->key.via.str.size)) {
            snprintf(err, errlen, "config: %s: unknown key", key);
            goto fail;
        }
        if (c->given[k]) {
            snprintf(err, errlen, "config: %s: duplicate key", key);
            goto fail;
        }
        if (value_from_msgpack(&c->v[k], k, &kv->val) != 0) {
            snprintf(err, errlen, "config: %s: value of the wrong type", key);
            goto fail;
        }
        c->given[k] = 1;
    }
    return c;
fail:
    sp_config_free(c);
    return NULL;
}

void sp_config_with_pool(const sp_config *c, int *pool_h, int *pool_w)
{
    const sp_cfg_value *wp = sp_config_get(c, "model.with_pool");
    *pool_h = *pool_w = 1;
    if (wp->kind == SP_CFGV_LIST) {
        *pool_h = (int)wp->list[0];
        *pool_w = (int)wp->list[1];
    } else if (wp->kind == SP_CFGV_BOOL && !wp->i) {
        *pool_h = *pool_w = 0;
    }
}

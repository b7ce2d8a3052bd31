#define _GNU_SOURCE /* memmem */
/* Configurations and the model: every config file parses; config errors
 * name file and line; the model's tensor names and shapes equal the
 * reference's state_dict (tests/golden/model, made by make_model_shapes.py);
 * initial values follow the reference's rules and depend only on the seed;
 * model files round-trip byte for byte and every corruption is refused. */
#include "sp_test.h"

#include "sp_config.h"
#include "sp_error.h"
#include "sp_init.h"
#include "sp_model.h"

#include <msgpack.h>
#include <setjmp.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* sp_model_read_into's destination for the tests: a copy of each tensor. */
typedef struct {
    const sp_model *m;
    int calls, same, done_ok, dones; /* done_ok: every done came for the last dest's room, with the file's values */
    char names[256][SP_MODEL_NAME_MAX];
    float *got[256];
    size_t counts[256];
} into_state;

static float *into_dest(void *ctx, const sp_model *m, const char *name, size_t count)
{
    into_state *st = ctx;
    (void)m;
    if (st->calls >= 256)
        return NULL;
    snprintf(st->names[st->calls], SP_MODEL_NAME_MAX, "%s", name);
    st->counts[st->calls] = count;
    return st->got[st->calls++] = calloc(count + 1, sizeof(float));
}

/* done: the values are there and checked, in the room the last dest gave */
static void into_done(void *ctx, const char *name, const float *values, size_t count)
{
    into_state *st = ctx;
    const int i = st->calls - 1;
    st->done_ok &= i >= 0 && values == st->got[i] && count == st->counts[i] && !strcmp(name, st->names[i]) &&
                   memcmp(values, sp_model_find(st->m, name)->data, count * sizeof(float)) == 0;
    st->dones++;
}

static void into_init(into_state *st, const sp_model *m)
{
    memset(st, 0, sizeof *st);
    st->m = m;
    st->same = 1;
    st->done_ok = 1;
}

static void into_free(into_state *st)
{
    for (int i = 0; i < st->calls; i++)
        free(st->got[i]);
    st->calls = 0;
}

static jmp_buf fatal_jmp;
static char fatal_msg[1024];

static void on_fatal(const char *msg)
{
    snprintf(fatal_msg, sizeof fatal_msg, "%s", msg);
    longjmp(fatal_jmp, 1);
}

/* Runs the parser on text; returns the fatal message or "" when it parsed. */
static const char *parse_error(const char *text)
{
    fatal_msg[0] = 0;
    if (setjmp(fatal_jmp) == 0) {
        sp_config *c = sp_config_parse(text, strlen(text), "x.conf");
        sp_config_free(c);
        return "";
    }
    return fatal_msg;
}

static const char *unpack_error(const char *buf, size_t len)
{
    fatal_msg[0] = 0;
    if (setjmp(fatal_jmp) == 0) {
        sp_model *m = sp_model_unpack(buf, len, "m.spm");
        sp_model_free(m);
        return "";
    }
    return fatal_msg;
}

static const char *CONFIGS[] = {"tetro", "dsprites", "clevr6", "gtsrb8", "svhn", "horse", "instagram", "fashion-mnist"};

static sp_config *read_conf(const char *name)
{
    char path[256];
    snprintf(path, sizeof path, "pipelines/configs/%s.conf", name);
    return sp_config_read(path);
}

static void test_config(void)
{
    for (size_t i = 0; i < sizeof CONFIGS / sizeof CONFIGS[0]; i++) {
        sp_config *c = read_conf(CONFIGS[i]);
        char name[128];
        snprintf(name, sizeof name, "config_%s_parses", CONFIGS[i]);
        CHECK(name, sp_config_is_set(c, "model.n_sprites") && sp_config_is_set(c, "training.seed"), "missing keys");
        sp_config_free(c);
    }
    sp_config *c = read_conf("tetro");
    double l[4];
    CHECK("config_values", sp_config_int(c, "model.n_sprites") == 19 && sp_config_int(c, "model.n_objects") == 3 &&
          sp_config_list(c, "model.sprite_size", l, 4) == 2 && l[0] == 24 && l[1] == 24 &&
          sp_config_float(c, "training.optimizer.lr") == 1e-4 && !sp_config_bool(c, "model.curriculum_learning") &&
          sp_config_bool(c, "model.estimate_minimum") && sp_config_int(c, "model.freeze_sprite") == 1 &&
          !sp_config_is_set(c, "training.pretrained") && sp_config_list(c, "training.scheduler.gamma", l, 4) == 2 &&
          l[0] == 1 && l[1] == 0.1,
          "tetro values wrong");
    /* defaults are the reference's kwargs.get defaults */
    CHECK("config_defaults", !strcmp(sp_config_str(c, "model.use_clamp"), "soft") &&
          sp_config_int(c, "model.grid_size") == 4 && sp_config_int(c, "model.kernel_size") == 3 &&
          sp_config_bool(c, "model.with_pool") && sp_config_int(c, "model.n_hidden_layers") == 2 &&
          !strcmp(sp_config_str(c, "model.padding_mode"), "zeros"),
          "defaults wrong");
    sp_config_free(c);

    const char *e;
    e = parse_error("# comment\n\nmodel.n_sprites = 3\nmodel.n_sprite = 4\n");
    CHECK("config_unknown_key", strstr(e, "x.conf:4: model.n_sprite: unknown key") != NULL, "got '%s'", e);
    e = parse_error("model.n_sprites = 3\nmodel.n_sprites = 4\n");
    CHECK("config_duplicate_key", strstr(e, "x.conf:2: model.n_sprites: duplicate key") != NULL, "got '%s'", e);
    e = parse_error("model.n_sprites = three\n");
    CHECK("config_bad_int", strstr(e, "x.conf:1: model.n_sprites: 'three' is not an integer") != NULL, "got '%s'", e);
    e = parse_error("model.pred_occlusion = maybe\n");
    CHECK("config_bad_bool", strstr(e, "x.conf:1: model.pred_occlusion:") != NULL, "got '%s'", e);
    e = parse_error("model.sprite_size = 24, x\n");
    CHECK("config_bad_list", strstr(e, "x.conf:1: model.sprite_size:") != NULL, "got '%s'", e);
    e = parse_error("model.n_sprites\n");
    CHECK("config_no_equals", strstr(e, "x.conf:1: expected 'key = value'") != NULL, "got '%s'", e);
    e = parse_error("model.curriculum_learning = [100, 350]  # YAML list syntax\nmodel.freeze_sprite = false\n");
    CHECK("config_yaml_list", !*e, "got '%s'", e);

    /* msgpack round trip of every key */
    c = read_conf("dsprites");
    msgpack_sbuffer sb;
    msgpack_sbuffer_init(&sb);
    msgpack_packer pk;
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
    sp_config_pack(c, &pk);
    msgpack_unpacked u;
    msgpack_unpacked_init(&u);
    size_t off = 0;
    int ok = msgpack_unpack_next(&u, sb.data, sb.size, &off) == MSGPACK_UNPACK_SUCCESS;
    char err[256] = "";
    sp_config *d = ok ? sp_config_from_msgpack(&u.data, err, sizeof err) : NULL;
    int same = d != NULL;
    for (int i = 0; same && i < c->n; i++)
        same = memcmp(&c->v[i], &d->v[i], sizeof c->v[i]) == 0;
    CHECK("config_msgpack_roundtrip", same, "differs (%s)", err);
    sp_config_free(d);
    msgpack_unpacked_destroy(&u);
    msgpack_sbuffer_destroy(&sb);
    sp_config_free(c);
}

/* Our names and shapes against the reference's state_dict. */
static int derived_key(const char *k)
{
    static const char *SUFFIX[] = {".identity", ".activations", ".inverse_kernel", ".padding_matrix",
                                   ".target_coordinate_repr", ".num_batches_tracked"};
    for (size_t i = 0; i < sizeof SUFFIX / sizeof SUFFIX[0]; i++) {
        size_t n = strlen(k), s = strlen(SUFFIX[i]);
        if (n >= s && !strcmp(k + n - s, SUFFIX[i]))
            return 1;
    }
    if (!strcmp(k, "occ_grid"))
        return 1;
    /* aliases of the shared encoder */
    return strstr(k, "transformer.encoder.") || strstr(k, "transformers.0.encoder.") ||
           (strstr(k, "sprite_transformers.") && strstr(k, ".encoder.encoder."));
}

static void test_shapes(const char *conf)
{
    char path[256], name[128];
    snprintf(path, sizeof path, "tests/golden/model/%s.txt", conf);
    FILE *f = fopen(path, "r");
    snprintf(name, sizeof name, "shapes_%s_golden_present", conf);
    CHECK(name, f != NULL, "%s missing", path);
    if (!f)
        return;
    sp_config *c = read_conf(conf);
    sp_model *m = sp_model_new(c, conf);
    char *found = calloc((size_t)m->ntensors, 1);
    char line[512];
    int bad = 0, extra = 0;
    char first[512] = "";
    while (fgets(line, sizeof line, f)) {
        char key[400], dims[100] = "";
        if (sscanf(line, "%399s %99s", key, dims) < 1)
            continue;
        int64_t shape[8];
        int nd = 0;
        for (char *p = dims; *p && nd < 8;) {
            shape[nd++] = strtoll(p, &p, 10);
            if (*p == ',')
                p++;
        }
        int j = 0;
        while (j < m->ntensors && strcmp(m->tensors[j].name, key) != 0)
            j++;
        if (j == m->ntensors) {
            if (!derived_key(key)) {
                extra++;
                if (!*first)
                    snprintf(first, sizeof first, "reference key %s not in our model", key);
            }
            continue;
        }
        found[j] = 1;
        const sp_tensor *t = m->tensors[j].t;
        int same = t->ndim == nd;
        for (int i = 0; same && i < nd; i++)
            same = t->shape[i] == shape[i];
        if (!same) {
            bad++;
            if (!*first)
                snprintf(first, sizeof first, "%s: shape differs", key);
        }
    }
    fclose(f);
    int missing = 0;
    for (int j = 0; j < m->ntensors; j++)
        if (!found[j]) {
            missing++;
            if (!*first)
                snprintf(first, sizeof first, "our %s is not a reference key", m->tensors[j].name);
        }
    snprintf(name, sizeof name, "shapes_%s_match_reference", conf);
    CHECK(name, !bad && !extra && !missing, "%d shapes differ, %d reference keys missing, %d of ours unknown: %s",
          bad, extra, missing, first);
    free(found);
    sp_model_free(m);
    sp_config_free(c);
}

static void test_init(void)
{
    sp_config *c = read_conf("tetro");
    sp_model *m = sp_model_new(c, "tetro");
    sp_model_init(m, 7, NULL, 0);
    const sp_tensor *p = sp_model_find(m, "prototype_params"), *mk = sp_model_find(m, "mask_params");
    int ok = 1;
    for (size_t i = 0; i < sp_tensor_numel(p); i++)
        ok &= sp_f32(p)[i] == 0.9f;
    CHECK("init_proto_constant", ok, "prototypes are not 0.9");
    float g[24 * 24];
    sp_gaussian_weights(g, 1, 24, 24, 5);
    ok = 1;
    for (int k = 0; k < 19; k++)
        ok &= memcmp(sp_f32(mk) + k * 576, g, sizeof g) == 0;
    CHECK("init_masks_gaussian_copies", ok, "masks are not 19 copies of the Gaussian");
    /* last regressor layer zero, hidden layers within nn.Linear's bound */
    const sp_tensor *last = sp_model_find(m, "layer_transformer.tsf_sequences.0.tsf_modules.1.regressor.5.weight");
    const sp_tensor *hid = sp_model_find(m, "layer_transformer.tsf_sequences.0.tsf_modules.1.regressor.0.weight");
    const sp_tensor *hb = sp_model_find(m, "layer_transformer.tsf_sequences.0.tsf_modules.1.regressor.3.bias");
    ok = last && hid && hb;
    double bound = 1 / sqrt((double)m->features), mx = 0;
    for (size_t i = 0; ok && i < sp_tensor_numel(last); i++)
        ok &= sp_f32(last)[i] == 0;
    for (size_t i = 0; ok && i < sp_tensor_numel(hid); i++) {
        ok &= fabs(sp_f32(hid)[i]) <= bound;
        mx = fmax(mx, fabs(sp_f32(hid)[i]));
    }
    CHECK("init_linear", ok && mx > 0.9 * bound && sp_f32(hb)[0] != 0 && fabs(sp_f32(hb)[0]) <= 1 / sqrt(128.0),
          "regressor init wrong (max %g, bound %g)", mx, bound);
    const sp_tensor *rv = sp_model_find(m, "encoder.encoder.1.running_var");
    CHECK("init_encoder", rv && fabsf(sp_f32(rv)[0] - 0.81f) < 1e-6f, "encoder not initialised");

    /* same seed, same bytes; another seed, other bytes */
    size_t n1, n2, n3;
    char *b1 = sp_model_pack(m, &n1);
    sp_model *m2 = sp_model_new(c, "tetro");
    sp_model_init(m2, 7, NULL, 0);
    char *b2 = sp_model_pack(m2, &n2);
    sp_model_init(m2, 8, NULL, 0);
    char *b3 = sp_model_pack(m2, &n3);
    CHECK("init_deterministic", n1 == n2 && memcmp(b1, b2, n1) == 0, "two inits with seed 7 differ");
    CHECK("init_seed_matters", n1 == n3 && memcmp(b1, b3, n1) != 0, "seeds 7 and 8 give the same model");

    /* round trip: unpack, pack again: identical bytes and values */
    sp_map_put_str(&m->meta, "producer", "test");
    free(b1);
    b1 = sp_model_pack(m, &n1);
    sp_model *r = sp_model_unpack(b1, n1, "mem");
    free(b2);
    b2 = sp_model_pack(r, &n2);
    CHECK("model_roundtrip_bytes", n1 == n2 && memcmp(b1, b2, n1) == 0, "repacked model differs");
    ok = r->ntensors == m->ntensors;
    for (int i = 0; ok && i < m->ntensors; i++)
        ok = !strcmp(r->tensors[i].name, m->tensors[i].name) &&
             memcmp(r->tensors[i].t->data, m->tensors[i].t->data, m->tensors[i].t->nbytes) == 0;
    CHECK("model_roundtrip_values", ok, "tensors differ after the round trip");
    sp_model_free(r);

    /* through a file: sp_model_write (atomic) then sp_model_read */
    char path[] = "/tmp/test_model.XXXXXX";
    int fd = mkstemp(path);
    if (fd >= 0)
        close(fd);
    sp_model_write(m, path);
    r = sp_model_read(path);
    free(b2);
    b2 = sp_model_pack(r, &n2);
    CHECK("model_file_roundtrip", n1 == n2 && memcmp(b1, b2, n1) == 0, "model read from %s differs", path);
    sp_model_free(r);

    /* a partial read: the encoder's tensors hold no values (no memory
     * taken), every other tensor is read, the model remembers it and
     * refuses to be written */
    r = sp_model_read_part(path, "encoder.");
    int enc_zero = 1, enc_seen = 0, rest_same = 1;
    for (int i = 0; i < r->ntensors; i++) {
        const sp_tensor *t = r->tensors[i].t;
        if (!strncmp(r->tensors[i].name, "encoder.", 8)) {
            enc_seen++;
            enc_zero &= t->data == NULL && t->nbytes == m->tensors[i].t->nbytes;
        } else {
            rest_same &= t->data && memcmp(t->data, m->tensors[i].t->data, t->nbytes) == 0;
        }
    }
    CHECK("model_read_part", enc_seen > 0 && enc_zero && rest_same && !strcmp(r->skipped, "encoder."),
          "%d encoder tensors, without data %d, others equal %d, skipped '%s'", enc_seen, enc_zero, rest_same,
          r->skipped);
    fatal_msg[0] = 0;
    if (setjmp(fatal_jmp) == 0) {
        size_t nn;
        free(sp_model_pack(r, &nn));
    }
    CHECK("model_read_part_not_written", strstr(fatal_msg, "cannot be written") != NULL, "got '%s'", fatal_msg);
    sp_model_free(r);

    /* sp_model_read_into: the skipped tensors' values go where dest says,
     * exactly the file's, and the model holds no copy */
    static into_state st;
    into_init(&st, m);
    r = sp_model_read_into(path, "encoder.", into_dest, into_done, &st);
    int into_zero = 1;
    for (int i = 0; i < r->ntensors; i++)
        if (!strncmp(r->tensors[i].name, "encoder.", 8))
            into_zero &= r->tensors[i].t->data == NULL;
    for (int i = 0; i < st.calls; i++)
        st.same &= memcmp(st.got[i], sp_model_find(m, st.names[i])->data, st.counts[i] * sizeof(float)) == 0;
    CHECK("model_read_into", st.calls == enc_seen && st.same && into_zero && !strcmp(r->skipped, "encoder."),
          "%d of %d encoder tensors given, equal %d, model's without data %d", st.calls, enc_seen, st.same,
          into_zero);
    CHECK("model_read_into_done", st.dones == enc_seen && st.done_ok,
          "%d done calls for %d tensors, each for the last dest's room with the file's values: %d", st.dones,
          enc_seen, st.done_ok);
    into_free(&st);
    sp_model_free(r);
    /* sp_model_read_only_into: the encoder's values to dest as above, no
     * other tensor read (none holds data), the model marked as one part
     * and refused for writing */
    into_init(&st, m);
    r = sp_model_read_only_into(path, "encoder.", into_dest, into_done, &st);
    int only_none = 1, only_shapes = 1;
    for (int i = 0; i < r->ntensors; i++) {
        only_none &= r->tensors[i].t->data == NULL;
        only_shapes &= r->tensors[i].t->nbytes == m->tensors[i].t->nbytes;
    }
    for (int i = 0; i < st.calls; i++)
        st.same &= memcmp(st.got[i], sp_model_find(m, st.names[i])->data, st.counts[i] * sizeof(float)) == 0;
    CHECK("model_read_only_into", st.calls == enc_seen && st.same && st.done_ok && only_none && only_shapes &&
                                      !strcmp(r->skipped, SP_MODEL_ONLY_PART),
          "%d of %d encoder tensors given, equal %d, done %d, none held %d, shapes %d, skipped '%s'", st.calls,
          enc_seen, st.same, st.done_ok, only_none, only_shapes, r->skipped);
    fatal_msg[0] = 0;
    if (setjmp(fatal_jmp) == 0) {
        size_t nn;
        free(sp_model_pack(r, &nn));
    }
    CHECK("model_read_only_into_not_written", strstr(fatal_msg, "cannot be written") != NULL, "got '%s'",
          fatal_msg);
    into_free(&st);
    sp_model_free(r);
    /* a non-finite value in a tensor read that way is the same error */
    sp_tensor *et = NULL;
    for (int i = 0; i < m->ntensors && !et; i++)
        if (!strncmp(m->tensors[i].name, "encoder.", 8))
            et = m->tensors[i].t;
    float keep0 = sp_f32(et)[1];
    sp_f32(et)[1] = NAN;
    sp_model_write(m, path);
    sp_f32(et)[1] = keep0;
    into_init(&st, m);
    fatal_msg[0] = 0;
    if (setjmp(fatal_jmp) == 0)
        sp_model_free(sp_model_read_into(path, "encoder.", into_dest, into_done, &st));
    CHECK("model_read_into_not_finite", strstr(fatal_msg, "': element 1 is not finite") != NULL, "got '%s'",
          fatal_msg);
    into_free(&st);
    unlink(path);

    /* corruptions */
    const char *e;
    e = unpack_error(b1, n1 - 1);
    CHECK("model_truncated", strstr(e, "m.spm: truncated model file") != NULL, "got '%s'", e);
    e = unpack_error(b1, n1 / 2);
    CHECK("model_truncated_half", strstr(e, "truncated") != NULL, "got '%s'", e);
    e = unpack_error("", 0);
    CHECK("model_empty", strstr(e, "empty") != NULL, "got '%s'", e);
    char *v = memmem(b1, n1, "sprites-model", 13);
    if (v) {
        v[13] = 2; /* the version's positive fixint */
        e = unpack_error(b1, n1);
        CHECK("model_version", strstr(e, "version is not 1") != NULL, "got '%s'", e);
        v[13] = 1;
    }
    /* a tensor of another shape, an unknown tensor, a missing tensor */
    sp_tensor *keep = m->tensors[0].t;
    m->tensors[0].t = sp_tensor_newv(SP_F32, 4, 19, 3, 24, 23);
    free(b3);
    b3 = sp_model_pack(m, &n3);
    e = unpack_error(b3, n3);
    CHECK("model_bad_shape", strstr(e, "tensor 'prototype_params': f32 [19,3,24,23], the config implies f32 [19,3,24,24]") != NULL,
          "got '%s'", e);
    sp_tensor_free(m->tensors[0].t);
    m->tensors[0].t = keep;
    snprintf(m->tensors[1].name, sizeof m->tensors[1].name, "mask_paramz");
    free(b3);
    b3 = sp_model_pack(m, &n3);
    e = unpack_error(b3, n3);
    CHECK("model_unknown_tensor", strstr(e, "tensor 'mask_paramz' is not part of the model") != NULL, "got '%s'", e);
    snprintf(m->tensors[1].name, sizeof m->tensors[1].name, "mask_params");
    m->ntensors--;
    free(b3);
    b3 = sp_model_pack(m, &n3);
    m->ntensors++;
    e = unpack_error(b3, n3);
    CHECK("model_missing_tensor", strstr(e, "missing tensor") != NULL, "got '%s'", e);
    free(b1);
    free(b2);
    free(b3);
    sp_model_free(m2);
    sp_model_free(m);
    sp_config_free(c);

    /* 'mean' backgrounds average the first 100 images */
    c = read_conf("gtsrb8");
    m = sp_model_new(c, "gtsrb8");
    size_t one = 3 * 28 * 28;
    float *imgs = calloc(200 * one, sizeof *imgs);
    for (size_t i = 0; i < 200; i++)
        for (size_t j = 0; j < one; j++)
            imgs[i * one + j] = i < 100 ? (float)(i % 2) : 5.0f;
    sp_model_init(m, 1, imgs, 200);
    const sp_tensor *bk = sp_model_find(m, "bkg_params");
    CHECK("init_bkg_mean", bk && sp_f32(bk)[0] == 0.5f && sp_f32(bk)[one - 1] == 0.5f, "bkg %g", bk ? sp_f32(bk)[0] : -1);
    free(imgs);
    sp_model_free(m);
    sp_config_free(c);
}

int main(void)
{
    sp_set_prog("test_model");
    sp_set_fatal_hook(on_fatal);
    test_config();
    test_shapes("tetro");
    test_shapes("dsprites");
    test_shapes("gtsrb8");
    test_shapes("horse");
    test_init();
    TEST_MAIN_END;
}

/* Configurations: the reference's YAML configs (ref/configs, one .yml per paper experiment) as plain
 * "key = value" files, pipelines/configs/<name>.conf:
 *
 *   # Tetrominoes, as the paper
 *   dataset.name = tetrominoes
 *   model.n_sprites = 19
 *   model.sprite_size = 24, 24
 *   model.curriculum_learning = false
 *   training.scheduler.milestones = 100, 200
 *   training.pretrained =            # empty: not set (YAML's null)
 *
 * Keys are the reference's option names as dotted paths.  Every key the
 * reference's code reads is in one table (sp_config.c) with its type and the
 * default the reference's code uses (kwargs.get(name, default)); a key the
 * table does not know, a value of the wrong type or a key given twice is a
 * one-line fatal error naming the file and line, because a mistyped option
 * that silently falls back to a default would train another model.
 *
 * A value is one of: an integer, a float, a bool (true/false, as YAML's
 * True/False), a string, a list of numbers ("100, 200"), or "not set". */
#ifndef SP_CONFIG_H
#define SP_CONFIG_H

#include <stddef.h>
#include <stdint.h>

typedef enum {
    SP_CFG_INT,
    SP_CFG_FLOAT,
    SP_CFG_BOOL,
    SP_CFG_STR,
    SP_CFG_INTS,         /* a list of integers */
    SP_CFG_FLOATS,       /* a number or a list of numbers (gamma: 0.1 or 1, 0.1) */
    SP_CFG_INTS_OR_BOOL, /* false / true or a list of integers (curriculum_learning, with_pool) */
    SP_CFG_INT_OR_FALSE  /* an integer, or false (freeze_sprite) */
} sp_cfg_type;

#define SP_CFG_MAX_LIST 16
#define SP_CFG_MAX_STR 256

/* What a value holds (a key of type INTS_OR_BOOL holds BOOL or LIST). */
typedef enum { SP_CFGV_UNSET, SP_CFGV_INT, SP_CFGV_FLOAT, SP_CFGV_BOOL, SP_CFGV_STR, SP_CFGV_LIST } sp_cfgv_kind;

typedef struct {
    sp_cfgv_kind kind;
    int64_t i;  /* INT; BOOL: 0 / 1 */
    double f;   /* FLOAT */
    char s[SP_CFG_MAX_STR];
    int n;      /* LIST */
    double list[SP_CFG_MAX_LIST];
} sp_cfg_value;

typedef struct {
    const char *key;
    sp_cfg_type type;
    const char *def; /* the default in the file syntax; "" = not set (None) */
    const char *help;
} sp_cfg_key;

/* The table of known keys and its length. */
const sp_cfg_key *sp_config_keys(int *n);

typedef struct {
    int n;
    sp_cfg_value *v; /* one per key of the table, in table order */
    int *given;      /* 1 where the file set the key */
} sp_config;

/* Every key at its default. */
sp_config *sp_config_new(void);
void sp_config_free(sp_config *c);
sp_config *sp_config_copy(const sp_config *c);

/* Reads a file; fatal "path:line: key: why" on any error. */
sp_config *sp_config_read(const char *path);
/* Parses text (name is used in messages). */
sp_config *sp_config_parse(const char *text, size_t len, const char *name);
/* Sets one key from the file syntax ("model.n_sprites", "19"); returns 0 or
 * -1 with the reason in err (unknown key, bad value). */
int sp_config_set(sp_config *c, const char *key, const char *value, char *err, size_t errlen);

/* Lookups by key; fatal for a key not in the table (a programming error) or
 * a value of another kind. */
const sp_cfg_value *sp_config_get(const sp_config *c, const char *key);
int sp_config_is_set(const sp_config *c, const char *key);
int64_t sp_config_int(const sp_config *c, const char *key);   /* INT, or INT_OR_FALSE (false: 0) */
double sp_config_float(const sp_config *c, const char *key);  /* FLOAT (an int is converted) */
int sp_config_bool(const sp_config *c, const char *key);      /* BOOL; INTS_OR_BOOL: list = 1 */
/* model.with_pool as the encoder's adaptive pooling size: a list [h, w],
 * true (the default: 1x1) or false (0x0: no pooling). */
void sp_config_with_pool(const sp_config *c, int *pool_h, int *pool_w);
const char *sp_config_str(const sp_config *c, const char *key); /* "" when not set */
/* LIST values: count and elements (n = 0 when not set or a bool). */
int sp_config_list(const sp_config *c, const char *key, double *out, int max);

/* The config as a msgpack map {key: value} of every key of the table (nil
 * when not set), so a model file records every option it was built with;
 * and back, every key checked against the table (unknown key, wrong type):
 * NULL with the reason in err. */
struct msgpack_packer;
struct msgpack_object;
void sp_config_pack(const sp_config *c, struct msgpack_packer *pk);
sp_config *sp_config_from_msgpack(const struct msgpack_object *o, char *err, size_t errlen);

#endif

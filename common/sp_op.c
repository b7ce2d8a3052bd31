#include "sp_op.h"
#include "sp_error.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

static const sp_op_def *const families[] = {sp_ops_nn, sp_ops_geom, sp_ops_compose};

const sp_op_def *sp_op_find(const char *name)
{
    for (size_t f = 0; f < sizeof families / sizeof *families; f++)
        for (const sp_op_def *op = families[f]; op->name; op++)
            if (strcmp(op->name, name) == 0)
                return op;
    return NULL;
}

void sp_op_foreach(void (*fn)(const sp_op_def *op, void *ctx), void *ctx)
{
    for (size_t f = 0; f < sizeof families / sizeof *families; f++)
        for (const sp_op_def *op = families[f]; op->name; op++)
            fn(op, ctx);
}

static int attr_index(const sp_op_attrs *a, const char *name)
{
    for (int i = 0; i < a->n; i++)
        if (strcmp(a->name[i], name) == 0)
            return i;
    return -1;
}

static void set_value(sp_op_attrs *a, int i, char type, const char *op, const char *value)
{
    if (type == 'n') {
        char *end;
        errno = 0;
        double v = strtod(value, &end);
        if (!*value || *end || errno)
            sp_fatal("%s: attribute --%s: '%s' is not a number", op, a->name[i], value);
        a->num[i] = v;
        a->str[i] = NULL;
    } else {
        a->str[i] = value;
        a->num[i] = 0;
    }
}

void sp_op_attrs_defaults(sp_op_attrs *a, const sp_op_def *op)
{
    memset(a, 0, sizeof *a);
    for (const sp_op_attr *at = op->attrs; at && at->name; at++) {
        if (a->n == SP_OP_MAX_ATTRS)
            sp_fatal("internal error: %s has too many attributes", op->name);
        a->name[a->n] = at->name;
        set_value(a, a->n, at->type, op->name, at->def);
        a->n++;
    }
}

void sp_op_attrs_set(sp_op_attrs *a, const sp_op_def *op, const char *name, const char *value)
{
    int i = attr_index(a, name);
    if (i < 0)
        sp_fatal("%s: unknown attribute --%s (see sp-op --list)", op->name, name);
    set_value(a, i, op->attrs[i].type, op->name, value);
}

double sp_attr_num(const sp_op_attrs *a, const char *name)
{
    int i = attr_index(a, name);
    if (i < 0 || a->str[i])
        sp_fatal("internal error: no number attribute '%s'", name);
    return a->num[i];
}

int sp_attr_int(const sp_op_attrs *a, const char *name)
{
    double v = sp_attr_num(a, name);
    if (v != (double)(int)v)
        sp_fatal("attribute --%s: %g is not an integer", name, v);
    return (int)v;
}

const char *sp_attr_str(const sp_op_attrs *a, const char *name)
{
    int i = attr_index(a, name);
    if (i < 0 || !a->str[i])
        sp_fatal("internal error: no string attribute '%s'", name);
    return a->str[i];
}

const sp_tensor *sp_op_input_opt(const char *op, const sp_map *in, const char *name,
                                 sp_dtype dtype, int ndim)
{
    const sp_entry *e = sp_map_find(in, name);
    if (!e)
        return NULL;
    char buf[128];
    if (!e->tensor)
        sp_fatal("%s: input '%s' is not a tensor", op, name);
    if (e->tensor->dtype != dtype || (ndim >= 0 && e->tensor->ndim != ndim))
        sp_fatal("%s: input '%s' is %s, expected %s with %d dimensions", op, name,
                 sp_tensor_describe(e->tensor, buf, sizeof buf), sp_dtype_name(dtype), ndim);
    return e->tensor;
}

const sp_tensor *sp_op_input(const char *op, const sp_map *in, const char *name, sp_dtype dtype,
                             int ndim)
{
    const sp_tensor *t = sp_op_input_opt(op, in, name, dtype, ndim);
    if (!t)
        sp_fatal("%s: input '%s' is missing", op, name);
    return t;
}

void sp_op_check_dim(const char *op, const char *name, const sp_tensor *t, int dim, int64_t want)
{
    char buf[128];
    if (dim >= t->ndim || t->shape[dim] != want)
        sp_fatal("%s: input '%s' is %s, dimension %d should be %lld", op, name,
                 sp_tensor_describe(t, buf, sizeof buf), dim, (long long)want);
}

#include <msgpack.h>
#include <stdio.h>

void sp_op_attrs_from_meta(sp_op_attrs *a, const sp_op_def *op, const sp_map *meta, char *store,
                           size_t store_len)
{
    const sp_entry *e = sp_map_find(meta, "attrs");
    if (!e)
        return;
    if (e->tensor)
        sp_fatal("%s: meta 'attrs' is a tensor, expected a map", op->name);
    msgpack_unpacked u;
    size_t off = 0, used = 0;
    msgpack_unpacked_init(&u);
    if (msgpack_unpack_next(&u, e->raw, e->raw_len, &off) != MSGPACK_UNPACK_SUCCESS ||
        u.data.type != MSGPACK_OBJECT_MAP)
        sp_fatal("%s: meta 'attrs' is not a map", op->name);
    for (uint32_t i = 0; i < u.data.via.map.size; i++) {
        const msgpack_object *k = &u.data.via.map.ptr[i].key, *v = &u.data.via.map.ptr[i].val;
        char name[64], value[128];
        if (k->type != MSGPACK_OBJECT_STR || k->via.str.size >= sizeof name)
            sp_fatal("%s: meta 'attrs' has a bad key", op->name);
        snprintf(name, sizeof name, "%.*s", (int)k->via.str.size, k->via.str.ptr);
        switch (v->type) {
        case MSGPACK_OBJECT_POSITIVE_INTEGER: snprintf(value, sizeof value, "%llu", (unsigned long long)v->via.u64); break;
        case MSGPACK_OBJECT_NEGATIVE_INTEGER: snprintf(value, sizeof value, "%lld", (long long)v->via.i64); break;
        case MSGPACK_OBJECT_FLOAT32:
        case MSGPACK_OBJECT_FLOAT64: snprintf(value, sizeof value, "%.17g", v->via.f64); break;
        case MSGPACK_OBJECT_BOOLEAN: snprintf(value, sizeof value, "%d", v->via.boolean ? 1 : 0); break;
        case MSGPACK_OBJECT_STR:
            snprintf(value, sizeof value, "%.*s", (int)(v->via.str.size < 120 ? v->via.str.size : 120), v->via.str.ptr);
            break;
        default: sp_fatal("%s: meta attribute '%s' is neither a number nor a string", op->name, name);
        }
        /* String values must outlive this call: copy them into the caller's store. */
        size_t n = strlen(value) + 1;
        if (used + n > store_len)
            sp_fatal("%s: meta 'attrs' too long", op->name);
        memcpy(store + used, value, n);
        sp_op_attrs_set(a, op, name, store + used);
        used += n;
    }
    msgpack_unpacked_destroy(&u);
}

int sp_int_list_parse(const char *s, int64_t *out, int max, int64_t lo, int64_t hi)
{
    int n = 0;
    while (*s == ' ')
        s++;
    if (!*s)
        return 0;
    for (;;) {
        char *end;
        errno = 0;
        long long v = strtoll(s, &end, 10);
        if (end == s || errno || v < lo || v > hi || n == max)
            return -1;
        out[n++] = v;
        while (*end == ' ')
            end++;
        if (!*end)
            return n;
        if (*end != ',')
            return -1;
        s = end + 1;
    }
}

#include "sp_map.h"
#include "sp_error.h"

#include <msgpack.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void entry_free(sp_entry *e)
{
    free(e->name);
    sp_tensor_free(e->tensor);
    free(e->raw);
    memset(e, 0, sizeof *e);
}

void sp_map_clear(sp_map *m)
{
    for (int i = 0; i < m->n; i++)
        entry_free(&m->e[i]);
    m->n = 0;
}

void sp_map_free(sp_map *m)
{
    sp_map_clear(m);
    free(m->e);
    m->e = NULL;
    m->cap = 0;
}

static int find_index(const sp_map *m, const char *name)
{
    for (int i = 0; i < m->n; i++)
        if (strcmp(m->e[i].name, name) == 0)
            return i;
    return -1;
}

const sp_entry *sp_map_find(const sp_map *m, const char *name)
{
    int i = find_index(m, name);
    return i < 0 ? NULL : &m->e[i];
}

sp_tensor *sp_map_tensor(const sp_map *m, const char *name)
{
    const sp_entry *e = sp_map_find(m, name);
    return e ? e->tensor : NULL;
}

void sp_map_remove(sp_map *m, const char *name)
{
    int i = find_index(m, name);
    if (i < 0)
        return;
    entry_free(&m->e[i]);
    memmove(&m->e[i], &m->e[i + 1], (size_t)(m->n - i - 1) * sizeof *m->e);
    m->n--;
}

sp_tensor *sp_map_take(sp_map *m, const char *name)
{
    int i = find_index(m, name);
    if (i < 0)
        return NULL;
    sp_tensor *t = m->e[i].tensor;
    m->e[i].tensor = NULL;
    sp_map_remove(m, name);
    return t;
}

/* The slot for name, emptied (replacing keeps the entry's position). */
static sp_entry *slot(sp_map *m, const char *name)
{
    int i = find_index(m, name);
    if (i >= 0) {
        sp_tensor_free(m->e[i].tensor);
        free(m->e[i].raw);
        m->e[i].tensor = NULL;
        m->e[i].raw = NULL;
        m->e[i].raw_len = 0;
        return &m->e[i];
    }
    if (m->n == m->cap) {
        m->cap = m->cap ? 2 * m->cap : 8;
        m->e = sp_realloc(m->e, (size_t)m->cap * sizeof *m->e);
    }
    sp_entry *e = &m->e[m->n++];
    memset(e, 0, sizeof *e);
    e->name = sp_strdup(name);
    return e;
}

void sp_map_put_tensor(sp_map *m, const char *name, sp_tensor *t)
{
    slot(m, name)->tensor = t;
}

void sp_map_put_raw(sp_map *m, const char *name, const char *raw, size_t len)
{
    sp_entry *e = slot(m, name);
    e->raw = sp_malloc(len);
    memcpy(e->raw, raw, len);
    e->raw_len = len;
}

static void put_packed(sp_map *m, const char *name, msgpack_sbuffer *sb)
{
    sp_map_put_raw(m, name, sb->data, sb->size);
    msgpack_sbuffer_destroy(sb);
}

void sp_map_put_int(sp_map *m, const char *name, int64_t v)
{
    msgpack_sbuffer sb;
    msgpack_packer pk;
    msgpack_sbuffer_init(&sb);
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
    msgpack_pack_int64(&pk, v);
    put_packed(m, name, &sb);
}

void sp_map_put_double(sp_map *m, const char *name, double v)
{
    msgpack_sbuffer sb;
    msgpack_packer pk;
    msgpack_sbuffer_init(&sb);
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
    msgpack_pack_double(&pk, v);
    put_packed(m, name, &sb);
}

void sp_map_put_str(sp_map *m, const char *name, const char *s)
{
    msgpack_sbuffer sb;
    msgpack_packer pk;
    size_t n = strlen(s);
    msgpack_sbuffer_init(&sb);
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
    msgpack_pack_str(&pk, n);
    msgpack_pack_str_body(&pk, s, n);
    put_packed(m, name, &sb);
}

void sp_map_merge(sp_map *dst, const sp_map *src)
{
    for (int i = 0; i < src->n; i++) {
        const sp_entry *e = &src->e[i];
        if (e->tensor)
            sp_map_put_tensor(dst, e->name, sp_tensor_copy(e->tensor));
        else
            sp_map_put_raw(dst, e->name, e->raw, e->raw_len);
    }
}

/* Unpacks a raw entry; returns 0 with *obj valid until the zone is freed. */
static int unpack_raw(const sp_entry *e, msgpack_unpacked *u)
{
    if (!e || e->tensor)
        return -1;
    msgpack_unpacked_init(u);
    size_t off = 0;
    if (msgpack_unpack_next(u, e->raw, e->raw_len, &off) != MSGPACK_UNPACK_SUCCESS) {
        msgpack_unpacked_destroy(u);
        return -1;
    }
    return 0;
}

int sp_map_get_int(const sp_map *m, const char *name, int64_t *out)
{
    msgpack_unpacked u;
    if (unpack_raw(sp_map_find(m, name), &u) != 0)
        return -1;
    int rc = 0;
    if (u.data.type == MSGPACK_OBJECT_POSITIVE_INTEGER && u.data.via.u64 <= INT64_MAX)
        *out = (int64_t)u.data.via.u64;
    else if (u.data.type == MSGPACK_OBJECT_NEGATIVE_INTEGER)
        *out = u.data.via.i64;
    else
        rc = -1;
    msgpack_unpacked_destroy(&u);
    return rc;
}

int sp_map_get_double(const sp_map *m, const char *name, double *out)
{
    msgpack_unpacked u;
    if (unpack_raw(sp_map_find(m, name), &u) != 0)
        return -1;
    int rc = 0;
    switch (u.data.type) {
    case MSGPACK_OBJECT_POSITIVE_INTEGER: *out = (double)u.data.via.u64; break;
    case MSGPACK_OBJECT_NEGATIVE_INTEGER: *out = (double)u.data.via.i64; break;
    case MSGPACK_OBJECT_FLOAT32:
    case MSGPACK_OBJECT_FLOAT64: *out = u.data.via.f64; break;
    default: rc = -1;
    }
    msgpack_unpacked_destroy(&u);
    return rc;
}

int sp_map_get_str(const sp_map *m, const char *name, char *buf, size_t len)
{
    msgpack_unpacked u;
    if (unpack_raw(sp_map_find(m, name), &u) != 0)
        return -1;
    int rc = -1;
    if (u.data.type == MSGPACK_OBJECT_STR && len > 0) {
        size_t n = u.data.via.str.size < len - 1 ? u.data.via.str.size : len - 1;
        memcpy(buf, u.data.via.str.ptr, n);
        buf[n] = 0;
        rc = 0;
    }
    msgpack_unpacked_destroy(&u);
    return rc;
}

void sp_raw_describe(const char *raw, size_t len, char *buf, size_t buflen)
{
    msgpack_unpacked u;
    size_t off = 0;
    msgpack_unpacked_init(&u);
    if (msgpack_unpack_next(&u, raw, len, &off) != MSGPACK_UNPACK_SUCCESS) {
        snprintf(buf, buflen, "(unreadable)");
    } else {
        /* msgpack_object_print_buffer writes JSON-like text, truncated. */
        int n = msgpack_object_print_buffer(buf, buflen, u.data);
        if (n < 0 && buflen)
            buf[0] = 0;
    }
    msgpack_unpacked_destroy(&u);
}

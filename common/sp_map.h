/* A named, ordered set of values: the entries of a batch or of a header's
 * "meta".  A value is either a tensor (owned) or any other msgpack value kept
 * as its packed bytes, so that a stage passes through, untouched, whatever it
 * does not understand. */
#ifndef SP_MAP_H
#define SP_MAP_H

#include "sp_tensor.h"

typedef struct {
    char *name;
    sp_tensor *tensor; /* owned; NULL for a raw value */
    char *raw;         /* owned packed msgpack value when tensor == NULL */
    size_t raw_len;
} sp_entry;

typedef struct {
    int n, cap;
    sp_entry *e;
} sp_map;

void sp_map_clear(sp_map *m); /* frees every entry, keeps the map usable */
void sp_map_free(sp_map *m);  /* same, and releases the table */

const sp_entry *sp_map_find(const sp_map *m, const char *name);
/* The tensor called name, or NULL when absent (or not a tensor). */
sp_tensor *sp_map_tensor(const sp_map *m, const char *name);
/* Removes the entry and hands its tensor to the caller (NULL when absent). */
sp_tensor *sp_map_take(sp_map *m, const char *name);
void sp_map_remove(sp_map *m, const char *name);

/* Insert or replace; the map takes ownership of t. */
void sp_map_put_tensor(sp_map *m, const char *name, sp_tensor *t);
/* Insert or replace with a copy of packed msgpack bytes. */
void sp_map_put_raw(sp_map *m, const char *name, const char *raw, size_t len);
void sp_map_put_int(sp_map *m, const char *name, int64_t v);
void sp_map_put_double(sp_map *m, const char *name, double v);
void sp_map_put_str(sp_map *m, const char *name, const char *s);
/* Copies every entry of src into dst (replacing same names). */
void sp_map_merge(sp_map *dst, const sp_map *src);

/* Scalar reads of raw entries: return 0 on success, -1 when absent or of
 * another type. */
int sp_map_get_int(const sp_map *m, const char *name, int64_t *out);
int sp_map_get_double(const sp_map *m, const char *name, double *out);
int sp_map_get_str(const sp_map *m, const char *name, char *buf, size_t len);

/* A raw value as short human-readable text (for sp-info). */
void sp_raw_describe(const char *raw, size_t len, char *buf, size_t buflen);

#endif

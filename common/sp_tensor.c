#define _POSIX_C_SOURCE 200809L
#include "sp_tensor.h"
#include "sp_env.h"
#include "sp_error.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#if !defined(__BYTE_ORDER__) || __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "streams carry little-endian data and this code copies it as is: a big-endian host needs byte swaps"
#endif

static const char *const dtype_names[SP_NDTYPES] = {"f32", "f64", "u8", "i32", "i64"};
static const size_t dtype_sizes[SP_NDTYPES] = {4, 8, 1, 4, 8};

size_t sp_dtype_size(sp_dtype d) { return dtype_sizes[d]; }
const char *sp_dtype_name(sp_dtype d) { return dtype_names[d]; }

int sp_dtype_parse(const char *name, size_t len, sp_dtype *d)
{
    for (int i = 0; i < SP_NDTYPES; i++)
        if (strlen(dtype_names[i]) == len && memcmp(dtype_names[i], name, len) == 0) {
            *d = (sp_dtype)i;
            return 0;
        }
    return -1;
}

size_t sp_max_tensor_bytes(void)
{
    static size_t cached;
    if (!cached) {
        unsigned long long v = sp_env_positive("SP_MAX_BYTES", 1ull << 32);
        cached = v > SIZE_MAX ? SIZE_MAX : (size_t)v;
    }
    return cached;
}

size_t sp_shape_numel(int ndim, const int64_t *shape)
{
    if (ndim < 0 || ndim > SP_MAX_DIMS)
        return (size_t)-1;
    size_t n = 1;
    for (int i = 0; i < ndim; i++) {
        if (shape[i] < 0 || shape[i] > SP_MAX_DIM)
            return (size_t)-1;
        if (shape[i] && n > SIZE_MAX / 16 / (size_t)shape[i])
            return (size_t)-1;
        n *= (size_t)shape[i];
    }
    return n;
}

size_t sp_tensor_numel(const sp_tensor *t) { return t->nbytes / dtype_sizes[t->dtype]; }

/* zero: 1 zero-filled, 0 uninitialised, -1 no data at all */
static sp_tensor *tensor_alloc(sp_dtype dtype, int ndim, const int64_t *shape, int zero)
{
    size_t n = sp_shape_numel(ndim, shape);
    if (n == (size_t)-1 || n * dtype_sizes[dtype] > sp_max_tensor_bytes())
        sp_fatal("tensor shape too large or invalid (%d dims)", ndim);
    sp_tensor *t = sp_calloc(1, sizeof *t);
    t->dtype = dtype;
    t->ndim = ndim;
    for (int i = 0; i < ndim; i++)
        t->shape[i] = shape[i];
    t->nbytes = n * dtype_sizes[dtype];
    if (zero >= 0)
        t->data = zero ? sp_calloc(1, t->nbytes ? t->nbytes : 1) : sp_malloc(t->nbytes ? t->nbytes : 1);
    return t;
}

sp_tensor *sp_tensor_new(sp_dtype dtype, int ndim, const int64_t *shape)
{
    return tensor_alloc(dtype, ndim, shape, 1);
}

sp_tensor *sp_tensor_new_uninit(sp_dtype dtype, int ndim, const int64_t *shape)
{
    return tensor_alloc(dtype, ndim, shape, 0);
}

sp_tensor *sp_tensor_new_no_data(sp_dtype dtype, int ndim, const int64_t *shape)
{
    return tensor_alloc(dtype, ndim, shape, -1);
}

sp_tensor *sp_tensor_dims(sp_dtype dtype, int ndim, int zero, const int64_t *shape, size_t count)
{
    if (ndim < 0 || ndim > SP_MAX_DIMS || count != (size_t)ndim)
        sp_fatal("internal error: %d dimensions, %zu given", ndim, count);
    return tensor_alloc(dtype, ndim, shape, zero);
}

sp_tensor *sp_tensor_copy(const sp_tensor *t)
{
    sp_tensor *c = sp_tensor_new(t->dtype, t->ndim, t->shape);
    memcpy(c->data, t->data, t->nbytes);
    return c;
}

void sp_tensor_free(sp_tensor *t)
{
    if (!t)
        return;
    free(t->data);
    free(t);
}

double sp_tensor_get(const sp_tensor *t, size_t i)
{
    switch (t->dtype) {
    case SP_F32: return ((const float *)t->data)[i];
    case SP_F64: return ((const double *)t->data)[i];
    case SP_U8: return ((const uint8_t *)t->data)[i];
    case SP_I32: return ((const int32_t *)t->data)[i];
    case SP_I64: return (double)((const int64_t *)t->data)[i];
    default: return 0;
    }
}

void sp_tensor_set(sp_tensor *t, size_t i, double v)
{
    switch (t->dtype) {
    case SP_F32: ((float *)t->data)[i] = (float)v; break;
    case SP_F64: ((double *)t->data)[i] = v; break;
    case SP_U8: ((uint8_t *)t->data)[i] = (uint8_t)v; break;
    case SP_I32: ((int32_t *)t->data)[i] = (int32_t)v; break;
    case SP_I64: ((int64_t *)t->data)[i] = (int64_t)v; break;
    default: break;
    }
}

sp_tensor *sp_tensor_convert(const sp_tensor *t, sp_dtype dtype)
{
    sp_tensor *c = sp_tensor_new(dtype, t->ndim, t->shape);
    size_t n = sp_tensor_numel(t);
    if (t->dtype == SP_I64 && dtype == SP_I32) {
        for (size_t i = 0; i < n; i++)
            sp_i32(c)[i] = (int32_t)sp_i64(t)[i];
    } else {
        for (size_t i = 0; i < n; i++)
            sp_tensor_set(c, i, sp_tensor_get(t, i));
    }
    return c;
}

const char *sp_tensor_describe(const sp_tensor *t, char *buf, size_t len)
{
    size_t k = (size_t)snprintf(buf, len, "%s [", dtype_names[t->dtype]);
    for (int i = 0; i < t->ndim && k < len; i++)
        k += (size_t)snprintf(buf + k, len - k, "%s%lld", i ? "," : "", (long long)t->shape[i]);
    if (k < len)
        snprintf(buf + k, len - k, "]");
    return buf;
}

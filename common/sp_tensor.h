/* The tensor: a dtype, a shape of up to SP_MAX_DIMS dimensions, and one
 * owned, contiguous, C-order buffer.  The stream format (formats/stream.md)
 * serialises exactly this. */
#ifndef SP_TENSOR_H
#define SP_TENSOR_H

#include <stddef.h>
#include <stdint.h>

typedef enum { SP_F32, SP_F64, SP_U8, SP_I32, SP_I64, SP_NDTYPES } sp_dtype;

#define SP_MAX_DIMS 8
/* Largest single dimension a stream may claim; the byte limit of a whole
 * tensor is sp_max_tensor_bytes(). */
#define SP_MAX_DIM ((int64_t)1 << 31)

typedef struct {
    sp_dtype dtype;
    int ndim;
    int64_t shape[SP_MAX_DIMS];
    void *data; /* owned; nbytes long (NULL only from sp_tensor_new_no_data) */
    size_t nbytes;
} sp_tensor;

size_t sp_dtype_size(sp_dtype d);
const char *sp_dtype_name(sp_dtype d);
/* Returns 0 and sets *d when name is one of f32 f64 u8 i32 i64, else -1. */
int sp_dtype_parse(const char *name, size_t len, sp_dtype *d);

/* Bytes a tensor may have: 4 GiB unless the environment sets SP_MAX_BYTES. */
size_t sp_max_tensor_bytes(void);

/* A zero-filled tensor; fatal when the shape is invalid or too large. */
sp_tensor *sp_tensor_new(sp_dtype dtype, int ndim, const int64_t *shape);
/* The same without zeroing the data, for a caller that fills all of it. */
sp_tensor *sp_tensor_new_uninit(sp_dtype dtype, int ndim, const int64_t *shape);
/* The shape and size alone, data NULL (nothing allocated): for a model
 * file's reader, which allocates the values it reads and no others. */
sp_tensor *sp_tensor_new_no_data(sp_dtype dtype, int ndim, const int64_t *shape);
/* Same with the dimensions as arguments: sp_tensor_newv(SP_F32, 4, n, c, h,
 * w); a count of dimensions other than ndim is a fatal error. */
#define sp_tensor_newv(dtype, ndim, ...) sp_tensor_dims((dtype), (ndim), 1, SP_TENSOR_DIMS_(__VA_ARGS__))
/* sp_tensor_newv without the zeroing, for a stage's output that its maker
 * writes whole (the candidates, the chosen layers, the composition: a pass
 * over tens of MB a batch saved; tests/cli/perturb.sh checks that every
 * byte is written). */
#define sp_tensor_outv(dtype, ndim, ...) sp_tensor_dims((dtype), (ndim), 0, SP_TENSOR_DIMS_(__VA_ARGS__))
/* the dimensions as an array and their count */
#define SP_TENSOR_DIMS_(...) (const int64_t[]){__VA_ARGS__}, sizeof((const int64_t[]){__VA_ARGS__}) / sizeof(int64_t)
/* What the two above call: shape[0 .. count), zero-filled when zero is 1. */
sp_tensor *sp_tensor_dims(sp_dtype dtype, int ndim, int zero, const int64_t *shape, size_t count);
sp_tensor *sp_tensor_copy(const sp_tensor *t);
void sp_tensor_free(sp_tensor *t);

/* Number of elements, or (size_t)-1 when the shape overflows / is invalid. */
size_t sp_shape_numel(int ndim, const int64_t *shape);
size_t sp_tensor_numel(const sp_tensor *t);

/* Element i as a double, and assignment from a double (with the usual C
 * conversion for integer dtypes). */
double sp_tensor_get(const sp_tensor *t, size_t i);
void sp_tensor_set(sp_tensor *t, size_t i, double v);
/* A new tensor of another dtype with the same shape and converted values. */
sp_tensor *sp_tensor_convert(const sp_tensor *t, sp_dtype dtype);

/* "f32 [32,3,35,35]" into buf. */
const char *sp_tensor_describe(const sp_tensor *t, char *buf, size_t len);

static inline float *sp_f32(const sp_tensor *t) { return (float *)t->data; }
static inline int32_t *sp_i32(const sp_tensor *t) { return (int32_t *)t->data; }
static inline int64_t *sp_i64(const sp_tensor *t) { return (int64_t *)t->data; }
static inline uint8_t *sp_u8(const sp_tensor *t) { return (uint8_t *)t->data; }

#endif

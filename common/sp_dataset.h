/* Datasets on disk (formats/dataset.md): the layouts sp-load recognises,
 * the reference's split rules, and loading of one item. */
#ifndef SP_DATASET_H
#define SP_DATASET_H

#include "sp_map.h"

#include <stdint.h>
#include "sp_image.h"

typedef enum { SP_LAYOUT_DTI, SP_LAYOUT_CLASSES, SP_LAYOUT_PLAIN, SP_LAYOUT_IDX } sp_layout;

typedef struct {
    sp_layout layout;
    char *root;
    int64_t n;          /* items */
    char **image_paths; /* n paths (PNG layouts) */
    char **mask_paths;  /* n or NULL (DTI layout with masks/) */
    char **sem_paths;   /* n or NULL (DTI layout with sem_masks/) */
    int32_t *labels;    /* n or NULL (class folders, IDX with labels) */
    int n_classes;
    char **class_names; /* n_classes (class folders) */
    uint8_t *idx_pixels; /* IDX: n * idx_h * idx_w bytes */
    int idx_h, idx_w;
} sp_dataset;

const char *sp_layout_name(sp_layout l);

/* Recognises DIR: images/ (+ masks/, sem_masks/) → DTI layout; only
 * sub-folders holding PNGs → class folders; PNG files → plain folder. */
sp_dataset *sp_dataset_open_dir(const char *dir);
/* IDX files (gzip or not), labels optional (NULL). */
sp_dataset *sp_dataset_open_idx(const char *images, const char *labels);
void sp_dataset_free(sp_dataset *d);

/* Split rules of the reference's dataset classes:
 *   multi-object: train = all, eval = first 320, val = 100 drawn with seed 42
 *   gtsrb:        train = eval = all, val = 100 drawn with seed 46
 *   horse:        train = eval = all, val = first 30
 *   torchvision:  train = eval = all, val = max(round(n/10), 100) drawn with seed 46
 *   all:          every split is the whole set
 * "auto" picks multi-object for the DTI layout, gtsrb for class folders,
 * torchvision for IDX files and all for a plain folder.  Draws use numpy's
 * legacy RandomState, so the indices are the reference's.  Returns the number
 * of items and a malloc'd index list in *items. */
int64_t sp_dataset_split(const sp_dataset *d, const char *split, const char *rule,
                         int64_t **items, const char **rule_used);

typedef struct {
    int channels;      /* 1 or 3 */
    int height, width; /* 0: keep the file's size */
} sp_load_opts;

/* Item i at out_h x out_w: image f32 [C,H,W] into img, mask / sem_mask i32
 * [H,W] when the set has them (NULL to skip).  Without resizing (o->height
 * 0) an image of another size is an error, caught before anything is
 * written.  Returns 0, or -1 with "file: reason" in err. */
int sp_dataset_load(const sp_dataset *d, int64_t i, const sp_load_opts *o, int out_h, int out_w,
                    float *img, int32_t *mask, int32_t *sem, char *err, size_t errlen);
/* order [count]: the items of epoch `epoch` in the order sp-load streams
 * them -- as given, or (shuffle) permuted by the Philox stream (seed,
 * epoch).  One definition for sp-load and sp-train --data, which must agree
 * batch for batch. */
void sp_dataset_epoch_order(int64_t *order, const int64_t *items, int64_t count, int shuffle, uint64_t seed,
                            int64_t epoch);

/* The items order[0..n) as one batch map of a stream (formats/stream.md):
 * image f32 [n,C,h,w], index i64, and mask, sem_mask i32 [n,h,w] and
 * label i32 [n] when the set has them.  Items load in parallel; the first
 * failure in item order is fatal. */
void sp_dataset_load_batch(sp_map *b, const sp_dataset *d, const int64_t *order, int64_t n,
                           const sp_load_opts *lo, int h, int w);
/* The size item i will have (after resizing), reading the file's header. */
int sp_dataset_item_size(const sp_dataset *d, int64_t i, int *h, int *w, char *err,
                         size_t errlen);

#endif

#define _DEFAULT_SOURCE
#include "sp_dataset.h"

#include "sp_map.h"
#include "sp_error.h"
#include "sp_mt19937.h"
#include "sp_rng.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <zlib.h>

const char *sp_layout_name(sp_layout l)
{
    static const char *const names[] = {"dti-sprites", "class-folders", "plain", "idx"};
    return names[l];
}

static int is_dir(const char *p)
{
    struct stat st;
    return stat(p, &st) == 0 && S_ISDIR(st.st_mode);
}

static int is_file(const char *p)
{
    struct stat st;
    return stat(p, &st) == 0 && S_ISREG(st.st_mode);
}

static int has_ext(const char *name, const char *ext)
{
    size_t n = strlen(name), e = strlen(ext);
    return n > e && strcasecmp(name + n - e, ext) == 0;
}

static int all_digits(const char *s, size_t n)
{
    if (n == 0)
        return 0;
    for (size_t i = 0; i < n; i++)
        if (!isdigit((unsigned char)s[i]))
            return 0;
    return 1;
}

/* Names "N.png" sort by number when every name is one (the DTI-Sprites
 * layout numbers its files 0..N-1); otherwise byte order, like Python's
 * sorted(). */
static int numeric_names;
static int cmp_names(const void *a, const void *b)
{
    const char *x = *(const char *const *)a, *y = *(const char *const *)b;
    if (numeric_names) {
        unsigned long long u = strtoull(x, NULL, 10), v = strtoull(y, NULL, 10);
        if (u != v)
            return u < v ? -1 : 1;
    }
    return strcmp(x, y);
}

typedef struct {
    char **v;
    int64_t n, cap;
} strlist;

static void strlist_push(strlist *l, const char *s)
{
    if (l->n == l->cap) {
        l->cap = l->cap ? 2 * l->cap : 64;
        l->v = sp_realloc(l->v, sizeof(char *) * (size_t)l->cap);
    }
    l->v[l->n++] = sp_strdup(s);
}

static void strlist_free(strlist *l)
{
    for (int64_t i = 0; i < l->n; i++)
        free(l->v[i]);
    free(l->v);
}

static int cmp_bytes(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* Whether entry e of dir is a directory (want_dir) or a regular file,
 * symbolic links followed: its d_type where the file system gives one, a
 * stat only for links and unknowns (a stat per entry was most of sp-load's
 * start on a 4,096-image Tetrominoes set: 8,192 of them, 60 ms of 70). */
static int entry_is(const char *dir, const struct dirent *e, int want_dir)
{
    if (e->d_type == (want_dir ? DT_DIR : DT_REG))
        return 1;
    if (e->d_type != DT_LNK && e->d_type != DT_UNKNOWN)
        return 0;
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
    return want_dir ? is_dir(path) : is_file(path);
}

/* What list_dir lists: PNG files (other image types counted in *non_png:
 * only PNG is read), sub-directories, or regular files of any name (in
 * byte order, for has_name). */
enum { LIST_PNG, LIST_DIRS, LIST_FILES };

/* The entries of dir not starting with '.', sorted (cmp_names, but
 * LIST_FILES). */
static strlist list_dir(const char *dir, int what, int64_t *non_png)
{
    strlist l = {0};
    DIR *d = opendir(dir);
    if (!d)
        sp_fatal("%s: cannot open directory: %s", dir, strerror(errno));
    struct dirent *e;
    if (non_png)
        *non_png = 0;
    while ((e = readdir(d))) {
        if (e->d_name[0] == '.')
            continue;
        if (what != LIST_PNG) {
            if (entry_is(dir, e, what == LIST_DIRS))
                strlist_push(&l, e->d_name);
        } else if (has_ext(e->d_name, ".png")) {
            strlist_push(&l, e->d_name);
        } else if (has_ext(e->d_name, ".jpg") || has_ext(e->d_name, ".jpeg") ||
                   has_ext(e->d_name, ".ppm") || has_ext(e->d_name, ".bmp")) {
            (*non_png)++;
        }
    }
    closedir(d);
    if (what == LIST_FILES) {
        if (l.n)
            qsort(l.v, (size_t)l.n, sizeof(char *), cmp_bytes);
        return l;
    }
    numeric_names = 1;
    for (int64_t i = 0; i < l.n && numeric_names; i++)
        numeric_names = all_digits(l.v[i], strlen(l.v[i]) - (what == LIST_DIRS ? 0 : 4));
    if (l.n)
        qsort(l.v, (size_t)l.n, sizeof(char *), cmp_names);
    return l;
}

static int has_name(const strlist *l, const char *name)
{
    return l->n && bsearch(&name, l->v, (size_t)l->n, sizeof(char *), cmp_bytes) != NULL;
}

static char *join(const char *a, const char *b)
{
    size_t n = strlen(a) + strlen(b) + 2;
    char *p = sp_malloc(n);
    snprintf(p, n, "%s/%s", a, b);
    return p;
}

static sp_dataset *new_dataset(const char *root, sp_layout layout)
{
    sp_dataset *d = sp_calloc(1, sizeof *d);
    d->root = sp_strdup(root);
    d->layout = layout;
    return d;
}

static void refuse_non_png(const char *dir, int64_t non_png)
{
    if (non_png)
        sp_fatal("%s: %lld images are not PNG (only PNG is read; convert them first)", dir,
                 (long long)non_png);
}

static sp_dataset *open_dti(const char *dir)
{
    char *images = join(dir, "images"), *masks = join(dir, "masks"), *sems = join(dir, "sem_masks");
    int64_t non_png;
    strlist l = list_dir(images, LIST_PNG, &non_png);
    refuse_non_png(images, non_png);
    if (l.n == 0)
        sp_fatal("%s: no PNG images", images);
    sp_dataset *d = new_dataset(dir, SP_LAYOUT_DTI);
    d->n = l.n;
    d->image_paths = sp_malloc(sizeof(char *) * (size_t)l.n);
    int with_masks = is_dir(masks), with_sems = is_dir(sems);
    strlist mask_files = {0}, sem_files = {0};
    if (with_masks) {
        d->mask_paths = sp_malloc(sizeof(char *) * (size_t)l.n);
        mask_files = list_dir(masks, LIST_FILES, NULL);
    }
    if (with_sems) {
        d->sem_paths = sp_malloc(sizeof(char *) * (size_t)l.n);
        sem_files = list_dir(sems, LIST_FILES, NULL);
    }
    for (int64_t i = 0; i < l.n; i++) {
        d->image_paths[i] = join(images, l.v[i]);
        if (with_masks) {
            d->mask_paths[i] = join(masks, l.v[i]);
            if (!has_name(&mask_files, l.v[i]))
                sp_fatal("%s: missing (images/%s has no mask)", d->mask_paths[i], l.v[i]);
        }
        if (with_sems) {
            d->sem_paths[i] = join(sems, l.v[i]);
            if (!has_name(&sem_files, l.v[i]))
                sp_fatal("%s: missing (images/%s has no semantic mask)", d->sem_paths[i], l.v[i]);
        }
    }
    strlist_free(&mask_files);
    strlist_free(&sem_files);
    strlist_free(&l);
    free(images);
    free(masks);
    free(sems);
    return d;
}

static sp_dataset *open_classes(const char *dir, strlist *classes)
{
    sp_dataset *d = new_dataset(dir, SP_LAYOUT_CLASSES);
    strlist paths = {0};
    int64_t cap = 0;
    d->n_classes = (int)classes->n;
    d->class_names = sp_malloc(sizeof(char *) * (size_t)classes->n);
    for (int64_t c = 0; c < classes->n; c++) {
        d->class_names[c] = sp_strdup(classes->v[c]);
        char *cdir = join(dir, classes->v[c]);
        int64_t non_png;
        strlist files = list_dir(cdir, LIST_PNG, &non_png);
        refuse_non_png(cdir, non_png);
        for (int64_t i = 0; i < files.n; i++) {
            char *p = join(cdir, files.v[i]);
            strlist_push(&paths, p);
            free(p);
            if (paths.n > cap) {
                cap = paths.cap;
                d->labels = sp_realloc(d->labels, sizeof(int32_t) * (size_t)cap);
            }
            d->labels[paths.n - 1] = (int32_t)c;
        }
        strlist_free(&files);
        free(cdir);
    }
    if (paths.n == 0)
        sp_fatal("%s: class folders hold no PNG images", dir);
    d->n = paths.n;
    d->image_paths = paths.v;
    return d;
}

sp_dataset *sp_dataset_open_dir(const char *dir)
{
    if (!is_dir(dir))
        sp_fatal("%s: not a directory", dir);
    char *images = join(dir, "images");
    int dti = is_dir(images);
    free(images);
    if (dti)
        return open_dti(dir);
    int64_t non_png;
    strlist files = list_dir(dir, LIST_PNG, &non_png);
    if (files.n > 0 || non_png > 0) {
        refuse_non_png(dir, non_png);
        sp_dataset *d = new_dataset(dir, SP_LAYOUT_PLAIN);
        d->n = files.n;
        d->image_paths = sp_malloc(sizeof(char *) * (size_t)files.n);
        for (int64_t i = 0; i < files.n; i++)
            d->image_paths[i] = join(dir, files.v[i]);
        strlist_free(&files);
        return d;
    }
    strlist_free(&files);
    strlist classes = list_dir(dir, LIST_DIRS, &non_png);
    if (classes.n == 0)
        sp_fatal("%s: no images/ folder, no class folders and no PNG files", dir);
    sp_dataset *d = open_classes(dir, &classes);
    strlist_free(&classes);
    return d;
}

/* Reads a whole (gzip'd or plain: gzread handles both) file. */
static uint8_t *read_all(const char *path, size_t *len)
{
    gzFile g = gzopen(path, "rb");
    if (!g)
        sp_fatal("%s: cannot open: %s", path, strerror(errno));
    size_t cap = 1 << 20, n = 0;
    uint8_t *buf = sp_malloc(cap);
    for (;;) {
        if (n == cap) {
            if (cap > ((size_t)1 << 33))
                sp_fatal("%s: larger than 8 GiB", path);
            cap *= 2;
            buf = sp_realloc(buf, cap);
        }
        int got = gzread(g, buf + n, (unsigned)(cap - n > (1u << 30) ? (1u << 30) : cap - n));
        if (got < 0) {
            int e;
            const char *msg = gzerror(g, &e);
            sp_fatal("%s: read error: %s", path, msg);
        }
        if (got == 0)
            break;
        n += (size_t)got;
    }
    gzclose(g);
    *len = n;
    return buf;
}

static uint32_t be32(const uint8_t *p)
{
    return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) | ((uint32_t)p[2] << 8) | p[3];
}

sp_dataset *sp_dataset_open_idx(const char *images, const char *labels)
{
    size_t len;
    uint8_t *buf = read_all(images, &len);
    if (len < 16 || be32(buf) != 0x00000803)
        sp_fatal("%s: not an IDX file of unsigned-byte images (magic 0x00000803)", images);
    uint32_t n = be32(buf + 4), h = be32(buf + 8), w = be32(buf + 12);
    if (h == 0 || w == 0 || h > 16384 || w > 16384 || (uint64_t)n * h * w != len - 16)
        sp_fatal("%s: IDX header (%u x %u x %u) does not match the file size (%zu bytes)", images,
                 n, h, w, len);
    sp_dataset *d = new_dataset(images, SP_LAYOUT_IDX);
    d->n = n;
    d->idx_h = (int)h;
    d->idx_w = (int)w;
    d->idx_pixels = sp_malloc(len - 16);
    memcpy(d->idx_pixels, buf + 16, len - 16);
    free(buf);
    if (labels) {
        uint8_t *lb = read_all(labels, &len);
        if (len < 8 || be32(lb) != 0x00000801)
            sp_fatal("%s: not an IDX file of unsigned-byte labels (magic 0x00000801)", labels);
        if (be32(lb + 4) != n || len - 8 != n)
            sp_fatal("%s: %u labels for %u images", labels, be32(lb + 4), n);
        d->labels = sp_malloc(sizeof(int32_t) * (size_t)(n ? n : 1));
        int maxl = 0;
        for (uint32_t i = 0; i < n; i++) {
            d->labels[i] = lb[8 + i];
            maxl = lb[8 + i] > maxl ? lb[8 + i] : maxl;
        }
        d->n_classes = maxl + 1;
        free(lb);
    }
    return d;
}

static void free_paths(char **p, int64_t n)
{
    if (!p)
        return;
    for (int64_t i = 0; i < n; i++)
        free(p[i]);
    free(p);
}

void sp_dataset_free(sp_dataset *d)
{
    if (!d)
        return;
    free_paths(d->image_paths, d->n);
    free_paths(d->mask_paths, d->n);
    free_paths(d->sem_paths, d->n);
    free_paths(d->class_names, d->n_classes);
    free(d->labels);
    free(d->idx_pixels);
    free(d->root);
    free(d);
}

int64_t sp_dataset_split(const sp_dataset *d, const char *split, const char *rule,
                         int64_t **items, const char **rule_used)
{
    static const char *const rules[] = {"multi-object", "gtsrb", "horse", "torchvision", "all"};
    if (strcmp(split, "train") != 0 && strcmp(split, "val") != 0 && strcmp(split, "eval") != 0)
        sp_fatal("--split: '%s' is not one of train, val, eval", split);
    if (strcmp(rule, "auto") == 0) {
        static const char *const by_layout[] = {"multi-object", "gtsrb", "all", "torchvision"};
        rule = by_layout[d->layout];
    }
    int known = 0;
    for (size_t i = 0; i < sizeof rules / sizeof *rules; i++)
        known |= strcmp(rule, rules[i]) == 0;
    if (!known)
        sp_fatal("--split-rule: '%s' is not one of auto, multi-object, gtsrb, horse, "
                 "torchvision, all", rule);
    *rule_used = rule;
    int64_t n = d->n, k = n;
    int64_t *out = sp_malloc(sizeof(int64_t) * (size_t)(n ? n : 1));
    for (int64_t i = 0; i < n; i++)
        out[i] = i;
    if (strcmp(rule, "multi-object") == 0) {
        if (strcmp(split, "eval") == 0)
            k = n < 320 ? n : 320;
        else if (strcmp(split, "val") == 0) {
            k = n < 100 ? n : 100;
            sp_numpy_choice(out, 42, n, k);
        }
    } else if (strcmp(rule, "gtsrb") == 0) {
        if (strcmp(split, "val") == 0) {
            k = n < 100 ? n : 100;
            sp_numpy_choice(out, 46, n, k);
        }
    } else if (strcmp(rule, "horse") == 0) {
        if (strcmp(split, "val") == 0)
            k = n < 30 ? n : 30;
    } else if (strcmp(rule, "torchvision") == 0) {
        if (strcmp(split, "val") == 0) {
            /* Python's round() is round-half-even, as is rint(). */
            int64_t nv = (int64_t)rint(0.1 * (double)n);
            nv = nv > 100 ? nv : 100;
            if (nv < n) {
                k = nv;
                sp_numpy_choice(out, 46, n, k);
            }
        }
    }
    *items = out;
    return k;
}

int sp_dataset_item_size(const sp_dataset *d, int64_t i, int *h, int *w, char *err,
                         size_t errlen)
{
    if (d->layout == SP_LAYOUT_IDX) {
        *h = d->idx_h;
        *w = d->idx_w;
        return 0;
    }
    sp_image im;
    if (sp_png_try_read(d->image_paths[i], &im, err, errlen) != 0)
        return -1;
    *h = im.h;
    *w = im.w;
    sp_image_free(&im);
    return 0;
}

/* Label map of an image of h x w, written at oh x ow (nearest). */
static int load_labels(const char *path, int h, int w, int oh, int ow, int32_t *out, char *err,
                       size_t errlen)
{
    sp_tensor *t;
    if (sp_png_try_read_labels(path, &t, err, errlen) != 0)
        return -1;
    if (t->shape[0] != h || t->shape[1] != w) {
        snprintf(err, errlen, "%s: %lldx%lld, its image is %dx%d", path, (long long)t->shape[0],
                 (long long)t->shape[1], h, w);
        sp_tensor_free(t);
        return -1;
    }
    if (oh == h && ow == w) {
        memcpy(out, t->data, sizeof(int32_t) * (size_t)h * (size_t)w);
    } else {
        /* Nearest resize on the ids: wrap them as a 1-channel 16-bit image. */
        sp_image im = sp_image_alloc(h, w, 1, 16);
        for (size_t j = 0; j < (size_t)h * (size_t)w; j++) {
            int32_t v = sp_i32(t)[j];
            if (v < 0 || v > 65535) {
                snprintf(err, errlen, "%s: label %d out of range", path, v);
                sp_image_free(&im);
                sp_tensor_free(t);
                return -1;
            }
            im.px[j] = (uint16_t)v;
        }
        sp_image r = sp_image_resize_nearest(&im, oh, ow);
        for (size_t j = 0; j < (size_t)oh * (size_t)ow; j++)
            out[j] = r.px[j];
        sp_image_free(&r);
        sp_image_free(&im);
    }
    sp_tensor_free(t);
    return 0;
}

int sp_dataset_load(const sp_dataset *d, int64_t i, const sp_load_opts *o, int out_h, int out_w,
                    float *img, int32_t *mask, int32_t *sem, char *err, size_t errlen)
{
    sp_image im;
    if (d->layout == SP_LAYOUT_IDX) {
        im = sp_image_alloc(d->idx_h, d->idx_w, 1, 8);
        const uint8_t *p = d->idx_pixels + (size_t)i * (size_t)d->idx_h * (size_t)d->idx_w;
        for (size_t j = 0; j < (size_t)d->idx_h * (size_t)d->idx_w; j++)
            im.px[j] = p[j];
    } else if (sp_png_try_read(d->image_paths[i], &im, err, errlen) != 0) {
        return -1;
    }
    int h = im.h, w = im.w;
    if (!o->height && (h != out_h || w != out_w)) {
        snprintf(err, errlen, "%s: image is %dx%d, the first was %dx%d (give --size HxW to resize)",
                 d->image_paths ? d->image_paths[i] : d->root, h, w, out_h, out_w);
        sp_image_free(&im);
        return -1;
    }
    sp_image ch = sp_image_to_channels(&im, o->channels);
    sp_image_free(&im);
    if (out_h != ch.h || out_w != ch.w) {
        sp_image r = sp_image_resize_bilinear(&ch, out_h, out_w);
        sp_image_free(&ch);
        ch = r;
    }
    sp_image_to_f32(&ch, img);
    sp_image_free(&ch);
    if (mask && d->mask_paths &&
        load_labels(d->mask_paths[i], h, w, out_h, out_w, mask, err, errlen) != 0)
        return -1;
    if (sem && d->sem_paths &&
        load_labels(d->sem_paths[i], h, w, out_h, out_w, sem, err, errlen) != 0)
        return -1;
    return 0;
}

/* Ids travel as u8 when every one in the batch fits (a quarter of the bytes
 * through each pipe on their way to sp-eval; the stream contract allows u8
 * or i32); a batch with an id above 255 keeps i32. Takes t. */
static sp_tensor *narrow_ids(sp_tensor *t)
{
    const int32_t *v = sp_i32(t);
    const size_t n = sp_tensor_numel(t);
    for (size_t i = 0; i < n; i++)
        if ((uint32_t)v[i] > 255)
            return t;
    sp_tensor *u = sp_tensor_convert(t, SP_U8);
    sp_tensor_free(t);
    return u;
}

/* Loads the n items of order[] into one batch map. Items load in parallel;
 * the first failure (in item order) is reported after the loop, so the
 * message does not depend on thread timing. */
void sp_dataset_load_batch(sp_map *b, const sp_dataset *d, const int64_t *order, int64_t n,
                       const sp_load_opts *lo, int h, int w)
{
    int64_t C = lo->channels;
    sp_tensor *img = sp_tensor_newv(SP_F32, 4, n, C, (int64_t)h, (int64_t)w);
    sp_tensor *idx = sp_tensor_newv(SP_I64, 1, n);
    sp_tensor *mask = d->mask_paths ? sp_tensor_newv(SP_I32, 3, n, (int64_t)h, (int64_t)w) : NULL;
    sp_tensor *sem = d->sem_paths ? sp_tensor_newv(SP_I32, 3, n, (int64_t)h, (int64_t)w) : NULL;
    sp_tensor *lab = d->labels ? sp_tensor_newv(SP_I32, 1, n) : NULL;
    char (*errs)[512] = sp_calloc((size_t)n, 512);
    size_t hw = (size_t)h * (size_t)w;
#pragma omp parallel for schedule(dynamic, 1)
    for (int64_t j = 0; j < n; j++) {
        int64_t i = order[j];
        if (sp_dataset_load(d, i, lo, h, w, sp_f32(img) + (size_t)j * (size_t)C * hw,
                            mask ? sp_i32(mask) + (size_t)j * hw : NULL,
                            sem ? sp_i32(sem) + (size_t)j * hw : NULL, errs[j],
                            sizeof errs[j]) != 0)
            continue;
        sp_i64(idx)[j] = i;
        if (lab)
            sp_i32(lab)[j] = d->labels[i];
    }
    for (int64_t j = 0; j < n; j++)
        if (errs[j][0])
            sp_fatal("%s", errs[j]);
    free(errs);
    sp_map_put_tensor(b, "image", img);
    sp_map_put_tensor(b, "index", idx);
    if (mask)
        sp_map_put_tensor(b, "mask", narrow_ids(mask));
    if (sem)
        sp_map_put_tensor(b, "sem_mask", narrow_ids(sem));
    if (lab)
        sp_map_put_tensor(b, "label", lab);
}

void sp_dataset_epoch_order(int64_t *order, const int64_t *items, int64_t count, int shuffle, uint64_t seed,
                            int64_t epoch)
{
    memcpy(order, items, sizeof(int64_t) * (size_t)count);
    if (shuffle) {
        sp_rng r;
        sp_rng_init(&r, seed, (uint64_t)epoch);
        sp_rng_shuffle(&r, order, count);
    }
}

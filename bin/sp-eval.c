/* sp-eval: metrics of predictions against ground truth (DESIGN §4,
 * formats/eval.md).  Reads streams (stdin, or the files named; concatenated
 * streams are one set), accumulates in memory independent of the number of
 * images (per-image ARI sums and two confusion matrices over ids), and prints
 * one JSON object on stdout.
 *
 * Decisions on edge cases (also in --help and formats/eval.md):
 *  - ari_fg of an image whose true mask is all background: the reference
 *    gives 1.0 (its pair counts are then all zero, and its rule says 1.0), so
 *    such images count 1.0 by default.  --ari-fg-skip-empty leaves them out
 *    of the mean instead; when no image is left, ari_fg is null.
 *  - fg_acc is printed only when every true mask value of the set is 0 or 1.
 *  - macc/miou: classes are the true ids present in the set (the reference
 *    uses its configured n_classes, where absent classes count 0: give
 *    --sem-classes N to get exactly that).  More predicted ids than classes:
 *    rectangular Hungarian, pixels of unmatched predicted ids are errors.
 *  - macc_fg/miou_fg are the reference's "nobkg" values: true class 0 and
 *    predicted id 0 are dropped before a second Hungarian matching; null when
 *    the truth has no foreground class (and no --sem-classes).
 *  - Every batch must carry the same evaluable pairs as the first one, so
 *    that no mean silently covers a subset of the images. */
#include "sp_start.h"
#include "sp_error.h"
#include "sp_metrics.h"
#include "sp_opt.h"
#include "sp_stream.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

enum { P_MASK, P_SEM, P_LABEL, NPAIRS };
static const char *const true_name[NPAIRS] = {"mask", "sem_mask", "label"};
static const char *const pred_name[NPAIRS] = {"pred_mask", "pred_sem", "pred_label"};

typedef struct {
    int decided;       /* the first batch fixed which pairs are evaluated */
    int have[NPAIRS];
    char first[256];   /* where that first batch was, for messages */
    int64_t n;         /* images */
    /* mask / pred_mask */
    long double sum_ari, sum_ari_fg, sum_fg_acc;
    int64_t n_ari_fg;
    int mask_binary;
    sp_ari_ws *ws;
    /* sem_mask / pred_sem, label / pred_label */
    sp_confusion sem, lab;
    /* conversion buffers, reused */
    int32_t *tbuf, *pbuf;
    size_t cap;
    /* options */
    int skip_empty, sem_classes;
} eval_state;

/* "stdin: batch 3" (or "stdin: stream 2, batch 3" after the first stream). */
static const char *where;

#define BAD(...)                                                                       \
    do {                                                                               \
        char m_[768];                                                                  \
        snprintf(m_, sizeof m_, __VA_ARGS__);                                          \
        sp_fatal("%s: %s", where, m_);                                                 \
    } while (0)

static const char *desc(const sp_tensor *t)
{
    static char buf[4][128];
    static int k;
    k = (k + 1) % 4;
    return sp_tensor_describe(t, buf[k], sizeof buf[k]);
}

/* Converts an id tensor (u8, i32 or i64) to int32, checking the range; the
 * message names the element ("pred_mask: id -1 at [2,5,7]"). */
static void to_ids(int32_t *out, const sp_tensor *t, const char *name)
{
    size_t n = sp_tensor_numel(t), bad = (size_t)-1;
    int64_t badv = 0;
    switch (t->dtype) {
    case SP_U8:
        for (size_t i = 0; i < n; i++)
            out[i] = sp_u8(t)[i];
        break;
    case SP_I32:
        for (size_t i = 0; i < n; i++) {
            int32_t v = sp_i32(t)[i];
            if ((v < 0 || v > SP_METRICS_MAX_ID) && bad == (size_t)-1) {
                bad = i;
                badv = v;
            }
            out[i] = v;
        }
        break;
    case SP_I64:
        for (size_t i = 0; i < n; i++) {
            int64_t v = sp_i64(t)[i];
            if ((v < 0 || v > SP_METRICS_MAX_ID) && bad == (size_t)-1) {
                bad = i;
                badv = v;
            }
            out[i] = (int32_t)(v < 0 ? -1 : v > SP_METRICS_MAX_ID ? -1 : v);
        }
        break;
    default: BAD("%s: internal error: dtype %s", name, sp_dtype_name(t->dtype));
    }
    if (bad != (size_t)-1) {
        char pos[128];
        size_t k = 0, rem = bad;
        int64_t idx[SP_MAX_DIMS];
        for (int d = t->ndim - 1; d >= 0; d--) {
            idx[d] = (int64_t)(rem % (size_t)t->shape[d]);
            rem /= (size_t)t->shape[d];
        }
        for (int d = 0; d < t->ndim && k < sizeof pos; d++)
            k += (size_t)snprintf(pos + k, sizeof pos - k, "%s%lld", d ? "," : "[",
                                  (long long)idx[d]);
        if (k < sizeof pos)
            snprintf(pos + k, sizeof pos - k, "]");
        BAD("%s: id %lld at %s is %s (ids are 0..%d)", name, (long long)badv, pos,
            badv < 0 ? "negative" : "too large", SP_METRICS_MAX_ID);
    }
}

static void check_id_dtype(const sp_tensor *t, const char *name)
{
    if (t->dtype != SP_U8 && t->dtype != SP_I32 && t->dtype != SP_I64)
        BAD("%s is %s: ids must be u8, i32 or i64", name, desc(t));
}

static void ensure_cap(eval_state *s, size_t n)
{
    if (s->cap >= n)
        return;
    free(s->tbuf);
    free(s->pbuf);
    s->tbuf = sp_malloc((n + 1) * sizeof *s->tbuf);
    s->pbuf = sp_malloc((n + 1) * sizeof *s->pbuf);
    s->cap = n;
}

static void add_pixels(eval_state *s, int pair, const sp_tensor *tt, const sp_tensor *pt)
{
    int64_t N = tt->shape[0];
    size_t npix = (size_t)tt->shape[1] * (size_t)tt->shape[2], total = (size_t)N * npix;
    ensure_cap(s, total);
    to_ids(s->tbuf, tt, true_name[pair]);
    to_ids(s->pbuf, pt, pred_name[pair]);
    if (pair == P_SEM) {
        if (s->sem_classes > 0)
            for (size_t i = 0; i < total; i++)
                if (s->tbuf[i] >= s->sem_classes)
                    BAD("sem_mask has class %d, but --sem-classes is %d", s->tbuf[i],
                        s->sem_classes);
        if (sp_confusion_add(&s->sem, s->tbuf, s->pbuf, total) == -2)
            BAD("sem_mask / pred_sem: more than %d distinct ids in the set",
                SP_METRICS_MAX_CLASSES);
        return;
    }
    for (int64_t i = 0; i < N; i++) {
        const int32_t *t = s->tbuf + (size_t)i * npix, *p = s->pbuf + (size_t)i * npix;
        sp_pair_counts pc;
        if (sp_ari_counts(&pc, s->ws, t, p, npix, 0) != 0)
            BAD("mask: image %lld has too many pixels", (long long)i);
        s->sum_ari += sp_ari_from_counts(&pc);
        sp_ari_counts(&pc, s->ws, t, p, npix, 1);
        if (pc.n > 0 || !s->skip_empty) {
            s->sum_ari_fg += sp_ari_from_counts(&pc);
            s->n_ari_fg++;
        }
        for (size_t k = 0; k < npix; k++)
            if (t[k] > 1)
                s->mask_binary = 0;
        s->sum_fg_acc += sp_fg_acc(t, p, npix);
    }
}

static void add_labels(eval_state *s, const sp_tensor *tt, const sp_tensor *pt)
{
    size_t n = (size_t)tt->shape[0];
    ensure_cap(s, n);
    to_ids(s->tbuf, tt, "label");
    to_ids(s->pbuf, pt, "pred_label");
    if (sp_confusion_add(&s->lab, s->tbuf, s->pbuf, n) == -2)
        BAD("label / pred_label: more than %d distinct ids in the set", SP_METRICS_MAX_CLASSES);
}

static void add_batch(eval_state *s, const sp_map *b)
{
    const sp_tensor *tt[NPAIRS], *pt[NPAIRS];
    int present[NPAIRS], any = 0;
    for (int k = 0; k < NPAIRS; k++) {
        const char *names[2] = {true_name[k], pred_name[k]};
        for (int j = 0; j < 2; j++) {
            const sp_entry *e = sp_map_find(b, names[j]);
            if (e && !e->tensor)
                BAD("%s is not a tensor", names[j]);
        }
        tt[k] = sp_map_tensor(b, true_name[k]);
        pt[k] = sp_map_tensor(b, pred_name[k]);
        present[k] = tt[k] && pt[k];
        any |= present[k];
    }
    if (!s->decided) {
        if (!any) {
            char half[256] = "";
            size_t len = 0;
            for (int k = 0; k < NPAIRS; k++)
                if (tt[k] || pt[k])
                    len += (size_t)snprintf(half + len, sizeof half - len, "%s%s without %s",
                                            len ? ", " : ": ", tt[k] ? true_name[k] : pred_name[k],
                                            tt[k] ? pred_name[k] : true_name[k]);
            BAD("nothing to evaluate%s (needs mask+pred_mask, sem_mask+pred_sem or "
                "label+pred_label)",
                half);
        }
        memcpy(s->have, present, sizeof present);
        snprintf(s->first, sizeof s->first, "%s", where);
        s->decided = 1;
    }
    for (int k = 0; k < NPAIRS; k++)
        if (present[k] != s->have[k]) {
            if (s->have[k])
                BAD("no %s (%s had %s and %s)", tt[k] ? pred_name[k] : true_name[k], s->first,
                    true_name[k], pred_name[k]);
            BAD("%s and %s appear, but %s had not both", true_name[k], pred_name[k], s->first);
        }
    /* Shapes and dtypes, and one number of images for the batch. */
    int64_t N = -1;
    const char *nfrom = NULL, *nname = NULL;
    for (int k = 0; k < NPAIRS; k++) {
        if (!present[k])
            continue;
        const sp_tensor *t = tt[k], *p = pt[k];
        check_id_dtype(t, true_name[k]);
        check_id_dtype(p, pred_name[k]);
        int want = k == P_LABEL ? 1 : 3;
        if (t->ndim != want)
            BAD("%s is %s: expected %s", true_name[k], desc(t), want == 1 ? "[N]" : "[N,H,W]");
        if (p->ndim != t->ndim || memcmp(p->shape, t->shape, (size_t)t->ndim * sizeof *t->shape))
            BAD("%s %s does not match %s %s", pred_name[k], desc(p), true_name[k], desc(t));
        if (N >= 0 && t->shape[0] != N)
            BAD("%s %s and %s %s disagree on the number of images", nname, nfrom, true_name[k],
                desc(t));
        N = t->shape[0];
        nfrom = desc(t);
        nname = true_name[k];
        if (want == 3 && N > 0 && t->shape[1] * t->shape[2] == 0)
            BAD("%s is %s: images without pixels", true_name[k], desc(t));
    }
    for (int k = 0; k < NPAIRS; k++) {
        if (!present[k] || N == 0)
            continue;
        if (k == P_LABEL)
            add_labels(s, tt[k], pt[k]);
        else
            add_pixels(s, k, tt[k], pt[k]);
    }
    s->n += N;
}

static void eval_input(eval_state *s, FILE *f, const char *name)
{
    sp_reader *r = sp_reader_open(f, name);
    sp_map batch = {0};
    int64_t index;
    char buf[512];
    int stream = 0;
    while (sp_reader_next_stream(r)) {
        stream++;
        while (sp_reader_next_batch(r, &batch, &index)) {
            if (stream == 1)
                snprintf(buf, sizeof buf, "%s: batch %lld", name, (long long)index);
            else
                snprintf(buf, sizeof buf, "%s: stream %d, batch %lld", name, stream,
                         (long long)index);
            where = buf;
            add_batch(s, &batch);
        }
    }
    where = NULL;
    sp_map_free(&batch);
    sp_reader_close(r);
}

/* One JSON number: 6 decimals (values are fractions), null when undefined,
 * and no "-0.000000". */
static void put(int *first, const char *key, double v)
{
    printf("%s\"%s\": ", *first ? "" : ", ", key);
    *first = 0;
    if (isnan(v))
        printf("null");
    else
        printf("%.6f", fabs(v) < 5e-7 ? 0.0 : v);
}

static void report(eval_state *s)
{
    int first = 1;
    printf("{");
    printf("\"n\": %lld", (long long)s->n);
    first = 0;
    if (s->have[P_MASK]) {
        put(&first, "ari", (double)(s->sum_ari / (long double)s->n));
        put(&first, "ari_fg",
            s->n_ari_fg ? (double)(s->sum_ari_fg / (long double)s->n_ari_fg) : NAN);
        if (s->mask_binary)
            put(&first, "fg_acc", (double)(s->sum_fg_acc / (long double)s->n));
    }
    if (s->have[P_SEM]) {
        sp_sem_scores sc;
        if (sp_sem_scores_compute(&sc, &s->sem, s->sem_classes) != 0)
            sp_fatal("internal error: sem_mask above --sem-classes");
        put(&first, "macc", sc.macc);
        put(&first, "miou", sc.miou);
        put(&first, "macc_fg", sc.macc_fg);
        put(&first, "miou_fg", sc.miou_fg);
    }
    if (s->have[P_LABEL]) {
        int64_t *m = sp_confusion_sorted(&s->lab, NULL, NULL);
        put(&first, "acc", sp_hungarian_acc(m, s->lab.nrow, s->lab.ncol));
        put(&first, "nmi", sp_nmi(m, s->lab.nrow, s->lab.ncol));
        free(m);
    }
    printf("}\n");
    if (fflush(stdout) != 0 || ferror(stdout))
        sp_fatal("stdout: write failed: %s", strerror(errno));
}

int main(int argc, char **argv)
{
    sp_main_start(argv);
    eval_state s;
    memset(&s, 0, sizeof s);
    s.mask_binary = 1;
    sp_opt opts[] = {
        {"ari-fg-skip-empty", SP_OPT_FLAG, &s.skip_empty, NULL,
         "leave images whose true mask is all background out of ari_fg\n"
         "                         (default: they count 1.0, as in the reference)"},
        {"sem-classes", SP_OPT_INT, &s.sem_classes, "N",
         "semantic classes, background included (the reference's\n"
         "                         n_classes): classes 0..N-1 absent from sem_mask count 0\n"
         "                         in macc/miou; default: the classes present"},
        {0}};
    char **args;
    int nargs = sp_opt_parse(
        argc, argv, opts, "sp-eval [options] [FILE ...]",
        "Evaluates predictions against ground truth carried in the same stream(s)\n"
        "(stdin when no FILE; '-' is stdin; concatenated streams are one set) and\n"
        "prints one JSON object on stdout, keys in this order, values as fractions:\n"
        "  n        number of images\n"
        "  ari      mask/pred_mask: per-image adjusted Rand index over all pixels,\n"
        "           mean over images (the reference's exact pair counts; when the\n"
        "           pair counts of both partitions and of the table are equal: 1.0)\n"
        "  ari_fg   the same over the pixels whose true mask is not 0; an image\n"
        "           with no such pixel counts 1.0 (reference), see\n"
        "           --ari-fg-skip-empty (null when no image is left)\n"
        "  fg_acc   only when every true mask value is 0 or 1: per image the\n"
        "           fraction of pixels where (pred_mask > 0) == (mask > 0), mean\n"
        "  macc, miou           sem_mask/pred_sem: confusion over the whole set,\n"
        "           Hungarian matching (more predicted ids than classes: unmatched\n"
        "           ids are errors), mean per-class accuracy and IoU (the\n"
        "           reference's avg_acc/avg_iou); classes = those present\n"
        "  macc_fg, miou_fg     the same with true class 0 and predicted id 0\n"
        "           removed before matching (the reference's \"nobkg\" values);\n"
        "           null when the truth has no foreground class\n"
        "  acc, nmi label/pred_label: Hungarian accuracy; NMI with arithmetic\n"
        "           mean normalisation, edge cases as scikit-learn\n"
        "Entries: mask, sem_mask, pred_mask, pred_sem [N,H,W] and label, pred_label\n"
        "[N], dtypes u8, i32 or i64, ids 0..65535; other entries are ignored.\n"
        "Every batch must carry the same pairs as the first.  Details:\n"
        "formats/eval.md.",
        &args);
    if (s.sem_classes < 0)
        sp_fatal("--sem-classes: %d is negative", s.sem_classes);
    s.ws = sp_ari_ws_new();
    sp_confusion_init(&s.sem);
    sp_confusion_init(&s.lab);
    if (nargs == 0)
        eval_input(&s, stdin, "stdin");
    for (int i = 0; i < nargs; i++) {
        if (strcmp(args[i], "-") == 0) {
            eval_input(&s, stdin, "stdin");
            continue;
        }
        FILE *f = fopen(args[i], "rb");
        if (!f)
            sp_fatal("%s: cannot open: %s", args[i], strerror(errno));
        eval_input(&s, f, args[i]);
        fclose(f);
    }
    const char *in = nargs == 0 ? "stdin" : nargs == 1 ? args[0] : "input";
    if (!s.decided)
        sp_fatal("%s: no batch to evaluate", in);
    if (s.n == 0)
        sp_fatal("%s: no image to evaluate (every batch is empty)", in);
    report(&s);
    sp_ari_ws_free(s.ws);
    sp_confusion_free(&s.sem);
    sp_confusion_free(&s.lab);
    free(s.tbuf);
    free(s.pbuf);
    return 0;
}

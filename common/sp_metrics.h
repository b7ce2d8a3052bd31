/* Evaluation metrics (formats/eval.md): plain functions, no I/O.
 *
 * Ids (instance ids, semantic classes, cluster labels) are int32 values in
 * [0, SP_METRICS_MAX_ID]; every function that reads ids checks the range and
 * returns -1 on a bad id, so that a caller can name the offending entry.
 *
 *  - ARI of one image, as the reference's InstanceSegScores.cpu_ari: exact
 *    integer pair counts (sums of C(x, 2)) of the contingency table of the
 *    pixels, its row sums and its column sums; when the four counts (true,
 *    predicted, table, all pixels) are equal the ARI is 1.0.
 *  - A confusion-matrix accumulator over a whole set (constant memory in the
 *    number of images; grows with the number of distinct ids).
 *  - Hungarian assignment (maximum total, rectangular allowed), Hungarian
 *    accuracy, the reference's mean class accuracy and IoU (avg_acc, avg_iou
 *    of SegmentationScores), with and without the background class.
 *  - NMI, arithmetic-mean normalisation, as scikit-learn's
 *    normalized_mutual_info_score (including its edge cases).
 *  - fg_acc of one image (the Weizmann Horse measure). */
#ifndef SP_METRICS_H
#define SP_METRICS_H

#include <stddef.h>
#include <stdint.h>

/* Largest id accepted anywhere: keeps the id -> index tables small (2 x 256
 * KiB) and is far above any number of objects, sprites or clusters. */
#define SP_METRICS_MAX_ID 65535
/* Most distinct true (and, separately, predicted) ids one confusion matrix
 * holds: 4096 x 4096 int64 is 128 MiB and the O(n^3) Hungarian step stays
 * within a minute. */
#define SP_METRICS_MAX_CLASSES 4096

/* ---- Adjusted Rand index of one image ---- */

/* Pair counts of one image: n pixels used, and the sums of C(x, 2) over the
 * true class sizes, the predicted class sizes and the contingency cells.
 * Every value fits int64 because n < 2^32 (checked). */
typedef struct {
    int64_t n;
    int64_t sum_true, sum_pred, sum_table;
} sp_pair_counts;

/* Workspace for sp_ari_counts (id tables and a contingency buffer), made once
 * and reused for every image. */
typedef struct sp_ari_ws sp_ari_ws;
sp_ari_ws *sp_ari_ws_new(void);
void sp_ari_ws_free(sp_ari_ws *w);

/* Pair counts over the npix pixels of one image (t: true ids, p: predicted
 * ids); with fg_only, only the pixels where t != 0.  Returns 0, -1 when an id
 * is outside [0, SP_METRICS_MAX_ID], -2 when npix >= 2^32. */
int sp_ari_counts(sp_pair_counts *out, sp_ari_ws *w, const int32_t *t, const int32_t *p,
                  size_t npix, int fg_only);

/* The reference's ARI from the counts: 1.0 when all four pair counts
 * (sum_true, sum_pred, sum_table, C(n, 2)) are equal -- which includes an
 * image with no pixel used (an empty foreground), one pixel, one class in
 * both partitions -- else (T - P) / (M - P) with P = sum_true * sum_pred /
 * C(n, 2) and M = (sum_true + sum_pred) / 2.  One addition: when every
 * pixel has its own id on both sides (sum_true = sum_pred = 0 < C(n, 2)) the
 * reference divides 0 by 0; the partitions are then identical and the ARI is
 * 1.0, as scikit-learn's. */
double sp_ari_from_counts(const sp_pair_counts *c);

/* ---- fg_acc of one image ---- */

/* Fraction of the npix pixels where (p > 0) == (t > 0); NaN when npix == 0. */
double sp_fg_acc(const int32_t *t, const int32_t *p, size_t npix);

/* ---- confusion matrix over a set ---- */

/* Counts of (true id, predicted id) pairs.  Rows and columns are the distinct
 * ids in order of first appearance; sp_confusion_sorted() gives the matrix
 * with rows and columns sorted by id. */
typedef struct {
    int nrow, ncol;            /* distinct true / predicted ids seen */
    int cap_row, cap_col;      /* allocated size of count */
    int32_t *row_of_id;        /* [SP_METRICS_MAX_ID + 1]: row index or -1 */
    int32_t *col_of_id;        /* same for columns */
    int32_t *row_id, *col_id;  /* [cap]: the id of each row / column */
    int64_t *count;            /* cap_row x cap_col, row-major */
    int64_t total;             /* sum of count */
} sp_confusion;

void sp_confusion_init(sp_confusion *c);
void sp_confusion_free(sp_confusion *c);
/* Adds n pairs (t[i], p[i]).  Returns 0, -1 for an id outside [0,
 * SP_METRICS_MAX_ID], -2 when a side would exceed SP_METRICS_MAX_CLASSES
 * distinct ids.  On an error nothing of this call is counted. */
int sp_confusion_add(sp_confusion *c, const int32_t *t, const int32_t *p, size_t n);
/* The nrow x ncol matrix with rows and columns in increasing id order (a new
 * allocation, caller frees); row_ids / col_ids (may be NULL) get the ids
 * (nrow / ncol entries, caller frees). */
int64_t *sp_confusion_sorted(const sp_confusion *c, int32_t **row_ids, int32_t **col_ids);

/* ---- Hungarian assignment ---- */

/* Maximises sum_i w[i][col_of_row[i]] over one-to-one assignments of the nr
 * rows to the nc columns of w (nr x nc, row-major, counts >= 0).  When nr >
 * nc some rows stay unassigned (col_of_row = -1).  Exact (integer) O(k^2 K)
 * shortest augmenting paths, k = min(nr, nc), K = max(nr, nc).  Returns the
 * total.  Ties are broken deterministically but not necessarily as
 * scipy.optimize.linear_sum_assignment does. */
int64_t sp_hungarian(int *col_of_row, const int64_t *w, int nr, int nc);

/* Hungarian accuracy: matched total / total of the matrix (NaN when empty).
 * Unmatched columns (more predicted ids than true ids) count as errors. */
double sp_hungarian_acc(const int64_t *w, int nr, int nc);

/* ---- mean class accuracy and IoU (the reference's SegmentationScores) ---- */

typedef struct {
    double macc, miou;   /* means over nclasses classes */
    double global_acc;   /* matched / total */
} sp_class_scores;

/* w: nr x nc confusion (rows = true classes, columns = predicted ids).
 * Hungarian matching, then per row i with matched column j: acc_i =
 * w[i][j] / rowsum_i, iou_i = w[i][j] / (rowsum_i + colsum_j - w[i][j]);
 * an unmatched row, or a 0/0, counts 0 (the reference's nan_to_num).  The
 * means divide by nclasses >= nr: classes that have no row count 0, as the
 * reference's fixed n_classes does.  NaN means when nclasses == 0. */
void sp_class_scores_compute(sp_class_scores *out, const int64_t *w, int nr, int nc,
                             int nclasses);

/* The four semantic numbers of sp-eval from a confusion over a set:
 *  macc, miou: all classes (background 0 included), Hungarian on the whole
 *    matrix;
 *  macc_fg, miou_fg: the reference's "nobkg" values: the row of true class 0
 *    and the column of predicted id 0 are dropped *before* matching (so
 *    pixels of either background are ignored), Hungarian on the rest.
 * The classes averaged over: with nclasses > 0 (the reference's n_classes,
 * background included), classes 0..nclasses-1 (1..nclasses-1 for _fg), those
 * absent from the truth counting 0; returns -1 when a true id >= nclasses.
 * With nclasses == 0, the classes present in the truth.  A mean over no
 * class is NaN (macc_fg / miou_fg when the truth is all background). */
typedef struct {
    double macc, miou, macc_fg, miou_fg;
} sp_sem_scores;
int sp_sem_scores_compute(sp_sem_scores *out, const sp_confusion *c, int nclasses);

/* ---- normalised mutual information ---- */

/* NMI with the arithmetic mean of the two entropies, from a contingency
 * matrix (nr x nc counts; rows and columns that are all zero are ignored),
 * as scikit-learn 1.2 normalized_mutual_info_score: 1.0 when both sides
 * have one label (or no sample), 0.0 when exactly one side has one label or
 * when the MI is 0; MI terms below DBL_EPSILON in magnitude are dropped and
 * the MI is clipped at 0, as there. */
double sp_nmi(const int64_t *w, int nr, int nc);

#endif

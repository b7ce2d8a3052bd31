/* Evaluation metrics; see sp_metrics.h for the definitions and formats/eval.md
 * for how sp-eval uses them.  Everything that can be counted is counted in
 * int64 (pair counts, confusion cells, the Hungarian costs), so that the
 * results do not depend on summation order; only the final ratios are
 * floating point. */
#include "sp_metrics.h"
#include "sp_error.h"

#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#define NIDS (SP_METRICS_MAX_ID + 1)

static int64_t comb2(int64_t x) { return x * (x - 1) / 2; }

static int id_ok(int32_t v) { return v >= 0 && v <= SP_METRICS_MAX_ID; }

/* ---- ARI ---- */

struct sp_ari_ws {
    int32_t *tidx, *pidx;     /* id -> compact index, -1 when unseen */
    int32_t *tids, *pids;     /* compact index -> id (to reset tidx/pidx) */
    int64_t *tcount, *pcount; /* pixels per compact index */
    int64_t *table;           /* nt x np contingency (dense path) */
    size_t table_cap;
    uint64_t *keys;           /* one key per pixel (sparse path) */
    size_t keys_cap;
};

sp_ari_ws *sp_ari_ws_new(void)
{
    sp_ari_ws *w = sp_calloc(1, sizeof *w);
    w->tidx = sp_malloc(NIDS * sizeof *w->tidx);
    w->pidx = sp_malloc(NIDS * sizeof *w->pidx);
    memset(w->tidx, 0xff, NIDS * sizeof *w->tidx);
    memset(w->pidx, 0xff, NIDS * sizeof *w->pidx);
    w->tids = sp_malloc(NIDS * sizeof *w->tids);
    w->pids = sp_malloc(NIDS * sizeof *w->pids);
    w->tcount = sp_calloc(NIDS, sizeof *w->tcount);
    w->pcount = sp_calloc(NIDS, sizeof *w->pcount);
    return w;
}

void sp_ari_ws_free(sp_ari_ws *w)
{
    if (!w)
        return;
    free(w->tidx);
    free(w->pidx);
    free(w->tids);
    free(w->pids);
    free(w->tcount);
    free(w->pcount);
    free(w->table);
    free(w->keys);
    free(w);
}

static void ari_ws_reset(sp_ari_ws *w, int nt, int np)
{
    for (int i = 0; i < nt; i++) {
        w->tidx[w->tids[i]] = -1;
        w->tcount[i] = 0;
    }
    for (int i = 0; i < np; i++) {
        w->pidx[w->pids[i]] = -1;
        w->pcount[i] = 0;
    }
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return (x > y) - (x < y);
}

int sp_ari_counts(sp_pair_counts *out, sp_ari_ws *w, const int32_t *t, const int32_t *p,
                  size_t npix, int fg_only)
{
    memset(out, 0, sizeof *out);
    /* C(n, 2) must fit int64. */
    if ((uint64_t)npix >= ((uint64_t)1 << 32))
        return -2;
    /* Pass 1: validate every id (also those of excluded pixels, so that a bad
     * stream is rejected whatever the mode), compact the used ids, count the
     * class sizes. */
    int nt = 0, np = 0;
    int64_t m = 0;
    for (size_t i = 0; i < npix; i++) {
        int32_t a = t[i], b = p[i];
        if (!id_ok(a) || !id_ok(b)) {
            ari_ws_reset(w, nt, np);
            return -1;
        }
        if (fg_only && a == 0)
            continue;
        if (w->tidx[a] < 0) {
            w->tidx[a] = nt;
            w->tids[nt++] = a;
        }
        if (w->pidx[b] < 0) {
            w->pidx[b] = np;
            w->pids[np++] = b;
        }
        w->tcount[w->tidx[a]]++;
        w->pcount[w->pidx[b]]++;
        m++;
    }
    int64_t st = 0, sp = 0, stab = 0;
    for (int i = 0; i < nt; i++)
        st += comb2(w->tcount[i]);
    for (int i = 0; i < np; i++)
        sp += comb2(w->pcount[i]);
    /* Pass 2: the contingency cells.  Dense when the table is small (the
     * usual case: a handful of objects and layers), else sort one key per
     * pixel and count runs, so that memory stays O(pixels). */
    size_t cells = (size_t)nt * (size_t)np;
    size_t dense_limit = (size_t)m > 65536 ? (size_t)m : 65536;
    if (cells <= dense_limit) {
        if (w->table_cap < cells) {
            free(w->table);
            w->table = sp_malloc(cells * sizeof *w->table);
            w->table_cap = cells;
        }
        memset(w->table, 0, cells * sizeof *w->table);
        for (size_t i = 0; i < npix; i++) {
            if (fg_only && t[i] == 0)
                continue;
            w->table[(size_t)w->tidx[t[i]] * (size_t)np + (size_t)w->pidx[p[i]]]++;
        }
        for (size_t c = 0; c < cells; c++)
            stab += comb2(w->table[c]);
    } else {
        if (w->keys_cap < (size_t)m) {
            free(w->keys);
            w->keys = sp_malloc((size_t)m * sizeof *w->keys);
            w->keys_cap = (size_t)m;
        }
        size_t k = 0;
        for (size_t i = 0; i < npix; i++) {
            if (fg_only && t[i] == 0)
                continue;
            w->keys[k++] = (uint64_t)w->tidx[t[i]] * (uint64_t)np + (uint64_t)w->pidx[p[i]];
        }
        qsort(w->keys, k, sizeof *w->keys, cmp_u64);
        for (size_t i = 0; i < k;) {
            size_t j = i;
            while (j < k && w->keys[j] == w->keys[i])
                j++;
            stab += comb2((int64_t)(j - i));
            i = j;
        }
    }
    ari_ws_reset(w, nt, np);
    out->n = m;
    out->sum_true = st;
    out->sum_pred = sp;
    out->sum_table = stab;
    return 0;
}

double sp_ari_from_counts(const sp_pair_counts *c)
{
    int64_t n2 = comb2(c->n);
    /* The reference's rule: also covers n <= 1 (every count 0), which would
     * otherwise be 0/0. */
    if (c->sum_true == c->sum_pred && c->sum_pred == c->sum_table && c->sum_table == n2)
        return 1.0;
    /* Every pixel its own id on both sides (so the partitions are identical):
     * the denominator is 0 and the reference raises ZeroDivisionError; 1.0
     * as scikit-learn.  No other case makes it 0: (T + P) / 2 >= sqrt(T P)
     * >= T P / C(n, 2), with equality only for T = P = 0 or T = P = C(n, 2)
     * (the rule above). */
    if (c->sum_true == 0 && c->sum_pred == 0)
        return 1.0;
    /* Long double: sum_true * sum_pred may exceed 2^63; the reference
     * computes this product exactly (Python int) then rounds the quotient. */
    long double prod = (long double)c->sum_true * (long double)c->sum_pred / (long double)n2;
    long double mean = ((long double)c->sum_true + (long double)c->sum_pred) / 2.0L;
    return (double)(((long double)c->sum_table - prod) / (mean - prod));
}

/* ---- fg_acc ---- */

double sp_fg_acc(const int32_t *t, const int32_t *p, size_t npix)
{
    if (npix == 0)
        return NAN;
    size_t same = 0;
    for (size_t i = 0; i < npix; i++)
        same += (t[i] > 0) == (p[i] > 0);
    return (double)same / (double)npix;
}

/* ---- confusion ---- */

void sp_confusion_init(sp_confusion *c)
{
    memset(c, 0, sizeof *c);
    c->row_of_id = sp_malloc(NIDS * sizeof *c->row_of_id);
    c->col_of_id = sp_malloc(NIDS * sizeof *c->col_of_id);
    memset(c->row_of_id, 0xff, NIDS * sizeof *c->row_of_id);
    memset(c->col_of_id, 0xff, NIDS * sizeof *c->col_of_id);
    c->row_id = sp_malloc((SP_METRICS_MAX_CLASSES + 1) * sizeof *c->row_id);
    c->col_id = sp_malloc((SP_METRICS_MAX_CLASSES + 1) * sizeof *c->col_id);
}

void sp_confusion_free(sp_confusion *c)
{
    free(c->row_of_id);
    free(c->col_of_id);
    free(c->row_id);
    free(c->col_id);
    free(c->count);
    memset(c, 0, sizeof *c);
}

static void confusion_rollback(sp_confusion *c, int nrow0, int ncol0)
{
    for (int r = nrow0; r < c->nrow; r++)
        c->row_of_id[c->row_id[r]] = -1;
    for (int k = ncol0; k < c->ncol; k++)
        c->col_of_id[c->col_id[k]] = -1;
    c->nrow = nrow0;
    c->ncol = ncol0;
}

static int grow_cap(int cap, int need)
{
    int n = cap ? cap : 8;
    while (n < need)
        n *= 2;
    return n > SP_METRICS_MAX_CLASSES ? SP_METRICS_MAX_CLASSES : n;
}

int sp_confusion_add(sp_confusion *c, const int32_t *t, const int32_t *p, size_t n)
{
    int nrow0 = c->nrow, ncol0 = c->ncol;
    /* Pass 1: validate and register new ids (undone on error). */
    for (size_t i = 0; i < n; i++) {
        int32_t a = t[i], b = p[i];
        if (!id_ok(a) || !id_ok(b)) {
            confusion_rollback(c, nrow0, ncol0);
            return -1;
        }
        if (c->row_of_id[a] < 0) {
            if (c->nrow == SP_METRICS_MAX_CLASSES) {
                confusion_rollback(c, nrow0, ncol0);
                return -2;
            }
            c->row_of_id[a] = c->nrow;
            c->row_id[c->nrow++] = a;
        }
        if (c->col_of_id[b] < 0) {
            if (c->ncol == SP_METRICS_MAX_CLASSES) {
                confusion_rollback(c, nrow0, ncol0);
                return -2;
            }
            c->col_of_id[b] = c->ncol;
            c->col_id[c->ncol++] = b;
        }
    }
    if (c->nrow > c->cap_row || c->ncol > c->cap_col) {
        int cr = c->nrow > c->cap_row ? grow_cap(c->cap_row, c->nrow) : c->cap_row;
        int cc = c->ncol > c->cap_col ? grow_cap(c->cap_col, c->ncol) : c->cap_col;
        int64_t *m = sp_calloc((size_t)cr * (size_t)cc, sizeof *m);
        for (int r = 0; r < nrow0; r++)
            memcpy(m + (size_t)r * (size_t)cc, c->count + (size_t)r * (size_t)c->cap_col,
                   (size_t)ncol0 * sizeof *m);
        free(c->count);
        c->count = m;
        c->cap_row = cr;
        c->cap_col = cc;
    }
    for (size_t i = 0; i < n; i++)
        c->count[(size_t)c->row_of_id[t[i]] * (size_t)c->cap_col + (size_t)c->col_of_id[p[i]]]++;
    c->total += (int64_t)n;
    return 0;
}

int64_t *sp_confusion_sorted(const sp_confusion *c, int32_t **row_ids, int32_t **col_ids)
{
    int *rows = sp_malloc(((size_t)c->nrow + 1) * sizeof *rows);
    int *cols = sp_malloc(((size_t)c->ncol + 1) * sizeof *cols);
    int nr = 0, nc = 0;
    for (int id = 0; id < NIDS; id++) {
        if (c->row_of_id[id] >= 0)
            rows[nr++] = c->row_of_id[id];
        if (c->col_of_id[id] >= 0)
            cols[nc++] = c->col_of_id[id];
    }
    int64_t *m = sp_malloc(((size_t)nr * (size_t)nc + 1) * sizeof *m);
    for (int i = 0; i < nr; i++)
        for (int j = 0; j < nc; j++)
            m[(size_t)i * (size_t)nc + (size_t)j] =
                c->count[(size_t)rows[i] * (size_t)c->cap_col + (size_t)cols[j]];
    if (row_ids) {
        *row_ids = sp_malloc(((size_t)nr + 1) * sizeof **row_ids);
        for (int i = 0; i < nr; i++)
            (*row_ids)[i] = c->row_id[rows[i]];
    }
    if (col_ids) {
        *col_ids = sp_malloc(((size_t)nc + 1) * sizeof **col_ids);
        for (int j = 0; j < nc; j++)
            (*col_ids)[j] = c->col_id[cols[j]];
    }
    free(rows);
    free(cols);
    return m;
}

/* ---- Hungarian ---- */

/* Minimum-cost assignment of all n rows of a (n x m, n <= m) to distinct
 * columns: the shortest-augmenting-path Hungarian algorithm with potentials
 * (Kuhn-Munkres as in Jonker-Volgenant / e-maxx), O(n^2 m).  Integer costs,
 * so the optimum is exact. */
static void hungarian_min(int *col_of_row, const int64_t *a, int n, int m)
{
    const int64_t INF = INT64_MAX / 4;
    int64_t *u = sp_calloc((size_t)n + 1, sizeof *u);
    int64_t *v = sp_calloc((size_t)m + 1, sizeof *v);
    int64_t *minv = sp_malloc(((size_t)m + 1) * sizeof *minv);
    int *prow = sp_calloc((size_t)m + 1, sizeof *prow); /* 1-based row of column j, 0 = free */
    int *way = sp_calloc((size_t)m + 1, sizeof *way);
    char *used = sp_malloc((size_t)m + 1);
    for (int i = 1; i <= n; i++) {
        prow[0] = i;
        int j0 = 0;
        for (int j = 0; j <= m; j++) {
            minv[j] = INF;
            used[j] = 0;
        }
        do {
            used[j0] = 1;
            int i0 = prow[j0], j1 = 0;
            int64_t delta = INF;
            const int64_t *arow = a + (size_t)(i0 - 1) * (size_t)m;
            for (int j = 1; j <= m; j++) {
                if (used[j])
                    continue;
                int64_t cur = arow[j - 1] - u[i0] - v[j];
                if (cur < minv[j]) {
                    minv[j] = cur;
                    way[j] = j0;
                }
                if (minv[j] < delta) {
                    delta = minv[j];
                    j1 = j;
                }
            }
            for (int j = 0; j <= m; j++) {
                if (used[j]) {
                    u[prow[j]] += delta;
                    v[j] -= delta;
                } else {
                    minv[j] -= delta;
                }
            }
            j0 = j1;
        } while (prow[j0] != 0);
        do {
            int j1 = way[j0];
            prow[j0] = prow[j1];
            j0 = j1;
        } while (j0);
    }
    for (int i = 0; i < n; i++)
        col_of_row[i] = -1;
    for (int j = 1; j <= m; j++)
        if (prow[j])
            col_of_row[prow[j] - 1] = j - 1;
    free(u);
    free(v);
    free(minv);
    free(prow);
    free(way);
    free(used);
}

int64_t sp_hungarian(int *col_of_row, const int64_t *w, int nr, int nc)
{
    for (int i = 0; i < nr; i++)
        col_of_row[i] = -1;
    if (nr == 0 || nc == 0)
        return 0;
    /* Maximising w is minimising -w; with more rows than columns, assign
     * the columns to rows on the transpose. */
    int transpose = nr > nc;
    int n = transpose ? nc : nr, m = transpose ? nr : nc;
    int64_t *a = sp_malloc((size_t)n * (size_t)m * sizeof *a);
    for (int i = 0; i < nr; i++)
        for (int j = 0; j < nc; j++) {
            int64_t x = -w[(size_t)i * (size_t)nc + (size_t)j];
            if (transpose)
                a[(size_t)j * (size_t)m + (size_t)i] = x;
            else
                a[(size_t)i * (size_t)m + (size_t)j] = x;
        }
    int *as = sp_malloc((size_t)n * sizeof *as);
    hungarian_min(as, a, n, m);
    if (transpose) {
        for (int j = 0; j < n; j++)
            if (as[j] >= 0)
                col_of_row[as[j]] = j;
    } else {
        memcpy(col_of_row, as, (size_t)n * sizeof *as);
    }
    int64_t total = 0;
    for (int i = 0; i < nr; i++)
        if (col_of_row[i] >= 0)
            total += w[(size_t)i * (size_t)nc + (size_t)col_of_row[i]];
    free(a);
    free(as);
    return total;
}

double sp_hungarian_acc(const int64_t *w, int nr, int nc)
{
    int64_t total = 0;
    for (size_t k = 0; k < (size_t)nr * (size_t)nc; k++)
        total += w[k];
    if (total == 0)
        return NAN;
    int *as = sp_malloc(((size_t)nr + 1) * sizeof *as);
    int64_t matched = sp_hungarian(as, w, nr, nc);
    free(as);
    return (double)matched / (double)total;
}

/* ---- class scores ---- */

void sp_class_scores_compute(sp_class_scores *out, const int64_t *w, int nr, int nc,
                             int nclasses)
{
    int64_t *rowsum = sp_calloc((size_t)nr + 1, sizeof *rowsum);
    int64_t *colsum = sp_calloc((size_t)nc + 1, sizeof *colsum);
    int64_t total = 0;
    for (int i = 0; i < nr; i++)
        for (int j = 0; j < nc; j++) {
            int64_t x = w[(size_t)i * (size_t)nc + (size_t)j];
            rowsum[i] += x;
            colsum[j] += x;
            total += x;
        }
    int *as = sp_malloc(((size_t)nr + 1) * sizeof *as);
    int64_t matched = sp_hungarian(as, w, nr, nc);
    /* Sum in row (= id) order, as np.mean over the reference's rows. */
    double sacc = 0, siou = 0;
    for (int i = 0; i < nr; i++) {
        if (as[i] < 0)
            continue; /* a class without a predicted id: 0 */
        int64_t d = w[(size_t)i * (size_t)nc + (size_t)as[i]];
        int64_t uni = rowsum[i] + colsum[as[i]] - d;
        if (rowsum[i] > 0)
            sacc += (double)d / (double)rowsum[i];
        if (uni > 0)
            siou += (double)d / (double)uni;
    }
    out->macc = nclasses > 0 ? sacc / nclasses : NAN;
    out->miou = nclasses > 0 ? siou / nclasses : NAN;
    out->global_acc = total > 0 ? (double)matched / (double)total : NAN;
    free(as);
    free(rowsum);
    free(colsum);
}

int sp_sem_scores_compute(sp_sem_scores *out, const sp_confusion *c, int nclasses)
{
    int32_t *rid, *cid;
    int64_t *m = sp_confusion_sorted(c, &rid, &cid);
    int nr = c->nrow, nc = c->ncol, ret = 0;
    if (nclasses > 0)
        for (int i = 0; i < nr; i++)
            if (rid[i] >= nclasses)
                ret = -1;
    if (ret == 0) {
        sp_class_scores s;
        sp_class_scores_compute(&s, m, nr, nc, nclasses > 0 ? nclasses : nr);
        out->macc = s.macc;
        out->miou = s.miou;
        /* Without background: ids are sorted, so id 0 can only be the first
         * row / column. */
        int r0 = nr > 0 && rid[0] == 0, c0 = nc > 0 && cid[0] == 0;
        int fr = nr - r0, fc = nc - c0;
        int64_t *f = sp_malloc(((size_t)fr * (size_t)fc + 1) * sizeof *f);
        for (int i = 0; i < fr; i++)
            for (int j = 0; j < fc; j++)
                f[(size_t)i * (size_t)fc + (size_t)j] =
                    m[(size_t)(i + r0) * (size_t)nc + (size_t)(j + c0)];
        sp_class_scores_compute(&s, f, fr, fc, nclasses > 0 ? nclasses - 1 : fr);
        out->macc_fg = s.macc;
        out->miou_fg = s.miou;
        free(f);
    }
    free(m);
    free(rid);
    free(cid);
    return ret;
}

/* ---- NMI ---- */

double sp_nmi(const int64_t *w, int nr, int nc)
{
    int64_t *pi = sp_calloc((size_t)nr + 1, sizeof *pi);
    int64_t *pj = sp_calloc((size_t)nc + 1, sizeof *pj);
    int64_t total = 0;
    for (int i = 0; i < nr; i++)
        for (int j = 0; j < nc; j++) {
            int64_t x = w[(size_t)i * (size_t)nc + (size_t)j];
            pi[i] += x;
            pj[j] += x;
            total += x;
        }
    int ki = 0, kj = 0; /* labels that occur */
    for (int i = 0; i < nr; i++)
        ki += pi[i] > 0;
    for (int j = 0; j < nc; j++)
        kj += pj[j] > 0;
    double result;
    if ((ki == 1 && kj == 1) || (ki == 0 && kj == 0)) {
        result = 1.0; /* no split on either side: a perfect match */
    } else if (ki == 1 || kj == 1) {
        result = 0.0; /* mutual_info_score returns 0, hence nmi 0 */
    } else {
        /* mutual_info_score, term by term as scikit-learn writes it. */
        double logn = log((double)total), mi = 0;
        for (int i = 0; i < nr; i++)
            for (int j = 0; j < nc; j++) {
                int64_t x = w[(size_t)i * (size_t)nc + (size_t)j];
                if (x == 0)
                    continue;
                double nm = (double)x / (double)total;
                double log_outer = -log((double)(pi[i] * pj[j])) + logn + logn;
                double term = nm * (log((double)x) - logn) + nm * log_outer;
                if (fabs(term) < DBL_EPSILON)
                    term = 0.0;
                mi += term;
            }
        if (mi < 0)
            mi = 0;
        if (mi == 0) {
            result = 0.0;
        } else {
            double ht = 0, hp = 0;
            for (int i = 0; i < nr; i++)
                if (pi[i] > 0)
                    ht += ((double)pi[i] / (double)total) * (log((double)pi[i]) - logn);
            for (int j = 0; j < nc; j++)
                if (pj[j] > 0)
                    hp += ((double)pj[j] / (double)total) * (log((double)pj[j]) - logn);
            result = mi / ((-ht + -hp) / 2.0);
        }
    }
    free(pi);
    free(pj);
    return result;
}

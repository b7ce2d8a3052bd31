/* The metrics of common/sp_metrics.c against the golden values written by
 * tests/golden/make_metrics_golden.py (scikit-learn, scipy and the
 * reference's formulas), plus properties that need no golden file: the
 * Hungarian step against brute force, error returns, workspace reuse.
 * Doubles are compared with an absolute tolerance of 1e-9; integer counts and
 * Hungarian totals exactly.  The golden directory is tests/golden/metrics
 * (run from the repository root, as tests/run.sh does) or $SP_GOLDEN. */
#define _POSIX_C_SOURCE 200809L
#include "sp_metrics.h"
#include "sp_test.h"

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define TOL 1e-9

/* ---- golden file reading ---- */

/* One line split into tokens (key = tok[0]). */
typedef struct {
    int n;
    char **tok;
    char *buf;
} line_t;

/* One case: its "case" line and the lines up to the next one. */
typedef struct {
    line_t head;
    int nlines;
    line_t *lines;
} case_t;

typedef struct {
    int n;
    case_t *c;
} golden_t;

static void split(line_t *l, const char *s)
{
    l->buf = strdup(s);
    l->n = 0;
    int cap = 16;
    l->tok = malloc((size_t)cap * sizeof *l->tok);
    for (char *save = NULL, *t = strtok_r(l->buf, " \t\r\n", &save); t;
         t = strtok_r(NULL, " \t\r\n", &save)) {
        if (l->n == cap) {
            cap *= 2;
            l->tok = realloc(l->tok, (size_t)cap * sizeof *l->tok);
        }
        l->tok[l->n++] = t;
    }
}

static void free_line(line_t *l)
{
    free(l->tok);
    free(l->buf);
}

static int load(golden_t *g, const char *name)
{
    const char *dir = getenv("SP_GOLDEN") ? getenv("SP_GOLDEN") : "tests/golden/metrics";
    char path[1024];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    memset(g, 0, sizeof *g);
    FILE *f = fopen(path, "r");
    if (!f)
        return -1;
    char *s = NULL;
    size_t cap = 0;
    while (getline(&s, &cap, f) >= 0) {
        line_t l;
        split(&l, s);
        if (l.n == 0 || l.tok[0][0] == '#') {
            free_line(&l);
            continue;
        }
        if (strcmp(l.tok[0], "case") == 0) {
            g->c = realloc(g->c, (size_t)(g->n + 1) * sizeof *g->c);
            g->c[g->n].head = l;
            g->c[g->n].nlines = 0;
            g->c[g->n].lines = NULL;
            g->n++;
        } else if (g->n > 0) {
            case_t *c = &g->c[g->n - 1];
            c->lines = realloc(c->lines, (size_t)(c->nlines + 1) * sizeof *c->lines);
            c->lines[c->nlines++] = l;
        } else {
            free_line(&l);
        }
    }
    free(s);
    fclose(f);
    return 0;
}

static void unload(golden_t *g)
{
    for (int i = 0; i < g->n; i++) {
        free_line(&g->c[i].head);
        for (int j = 0; j < g->c[i].nlines; j++)
            free_line(&g->c[i].lines[j]);
        free(g->c[i].lines);
    }
    free(g->c);
}

static const line_t *field(const case_t *c, const char *key)
{
    for (int i = 0; i < c->nlines; i++)
        if (strcmp(c->lines[i].tok[0], key) == 0)
            return &c->lines[i];
    return NULL;
}

static double num(const char *s) { return strcmp(s, "nan") == 0 ? NAN : strtod(s, NULL); }

/* Values of a line after its key, as int32 / int64 (caller frees). */
static int32_t *ids(const line_t *l, size_t *n)
{
    *n = l ? (size_t)(l->n - 1) : 0;
    int32_t *v = malloc((*n + 1) * sizeof *v);
    for (size_t i = 0; i < *n; i++)
        v[i] = (int32_t)strtol(l->tok[i + 1], NULL, 10);
    return v;
}

static int64_t *i64s(const line_t *l, size_t *n)
{
    *n = l ? (size_t)(l->n - 1) : 0;
    int64_t *v = malloc((*n + 1) * sizeof *v);
    for (size_t i = 0; i < *n; i++)
        v[i] = strtoll(l->tok[i + 1], NULL, 10);
    return v;
}

/* |a - b| <= TOL, NaN only equal to NaN. */
static int near(double a, double b)
{
    if (isnan(a) || isnan(b))
        return isnan(a) && isnan(b);
    return fabs(a - b) <= TOL;
}

static char *nm(const char *kind, const case_t *c, const char *what)
{
    static char buf[256];
    snprintf(buf, sizeof buf, "%s/%s/%s", kind, c->head.tok[1], what);
    return buf;
}

/* ---- ARI and fg_acc ---- */

static void check_ari_line(const case_t *c, sp_ari_ws *ws, const int32_t *t, const int32_t *p,
                           size_t n, int fg)
{
    const line_t *l = field(c, fg ? "fg" : "all");
    sp_pair_counts pc;
    int rc = sp_ari_counts(&pc, ws, t, p, n, fg);
    CHECK(nm("ari", c, fg ? "fg_counts" : "all_counts"),
          rc == 0 && l && pc.n == strtoll(l->tok[1], NULL, 10) &&
              pc.sum_true == strtoll(l->tok[2], NULL, 10) &&
              pc.sum_pred == strtoll(l->tok[3], NULL, 10) &&
              pc.sum_table == strtoll(l->tok[4], NULL, 10),
          "rc %d, got n %lld true %lld pred %lld table %lld, expected %s %s %s %s", rc,
          (long long)pc.n, (long long)pc.sum_true, (long long)pc.sum_pred,
          (long long)pc.sum_table, l ? l->tok[1] : "?", l ? l->tok[2] : "?",
          l ? l->tok[3] : "?", l ? l->tok[4] : "?");
    double ari = sp_ari_from_counts(&pc), want = l ? num(l->tok[5]) : NAN;
    CHECK(nm("ari", c, fg ? "fg_ari" : "all_ari"), near(ari, want), "got %.17g, expected %.17g",
          ari, want);
}

static void test_ari(void)
{
    golden_t g;
    CHECK("ari/golden_file", load(&g, "ari.txt") == 0 && g.n >= 40, "cannot read ari.txt");
    sp_ari_ws *ws = sp_ari_ws_new();
    for (int i = 0; i < g.n; i++) {
        const case_t *c = &g.c[i];
        size_t nt, np;
        int32_t *t = ids(field(c, "t"), &nt), *p = ids(field(c, "p"), &np);
        CHECK(nm("ari", c, "sizes"), nt == np && nt == strtoull(c->head.tok[2], NULL, 10),
              "t %zu p %zu", nt, np);
        check_ari_line(c, ws, t, p, nt, 0);
        check_ari_line(c, ws, t, p, nt, 1);
        const line_t *l = field(c, "fgacc");
        double fa = sp_fg_acc(t, p, nt), want = l ? num(l->tok[1]) : NAN;
        CHECK(nm("ari", c, "fg_acc"), l && near(fa, want), "got %.17g, expected %.17g", fa, want);
        free(t);
        free(p);
    }
    /* A bad id anywhere (also in a background pixel with fg_only) is
     * reported, and the workspace is clean afterwards: the next image gives
     * the golden counts. */
    if (g.n > 0) {
        int32_t bt[4] = {0, 1, 1, 2}, bp[4] = {0, 1, -3, 2}, bp2[4] = {70000, 1, 1, 2};
        sp_pair_counts pc;
        CHECK("ari/negative_id", sp_ari_counts(&pc, ws, bt, bp, 4, 0) == -1, "no error");
        CHECK("ari/id_above_max_in_bg_fg_only", sp_ari_counts(&pc, ws, bt, bp2, 4, 1) == -1,
              "no error");
        const case_t *c = &g.c[g.n - 1];
        size_t nt, np;
        int32_t *t = ids(field(c, "t"), &nt), *p = ids(field(c, "p"), &np);
        check_ari_line(c, ws, t, p, nt, 0);
        free(t);
        free(p);
    }
    /* The four counts of a 1-pixel and an empty image are 0: ARI 1.0. */
    {
        sp_pair_counts pc;
        int32_t z = 0;
        int rc = sp_ari_counts(&pc, ws, &z, &z, 1, 1);
        CHECK("ari/empty_foreground_is_one", rc == 0 && pc.n == 0 && sp_ari_from_counts(&pc) == 1.0,
              "rc %d n %lld ari %g", rc, (long long)pc.n, sp_ari_from_counts(&pc));
        CHECK("ari/fg_acc_no_pixel_nan", isnan(sp_fg_acc(&z, &z, 0)), "not NaN");
    }
    sp_ari_ws_free(ws);
    unload(&g);
}

/* ---- Hungarian ---- */

/* Brute force over every injective map of the smaller side. */
static int64_t brute_best(const int64_t *w, int nr, int nc, int row, unsigned used)
{
    if (row == nr)
        return 0;
    /* the row may stay unassigned only when rows outnumber columns */
    int64_t best = nr > nc ? brute_best(w, nr, nc, row + 1, used) : INT64_MIN;
    for (int j = 0; j < nc; j++)
        if (!(used & (1u << j))) {
            int64_t rest = brute_best(w, nr, nc, row + 1, used | (1u << j));
            if (rest != INT64_MIN && w[row * nc + j] + rest > best)
                best = w[row * nc + j] + rest;
        }
    return best;
}

/* The assignment is one-to-one, covers min(nr, nc) pairs and sums to total. */
static int valid_assignment(const int *as, const int64_t *w, int nr, int nc, int64_t total)
{
    int k = 0;
    int64_t s = 0;
    char *seen = calloc((size_t)nc + 1, 1);
    int ok = 1;
    for (int i = 0; i < nr; i++) {
        if (as[i] < 0)
            continue;
        if (as[i] >= nc || seen[as[i]])
            ok = 0;
        else
            seen[as[i]] = 1;
        k++;
        s += w[(size_t)i * (size_t)nc + (size_t)as[i]];
    }
    free(seen);
    return ok && k == (nr < nc ? nr : nc) && s == total;
}

static void test_hungarian(void)
{
    golden_t g;
    CHECK("hungarian/golden_file", load(&g, "hungarian.txt") == 0 && g.n >= 30,
          "cannot read hungarian.txt");
    for (int i = 0; i < g.n; i++) {
        const case_t *c = &g.c[i];
        int nr = atoi(c->head.tok[2]), nc = atoi(c->head.tok[3]);
        size_t n;
        int64_t *w = i64s(field(c, "w"), &n);
        const line_t *lt = field(c, "total"), *la = field(c, "acc");
        int *as = malloc(((size_t)nr + 1) * sizeof *as);
        int64_t total = sp_hungarian(as, w, nr, nc);
        int64_t want = lt ? strtoll(lt->tok[1], NULL, 10) : -1;
        CHECK(nm("hungarian", c, "total"), n == (size_t)nr * (size_t)nc && total == want,
              "got %lld, expected %lld", (long long)total, (long long)want);
        CHECK(nm("hungarian", c, "assignment"), valid_assignment(as, w, nr, nc, total),
              "not a one-to-one assignment of min(%d,%d) pairs summing to %lld", nr, nc,
              (long long)total);
        double acc = sp_hungarian_acc(w, nr, nc), wacc = la ? num(la->tok[1]) : -1;
        CHECK(nm("hungarian", c, "acc"), near(acc, wacc), "got %.17g, expected %.17g", acc, wacc);
        free(as);
        free(w);
    }
    unload(&g);
    /* Against brute force on small random matrices with many ties. */
    unsigned s = 12345;
    int bad = 0, cases = 0;
    char why[256] = "";
    for (int k = 0; k < 400; k++) {
        s = s * 1103515245u + 12345u;
        int nr = 1 + (int)((s >> 16) % 7);
        s = s * 1103515245u + 12345u;
        int nc = 1 + (int)((s >> 16) % 7);
        int range = k % 2 ? 4 : 1000;
        int64_t w[49];
        for (int i = 0; i < nr * nc; i++) {
            s = s * 1103515245u + 12345u;
            w[i] = (int64_t)((s >> 16) % (unsigned)range);
        }
        int as[7];
        int64_t got = sp_hungarian(as, w, nr, nc), want = brute_best(w, nr, nc, 0, 0);
        cases++;
        if (got != want || !valid_assignment(as, w, nr, nc, got)) {
            if (!bad)
                snprintf(why, sizeof why, "case %d (%dx%d): got %lld, brute force %lld", k, nr,
                         nc, (long long)got, (long long)want);
            bad++;
        }
    }
    CHECK("hungarian/brute_force_400", bad == 0, "%d of %d wrong; first: %s", bad, cases, why);
}

/* ---- semantic scores ---- */

static void test_sem(void)
{
    golden_t g;
    CHECK("sem/golden_file", load(&g, "sem.txt") == 0 && g.n >= 40, "cannot read sem.txt");
    for (int i = 0; i < g.n; i++) {
        const case_t *c = &g.c[i];
        int ncls = atoi(c->head.tok[3]);
        size_t nt, np;
        int32_t *t = ids(field(c, "t"), &nt), *p = ids(field(c, "p"), &np);
        /* Added in two parts, as batches are. */
        sp_confusion cf;
        sp_confusion_init(&cf);
        size_t half = nt / 2;
        int rc1 = sp_confusion_add(&cf, t, p, half);
        int rc2 = sp_confusion_add(&cf, t + half, p + half, nt - half);
        CHECK(nm("sem", c, "accumulate"), rc1 == 0 && rc2 == 0 && cf.total == (int64_t)nt,
              "rc %d %d total %lld", rc1, rc2, (long long)cf.total);
        const char *keys[2] = {"present", "ref"};
        for (int mode = 0; mode < 2; mode++) {
            const line_t *l = field(c, keys[mode]);
            if (mode == 1 && ncls == 0) {
                CHECK(nm("sem", c, "no_ref_line"), l == NULL, "ref line without NCLASSES");
                continue;
            }
            sp_sem_scores sc;
            int rc = sp_sem_scores_compute(&sc, &cf, mode ? ncls : 0);
            double got[4] = {sc.macc, sc.miou, sc.macc_fg, sc.miou_fg};
            const char *what[4] = {"macc", "miou", "macc_fg", "miou_fg"};
            for (int k = 0; k < 4; k++) {
                char w[64];
                snprintf(w, sizeof w, "%s_%s", keys[mode], what[k]);
                double want = l && l->n == 5 ? num(l->tok[k + 1]) : -7;
                CHECK(nm("sem", c, w), rc == 0 && near(got[k], want),
                      "rc %d got %.17g, expected %.17g", rc, got[k], want);
            }
        }
        int32_t *rid;
        int64_t *m = sp_confusion_sorted(&cf, &rid, NULL);
        const line_t *lg = field(c, "global");
        double ga = sp_hungarian_acc(m, cf.nrow, cf.ncol), want = lg ? num(lg->tok[1]) : -7;
        CHECK(nm("sem", c, "global_acc"), near(ga, want), "got %.17g, expected %.17g", ga, want);
        int sorted = 1;
        for (int r = 1; r < cf.nrow; r++)
            sorted &= rid[r - 1] < rid[r];
        CHECK(nm("sem", c, "sorted_rows"), sorted, "row ids not increasing");
        /* --sem-classes smaller than a true id is an error. */
        if (cf.nrow > 0 && rid[cf.nrow - 1] > 0) {
            sp_sem_scores sc;
            CHECK(nm("sem", c, "classes_too_few"),
                  sp_sem_scores_compute(&sc, &cf, rid[cf.nrow - 1]) == -1, "no error");
        }
        free(m);
        free(rid);
        sp_confusion_free(&cf);
        free(t);
        free(p);
    }
    unload(&g);
}

/* ---- labels: Hungarian accuracy and NMI ---- */

static void test_labels(void)
{
    golden_t g;
    CHECK("labels/golden_file", load(&g, "labels.txt") == 0 && g.n >= 30,
          "cannot read labels.txt");
    for (int i = 0; i < g.n; i++) {
        const case_t *c = &g.c[i];
        size_t nt, np;
        int32_t *t = ids(field(c, "t"), &nt), *p = ids(field(c, "p"), &np);
        sp_confusion cf;
        sp_confusion_init(&cf);
        int rc = sp_confusion_add(&cf, t, p, nt);
        int64_t *m = sp_confusion_sorted(&cf, NULL, NULL);
        const line_t *la = field(c, "acc"), *ln = field(c, "nmi");
        double acc = sp_hungarian_acc(m, cf.nrow, cf.ncol), nmi = sp_nmi(m, cf.nrow, cf.ncol);
        double wa = la ? num(la->tok[1]) : -7, wn = ln ? num(ln->tok[1]) : -7;
        CHECK(nm("labels", c, "acc"), rc == 0 && near(acc, wa), "rc %d got %.17g, expected %.17g",
              rc, acc, wa);
        CHECK(nm("labels", c, "nmi"), rc == 0 && near(nmi, wn), "rc %d got %.17g, expected %.17g",
              rc, nmi, wn);
        free(m);
        sp_confusion_free(&cf);
        free(t);
        free(p);
    }
    unload(&g);
    /* Zero rows and columns (ids counted elsewhere) change nothing. */
    {
        int64_t a[4] = {3, 1, 0, 2}, b[9] = {3, 1, 0, 0, 0, 0, 0, 2, 0};
        CHECK("labels/nmi_zero_rows_ignored", near(sp_nmi(a, 2, 2), sp_nmi(b, 3, 3)),
              "%.17g vs %.17g", sp_nmi(a, 2, 2), sp_nmi(b, 3, 3));
        CHECK("labels/nmi_empty_is_one", sp_nmi(a, 0, 0) == 1.0, "got %g", sp_nmi(a, 0, 0));
    }
}

/* ---- confusion accumulator errors ---- */

static void test_confusion_errors(void)
{
    sp_confusion cf;
    sp_confusion_init(&cf);
    int32_t t[3] = {0, 1, 2}, p[3] = {5, 6, 7};
    CHECK("confusion/add", sp_confusion_add(&cf, t, p, 3) == 0 && cf.nrow == 3 && cf.ncol == 3,
          "nrow %d ncol %d", cf.nrow, cf.ncol);
    int32_t bt[3] = {3, 4, -1}, bp[3] = {8, 9, 1};
    CHECK("confusion/negative_id", sp_confusion_add(&cf, bt, bp, 3) == -1, "no error");
    int32_t bt2[2] = {3, 4}, bp2[2] = {8, SP_METRICS_MAX_ID + 1};
    CHECK("confusion/id_above_max", sp_confusion_add(&cf, bt2, bp2, 2) == -1, "no error");
    CHECK("confusion/error_leaves_state", cf.nrow == 3 && cf.ncol == 3 && cf.total == 3 &&
                                              cf.row_of_id[3] == -1 && cf.col_of_id[8] == -1,
          "nrow %d ncol %d total %lld", cf.nrow, cf.ncol, (long long)cf.total);
    /* More distinct ids than SP_METRICS_MAX_CLASSES on one side. */
    int n = SP_METRICS_MAX_CLASSES + 1;
    int32_t *mt = malloc((size_t)n * sizeof *mt), *mp = malloc((size_t)n * sizeof *mp);
    for (int i = 0; i < n; i++) {
        mt[i] = i;
        mp[i] = 0;
    }
    CHECK("confusion/too_many_classes", sp_confusion_add(&cf, mt, mp, (size_t)n) == -2,
          "no error");
    CHECK("confusion/too_many_leaves_state", cf.nrow == 3 && cf.total == 3, "nrow %d", cf.nrow);
    CHECK("confusion/max_classes_ok", sp_confusion_add(&cf, mt, mp, (size_t)n - 1) == 0 &&
                                          cf.nrow == SP_METRICS_MAX_CLASSES,
          "nrow %d", cf.nrow);
    /* Growth keeps earlier counts: 3 original pairs + (0,0), (1,0), (2,0). */
    int64_t *m = sp_confusion_sorted(&cf, NULL, NULL);
    int ncol = cf.ncol; /* ids 0, 5, 6, 7 */
    CHECK("confusion/growth_keeps_counts",
          ncol == 4 && m[0] == 1 && m[1] == 1 && m[ncol + 0] == 1 && m[ncol + 2] == 1 &&
              m[2 * ncol + 3] == 1 && m[3 * ncol + 0] == 1,
          "ncol %d m[0..] %lld %lld %lld %lld", ncol, (long long)m[0], (long long)m[1],
          (long long)m[ncol], (long long)m[ncol + 2]);
    free(m);
    free(mt);
    free(mp);
    sp_confusion_free(&cf);
}

int main(void)
{
    test_ari();
    test_hungarian();
    test_sem();
    test_labels();
    test_confusion_errors();
    TEST_MAIN_END;
}

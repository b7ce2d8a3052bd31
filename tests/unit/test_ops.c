/* Every op of the registry against PyTorch (the .sp files of tests/golden/ops, made by
 * tests/golden/make_ops_*.py) and every backward by central finite
 * differences at the golden inputs.  Also: every registered op has at least
 * one golden case, so a new op cannot slip in untested.
 *
 * Comparison: |ours - torch| <= atol + rtol * |torch| elementwise, with the
 * tolerances stored per case (stated by the golden script).
 * Finite differences: for each differentiable input, up to FD_SAMPLES
 * elements x_i: (L(x_i + e) - L(x_i - e)) / 2e against the analytical
 * gradient, L = sum_j dy_j * y_j with the golden upstream gradient, the sum
 * taken over the outputs that change; |num - ana| <= fd_tol * max(1, |ana|). */
#define _DEFAULT_SOURCE
/* Labels are truncated harmlessly when long. */
#pragma GCC diagnostic ignored "-Wformat-truncation"
#include "sp_test.h"
#include "sp_error.h"
#include "sp_op.h"
#include "sp_stream.h"

#include <dirent.h>
#include <stdlib.h>
#include <string.h>

#define FD_SAMPLES 24
/* Most names an op may list (an encoder lists every parameter). */
#define MAX_NAMES 512
#define GOLDEN_DIR "tests/golden/ops"

static int cases_per_op_count(const char *name, int add);

/* Largest violation of the tolerance; *where gets the element index. */
static double worst(const sp_tensor *got, const sp_tensor *want, double rtol, double atol,
                    size_t *where, double *g, double *w)
{
    double bad = 0;
    size_t n = sp_tensor_numel(want);
    *where = 0;
    for (size_t i = 0; i < n; i++) {
        double a = sp_tensor_get(got, i), b = sp_tensor_get(want, i);
        double excess = fabs(a - b) - (atol + rtol * fabs(b));
        if (a != a || b != b)
            excess = (a != a) != (b != b) ? INFINITY : 0;
        if (excess > bad) {
            bad = excess;
            *where = i;
            *g = a;
            *w = b;
        }
    }
    return bad;
}

static int same_shape(const sp_tensor *a, const sp_tensor *b)
{
    if (a->ndim != b->ndim || a->dtype != b->dtype)
        return 0;
    for (int i = 0; i < a->ndim; i++)
        if (a->shape[i] != b->shape[i])
            return 0;
    return 1;
}

/* Splits "a,b,c" into names. */
static int split_names(const char *list, char names[][64], int max)
{
    int n = 0;
    const char *p = list;
    while (p && *p) {
        if (n == max) {
            printf("FAIL split_names: more than %d names in an op's list\n", max);
            sp_test_failures++;
            break;
        }
        const char *c = strchr(p, ',');
        size_t len = c ? (size_t)(c - p) : strlen(p);
        snprintf(names[n++], 64, "%.*s", (int)len, p);
        p = c ? c + 1 : NULL;
    }
    return n;
}

static void compare_entries(const char *label, const sp_map *got, const sp_map *want,
                            char names[][64], int n, const char *prefix, double rtol, double atol)
{
    for (int i = 0; i < n; i++) {
        char key[80], tname[400];
        snprintf(key, sizeof key, "%s%s", prefix, names[i]);
        const sp_tensor *w = sp_map_tensor(want, key);
        if (!w)
            continue; /* the golden case does not check this one */
        const sp_tensor *g = sp_map_tensor(got, key);
        snprintf(tname, sizeof tname, "%s: %s", label, key);
        if (!g || !same_shape(g, w)) {
            char b1[128] = "missing", b2[128];
            if (g)
                sp_tensor_describe(g, b1, sizeof b1);
            CHECK(tname, 0, "got %s, torch has %s", b1, sp_tensor_describe(w, b2, sizeof b2));
            continue;
        }
        size_t at;
        double gv = 0, wv = 0, bad = worst(g, w, rtol, atol, &at, &gv, &wv);
        CHECK(tname, bad <= 0, "element %zu: ours %.9g, torch %.9g (rtol %g atol %g)", at, gv, wv,
              rtol, atol);
    }
}

/* L = sum over outputs y of sum_j dy_j * y_j, in double. */
static double loss_of(const sp_op_def *op, const sp_map *in, const sp_op_attrs *a,
                      char outs[][64], int nout)
{
    sp_map res = {0};
    op->forward(&res, in, a);
    double L = 0;
    for (int o = 0; o < nout; o++) {
        char key[80];
        snprintf(key, sizeof key, "d%s", outs[o]);
        const sp_tensor *y = sp_map_tensor(&res, outs[o]), *dy = sp_map_tensor(in, key);
        if (!y || !dy)
            continue;
        for (size_t j = 0; j < sp_tensor_numel(y); j++)
            L += sp_tensor_get(dy, j) * sp_tensor_get(y, j);
    }
    sp_map_free(&res);
    return L;
}

static void finite_differences(const char *label, const sp_op_def *op, sp_map *in,
                               const sp_op_attrs *a, const sp_map *grads, double eps, double tol)
{
    static char outs[MAX_NAMES][64], diff[MAX_NAMES][64];
    int nout = split_names(op->outputs, outs, MAX_NAMES), ndiff = split_names(op->diff, diff, MAX_NAMES);
    for (int d = 0; d < ndiff; d++) {
        sp_tensor *x = sp_map_tensor(in, diff[d]);
        char key[80], tname[400];
        snprintf(key, sizeof key, "d%s", diff[d]);
        const sp_tensor *g = sp_map_tensor(grads, key);
        if (!x || !g || x->dtype != SP_F32)
            continue;
        size_t n = sp_tensor_numel(x), step = n > FD_SAMPLES ? n / FD_SAMPLES : 1;
        double bad = 0, num_at = 0, ana_at = 0;
        size_t at = 0;
        for (size_t i = (step > 1 ? step / 2 : 0); i < n; i += step) {
            float keep = sp_f32(x)[i];
            sp_f32(x)[i] = keep + (float)eps;
            double lp = loss_of(op, in, a, outs, nout);
            sp_f32(x)[i] = keep - (float)eps;
            double lm = loss_of(op, in, a, outs, nout);
            sp_f32(x)[i] = keep;
            /* the step actually taken in float */
            double h = (double)(keep + (float)eps) - (double)(keep - (float)eps);
            double num = (lp - lm) / h, ana = sp_tensor_get(g, i);
            double excess = fabs(num - ana) - tol * fmax(1.0, fabs(ana));
            if (excess > bad) {
                bad = excess;
                at = i;
                num_at = num;
                ana_at = ana;
            }
        }
        snprintf(tname, sizeof tname, "%s: finite differences d%s", label, diff[d]);
        CHECK(tname, bad <= 0, "element %zu: numerical %.7g, backward %.7g (eps %g, tol %g)", at,
              num_at, ana_at, eps, tol);
    }
}

static void run_file(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return;
    sp_reader *r = sp_reader_open(f, path);
    sp_map b = {0};
    int64_t idx;
    static char store[4096];
    while (sp_reader_next_stream(r)) {
        const sp_map *meta = sp_reader_meta(r);
        char opname[64] = "", desc[200] = "", label[400];
        double rtol = 0, atol = 0, eps = 1e-3, tol = 1e-2;
        int64_t fd = 1;
        sp_map_get_str(meta, "op", opname, sizeof opname);
        sp_map_get_str(meta, "case", desc, sizeof desc);
        sp_map_get_double(meta, "rtol", &rtol);
        sp_map_get_double(meta, "atol", &atol);
        sp_map_get_int(meta, "fd", &fd);
        sp_map_get_double(meta, "fd_eps", &eps);
        sp_map_get_double(meta, "fd_tol", &tol);
        const sp_op_def *op = sp_op_find(opname);
        snprintf(label, sizeof label, "%s (%s)", opname, desc);
        if (!op) {
            CHECK(label, 0, "%s: golden case of an unknown op", path);
            while (sp_reader_next_batch(r, &b, &idx))
                ;
            continue;
        }
        cases_per_op_count(opname, 1);
        sp_op_attrs a;
        sp_op_attrs_defaults(&a, op);
        sp_op_attrs_from_meta(&a, op, meta, store, sizeof store);
        while (sp_reader_next_batch(r, &b, &idx)) {
            static char outs[MAX_NAMES][64], diff[MAX_NAMES][64];
            int nout = split_names(op->outputs, outs, MAX_NAMES), ndiff = split_names(op->diff, diff, MAX_NAMES);
            sp_map res = {0}, grads = {0};
            op->forward(&res, &b, &a);
            compare_entries(label, &res, &b, outs, nout, "", rtol, atol);
            if (op->backward && ndiff > 0) {
                op->backward(&grads, &b, &a);
                compare_entries(label, &grads, &b, diff, ndiff, "d", rtol, atol);
                if (fd)
                    finite_differences(label, op, &b, &a, &grads, eps, tol);
            }
            sp_map_free(&res);
            sp_map_free(&grads);
        }
    }
    sp_map_free(&b);
    sp_reader_close(r);
    fclose(f);
}

/* A tiny name -> count table for the coverage check. */
static int cases_per_op_count(const char *name, int add)
{
    static char names[256][64];
    static int counts[256], n;
    for (int i = 0; i < n; i++)
        if (!strcmp(names[i], name))
            return counts[i] += add;
    if (!add || n == 256)
        return 0;
    snprintf(names[n], 64, "%s", name);
    return counts[n++] = add;
}

static void coverage(const sp_op_def *op, void *ctx)
{
    (void)ctx;
    char tname[128];
    snprintf(tname, sizeof tname, "%s has golden cases", op->name);
    CHECK(tname, cases_per_op_count(op->name, 0) > 0, "no case in " GOLDEN_DIR);
}

static int cmp(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

int main(void)
{
    sp_set_prog("test_ops");
    DIR *d = opendir(GOLDEN_DIR);
    CHECK("golden op directory", d != NULL, GOLDEN_DIR " missing");
    if (!d)
        return 1;
    char *files[512];
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)) && n < 512) {
        size_t len = strlen(e->d_name);
        if (len > 3 && !strcmp(e->d_name + len - 3, ".sp")) {
            files[n] = malloc(len + sizeof GOLDEN_DIR + 2);
            sprintf(files[n++], GOLDEN_DIR "/%s", e->d_name);
        }
    }
    closedir(d);
    qsort(files, (size_t)n, sizeof *files, cmp);
    for (int i = 0; i < n; i++) {
        run_file(files[i]);
        free(files[i]);
    }
    sp_op_foreach(coverage, NULL);
    TEST_MAIN_END;
}

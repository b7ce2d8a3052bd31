/* mkeval: writes a stream for sp-eval from a case of
 * tests/golden/metrics/eval.txt (format in tests/golden/make_metrics_golden.py),
 * for tests/cli/eval.sh.  The case's entries become batches of --batch
 * images, split over --streams concatenated streams, each batch with an extra
 * "index" entry that sp-eval must ignore; --bad makes one batch invalid.
 *
 *   mkeval [options] GOLDEN_FILE CASE > stream */
#define _POSIX_C_SOURCE 200809L
#include "sp_start.h"
#include "sp_error.h"
#include "sp_opt.h"
#include "sp_stream.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

static const char *const entry_names[6] = {"mask", "pred_mask", "sem_mask", "pred_sem", "label",
                                           "pred_label"};

typedef struct {
    int64_t n, h, w;
    int64_t *v[6]; /* values per entry, NULL when absent */
} eval_case;

static int entry_index(const char *s)
{
    for (int k = 0; k < 6; k++)
        if (strcmp(s, entry_names[k]) == 0)
            return k;
    return -1;
}

static int64_t *parse_values(char *rest, size_t want, const char *what)
{
    int64_t *v = sp_malloc((want + 1) * sizeof *v);
    size_t n = 0;
    for (char *save = NULL, *t = strtok_r(rest, " \n", &save); t; t = strtok_r(NULL, " \n", &save)) {
        if (n == want)
            sp_fatal("%s: more than %zu values", what, want);
        v[n++] = strtoll(t, NULL, 10);
    }
    if (n != want)
        sp_fatal("%s: %zu values, expected %zu", what, n, want);
    return v;
}

static void load_case(eval_case *c, const char *path, const char *name)
{
    FILE *f = fopen(path, "r");
    if (!f)
        sp_fatal("%s: cannot open: %s", path, strerror(errno));
    memset(c, 0, sizeof *c);
    char *line = NULL;
    size_t cap = 0;
    int in = 0, found = 0;
    while (getline(&line, &cap, f) >= 0) {
        char key[64], cname[256];
        if (sscanf(line, "%63s", key) != 1 || key[0] == '#')
            continue;
        if (strcmp(key, "case") == 0) {
            long long n, h, w;
            in = sscanf(line, "case %255s %lld %lld %lld", cname, &n, &h, &w) == 4 &&
                 strcmp(cname, name) == 0;
            if (in) {
                found = 1;
                c->n = n;
                c->h = h;
                c->w = w;
            }
            continue;
        }
        int k = entry_index(key);
        if (!in || k < 0)
            continue;
        size_t want = (size_t)c->n * (k < 4 ? (size_t)(c->h * c->w) : 1);
        c->v[k] = parse_values(line + strlen(key), want, key);
    }
    free(line);
    fclose(f);
    if (!found)
        sp_fatal("%s: no case %s", path, name);
}

/* Images [i0, i1) of entry k as a tensor of dtype dt. */
static sp_tensor *slice(const eval_case *c, int k, int64_t i0, int64_t i1, sp_dtype dt)
{
    int64_t per = k < 4 ? c->h * c->w : 1, n = i1 - i0;
    sp_tensor *t = k < 4 ? sp_tensor_newv(SP_I64, 3, n, c->h, c->w) : sp_tensor_newv(SP_I64, 1, n);
    memcpy(t->data, c->v[k] + i0 * per, (size_t)(n * per) * sizeof(int64_t));
    if (dt != SP_I64) {
        sp_tensor *u = sp_tensor_convert(t, dt);
        sp_tensor_free(t);
        t = u;
    }
    return t;
}

static int in_list(const char *list, const char *name)
{
    if (!list)
        return 0;
    size_t n = strlen(name);
    for (const char *p = list; (p = strstr(p, name)); p += n)
        if ((p == list || p[-1] == ',') && (p[n] == 0 || p[n] == ','))
            return 1;
    return 0;
}

/* Applies --bad to one batch. */
static void make_bad(sp_map *b, const char *kind, int64_t n, const eval_case *c)
{
    if (strcmp(kind, "float-mask") == 0) {
        sp_tensor *t = sp_map_take(b, "mask");
        sp_map_put_tensor(b, "mask", sp_tensor_convert(t, SP_F32));
        sp_tensor_free(t);
    } else if (strcmp(kind, "shape") == 0) {
        /* pred_mask one column narrower than mask */
        sp_tensor *t = sp_map_take(b, "pred_mask");
        sp_tensor *u = sp_tensor_newv(t->dtype, 3, n, c->h, c->w - 1);
        sp_tensor_free(t);
        sp_map_put_tensor(b, "pred_mask", u);
    } else if (strcmp(kind, "negative") == 0) {
        sp_tensor *t = sp_map_take(b, "pred_mask");
        sp_tensor *u = sp_tensor_convert(t, SP_I32);
        sp_tensor_free(t);
        sp_i32(u)[c->w + 2] = -1; /* image 0, row 1, column 2 */
        sp_map_put_tensor(b, "pred_mask", u);
    } else if (strcmp(kind, "big-id") == 0) {
        sp_tensor *t = sp_map_take(b, "sem_mask");
        sp_tensor *u = sp_tensor_convert(t, SP_I64);
        sp_tensor_free(t);
        sp_i64(u)[sp_tensor_numel(u) - 1] = 70000;
        sp_map_put_tensor(b, "sem_mask", u);
    } else if (strcmp(kind, "nlabel") == 0) {
        sp_tensor *t = sp_map_take(b, "label");
        sp_tensor *u = sp_tensor_newv(t->dtype, 1, n - 1);
        sp_tensor_free(t);
        sp_map_put_tensor(b, "label", u);
        t = sp_map_take(b, "pred_label");
        u = sp_tensor_newv(t->dtype, 1, n - 1);
        sp_tensor_free(t);
        sp_map_put_tensor(b, "pred_label", u);
    } else if (strcmp(kind, "ndim") == 0) {
        sp_tensor *t = sp_map_tensor(b, "mask"), *u = sp_map_tensor(b, "pred_mask");
        t->ndim = u->ndim = 2;
        t->shape[1] = u->shape[1] = c->h * c->w;
    } else if (strcmp(kind, "raw") == 0) {
        sp_map_put_int(b, "mask", 3);
    } else if (strcmp(kind, "drop-pred") == 0) {
        sp_map_remove(b, "pred_mask");
    } else {
        sp_fatal("--bad: unknown kind '%s'", kind);
    }
}

int main(int argc, char **argv)
{
    sp_main_start(argv);
    int batch = 5, streams = 1, bad_batch = 0, empty_batch = 0, no_batches = 0;
    const char *dtypes = NULL, *drop = NULL, *bad = NULL;
    sp_opt opts[] = {
        {"batch", SP_OPT_INT, &batch, "B", "images per batch (default 5)"},
        {"streams", SP_OPT_INT, &streams, "S", "split the batches over S concatenated streams"},
        {"dtype", SP_OPT_STR, &dtypes, "LIST", "NAME=DT,...: entry dtypes (default i32)"},
        {"drop", SP_OPT_STR, &drop, "LIST", "NAME,...: leave these entries out"},
        {"bad", SP_OPT_STR, &bad, "KIND",
         "float-mask shape negative big-id nlabel ndim raw drop-pred"},
        {"bad-batch", SP_OPT_INT, &bad_batch, "K", "the batch --bad applies to (default 0)"},
        {"empty-batch", SP_OPT_FLAG, &empty_batch, NULL, "start with a batch of 0 images"},
        {"no-batches", SP_OPT_FLAG, &no_batches, NULL, "no batch from the case (only --empty-batch, if given)"},
        {0}};
    char **args;
    if (sp_opt_parse(argc, argv, opts, "mkeval [options] GOLDEN_FILE CASE",
                     "Writes a case of eval.txt as a stream on stdout.", &args) != 2)
        sp_fatal("usage: mkeval [options] GOLDEN_FILE CASE (see --help)");
    if (batch < 1 || streams < 1)
        sp_fatal("--batch and --streams must be positive");
    eval_case c;
    load_case(&c, args[0], args[1]);
    sp_dtype dt[6];
    for (int k = 0; k < 6; k++) {
        char key[64];
        snprintf(key, sizeof key, "%s=", entry_names[k]);
        dt[k] = SP_I32;
        const char *p = dtypes;
        while (p && (p = strstr(p, key))) {
            if (p == dtypes || p[-1] == ',') {
                const char *v = p + strlen(key);
                size_t len = strcspn(v, ",");
                if (sp_dtype_parse(v, len, &dt[k]) != 0)
                    sp_fatal("--dtype: bad dtype for %s", entry_names[k]);
                break;
            }
            p++;
        }
    }
    sp_writer *w = sp_writer_open(stdout, "stdout");
    int64_t nb = (c.n + batch - 1) / batch;
    int64_t per_stream = (nb + streams - 1) / streams;
    sp_writer_header(w, NULL);
    if (empty_batch) {
        sp_map b = {0};
        for (int k = 0; k < 6; k++)
            if (c.v[k] && !in_list(drop, entry_names[k]))
                sp_map_put_tensor(&b, entry_names[k], slice(&c, k, 0, 0, dt[k]));
        sp_writer_batch(w, &b);
        sp_map_free(&b);
    }
    if (!no_batches) {
        int64_t bi = 0; /* batch number over all streams */
        for (int64_t i0 = 0; i0 < c.n; i0 += batch, bi++) {
            if (bi > 0 && bi % per_stream == 0) {
                sp_writer_end(w);
                sp_writer_header(w, NULL);
            }
            int64_t i1 = i0 + batch < c.n ? i0 + batch : c.n;
            sp_map b = {0};
            sp_tensor *idx = sp_tensor_newv(SP_I64, 1, i1 - i0);
            for (int64_t i = i0; i < i1; i++)
                sp_i64(idx)[i - i0] = i;
            sp_map_put_tensor(&b, "index", idx);
            for (int k = 0; k < 6; k++)
                if (c.v[k] && !in_list(drop, entry_names[k]))
                    sp_map_put_tensor(&b, entry_names[k], slice(&c, k, i0, i1, dt[k]));
            if (bad && bi == bad_batch)
                make_bad(&b, bad, i1 - i0, &c);
            sp_writer_batch(w, &b);
            sp_map_free(&b);
        }
    }
    sp_writer_end(w);
    sp_writer_close(w);
    for (int k = 0; k < 6; k++)
        free(c.v[k]);
    return 0;
}

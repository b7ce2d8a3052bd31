/* spcmp [--atol A] [--rtol R] FILE GOT=WANT ...: compares entries of the
 * batches of a stream, for the parity tests against goldens (the golden
 * stream carries the reference's numbers as expect_* entries, which every
 * stage passes through, so after the pipeline both sit in the same batch).
 *
 * For each pair, over every batch of every stream of FILE: GOT and WANT
 * must both be present with the same shape; f32/f64 values must satisfy
 * |got - want| <= A + R |want| elementwise (NaN fails), integer values must
 * be equal (any dtype against any integer dtype).  One line per pair on
 * stdout:
 *   GOT=WANT: N values, max |diff| D at I (got G, want W), B beyond atol A rtol R
 * Exit status 1 when any pair fails (its line then also goes to stderr),
 * after checking all of them. */
#include "sp_start.h"
#include "sp_error.h"
#include "sp_opt.h"
#include "sp_stream.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    char got[128], want[128];
    size_t n, bad, at;
    double worst, g, w;
    int integer, missing, shape;
} pair;

static int is_float(sp_dtype d) { return d == SP_F32 || d == SP_F64; }

int main(int argc, char **argv)
{
    sp_main_start(argv);
    double atol = 0, rtol = 0;
    sp_opt opts[] = {{"atol", SP_OPT_DOUBLE, &atol, "A", "absolute tolerance (floats; default 0)"},
                     {"rtol", SP_OPT_DOUBLE, &rtol, "R", "relative tolerance (floats; default 0)"},
                     {0}};
    char **args;
    int nargs = sp_opt_parse(argc, argv, opts, "spcmp [--atol A] [--rtol R] FILE GOT=WANT ...",
                             "Compares entries GOT and WANT of every batch of FILE.", &args);
    if (nargs < 2)
        sp_fatal("expected FILE and at least one GOT=WANT (see --help)");
    int np = nargs - 1;
    pair *p = calloc((size_t)np, sizeof *p);
    if (!p)
        sp_fatal("out of memory");
    for (int i = 0; i < np; i++) {
        const char *eq = strchr(args[i + 1], '=');
        if (!eq || eq == args[i + 1] || !eq[1] || (size_t)(eq - args[i + 1]) >= sizeof p[i].got ||
            strlen(eq + 1) >= sizeof p[i].want)
            sp_fatal("'%s': expected GOT=WANT", args[i + 1]);
        memcpy(p[i].got, args[i + 1], (size_t)(eq - args[i + 1]));
        strcpy(p[i].want, eq + 1);
    }
    FILE *f = fopen(args[0], "rb");
    if (!f)
        sp_fatal("%s: cannot open", args[0]);
    sp_reader *r = sp_reader_open(f, args[0]);
    sp_map b = {0};
    int64_t idx;
    size_t off = 0; /* element offset of this batch within the whole input */
    while (sp_reader_next_stream(r))
        while (sp_reader_next_batch(r, &b, &idx)) {
            size_t batch_n = 0;
            for (int i = 0; i < np; i++) {
                const sp_tensor *g = sp_map_tensor(&b, p[i].got), *w = sp_map_tensor(&b, p[i].want);
                if (!g || !w) {
                    p[i].missing = 1;
                    continue;
                }
                if (g->ndim != w->ndim || memcmp(g->shape, w->shape, sizeof(int64_t) * g->ndim)) {
                    p[i].shape = 1;
                    continue;
                }
                p[i].integer = !is_float(w->dtype);
                size_t n = sp_tensor_numel(w);
                for (size_t j = 0; j < n; j++) {
                    double gv = sp_tensor_get(g, j), wv = sp_tensor_get(w, j), d = fabs(gv - wv);
                    double lim = p[i].integer ? 0.0 : atol + rtol * fabs(wv);
                    if (!(d <= lim))
                        p[i].bad++;
                    int first = p[i].n == 0 && j == 0;
                    if (first || (isnan(d) && !isnan(p[i].worst)) || d > p[i].worst) {
                        p[i].worst = d;
                        p[i].at = off + j, p[i].g = gv, p[i].w = wv;
                    }
                }
                p[i].n += n;
                if (n > batch_n)
                    batch_n = n;
            }
            off += batch_n;
        }
    sp_map_free(&b);
    sp_reader_close(r);
    fclose(f);
    int failed = 0;
    for (int i = 0; i < np; i++) {
        char line[512];
        if (p[i].missing || p[i].shape || p[i].n == 0)
            snprintf(line, sizeof line, "%s=%s: %s", p[i].got, p[i].want,
                     p[i].shape ? "shapes differ" : "entry missing from a batch");
        else if (p[i].integer)
            snprintf(line, sizeof line, "%s=%s: %zu values, %zu differ (first largest at %zu: got %.9g, want %.9g)",
                     p[i].got, p[i].want, p[i].n, p[i].bad, p[i].at, p[i].g, p[i].w);
        else
            snprintf(line, sizeof line,
                     "%s=%s: %zu values, max |diff| %.3g at %zu (got %.9g, want %.9g), %zu beyond atol %g rtol %g",
                     p[i].got, p[i].want, p[i].n, p[i].worst, p[i].at, p[i].g, p[i].w, p[i].bad, atol, rtol);
        int bad = p[i].missing || p[i].shape || p[i].n == 0 || p[i].bad;
        printf("%s\n", line);
        if (bad)
            fprintf(stderr, "%s\n", line);
        failed |= bad;
    }
    free(p);
    return failed;
}

/* sp-select: the model's second stage.  For every image, chooses one
 * candidate per layer (and a background) from the entries sp-predict adds,
 * as the reference's greedy_algo_selection does (or exactly, --exhaustive),
 * and adds choice i32 [N,L], bkg_choice i32 [N] (M > 0) and select_error
 * f32 [N]; everything else passes through.  The work is common/sp_select.c,
 * one image per OpenMP iteration. */
#include "sp_cands.h"
#include "sp_error.h"
#include "sp_opt.h"
#include "sp_select.h"
#include "sp_stream.h"

#include <limits.h>
#include <math.h>
#include <stdlib.h>


int main(int argc, char **argv)
{
    sp_set_prog(argv[0]);
    /* INT_MIN / NaN: not given on the command line, taken from the stream's meta */
    int iters = INT_MIN, exhaustive = 0;
    double lambda = NAN;
    /* assignments an image --exhaustive accepts: each costs O(C H W), so
     * beyond about 1e6 a batch takes hours */
    double limit = 1e6;
    sp_opt opts[] = {
        {"greedy", SP_OPT_INT, &iters, "N", "greedy passes over the layers (default: the model's greedy_algo_iter, from sp-predict's meta; else 1)"},
        {"exhaustive", SP_OPT_FLAG, &exhaustive, NULL, "exact minimum over all K'^L x M assignments (see --limit)"},
        {"lambda-empty", SP_OPT_DOUBLE, &lambda, "X",
         "added to the error of non-empty candidates when the model has an empty sprite\n"
         "(default: the model's lambda_empty_sprite, from sp-predict's meta; else 0)"},
        {"limit", SP_OPT_DOUBLE, &limit, "X", "most assignments an image --exhaustive accepts (default 1e6)"},
        {0}};
    char **args;
    int nargs = sp_opt_parse(argc, argv, opts, "sp-select [--greedy N | --exhaustive] [--lambda-empty X]",
                             "Reads cand_layers, cand_masks, backgrounds, occlusion (from sp-predict)\n"
                             "and image; adds to every batch:\n"
                             "  choice       i32 [N,L]  the candidate chosen for each layer (the empty\n"
                             "                          sprite, when the model has one, is K'-1)\n"
                             "  bkg_choice   i32 [N]    the background chosen (only when M > 0)\n"
                             "  select_error f32 [N]    mean squared error of that composition (unclamped)\n"
                             "Greedy (default): the reference's loop, slots start empty and each layer in\n"
                             "turn takes the candidate of least error; one-layer models take the exact\n"
                             "minimum over K' x M, as the reference does.  Everything else passes through.",
                             &args);
    if (nargs != 0)
        sp_fatal("unexpected argument '%s' (see --help)", args[0]);
    int iters_given = iters != INT_MIN, lambda_given = !isnan(lambda);
    if (iters_given && (iters < 1 || iters > 1000))
        sp_fatal("--greedy: %d passes (1..1000)", iters);
    if (lambda_given && (!(lambda >= 0.0) || !isfinite(lambda)))
        sp_fatal("--lambda-empty: must be a finite value >= 0");

    sp_reader *r = sp_reader_open(stdin, "stdin");
    sp_writer *w = sp_writer_open(stdout, "stdout");
    sp_map b = {0};
    int64_t idx;
    while (sp_reader_next_stream(r)) {
        int64_t empty = 0, meta_iters = 1;
        double meta_lambda = 0.0;
        sp_map_get_int(sp_reader_meta(r), "empty_sprite", &empty);
        /* the model's own values, as sp-predict recorded them */
        sp_map_get_int(sp_reader_meta(r), "greedy_algo_iter", &meta_iters);
        sp_map_get_double(sp_reader_meta(r), "lambda_empty_sprite", &meta_lambda);
        int pass_count = iters_given ? iters : (meta_iters >= 1 && meta_iters <= 1000 ? (int)meta_iters : 1);
        double penalty = lambda_given ? lambda : (meta_lambda >= 0.0 && isfinite(meta_lambda) ? meta_lambda : 0.0);
        sp_map meta = {0};
        sp_map_merge(&meta, sp_reader_meta(r));
        sp_map_put_str(&meta, "selection", exhaustive ? "exhaustive" : "greedy");
        sp_writer_header(w, &meta);
        sp_map_free(&meta);
        while (sp_reader_next_batch(r, &b, &idx)) {
            sp_cands c;
            sp_cands_get(&c, &b, idx);
            sp_select_dims d = {c.L, c.K, c.M, c.C, c.hw, empty != 0, penalty, pass_count};
            if (exhaustive && pow((double)c.K, (double)c.L) * (c.M > 0 ? c.M : 1) > limit)
                sp_fatal("stdin: batch %lld: --exhaustive: %d^%d x %d assignments an image (--limit %g)",
                         (long long)idx, c.K, c.L, c.M > 0 ? c.M : 1, limit);
            const int64_t n = c.N;
            sp_tensor *tc = sp_tensor_newv(SP_I32, 2, n, (int64_t)c.L);
            sp_tensor *tb = c.M > 0 ? sp_tensor_newv(SP_I32, 1, n) : NULL;
            sp_tensor *te = sp_tensor_newv(SP_F32, 1, n);
            const size_t sl = (size_t)c.L * c.K * c.C * c.hw, sm = (size_t)c.L * c.K * c.hw;
            const size_t sb = (size_t)c.M * c.C * c.hw, si = (size_t)c.C * c.hw;
            const size_t ws = sp_select_work_size(&d);
            int failed = 0;
#pragma omp parallel
            {
                double *work = malloc(ws * sizeof *work);
                if (!work) {
#pragma omp atomic write
                    failed = 1;
                }
#pragma omp for schedule(dynamic, 1)
                for (int64_t i = 0; i < n; i++) {
                    if (!work)
                        continue;
                    int32_t bk = 0;
                    const float *bg = c.bkgs ? c.bkgs + (size_t)i * sb : NULL;
                    const float *oc = c.occ ? c.occ + (size_t)i * c.L * c.L : NULL;
                    double e = (exhaustive ? sp_select_exhaustive : sp_select_greedy)(
                        sp_i32(tc) + (size_t)i * c.L, &bk, c.layers + (size_t)i * sl, c.masks + (size_t)i * sm,
                        bg, oc, c.img + (size_t)i * si, &d, work);
                    if (tb)
                        sp_i32(tb)[i] = bk;
                    sp_f32(te)[i] = (float)e;
                }
                free(work);
            }
            if (failed)
                sp_fatal("out of memory");
            sp_map_put_tensor(&b, "choice", tc);
            if (tb)
                sp_map_put_tensor(&b, "bkg_choice", tb);
            sp_map_put_tensor(&b, "select_error", te);
            sp_writer_batch(w, &b);
        }
        sp_writer_end(w);
    }
    sp_writer_close(w);
    sp_reader_close(r);
    sp_map_free(&b);
    return 0;
}

/* opbench FILE...: times ops of the registry in-process on the cases of
 * streams written by tests/bench/ops_bench.py (the golden-case format: header
 * meta "op", "attrs", plus "config" and "part" labels; one batch with the
 * inputs and "d<output>" gradients).  For each case: one warm-up, then
 * forward and backward repeated until --min-seconds (default 1) and at least
 * 3 times; prints "config part op forward_ms backward_ms bwd_includes_fwd"
 * with the fastest run of each (the last field copies the case's meta: 1
 * when the op's registry backward recomputes the forward, as the encoders'
 * and tsf_sequence's do, so that backward alone is a whole training pass), so that a noisy neighbour inflates figures as little as
 * possible.  Stream I/O is not timed. */
#include "sp_start.h"
#include "sp_error.h"
#include "sp_op.h"
#include "sp_progress.h"
#include "sp_stream.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

static double time_call(const sp_op_def *op, int backward, const sp_map *in, const sp_op_attrs *a)
{
    sp_map out = {0};
    double t0 = sp_now();
    if (backward)
        op->backward(&out, in, a);
    else
        op->forward(&out, in, a);
    double t = sp_now() - t0;
    sp_map_free(&out);
    return t;
}

int main(int argc, char **argv)
{
    sp_main_start(argv);
    double min_seconds = 1.0;
    static char store[4096];
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--min-seconds") && i + 1 < argc) {
            min_seconds = atof(argv[++i]);
            continue;
        }
        FILE *f = fopen(argv[i], "rb");
        if (!f)
            sp_fatal("%s: cannot open: %s", argv[i], strerror(errno));
        sp_reader *r = sp_reader_open(f, argv[i]);
        sp_map b = {0};
        int64_t idx;
        while (sp_reader_next_stream(r)) {
            const sp_map *meta = sp_reader_meta(r);
            char name[64] = "", config[64] = "?", part[64] = "?";
            sp_map_get_str(meta, "op", name, sizeof name);
            sp_map_get_str(meta, "config", config, sizeof config);
            sp_map_get_str(meta, "part", part, sizeof part);
            int64_t includes = 0;
            sp_map_get_int(meta, "bwd_includes_fwd", &includes);
            const sp_op_def *op = sp_op_find(name);
            if (!op)
                sp_fatal("%s: unknown op '%s'", argv[i], name);
            sp_op_attrs a;
            sp_op_attrs_defaults(&a, op);
            sp_op_attrs_from_meta(&a, op, meta, store, sizeof store);
            while (sp_reader_next_batch(r, &b, &idx)) {
                int has_bwd = op->backward && op->diff[0];
                double best_f = 1e30, best_b = 1e30, spent = 0;
                time_call(op, 0, &b, &a);
                if (has_bwd)
                    time_call(op, 1, &b, &a);
                for (int rep = 0; rep < 3 || spent < min_seconds; rep++) {
                    double tf = time_call(op, 0, &b, &a), tb = has_bwd ? time_call(op, 1, &b, &a) : 0;
                    best_f = tf < best_f ? tf : best_f;
                    best_b = tb < best_b ? tb : best_b;
                    spent += tf + tb;
                    if (rep > 1000)
                        break;
                }
                printf("%s %s %s %.4f %.4f %d\n", config, part, name, best_f * 1e3, best_b * 1e3,
                       (int)includes);
                fflush(stdout);
            }
        }
        sp_map_free(&b);
        sp_reader_close(r);
        fclose(f);
    }
    return 0;
}

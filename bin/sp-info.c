/* sp-info: a human summary of a stream (the `file`/`pnminfo` of streams):
 * header and meta, then per batch every entry with dtype, shape and
 * min/max/mean, then the trailer.  Reads stdin or the files named. */
#include "sp_start.h"
#include "sp_error.h"
#include "sp_opt.h"
#include "sp_stream.h"

#include <errno.h>
#include <float.h>
#include <math.h>
#include <string.h>

static void describe_entry(const sp_entry *e, int quiet_values)
{
    char buf[256];
    if (!e->tensor) {
        sp_raw_describe(e->raw, e->raw_len, buf, sizeof buf);
        printf("    %-12s %s\n", e->name, buf);
        return;
    }
    const sp_tensor *t = e->tensor;
    size_t n = sp_tensor_numel(t);
    printf("    %-12s %-24s", e->name, sp_tensor_describe(t, buf, sizeof buf));
    if (n && !quiet_values) {
        double lo = DBL_MAX, hi = -DBL_MAX, sum = 0;
        size_t nonfinite = 0;
        for (size_t i = 0; i < n; i++) {
            double v = sp_tensor_get(t, i);
            if (!isfinite(v)) {
                nonfinite++;
                continue;
            }
            lo = v < lo ? v : lo;
            hi = v > hi ? v : hi;
            sum += v;
        }
        if (nonfinite < n)
            printf(" min %-10.6g max %-10.6g mean %.6g", lo, hi, sum / (double)(n - nonfinite));
        if (nonfinite)
            printf(" (%zu NaN/Inf)", nonfinite);
    }
    printf("\n");
}

/* --dump NAME: the values of one entry, a line per batch. */
static void dump_values(const sp_map *batch, const char *entry)
{
    const sp_tensor *t = sp_map_tensor(batch, entry);
    if (!t)
        return;
    size_t n = sp_tensor_numel(t);
    for (size_t i = 0; i < n; i++)
        printf(i ? " %.9g" : "%.9g", sp_tensor_get(t, i));
    printf("\n");
}

static void info(FILE *f, const char *name, int summary, const char *dump)
{
    sp_reader *r = sp_reader_open(f, name);
    sp_map batch = {0};
    int64_t index;
    int stream = 0;
    while (sp_reader_next_stream(r)) {
        const sp_map *meta = sp_reader_meta(r);
        if (dump) {
            while (sp_reader_next_batch(r, &batch, &index))
                dump_values(&batch, dump);
            continue;
        }
        printf("%s: stream %d, format version %d\n", name, stream++, SP_STREAM_VERSION);
        for (int i = 0; i < meta->n; i++) {
            char buf[512];
            if (meta->e[i].tensor)
                printf("  meta %-12s %s\n", meta->e[i].name,
                       sp_tensor_describe(meta->e[i].tensor, buf, sizeof buf));
            else {
                sp_raw_describe(meta->e[i].raw, meta->e[i].raw_len, buf, sizeof buf);
                printf("  meta %-12s %s\n", meta->e[i].name, buf);
            }
        }
        int64_t images = 0;
        while (sp_reader_next_batch(r, &batch, &index)) {
            const sp_tensor *first = batch.n && batch.e[0].tensor ? batch.e[0].tensor : NULL;
            const sp_tensor *img = sp_map_tensor(&batch, "image");
            if (!img)
                img = first;
            if (img && img->ndim > 0)
                images += img->shape[0];
            if (summary)
                continue;
            printf("  batch %lld\n", (long long)index);
            for (int i = 0; i < batch.n; i++)
                describe_entry(&batch.e[i], 0);
        }
        printf("  end: %lld batches, %lld images\n", (long long)sp_reader_count(r),
               (long long)images);
        fflush(stdout);
    }
    sp_map_free(&batch);
    sp_reader_close(r);
}

int main(int argc, char **argv)
{
    sp_main_start(argv);
    int summary = 0;
    const char *dump = NULL;
    sp_opt opts[] = {
        {"summary", SP_OPT_FLAG, &summary, NULL, "only header, meta and totals (no per-batch lines)"},
        {"dump", SP_OPT_STR, &dump, "NAME", "print every value of entry NAME instead, a line per batch"},
        {0}};
    char **args;
    int n = sp_opt_parse(argc, argv, opts, "sp-info [--summary | --dump NAME] [FILE ...]",
                         "Prints a human summary of sprites streams (stdin when no FILE): header,\n"
                         "meta, every batch entry with dtype, shape, min, max and mean, trailer.",
                         &args);
    if (n == 0) {
        info(stdin, "stdin", summary, dump);
        return 0;
    }
    for (int i = 0; i < n; i++) {
        FILE *f = fopen(args[i], "rb");
        if (!f)
            sp_fatal("%s: cannot open: %s", args[i], strerror(errno));
        info(f, args[i], summary, dump);
        fclose(f);
    }
    return 0;
}

/* opdiff A B NAME...: the largest normalised difference between the f32
 * tensors NAME of every batch of stream files A and B,
 *   max_i |a_i - b_i| / max(max_i |a_i|, 1e-30)   (0 when equal),
 * NaN where exactly one side is NaN counting as infinite.  Prints
 * "NAME ERR" per name ("NAME absent" when neither stream has it) and exits
 * 0; a tensor in one stream only, or a shape mismatch, is an error. */
#include "sp_start.h"
#include "sp_error.h"
#include "sp_stream.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

int main(int argc, char **argv)
{
    sp_main_start(argv);
    if (argc < 4)
        sp_fatal("usage: opdiff A B NAME...");
    FILE *fa = fopen(argv[1], "rb"), *fb = fopen(argv[2], "rb");
    if (!fa || !fb)
        sp_fatal("cannot open %s or %s", argv[1], argv[2]);
    sp_reader *ra = sp_reader_open(fa, argv[1]), *rb = sp_reader_open(fb, argv[2]);
    int nn = argc - 3;
    double diff[64] = {0}, scale[64] = {0};
    int absent[64] = {0};
    if (nn > 64)
        sp_fatal("at most 64 names");
    sp_map a = {0}, b = {0};
    int64_t ia, ib;
    while (sp_reader_next_stream(ra)) {
        if (!sp_reader_next_stream(rb))
            sp_fatal("%s has fewer streams", argv[2]);
        for (;;) {
            int ga = sp_reader_next_batch(ra, &a, &ia), gb = sp_reader_next_batch(rb, &b, &ib);
            if (ga != gb)
                sp_fatal("the streams have different numbers of batches");
            if (!ga)
                break;
            for (int k = 0; k < nn; k++) {
                const sp_tensor *ta = sp_map_tensor(&a, argv[3 + k]), *tb = sp_map_tensor(&b, argv[3 + k]);
                if (!ta && !tb) {
                    absent[k] = 1;
                    continue;
                }
                if (!ta || !tb)
                    sp_fatal("batch %lld: tensor '%s' missing in %s", (long long)ia, argv[3 + k],
                             ta ? argv[2] : argv[1]);
                if (ta->dtype != SP_F32 || tb->dtype != SP_F32 || ta->nbytes != tb->nbytes ||
                    ta->ndim != tb->ndim || memcmp(ta->shape, tb->shape, sizeof(int64_t) * ta->ndim))
                    sp_fatal("batch %lld: tensor '%s' differs in dtype or shape", (long long)ia,
                             argv[3 + k]);
                size_t n = sp_tensor_numel(ta);
                const float *pa = sp_f32(ta), *pb = sp_f32(tb);
                for (size_t i = 0; i < n; i++) {
                    double x = pa[i], y = pb[i];
                    if (isnan(x) || isnan(y)) {
                        if (!(isnan(x) && isnan(y)))
                            diff[k] = INFINITY;
                        continue;
                    }
                    if (isinf(x) || isinf(y)) {
                        if (x != y)
                            diff[k] = INFINITY;
                        continue;
                    }
                    if (fabs(x - y) > diff[k])
                        diff[k] = fabs(x - y);
                    if (fabs(x) > scale[k])
                        scale[k] = fabs(x);
                }
            }
        }
    }
    for (int k = 0; k < nn; k++) {
        double e = diff[k] == 0 ? 0.0 : diff[k] / (scale[k] > 1e-30 ? scale[k] : 1e-30);
        if (absent[k])
            printf("%s absent\n", argv[3 + k]);
        else
            printf("%s %.3g\n", argv[3 + k], e);
    }
    sp_map_free(&a);
    sp_map_free(&b);
    sp_reader_close(ra);
    sp_reader_close(rb);
    fclose(fa);
    fclose(fb);
    return 0;
}

/* opsplit DIR < streams: writes each stream of stdin (golden op cases, one
 * per stream) to DIR/NNNN.sp and prints "NNNN OP" per stream, OP being the
 * header meta's "op".  For tests/cuda/run.sh, which runs each case through
 * sp-op on both devices. */
#include "sp_start.h"
#include "sp_error.h"
#include "sp_stream.h"

#include <stdio.h>

int main(int argc, char **argv)
{
    sp_main_start(argv);
    if (argc != 2)
        sp_fatal("usage: opsplit DIR < streams");
    sp_reader *r = sp_reader_open(stdin, "stdin");
    sp_map batch = {0};
    int64_t idx;
    int k = 0;
    while (sp_reader_next_stream(r)) {
        char path[4096], op[128] = "";
        snprintf(path, sizeof path, "%s/%04d.sp", argv[1], k);
        sp_map_get_str(sp_reader_meta(r), "op", op, sizeof op);
        FILE *f = fopen(path, "wb");
        if (!f)
            sp_fatal("%s: cannot create", path);
        sp_writer *w = sp_writer_open(f, path);
        sp_writer_header(w, sp_reader_meta(r));
        while (sp_reader_next_batch(r, &batch, &idx))
            sp_writer_batch(w, &batch);
        sp_writer_end(w);
        sp_writer_close(w);
        if (fclose(f))
            sp_fatal("%s: write error", path);
        printf("%04d %s\n", k++, op[0] ? op : "-");
    }
    sp_map_free(&batch);
    sp_reader_close(r);
    return 0;
}

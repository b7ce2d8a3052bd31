/* libFuzzer target: the stream reader on arbitrary bytes.  Every input must
 * end in a clean read or a one-line fatal error (caught here by the fatal
 * hook) — never a crash, an over-allocation or a hang. */
#define _GNU_SOURCE
#include "sp_error.h"
#include "sp_stream.h"

#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

static jmp_buf on_fatal;
static void hook(const char *msg)
{
    (void)msg;
    longjmp(on_fatal, 1);
}

/* Static so that the objects alive at a fatal error can be freed. */
static sp_reader *r;
static sp_map batch;
static FILE *in;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size == 0)
        return 0;
    sp_set_fatal_hook(hook);
    in = fmemopen((void *)data, size, "rb");
    if (!in)
        return 0;
    r = sp_reader_open(in, "fuzz");
    if (!setjmp(on_fatal)) {
        int64_t idx;
        while (sp_reader_next_stream(r))
            while (sp_reader_next_batch(r, &batch, &idx))
                ;
    }
    sp_map_free(&batch);
    sp_reader_close(r);
    fclose(in);
    return 0;
}

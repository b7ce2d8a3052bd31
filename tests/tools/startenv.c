/* startenv [--alone | --blas] [MIB]: starts as every program does
 * (sp_main_start, or with --alone sp_main_start_alone as sp-train does,
 * then the stream reader's malloc settings), prints what the start left in
 * its environment and whether OpenBLAS is in the process yet (with --blas
 * it then loads it, as a first sgemm would, and prints the threads it
 * uses), then touches MIB MiB of fresh heap (a stage's first batch; 0 by
 * default) and prints how much of the process is on transparent huge
 * pages.  For tests/cli/start.sh:
 *   GLIBC_TUNABLES=...|(unset)
 *   OMP_WAIT_POLICY=...|(unset)
 *   GOMP_SPINCOUNT=...|(unset)
 *   OPENBLAS_NUM_THREADS=...|(unset)
 *   SP_REEXEC=...|(unset)
 *   blas_loaded=0|1
 *   blas_threads=N  (--blas)
 *   anon_huge_kb=N  (MIB) */
#include "sp_blas.h"
#include "sp_error.h"
#include "sp_start.h"
#include "sp_stream.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void show(const char *name)
{
    const char *v = getenv(name);
    printf("%s=%s\n", name, v ? v : "(unset)");
}

/* AnonHugePages of /proc/self/smaps_rollup, kB (-1: not readable) */
static long anon_huge_kb(void)
{
    FILE *f = fopen("/proc/self/smaps_rollup", "r");
    if (!f)
        return -1;
    char line[256];
    long kb = -1;
    while (fgets(line, sizeof line, f))
        if (sscanf(line, "AnonHugePages: %ld kB", &kb) == 1)
            break;
    fclose(f);
    return kb;
}

int main(int argc, char **argv)
{
    int alone = argc > 1 && !strcmp(argv[1], "--alone"), blas = argc > 1 && !strcmp(argv[1], "--blas");
    if (alone)
        sp_main_start_alone(argv);
    else
        sp_main_start(argv);
    const int opt = alone || blas;
    if (argc - opt > 2)
        sp_fatal("usage: startenv [--alone | --blas] [MIB]");
    long mib = argc - opt == 2 ? atol(argv[1 + opt]) : 0;
    sp_stream_tune_malloc();
    show("GLIBC_TUNABLES");
    show("OMP_WAIT_POLICY");
    show("GOMP_SPINCOUNT");
    show("OPENBLAS_NUM_THREADS");
    show("SP_REEXEC");
    printf("blas_loaded=%d\n", sp_blas_loaded());
    if (blas)
        printf("blas_threads=%d\n", sp_blas_threads());
    if (mib > 0) {
        size_t n = (size_t)mib << 20;
        char *p = sp_malloc(n);
        memset(p, 1, n);
        printf("anon_huge_kb=%ld\n", anon_huge_kb());
        free(p);
    }
    return 0;
}

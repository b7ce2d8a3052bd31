/* startenv [--alone | --blas | --idle | --thread] [MIB]: starts as every program does
 * (sp_main_start, or with --alone sp_main_start_alone as sp-train does,
 * then the stream reader's malloc settings), prints what the start left in
 * its environment and whether OpenBLAS is in the process yet (with --blas
 * it then loads it, as a first sgemm would, and prints the threads it
 * uses), then touches MIB MiB of fresh heap (a stage's first batch; 0 by
 * default) and prints how much of the process is on transparent huge
 * pages (with --thread the MIB MiB are another OpenMP thread's: its own
 * arena's).  For tests/cli/start.sh:
 *   GLIBC_TUNABLES=...|(unset)
 *   OMP_WAIT_POLICY=...|(unset)
 *   GOMP_SPINCOUNT=...|(unset)
 *   OPENBLAS_NUM_THREADS=...|(unset)
 *   SP_REEXEC=...|(unset)
 *   blas_loaded=0|1
 *   blas_threads=N  (--blas)
 *   anon_huge_kb=N  (MIB)
 * and, with --idle, how its OpenMP threads wait: the CPUs it may run on and
 * the threads a parallel region gets (narrow_before_gomp gives both back
 * after libgomp's start), then the CPU seconds of 200 short parallel loops,
 * each followed by a 1 ms pause (a filter waiting for its next batch):
 * about the loops' work when idle threads sleep, that plus the pauses when
 * they spin through them
 *   cpus=N threads=N
 *   idle_cpu_ms=N */
#define _GNU_SOURCE
#include "sp_blas.h"
#include "sp_error.h"
#include "sp_start.h"
#include "sp_stream.h"

#include <omp.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

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

/* CPU milliseconds (user and system) of the process so far */
static long cpu_ms(void)
{
    struct rusage u;
    getrusage(RUSAGE_SELF, &u);
    return (u.ru_utime.tv_sec + u.ru_stime.tv_sec) * 1000L + (u.ru_utime.tv_usec + u.ru_stime.tv_usec) / 1000L;
}

static void idle_test(void)
{
    cpu_set_t set;
    int cpus = sched_getaffinity(0, sizeof set, &set) == 0 ? CPU_COUNT(&set) : -1, threads = 0;
#pragma omp parallel
    {
#pragma omp single
        threads = omp_get_num_threads();
    }
    printf("cpus=%d threads=%d\n", cpus, threads);
    volatile double sink = 0;
    const long t0 = cpu_ms();
    for (int r = 0; r < 200; r++) {
        double s = 0;
#pragma omp parallel for reduction(+ : s)
        for (int i = 0; i < 20000; i++)
            s += i * 1e-9;
        sink += s;
        const struct timespec pause = {0, 1000000};
        nanosleep(&pause, NULL);
    }
    printf("idle_cpu_ms=%ld\n", cpu_ms() - t0);
}

int main(int argc, char **argv)
{
    int alone = argc > 1 && !strcmp(argv[1], "--alone"), blas = argc > 1 && !strcmp(argv[1], "--blas");
    int idle = argc > 1 && !strcmp(argv[1], "--idle"), thread = argc > 1 && !strcmp(argv[1], "--thread");
    if (alone)
        sp_main_start_alone(argv);
    else
        sp_main_start(argv);
    const int opt = alone || blas || idle || thread;
    if (argc - opt > 2)
        sp_fatal("usage: startenv [--alone | --blas | --idle | --thread] [MIB]");
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
    if (idle)
        idle_test();
    if (mib > 0) {
        size_t n = (size_t)mib << 20;
        long kb = -1;
        /* thread 1 of a team of two (the last thread of one, where only one is allowed) */
#pragma omp parallel num_threads(2)
        if (omp_get_thread_num() == (thread ? omp_get_num_threads() - 1 : 0)) {
            char *p = sp_malloc(n);
            memset(p, 1, n);
            kb = anon_huge_kb();
            free(p);
        }
        printf("anon_huge_kb=%ld\n", kb);
    }
    return 0;
}

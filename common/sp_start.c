/* sp_main_start: what every program does first (sp_start.h). */
#define _GNU_SOURCE
#include "sp_start.h"

#include "sp_error.h"

#include <malloc.h>
#include <omp.h>
#include <sched.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* 1 when transparent huge pages are given only to memory that asks for
 * them (the kernel's "madvise" mode): then glibc's heap gets 4 KiB pages
 * unless its hugetlb tunable is on.  ("always" gives them anyway, "never"
 * not at all: no tunable to add either way.) */
static int thp_on_request_only(void)
{
    FILE *f = fopen("/sys/kernel/mm/transparent_hugepage/enabled", "r");
    if (!f)
        return 0;
    char line[128];
    int yes = fgets(line, sizeof line, f) && strstr(line, "[madvise]");
    fclose(f);
    return yes;
}

/* The value of GOMP_SPINCOUNT for a program that runs alone: an idle
 * thread spins this many rounds (tens to hundreds of microseconds) before it
 * sleeps, so that back-to-back parallel loops do not pay a futex wake-up
 * each; libgomp's own default is 300,000. */
#define SP_ALONE_SPINCOUNT "20000"

/* With OMP_PROC_BIND (or OMP_PLACES) set, libgomp's start bound this
 * thread to its first place (one CPU) before main, and the new image would
 * inherit that one CPU as its whole mask: all its threads on one core (a
 * chain 2x slower with OMP_PROC_BIND=true).  The places libgomp made from
 * the mask it found (or from the user's OMP_PLACES) are given back as the
 * mask, so the new image finds what this one found (taskset's included). */
static void whole_affinity(void)
{
    const int np = omp_get_num_places();
    if (np <= 1)
        return;
    cpu_set_t set;
    CPU_ZERO(&set);
    for (int p = 0; p < np; p++) {
        const int n = omp_get_place_num_procs(p);
        int ids[CPU_SETSIZE];
        if (n <= 0 || n > CPU_SETSIZE)
            return;
        omp_get_place_proc_ids(p, ids);
        for (int i = 0; i < n; i++)
            if (ids[i] >= 0 && ids[i] < CPU_SETSIZE)
                CPU_SET(ids[i], &set);
    }
    (void)sched_setaffinity(0, sizeof set, &set); /* best effort: the restart goes on either way */
}

static void start(char **argv, int alone)
{
    sp_set_prog(argv[0]);
#if defined(__linux__) && defined(__GLIBC__)
    /* set: after our own restart, or the user's SP_REEXEC=0 */
    if (getenv("SP_REEXEC"))
        return;
    /* every sgemm of ours runs on one thread (sp_blas.h): with the
     * variable OpenBLAS starts no thread pool when it is loaded (an idle
     * pool thread spins in sched_yield: ~18% of sp-select --model's samples
     * on horse).  It is loaded at its first use, after this: no restart
     * for it. */
    if (!getenv("OPENBLAS_NUM_THREADS"))
        setenv("OPENBLAS_NUM_THREADS", "1", 1);
    /* under valgrind the new image would run without it */
    const char *pre = getenv("LD_PRELOAD");
    if (pre && strstr(pre, "vgpreload"))
        return;
    const char *tun = getenv("GLIBC_TUNABLES");
    int want_huge = !(tun && strstr(tun, "glibc.malloc.hugetlb")) && thp_on_request_only();
    /* how idle OpenMP threads wait: a filter sleeps at once (passive), a
     * program that runs alone spins a little first; any setting of the
     * user's is kept */
    const char *wait_var = alone ? "GOMP_SPINCOUNT" : "OMP_WAIT_POLICY";
    const char *wait_val = alone ? SP_ALONE_SPINCOUNT : "passive";
    int want_wait = !getenv("OMP_WAIT_POLICY") && !getenv(wait_var);
    if (!want_huge && !want_wait)
        return;
    char *old = tun ? strdup(tun) : NULL;
    if (tun && !old)
        return;
    if (want_huge) {
        size_t n = (tun ? strlen(tun) : 0) + 32;
        char *t = malloc(n);
        if (!t) {
            free(old);
            return;
        }
        snprintf(t, n, "%s%sglibc.malloc.hugetlb=1", tun ? tun : "", tun && *tun ? ":" : "");
        setenv("GLIBC_TUNABLES", t, 1);
        free(t);
    }
    if (want_wait)
        setenv(wait_var, wait_val, 1);
    setenv("SP_REEXEC", "done", 1);
    fflush(NULL);
    whole_affinity();
    execv("/proc/self/exe", argv);
    /* no /proc: run as we are, with the environment as it was */
    if (old)
        setenv("GLIBC_TUNABLES", old, 1);
    else
        unsetenv("GLIBC_TUNABLES");
    free(old);
    if (want_wait)
        unsetenv(wait_var);
    unsetenv("SP_REEXEC");
#endif
}

#if defined(__linux__) && defined(__GLIBC__) && defined(M_TOP_PAD) && defined(M_MMAP_MAX)
/* the heap grows at least this much at a time: a longer step leaves the
 * heap spanning more whole 2 MiB ranges, but holds more of them partly used
 * (horse's sp-predict, one batch: 4 KiB-page faults 4,400 -> 1,570 / 1,450 /
 * 1,360 with 8 / 16 / 64 MiB, its peak memory 246 -> 259 / 273 / 287 MB;
 * a fault costs ~10 us here, a fresh MB 0.1-1.7 ms on huge pages) */
#define HEAP_STEP ((size_t)8 << 20)
#define HUGE_PAGE ((size_t)2 << 20)
#define MMAP_MAX_DEFAULT 65536       /* glibc's M_MMAP_MAX */

/* heap_start's block, held until exit (volatile: a store nobody reads
 * would let the compiler drop the malloc) */
static void *volatile heap_gap_filler;

/* With glibc's huge pages on (above) a 2 MiB page is given only where the
 * heap already spans the whole aligned 2 MiB when it is first written.  The
 * heap starts wherever the kernel put it, 2 MiB long (the C library's first
 * blocks), and grew a little at a time, each piece written at once (a
 * model's small tensors, sp-eval's id tables): 4 KiB pages almost
 * everywhere, ~10 us a fault in the VM measured.  So the heap grows
 * HEAP_STEP at a time (M_TOP_PAD: address space, not memory, until written),
 * and one block, never freed, fills it up to a 2 MiB boundary past its
 * present end: that block grows the heap (its pages are not written), and
 * what comes next starts on the boundary.  gtsrb8, one batch: a pipe's five
 * stages 6,500 page faults -> 2,500. */
static void heap_start(void)
{
    const char *off = getenv("SP_REEXEC"); /* the user's: all of sp_main_start off */
    if (off && strcmp(off, "done") != 0)
        return;
    mallopt(M_TOP_PAD, (int)HEAP_STEP);
    mallopt(M_MMAP_MAX, 0); /* the block below from the heap */
    char *p = malloc(1), *end = sbrk(0);
    size_t gap = 0;
    if (p && end != (char *)-1)
        for (gap = (size_t)(-(uintptr_t)p & (HUGE_PAGE - 1)); p + gap <= end;)
            gap += HUGE_PAGE;
    free(p);
    /* glibc's chunks: a 16-byte header before each block, malloc(1)'s
     * chunk 32 bytes, the next taken from the top right after it; so this
     * block's chunk ends on the boundary and the next chunk's header is
     * written there, not in the 2 MiB below (when guessed wrong: one page
     * of 2 MiB written early) */
    if (gap > 32)
        heap_gap_filler = malloc(gap - 32);
    mallopt(M_MMAP_MAX, MMAP_MAX_DEFAULT); /* a stream's reader or writer sets 0 (sp_stream.h) */
}
#else
static void heap_start(void) {}
#endif

void sp_main_start(char **argv)
{
    start(argv, 0);
    heap_start();
}

void sp_main_start_alone(char **argv)
{
    start(argv, 1);
    heap_start();
}

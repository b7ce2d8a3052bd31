/* sp_main_start: what every program does first (sp_start.h). */
#define _GNU_SOURCE
#include "sp_start.h"

#include "sp_error.h"

#include <limits.h>
#include <malloc.h>
#include <omp.h>
#include <sched.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

/* ---- How a filter's idle OpenMP threads wait ----------------------------
 * libgomp reads its settings once, in its initializer, before main: the
 * environment (OMP_WAIT_POLICY, GOMP_SPINCOUNT) and the CPUs the process
 * may run on.  Its documented rule (the libgomp manual, GOMP_SPINCOUNT):
 * with more OpenMP threads than available CPUs and no wait policy given,
 * an idle thread spins 100 rounds, then sleeps.  That is what a filter
 * wants (the stages of a pipe leave each other the cores: the tetro
 * --features pipe on 2 cores 1.04-1.24 s -> 0.64-0.67 s); the environment
 * variable OMP_WAIT_POLICY=passive gave it before, at the price of a
 * restart (exec) of every filter: ~3.5 ms of CPU a process, ~20 ms on a
 * five-stage pipe.  So this preinit function, which runs before any shared
 * library's initializer, lets the process run on one CPU while libgomp
 * starts, and the constructor below (run after them) gives the CPUs back,
 * and the thread count libgomp took from them.  Left alone: a user's
 * OpenMP settings (wait, spin, binding, dynamic teams), SP_REEXEC (all off,
 * or sp_main_start_alone's restarted image, which has its GOMP_SPINCOUNT). */
#if defined(__linux__) && defined(__GLIBC__)
static cpu_set_t gomp_cpus; /* the process's CPUs, given back after libgomp's start */
static int gomp_narrowed;
static int gomp_threads_given; /* OMP_NUM_THREADS set: libgomp took that, not the CPU count */

static int env_has(char **envp, const char *name)
{
    const size_t n = strlen(name);
    for (char **e = envp; e && *e; e++)
        if (!strncmp(*e, name, n) && (*e)[n] == '=')
            return 1;
    return 0;
}

/* (the C library's getenv is not ready yet: the environment comes as envp) */
static void narrow_before_gomp(int argc, char **argv, char **envp)
{
    (void)argc;
    (void)argv;
    static const char *const users[] = {"SP_REEXEC",  "OMP_WAIT_POLICY",   "GOMP_SPINCOUNT", "OMP_PROC_BIND",
                                        "OMP_PLACES", "GOMP_CPU_AFFINITY", "OMP_DYNAMIC"};
    for (size_t i = 0; i < sizeof users / sizeof users[0]; i++)
        if (env_has(envp, users[i]))
            return;
    if (sched_getaffinity(0, sizeof gomp_cpus, &gomp_cpus) != 0 || CPU_COUNT(&gomp_cpus) < 2)
        return;
    cpu_set_t one;
    CPU_ZERO(&one);
    for (int c = 0; c < CPU_SETSIZE; c++)
        if (CPU_ISSET(c, &gomp_cpus)) {
            CPU_SET(c, &one);
            break;
        }
    gomp_threads_given = env_has(envp, "OMP_NUM_THREADS");
    gomp_narrowed = sched_setaffinity(0, sizeof one, &one) == 0;
}
__attribute__((section(".preinit_array"), used)) static void (*const sp_preinit)(int, char **,
                                                                                   char **) = narrow_before_gomp;

__attribute__((constructor)) static void widen_after_gomp(void)
{
    if (!gomp_narrowed)
        return;
    gomp_narrowed = 0;
    (void)sched_setaffinity(0, sizeof gomp_cpus, &gomp_cpus); /* best effort, as the narrowing */
    if (!gomp_threads_given)
        omp_set_num_threads(CPU_COUNT(&gomp_cpus));
}
#endif

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

/* 1 under valgrind (its preload library in the environment) */
static int under_valgrind(void)
{
    const char *pre = getenv("LD_PRELOAD");
    return pre && strstr(pre, "vgpreload") != NULL;
}

/* 1 when the heap should ask for huge pages and nothing asks yet: the
 * kernel gives them only on request and the user set no
 * glibc.malloc.hugetlb of their own (nor did our restart) */
static int heap_wants_huge(void)
{
    const char *tun = getenv("GLIBC_TUNABLES");
    return !(tun && strstr(tun, "glibc.malloc.hugetlb")) && thp_on_request_only();
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
    if (under_valgrind())
        return;
    /* a filter restarts no more: its idle threads sleep at once by
     * narrow_before_gomp, its heap asks for huge pages itself (heap_start) */
    if (!alone)
        return;
    const char *tun = getenv("GLIBC_TUNABLES");
    int want_huge = heap_wants_huge();
    /* how idle OpenMP threads wait in a program that runs alone: they spin
     * a little first; any setting of the user's is kept */
    const char *wait_var = "GOMP_SPINCOUNT";
    const char *wait_val = SP_ALONE_SPINCOUNT;
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

/* A filter's heap, advised for huge pages by heap_start (heap_base NULL:
 * not by us) up to heap_advised.  The reserve is address space: a
 * process's memory is what it writes, 2 MiB at a time. */
#define HEAP_RESERVE ((size_t)1 << 30)
#define HEAP_RESERVE_MIN ((size_t)16 << 20)
static char *heap_base, *heap_advised;

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
    /* not under valgrind or the sanitizers: their allocators, not glibc's */
    int own_advice = heap_wants_huge() && !under_valgrind();
#if defined(__SANITIZE_ADDRESS__)
    own_advice = 0;
#endif
    /* (The threads keep arenas of their own, advised below: with one arena
     * for all, sp-load's decoding threads wait on its lock, 60 of its 180
     * ms of CPU on tetro's 1,536 images, and sp-select's ~40 of 690.) */
    if (own_advice)
        mallopt(M_TRIM_THRESHOLD, INT_MAX); /* the reserve below stays */
    mallopt(M_TOP_PAD, (int)HEAP_STEP);
    mallopt(M_MMAP_MAX, 0); /* the block below from the heap */
    char *p = malloc(1), *end = sbrk(0);
    char *const first = p ? (char *)((uintptr_t)p & ~(uintptr_t)4095) : NULL; /* the heap's first page */
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
    const size_t fill = gap > 32 ? gap - 32 : 0;
    if (!own_advice) {
        if (fill)
            heap_gap_filler = malloc(fill);
        mallopt(M_MMAP_MAX, MMAP_MAX_DEFAULT); /* a stream's reader or writer sets 0 (sp_stream.h) */
        return;
    }
    /* Our own advice (glibc's, its hugetlb tunable, is read when a process
     * starts: it would take a restart).  The heap grows once by
     * HEAP_RESERVE of address space (memory only where written; less where
     * the system refuses that much) in one block that starts with the gap:
     * only its first header and the top's, past its end, are written before
     * the heap is advised whole (a 2 MiB range written before the advice
     * keeps 4 KiB pages); then the block shrinks to the gap and the reserve
     * is the top of the heap, kept (M_TRIM_THRESHOLD). */
    heap_base = first;
    char *q = NULL;
    for (size_t r = HEAP_RESERVE; first && !q && r >= HEAP_RESERVE_MIN; r /= 4)
        q = malloc(fill + r);
    sp_heap_advise();
    if (q)
        heap_gap_filler = realloc(q, fill ? fill : 1); /* shrinks in place */
    else if (fill)
        heap_gap_filler = malloc(fill);
    if (!heap_base)
        return;
    /* the OpenMP team's arenas now, advised before the threads write them */
#pragma omp parallel
    if (omp_get_thread_num() != 0)
        sp_heap_advise_thread();
}

/* glibc's heaps of the threads' own arenas: address space of this size,
 * aligned to it (its HEAP_MAX_SIZE on 64 bits without its hugetlb tunable) */
#define ARENA_HEAP ((size_t)64 << 20)

void sp_heap_advise_thread(void)
{
    if (!heap_base)
        return;
    char *p = malloc(64), *end = sbrk(0);
    if (p && !(p >= heap_base && p < end)) /* not the main heap: the thread's own */
        (void)madvise((void *)((uintptr_t)p & ~(uintptr_t)(ARENA_HEAP - 1)), ARENA_HEAP, MADV_HUGEPAGE);
    free(p);
}

void sp_heap_advise(void)
{
    if (!heap_base)
        return;
    char *end = sbrk(0);
    if (end == (char *)-1 || end <= heap_advised)
        return;
    if (madvise(heap_base, (size_t)(end - heap_base), MADV_HUGEPAGE) == 0)
        heap_advised = end;
}
#else
static void heap_start(void) {}
void sp_heap_advise(void) {}
void sp_heap_advise_thread(void) {}
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

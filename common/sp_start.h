/* What every program does first: sp_main_start(argv) at the top of main.
 *
 * It names the program for messages (sp_set_prog) and puts
 *   OPENBLAS_NUM_THREADS=1  in its environment: our sgemm calls run on one
 *       thread anyway (OpenMP parallelises around them); without the
 *       variable OpenBLAS starts its thread pool when loaded (at the first
 *       sgemm, sp_blas.h) and the idle thread spins in sched_yield: pipes
 *       3-8% faster without it.
 * Two settings that libgomp and glibc read only when a process starts are
 * had without a restart:
 *   idle OpenMP threads sleep at once (what OMP_WAIT_POLICY=passive gives),
 *       so the stages of a pipe do not take the cores from each other (the
 *       tetro --features pipe 1.04-1.24 s -> 0.64-0.67 s on 2 cores): the
 *       process lets libgomp start seeing one CPU, and libgomp's rule for
 *       more threads than CPUs is to spin 100 rounds, then sleep; then it
 *       gets its CPUs and its thread count back (sp_start.c's
 *       narrow_before_gomp, a preinit function: it runs before any shared
 *       library's initializer);
 *   the heap on transparent huge pages where the kernel gives them only on
 *       request (its "madvise" mode): the heap is grown by 1 GiB of address
 *       space (memory only where written) and advised whole (heap_start;
 *       sp_heap_advise after each batch advises any growth past it).  In
 *       the VM measured a page fault costs ~10 us and a stage's first
 *       batches touch tens of MB of fresh heap; with 2 MiB pages, ~10x
 *       fewer faults: inference 11-33% faster.  The first blocks the
 *       program takes start on a 2 MiB boundary, so that they too land on
 *       huge pages (gtsrb8's pipe, one batch: 6,500 page faults in its five
 *       stages -> 2,500).  The OpenMP threads' own arenas are advised too
 *       (sp_heap_advise_thread).
 * Both were had before by restarting the program (execv of /proc/self/exe)
 * with OMP_WAIT_POLICY=passive and GLIBC_TUNABLES=glibc.malloc.hugetlb=1:
 * ~3.5 ms of CPU a process, ~20 ms on a five-stage pipe's start.
 * sp_main_start_alone, for a program that has the cores to itself
 * (sp-train, whose reader sp-load is light; make bench's inferchain), still
 * restarts once (same pid, same argv, nothing read or written yet) with
 * GOMP_SPINCOUNT=20000 (an idle thread spins briefly before it sleeps, so
 * back-to-back parallel loops skip a wake-up each: the chain with the fused
 * selection 3-4% faster, tetro training a few % faster; a pipe of heavy
 * stages is slower so) and glibc's hugetlb tunable.
 * A setting the user made is kept (any OpenMP wait, spin, binding or
 * dynamic-team setting, OMP_NUM_THREADS, OPENBLAS_NUM_THREADS, a
 * glibc.malloc.hugetlb of their own); SP_REEXEC (any value, e.g. 0) skips
 * all of it, and the restarted process has SP_REEXEC=done; under valgrind
 * there is no restart (the new image would run without it) and under
 * valgrind or the sanitizers the heap is theirs. */
#ifndef SP_START_H
#define SP_START_H

void sp_main_start(char **argv);
/* The heap's growth since heap_start advised for huge pages too, where
 * sp_main_start advises it itself (a filter where the kernel gives them only
 * on request); sp_filter calls it after each batch, for a heap that outgrew
 * its reserve.  A no-op elsewhere. */
void sp_heap_advise(void);
/* The calling thread's own glibc arena (where it is not the main heap)
 * advised for huge pages, where sp_main_start advises the heap itself: a
 * thread's allocations then fault 2 MiB at a time, as the main heap's.
 * sp_main_start does it for the OpenMP team; a thread the program starts
 * calls it first (sp_writer_async).  A no-op elsewhere. */
void sp_heap_advise_thread(void);
void sp_main_start_alone(char **argv);

#endif

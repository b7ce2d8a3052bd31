/* What every program does first: sp_main_start(argv) at the top of main.
 *
 * It names the program for messages (sp_set_prog) and restarts the program
 * once (execv of /proc/self/exe: same argv, same pid, nothing read or
 * written yet) with two settings added to its environment that the C
 * library and OpenMP read only when a process starts,
 *   GLIBC_TUNABLES += glibc.malloc.hugetlb=1  when the kernel gives
 *       transparent huge pages only to memory that asks for them (its
 *       "madvise" mode): glibc then asks for them for its heap.  In the VM
 *       measured a page fault costs ~10 us and a stage's first batches
 *       touch tens of MB of fresh heap; with 2 MiB pages, ~10x fewer
 *       faults: inference 11-33% faster.
 *   OMP_WAIT_POLICY=passive  idle OpenMP threads sleep instead of spinning,
 *       so the stages of a pipe do not take the cores from each other: the
 *       tetro --features pipe 1.04-1.24 s -> 0.64-0.67 s on 2 cores.
 *       sp_main_start_alone, for a program that has the cores to itself
 *       (sp-train, whose reader sp-load is light; make bench's inferchain),
 *       sets GOMP_SPINCOUNT=20000 instead: an idle thread spins briefly
 *       before it sleeps, so back-to-back parallel loops skip a wake-up
 *       each (the chain with the fused selection 3-4% faster, tetro
 *       training a few % faster; a pipe of heavy stages is slower so).
 * and, without a restart (OpenBLAS is loaded after this, at the first
 * sgemm, sp_blas.h):
 *   OPENBLAS_NUM_THREADS=1  our sgemm calls run on one thread anyway
 *       (OpenMP parallelises around them); without the variable OpenBLAS
 *       starts its thread pool when loaded and the idle thread spins in
 *       sched_yield: pipes 3-8% faster without it.
 * A setting the user made is kept (any OMP_WAIT_POLICY, for the alone
 * form any GOMP_SPINCOUNT, OPENBLAS_NUM_THREADS, a glibc.malloc.hugetlb of
 * their own); with the first two kept there is no restart.
 * Then (after the restart, or where there is none) it readies glibc's heap
 * for huge pages (sp_start.c's heap_start): the heap grows 8 MiB at a time
 * and the first blocks the program takes start on a 2 MiB boundary, so
 * that they too land on huge pages (before: the heap's first, unaligned
 * 2 MiB and 4 KiB pages; gtsrb8's pipe, one batch: 6,500 page faults in
 * its five stages -> 2,500, 0.20 -> 0.16 s).
 * SP_REEXEC (any value, e.g. 0) skips all of it, and the restarted process
 * has SP_REEXEC=done; under valgrind there is no restart (the new image
 * would run without it).  The restart costs one exec, ~4-8 ms (before
 * OpenBLAS was loaded at first use, ~9 ms more: it was linked, and loaded
 * at both starts). */
#ifndef SP_START_H
#define SP_START_H

void sp_main_start(char **argv);
void sp_main_start_alone(char **argv);

#endif

/* What every program does first: sp_main_start(argv) at the top of main.
 *
 * It names the program for messages (sp_set_prog) and, when the kernel
 * gives transparent huge pages only to memory that asks for them (its
 * "madvise" mode, as on the machines this was measured on), restarts the
 * program once (execv of /proc/self/exe: same argv, same pid, nothing read
 * or written yet) with GLIBC_TUNABLES=glibc.malloc.hugetlb=1 added, so that
 * glibc asks for them for its heap.  That setting is read only when a
 * process starts.  Why: in the VM measured a page fault costs ~10 us, and
 * a stage's first batches touch tens of MB of fresh heap (thousands of
 * faults; with 2 MiB pages ~500x fewer): inference 10-30% faster, the
 * pipes more (README, Performance).  The restart costs one exec, ~8 ms.
 * A user's own glibc.malloc.hugetlb is kept; SP_REEXEC (any value, e.g. 0)
 * skips all of it, and the restarted process has SP_REEXEC=done. */
#ifndef SP_START_H
#define SP_START_H

void sp_main_start(char **argv);

#endif

/* Loops that open their own OpenMP region only where one pays.  Inside
 * another region (sp-select makes its candidates a few images per
 * thread and calls the ops from there) a nested region is one thread
 * strong and still costs libgomp a team: 2.4 us a call measured here,
 * whether nested or under a false if clause, against 0.01 us for a plain
 * call; sp_parallel_for calls the body directly then. */
#ifndef SP_PARALLEL_H
#define SP_PARALLEL_H

#include <stddef.h>

/* the body: items [i0, i1) */
typedef void (*sp_range_fn)(void *ctx, size_t i0, size_t i1);

/* fn over items [0, n): in a parallel region of its own, each thread a
 * block of consecutive items (schedule(static)'s), where n >= min_n, more
 * than one thread is allowed and no region is active; else in one call on
 * the calling thread.  The caller's results must not depend on the split. */
void sp_parallel_for(size_t n, size_t min_n, sp_range_fn fn, void *ctx);

#endif

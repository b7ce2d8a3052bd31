/* One CPU for each OpenMP thread of sp-predict in a pipe.
 *
 * Why: sp-predict (the encoder, most of a pipe's work) and sp-select each
 * run a team of one thread per CPU, at the same time, on the same CPUs.
 * The kernel places a woken thread where its waker runs when the other CPU
 * is busy at that instant, and when that CPU then goes idle it often does
 * not take the stacked thread back (its balancing skips a CPU whose idle
 * spells are short): both of sp-predict's threads take turns on one CPU, in
 * 4 ms slices, while the other idles.  In a scheduler trace of the tetro
 * pipe (1,536 images, 2 cores), 131 of its 218 ms of idle CPU were such
 * spells, of 2 to 13 ms.  A thread bound to its own CPU cannot be stacked.
 * Only sp-predict binds: with sp-select bound too (its team starting on
 * the other CPU) tetro and dsprites gained as much but horse lost 3 points,
 * and bound light stages queue their main threads behind the heavy ones.
 * Measured on 2 cores, 8 rounds each, pipe time over the chain's: tetro
 * 10.4 -> 8.3%, dsprites 8.4 -> 8.2%, gtsrb8 8.9 -> 8.1%, horse 13.3 ->
 * 11.8% (README, "Pipe costs").
 *
 * SP_PIN=0 never binds, SP_PIN=1 binds even outside a pipe; unset, the
 * stage binds only with a pipe on its stdin or stdout and none of the
 * user's OpenMP placement settings (OMP_PROC_BIND, OMP_PLACES,
 * GOMP_CPU_AFFINITY); and only where its team has one thread per CPU of its
 * mask (the default; a narrower OMP_NUM_THREADS leaves it free): thread t
 * on the mask's t-th CPU. */
#ifndef SP_PIN_H
#define SP_PIN_H

/* The OpenMP team bound as above when in_pipe says the stage reads or
 * writes a pipe; returns the number of threads bound (0: none). */
int sp_pin_threads(int in_pipe);
/* sp_pin_threads with in_pipe from stdin and stdout */
int sp_pin_stage_threads(void);

#endif

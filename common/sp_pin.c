/* sp_pin_stage_threads: sp-predict's OpenMP threads, one per CPU (sp_pin.h). */
#define _GNU_SOURCE
#include "sp_pin.h"
#include "sp_env.h"
#include "sp_stream.h"

#include <omp.h>
#include <stdlib.h>

#if defined(__linux__) && defined(__GLIBC__)
#include <sched.h>

static int user_places(void)
{
    static const char *const vars[] = {"OMP_PROC_BIND", "OMP_PLACES", "GOMP_CPU_AFFINITY"};
    for (size_t i = 0; i < sizeof vars / sizeof vars[0]; i++)
        if (getenv(vars[i]))
            return 1;
    return 0;
}

int sp_pin_threads(int in_pipe)
{
    static const char *const off_on[] = {"0", "1", NULL};
    const int want = sp_env_choice("SP_PIN", off_on);
    if (want == 0 || (want < 0 && (!in_pipe || user_places())))
        return 0;
    cpu_set_t mask;
    if (omp_in_parallel() || sched_getaffinity(0, sizeof mask, &mask) != 0)
        return 0;
    int cpus[CPU_SETSIZE], n = 0;
    for (int c = 0; c < CPU_SETSIZE; c++)
        if (CPU_ISSET(c, &mask))
            cpus[n++] = c;
    const int T = omp_get_max_threads();
    if (n < 2 || T != n) /* a team narrower than the mask: the user's choice, left free */
        return 0;
    int bound = 0;
    /* the team libgomp keeps for the stage's later regions of T threads:
     * thread t of each is the same thread as here */
#pragma omp parallel num_threads(T) reduction(+ : bound)
    {
        cpu_set_t one;
        CPU_ZERO(&one);
        CPU_SET(cpus[omp_get_thread_num()], &one);
        bound = sched_setaffinity(0, sizeof one, &one) == 0; /* 0: the calling thread */
    }
    return bound;
}
#else
int sp_pin_threads(int in_pipe)
{
    (void)in_pipe;
    return 0;
}
#endif

int sp_pin_stage_threads(void)
{
    return sp_pin_threads(sp_fd_is_pipe(0) || sp_fd_is_pipe(1));
}

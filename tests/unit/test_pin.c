/* sp_pin_threads (sp_pin.h): when it binds and what.  The cases that must
 * leave the threads free come first (a binding is not undone); then, with
 * two CPUs or more, each thread of the team must find itself bound to one
 * CPU of the mask, its own, in a later region (the threads libgomp keeps
 * are the ones it bound).  The affinity is read back from the kernel. */
#define _GNU_SOURCE
#include "sp_test.h"
#include "sp_pin.h"

#include <omp.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>

/* 1 when every thread of a team of T runs on the whole mask m */
static int team_free(int T, const cpu_set_t *m)
{
    int all = 1;
#pragma omp parallel num_threads(T) reduction(&& : all)
    {
        cpu_set_t s;
        all = sched_getaffinity(0, sizeof s, &s) == 0 && CPU_EQUAL(&s, m);
    }
    return all;
}

int main(void)
{
    cpu_set_t mask;
    if (sched_getaffinity(0, sizeof mask, &mask) != 0) {
        printf("FAIL pin: sched_getaffinity\n");
        return 1;
    }
    int cpus[CPU_SETSIZE], n = 0;
    for (int c = 0; c < CPU_SETSIZE; c++)
        if (CPU_ISSET(c, &mask))
            cpus[n++] = c;
    omp_set_num_threads(n);
    unsetenv("SP_PIN");
    unsetenv("OMP_PROC_BIND");
    unsetenv("OMP_PLACES");
    unsetenv("GOMP_CPU_AFFINITY");
    CHECK("pin: not in a pipe, nothing bound", sp_pin_threads(0) == 0 && team_free(n, &mask), "bound");
    setenv("SP_PIN", "0", 1);
    CHECK("pin: SP_PIN=0 in a pipe, nothing bound", sp_pin_threads(1) == 0 && team_free(n, &mask), "bound");
    unsetenv("SP_PIN");
    setenv("OMP_PROC_BIND", "false", 1);
    CHECK("pin: the user's OMP_PROC_BIND kept", sp_pin_threads(1) == 0 && team_free(n, &mask), "bound");
    unsetenv("OMP_PROC_BIND");
    if (n >= 2) {
        omp_set_num_threads(n - 1);
        CHECK("pin: a team narrower than the mask left free", sp_pin_threads(1) == 0 && team_free(n - 1, &mask),
              "bound");
        omp_set_num_threads(n);
    }
    const int got = sp_pin_threads(1);
    if (n < 2) {
        CHECK("pin: one CPU, nothing bound", got == 0 && team_free(1, &mask), "bound %d", got);
        TEST_MAIN_END;
    }
    CHECK("pin: in a pipe, every thread bound", got == n, "%d of %d", got, n);
    int own = 1, first = -1;
#pragma omp parallel num_threads(n) reduction(&& : own)
    {
        cpu_set_t s;
        const int t = omp_get_thread_num();
        own = sched_getaffinity(0, sizeof s, &s) == 0 && CPU_COUNT(&s) == 1 && CPU_ISSET(cpus[t], &s);
        if (t == 0)
            first = own ? cpus[0] : -1;
    }
    CHECK("pin: thread t on the mask's t-th CPU alone, in a later region", own && first == cpus[0],
          "a thread's affinity is not its own CPU");
    TEST_MAIN_END;
}

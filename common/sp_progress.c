#define _POSIX_C_SOURCE 200809L
#include "sp_progress.h"
#include "sp_env.h"
#include "sp_error.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

double sp_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

void sp_progress_start(sp_progress *p, const char *unit, int64_t total)
{
    static const char *const off_on[] = {"0", "1", NULL};
    const int env = sp_env_choice("SP_PROGRESS", off_on);
    memset(p, 0, sizeof *p);
    p->start = p->last = sp_now();
    p->total = total;
    p->unit = unit;
    if (env == 0)
        p->mode = 0;
    else if (isatty(2))
        p->mode = 1;
    else if (env == 1)
        p->mode = 2;
    p->interval = p->mode == 2 ? 10.0 : 1.0;
}

static void print_line(sp_progress *p, int64_t done, double now)
{
    double el = now - p->start, rate = el > 0 ? (double)done / el : 0;
    char eta[64] = "";
    if (p->total > 0 && rate > 0)
        snprintf(eta, sizeof eta, ", ETA %.0f s", (double)(p->total - done) / rate);
    if (p->total > 0)
        fprintf(stderr, "%s%s: %lld/%lld %s, %.0f/s%s%s", p->mode == 1 ? "\r" : "", sp_prog(),
                (long long)done, (long long)p->total, p->unit, rate, eta,
                p->mode == 1 ? "\033[K" : "\n");
    else
        fprintf(stderr, "%s%s: %lld %s, %.0f/s%s", p->mode == 1 ? "\r" : "", sp_prog(),
                (long long)done, p->unit, rate, p->mode == 1 ? "\033[K" : "\n");
    p->printed = 1;
}

void sp_progress_update(sp_progress *p, int64_t done)
{
    if (!p->mode)
        return;
    double now = sp_now();
    if (now - p->last < p->interval)
        return;
    p->last = now;
    print_line(p, done, now);
}

void sp_progress_end(sp_progress *p, int64_t done)
{
    if (p->mode == 2 || (p->mode && p->printed)) {
        print_line(p, done, sp_now());
        if (p->mode == 1)
            fputc('\n', stderr);
    }
}

/* Progress lines for long work: count, rate, ETA on stderr, at most once a
 * second.  A terminal gets one line rewritten in place; a pipe or file gets
 * nothing unless SP_PROGRESS=1 (then a plain line every 10 s), so logs of
 * batch jobs stay short.  Lines read "prog: 1200/60000 images, 5100/s, ETA 11 s". */
#ifndef SP_PROGRESS_H
#define SP_PROGRESS_H

#include <stdint.h>

typedef struct {
    double start, last;
    int64_t total; /* 0 when unknown */
    const char *unit;
    int mode; /* 0 off, 1 terminal, 2 plain lines (set it to force a mode) */
    double interval; /* seconds between lines */
    int printed;
} sp_progress;

double sp_now(void); /* monotonic seconds */
void sp_progress_start(sp_progress *p, const char *unit, int64_t total);
void sp_progress_update(sp_progress *p, int64_t done);
void sp_progress_end(sp_progress *p, int64_t done);

#endif

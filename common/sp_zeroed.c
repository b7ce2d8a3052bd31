#define _DEFAULT_SOURCE /* MAP_ANONYMOUS */
#include "sp_zeroed.h"

#include "sp_error.h"

#include <sys/mman.h>

void *sp_zeroed_alloc(size_t bytes)
{
    void *p = mmap(NULL, bytes ? bytes : 1, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED)
        sp_fatal("out of memory (asked for %zu zeroed bytes)", bytes);
    return p;
}

void sp_zeroed_free(void *p, size_t bytes)
{
    if (p)
        munmap(p, bytes ? bytes : 1);
}

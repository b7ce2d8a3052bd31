#define _DEFAULT_SOURCE /* MAP_ANONYMOUS */
#include "sp_zeroed.h"

#include "sp_error.h"

#include <stdlib.h>
#include <sys/mman.h>

/* Under AddressSanitizer the heap: its own mapping would hide overflows
 * of these arenas from it (the sanitizer build's tests keep that check). */
#if defined(__SANITIZE_ADDRESS__)
#define ZEROED_ON_HEAP 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define ZEROED_ON_HEAP 1
#endif
#endif

void *sp_zeroed_alloc(size_t bytes)
{
#ifdef ZEROED_ON_HEAP
    return sp_calloc(bytes ? bytes : 1, 1);
#else
    void *p = mmap(NULL, bytes ? bytes : 1, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED)
        sp_fatal("out of memory (asked for %zu zeroed bytes)", bytes);
    return p;
#endif
}

void sp_zeroed_free(void *p, size_t bytes)
{
#ifdef ZEROED_ON_HEAP
    (void)bytes;
    free(p);
#else
    if (p)
        munmap(p, bytes ? bytes : 1);
#endif
}

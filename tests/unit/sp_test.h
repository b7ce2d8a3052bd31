/* A minimal test harness: each check prints "ok NAME" or "FAIL NAME: why";
 * tests/run.sh counts the lines.  main() returns non-zero if any failed. */
#ifndef SP_TEST_H
#define SP_TEST_H

#include <math.h>
#include <stdio.h>
#include <stdlib.h>

static int sp_test_failures;

#define CHECK(name, cond, ...)                                                      \
    do {                                                                            \
        if (cond) {                                                                 \
            printf("ok %s\n", name);                                                \
        } else {                                                                    \
            printf("FAIL %s: ", name);                                              \
            printf(__VA_ARGS__);                                                    \
            printf("\n");                                                           \
            sp_test_failures++;                                                     \
        }                                                                           \
        fflush(stdout);                                                             \
    } while (0)

/* FREE_ALL(a, b, c): free() each of a case's buffers */
static inline void sp_test_free_all(void **p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(p[i]);
}
#define FREE_ALL(...) sp_test_free_all((void *[]){__VA_ARGS__}, sizeof((void *[]){__VA_ARGS__}) / sizeof(void *))

#define TEST_MAIN_END return sp_test_failures ? 1 : 0

#endif

#include "sp_env.h"
#include "sp_error.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

int sp_env_choice(const char *name, const char *const *choices)
{
    const char *v = getenv(name);
    if (!v || !*v)
        return -1;
    char list[128] = "";
    for (int i = 0; choices[i]; i++) {
        if (strcmp(v, choices[i]) == 0)
            return i;
        size_t n = strlen(list);
        snprintf(list + n, sizeof list - n, "%s%s", i ? ", " : "", choices[i]);
    }
    sp_fatal("environment: %s=%s: expected one of %s (or unset)", name, v, list);
}

unsigned long long sp_env_positive(const char *name, unsigned long long dflt)
{
    const char *v = getenv(name);
    if (!v || !*v)
        return dflt;
    char *end;
    errno = 0;
    unsigned long long x = strtoull(v, &end, 10);
    if (*v < '0' || *v > '9' || *end || errno || x == 0)
        sp_fatal("environment: %s=%s: expected a positive integer (or unset)", name, v);
    return x;
}

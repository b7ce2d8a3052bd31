#include "sp_opt.h"
#include "sp_error.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void print_usage(const sp_opt *opts, const char *usage, const char *description)
{
    printf("usage: %s\n\n%s\n\noptions:\n", usage, description);
    for (const sp_opt *o = opts; o->name; o++) {
        char left[64];
        snprintf(left, sizeof left, "--%s%s%s", o->name, o->arg ? " " : "", o->arg ? o->arg : "");
        printf("  %-22s %s\n", left, o->help);
    }
    printf("  %-22s %s\n", "--help", "show this text");
}

static void parse_value(const sp_opt *o, const char *v)
{
    char *end;
    errno = 0;
    switch (o->type) {
    case SP_OPT_INT: {
        long x = strtol(v, &end, 10);
        if (!*v || *end || errno || x < INT_MIN || x > INT_MAX)
            sp_fatal("--%s: '%s' is not an integer", o->name, v);
        *(int *)o->ptr = (int)x;
        break;
    }
    case SP_OPT_INT64: {
        long long x = strtoll(v, &end, 10);
        if (!*v || *end || errno)
            sp_fatal("--%s: '%s' is not an integer", o->name, v);
        *(int64_t *)o->ptr = (int64_t)x;
        break;
    }
    case SP_OPT_DOUBLE: {
        double x = strtod(v, &end);
        if (!*v || *end || errno)
            sp_fatal("--%s: '%s' is not a number", o->name, v);
        *(double *)o->ptr = x;
        break;
    }
    case SP_OPT_STR: *(const char **)o->ptr = v; break;
    case SP_OPT_FLAG: break;
    }
}

int sp_opt_parse(int argc, char **argv, const sp_opt *opts, const char *usage,
                 const char *description, char ***args)
{
    static char *pos[256];
    int npos = 0, only_positional = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (only_positional || a[0] != '-' || a[1] == 0) {
            if (npos == (int)(sizeof pos / sizeof *pos))
                sp_fatal("%s: too many arguments", a);
            pos[npos++] = argv[i];
            continue;
        }
        if (strcmp(a, "--") == 0) {
            only_positional = 1;
            continue;
        }
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            print_usage(opts, usage, description);
            exit(0);
        }
        if (a[1] != '-')
            sp_fatal("%s: unknown option (options are --name; see --help)", a);
        const char *name = a + 2, *eq = strchr(name, '=');
        size_t nlen = eq ? (size_t)(eq - name) : strlen(name);
        const sp_opt *o = NULL;
        for (const sp_opt *p = opts; p->name; p++)
            if (strlen(p->name) == nlen && strncmp(p->name, name, nlen) == 0)
                o = p;
        if (!o)
            sp_fatal("--%.*s: unknown option (see --help)", (int)nlen, name);
        if (o->type == SP_OPT_FLAG) {
            if (eq)
                sp_fatal("--%s: takes no value", o->name);
            *(int *)o->ptr = 1;
            continue;
        }
        const char *v = eq ? eq + 1 : NULL;
        if (!v) {
            if (i + 1 >= argc)
                sp_fatal("--%s: missing value (%s)", o->name, o->arg ? o->arg : "value");
            v = argv[++i];
        }
        parse_value(o, v);
    }
    *args = pos;
    return npos;
}

int sp_parse_size(const char *s, int *h, int *w)
{
    char *end;
    errno = 0;
    long a = strtol(s, &end, 10), b;
    if (end == s || errno || a <= 0 || a > 65536)
        return -1;
    if (*end == 0) {
        b = a;
    } else {
        if (*end != 'x' && *end != 'X')
            return -1;
        const char *t = end + 1;
        b = strtol(t, &end, 10);
        if (end == t || *end || errno || b <= 0 || b > 65536)
            return -1;
    }
    *h = (int)a;
    *w = (int)b;
    return 0;
}

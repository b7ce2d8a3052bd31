/* Command-line options: a table of --name value flags, a usage text, and
 * one-line errors for anything unknown or malformed.
 *
 *   int batch = 32; const char *out = NULL;
 *   sp_opt opts[] = {
 *       {"batch", SP_OPT_INT, &batch, "N", "images per batch"},
 *       {"out", SP_OPT_STR, &out, "FILE", "output file"},
 *       {0}};
 *   int nargs = sp_opt_parse(argc, argv, opts, "sp-x [options] DIR", "what it does", &args);
 */
#ifndef SP_OPT_H
#define SP_OPT_H

#include <stdint.h>

typedef enum { SP_OPT_FLAG, SP_OPT_INT, SP_OPT_INT64, SP_OPT_DOUBLE, SP_OPT_STR } sp_opt_type;

typedef struct {
    const char *name; /* without the leading "--" */
    sp_opt_type type;
    void *ptr; /* int* (FLAG, INT), int64_t*, double*, const char** */
    const char *arg;  /* placeholder in the usage ("N", "FILE"); NULL for flags */
    const char *help;
} sp_opt;

/* Parses argv; positional arguments are returned in *args (a pointer into a
 * static array), their count as the result.  --help prints the usage and the
 * table and exits 0.  Errors exit 1 with "prog: --name: what is wrong". */
int sp_opt_parse(int argc, char **argv, const sp_opt *opts, const char *usage,
                 const char *description, char ***args);

/* Parses "HxW" (or "N" for a square); returns 0 on success. */
int sp_parse_size(const char *s, int *h, int *w);

#endif

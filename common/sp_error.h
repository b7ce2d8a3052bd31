/* One-line fatal errors and atomic output files.
 *
 * Every program calls sp_set_prog(argv[0]) first; sp_fatal() then prints
 * "sp-xxx: <what>: <why>" on stderr and exits 1.  Output files are opened
 * through sp_outfile_open(), which writes to a temporary name beside the
 * target; sp_outfile_commit() renames it into place.  A fatal error (or a
 * caught SIGINT/SIGTERM) unlinks every temporary that was not committed, so
 * a failed run never leaves a partial output behind. */
#ifndef SP_ERROR_H
#define SP_ERROR_H

#include <stdio.h>
#include <stddef.h>

void sp_set_prog(const char *argv0);
const char *sp_prog(void);

/* Prints "prog: <formatted>" and exits 1 after removing temporaries. */
void sp_fatal(const char *fmt, ...) __attribute__((noreturn, format(printf, 1, 2)));
/* For fuzzing and in-process tests only: sp_fatal() calls hook(message)
 * instead of exiting; the hook must not return (it longjmps). */
void sp_set_fatal_hook(void (*hook)(const char *msg));
/* The same for the calling thread alone, taking precedence there: a helper
 * thread (sp_writer_async.c) hands its error to the main thread instead of
 * exiting the process under it. */
void sp_set_thread_fatal_hook(void (*hook)(const char *msg));
/* Prints "prog: <formatted>" and goes on. */
void sp_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Allocation that never returns NULL (a failed allocation is fatal). */
void *sp_malloc(size_t n);
void *sp_calloc(size_t count, size_t size);
void *sp_realloc(void *p, size_t n);
char *sp_strdup(const char *s);

/* Atomic output: returns a FILE* for writing "path"; the data goes to a
 * temporary file until sp_outfile_commit(). */
FILE *sp_outfile_open(const char *path);
void sp_outfile_commit(FILE *f);
/* Register/unregister a temporary path created some other way (e.g. a
 * directory being filled, is_dir = 1: removed recursively) so that a fatal
 * error or a signal removes it. */
void sp_cleanup_register(const char *tmp_path, int is_dir);
void sp_cleanup_forget(const char *tmp_path);

/* Removes a file or a directory tree (rm -rf); errors are ignored. */
void sp_remove_tree(const char *path);

/* Creates every missing directory of "path" (like mkdir -p); fatal on failure. */
void sp_mkdir_p(const char *path);

#endif

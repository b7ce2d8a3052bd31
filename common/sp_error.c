#define _XOPEN_SOURCE 700
#include "sp_error.h"

#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <ftw.h>
#include <pthread.h>

static char prog_name[64] = "sprites";

/* Temporaries not yet committed: removed on a fatal error or a signal.
 * Few at a time (one per output file), so a small fixed table suffices. */
#define SP_MAX_TEMPS 32
static struct {
    char tmp[4096];
    char final[4096];
    FILE *f;
    int used;
    int is_dir;
} temps[SP_MAX_TEMPS];

static int remove_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st; (void)flag; (void)ftw;
    remove(path);
    return 0;
}

void sp_remove_tree(const char *path) { nftw(path, remove_entry, 16, FTW_DEPTH | FTW_PHYS); }

static void remove_temps(void)
{
    for (int i = 0; i < SP_MAX_TEMPS; i++)
        if (temps[i].used) {
            if (temps[i].is_dir)
                sp_remove_tree(temps[i].tmp);
            else
                unlink(temps[i].tmp);
            temps[i].used = 0;
        }
}

static void on_signal(int sig)
{
    /* A directory being filled is removed too: not async-signal-safe in
     * theory, but the process is about to die and nothing else runs. */
    remove_temps();
    signal(sig, SIG_DFL);
    raise(sig);
}

void sp_set_prog(const char *argv0)
{
    const char *slash = strrchr(argv0, '/');
    snprintf(prog_name, sizeof prog_name, "%s", slash ? slash + 1 : argv0);
    signal(SIGINT, on_signal);
    signal(SIGTERM, on_signal);
    signal(SIGHUP, on_signal);
}

const char *sp_prog(void) { return prog_name; }

static void (*fatal_hook)(const char *msg);
static _Thread_local void (*thread_fatal_hook)(const char *msg);

void sp_set_fatal_hook(void (*hook)(const char *msg)) { fatal_hook = hook; }
void sp_set_thread_fatal_hook(void (*hook)(const char *msg)) { thread_fatal_hook = hook; }

void sp_fatal(const char *fmt, ...)
{
    char msg[2048];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (thread_fatal_hook) {
        thread_fatal_hook(msg);
        abort(); /* a hook must not return */
    }
    if (fatal_hook) {
        fatal_hook(msg);
        abort(); /* a hook must not return */
    }
    fflush(stdout);
    fprintf(stderr, "%s: %s\n", prog_name, msg);
    remove_temps();
    exit(1);
}

void sp_warn(const char *fmt, ...)
{
    va_list ap;
    fprintf(stderr, "%s: ", prog_name);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
}

void *sp_malloc(size_t n)
{
    void *p = malloc(n ? n : 1);
    if (!p)
        sp_fatal("out of memory (asked for %zu bytes)", n);
    return p;
}

void *sp_calloc(size_t count, size_t size)
{
    void *p = calloc(count ? count : 1, size ? size : 1);
    if (!p)
        sp_fatal("out of memory (asked for %zu x %zu bytes)", count, size);
    return p;
}

void *sp_realloc(void *p, size_t n)
{
    void *q = realloc(p, n ? n : 1);
    if (!q)
        sp_fatal("out of memory (asked for %zu bytes)", n);
    return q;
}

char *sp_strdup(const char *s)
{
    size_t n = strlen(s) + 1;
    char *d = sp_malloc(n);
    memcpy(d, s, n);
    return d;
}

/* The table is shared by threads that write files in parallel. */
static pthread_mutex_t temps_lock = PTHREAD_MUTEX_INITIALIZER;

/* Reserves a slot (marked used); call with temps_lock held. */
static int temp_slot(void)
{
    for (int i = 0; i < SP_MAX_TEMPS; i++)
        if (!temps[i].used) {
            temps[i].used = 1;
            return i;
        }
    pthread_mutex_unlock(&temps_lock);
    sp_fatal("too many output files open at once");
}

FILE *sp_outfile_open(const char *path)
{
    pthread_mutex_lock(&temps_lock);
    int i = temp_slot();
    pthread_mutex_unlock(&temps_lock);
    if (strlen(path) + 32 >= sizeof temps[i].tmp)
        sp_fatal("%s: path too long", path);
    snprintf(temps[i].tmp, sizeof temps[i].tmp, "%s.tmp.%ld", path, (long)getpid());
    snprintf(temps[i].final, sizeof temps[i].final, "%s", path);
    temps[i].is_dir = 0;
    temps[i].f = NULL;
    FILE *f = fopen(temps[i].tmp, "wb");
    if (!f) {
        temps[i].used = 0;
        sp_fatal("%s: cannot write: %s", path, strerror(errno));
    }
    temps[i].f = f;
    return f;
}

void sp_outfile_commit(FILE *f)
{
    for (int i = 0; i < SP_MAX_TEMPS; i++)
        if (temps[i].used && temps[i].f == f && f) {
            if (fflush(f) != 0 || ferror(f) || fsync(fileno(f)) != 0) {
                int e = errno;
                fclose(f);
                sp_fatal("%s: write failed: %s", temps[i].final, strerror(e));
            }
            if (fclose(f) != 0)
                sp_fatal("%s: write failed: %s", temps[i].final, strerror(errno));
            if (rename(temps[i].tmp, temps[i].final) != 0)
                sp_fatal("%s: cannot rename temporary into place: %s", temps[i].final,
                         strerror(errno));
            temps[i].used = 0;
            return;
        }
    sp_fatal("internal error: commit of a file that was not opened by sp_outfile_open");
}

void sp_cleanup_register(const char *tmp_path, int is_dir)
{
    pthread_mutex_lock(&temps_lock);
    int i = temp_slot();
    pthread_mutex_unlock(&temps_lock);
    snprintf(temps[i].tmp, sizeof temps[i].tmp, "%s", tmp_path);
    temps[i].final[0] = 0;
    temps[i].f = NULL;
    temps[i].is_dir = is_dir;
}

void sp_cleanup_forget(const char *tmp_path)
{
    for (int i = 0; i < SP_MAX_TEMPS; i++)
        if (temps[i].used && strcmp(temps[i].tmp, tmp_path) == 0)
            temps[i].used = 0;
}

void sp_mkdir_p(const char *path)
{
    char buf[4096];
    if (strlen(path) >= sizeof buf)
        sp_fatal("%s: path too long", path);
    snprintf(buf, sizeof buf, "%s", path);
    for (char *p = buf + 1; *p; p++) {
        if (*p != '/')
            continue;
        *p = 0;
        if (mkdir(buf, 0777) != 0 && errno != EEXIST)
            sp_fatal("%s: cannot create directory: %s", buf, strerror(errno));
        *p = '/';
    }
    if (mkdir(buf, 0777) != 0 && errno != EEXIST)
        sp_fatal("%s: cannot create directory: %s", buf, strerror(errno));
}

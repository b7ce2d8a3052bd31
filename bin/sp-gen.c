/* sp-gen: generates a synthetic data set (Tetrominoes or Multi-dSprites) in
 * the DTI-Sprites folder layout:
 *   DIR/images/{0..N-1}.png     RGB
 *   DIR/masks/{i}.png           grey, instance ids (0 = background)
 *   DIR/sem_masks/{i}.png       grey, semantic classes (0 = background)
 * Image i is a pure function of (seed, i) (common/sp_gen.h), so the output
 * is byte-identical whatever the thread count.  The set is built in a
 * temporary sibling directory and renamed into place when complete. */
#define _GNU_SOURCE
#include "sp_start.h"
#include "sp_error.h"
#include "sp_gen.h"
#include "sp_image.h"
#include "sp_opt.h"
#include "sp_progress.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <omp.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

/* Writes b to a new file (no temporary: the whole directory is one). */
static int write_file(const char *path, const uint8_t *data, size_t len, char *err, size_t errlen)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0666);
    if (fd < 0) {
        snprintf(err, errlen, "%s: cannot write: %s", path, strerror(errno));
        return -1;
    }
    size_t off = 0;
    while (off < len) {
        ssize_t n = write(fd, data + off, len - off);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            snprintf(err, errlen, "%s: write failed: %s", path, n < 0 ? strerror(errno) : "no space");
            close(fd);
            return -1;
        }
        off += (size_t)n;
    }
    if (close(fd) != 0) {
        snprintf(err, errlen, "%s: write failed: %s", path, strerror(errno));
        return -1;
    }
    return 0;
}

/* ---------------------------------------------------------- Directories */



/* Existing output: 0 = absent, 1 = empty directory, 2 = a previous data set
 * (only images/, masks/, sem_masks/); anything else is fatal (with --force
 * too: replacing is only for data sets, never for an arbitrary folder). */
static int check_out(const char *out, int force)
{
    struct stat st;
    if (lstat(out, &st) != 0) {
        if (errno == ENOENT)
            return 0;
        sp_fatal("%s: %s", out, strerror(errno));
    }
    if (!S_ISDIR(st.st_mode))
        sp_fatal("%s: exists and is not a directory", out);
    DIR *d = opendir(out);
    if (!d)
        sp_fatal("%s: cannot read: %s", out, strerror(errno));
    int entries = 0, foreign = 0;
    char first_foreign[256] = "";
    struct dirent *e;
    while ((e = readdir(d))) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
            continue;
        entries++;
        if (strcmp(e->d_name, "images") && strcmp(e->d_name, "masks") &&
            strcmp(e->d_name, "sem_masks") && !foreign++)
            snprintf(first_foreign, sizeof first_foreign, "%s", e->d_name);
    }
    closedir(d);
    if (entries == 0)
        return 1;
    if (!force)
        sp_fatal("%s: exists and is not empty (--force replaces a previous data set)", out);
    if (foreign)
        sp_fatal("%s: --force refused: not a data set folder (has '%s')", out, first_foreign);
    return 2;
}

/* A signal during generation only raises this flag: the worker threads
 * stop, and the main thread removes the temporary directory (while nothing
 * writes into it any more) and dies of the same signal. */
static volatile sig_atomic_t stop_signal;
static void on_stop(int sig) { stop_signal = sig; }

/* ----------------------------------------------------------------- Main */

int main(int argc, char **argv)
{
    sp_main_start(argv);
    int64_t count = -1, seed = 0;
    const char *out_arg = NULL;
    int threads = 0, force = 0, progress = 0, quiet = 0;
    sp_opt opts[] = {
        {"count", SP_OPT_INT64, &count, "N", "number of images (required)"},
        {"seed", SP_OPT_INT64, &seed, "S", "random seed, >= 0 (default 0)"},
        {"out", SP_OPT_STR, &out_arg, "DIR", "output folder (required); must not exist or be empty"},
        {"threads", SP_OPT_INT, &threads, "T", "OpenMP threads (default: all cores)"},
        {"force", SP_OPT_FLAG, &force, NULL,
         "replace DIR if it holds a previous data set (images/ masks/ sem_masks/ only)"},
        {"progress", SP_OPT_FLAG, &progress, NULL,
         "progress lines on stderr even when it is not a terminal"},
        {"quiet", SP_OPT_FLAG, &quiet, NULL, "no progress and no final summary"},
        {0}};
    char **args;
    int nargs = sp_opt_parse(
        argc, argv, opts, "sp-gen tetrominoes|multi-dsprites --count N --seed S --out DIR",
        "Generates a synthetic data set in the DTI-Sprites layout: DIR/images/{i}.png (RGB),\n"
        "DIR/masks/{i}.png (instance ids, 0 = background, 1.. = objects in drawing order)\n"
        "and DIR/sem_masks/{i}.png (classes: Tetrominoes shape 1..19; Multi-dSprites\n"
        "1 square, 2 ellipse, 3 heart).  Image i depends only on (seed, i): the output\n"
        "is identical for any --threads.  The set is built in DIR.tmp.PID and renamed\n"
        "into place when complete.  See formats/dataset.md.",
        &args);
    if (nargs != 1)
        sp_fatal(nargs ? "too many arguments: give one kind (tetrominoes or multi-dsprites)"
                       : "missing kind: tetrominoes or multi-dsprites");
    int kind = sp_gen_kind_parse(args[0]);
    if (kind < 0)
        sp_fatal("%s: unknown kind (tetrominoes or multi-dsprites)", args[0]);
    if (count == -1)
        sp_fatal("--count: missing (number of images)");
    if (count <= 0 || count > 100000000)
        sp_fatal("--count: %lld is not in 1..100000000", (long long)count);
    if (seed < 0)
        sp_fatal("--seed: %lld is negative", (long long)seed);
    if (!out_arg || !*out_arg)
        sp_fatal("--out: missing (output folder)");
    if (threads < 0 || threads > 1024)
        sp_fatal("--threads: %d is not in 0..1024 (0 = all cores)", threads);
    if (quiet)
        progress = 0;
    else if (!progress)
        progress = isatty(2);

    /* DIR without trailing slashes (but "/" stays "/", and is refused). */
    char out[4096], tmp[4200];
    if (strlen(out_arg) >= sizeof out - 64)
        sp_fatal("%s: path too long", out_arg);
    snprintf(out, sizeof out, "%s", out_arg);
    for (size_t n = strlen(out); n > 1 && out[n - 1] == '/'; n--)
        out[n - 1] = 0;
    int existing = check_out(out, force);

    snprintf(tmp, sizeof tmp, "%s.tmp.%ld", out, (long)getpid());
    struct stat st;
    if (lstat(tmp, &st) == 0)
        sp_fatal("%s: a stale temporary directory is in the way; remove it", tmp);
    sp_cleanup_register(tmp, 1);
    static const char *sub[3] = {"images", "masks", "sem_masks"};
    for (int s = 0; s < 3; s++) {
        char p[4300];
        snprintf(p, sizeof p, "%s/%s", tmp, sub[s]);
        sp_mkdir_p(p);
    }

    const sp_gen_info *info = sp_gen_kind_info((sp_gen_kind)kind);
    int h = info->h, w = info->w;
    if (threads > 0)
        omp_set_num_threads(threads);
    atomic_int failed = 0;
    atomic_llong done = 0;
    char err_msg[5000] = "";
    double t0 = omp_get_wtime();
    sp_progress prog;
    sp_progress_start(&prog, "images", count);
    prog.mode = progress ? (isatty(2) ? 1 : 2) : 0;
    prog.interval = 1.0;
    static const int sigs[3] = {SIGINT, SIGTERM, SIGHUP};
    void (*saved[3])(int);
    for (int k = 0; k < 3; k++)
        saved[k] = signal(sigs[k], on_stop);

#pragma omp parallel
    {
        uint8_t *rgb = sp_malloc((size_t)h * w * 3), *inst = sp_malloc((size_t)h * w),
                *sem = sp_malloc((size_t)h * w);
        sp_png_encoder *enc = sp_png_encoder_new();
        const uint8_t *png;
        size_t png_len;
        char path[4400], err[5000];
        int master = omp_get_thread_num() == 0;
#pragma omp for schedule(dynamic, 64)
        for (int64_t i = 0; i < count; i++) {
            if (atomic_load(&failed) || stop_signal)
                continue;
            sp_gen_render((sp_gen_kind)kind, (uint64_t)seed, (uint64_t)i, rgb, inst, sem);
            const uint8_t *px[3] = {rgb, inst, sem};
            int rc = 0;
            for (int s = 0; s < 3 && rc == 0; s++) {
                snprintf(path, sizeof path, "%s/%s/%lld.png", tmp, sub[s], (long long)i);
                rc = sp_png_encode(enc, px[s], h, w, s == 0 ? 3 : 1, &png, &png_len, err, sizeof err);
                if (rc == 0)
                    rc = write_file(path, png, png_len, err, sizeof err);
            }
            if (rc != 0) {
                int expected = 0;
                if (atomic_compare_exchange_strong(&failed, &expected, 1))
                    snprintf(err_msg, sizeof err_msg, "%s", err);
                continue;
            }
            long long n = atomic_fetch_add(&done, 1) + 1;
            if (master && progress)
                sp_progress_update(&prog, n); /* one thread prints */
        }
        sp_png_encoder_free(enc);
        free(rgb);
        free(inst);
        free(sem);
    }
    if (progress)
        sp_progress_end(&prog, atomic_load(&done));
    for (int k = 0; k < 3; k++)
        signal(sigs[k], saved[k]);
    if (stop_signal) {
        sp_remove_tree(tmp);
        sp_cleanup_forget(tmp);
        signal(stop_signal, SIG_DFL);
        raise(stop_signal);
    }
    if (atomic_load(&failed))
        sp_fatal("%s", err_msg);

    /* Durable before it appears: one syncfs() for the whole set (an fsync
     * per file would cost more than generating it). */
    int dfd = open(tmp, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd < 0 || syncfs(dfd) != 0)
        sp_fatal("%s: cannot sync: %s", tmp, strerror(errno));
    close(dfd);

    /* Put the complete set in place: DIR absent or empty -> rename; DIR an
     * older set -> exchange the two atomically, then delete the old one. */
    if (existing == 2) {
        if (renameat2(AT_FDCWD, tmp, AT_FDCWD, out, RENAME_EXCHANGE) != 0) {
            /* No RENAME_EXCHANGE (old kernel or file system): two steps. */
            char old[4300];
            snprintf(old, sizeof old, "%s.old.%ld", out, (long)getpid());
            if (rename(out, old) != 0)
                sp_fatal("%s: cannot move the previous data set aside: %s", out, strerror(errno));
            if (rename(tmp, out) != 0) {
                int e = errno;
                rename(old, out);
                sp_fatal("%s: cannot rename %s into place: %s", out, tmp, strerror(e));
            }
            sp_cleanup_forget(tmp);
            sp_remove_tree(old);
        } else {
            sp_remove_tree(tmp); /* now the previous set */
            sp_cleanup_forget(tmp);
        }
    } else {
        /* rename() replaces an empty directory. */
        if (rename(tmp, out) != 0)
            sp_fatal("%s: cannot rename %s into place: %s", out, tmp, strerror(errno));
        sp_cleanup_forget(tmp);
    }
    double secs = omp_get_wtime() - t0;
    if (!quiet)
        fprintf(stderr, "%s: %lld %s images in %.1f s (%.0f/s) -> %s\n", sp_prog(),
                (long long)count, info->name, secs, (double)count / (secs > 0 ? secs : 1e-9), out);
    return 0;
}

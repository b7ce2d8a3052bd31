/* sp_sgemm: OpenBLAS loaded at first use (sp_blas.h). */
#define _POSIX_C_SOURCE 200809L
#include "sp_blas.h"
#include "sp_error.h"

#include <pthread.h>

#ifndef SP_BLAS_LINKED
#include <dlfcn.h>
#ifndef SP_BLAS_LIBRARY
#define SP_BLAS_LIBRARY "libopenblas.so.0"
#endif
static __typeof__(cblas_sgemm) *sgemm_fn;
static __typeof__(openblas_set_num_threads) *set_threads_fn;
static __typeof__(openblas_get_num_threads) *get_threads_fn;
#else
#define sgemm_fn cblas_sgemm
#define set_threads_fn openblas_set_num_threads
#define get_threads_fn openblas_get_num_threads
#endif

static pthread_once_t once = PTHREAD_ONCE_INIT;

#ifndef SP_BLAS_LINKED
/* dlsym's object pointer as a function pointer (the POSIX idiom) */
static void resolve(void *lib, const char *name, void *fn_slot)
{
    void *sym = dlsym(lib, name);
    if (!sym)
        sp_fatal("OpenBLAS (%s) has no %s", SP_BLAS_LIBRARY, name);
    *(void **)fn_slot = sym;
}
#endif

static void load(void)
{
#ifndef SP_BLAS_LINKED
    /* OPENBLAS_NUM_THREADS=1 is in the environment by now (sp_start.h),
     * so its constructor starts no thread pool */
    void *lib = dlopen(SP_BLAS_LIBRARY, RTLD_NOW | RTLD_LOCAL);
    if (!lib)
        sp_fatal("cannot load OpenBLAS: %s (apt-get install libopenblas0)", dlerror());
    resolve(lib, "cblas_sgemm", &sgemm_fn);
    resolve(lib, "openblas_set_num_threads", &set_threads_fn);
    resolve(lib, "openblas_get_num_threads", &get_threads_fn);
#endif
    set_threads_fn(1);
}

void sp_sgemm(enum CBLAS_ORDER order, enum CBLAS_TRANSPOSE ta, enum CBLAS_TRANSPOSE tb, int m, int n, int k,
              float alpha, const float *a, int lda, const float *b, int ldb, float beta, float *c, int ldc)
{
    pthread_once(&once, load);
    sgemm_fn(order, ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
}

int sp_blas_threads(void)
{
    pthread_once(&once, load);
    return get_threads_fn();
}

int sp_blas_loaded(void)
{
#ifdef SP_BLAS_LINKED
    return 1;
#else
    return sgemm_fn != NULL; /* set by load, once */
#endif
}

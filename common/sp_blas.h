/* OpenBLAS's sgemm, single-threaded (our OpenMP threads parallelise around
 * it), loaded at its first use.
 *
 * Only some stages ever call it (linear layers and MLP heads, the
 * convolutions' backward, their forward without the GEMM tiles), yet a
 * program linked against libopenblas pays its loading at every start:
 * ~14,000 relocations and its CPU detection, ~9 ms a process in the VM
 * measured, in every stage of a pipe.  So by default the library is opened
 * with dlopen by the first sp_sgemm (Debian's libopenblas.so.0; a missing
 * one is a one-line error then).  Built with SP_BLAS_LINKED (make
 * STATIC_DEPS=1 or DEPS_DIR=..., a machine without the package) the calls
 * go to the linked library instead. */
#ifndef SP_BLAS_H
#define SP_BLAS_H

#include <cblas.h>

/* cblas_sgemm's arguments and meaning; runs on the calling thread. */
void sp_sgemm(enum CBLAS_ORDER order, enum CBLAS_TRANSPOSE ta, enum CBLAS_TRANSPOSE tb, int m, int n, int k,
              float alpha, const float *a, int lda, const float *b, int ldb, float beta, float *c, int ldc);

/* The threads OpenBLAS now uses (loading it first): 1 after any sp_sgemm. */
int sp_blas_threads(void);

/* 1 when OpenBLAS is in the process (linked, or loaded by now). */
int sp_blas_loaded(void);

#endif

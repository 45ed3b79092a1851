/* Thread count and clock for the kernels. The count is process-wide because the OpenMP and
 * OpenBLAS thread pools it drives are. */
#ifndef _POSIX_C_SOURCE
#define _POSIX_C_SOURCE 200809L
#endif
#include "kernels/kernels.h"

#include <time.h>

#ifdef _OPENMP
#include <omp.h>
#endif

#ifdef LAMINA_HAVE_BLAS
void openblas_set_num_threads(int n);
#endif

static _Atomic int n_threads; /* 0 until set: then the OpenMP default (OMP_NUM_THREADS) */

void lmk_set_threads(int n) {
  if (n < 1) n = 1;
  n_threads = n;
#ifdef _OPENMP
  omp_set_num_threads(n);
#endif
#ifdef LAMINA_HAVE_BLAS
  openblas_set_num_threads(n);
#endif
}

int lmk_threads(void) {
  int n = n_threads;
  if (n > 0) return n;
#ifdef _OPENMP
  n = omp_get_max_threads();
  return n > 0 ? n : 1;
#else
  return 1;
#endif
}

double lmk_now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

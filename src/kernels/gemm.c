/* lmk_sgemm: OpenBLAS through CBLAS when the build has it, else the portable gemm.
 * Empty products (M, N or K == 0, alpha == 0) never reach BLAS: they only scale C by beta, and
 * beta == 0 writes zeros even where C held NaN (the BLAS convention). */
#include "kernels/kernels.h"

#ifdef LAMINA_HAVE_BLAS
#include <cblas.h>
#ifdef _OPENMP
#include <omp.h>
#endif
#endif

void lmk_sgemm(bool trans_a, bool trans_b, int M, int N, int K, float alpha, const float *A,
               int lda, const float *B, int ldb, float beta, float *C, int ldc) {
  if (M <= 0 || N <= 0) return;
#ifdef LAMINA_HAVE_BLAS
  if (K > 0 && alpha != 0.0f) {
#ifdef _OPENMP
    /* OpenBLAS (OpenMP flavour) sizes its team from the calling thread's OpenMP setting;
     * make it follow lmk_threads() whichever thread set that. Inside a parallel region
     * OpenBLAS runs on one thread anyway. */
    if (!omp_in_parallel() && omp_get_max_threads() != lmk_threads())
      omp_set_num_threads(lmk_threads());
#endif
    cblas_sgemm(CblasRowMajor, trans_a ? CblasTrans : CblasNoTrans,
                trans_b ? CblasTrans : CblasNoTrans, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
    return;
  }
#endif
  lmk_sgemm_portable(trans_a, trans_b, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
}

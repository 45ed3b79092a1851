/* lmk_sgemm_rows: C = A . B + beta C (row-major, no transposes) for the
 * channels-last convolution shapes: many rows (pixels), few columns
 * (channels, N % 8 == 0, N <= 1024) and a moderate depth K. BLAS packs A
 * into panels first, which for K = 32..576 costs as much as the product;
 * here A is read in place (6 rows broadcast per k) against 16 (or 8) columns
 * of B held in two (one) AVX2 registers, an FMA microkernel of 6 x 16.
 * B is read again for every 6 rows, so it must fit in L2 (K N <= 128 Ki
 * floats); larger B (the 13x13 yolo layers) goes to BLAS, which packs.
 *
 * Row blocks are split over OpenMP threads; every C element is one thread's
 * k-ordered FMA chain, so the result does not depend on the thread count.
 * Without AVX2+FMA (or for other shapes) it is lmk_sgemm. */
#include <stdbool.h>

#include "kernels/kernels.h"

#include "kernels/par.h"

#if defined(LAMINA_HAVE_BLAS) && defined(_OPENMP)
#include <omp.h>
void openblas_set_num_threads(int n);
#endif

#if defined(__GNUC__) && (defined(__x86_64__) || defined(__i386__))
#include <immintrin.h>
#define RG_X86 1

enum { MR = 6 };
#define RG_MAX_B ((int64_t)1 << 17) /* floats of B: 512 KiB */

/* rows [i, i + mr) (mr <= MR), all columns; inlined with mr == MR (the
 * accumulators stay in registers) and once for the tail */
__attribute__((target("avx2,fma"), always_inline)) static inline void rows_body(
    int mr, int N, int K, const float *A, int lda, const float *B, int ldb, float beta, float *C,
    int ldc) {
  const float *a[MR];
  for (int r = 0; r < MR; r++) a[r] = A + (int64_t)(r < mr ? r : 0) * lda;
  int j = 0;
  for (; j + 16 <= N; j += 16) {
    __m256 c0[MR], c1[MR];
    for (int r = 0; r < MR; r++) c0[r] = c1[r] = _mm256_setzero_ps();
    const float *b = B + j;
    for (int k = 0; k < K; k++, b += ldb) {
      const __m256 b0 = _mm256_loadu_ps(b), b1 = _mm256_loadu_ps(b + 8);
      for (int r = 0; r < mr; r++) {
        const __m256 av = _mm256_broadcast_ss(a[r] + k);
        c0[r] = _mm256_fmadd_ps(av, b0, c0[r]);
        c1[r] = _mm256_fmadd_ps(av, b1, c1[r]);
      }
    }
    for (int r = 0; r < mr; r++) {
      float *c = C + (int64_t)r * ldc + j;
      if (beta != 0.0f) {
        const __m256 bv = _mm256_set1_ps(beta);
        c0[r] = _mm256_fmadd_ps(bv, _mm256_loadu_ps(c), c0[r]);
        c1[r] = _mm256_fmadd_ps(bv, _mm256_loadu_ps(c + 8), c1[r]);
      }
      _mm256_storeu_ps(c, c0[r]);
      _mm256_storeu_ps(c + 8, c1[r]);
    }
  }
  for (; j + 8 <= N; j += 8) {
    __m256 c0[MR];
    for (int r = 0; r < MR; r++) c0[r] = _mm256_setzero_ps();
    const float *b = B + j;
    for (int k = 0; k < K; k++, b += ldb) {
      const __m256 b0 = _mm256_loadu_ps(b);
      for (int r = 0; r < mr; r++) c0[r] = _mm256_fmadd_ps(_mm256_broadcast_ss(a[r] + k), b0, c0[r]);
    }
    for (int r = 0; r < mr; r++) {
      float *c = C + (int64_t)r * ldc + j;
      if (beta != 0.0f) c0[r] = _mm256_fmadd_ps(_mm256_set1_ps(beta), _mm256_loadu_ps(c), c0[r]);
      _mm256_storeu_ps(c, c0[r]);
    }
  }
}

__attribute__((target("avx2,fma"))) static void rows_full(int N, int K, const float *A, int lda,
                                                         const float *B, int ldb, float beta,
                                                         float *C, int ldc) {
  rows_body(MR, N, K, A, lda, B, ldb, beta, C, ldc);
}
__attribute__((target("avx2,fma"))) static void rows_tail(int mr, int N, int K, const float *A,
                                                         int lda, const float *B, int ldb,
                                                         float beta, float *C, int ldc) {
  rows_body(mr, N, K, A, lda, B, ldb, beta, C, ldc);
}

static bool have_avx2_fma(void) {
  static int known = -1; /* benign race: every thread computes the same value */
  if (known < 0) known = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
  return known;
}
#endif

bool lmk_sgemm_rows_ok(int M, int N, int K) {
#ifdef RG_X86
  /* B is streamed once per 6 rows: it has to stay in L2 (512 KiB here) */
  return have_avx2_fma() && N > 0 && N % 8 == 0 && K > 0 && (int64_t)K * N <= RG_MAX_B &&
         M >= MR;
#else
  (void)M, (void)N, (void)K;
  return false;
#endif
}

void lmk_sgemm_rows(int M, int N, int K, const float *A, int lda, const float *B, int ldb,
                    float beta, float *C, int ldc, int threads) {
#ifdef RG_X86
  if (lmk_sgemm_rows_ok(M, N, K)) {
    const int blocks = (M + MR - 1) / MR;
    LMK_PAR_FOR(threads, (int64_t)M * N * K > (1 << 18))
    for (int ib = 0; ib < blocks; ib++) {
      const int i = ib * MR, mr = M - i < MR ? M - i : MR;
      if (mr == MR)
        rows_full(N, K, A + (int64_t)i * lda, lda, B, ldb, beta, C + (int64_t)i * ldc, ldc);
      else
        rows_tail(mr, N, K, A + (int64_t)i * lda, lda, B, ldb, beta, C + (int64_t)i * ldc, ldc);
    }
    return;
  }
#endif
#if defined(LAMINA_HAVE_BLAS) && defined(_OPENMP)
  /* Few rows against a wide B (yolo's 13x13 layers: M = 169, N = 512..1024,
   * K = 2304..9216): OpenBLAS splits such a product over its threads by rows
   * with a barrier per K block and scales poorly (1.46x at 2 threads on
   * the 3x3x1024x1024 layer). Here each thread takes a 16-aligned slice of
   * the columns and runs a one-thread BLAS product on it: no barriers, and
   * packing A once per thread is small next to >= 256 columns of work. The
   * slices depend only on the thread count, so results are deterministic. */
  if (threads > 1 && K > 0 && M <= 1024 && N / threads >= 256 && !omp_in_parallel()) {
    openblas_set_num_threads(1);
#pragma omp parallel for schedule(static) num_threads(threads)
    for (int t = 0; t < threads; t++) {
      const int n0 = t == 0 ? 0 : (int)((int64_t)N * t / threads) & ~15;
      const int n1 = t == threads - 1 ? N : (int)((int64_t)N * (t + 1) / threads) & ~15;
      if (n1 > n0)
        lmk_sgemm(false, false, M, n1 - n0, K, 1.0f, A, lda, B + n0, ldb, beta, C + n0, ldc);
    }
    openblas_set_num_threads(lmk_threads());
    return;
  }
#endif
  (void)threads;
  lmk_sgemm(false, false, M, N, K, 1.0f, A, lda, B, ldb, beta, C, ldc);
}

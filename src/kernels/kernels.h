/* Floor 2: pure compute on raw pointers. The only place that knows BLAS,
 * SIMD and OpenMP. No graph, no model. */
#ifndef LM_KERNELS_H
#define LM_KERNELS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Row-major C = alpha * op(A) . op(B) + beta * C, op(A) is M x K, op(B) K x N.
 * Uses CBLAS when built with LAMINA_HAVE_BLAS, else the portable blocked gemm. */
void lmk_sgemm(bool trans_a, bool trans_b, int M, int N, int K, float alpha, const float *A,
               int lda, const float *B, int ldb, float beta, float *C, int ldc);
/* The portable blocked gemm (always built; tested against the naive loop). */
void lmk_sgemm_portable(bool trans_a, bool trans_b, int M, int N, int K, float alpha,
                        const float *A, int lda, const float *B, int ldb, float beta, float *C,
                        int ldc);
/* Test and bench switch for the portable gemm: bit 0 forces the generic
 * (non-AVX2) microkernel, bit 1 the stack-buffer path. Returns the old mode. */
int lmk_gemm_set_mode(int mode);
/* C = A . B + beta C (row-major, alpha 1) for channels-last convolution
 * shapes: an AVX2+FMA kernel that reads A in place (no packing), parallel
 * over row blocks, deterministic for any thread count; lmk_sgemm when
 * lmk_sgemm_rows_ok is false (no AVX2/FMA, N % 8 != 0, K N > 128 Ki, M < 6). */
bool lmk_sgemm_rows_ok(int M, int N, int K);
void lmk_sgemm_rows(int M, int N, int K, const float *A, int lda, const float *B, int ldb,
                    float beta, float *C, int ldc, int threads);
/* Thread count for BLAS and OpenMP loops. */
void lmk_set_threads(int n);
int lmk_threads(void);
/* Seconds from a monotonic clock. */
double lmk_now(void);

#endif

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
/* Recurrent-layer kernels (rnn.c). Activations of a row, y = act(x) (y may
 * be x); the derivative written through the output y; tanh and sigmoid are
 * vectorised approximations within ~3e-7 relative of libm (lmk_tanhf and
 * lmk_sigmoidf are the same formulas one value at a time). */
enum { LMK_LINEAR, LMK_TANH, LMK_SIGMOID, LMK_HARD_SIGMOID, LMK_RELU };
void lmk_rnn_act(int kind, int n, const float *x, float *y);
void lmk_rnn_act_d(int kind, int n, const float *y, float *d);
float lmk_tanhf(float x);
float lmk_sigmoidf(float x);
/* C (m x n, row stride ldc) += A (m x k) . B (k x n), all row-major, without
 * packing: the small per-step products h . R of the recurrent ops. */
void lmk_rowmm(int m, int n, int k, const float *A, int lda, const float *B, int ldb, float *C,
               int ldc);
/* Test switch: mode bit 0 forces the generic (non-AVX2) builds of the rnn
 * kernels. Returns the old mode. */
int lmk_rnn_set_mode(int mode);
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

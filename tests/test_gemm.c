/* sgemm: lmk_sgemm (BLAS or portable) and lmk_sgemm_portable (each microkernel, and the
 * stack-buffer path) against a double-precision loop, for every transpose pair, odd sizes,
 * alpha/beta, padded leading dimensions, empty products, and run-to-run / thread-count
 * determinism. */
#include "testutil.h"

#include <math.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/kernels.h"

/* Internal (gemm_portable.c): mode bit 0 = generic microkernel, bit 1 = stack packing buffers
 * (the allocation-failure path). Returns the previous mode. */

typedef void (*gemm_fn)(bool, bool, int, int, int, float, const float *, int, const float *, int,
                        float, float *, int);

static const float SENTINEL = -12345.0f;

static uint64_t rng_state = 0x9e3779b97f4a7c15u;
static float rnd(void) { /* xorshift64*, uniform in [-1, 1) */
  rng_state ^= rng_state >> 12, rng_state ^= rng_state << 25, rng_state ^= rng_state >> 27;
  return (float)((rng_state * 0x2545f4914f6cdd1du) >> 40) / (float)(1 << 23) - 1.0f;
}

static float *rnd_matrix(size_t n) {
  float *p = malloc(n * sizeof *p);
  assert_non_null(p);
  for (size_t i = 0; i < n; i++) p[i] = rnd();
  return p;
}

/* One problem: op(A) is M x K, op(B) K x N, stored with padded leading dimensions. */
typedef struct problem {
  bool ta, tb;
  int M, N, K, lda, ldb, ldc;
  float alpha, beta;
  float *A, *B, *C0;    /* C0: C before the call (NaN where beta == 0 is tested) */
  double *ref, *scale;  /* expected C and the magnitude the rounding error scales with */
} problem;

static float at(const float *X, int ld, bool t, int r, int c) {
  return t ? X[(size_t)c * ld + r] : X[(size_t)r * ld + c];
}

static void problem_init(problem *p, bool ta, bool tb, int M, int N, int K, int pad, float alpha,
                         float beta, bool nan_c) {
  *p = (problem){.ta = ta, .tb = tb, .M = M, .N = N, .K = K, .alpha = alpha, .beta = beta};
  int a_rows = ta ? K : M, a_cols = ta ? M : K, b_rows = tb ? N : K, b_cols = tb ? K : N;
  p->lda = a_cols + pad, p->ldb = b_cols + pad, p->ldc = N + pad;
  p->A = rnd_matrix((size_t)a_rows * p->lda + 1);
  p->B = rnd_matrix((size_t)b_rows * p->ldb + 1);
  p->C0 = rnd_matrix((size_t)M * p->ldc + 1);
  for (int i = 0; i < M; i++)
    for (int j = N; j < p->ldc; j++) p->C0[(size_t)i * p->ldc + j] = SENTINEL;
  if (nan_c)
    for (int i = 0; i < M; i++)
      for (int j = 0; j < N; j++) p->C0[(size_t)i * p->ldc + j] = NAN;
  p->ref = malloc(((size_t)M * N + 1) * sizeof *p->ref);
  p->scale = malloc(((size_t)M * N + 1) * sizeof *p->scale);
  assert_non_null(p->ref);
  assert_non_null(p->scale);
  for (int i = 0; i < M; i++)
    for (int j = 0; j < N; j++) {
      double s = 0, mag = 0;
      for (int k = 0; k < K; k++) {
        double ab = (double)at(p->A, p->lda, ta, i, k) * at(p->B, p->ldb, tb, k, j);
        s += ab, mag += fabs(ab);
      }
      double c = p->C0[(size_t)i * p->ldc + j];
      double bc = beta == 0.0f ? 0.0 : beta * c;
      p->ref[(size_t)i * N + j] = alpha * s + bc;
      p->scale[(size_t)i * N + j] = fabs(alpha) * mag + fabs(bc);
    }
}

static void problem_free(problem *p) {
  free(p->A), free(p->B), free(p->C0), free(p->ref), free(p->scale);
}

/* Runs fn on a copy of C0 and returns the result (caller frees). */
static float *problem_run(const problem *p, gemm_fn fn) {
  size_t n = (size_t)p->M * p->ldc + 1;
  float *C = malloc(n * sizeof *C);
  assert_non_null(C);
  memcpy(C, p->C0, n * sizeof *C);
  fn(p->ta, p->tb, p->M, p->N, p->K, p->alpha, p->A, p->lda, p->B, p->ldb, p->beta, C, p->ldc);
  return C;
}

static void problem_check(const problem *p, const float *C, const char *what) {
  for (int i = 0; i < p->M; i++) {
    for (int j = 0; j < p->N; j++) {
      double got = C[(size_t)i * p->ldc + j], want = p->ref[(size_t)i * p->N + j];
      double tol = 1e-4 * (p->scale[(size_t)i * p->N + j] + 1e-6);
      if (!(fabs(got - want) <= tol))
        fail_msg("%s ta=%d tb=%d M=%d N=%d K=%d alpha=%g beta=%g: C[%d][%d] = %.9g, want %.9g",
                 what, p->ta, p->tb, p->M, p->N, p->K, p->alpha, p->beta, i, j, got, want);
    }
    for (int j = p->N; j < p->ldc; j++)
      if (C[(size_t)i * p->ldc + j] != SENTINEL) fail_msg("%s wrote past column N", what);
  }
  if (C[(size_t)p->M * p->ldc] != p->C0[(size_t)p->M * p->ldc]) fail_msg("%s wrote past C", what);
}

static void check_all_impls(const problem *p) {
  static const struct {
    const char *name;
    gemm_fn fn;
    int mode;
  } impls[] = {{"lmk_sgemm", lmk_sgemm, 0},
               {"portable", lmk_sgemm_portable, 0},
               {"portable/generic", lmk_sgemm_portable, 1},
               {"portable/stack", lmk_sgemm_portable, 2}};
  for (size_t i = 0; i < sizeof impls / sizeof impls[0]; i++) {
    int old = lmk_gemm_set_mode(impls[i].mode);
    float *C = problem_run(p, impls[i].fn);
    lmk_gemm_set_mode(old);
    problem_check(p, C, impls[i].name);
    free(C);
  }
}

/* The brief's odd sizes; one exact 6x16 tile; K over the one-step limit (three K steps); rows
 * and columns of one; N over two B blocks (2040 columns) with a ragged end. */
static const int SHAPES[][3] = {{1, 1, 1},    {7, 13, 5},    {65, 33, 129}, {300, 200, 257},
                                {6, 16, 256}, {13, 17, 600}, {1, 40, 3},    {40, 1, 3},
                                {5, 4200, 7}};

static void test_shapes_and_transposes(void **state) {
  (void)state;
  for (size_t s = 0; s < sizeof SHAPES / sizeof SHAPES[0]; s++)
    for (int t = 0; t < 4; t++) {
      problem p;
      problem_init(&p, t & 1, t & 2, SHAPES[s][0], SHAPES[s][1], SHAPES[s][2], 0, 1.0f, 0.0f,
                   false);
      check_all_impls(&p);
      problem_free(&p);
    }
}

static void test_alpha_beta(void **state) {
  (void)state;
  static const float ab[][2] = {{1.0f, 1.0f}, {0.5f, -2.0f}, {-1.5f, 0.25f}, {2.0f, 0.0f}};
  static const int shapes[][3] = {{7, 13, 5}, {65, 33, 129}, {300, 200, 257}};
  for (size_t s = 0; s < 3; s++)
    for (size_t k = 0; k < sizeof ab / sizeof ab[0]; k++)
      for (int t = 0; t < 4; t++) {
        problem p;
        problem_init(&p, t & 1, t & 2, shapes[s][0], shapes[s][1], shapes[s][2], 0, ab[k][0],
                     ab[k][1], false);
        check_all_impls(&p);
        problem_free(&p);
      }
}

/* beta == 0 must overwrite C even where it holds NaN. */
static void test_beta_zero_over_nan(void **state) {
  (void)state;
  for (size_t s = 0; s < sizeof SHAPES / sizeof SHAPES[0]; s++)
    for (int t = 0; t < 4; t++) {
      problem p;
      problem_init(&p, t & 1, t & 2, SHAPES[s][0], SHAPES[s][1], SHAPES[s][2], 3, 0.75f, 0.0f,
                   true);
      check_all_impls(&p);
      problem_free(&p);
    }
}

static void test_padded_leading_dims(void **state) {
  (void)state;
  static const int pads[] = {1, 5, 17};
  for (size_t s = 0; s < sizeof SHAPES / sizeof SHAPES[0]; s++)
    for (int t = 0; t < 4; t++) {
      problem p;
      problem_init(&p, t & 1, t & 2, SHAPES[s][0], SHAPES[s][1], SHAPES[s][2], pads[s % 3],
                   1.25f, 0.5f, false);
      check_all_impls(&p);
      problem_free(&p);
    }
}

/* lmk_sgemm_rows (the unpacked channels-last kernel, or lmk_sgemm where it
 * does not apply) against the double loop: full and ragged 6-row blocks,
 * 16- and 8-column blocks, beta 0 over NaN and beta 1, padded leading
 * dimensions, a shape it declines (N % 8 != 0), the column-sliced BLAS path
 * for wide B; bit-identical at 1 and 2 threads where the in-place kernel runs. */
static void test_rows_kernel(void **state) {
  (void)state;
  static const int shapes[][3] = {{6, 16, 1},   {7, 8, 5},     {13, 24, 32}, {100, 64, 576},
                                  {31, 40, 27}, {257, 128, 9}, {12, 125, 4}, {5, 16, 3},
                                  /* K N over the in-place limit, few rows, N / 2 >= 256: at 2
                                   * threads, one-thread BLAS products on column slices
                                   * (16-aligned, the second one ragged for 520) */
                                  {20, 520, 300}, {7, 1024, 130}};
  for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++)
    for (int v = 0; v < 2; v++) {
      problem p;
      float beta = v ? 1.0f : 0.0f;
      problem_init(&p, false, false, shapes[s][0], shapes[s][1], shapes[s][2], (int)s % 3, 1.0f,
                   beta, !v);
      float *C[2];
      for (int t = 0; t < 2; t++) {
        size_t n = (size_t)p.M * p.ldc + 1;
        C[t] = malloc(n * sizeof(float));
        assert_non_null(C[t]);
        memcpy(C[t], p.C0, n * sizeof(float));
        lmk_sgemm_rows(p.M, p.N, p.K, p.A, p.lda, p.B, p.ldb, p.beta, C[t], p.ldc, t + 1);
        problem_check(&p, C[t], "lmk_sgemm_rows");
      }
      if (lmk_sgemm_rows_ok(p.M, p.N, p.K))
        assert_memory_equal(C[0], C[1], sizeof(float) * (size_t)p.M * p.ldc);
      free(C[0]), free(C[1]);
      problem_free(&p);
    }
}

/* K == 0 or alpha == 0: C = beta * C, and A and B are never read. */
static void test_empty_products(void **state) {
  (void)state;
  gemm_fn fns[] = {lmk_sgemm, lmk_sgemm_portable};
  for (int f = 0; f < 2; f++) {
    float C[2 * 3] = {1, 2, 3, NAN, 5, 6};
    fns[f](false, false, 2, 3, 0, 1.0f, NULL, 0, NULL, 0, 2.0f, C, 3);
    assert_float_equal(C[0], 2.0f, 0);
    assert_float_equal(C[5], 12.0f, 0);
    fns[f](false, false, 2, 3, 0, 1.0f, NULL, 0, NULL, 0, 0.0f, C, 3);
    for (int i = 0; i < 6; i++) assert_float_equal(C[i], 0.0f, 0);

    float A[2 * 4] = {NAN, NAN, NAN, NAN, NAN, NAN, NAN, NAN}, B[4 * 3] = {0};
    float D[2 * 3] = {1, 2, 3, 4, 5, 6};
    fns[f](false, false, 2, 3, 4, 0.0f, A, 4, B, 3, -1.0f, D, 3);
    for (int i = 0; i < 6; i++) assert_float_equal(D[i], -(float)(i + 1), 0);

    /* M == 0 or N == 0: nothing happens, whatever the pointers */
    fns[f](true, true, 0, 3, 4, 1.0f, NULL, 1, NULL, 1, 0.0f, NULL, 1);
    float E[3] = {7, 8, 9};
    fns[f](false, false, 3, 0, 4, 1.0f, A, 4, B, 1, 0.0f, E, 1);
    assert_float_equal(E[0], 7.0f, 0);
  }
}

/* Same inputs, same thread count: the same bits. The portable gemm also gives the same bits
 * for 1 and 2 threads and with stack buffers (blocks and threads split M and N, never K). */
static void test_determinism(void **state) {
  (void)state;
  int saved = lmk_threads();
  static const int shapes[][3] = {{300, 200, 257}, {64, 1000, 288}, {1000, 64, 100}};
  for (size_t s = 0; s < 3; s++)
    for (int t = 0; t < 4; t++) {
      problem p;
      problem_init(&p, t & 1, t & 2, shapes[s][0], shapes[s][1], shapes[s][2], 2, 1.0f, 0.5f,
                   false);
      size_t bytes = ((size_t)p.M * p.ldc + 1) * sizeof(float);
      gemm_fn fns[] = {lmk_sgemm, lmk_sgemm_portable};
      for (int f = 0; f < 2; f++) {
        float *first[2];
        for (int nt = 1; nt <= 2; nt++) {
          lmk_set_threads(nt);
          first[nt - 1] = problem_run(&p, fns[f]);
          for (int rep = 0; rep < 2; rep++) {
            float *again = problem_run(&p, fns[f]);
            assert_memory_equal(first[nt - 1], again, bytes);
            free(again);
          }
        }
        problem_check(&p, first[1], f ? "portable 2 threads" : "lmk_sgemm 2 threads");
        if (f == 1) {
          assert_memory_equal(first[0], first[1], bytes);
          int old = lmk_gemm_set_mode(2); /* stack buffers, other blocking: same bits */
          float *stack = problem_run(&p, fns[f]);
          lmk_gemm_set_mode(old);
          assert_memory_equal(first[0], stack, bytes);
          free(stack);
        }
        free(first[0]), free(first[1]);
      }
      problem_free(&p);
    }
  lmk_set_threads(saved);
}

static void test_threads_and_clock(void **state) {
  (void)state;
  int saved = lmk_threads();
  assert_true(saved >= 1);
  lmk_set_threads(0);
  assert_int_equal(lmk_threads(), 1);
  lmk_set_threads(-3);
  assert_int_equal(lmk_threads(), 1);
  lmk_set_threads(2);
  assert_int_equal(lmk_threads(), 2);
  lmk_set_threads(saved);
  double t0 = lmk_now(), t1 = lmk_now();
  assert_true(t0 > 0 && t1 >= t0);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_shapes_and_transposes), cmocka_unit_test(test_alpha_beta),
      cmocka_unit_test(test_beta_zero_over_nan),    cmocka_unit_test(test_padded_leading_dims),
      cmocka_unit_test(test_empty_products),        cmocka_unit_test(test_determinism),
      cmocka_unit_test(test_threads_and_clock),     cmocka_unit_test(test_rows_kernel),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}

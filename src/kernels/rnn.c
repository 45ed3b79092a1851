/* Kernels of the recurrent ops (src/ops/lstm.c, simple_rnn.c): the gate
 * activations over a row of units and the small per-step product h . R.
 *
 * tanh is Eigen's 13/6 rational approximation (clamped at +-7.9053, where
 * tanh rounds to 1 - 2.7e-7), sigmoid is 1 / (1 + exp(-x)) with Cephes' expf
 * polynomial: both within ~3e-7 relative of libm over the float range (a test
 * checks). Every function has a generic C build (auto-vectorised) and an
 * AVX2+FMA build picked once at run time, as gemm_portable.c. The row product
 * does not pack: the recurrent kernel is small and reused every step, so it
 * stays in L1/L2, and each output element is summed in k order, the same on
 * every row (results do not depend on how the rows are split over threads). */
#include <math.h>
#include <string.h>

#include "kernels/kernels.h"

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#include <immintrin.h>
#define RNN_X86 1
#define AVX2_FN __attribute__((target("avx2,fma")))
#endif

/* ---- scalar forms (generic build and tails) ---- */

#define TANH_CLAMP 7.90531110763549805f
static const float ta[7] = {4.89352455891786e-03f,  6.37261928875436e-04f, 1.48572235717979e-05f,
                            5.12229709037114e-08f,  -8.60467152213735e-11f,
                            2.00018790482477e-13f,  -2.76076847742355e-16f};
static const float tb[4] = {4.89352518554385e-03f, 2.26843463243900e-03f, 1.18534705686654e-04f,
                            1.19825839466702e-06f};

static inline float tanh_s(float x) {
  float c = x > TANH_CLAMP ? TANH_CLAMP : x < -TANH_CLAMP ? -TANH_CLAMP : x;
  float x2 = c * c;
  float p = ta[6];
  for (int i = 5; i >= 0; i--) p = p * x2 + ta[i];
  float q = ((tb[3] * x2 + tb[2]) * x2 + tb[1]) * x2 + tb[0];
  float r = c * p / q;
  return fabsf(x) < 4e-4f ? x : r;
}

#define EXP_HI 88.3762626647949f
#define EXP_LO -88.3762626647949f
static const float ep[6] = {1.9875691500e-4f, 1.3981999507e-3f, 8.3334519073e-3f,
                            4.1665795894e-2f, 1.6666665459e-1f, 5.0000001201e-1f};

static inline float exp_s(float x) {
  x = x > EXP_HI ? EXP_HI : x < EXP_LO ? EXP_LO : x;
  float fx = floorf(x * 1.44269504088896341f + 0.5f);
  float r = x - fx * 0.693359375f + fx * 2.12194440e-4f;
  float y = ep[0];
  for (int i = 1; i < 6; i++) y = y * r + ep[i];
  y = y * r * r + r + 1.0f;
  int32_t e = ((int32_t)fx + 127) << 23;
  float s;
  memcpy(&s, &e, sizeof s);
  return y * s;
}

static inline float sigmoid_s(float x) { return 1.0f / (1.0f + exp_s(-x)); }

float lmk_tanhf(float x) { return tanh_s(x); }
float lmk_sigmoidf(float x) { return sigmoid_s(x); }

static inline float hard_sigmoid_s(float x) {
  float y = 0.2f * x + 0.5f;
  return y < 0.0f ? 0.0f : y > 1.0f ? 1.0f : y;
}

static void act_generic(int kind, int n, const float *x, float *y) {
  switch (kind) {
  case LMK_TANH:
    for (int i = 0; i < n; i++) y[i] = tanh_s(x[i]);
    break;
  case LMK_SIGMOID:
    for (int i = 0; i < n; i++) y[i] = sigmoid_s(x[i]);
    break;
  case LMK_HARD_SIGMOID:
    for (int i = 0; i < n; i++) y[i] = hard_sigmoid_s(x[i]);
    break;
  case LMK_RELU:
    for (int i = 0; i < n; i++) y[i] = x[i] > 0.0f ? x[i] : 0.0f;
    break;
  default:
    if (y != x) memmove(y, x, sizeof(float) * (size_t)n);
  }
}

static void rowmm_generic(int m, int n, int k, const float *A, int lda, const float *B, int ldb,
                          float *C, int ldc) {
  for (int i = 0; i < m; i++) {
    float *c = C + (size_t)i * (size_t)ldc;
    const float *a = A + (size_t)i * (size_t)lda;
    for (int p = 0; p < k; p++) {
      float ap = a[p];
      const float *b = B + (size_t)p * (size_t)ldb;
      for (int j = 0; j < n; j++) c[j] += ap * b[j];
    }
  }
}

/* ---- AVX2 + FMA ---- */

#ifdef RNN_X86
AVX2_FN static inline __m256 tanh_v(__m256 x) {
  __m256 lim = _mm256_set1_ps(TANH_CLAMP);
  __m256 c = _mm256_max_ps(_mm256_min_ps(x, lim), _mm256_sub_ps(_mm256_setzero_ps(), lim));
  __m256 x2 = _mm256_mul_ps(c, c);
  __m256 p = _mm256_set1_ps(ta[6]);
  for (int i = 5; i >= 0; i--) p = _mm256_fmadd_ps(p, x2, _mm256_set1_ps(ta[i]));
  __m256 q = _mm256_fmadd_ps(_mm256_set1_ps(tb[3]), x2, _mm256_set1_ps(tb[2]));
  q = _mm256_fmadd_ps(q, x2, _mm256_set1_ps(tb[1]));
  q = _mm256_fmadd_ps(q, x2, _mm256_set1_ps(tb[0]));
  __m256 r = _mm256_div_ps(_mm256_mul_ps(c, p), q);
  __m256 ax = _mm256_andnot_ps(_mm256_set1_ps(-0.0f), x);
  __m256 tiny = _mm256_cmp_ps(ax, _mm256_set1_ps(4e-4f), _CMP_LT_OQ);
  return _mm256_blendv_ps(r, x, tiny);
}

AVX2_FN static inline __m256 exp_v(__m256 x) {
  x = _mm256_max_ps(_mm256_min_ps(x, _mm256_set1_ps(EXP_HI)), _mm256_set1_ps(EXP_LO));
  __m256 fx = _mm256_floor_ps(
      _mm256_fmadd_ps(x, _mm256_set1_ps(1.44269504088896341f), _mm256_set1_ps(0.5f)));
  __m256 r = _mm256_fnmadd_ps(fx, _mm256_set1_ps(0.693359375f), x);
  r = _mm256_fmadd_ps(fx, _mm256_set1_ps(2.12194440e-4f), r);
  __m256 y = _mm256_set1_ps(ep[0]);
  for (int i = 1; i < 6; i++) y = _mm256_fmadd_ps(y, r, _mm256_set1_ps(ep[i]));
  y = _mm256_fmadd_ps(y, _mm256_mul_ps(r, r), _mm256_add_ps(r, _mm256_set1_ps(1.0f)));
  __m256i e = _mm256_slli_epi32(_mm256_add_epi32(_mm256_cvttps_epi32(fx), _mm256_set1_epi32(127)),
                                23);
  return _mm256_mul_ps(y, _mm256_castsi256_ps(e));
}

AVX2_FN static void act_avx2(int kind, int n, const float *x, float *y) {
  int i = 0;
  const __m256 one = _mm256_set1_ps(1.0f), zero = _mm256_setzero_ps();
  switch (kind) {
  case LMK_TANH:
    for (; i + 8 <= n; i += 8) _mm256_storeu_ps(y + i, tanh_v(_mm256_loadu_ps(x + i)));
    for (; i < n; i++) y[i] = tanh_s(x[i]);
    break;
  case LMK_SIGMOID:
    for (; i + 8 <= n; i += 8) {
      __m256 e = exp_v(_mm256_sub_ps(zero, _mm256_loadu_ps(x + i)));
      _mm256_storeu_ps(y + i, _mm256_div_ps(one, _mm256_add_ps(one, e)));
    }
    for (; i < n; i++) y[i] = sigmoid_s(x[i]);
    break;
  default:
    act_generic(kind, n, x, y);
  }
}

/* Two rows at a time, 32 columns per pass (8 accumulators), then 8-column
 * blocks and a scalar tail; one row left over runs the same code with m = 1. */
AVX2_FN static void rowmm_avx2(int m, int n, int k, const float *A, int lda, const float *B,
                               int ldb, float *C, int ldc) {
  int i = 0;
  for (; i < m; i += 2) {
    bool two = i + 1 < m;
    const float *a0 = A + (size_t)i * (size_t)lda, *a1 = two ? a0 + lda : a0;
    float *c0 = C + (size_t)i * (size_t)ldc, *c1 = two ? c0 + ldc : c0;
    int j = 0;
    for (; j + 32 <= n; j += 32) {
      __m256 x0 = _mm256_loadu_ps(c0 + j), x1 = _mm256_loadu_ps(c0 + j + 8),
             x2 = _mm256_loadu_ps(c0 + j + 16), x3 = _mm256_loadu_ps(c0 + j + 24);
      __m256 y0 = _mm256_loadu_ps(c1 + j), y1 = _mm256_loadu_ps(c1 + j + 8),
             y2 = _mm256_loadu_ps(c1 + j + 16), y3 = _mm256_loadu_ps(c1 + j + 24);
      const float *b = B + j;
      for (int p = 0; p < k; p++, b += ldb) {
        __m256 b0 = _mm256_loadu_ps(b), b1 = _mm256_loadu_ps(b + 8), b2 = _mm256_loadu_ps(b + 16),
               b3 = _mm256_loadu_ps(b + 24);
        __m256 u = _mm256_broadcast_ss(a0 + p), v = _mm256_broadcast_ss(a1 + p);
        x0 = _mm256_fmadd_ps(u, b0, x0), x1 = _mm256_fmadd_ps(u, b1, x1);
        x2 = _mm256_fmadd_ps(u, b2, x2), x3 = _mm256_fmadd_ps(u, b3, x3);
        y0 = _mm256_fmadd_ps(v, b0, y0), y1 = _mm256_fmadd_ps(v, b1, y1);
        y2 = _mm256_fmadd_ps(v, b2, y2), y3 = _mm256_fmadd_ps(v, b3, y3);
      }
      if (two) {
        _mm256_storeu_ps(c1 + j, y0), _mm256_storeu_ps(c1 + j + 8, y1);
        _mm256_storeu_ps(c1 + j + 16, y2), _mm256_storeu_ps(c1 + j + 24, y3);
      }
      _mm256_storeu_ps(c0 + j, x0), _mm256_storeu_ps(c0 + j + 8, x1);
      _mm256_storeu_ps(c0 + j + 16, x2), _mm256_storeu_ps(c0 + j + 24, x3);
    }
    for (; j + 8 <= n; j += 8) {
      __m256 x0 = _mm256_loadu_ps(c0 + j), y0 = _mm256_loadu_ps(c1 + j);
      const float *b = B + j;
      for (int p = 0; p < k; p++, b += ldb) {
        __m256 b0 = _mm256_loadu_ps(b);
        x0 = _mm256_fmadd_ps(_mm256_broadcast_ss(a0 + p), b0, x0);
        y0 = _mm256_fmadd_ps(_mm256_broadcast_ss(a1 + p), b0, y0);
      }
      if (two) _mm256_storeu_ps(c1 + j, y0);
      _mm256_storeu_ps(c0 + j, x0);
    }
    for (; j < n; j++) {
      float s0 = c0[j], s1 = c1[j];
      for (int p = 0; p < k; p++) {
        float bv = B[(size_t)p * (size_t)ldb + (size_t)j];
        s0 = fmaf(a0[p], bv, s0), s1 = fmaf(a1[p], bv, s1);
      }
      if (two) c1[j] = s1;
      c0[j] = s0;
    }
  }
}

static _Atomic int rnn_mode; /* bit 0: the generic build (tests) */

static bool use_avx2(void) {
  return !(rnn_mode & 1) && __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
}
#define PICK(generic, avx2) (use_avx2() ? (avx2) : (generic))
#else
#define PICK(generic, avx2) (generic)
#endif

int lmk_rnn_set_mode(int mode) {
#ifdef RNN_X86
  int old = rnn_mode;
  rnn_mode = mode;
  return old;
#else
  (void)mode;
  return 0;
#endif
}

typedef void (*act_fn)(int, int, const float *, float *);
typedef void (*rowmm_fn)(int, int, int, const float *, int, const float *, int, float *, int);

void lmk_rnn_act(int kind, int n, const float *x, float *y) {
  const act_fn fn = PICK(act_generic, act_avx2);
  fn(kind, n, x, y);
}

void lmk_rnn_act_d(int kind, int n, const float *y, float *d) {
  switch (kind) {
  case LMK_TANH:
    for (int i = 0; i < n; i++) d[i] = 1.0f - y[i] * y[i];
    break;
  case LMK_SIGMOID:
    for (int i = 0; i < n; i++) d[i] = y[i] * (1.0f - y[i]);
    break;
  case LMK_HARD_SIGMOID:
    for (int i = 0; i < n; i++) d[i] = (y[i] > 0.0f) & (y[i] < 1.0f) ? 0.2f : 0.0f;
    break;
  case LMK_RELU:
    for (int i = 0; i < n; i++) d[i] = y[i] > 0.0f ? 1.0f : 0.0f;
    break;
  default:
    for (int i = 0; i < n; i++) d[i] = 1.0f;
  }
}

void lmk_rowmm(int m, int n, int k, const float *A, int lda, const float *B, int ldb, float *C,
               int ldc) {
  if (m <= 0 || n <= 0 || k <= 0) return;
  const rowmm_fn fn = PICK(rowmm_generic, rowmm_avx2);
  fn(m, n, k, A, lda, B, ldb, C, ldc);
}

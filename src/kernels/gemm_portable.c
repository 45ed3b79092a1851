/* The portable sgemm: blocked and packed in the BLIS way, in plain C11.
 *
 * Loops, outer to inner: NC columns of C, KC steps of K (pack a KC x NC block of op(B) into
 * NR-wide panels), MC rows (pack an MC x KC block of op(A) into MR-tall panels), NR panels,
 * MR panels, and a microkernel that keeps an MR x NR tile of C in registers for the whole KC.
 *
 * Microkernels, chosen per call:
 *  - generic: GCC/Clang vector types (16-byte vectors, two 6x8 passes, under SSE2 or NEON;
 *    32-byte vectors, one 6x16 pass, when the compiler targets AVX), or plain scalar C for
 *    other compilers;
 *  - x86-64 with AVX2+FMA at run time: a 6x16 FMA kernel compiled with a target attribute,
 *    so the default build (no -march) still gets it and needs no extra flags.
 *
 * Determinism: every C element is summed by one microkernel call per KC step, in K order, and
 * KC depends on K only. How M and N are split into blocks and among threads never changes a
 * bit of the result, so 1 and n threads agree exactly (for one microkernel).
 *
 * Memory: the packing buffers are one buffer of the calling thread (_Thread_local, grown on
 * demand, kept for the thread's life and never freed: about (MC + NC) * KC floats = 2.2 MB
 * per thread used, for large M and N). The caller hands slices of it to the OpenMP workers, so
 * they own nothing. If it cannot grow, stack buffers with MC = MR and NC = NR give the same
 * bits, slower. No malloc in the steady state. */
#include "kernels/kernels.h"

#include <stdlib.h>
#include <string.h>

#ifdef _OPENMP
#include <omp.h>
#endif

#if defined(__GNUC__) && defined(__x86_64__)
#include <immintrin.h>
#define LMK_GEMM_X86 1
#endif

enum {
  MR = 6,
  NR = 16,
  KC = 256,     /* K step: the KC x NR micro-panel of B stays in L1 */
  KC_ONE = 384, /* K up to this is one step: A's rows then stream whole */
  MC = 120,     /* MC x KC of A: 120 KiB, in L2 */
  NC = 2040,    /* KC x NC of B: 2 MiB, in L3 */
  ALIGN = 64
};

/* Up to this many multiply-adds one thread is as fast as two (on the 2-core Zen 3: 128x32x64
 * gains nothing from a second thread, 64x128x64 gains about 1.4x, 128x128x96 1.4x). */
#define PAR_MIN_MACS (1 << 19)

typedef void (*ukernel_fn)(int kc, const float *pa, const float *pb, float *C, size_t ldc,
                           int m, int n, float alpha, float beta);

typedef struct gemm_args {
  bool ta, tb;
  int M, N, K;
  float alpha, beta;
  const float *A, *B;
  float *C;
  size_t lda, ldb, ldc;
  ukernel_fn kernel;
} gemm_args;

static int min_i(int a, int b) { return a < b ? a : b; }
static int ceil_div(int a, int b) { return (a + b - 1) / b; }
static int round_up(int a, int b) { return ceil_div(a, b) * b; }

/* C (m x n) = beta * C, where beta == 0 writes zeros even over NaN. */
static void scale_c(int m, int n, float beta, float *C, size_t ldc) {
  if (beta == 1.0f) return;
  for (int i = 0; i < m; i++) {
    float *c = C + (size_t)i * ldc;
    if (beta == 0.0f)
      memset(c, 0, (size_t)n * sizeof *c);
    else
      for (int j = 0; j < n; j++) c[j] *= beta;
  }
}

/* ---- tile write-back, shared by the microkernels ---- */

/* C (m x n) = alpha * T + beta * C, T an MR x NR tile. beta == 0 never reads C. */
static void tile_store(const float *restrict t, float *restrict C, size_t ldc, int m, int n,
                       float alpha, float beta) {
  if (m == MR && n == NR) {
    for (int i = 0; i < MR; i++) {
      float *restrict c = C + (size_t)i * ldc;
      const float *restrict ti = t + i * NR;
      if (beta == 0.0f)
        for (int j = 0; j < NR; j++) c[j] = alpha * ti[j];
      else
        for (int j = 0; j < NR; j++) c[j] = alpha * ti[j] + beta * c[j];
    }
    return;
  }
  for (int i = 0; i < m; i++) {
    float *restrict c = C + (size_t)i * ldc;
    const float *restrict ti = t + i * NR;
    for (int j = 0; j < n; j++) c[j] = beta == 0.0f ? alpha * ti[j] : alpha * ti[j] + beta * c[j];
  }
}

/* ---- generic microkernel ---- */

#if defined(__GNUC__)
#if defined(__AVX__)
#define VBYTES 32
#else
#define VBYTES 16
#endif
typedef float vf __attribute__((vector_size(VBYTES)));
enum { VL = VBYTES / 4, PASS_W = 2 * VL }; /* 6 rows x 2 vectors = 12 accumulators a pass */

static void kernel_generic(int kc, const float *pa, const float *pb, float *C, size_t ldc, int m,
                           int n, float alpha, float beta) {
  _Alignas(ALIGN) float t[MR * NR];
  for (int h = 0; h < NR; h += PASS_W) {
    vf c0a = {0}, c0b = {0}, c1a = {0}, c1b = {0}, c2a = {0}, c2b = {0};
    vf c3a = {0}, c3b = {0}, c4a = {0}, c4b = {0}, c5a = {0}, c5b = {0};
    const float *a = pa, *b = pb + h;
    for (int k = 0; k < kc; k++, a += MR, b += NR) {
      vf b0, b1;
      memcpy(&b0, b, sizeof b0);
      memcpy(&b1, b + VL, sizeof b1);
      c0a += a[0] * b0, c0b += a[0] * b1;
      c1a += a[1] * b0, c1b += a[1] * b1;
      c2a += a[2] * b0, c2b += a[2] * b1;
      c3a += a[3] * b0, c3b += a[3] * b1;
      c4a += a[4] * b0, c4b += a[4] * b1;
      c5a += a[5] * b0, c5b += a[5] * b1;
    }
    const vf acc[MR][2] = {{c0a, c0b}, {c1a, c1b}, {c2a, c2b},
                           {c3a, c3b}, {c4a, c4b}, {c5a, c5b}};
    for (int i = 0; i < MR; i++) memcpy(t + i * NR + h, acc[i], sizeof acc[i]);
  }
  tile_store(t, C, ldc, m, n, alpha, beta);
}
#else
static void kernel_generic(int kc, const float *pa, const float *pb, float *C, size_t ldc, int m,
                           int n, float alpha, float beta) {
  float t[MR * NR] = {0};
  for (int k = 0; k < kc; k++, pa += MR, pb += NR)
    for (int i = 0; i < MR; i++)
      for (int j = 0; j < NR; j++) t[i * NR + j] += pa[i] * pb[j];
  tile_store(t, C, ldc, m, n, alpha, beta);
}
#endif

/* ---- x86-64 AVX2 + FMA microkernel, chosen at run time ---- */

#ifdef LMK_GEMM_X86
#define AVX2_FN __attribute__((target("avx2,fma")))

AVX2_FN static inline void row_store(float *c, __m256 lo, __m256 hi, __m256 va, __m256 vb,
                                     bool zero_beta) {
  if (zero_beta) {
    _mm256_storeu_ps(c, _mm256_mul_ps(va, lo));
    _mm256_storeu_ps(c + 8, _mm256_mul_ps(va, hi));
  } else {
    /* alpha*acc + beta*c, rounded as in tile_store */
    _mm256_storeu_ps(c, _mm256_add_ps(_mm256_mul_ps(va, lo), _mm256_mul_ps(vb, _mm256_loadu_ps(c))));
    _mm256_storeu_ps(c + 8, _mm256_add_ps(_mm256_mul_ps(va, hi),
                                          _mm256_mul_ps(vb, _mm256_loadu_ps(c + 8))));
  }
}

AVX2_FN static void kernel_avx2(int kc, const float *pa, const float *pb, float *C, size_t ldc,
                                int m, int n, float alpha, float beta) {
  __m256 c0a = _mm256_setzero_ps(), c0b = c0a, c1a = c0a, c1b = c0a, c2a = c0a, c2b = c0a;
  __m256 c3a = c0a, c3b = c0a, c4a = c0a, c4b = c0a, c5a = c0a, c5b = c0a;
  for (int k = 0; k < kc; k++, pa += MR, pb += NR) {
    __m256 b0 = _mm256_load_ps(pb), b1 = _mm256_load_ps(pb + 8), a;
    a = _mm256_broadcast_ss(pa + 0);
    c0a = _mm256_fmadd_ps(a, b0, c0a), c0b = _mm256_fmadd_ps(a, b1, c0b);
    a = _mm256_broadcast_ss(pa + 1);
    c1a = _mm256_fmadd_ps(a, b0, c1a), c1b = _mm256_fmadd_ps(a, b1, c1b);
    a = _mm256_broadcast_ss(pa + 2);
    c2a = _mm256_fmadd_ps(a, b0, c2a), c2b = _mm256_fmadd_ps(a, b1, c2b);
    a = _mm256_broadcast_ss(pa + 3);
    c3a = _mm256_fmadd_ps(a, b0, c3a), c3b = _mm256_fmadd_ps(a, b1, c3b);
    a = _mm256_broadcast_ss(pa + 4);
    c4a = _mm256_fmadd_ps(a, b0, c4a), c4b = _mm256_fmadd_ps(a, b1, c4b);
    a = _mm256_broadcast_ss(pa + 5);
    c5a = _mm256_fmadd_ps(a, b0, c5a), c5b = _mm256_fmadd_ps(a, b1, c5b);
  }
  if (m == MR && n == NR) {
    __m256 va = _mm256_set1_ps(alpha), vb = _mm256_set1_ps(beta);
    bool z = beta == 0.0f;
    row_store(C, c0a, c0b, va, vb, z);
    row_store(C + ldc, c1a, c1b, va, vb, z);
    row_store(C + 2 * ldc, c2a, c2b, va, vb, z);
    row_store(C + 3 * ldc, c3a, c3b, va, vb, z);
    row_store(C + 4 * ldc, c4a, c4b, va, vb, z);
    row_store(C + 5 * ldc, c5a, c5b, va, vb, z);
    _mm256_zeroupper(); /* as below; unoptimised builds emit none here either */
    return;
  }
  _Alignas(ALIGN) float t[MR * NR];
  const __m256 acc[MR * 2] = {c0a, c0b, c1a, c1b, c2a, c2b, c3a, c3b, c4a, c4b, c5a, c5b};
  for (int i = 0; i < MR * 2; i++) _mm256_store_ps(t + 8 * i, acc[i]);
  /* GCC (12) puts no vzeroupper before this call. With the upper YMM halves left dirty,
   * SSE-encoded code that calls libm's VEX-encoded expf/tanhf (the recurrent ops' gate
   * loops) pays a state-transition penalty on every call: 130 ns instead of 5 ns per expf
   * on the project's AMD EPYC host, the sigmoid LSTM's forward about 6x slower.
   * tests/test_ymm_clean.c checks the state after a gemm. */
  _mm256_zeroupper();
  tile_store(t, C, ldc, m, n, alpha, beta);
}
#endif

/* A hook for tests and benchmarks, to reach the paths this CPU would not take: mode bit 0
 * picks the generic microkernel, bit 1 packs into stack buffers (the path taken when the
 * packing buffer cannot grow). Returns the previous mode. Not meant to be changed while
 * another thread runs a gemm. */
int lmk_gemm_set_mode(int mode);

enum { MODE_GENERIC = 1, MODE_STACK = 2 };
static _Atomic int gemm_mode;

int lmk_gemm_set_mode(int mode) {
  int old = gemm_mode;
  gemm_mode = mode;
  return old;
}

static ukernel_fn pick_kernel(void) {
#ifdef LMK_GEMM_X86
  if (!(gemm_mode & MODE_GENERIC) && __builtin_cpu_supports("avx2") &&
      __builtin_cpu_supports("fma"))
    return kernel_avx2;
#endif
  return kernel_generic;
}

/* ---- packing ---- */

/* Packing reads A and B from memory once. Their rows are read in short runs (KC floats) that
 * the hardware prefetchers pick up too late, so the next runs are prefetched by hand: this
 * made packing-bound shapes (M or N small) about 20% faster. */
#if defined(__GNUC__)
#define PREFETCH(p) __builtin_prefetch(p)
#else
#define PREFETCH(p) ((void)(p))
#endif
enum { PF_ROWS = 4, LINE_FLOATS = 16 };

/* MR-tall panels of op(A)[i0.., p0..], k-major inside a panel, zero rows past mc.
 * Sources are read along their rows, several rows at once, so the hardware prefetchers see
 * long streams: that, not the copying, is what packing costs when A comes from memory. */
static void pack_a(const gemm_args *g, int i0, int p0, int mc, int kc, float *dst) {
  int full = mc / MR * MR;
  if (g->ta) { /* op(A) row i is column i of A: read A's rows k across the whole block */
    for (int k = 0; k < kc; k++) {
      const float *s = g->A + (size_t)(p0 + k) * g->lda + i0;
      float *d = dst + k * MR;
      if (k + PF_ROWS < kc)
        for (int i = 0; i < mc; i += LINE_FLOATS) PREFETCH(s + PF_ROWS * g->lda + i);
      for (int ir = 0; ir < full; ir += MR, d += (size_t)MR * kc)
        for (int r = 0; r < MR; r++) d[r] = s[ir + r];
    }
  } else {
    for (int ir = 0; ir < full; ir += MR) {
      const float *s = g->A + (size_t)(i0 + ir) * g->lda + p0;
      const float *s0 = s, *s1 = s0 + g->lda, *s2 = s1 + g->lda, *s3 = s2 + g->lda;
      const float *s4 = s3 + g->lda, *s5 = s4 + g->lda;
      const float *next = ir + MR < full ? s + MR * g->lda : s;
      float *d = dst + (size_t)ir * kc;
      for (int k = 0; k < kc; k++, d += MR) {
        if (k % LINE_FLOATS == 0)
          for (int r = 0; r < MR; r++) PREFETCH(next + r * g->lda + k);
        d[0] = s0[k], d[1] = s1[k], d[2] = s2[k];
        d[3] = s3[k], d[4] = s4[k], d[5] = s5[k];
      }
    }
  }
  if (full == mc) return;
  float *d = dst + (size_t)full * kc;
  memset(d, 0, (size_t)MR * kc * sizeof *d);
  for (int r = 0; r < mc - full; r++)
    for (int k = 0; k < kc; k++) {
      int i = i0 + full + r, p = p0 + k;
      d[k * MR + r] = g->ta ? g->A[(size_t)p * g->lda + i] : g->A[(size_t)i * g->lda + p];
    }
}

/* NR-wide panels of op(B)[p0.., j0..], k-major inside a panel, zero columns past nc. */
static void pack_b(const gemm_args *g, int p0, int j0, int kc, int nc, float *dst) {
  int full = nc / NR * NR;
  if (g->tb) { /* op(B) column j is row j of B: NR rows read side by side */
    for (int jr = 0; jr < full; jr += NR) {
      float *d = dst + (size_t)jr * kc;
      for (int c = 0; c < NR; c++) {
        const float *s = g->B + (size_t)(j0 + jr + c) * g->ldb + p0;
        const float *next = jr + NR < full ? s + NR * g->ldb : s;
        for (int k = 0; k < kc; k += LINE_FLOATS) PREFETCH(next + k);
        for (int k = 0; k < kc; k++) d[k * NR + c] = s[k];
      }
    }
  } else { /* whole rows of B, dealt out to the panels */
    for (int k = 0; k < kc; k++) {
      const float *s = g->B + (size_t)(p0 + k) * g->ldb + j0;
      float *d = dst + k * NR;
      if (k + 1 < kc)
        for (int j = 0; j < nc; j += 4 * LINE_FLOATS) PREFETCH(s + g->ldb + j);
      for (int jr = 0; jr < full; jr += NR, d += (size_t)NR * kc) memcpy(d, s + jr, NR * sizeof *d);
    }
  }
  if (full == nc) return;
  float *d = dst + (size_t)full * kc;
  memset(d, 0, (size_t)NR * kc * sizeof *d);
  for (int k = 0; k < kc; k++)
    for (int c = 0; c < nc - full; c++) {
      int j = j0 + full + c, p = p0 + k;
      d[k * NR + c] = g->tb ? g->B[(size_t)j * g->ldb + p] : g->B[(size_t)p * g->ldb + j];
    }
}

/* ---- blocked driver ---- */

/* The K step: K itself up to KC_ONE (A rows then stream whole from memory), else blocks of at
 * most KC, balanced so a K just over KC does not leave a sliver. */
static int k_step(int K) { return K <= KC_ONE ? K : ceil_div(K, ceil_div(K, KC)); }

/* Columns in a B block: NC, fewer when the K step is over KC so the block stays KC x NC. */
static int nc_block(int kstep) { return min_i(NC, (int)((long)NC * KC / kstep) / NR * NR); }

/* Block of m0..m1 x n0..n1 of C with blocks of at most mc_max x nc_max (multiples of MR, NR). */
static void gemm_part(const gemm_args *g, int m0, int m1, int n0, int n1, int mc_max, int nc_max,
                      float *buf_a, float *buf_b) {
  int kstep = k_step(g->K);
  int mstep = round_up(ceil_div(m1 - m0, ceil_div(m1 - m0, mc_max)), MR);
  for (int jc = n0; jc < n1; jc += nc_max) {
    int nc = min_i(nc_max, n1 - jc);
    for (int pc = 0; pc < g->K; pc += kstep) {
      int kc = min_i(kstep, g->K - pc);
      float beta = pc == 0 ? g->beta : 1.0f;
      pack_b(g, pc, jc, kc, nc, buf_b);
      for (int ic = m0; ic < m1; ic += mstep) {
        int mc = min_i(mstep, m1 - ic);
        pack_a(g, ic, pc, mc, kc, buf_a);
        for (int jr = 0; jr < nc; jr += NR) {
          const float *pb = buf_b + (size_t)jr * kc;
          float *c = g->C + (size_t)ic * g->ldc + jc + jr;
          for (int ir = 0; ir < mc; ir += MR)
            g->kernel(kc, buf_a + (size_t)ir * kc, pb, c + (size_t)ir * g->ldc, g->ldc,
                      min_i(MR, mc - ir), min_i(NR, nc - jr), g->alpha, beta);
        }
      }
    }
  }
}

/* Packing floats one part of rows x cols needs: A block then B block, each ALIGN-rounded. */
static size_t part_floats(int rows, int cols, int K, size_t *a_floats) {
  size_t kc = (size_t)k_step(K);
  size_t a = (size_t)round_up(min_i(rows, MC), MR) * kc;
  size_t b = (size_t)round_up(min_i(cols, nc_block((int)kc)), NR) * kc;
  a = (a + ALIGN / 4 - 1) / (ALIGN / 4) * (ALIGN / 4);
  b = (b + ALIGN / 4 - 1) / (ALIGN / 4) * (ALIGN / 4);
  *a_floats = a;
  return a + b;
}

static void run_part(const gemm_args *g, int m0, int m1, int n0, int n1, float *buf,
                     size_t a_floats) {
  if (buf) {
    gemm_part(g, m0, m1, n0, n1, MC, nc_block(k_step(g->K)), buf, buf + a_floats);
  } else {
    _Alignas(ALIGN) float a[MR * KC_ONE], b[KC_ONE * NR];
    gemm_part(g, m0, m1, n0, n1, MR, NR, a, b);
  }
}

static _Thread_local float *tl_buf;
static _Thread_local size_t tl_cap;

/* The calling thread's packing buffer, at least n floats; NULL if it cannot grow. */
static float *pack_buffer(size_t n) {
  if (n > tl_cap) {
    free(tl_buf);
    size_t bytes = (n * sizeof(float) + ALIGN - 1) / ALIGN * ALIGN;
    tl_buf = aligned_alloc(ALIGN, bytes);
    tl_cap = tl_buf ? n : 0;
  }
  return tl_buf;
}

/* Split C into tm x tn parts (tm * tn <= nt) so that the repacking this causes (A once per
 * column part, B once per row part) is smallest. */
static void choose_grid(int M, int N, int nt, int *tm, int *tn) {
  int um = ceil_div(M, MR), un = ceil_div(N, NR);
  *tm = *tn = 1;
  for (int t = nt; t > 1; t--) {
    double best = -1;
    for (int a = 1; a <= t; a++) {
      int b = t / a;
      if (a * b != t || a > um || b > un) continue;
      double cost = (double)b * M + (double)a * N;
      if (best < 0 || cost < best) best = cost, *tm = a, *tn = b;
    }
    if (best >= 0) return;
  }
}

void lmk_sgemm_portable(bool trans_a, bool trans_b, int M, int N, int K, float alpha,
                        const float *A, int lda, const float *B, int ldb, float beta, float *C,
                        int ldc) {
  if (M <= 0 || N <= 0) return;
  if (K <= 0 || alpha == 0.0f) {
    scale_c(M, N, beta, C, (size_t)ldc);
    return;
  }
  gemm_args g = {.ta = trans_a, .tb = trans_b, .M = M, .N = N, .K = K, .alpha = alpha,
                 .beta = beta, .A = A, .B = B, .C = C, .lda = (size_t)lda, .ldb = (size_t)ldb,
                 .ldc = (size_t)ldc, .kernel = pick_kernel()};
  int nt = 1;
#ifdef _OPENMP
  if ((double)M * N * K > PAR_MIN_MACS && !omp_in_parallel()) nt = lmk_threads();
#endif
  int tm = 1, tn = 1;
  if (nt > 1) choose_grid(M, N, nt, &tm, &tn);
  nt = tm * tn;
  int rows = round_up(ceil_div(M, tm), MR), cols = round_up(ceil_div(N, tn), NR);
  size_t a_floats, per = part_floats(rows, cols, K, &a_floats);
  float *buf = gemm_mode & MODE_STACK ? NULL : pack_buffer(per * (size_t)nt);
  if (nt == 1) {
    run_part(&g, 0, M, 0, N, buf, a_floats);
    return;
  }
#ifdef _OPENMP
  int um = ceil_div(M, MR), un = ceil_div(N, NR);
#pragma omp parallel for num_threads(nt) schedule(static, 1)
  for (int p = 0; p < nt; p++) {
    int pm = p / tn, pn = p % tn;
    int m0 = min_i(M, (int)((long long)um * pm / tm) * MR);
    int m1 = min_i(M, (int)((long long)um * (pm + 1) / tm) * MR);
    int n0 = min_i(N, (int)((long long)un * pn / tn) * NR);
    int n1 = min_i(N, (int)((long long)un * (pn + 1) / tn) * NR);
    if (m0 < m1 && n0 < n1) run_part(&g, m0, m1, n0, n1, buf ? buf + per * p : NULL, a_floats);
  }
#endif
}

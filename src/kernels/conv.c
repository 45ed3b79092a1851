/* NHWC convolution by im2col + sgemm, and col2im for the input gradient. */
#include "kernels/conv.h"

#include <assert.h>
#include <limits.h>
#include <string.h>

#include "kernels/kernels.h"

#ifdef _OPENMP
#include <omp.h>
#endif

#include "kernels/par.h"

/* Budget for one im2col chunk: 512 Ki floats (2 MiB), so that the matrix the
 * gemm reads right after im2col wrote it is still in cache (at least one image). */
#define LMK_COL_BUDGET ((int64_t)1 << 19)

bool lmk_conv2d_is_gemm(const lmk_conv_geom *p) {
  return p->kh == 1 && p->kw == 1 && p->sh == 1 && p->sw == 1 && p->pad_top == 0 &&
         p->pad_left == 0 && p->oh == p->ih && p->ow == p->iw;
}

/* The thread count that sizes the scratch: the plan's, so that the scratch a
 * plan reserved fits the run even if another context changed lmk_threads(). */
static int geom_threads(const lmk_conv_geom *p) {
  const int t = p->threads > 0 ? p->threads : lmk_threads();
  return t > 0 ? t : 1;
}

int lmk_conv2d_chunk(const lmk_conv_geom *p) {
  int64_t per = (int64_t)p->oh * p->ow * p->kh * p->kw * p->ic;
  if (per <= 0 || p->n <= 0) return 1;
  int64_t c = LMK_COL_BUDGET / per;
  const int t = geom_threads(p);
  if (c < t) c = t; /* one image per thread: see per_image */
  if (c > p->n) c = p->n;
  return (int)c;
}

/* With at least one image per thread and the unpacked gemm, each thread
 * runs im2col and the gemm of whole images on its own (slot t of the chunk
 * buffer): one parallel region per call instead of two per chunk, and the
 * image's im2col matrix stays in that core's cache. Images are independent
 * outputs, so the result is the same for any thread count. */
static bool per_image(const lmk_conv_geom *g, int chunk, int threads) {
  const int64_t pix = (int64_t)g->oh * g->ow, K = (int64_t)g->kh * g->kw * g->ic;
  return threads > 1 && g->n >= threads && chunk >= threads && pix <= INT_MAX &&
         K <= INT_MAX && lmk_sgemm_rows_ok((int)pix, g->oc, (int)K);
}

/* out (n images) = beta out + im2col(src) . B, B (K x oc) */
static void conv_per_image(const lmk_conv_geom *g, const float *src, const float *B, float beta,
                           float *out, float *col, int threads) {
  const int64_t pix = (int64_t)g->oh * g->ow, K = (int64_t)g->kh * g->kw * g->ic;
  const int64_t img = (int64_t)g->ih * g->iw * g->ic;
#ifdef _OPENMP
#pragma omp parallel num_threads(threads)
  {
    float *mine = col + (int64_t)omp_get_thread_num() * pix * K;
#pragma omp for schedule(static)
    for (int im = 0; im < g->n; im++) {
      lmk_im2col(g, src + im * img, 1, mine, 1);
      lmk_sgemm_rows((int)pix, g->oc, (int)K, mine, (int)K, B, g->oc, beta,
                     out + im * pix * g->oc, g->oc, 1);
    }
  }
#else
  (void)threads;
  for (int im = 0; im < g->n; im++) {
    lmk_im2col(g, src + im * img, 1, col, 1);
    lmk_sgemm_rows((int)pix, g->oc, (int)K, col, (int)K, B, g->oc, beta, out + im * pix * g->oc,
                   g->oc, 1);
  }
#endif
}

/* Stride 1: the input gradient is itself a stride-1 convolution of dy with
 * the kernel turned by 180 degrees and its channel axes swapped (kh, kw, oc,
 * ic), over pads (k - 1) d - pad. That is im2col(dy) . w' straight into dx:
 * no col2im scatter, no zeroing pass for a beta = 0 gemm. */
static bool dx_as_conv(const lmk_conv_geom *p) { return p->sh == 1 && p->sw == 1; }

static lmk_conv_geom dx_geom(const lmk_conv_geom *p) {
  lmk_conv_geom q = *p;
  q.ih = p->oh;
  q.iw = p->ow;
  q.ic = p->oc;
  q.oh = p->ih;
  q.ow = p->iw;
  q.oc = p->ic;
  q.pad_top = (p->kh - 1) * p->dh - p->pad_top;
  q.pad_left = (p->kw - 1) * p->dw - p->pad_left;
  return q;
}

/* ---- Implicit GEMM (AVX2 + FMA) ----------------------------------------
 * The im2col matrix of a convolution is never formed: a block of 6 output
 * pixels keeps, per tap, a pointer to each pixel's input channel run (or to
 * a row of zeros where the tap falls into the padding), and the 6 x 16 FMA
 * microkernel of lmk_sgemm_rows walks the taps and channels in the im2col
 * column order (ki, kj, c). So every output element is the same k-ordered
 * FMA chain as im2col + lmk_sgemm_rows gave (bit for bit), without writing
 * and re-reading a 2.3 MiB matrix per image (larger than L2), and without
 * the scratch. Row blocks are split over the threads: deterministic for any
 * thread count.
 *
 * The weight gradient dw[t, c, o] = sum over pixels x[shift_t(pixel), c] .
 * dy[pixel, o] works on x and dy in place too: 6 (c) x 16 (o) accumulators
 * run over the valid pixels of a tap, a block of output rows at a time, and
 * the threads split the rows of dw (tap, channel block): every dw element is
 * one thread's chain over the pixels in order, for any thread count, with no
 * private copies and no reduction. */
#if defined(__GNUC__) && (defined(__x86_64__) || defined(__i386__))
#include <immintrin.h>
#define CV_X86 1

enum { IM_MR = 6, IM_MAX_IC = 1024, IM_MAX_TAPS = 64 };
static const float im_zero[IM_MAX_IC];

/* ic >= 16: the channel run per tap is long enough that the implicit walk
 * costs nothing next to im2col; the rest as lmk_sgemm_rows_ok. */
static bool implicit_ok(const lmk_conv_geom *g) {
  const int64_t K = (int64_t)g->kh * g->kw * g->ic;
  return g->ic >= 16 && g->ic <= IM_MAX_IC && g->kh * g->kw <= IM_MAX_TAPS && K <= INT_MAX &&
         lmk_sgemm_rows_ok(IM_MR, g->oc, (int)K);
}

/* a: taps x IM_MR pointers; C: row q0 of the output (ldc = N); bias (may be
 * NULL) added and relu applied in the epilogue; beta != 0 adds C. */
__attribute__((target("avx2,fma"), always_inline)) static inline void imp_body(
    int mr, int taps, int ic, int N, const float *const *a, const float *B, const float *bias,
    float beta, int relu, float *C) {
  int j = 0;
  const __m256 zero = _mm256_setzero_ps();
  for (; j + 16 <= N; j += 16) {
    __m256 c0[IM_MR], c1[IM_MR];
    for (int r = 0; r < IM_MR; r++) c0[r] = c1[r] = _mm256_setzero_ps();
    const float *b = B + j;
    for (int t = 0; t < taps; t++) {
      const float *const *at = a + t * IM_MR;
      for (int k = 0; k < ic; k++, b += N) {
        const __m256 b0 = _mm256_loadu_ps(b), b1 = _mm256_loadu_ps(b + 8);
        for (int r = 0; r < mr; r++) {
          const __m256 av = _mm256_broadcast_ss(at[r] + k);
          c0[r] = _mm256_fmadd_ps(av, b0, c0[r]);
          c1[r] = _mm256_fmadd_ps(av, b1, c1[r]);
        }
      }
    }
    for (int r = 0; r < mr; r++) {
      float *c = C + (int64_t)r * N + j;
      if (bias) {
        c0[r] = _mm256_add_ps(_mm256_loadu_ps(bias + j), c0[r]);
        c1[r] = _mm256_add_ps(_mm256_loadu_ps(bias + j + 8), c1[r]);
      }
      if (beta != 0.0f) {
        const __m256 bv = _mm256_set1_ps(beta);
        c0[r] = _mm256_fmadd_ps(bv, _mm256_loadu_ps(c), c0[r]);
        c1[r] = _mm256_fmadd_ps(bv, _mm256_loadu_ps(c + 8), c1[r]);
      }
      if (relu) {
        c0[r] = _mm256_max_ps(c0[r], zero);
        c1[r] = _mm256_max_ps(c1[r], zero);
      }
      _mm256_storeu_ps(c, c0[r]);
      _mm256_storeu_ps(c + 8, c1[r]);
    }
  }
  for (; j + 8 <= N; j += 8) {
    __m256 c0[IM_MR];
    for (int r = 0; r < IM_MR; r++) c0[r] = _mm256_setzero_ps();
    const float *b = B + j;
    for (int t = 0; t < taps; t++) {
      const float *const *at = a + t * IM_MR;
      for (int k = 0; k < ic; k++, b += N) {
        const __m256 b0 = _mm256_loadu_ps(b);
        for (int r = 0; r < mr; r++)
          c0[r] = _mm256_fmadd_ps(_mm256_broadcast_ss(at[r] + k), b0, c0[r]);
      }
    }
    for (int r = 0; r < mr; r++) {
      float *c = C + (int64_t)r * N + j;
      if (bias) c0[r] = _mm256_add_ps(_mm256_loadu_ps(bias + j), c0[r]);
      if (beta != 0.0f) c0[r] = _mm256_fmadd_ps(_mm256_set1_ps(beta), _mm256_loadu_ps(c), c0[r]);
      if (relu) c0[r] = _mm256_max_ps(c0[r], zero);
      _mm256_storeu_ps(c, c0[r]);
    }
  }
}

__attribute__((target("avx2,fma"))) static void imp_full(int taps, int ic, int N,
                                                        const float *const *a, const float *B,
                                                        const float *bias, float beta, int relu,
                                                        float *C) {
  imp_body(IM_MR, taps, ic, N, a, B, bias, beta, relu, C);
}
__attribute__((target("avx2,fma"))) static void imp_tail(int mr, int taps, int ic, int N,
                                                        const float *const *a, const float *B,
                                                        const float *bias, float beta, int relu,
                                                        float *C) {
  imp_body(mr, taps, ic, N, a, B, bias, beta, relu, C);
}

/* y (n images) = [beta y +] [bias +] conv(x, B), B (kh kw ic, oc); relu
 * clamps at 0 afterwards. */
static void conv_implicit(const lmk_conv_geom *g, const float *x, const float *B,
                          const float *bias, float beta, int relu, float *y, int threads) {
  const int64_t pix = (int64_t)g->oh * g->ow, rows = g->n * pix;
  const int64_t img = (int64_t)g->ih * g->iw * g->ic;
  const int taps = g->kh * g->kw, ic = g->ic, N = g->oc;
  const int64_t blocks = (rows + IM_MR - 1) / IM_MR;
  LMK_PAR_FOR(threads, rows * N * taps * ic > (1 << 18))
  for (int64_t ib = 0; ib < blocks; ib++) {
    const float *tab[IM_MAX_TAPS * IM_MR];
    const int64_t q0 = ib * IM_MR;
    const int mr = rows - q0 < IM_MR ? (int)(rows - q0) : IM_MR;
    for (int r = 0; r < IM_MR; r++) {
      const int64_t q = q0 + (r < mr ? r : 0);
      const int64_t im = q / pix, p = q % pix;
      const int oy = (int)(p / g->ow), ox = (int)(p % g->ow);
      const float *xi = x + im * img;
      for (int ki = 0, t = 0; ki < g->kh; ki++) {
        const int iy = oy * g->sh - g->pad_top + ki * g->dh;
        for (int kj = 0; kj < g->kw; kj++, t++) {
          const int ix = ox * g->sw - g->pad_left + kj * g->dw;
          tab[t * IM_MR + r] = iy < 0 || iy >= g->ih || ix < 0 || ix >= g->iw
                                   ? im_zero
                                   : xi + ((int64_t)iy * g->iw + ix) * ic;
        }
      }
    }
    float *C = y + q0 * N;
    if (mr == IM_MR)
      imp_full(taps, ic, N, tab, B, bias, beta, relu, C);
    else
      imp_tail(mr, taps, ic, N, tab, B, bias, beta, relu, C);
  }
}

/* Weight gradient, packed per image. Xp: the image with its padding made
 * explicit, channels in blocks of 6 (zero-filled past ic): Xp[cb][yp][xp][6]
 * with yp in [0, ihp), xp in [0, iwp). DYp: dy's columns in panels of 16
 * (or 8) pixels-major: DYp[j0 * pix + p * nr + jj]. Then dw (6 x nr) of tap
 * (ki, kj), block cb, panel j0 is a stream over both in order: the channel
 * rows broadcast from Xp at (oy sh + ki dh, ox sw + kj dw), the nr columns
 * loaded from DYp at p. */
typedef struct dw_pack {
  int ihp, iwp, ncb, cb0, cb1, jb0, jb1; /* this thread's blocks: [cb0, cb1), [jb0, jb1) */
  float *xp, *dyp;
} dw_pack;

static int64_t dw_xp_floats(const lmk_conv_geom *g, int ihp, int iwp) {
  return (int64_t)((g->ic + IM_MR - 1) / IM_MR) * ihp * iwp * IM_MR;
}

static void dw_padded(const lmk_conv_geom *g, int *ihp, int *iwp) {
  *ihp = (g->oh - 1) * g->sh + (g->kh - 1) * g->dh + 1;
  *iwp = (g->ow - 1) * g->sw + (g->kw - 1) * g->dw + 1;
}

/* floats of scratch per thread */
static int64_t dw_slot(const lmk_conv_geom *g) {
  int ihp, iwp;
  dw_padded(g, &ihp, &iwp);
  return dw_xp_floats(g, ihp, iwp) + (int64_t)g->oh * g->ow * g->oc;
}

static void dw_pack_image(const lmk_conv_geom *g, const float *xi, const float *dyi,
                          const dw_pack *k) {
  const int ic = g->ic, N = g->oc;
  const int64_t pix = (int64_t)g->oh * g->ow;
  for (int cb = k->cb0; cb < k->cb1; cb++) {
    const int c0 = cb * IM_MR, mr = ic - c0 < IM_MR ? ic - c0 : IM_MR;
    float *dst = k->xp + (int64_t)cb * k->ihp * k->iwp * IM_MR;
    for (int yp = 0; yp < k->ihp; yp++) {
      const int iy = yp - g->pad_top;
      for (int xq = 0; xq < k->iwp; xq++, dst += IM_MR) {
        const int ix = xq - g->pad_left;
        if (iy < 0 || iy >= g->ih || ix < 0 || ix >= g->iw) {
          for (int r = 0; r < IM_MR; r++) dst[r] = 0.0f;
          continue;
        }
        const float *s = xi + ((int64_t)iy * g->iw + ix) * ic + c0;
        int r = 0;
        for (; r < mr; r++) dst[r] = s[r];
        for (; r < IM_MR; r++) dst[r] = 0.0f;
      }
    }
  }
  for (int jb = k->jb0; jb < k->jb1; jb++) {
    const int j0 = jb * 16, nr = N - j0 < 16 ? N - j0 : 16;
    float *dst = k->dyp + (int64_t)j0 * pix;
    for (int64_t p = 0; p < pix; p++, dst += nr) memcpy(dst, dyi + p * N + j0, sizeof(float) * (size_t)nr);
  }
}

/* dw rows [0, mr) (ldc N) += the sum over the image, from 6 x nr
 * accumulators that start at zero (constant indices only: they stay in
 * registers) */
__attribute__((target("avx2,fma"), always_inline)) static inline void dw_body(
    int nr, int mr, const lmk_conv_geom *g, int iwp, const float *xp, const float *d, float *dwt) {
  const int N = g->oc;
  /* named accumulators: GCC kept an array of them mirrored on the stack */
  __m256 p0 = _mm256_setzero_ps(), p1 = p0, p2 = p0, p3 = p0, p4 = p0, p5 = p0;
  __m256 q0 = p0, q1 = p0, q2 = p0, q3 = p0, q4 = p0, q5 = p0;
  const int64_t xs = (int64_t)g->sw * IM_MR, ys = (int64_t)g->sh * iwp * IM_MR;
  for (int oy = 0; oy < g->oh; oy++, xp += ys) {
    const float *a = xp;
    for (int ox = 0; ox < g->ow; ox++, a += xs, d += nr) {
      const __m256 b0 = _mm256_loadu_ps(d);
      const __m256 b1 = nr == 16 ? _mm256_loadu_ps(d + 8) : b0;
      __m256 av;
#define DW_ROW(r)                                        \
  av = _mm256_broadcast_ss(a + r);                       \
  p##r = _mm256_fmadd_ps(av, b0, p##r);                  \
  if (nr == 16) q##r = _mm256_fmadd_ps(av, b1, q##r);
      DW_ROW(0) DW_ROW(1) DW_ROW(2) DW_ROW(3) DW_ROW(4) DW_ROW(5)
#undef DW_ROW
    }
  }
  /* dw += the image's sums: rows below mr only (the rest are zero channels) */
#define DW_OUT(r)                                                                  \
  if (r < mr) {                                                                    \
    float *o = dwt + (int64_t)r * N;                                               \
    _mm256_storeu_ps(o, _mm256_add_ps(_mm256_loadu_ps(o), p##r));                   \
    if (nr == 16) _mm256_storeu_ps(o + 8, _mm256_add_ps(_mm256_loadu_ps(o + 8), q##r)); \
  }
  DW_OUT(0) DW_OUT(1) DW_OUT(2) DW_OUT(3) DW_OUT(4) DW_OUT(5)
#undef DW_OUT
}

__attribute__((target("avx2,fma"))) static void dw_k16(int mr, const lmk_conv_geom *g, int iwp,
                                                      const float *xp, const float *d,
                                                      float *dwt) {
  dw_body(16, mr, g, iwp, xp, d, dwt);
}
__attribute__((target("avx2,fma"))) static void dw_k8(int mr, const lmk_conv_geom *g, int iwp,
                                                     const float *xp, const float *d,
                                                     float *dwt) {
  dw_body(8, mr, g, iwp, xp, d, dwt);
}

/* units [u0, u1): unit u is column panel u / ncb, channel block u % ncb */
static void dw_range(const lmk_conv_geom *g, const float *x, const float *dy, float *dw, int u0,
                     int u1, float *slot) {
  if (u0 >= u1) return;
  dw_pack k;
  dw_padded(g, &k.ihp, &k.iwp);
  k.ncb = (g->ic + IM_MR - 1) / IM_MR;
  k.jb0 = u0 / k.ncb;
  k.jb1 = (u1 - 1) / k.ncb + 1;
  k.cb0 = k.jb1 - k.jb0 == 1 ? u0 % k.ncb : 0;
  k.cb1 = k.jb1 - k.jb0 == 1 ? (u1 - 1) % k.ncb + 1 : k.ncb;
  k.xp = slot;
  k.dyp = slot + dw_xp_floats(g, k.ihp, k.iwp);
  const int ic = g->ic, N = g->oc;
  const int64_t img = (int64_t)g->ih * g->iw * ic, pix = (int64_t)g->oh * g->ow;
  const int64_t cbs = (int64_t)k.ihp * k.iwp * IM_MR;
  for (int im = 0; im < g->n; im++) {
    dw_pack_image(g, x + im * img, dy + im * pix * N, &k);
    for (int ki = 0; ki < g->kh; ki++)
      for (int kj = 0; kj < g->kw; kj++) {
        const int t = ki * g->kw + kj;
        const int64_t toff = ((int64_t)ki * g->dh * k.iwp + (int64_t)kj * g->dw) * IM_MR;
        for (int u = u0; u < u1; u++) {
          const int jb = u / k.ncb, cb = u % k.ncb;
          const int j0 = jb * 16, nr = N - j0 < 16 ? N - j0 : 16;
          const int c0 = cb * IM_MR, mr = ic - c0 < IM_MR ? ic - c0 : IM_MR;
          const float *xp = k.xp + cb * cbs + toff, *d = k.dyp + j0 * pix;
          float *dwt = dw + ((int64_t)t * ic + c0) * N + j0;
          if (nr == 16)
            dw_k16(mr, g, k.iwp, xp, d, dwt);
          else
            dw_k8(mr, g, k.iwp, xp, d, dwt);
        }
      }
  }
}

/* slots: thread slots of dw_slot floats in col */
static void dw_implicit(const lmk_conv_geom *g, const float *x, const float *dy, float *dw,
                        float *col, int threads) {
  const int units = ((g->oc + 15) / 16) * ((g->ic + IM_MR - 1) / IM_MR);
#ifdef _OPENMP
  const int64_t slot = dw_slot(g);
  const int64_t work = (int64_t)g->n * g->oh * g->ow * g->kh * g->kw * g->ic * g->oc;
#pragma omp parallel num_threads(threads) if (threads > 1 && work > (1 << 18))
  {
    const int t = omp_get_thread_num(), T = omp_get_num_threads();
    dw_range(g, x, dy, dw, (int)((int64_t)units * t / T), (int)((int64_t)units * (t + 1) / T),
             col + t * slot);
  }
#else
  (void)threads;
  dw_range(g, x, dy, dw, 0, units, col);
#endif
}
#else
static bool implicit_ok(const lmk_conv_geom *g) {
  (void)g;
  return false;
}
static void conv_implicit(const lmk_conv_geom *g, const float *x, const float *B,
                          const float *bias, float beta, int relu, float *y, int threads) {
  (void)g, (void)x, (void)B, (void)bias, (void)beta, (void)relu, (void)y, (void)threads;
}
static int64_t dw_slot(const lmk_conv_geom *g) {
  (void)g;
  return 0;
}
static void dw_implicit(const lmk_conv_geom *g, const float *x, const float *dy, float *dw,
                        float *col, int threads) {
  (void)g, (void)x, (void)dy, (void)dw, (void)col, (void)threads;
}
#endif

/* Threads of the packed weight gradient: it needs a slot of scratch per
 * thread, sized with the plan's thread count (geom_threads). */
static int dw_slots(const lmk_conv_geom *p) {
#ifdef _OPENMP
  return geom_threads(p);
#else
  (void)p;
  return 1;
#endif
}
static int dw_threads(const lmk_conv_geom *p, int threads) {
  const int s = dw_slots(p);
  return threads < 1 ? 1 : threads > s ? s : threads;
}

int64_t lmk_conv2d_scratch(const lmk_conv_geom *p) {
  if (lmk_conv2d_is_gemm(p)) return 0;
  const int64_t col = (int64_t)lmk_conv2d_chunk(p) * p->oh * p->ow * p->kh * p->kw * p->ic;
  /* forward and weight gradient: im2col chunks, or the packing slots */
  const int64_t fwd = implicit_ok(p) ? dw_slots(p) * dw_slot(p) : col;
  if (!dx_as_conv(p)) return fwd > col ? fwd : col; /* col2im */
  lmk_conv_geom q = dx_geom(p);
  int64_t bwd = implicit_ok(&q) ? 0 : (int64_t)lmk_conv2d_chunk(&q) * q.oh * q.ow * q.kh * q.kw * q.ic;
  bwd += (int64_t)p->kh * p->kw * p->ic * p->oc;
  return fwd > bwd ? fwd : bwd;
}

void lmk_im2col(const lmk_conv_geom *p, const float *x, int nimg, float *col, int threads) {
  const int ic = p->ic, kw = p->kw, kh = p->kh;
  const int64_t K = (int64_t)kh * kw * ic, img = (int64_t)p->ih * p->iw * ic;
  const int64_t n_rows = (int64_t)nimg * p->oh;
  LMK_PAR_FOR(threads, n_rows * p->ow * K > LMK_PAR_MIN)
  for (int64_t r = 0; r < n_rows; r++) {
    const int64_t im = r / p->oh;
    const int oy = (int)(r % p->oh);
    const float *xi = x + im * img;
    float *dst = col + r * p->ow * K;
    for (int ox = 0; ox < p->ow; ox++) {
      for (int ki = 0; ki < kh; ki++) {
        int iy = oy * p->sh - p->pad_top + ki * p->dh;
        if (iy < 0 || iy >= p->ih) {
          memset(dst, 0, sizeof(float) * (size_t)kw * (size_t)ic);
          dst += (int64_t)kw * ic;
          continue;
        }
        const float *row = xi + (int64_t)iy * p->iw * ic;
        const int ixa = ox * p->sw - p->pad_left;
        if (p->dw == 1 && ixa >= 0 && ixa + kw <= p->iw) {
          /* the whole window row is in the image: kw * ic contiguous floats */
          memcpy(dst, row + (int64_t)ixa * ic, sizeof(float) * (size_t)kw * (size_t)ic);
          dst += (int64_t)kw * ic;
          continue;
        }
        for (int kj = 0; kj < kw; kj++, dst += ic) {
          int ix = ox * p->sw - p->pad_left + kj * p->dw;
          if (ix < 0 || ix >= p->iw) {
            for (int c = 0; c < ic; c++) dst[c] = 0.0f;
          } else {
            const float *src = row + (int64_t)ix * ic;
            for (int c = 0; c < ic; c++) dst[c] = src[c];
          }
        }
      }
    }
  }
}

void lmk_col2im_add(const lmk_conv_geom *p, const float *col, int nimg, float *dx, int threads) {
  const int ic = p->ic, kw = p->kw, kh = p->kh;
  const int64_t K = (int64_t)kh * kw * ic, img = (int64_t)p->ih * p->iw * ic;
  /* one image per iteration: images are disjoint in dx */
  LMK_PAR_FOR(threads, (int64_t)nimg * p->oh * p->ow * K > LMK_PAR_MIN)
  for (int im = 0; im < nimg; im++) {
    float *di = dx + im * img;
    const float *src = col + (int64_t)im * p->oh * p->ow * K;
    for (int oy = 0; oy < p->oh; oy++)
      for (int ox = 0; ox < p->ow; ox++)
        for (int ki = 0; ki < kh; ki++) {
          int iy = oy * p->sh - p->pad_top + ki * p->dh;
          if (iy < 0 || iy >= p->ih) {
            src += (int64_t)kw * ic;
            continue;
          }
          float *row = di + (int64_t)iy * p->iw * ic;
          for (int kj = 0; kj < kw; kj++, src += ic) {
            int ix = ox * p->sw - p->pad_left + kj * p->dw;
            if (ix < 0 || ix >= p->iw) continue;
            float *d = row + (int64_t)ix * ic;
            for (int c = 0; c < ic; c++) d[c] += src[c];
          }
        }
  }
}

/* Fixed row chunks (the count depends on rows only) summed in parallel;
 * each sums runs of RUN rows in float into double partials, and the
 * partials are added in chunk order: the result does not depend on the
 * thread count, and the channels (contiguous) are the vectorised axis. */
enum { CS_CH = 256, CS_CHUNKS = 8, CS_RUN = 32 };

void lmk_col_sums_add(const float *m, int64_t rows, int cols, float *db, int threads) {
  const int nk = rows < CS_CHUNKS ? (rows > 0 ? (int)rows : 1) : CS_CHUNKS;
  double part[CS_CHUNKS * CS_CH];
  for (int c0 = 0; c0 < cols; c0 += CS_CH) {
    const int nc = cols - c0 < CS_CH ? cols - c0 : CS_CH;
    LMK_PAR_FOR(threads, rows * nc > LMK_PAR_MIN)
    for (int k = 0; k < nk; k++) {
      const int64_t r0 = rows * k / nk, r1 = rows * (k + 1) / nk;
      double *acc = part + (int64_t)k * CS_CH;
      float run[CS_CH];
      for (int j = 0; j < nc; j++) acc[j] = 0.0;
      for (int64_t a = r0; a < r1; a += CS_RUN) {
        const int64_t b = a + CS_RUN < r1 ? a + CS_RUN : r1;
        for (int j = 0; j < nc; j++) run[j] = 0.0f;
        for (int64_t i = a; i < b; i++) {
          const float *restrict row = m + i * cols + c0;
          for (int j = 0; j < nc; j++) run[j] += row[j];
        }
        for (int j = 0; j < nc; j++) acc[j] += run[j];
      }
    }
    for (int j = 0; j < nc; j++) {
      double s = 0.0;
      for (int k = 0; k < nk; k++) s += part[(int64_t)k * CS_CH + j];
      db[c0 + j] += (float)s;
    }
  }
}

static void fill_bias(float *y, int64_t rows, int oc, const float *b, int threads) {
  LMK_PAR_FOR(threads, rows * oc > LMK_PAR_MIN)
  for (int64_t i = 0; i < rows; i++) memcpy(y + i * oc, b, sizeof(float) * (size_t)oc);
}

void lmk_relu_inplace(float *y, int64_t n, int threads) {
  LMK_PAR_FOR(threads, n > LMK_PAR_MIN)
  for (int64_t i = 0; i < n; i++) {
    const float v = y[i];
    y[i] = v > 0.0f ? v : 0.0f;
  }
}

void lmk_relu_mask_grad(const float *y, float *dy, int64_t n, int threads) {
  LMK_PAR_FOR(threads, n > LMK_PAR_MIN)
  for (int64_t i = 0; i < n; i++) {
    const float d = dy[i], v = y[i];
    dy[i] = v > 0.0f ? d : 0.0f;
  }
}

static void conv2d_fwd_plain(const lmk_conv_geom *p, const float *x, const float *w,
                             const float *b, float *y, float *col, int threads);

void lmk_conv2d_fwd(const lmk_conv_geom *p, const float *x, const float *w, const float *b,
                    float *y, float *col, int threads) {
  lmk_conv2d_fwd_act(p, x, w, b, false, y, col, threads);
}

void lmk_conv2d_fwd_act(const lmk_conv_geom *p, const float *x, const float *w, const float *b,
                        bool relu, float *y, float *col, int threads) {
  if (p->n <= 0 || p->oh <= 0 || p->ow <= 0 || p->oc <= 0) return;
  if (!lmk_conv2d_is_gemm(p) && implicit_ok(p)) { /* relu in the gemm's epilogue */
    conv_implicit(p, x, w, b, 0.0f, relu, y, threads);
    return;
  }
  conv2d_fwd_plain(p, x, w, b, y, col, threads);
  if (relu) lmk_relu_inplace(y, (int64_t)p->n * p->oh * p->ow * p->oc, threads);
}

static void conv2d_fwd_plain(const lmk_conv_geom *p, const float *x, const float *w,
                             const float *b, float *y, float *col, int threads) {
  const int64_t pix = (int64_t)p->oh * p->ow, K = (int64_t)p->kh * p->kw * p->ic;
  const int oc = p->oc;
  if (p->n <= 0 || pix <= 0 || oc <= 0) return;
  float beta = b ? 1.0f : 0.0f;
  if (b) fill_bias(y, p->n * pix, oc, b, threads);
  if (lmk_conv2d_is_gemm(p)) {
    assert(p->n * pix <= INT_MAX);
    lmk_sgemm_rows((int)(p->n * pix), oc, (int)K, x, (int)K, w, oc, beta, y, oc, threads);
    return;
  }
  const int chunk = lmk_conv2d_chunk(p);
  if (per_image(p, chunk, threads)) {
    conv_per_image(p, x, w, beta, y, col, threads);
    return;
  }
  const int64_t img = (int64_t)p->ih * p->iw * p->ic;
  for (int i0 = 0; i0 < p->n; i0 += chunk) {
    int nimg = p->n - i0 < chunk ? p->n - i0 : chunk;
    lmk_im2col(p, x + i0 * img, nimg, col, threads);
    int64_t rows = nimg * pix;
    assert(rows <= INT_MAX && K <= INT_MAX);
    lmk_sgemm_rows((int)rows, oc, (int)K, col, (int)K, w, oc, beta, y + i0 * pix * oc, oc,
                   threads);
  }
}

void lmk_conv2d_bwd(const lmk_conv_geom *p, const float *x, const float *w, const float *dy,
                    float *dx, float *dw, float *db, float *col, int threads) {
  const int64_t pix = (int64_t)p->oh * p->ow, K = (int64_t)p->kh * p->kw * p->ic;
  const int oc = p->oc;
  if (p->n <= 0 || pix <= 0 || oc <= 0) return;
  if (db) lmk_col_sums_add(dy, p->n * pix, oc, db, threads);
  if (lmk_conv2d_is_gemm(p)) {
    int rows = (int)(p->n * pix);
    if (dx) lmk_sgemm(false, true, rows, (int)K, oc, 1.0f, dy, oc, w, oc, 1.0f, dx, (int)K);
    if (dw) lmk_sgemm(true, false, (int)K, oc, rows, 1.0f, x, (int)K, dy, oc, 1.0f, dw, oc);
    return;
  }
  const bool imp = implicit_ok(p);
  if (dw && imp) dw_implicit(p, x, dy, dw, col, dw_threads(p, threads));
  const bool dw_col = dw && !imp, dx_col = dx && !dx_as_conv(p);
  const int chunk = lmk_conv2d_chunk(p);
  const int64_t img = (int64_t)p->ih * p->iw * p->ic;
  for (int i0 = 0; (dw_col || dx_col) && i0 < p->n; i0 += chunk) {
    int nimg = p->n - i0 < chunk ? p->n - i0 : chunk;
    int rows = (int)(nimg * pix);
    const float *dyc = dy + i0 * pix * oc;
    if (dw_col) {
      lmk_im2col(p, x + i0 * img, nimg, col, threads);
      lmk_sgemm(true, false, (int)K, oc, rows, 1.0f, col, (int)K, dyc, oc, 1.0f, dw, oc);
    }
    if (dx_col) {
      lmk_sgemm(false, true, rows, (int)K, oc, 1.0f, dyc, oc, w, oc, 0.0f, col, (int)K);
      lmk_col2im_add(p, col, nimg, dx + i0 * img, threads);
    }
  }
  if (dx && dx_as_conv(p)) {
    /* w' (kh, kw, oc, ic) after the im2col area of the scratch */
    const lmk_conv_geom q = dx_geom(p);
    const int qchunk = lmk_conv2d_chunk(&q);
    const int64_t qpix = (int64_t)q.oh * q.ow, qK = (int64_t)q.kh * q.kw * q.ic;
    const bool qimp = implicit_ok(&q);
    const int64_t qcol = qimp ? 0 : (int64_t)qchunk * qpix * qK;
    float *wt = col + qcol;
    const int ic = p->ic, taps = p->kh * p->kw;
    for (int t = 0; t < taps; t++) {
      const float *src = w + (int64_t)(taps - 1 - t) * ic * oc;
      float *dst = wt + (int64_t)t * oc * ic;
      for (int o = 0; o < oc; o++)
        for (int c = 0; c < ic; c++) dst[(int64_t)o * ic + c] = src[(int64_t)c * oc + o];
    }
    if (qimp) {
      conv_implicit(&q, dy, wt, NULL, 1.0f, 0, dx, threads);
      return;
    }
    if (per_image(&q, qchunk, threads)) {
      conv_per_image(&q, dy, wt, 1.0f, dx, col, threads);
      return;
    }
    const int64_t qimg = (int64_t)q.ih * q.iw * q.ic;
    for (int i0 = 0; i0 < p->n; i0 += qchunk) {
      int nimg = p->n - i0 < qchunk ? p->n - i0 : qchunk;
      int64_t rows = nimg * qpix;
      assert(rows <= INT_MAX && qK <= INT_MAX);
      lmk_im2col(&q, dy + i0 * qimg, nimg, col, threads);
      lmk_sgemm_rows((int)rows, ic, (int)qK, col, (int)qK, wt, ic, 1.0f, dx + i0 * img, ic,
                     threads);
    }
  }
}

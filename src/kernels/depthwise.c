/* Direct depthwise convolution, NHWC (see depthwise.h).
 *
 * Speed: with depth_multiplier 1 the channels are processed in blocks of CB
 * that stay in registers while the taps (forward, input gradient) or the
 * output columns (filter gradient) are summed, so each output element is
 * stored once. Every row function has a generic and an AVX2 build
 * (function-level target attribute, picked at run time), as gemm_portable.c
 * does; both sum in the same order. */
#include <stdbool.h>
#include <stddef.h>

#include "kernels/conv.h"
#include "kernels/depthwise.h"

#include "kernels/par.h"

#if defined(__GNUC__) && (defined(__x86_64__) || defined(__i386__))
#define DW_X86 1
#define DW_AVX2 __attribute__((target("avx2")))
#endif
#if defined(__GNUC__)
#define DW_INLINE static inline __attribute__((always_inline))
#else
#define DW_INLINE static inline
#endif

enum { CB = 32 }; /* channels per register block */

static inline int64_t dw_work(const lmk_dw_geom *g) {
  return (int64_t)g->n * g->oh * g->ow * g->kh * g->kw * g->c * g->dm;
}

/* ---- few channels (C < 8), depth_multiplier 1, column stride 1: the
 * vectors run along the row instead, over (x, channel) pairs, with the
 * tap's kernel row repeated to 8*C lanes ---- */

enum { SMALL_C = 8 };

static bool small_case(const lmk_dw_geom *g) { return g->dm == 1 && g->c < SMALL_C && g->sw == 1; }

/* Output columns [*a, *b) read input columns ox + off, off = j*dw - pad_left. */
DW_INLINE bool col_range(const lmk_dw_geom *g, int j, int *off, int *a, int *b) {
  *off = j * g->dw - g->pad_left;
  *a = *off < 0 ? -*off : 0;
  *b = g->w - *off < g->ow ? g->w - *off : g->ow;
  return *a < *b;
}

DW_INLINE void fwd_row_small(const lmk_dw_geom *g, const float *x, const float *k,
                             const float *bias, float *y, int64_t r) {
  const int C = g->c, L = SMALL_C * C;
  const int b = (int)(r / g->oh), oy = (int)(r % g->oh);
  float *restrict yrow = y + r * g->ow * C;
  for (int64_t f = 0; f < (int64_t)g->ow * C; f++) yrow[f] = bias ? bias[f % C] : 0.0f;
  float krep[SMALL_C * SMALL_C];
  for (int i = 0; i < g->kh; i++) {
    const int iy = oy * g->sh - g->pad_top + i * g->dh;
    if (iy < 0 || iy >= g->h) continue;
    const float *xrow = x + ((int64_t)b * g->h + iy) * g->w * C;
    for (int j = 0; j < g->kw; j++) {
      int off, a, e;
      if (!col_range(g, j, &off, &a, &e)) continue;
      const float *kp = k + (int64_t)(i * g->kw + j) * C;
      for (int u = 0; u < L; u++) krep[u] = kp[u % C];
      const float *restrict xs = xrow + (int64_t)(a + off) * C;
      float *restrict ys = yrow + (int64_t)a * C;
      const int64_t n = (int64_t)(e - a) * C;
      int64_t f = 0;
      for (; f + L <= n; f += L)
        for (int u = 0; u < L; u++) ys[f + u] += xs[f + u] * krep[u];
      for (int u = 0; f + u < n; u++) ys[f + u] += xs[f + u] * krep[u];
    }
  }
}

DW_INLINE void bwd_data_row_small(const lmk_dw_geom *g, const float *dy, const float *k, float *dx,
                                  int64_t r) {
  const int C = g->c, L = SMALL_C * C;
  const int b = (int)(r / g->h), iy = (int)(r % g->h);
  float *restrict dxrow = dx + r * g->w * C;
  float krep[SMALL_C * SMALL_C];
  for (int i = 0; i < g->kh; i++) {
    const int ty = iy + g->pad_top - i * g->dh;
    if (ty < 0 || ty % g->sh) continue;
    const int oy = ty / g->sh;
    if (oy >= g->oh) continue;
    const float *dyrow = dy + ((int64_t)b * g->oh + oy) * g->ow * C;
    for (int j = 0; j < g->kw; j++) {
      int off, a, e; /* output columns [a, e) feed input columns ox + off */
      if (!col_range(g, j, &off, &a, &e)) continue;
      const float *kp = k + (int64_t)(i * g->kw + j) * C;
      for (int u = 0; u < L; u++) krep[u] = kp[u % C];
      float *restrict ds = dxrow + (int64_t)(a + off) * C;
      const float *restrict ys = dyrow + (int64_t)a * C;
      const int64_t n = (int64_t)(e - a) * C;
      int64_t f = 0;
      for (; f + L <= n; f += L)
        for (int u = 0; u < L; u++) ds[f + u] += ys[f + u] * krep[u];
      for (int u = 0; f + u < n; u++) ds[f + u] += ys[f + u] * krep[u];
    }
  }
}

/* part[u] += sum over blocks of L of xs * ys, then the tail. */
DW_INLINE void dot_blocks(const float *restrict xs, const float *restrict ys, int64_t n,
                          float *restrict part, const int L) {
  float p[SMALL_C * SMALL_C];
  for (int u = 0; u < L; u++) p[u] = 0.0f;
  int64_t f = 0;
  for (; f + L <= n; f += L)
    for (int u = 0; u < L; u++) p[u] += xs[f + u] * ys[f + u];
  for (int u = 0; f + u < n; u++) p[u] += xs[f + u] * ys[f + u];
  for (int u = 0; u < L; u++) part[u] = p[u];
}

DW_INLINE void bwd_filter_rows_small(const lmk_dw_geom *g, const float *x, const float *dy,
                                     double *acc, int64_t r0, int64_t r1) {
  const int C = g->c, L = SMALL_C * C;
  for (int64_t r = r0; r < r1; r++) {
    const int b = (int)(r / g->oh), oy = (int)(r % g->oh);
    const float *dyrow = dy + r * g->ow * C;
    for (int i = 0; i < g->kh; i++) {
      const int iy = oy * g->sh - g->pad_top + i * g->dh;
      if (iy < 0 || iy >= g->h) continue;
      const float *xrow = x + ((int64_t)b * g->h + iy) * g->w * C;
      for (int j = 0; j < g->kw; j++) {
        int off, a, e;
        if (!col_range(g, j, &off, &a, &e)) continue;
        float part[SMALL_C * SMALL_C] = {0};
        const float *xs = xrow + (int64_t)(a + off) * C, *ys = dyrow + (int64_t)a * C;
        const int64_t n = (int64_t)(e - a) * C;
        switch (C) { /* a constant block length keeps part in registers */
          case 1:
            dot_blocks(xs, ys, n, part, 8);
            break;
          case 2:
            dot_blocks(xs, ys, n, part, 16);
            break;
          case 3:
            dot_blocks(xs, ys, n, part, 24);
            break;
          case 4:
            dot_blocks(xs, ys, n, part, 32);
            break;
          default:
            dot_blocks(xs, ys, n, part, L);
            break;
        }
        double *at = acc + (int64_t)(i * g->kw + j) * C;
        for (int q = 0; q < SMALL_C; q++)
          for (int c = 0; c < C; c++) at[c] += part[q * C + c];
      }
    }
  }
}

/* ---- forward: one output row ---- */

DW_INLINE void fwd_row_body(const lmk_dw_geom *g, const float *x, const float *k, const float *bias,
                            float *y, int64_t r) {
  if (small_case(g)) {
    fwd_row_small(g, x, k, bias, y, r);
    return;
  }
  const int C = g->c, dm = g->dm, OC = C * dm;
  const int b = (int)(r / g->oh), oy = (int)(r % g->oh);
  float *yrow = y + r * g->ow * OC;
  for (int ox = 0; ox < g->ow; ox++) {
    float *restrict yp = yrow + (int64_t)ox * OC;
    int c0 = 0;
    if (dm == 1) {
      for (; c0 + CB <= C; c0 += CB) {
        float acc[CB];
        for (int c = 0; c < CB; c++) acc[c] = bias ? bias[c0 + c] : 0.0f;
        for (int i = 0; i < g->kh; i++) {
          const int iy = oy * g->sh - g->pad_top + i * g->dh;
          if (iy < 0 || iy >= g->h) continue;
          for (int j = 0; j < g->kw; j++) {
            const int ix = ox * g->sw - g->pad_left + j * g->dw;
            if (ix < 0 || ix >= g->w) continue;
            const float *restrict xp = x + (((int64_t)b * g->h + iy) * g->w + ix) * C + c0;
            const float *restrict kp = k + (int64_t)(i * g->kw + j) * OC + c0;
            for (int c = 0; c < CB; c++) acc[c] += xp[c] * kp[c];
          }
        }
        for (int c = 0; c < CB; c++) yp[c0 + c] = acc[c];
      }
      if (c0 == C) continue;
    }
    /* the channels left (all of them when dm > 1), accumulated in y */
    for (int o = c0 * dm; o < OC; o++) yp[o] = bias ? bias[o] : 0.0f;
    for (int i = 0; i < g->kh; i++) {
      const int iy = oy * g->sh - g->pad_top + i * g->dh;
      if (iy < 0 || iy >= g->h) continue;
      for (int j = 0; j < g->kw; j++) {
        const int ix = ox * g->sw - g->pad_left + j * g->dw;
        if (ix < 0 || ix >= g->w) continue;
        const float *restrict xp = x + (((int64_t)b * g->h + iy) * g->w + ix) * C;
        const float *restrict kp = k + (int64_t)(i * g->kw + j) * OC;
        if (dm == 1) {
          for (int c = c0; c < C; c++) yp[c] += xp[c] * kp[c];
        } else {
          for (int c = 0; c < C; c++) {
            const float xv = xp[c];
            for (int m = 0; m < dm; m++) yp[c * dm + m] += xv * kp[c * dm + m];
          }
        }
      }
    }
  }
}

/* ---- input gradient: one input row, gathered from the outputs that read it ---- */

DW_INLINE void bwd_data_row_body(const lmk_dw_geom *g, const float *dy, const float *k, float *dx,
                                 int64_t r) {
  if (small_case(g)) {
    bwd_data_row_small(g, dy, k, dx, r);
    return;
  }
  const int C = g->c, dm = g->dm, OC = C * dm;
  const int b = (int)(r / g->h), iy = (int)(r % g->h);
  for (int ix = 0; ix < g->w; ix++) {
    float *restrict dxp = dx + (r * g->w + ix) * C;
    int c0 = 0;
    if (dm == 1) {
      for (; c0 + CB <= C; c0 += CB) {
        float acc[CB];
        for (int c = 0; c < CB; c++) acc[c] = dxp[c0 + c];
        for (int i = 0; i < g->kh; i++) {
          const int ty = iy + g->pad_top - i * g->dh;
          if (ty < 0 || ty % g->sh) continue;
          const int oy = ty / g->sh;
          if (oy >= g->oh) continue;
          for (int j = 0; j < g->kw; j++) {
            const int tx = ix + g->pad_left - j * g->dw;
            if (tx < 0 || tx % g->sw) continue;
            const int ox = tx / g->sw;
            if (ox >= g->ow) continue;
            const float *restrict dyp = dy + (((int64_t)b * g->oh + oy) * g->ow + ox) * OC + c0;
            const float *restrict kp = k + (int64_t)(i * g->kw + j) * OC + c0;
            for (int c = 0; c < CB; c++) acc[c] += dyp[c] * kp[c];
          }
        }
        for (int c = 0; c < CB; c++) dxp[c0 + c] = acc[c];
      }
      if (c0 == C) continue;
    }
    for (int i = 0; i < g->kh; i++) {
      const int ty = iy + g->pad_top - i * g->dh;
      if (ty < 0 || ty % g->sh) continue;
      const int oy = ty / g->sh;
      if (oy >= g->oh) continue;
      for (int j = 0; j < g->kw; j++) {
        const int tx = ix + g->pad_left - j * g->dw;
        if (tx < 0 || tx % g->sw) continue;
        const int ox = tx / g->sw;
        if (ox >= g->ow) continue;
        const float *restrict dyp = dy + (((int64_t)b * g->oh + oy) * g->ow + ox) * OC;
        const float *restrict kp = k + (int64_t)(i * g->kw + j) * OC;
        if (dm == 1) {
          for (int c = c0; c < C; c++) dxp[c] += dyp[c] * kp[c];
        } else {
          for (int c = 0; c < C; c++) {
            float s = 0.0f;
            for (int m = 0; m < dm; m++) s += dyp[c * dm + m] * kp[c * dm + m];
            dxp[c] += s;
          }
        }
      }
    }
  }
}

/* ---- filter gradient: rows [r0, r1) into acc (taps x OC doubles). Each
 * row's float partial per tap is added into acc in row order; the caller
 * splits the rows into a fixed number of chunks and sums the chunks in
 * order, so the result does not depend on the thread count. Rows outer and
 * taps inner: the row of dy and the kh rows of x stay in cache ---- */

DW_INLINE void bwd_filter_rows_body(const lmk_dw_geom *g, const float *x, const float *dy,
                                    double *acc, float *tmp, int64_t r0, int64_t r1) {
  if (small_case(g)) {
    bwd_filter_rows_small(g, x, dy, acc, r0, r1);
    return;
  }
  const int C = g->c, dm = g->dm, OC = C * dm;
  for (int64_t r = r0; r < r1; r++) {
    const int b = (int)(r / g->oh), oy = (int)(r % g->oh);
    const float *dyrow = dy + r * g->ow * OC;
    for (int i = 0; i < g->kh; i++) {
      const int iy = oy * g->sh - g->pad_top + i * g->dh;
      if (iy < 0 || iy >= g->h) continue;
      const float *xrow = x + ((int64_t)b * g->h + iy) * g->w * C;
      for (int j = 0; j < g->kw; j++) {
        double *restrict at = acc + (int64_t)(i * g->kw + j) * OC;
        int c0 = 0;
        if (dm == 1) {
          for (; c0 + CB <= C; c0 += CB) {
            float part[CB] = {0};
            for (int ox = 0; ox < g->ow; ox++) {
              const int ix = ox * g->sw - g->pad_left + j * g->dw;
              if (ix < 0 || ix >= g->w) continue;
              const float *restrict xp = xrow + (int64_t)ix * C + c0;
              const float *restrict dyp = dyrow + (int64_t)ox * OC + c0;
              for (int c = 0; c < CB; c++) part[c] += xp[c] * dyp[c];
            }
            for (int c = 0; c < CB; c++) at[c0 + c] += part[c];
          }
          if (c0 == C) continue;
        }
        for (int o = c0 * dm; o < OC; o++) tmp[o] = 0.0f;
        for (int ox = 0; ox < g->ow; ox++) {
          const int ix = ox * g->sw - g->pad_left + j * g->dw;
          if (ix < 0 || ix >= g->w) continue;
          const float *restrict xp = xrow + (int64_t)ix * C;
          const float *restrict dyp = dyrow + (int64_t)ox * OC;
          if (dm == 1) {
            for (int c = c0; c < C; c++) tmp[c] += xp[c] * dyp[c];
          } else {
            for (int c = 0; c < C; c++) {
              const float xv = xp[c];
              for (int m = 0; m < dm; m++) tmp[c * dm + m] += xv * dyp[c * dm + m];
            }
          }
        }
        for (int o = c0 * dm; o < OC; o++) at[o] += tmp[o];
      }
    }
  }
}

/* ---- generic and AVX2 builds, picked once ---- */

typedef void (*fwd_fn)(const lmk_dw_geom *, const float *, const float *, const float *, float *,
                       int64_t);
typedef void (*bwd_data_fn)(const lmk_dw_geom *, const float *, const float *, float *, int64_t);
typedef void (*bwd_filter_fn)(const lmk_dw_geom *, const float *, const float *, double *, float *,
                              int64_t, int64_t);

static void fwd_row(const lmk_dw_geom *g, const float *x, const float *k, const float *bias,
                    float *y, int64_t r) {
  fwd_row_body(g, x, k, bias, y, r);
}
static void bwd_data_row(const lmk_dw_geom *g, const float *dy, const float *k, float *dx,
                         int64_t r) {
  bwd_data_row_body(g, dy, k, dx, r);
}
static void bwd_filter_rows(const lmk_dw_geom *g, const float *x, const float *dy, double *acc,
                            float *tmp, int64_t r0, int64_t r1) {
  bwd_filter_rows_body(g, x, dy, acc, tmp, r0, r1);
}

#ifdef DW_X86
DW_AVX2 static void fwd_row_avx2(const lmk_dw_geom *g, const float *x, const float *k,
                                 const float *bias, float *y, int64_t r) {
  fwd_row_body(g, x, k, bias, y, r);
}
DW_AVX2 static void bwd_data_row_avx2(const lmk_dw_geom *g, const float *dy, const float *k,
                                      float *dx, int64_t r) {
  bwd_data_row_body(g, dy, k, dx, r);
}
DW_AVX2 static void bwd_filter_rows_avx2(const lmk_dw_geom *g, const float *x, const float *dy,
                                         double *acc, float *tmp, int64_t r0, int64_t r1) {
  bwd_filter_rows_body(g, x, dy, acc, tmp, r0, r1);
}
static bool use_avx2(void) { return __builtin_cpu_supports("avx2"); }
#define PICK(generic, avx2) (use_avx2() ? (avx2) : (generic))
#else
#define PICK(generic, avx2) (generic)
#endif

void lmk_depthwise_fwd(const lmk_dw_geom *g, const float *x, const float *k, const float *bias,
                       float *y, int threads) {
  const fwd_fn fn = PICK(fwd_row, fwd_row_avx2);
  const int64_t rows = (int64_t)g->n * g->oh;
  LMK_PAR_FOR(threads, dw_work(g) > LMK_PAR_MIN)
  for (int64_t r = 0; r < rows; r++) fn(g, x, k, bias, y, r);
}

void lmk_depthwise_bwd_data(const lmk_dw_geom *g, const float *dy, const float *k, float *dx,
                            int threads) {
  const bwd_data_fn fn = PICK(bwd_data_row, bwd_data_row_avx2);
  const int64_t rows = (int64_t)g->n * g->h;
  LMK_PAR_FOR(threads, dw_work(g) > LMK_PAR_MIN)
  for (int64_t r = 0; r < rows; r++) fn(g, dy, k, dx, r);
}

enum { N_CHUNKS = 8 }; /* fixed row chunks of the filter gradient */

size_t lmk_depthwise_scratch(const lmk_dw_geom *g) {
  const size_t taps_oc = (size_t)g->kh * g->kw * g->c * g->dm, oc = (size_t)g->c * g->dm;
  return N_CHUNKS * (taps_oc * sizeof(double) + oc * sizeof(float));
}

void lmk_depthwise_bwd_filter(const lmk_dw_geom *g, const float *x, const float *dy, float *dk,
                              void *scratch, int threads) {
  const bwd_filter_fn fn = PICK(bwd_filter_rows, bwd_filter_rows_avx2);
  const int64_t OC = (int64_t)g->c * g->dm, taps_oc = (int64_t)g->kh * g->kw * OC;
  const int64_t rows = (int64_t)g->n * g->oh;
  double *acc_all = scratch;
  float *tmp_all = (float *)(acc_all + N_CHUNKS * taps_oc);
  LMK_PAR_FOR(threads, dw_work(g) > LMK_PAR_MIN)
  for (int ch = 0; ch < N_CHUNKS; ch++) {
    double *acc = acc_all + ch * taps_oc;
    for (int64_t o = 0; o < taps_oc; o++) acc[o] = 0.0;
    fn(g, x, dy, acc, tmp_all + ch * OC, rows * ch / N_CHUNKS, rows * (ch + 1) / N_CHUNKS);
  }
  for (int64_t o = 0; o < taps_oc; o++) {
    double s = 0.0;
    for (int ch = 0; ch < N_CHUNKS; ch++) s += acc_all[ch * taps_oc + o];
    dk[o] += (float)s;
  }
}

void lmk_bias_grad_rows(const float *dy, int64_t M, int N, float *db, int threads) {
  lmk_col_sums_add(dy, M, N, db, threads); /* one column-sum kernel (conv.c) */
}

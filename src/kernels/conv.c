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

int lmk_conv2d_chunk(const lmk_conv_geom *p) {
  int64_t per = (int64_t)p->oh * p->ow * p->kh * p->kw * p->ic;
  if (per <= 0 || p->n <= 0) return 1;
  int64_t c = LMK_COL_BUDGET / per;
  if (c < lmk_threads()) c = lmk_threads(); /* one image per thread: see per_image */
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

int64_t lmk_conv2d_scratch(const lmk_conv_geom *p) {
  if (lmk_conv2d_is_gemm(p)) return 0;
  int64_t fwd = (int64_t)lmk_conv2d_chunk(p) * p->oh * p->ow * p->kh * p->kw * p->ic;
  if (!dx_as_conv(p)) return fwd;
  lmk_conv_geom q = dx_geom(p);
  int64_t bwd = (int64_t)lmk_conv2d_chunk(&q) * q.oh * q.ow * q.kh * q.kw * q.ic +
                (int64_t)p->kh * p->kw * p->ic * p->oc;
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

void lmk_conv2d_fwd(const lmk_conv_geom *p, const float *x, const float *w, const float *b,
                    float *y, float *col, int threads) {
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
  const int chunk = lmk_conv2d_chunk(p);
  const int64_t img = (int64_t)p->ih * p->iw * p->ic;
  for (int i0 = 0; i0 < p->n; i0 += chunk) {
    int nimg = p->n - i0 < chunk ? p->n - i0 : chunk;
    int rows = (int)(nimg * pix);
    const float *dyc = dy + i0 * pix * oc;
    if (dw) {
      lmk_im2col(p, x + i0 * img, nimg, col, threads);
      lmk_sgemm(true, false, (int)K, oc, rows, 1.0f, col, (int)K, dyc, oc, 1.0f, dw, oc);
    }
    if (dx && !dx_as_conv(p)) {
      lmk_sgemm(false, true, rows, (int)K, oc, 1.0f, dyc, oc, w, oc, 0.0f, col, (int)K);
      lmk_col2im_add(p, col, nimg, dx + i0 * img, threads);
    }
  }
  if (dx && dx_as_conv(p)) {
    /* w' (kh, kw, oc, ic) after the im2col area of the scratch */
    const lmk_conv_geom q = dx_geom(p);
    const int qchunk = lmk_conv2d_chunk(&q);
    const int64_t qpix = (int64_t)q.oh * q.ow, qK = (int64_t)q.kh * q.kw * q.ic;
    const int64_t qcol = (int64_t)qchunk * qpix * qK;
    float *wt = col + qcol;
    const int ic = p->ic, taps = p->kh * p->kw;
    for (int t = 0; t < taps; t++) {
      const float *src = w + (int64_t)(taps - 1 - t) * ic * oc;
      float *dst = wt + (int64_t)t * oc * ic;
      for (int o = 0; o < oc; o++)
        for (int c = 0; c < ic; c++) dst[(int64_t)o * ic + c] = src[(int64_t)c * oc + o];
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

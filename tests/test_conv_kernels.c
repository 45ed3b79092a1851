/* Conv2D kernels (src/kernels/conv.c) against a double-precision loop: forward with and
 * without bias, input, kernel and bias gradients, for geometries that take the implicit-GEMM
 * paths (>= 16 input channels), the im2col paths (few channels), strides (col2im), dilation,
 * 'same'/'valid' pads and channel tails; the implicit forward is bit-identical to im2col +
 * lmk_sgemm_rows, and the results do not depend on the thread count where the library's own
 * kernels do the work. */
#include "testutil.h"

#include <math.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/conv.h"
#include "kernels/kernels.h"

static uint64_t rng_state = 0x2545f4914f6cdd1du;
static float rnd(void) { /* xorshift64*, uniform in [-1, 1) */
  rng_state ^= rng_state >> 12, rng_state ^= rng_state << 25, rng_state ^= rng_state >> 27;
  return (float)((rng_state * 0x2545f4914f6cdd1du) >> 40) / (float)(1 << 23) - 1.0f;
}

static float *rnd_vec(size_t n) {
  float *p = malloc((n ? n : 1) * sizeof *p);
  assert_non_null(p);
  for (size_t i = 0; i < n; i++) p[i] = rnd();
  return p;
}

typedef struct conv_case {
  int n, ih, iw, ic, kh, kw, sh, sw, dh, dw, pt, pl, oh, ow, oc;
} conv_case;

static lmk_conv_geom geom(const conv_case *c) {
  lmk_conv_geom g = {.n = c->n, .ih = c->ih, .iw = c->iw, .ic = c->ic, .kh = c->kh,
                     .kw = c->kw, .sh = c->sh, .sw = c->sw, .dh = c->dh, .dw = c->dw,
                     .pad_top = c->pt, .pad_left = c->pl, .oh = c->oh, .ow = c->ow, .oc = c->oc};
  return g;
}

/* x index of output (im, oy, ox) under tap (ki, kj), channel ch, or -1 in the padding */
static int64_t xat(const lmk_conv_geom *g, int im, int oy, int ox, int ki, int kj, int ch) {
  int iy = oy * g->sh - g->pad_top + ki * g->dh, ix = ox * g->sw - g->pad_left + kj * g->dw;
  if (iy < 0 || iy >= g->ih || ix < 0 || ix >= g->iw) return -1;
  return (((int64_t)im * g->ih + iy) * g->iw + ix) * g->ic + ch;
}

static void close_enough(const float *got, const double *want, size_t n, const char *what) {
  double scale = 1e-6;
  for (size_t i = 0; i < n; i++) scale = fmax(scale, fabs(want[i]));
  for (size_t i = 0; i < n; i++)
    if (fabs(got[i] - want[i]) > 1e-5 * scale) {
      fail_msg("%s[%zu]: got %.7g, want %.7g", what, i, (double)got[i], want[i]);
    }
}

typedef struct results {
  float *y, *yb, *dx, *dw, *db;
} results;

static void run_case(const lmk_conv_geom *g, const float *x, const float *w, const float *b,
                     const float *dy, int threads, results *r) {
  size_t ys = (size_t)g->n * g->oh * g->ow * g->oc, xs = (size_t)g->n * g->ih * g->iw * g->ic;
  size_t ws = (size_t)g->kh * g->kw * g->ic * g->oc;
  lmk_set_threads(threads); /* the scratch has a slot per thread */
  int64_t scratch = lmk_conv2d_scratch(g);
  float *col = malloc((size_t)(scratch > 0 ? scratch : 1) * sizeof *col);
  assert_non_null(col);
  r->y = calloc(ys, sizeof(float));
  r->yb = calloc(ys, sizeof(float));
  r->dx = calloc(xs, sizeof(float));
  r->dw = calloc(ws, sizeof(float));
  r->db = calloc((size_t)g->oc, sizeof(float));
  assert_true(r->y && r->yb && r->dx && r->dw && r->db);
  lmk_set_threads(threads);
  lmk_conv2d_fwd(g, x, w, NULL, r->y, col, threads);
  lmk_conv2d_fwd(g, x, w, b, r->yb, col, threads);
  /* the gradients are added to: start dw from 0.5 to check that */
  for (size_t i = 0; i < ws; i++) r->dw[i] = 0.5f;
  lmk_conv2d_bwd(g, x, w, dy, r->dx, r->dw, r->db, col, threads);
  free(col);
}

static void free_results(results *r) {
  free(r->y), free(r->yb), free(r->dx), free(r->dw), free(r->db);
}

static void same_bits(const float *a, const float *b, size_t n, const char *what) {
  if (memcmp(a, b, n * sizeof(float)) != 0) fail_msg("%s differs between thread counts", what);
}

static void check_case(const conv_case *c) {
  lmk_conv_geom g = geom(c);
  const size_t xs = (size_t)g.n * g.ih * g.iw * g.ic, ys = (size_t)g.n * g.oh * g.ow * g.oc;
  const size_t ws = (size_t)g.kh * g.kw * g.ic * g.oc;
  float *x = rnd_vec(xs), *w = rnd_vec(ws), *b = rnd_vec((size_t)g.oc), *dy = rnd_vec(ys);
  double *ry = calloc(ys, sizeof(double)), *rdx = calloc(xs, sizeof(double));
  double *rdw = calloc(ws, sizeof(double)), *rdb = calloc((size_t)g.oc, sizeof(double));
  assert_true(ry && rdx && rdw && rdb);
  for (size_t i = 0; i < ws; i++) rdw[i] = 0.5;
  for (int im = 0; im < g.n; im++)
    for (int oy = 0; oy < g.oh; oy++)
      for (int ox = 0; ox < g.ow; ox++) {
        const size_t yo = (((size_t)im * g.oh + oy) * g.ow + ox) * g.oc;
        for (int o = 0; o < g.oc; o++) rdb[o] += dy[yo + o];
        for (int ki = 0; ki < g.kh; ki++)
          for (int kj = 0; kj < g.kw; kj++)
            for (int ch = 0; ch < g.ic; ch++) {
              int64_t xi = xat(&g, im, oy, ox, ki, kj, ch);
              if (xi < 0) continue;
              const size_t wo = (((size_t)ki * g.kw + kj) * g.ic + ch) * g.oc;
              for (int o = 0; o < g.oc; o++) {
                ry[yo + o] += (double)x[xi] * w[wo + o];
                rdx[xi] += (double)dy[yo + o] * w[wo + o];
                rdw[wo + o] += (double)x[xi] * dy[yo + o];
              }
            }
      }
  int saved = lmk_threads();
  results r1, r2;
  run_case(&g, x, w, b, dy, 1, &r1);
  run_case(&g, x, w, b, dy, 2, &r2);
  lmk_set_threads(saved);
  close_enough(r1.y, ry, ys, "y");
  for (size_t i = 0; i < ys; i++) ry[i] += b[i % (size_t)g.oc];
  close_enough(r1.yb, ry, ys, "y + b");
  close_enough(r1.dx, rdx, xs, "dx");
  close_enough(r1.dw, rdw, ws, "dw");
  close_enough(r1.db, rdb, (size_t)g.oc, "db");
  close_enough(r2.yb, ry, ys, "y + b (2 threads)");
  close_enough(r2.dx, rdx, xs, "dx (2 threads)");
  close_enough(r2.dw, rdw, ws, "dw (2 threads)");
  const int K = g.kh * g.kw * g.ic;
  if (lmk_sgemm_rows_ok(g.n * g.oh * g.ow, g.oc, K)) {
    /* the library's own kernels: the same bits for any thread count */
    same_bits(r1.y, r2.y, ys, "y");
    same_bits(r1.yb, r2.yb, ys, "y + b");
    same_bits(r1.db, r2.db, (size_t)g.oc, "db");
    if (g.ic >= 16) same_bits(r1.dw, r2.dw, ws, "dw");
    if (g.sh == 1 && g.sw == 1 && g.oc >= 16 && g.ic % 8 == 0) same_bits(r1.dx, r2.dx, xs, "dx");
    if (!lmk_conv2d_is_gemm(&g)) {
      /* the forward equals im2col + lmk_sgemm_rows bit for bit */
      const size_t rows = (size_t)g.n * g.oh * g.ow;
      float *col = malloc(rows * (size_t)K * sizeof *col), *y = calloc(ys, sizeof *y);
      assert_true(col && y);
      lmk_im2col(&g, x, g.n, col, 1);
      lmk_sgemm_rows((int)rows, g.oc, K, col, K, w, g.oc, 0.0f, y, g.oc, 1);
      same_bits(y, r1.y, ys, "y (implicit vs im2col)");
      free(col), free(y);
    }
  }
  free_results(&r1), free_results(&r2);
  free(x), free(w), free(b), free(dy), free(ry), free(rdx), free(rdw), free(rdb);
}

static void test_conv_cases(void **state) {
  (void)state;
  static const conv_case cases[] = {
      /* n ih iw ic kh kw sh sw dh dw pt pl oh ow oc */
      {2, 9, 7, 16, 3, 3, 1, 1, 1, 1, 1, 1, 9, 7, 24},     /* same, implicit, 8-col tail */
      {3, 8, 8, 20, 3, 2, 2, 2, 1, 1, 1, 0, 4, 4, 16},     /* strided, channel tail of 2 */
      {2, 10, 9, 32, 3, 3, 1, 1, 2, 2, 2, 2, 10, 9, 8},    /* dilated, oc 8 */
      {2, 11, 6, 16, 3, 3, 1, 1, 1, 1, 0, 0, 9, 4, 32},    /* valid */
      {2, 16, 16, 64, 3, 3, 1, 1, 1, 1, 1, 1, 16, 16, 64}, /* the resnet shape, smaller */
      {2, 9, 9, 3, 3, 3, 1, 1, 1, 1, 1, 1, 9, 9, 16},      /* few channels: im2col */
      {2, 6, 5, 24, 1, 1, 1, 1, 1, 1, 0, 0, 6, 5, 16},     /* 1x1: plain gemm */
      {1, 7, 7, 17, 5, 5, 1, 1, 1, 1, 2, 2, 7, 7, 12},     /* odd channels, oc % 8 != 0 */
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) check_case(&cases[i]);
}

/* The scratch follows the plan's thread count (geom.threads), not whatever lmk_threads()
 * says when it is sized: a plan made for 2 threads while another context had set 1 must
 * not run 2 threads' packing slots in 1 slot's scratch (ASan sees the overflow). */
static void test_scratch_follows_plan(void **state) {
  (void)state;
  const conv_case c = {2, 16, 16, 64, 3, 3, 1, 1, 1, 1, 1, 1, 16, 16, 64};
  lmk_conv_geom g = geom(&c);
  const size_t xs = (size_t)g.n * g.ih * g.iw * g.ic, ys = (size_t)g.n * g.oh * g.ow * g.oc;
  const size_t ws = (size_t)g.kh * g.kw * g.ic * g.oc;
  float *x = rnd_vec(xs), *w = rnd_vec(ws), *dy = rnd_vec(ys);
  float *y1 = calloc(ys, sizeof(float)), *dw1 = calloc(ws, sizeof(float));
  float *y2 = calloc(ys, sizeof(float)), *dw2 = calloc(ws, sizeof(float));
  float *dx = calloc(xs, sizeof(float));
  assert_true(y1 && dw1 && y2 && dw2 && dx);
  const int saved = lmk_threads();
  for (int t = 1; t <= 2; t++) {
    g.threads = t;
    lmk_set_threads(3 - t); /* another context's setting when the plan is made */
    const int64_t scratch = lmk_conv2d_scratch(&g);
    float *col = malloc((size_t)(scratch > 0 ? scratch : 1) * sizeof *col);
    assert_non_null(col);
    lmk_set_threads(t); /* ... and back to this plan's own when it runs */
    lmk_conv2d_fwd(&g, x, w, NULL, t == 1 ? y1 : y2, col, t);
    lmk_conv2d_bwd(&g, x, w, dy, dx, t == 1 ? dw1 : dw2, NULL, col, t);
    free(col);
  }
  lmk_set_threads(saved);
  same_bits(y1, y2, ys, "y");
  same_bits(dw1, dw2, ws, "dw");
  free(x), free(w), free(dy), free(y1), free(dw1), free(y2), free(dw2), free(dx);
}

/* Max pooling without the argmax (inference plans) gives the same maxima as with it, for
 * 'valid' and 'same' windows (yolo's 2x2 stride 1 'same' pool), 1 and 2 threads. */
static void test_maxpool_forward_only(void **state) {
  (void)state;
  static const conv_case cases[] = {
      /* n ih iw ic kh kw sh sw dh dw pt pl oh ow oc */
      {2, 8, 9, 5, 2, 2, 2, 2, 1, 1, 0, 0, 4, 4, 5},   /* valid, stride 2 */
      {1, 7, 7, 16, 2, 2, 1, 1, 1, 1, 0, 0, 7, 7, 16}, /* same, stride 1 (pad right) */
      {2, 9, 6, 3, 3, 3, 2, 2, 1, 1, 1, 0, 5, 3, 3},   /* same 3x3 stride 2 */
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    lmk_conv_geom g = geom(&cases[i]);
    const size_t xs = (size_t)g.n * g.ih * g.iw * g.ic, ys = (size_t)g.n * g.oh * g.ow * g.ic;
    float *x = rnd_vec(xs), *y1 = calloc(ys, sizeof(float)), *y2 = calloc(ys, sizeof(float));
    int32_t *arg = calloc(ys, sizeof(int32_t));
    assert_true(y1 && y2 && arg);
    for (int t = 1; t <= 2; t++) {
      lmk_maxpool_fwd(&g, x, y1, arg, t);
      memset(y2, 0, ys * sizeof(float));
      lmk_maxpool_fwd(&g, x, y2, NULL, t);
      same_bits(y1, y2, ys, "maxpool y");
      const size_t per_y = ys / (size_t)g.n, per_x = xs / (size_t)g.n;
      for (size_t k = 0; k < ys; k++) /* the argmax (per image) holds the maximum */
        assert_true(arg[k] >= 0 && x[k / per_y * per_x + (size_t)arg[k]] == y1[k]);
    }
    free(x), free(y1), free(y2), free(arg);
  }
}

int main(void) {
  const struct CMUnitTest tests[] = {cmocka_unit_test(test_conv_cases),
                                     cmocka_unit_test(test_scratch_follows_plan),
                                     cmocka_unit_test(test_maxpool_forward_only)};
  return cmocka_run_group_tests(tests, NULL, NULL);
}

/* pad2d (zero padding and cropping), upsample2d (nearest) and relu_ex (the
 * Keras ReLU/LeakyReLU layers): cheap data movement over NHWC rows. */
#include <string.h>

#include "ops/spatial.h"

static lm_status need_nhwc(lmg_graph *g, const lmg_node *n) {
  if (lmo_check_f32(g, n)) return g->ctx->err;
  const lmg_node *x = lmg_in(g, n, 0);
  if (x->ndim == 4) return LM_OK;
  char sx[128];
  lm_shape_str(x->ndim, x->shape, sx, sizeof sx);
  return lm_fail(g->ctx, LM_ERR_SHAPE, "%s expects a rank-4 input (N, H, W, C), got shape %s",
                 n->op->name, sx);
}

/* ---- pad2d: iarg = top, bottom, left, right (negative crops) ---- */

static lm_status pad_infer(lmg_graph *g, lmg_node *n) {
  if (need_nhwc(g, n)) return g->ctx->err;
  const lmg_node *x = lmg_in(g, n, 0);
  memcpy(n->shape, x->shape, sizeof n->shape);
  n->ndim = 4;
  n->dtype = LM_FLOAT32;
  for (int a = 1; a <= 2; a++) {
    if (x->shape[a] == LM_NONE) continue;
    n->shape[a] = x->shape[a] + n->iarg[2 * a - 2] + n->iarg[2 * a - 1];
    if (n->shape[a] < 1) {
      char sx[128];
      lm_shape_str(x->ndim, x->shape, sx, sizeof sx);
      return lm_fail(g->ctx, LM_ERR_SHAPE,
                     "pad2d: padding/cropping (%d, %d) of axis %d leaves no rows of input shape "
                     "%s",
                     n->iarg[2 * a - 2], n->iarg[2 * a - 1], a, sx);
    }
  }
  return LM_OK;
}

/* For output row oy of image b: the input row, or -1 in the padding. */
static int64_t pad_src_row(const lmg_node *x, const lmg_node *n, int64_t r) {
  int64_t b = r / n->shape[1], oy = r % n->shape[1], iy = oy - n->iarg[0];
  return iy < 0 || iy >= x->shape[1] ? -1 : b * x->shape[1] + iy;
}

/* Output columns [ox0, ox1) come from input columns starting at ix0. */
static void pad_cols(const lmg_node *x, const lmg_node *n, int64_t *ox0, int64_t *ox1,
                     int64_t *ix0) {
  int64_t left = n->iarg[2];
  *ox0 = left > 0 ? left : 0;
  *ix0 = left > 0 ? 0 : -left;
  int64_t cols = x->shape[2] - *ix0;
  if (cols > n->shape[2] - *ox0) cols = n->shape[2] - *ox0;
  *ox1 = *ox0 + cols;
}

static void pad_forward(lmg_graph *g, lmg_node *n) {
  const lmg_node *x = lmg_in(g, n, 0);
  int64_t C = n->shape[3], rows = n->shape[0] * n->shape[1], ow = n->shape[2], ox0, ox1, ix0;
  pad_cols(x, n, &ox0, &ox1, &ix0);
  LMO_PAR_FOR(g->threads, n->size > LMO_PAR_MIN)
  for (int64_t r = 0; r < rows; r++) {
    float *y = n->val + r * ow * C;
    int64_t src = pad_src_row(x, n, r);
    if (src < 0) {
      memset(y, 0, sizeof(float) * (size_t)(ow * C));
      continue;
    }
    memset(y, 0, sizeof(float) * (size_t)(ox0 * C));
    memcpy(y + ox0 * C, x->val + (src * x->shape[2] + ix0) * C,
           sizeof(float) * (size_t)((ox1 - ox0) * C));
    memset(y + ox1 * C, 0, sizeof(float) * (size_t)((ow - ox1) * C));
  }
}

static void pad_backward(lmg_graph *g, lmg_node *n) {
  lmg_node *x = lmg_in(g, n, 0);
  if (!x->grad) return;
  int64_t C = n->shape[3], rows = n->shape[0] * n->shape[1], ow = n->shape[2], ox0, ox1, ix0;
  pad_cols(x, n, &ox0, &ox1, &ix0);
  LMO_PAR_FOR(g->threads, n->size > LMO_PAR_MIN)
  for (int64_t r = 0; r < rows; r++) {
    int64_t src = pad_src_row(x, n, r);
    if (src < 0) continue;
    const float *dy = n->grad + (r * ow + ox0) * C;
    float *dx = x->grad + (src * x->shape[2] + ix0) * C;
    for (int64_t i = 0; i < (ox1 - ox0) * C; i++) dx[i] += dy[i];
  }
}

const lm_op lmo_op_pad2d = {"pad2d", pad_infer, pad_forward, pad_backward, NULL};

int lmo_pad2d(lmg_graph *g, int x, int top, int bottom, int left, int right) {
  lmg_node init = {0};
  init.iarg[0] = top;
  init.iarg[1] = bottom;
  init.iarg[2] = left;
  init.iarg[3] = right;
  return lmg_op(g, &lmo_op_pad2d, 1, &x, &init);
}

/* ---- upsample2d: iarg = sh, sw ---- */

static lm_status up_infer(lmg_graph *g, lmg_node *n) {
  if (need_nhwc(g, n)) return g->ctx->err;
  if (n->iarg[0] < 1 || n->iarg[1] < 1)
    return lm_fail(g->ctx, LM_ERR_ARG, "upsample2d: size (%d, %d) must be positive", n->iarg[0],
                   n->iarg[1]);
  const lmg_node *x = lmg_in(g, n, 0);
  memcpy(n->shape, x->shape, sizeof n->shape);
  n->ndim = 4;
  n->dtype = LM_FLOAT32;
  for (int a = 1; a <= 2; a++)
    if (x->shape[a] != LM_NONE) n->shape[a] = x->shape[a] * n->iarg[a - 1];
  return LM_OK;
}

static void up_forward(lmg_graph *g, lmg_node *n) {
  const lmg_node *x = lmg_in(g, n, 0);
  const int64_t C = n->shape[3], ow = n->shape[2], w = x->shape[2], sh = n->iarg[0],
                sw = n->iarg[1], rows = n->shape[0] * n->shape[1];
  LMO_PAR_FOR(g->threads, n->size > LMO_PAR_MIN)
  for (int64_t r = 0; r < rows; r++) {
    int64_t b = r / n->shape[1], iy = (r % n->shape[1]) / sh;
    const float *xr = x->val + (b * x->shape[1] + iy) * w * C;
    float *y = n->val + r * ow * C;
    for (int64_t ox = 0; ox < ow; ox++)
      memcpy(y + ox * C, xr + (ox / sw) * C, sizeof(float) * (size_t)C);
  }
}

/* Gather: each input row sums its sh x sw copies in a fixed order. */
static void up_backward(lmg_graph *g, lmg_node *n) {
  lmg_node *x = lmg_in(g, n, 0);
  if (!x->grad) return;
  const int64_t C = n->shape[3], ow = n->shape[2], w = x->shape[2], sh = n->iarg[0],
                sw = n->iarg[1], rows = x->shape[0] * x->shape[1];
  LMO_PAR_FOR(g->threads, n->size > LMO_PAR_MIN)
  for (int64_t r = 0; r < rows; r++) {
    int64_t b = r / x->shape[1], iy = r % x->shape[1];
    float *dx = x->grad + r * w * C;
    for (int64_t i = 0; i < sh; i++) {
      const float *dy = n->grad + ((b * n->shape[1] + iy * sh + i) * ow) * C;
      for (int64_t ox = 0; ox < ow; ox++) {
        float *d = dx + (ox / sw) * C;
        for (int64_t c = 0; c < C; c++) d[c] += dy[ox * C + c];
      }
    }
  }
}

const lm_op lmo_op_upsample2d = {"upsample2d", up_infer, up_forward, up_backward, NULL};

int lmo_upsample2d(lmg_graph *g, int x, int sh, int sw) {
  lmg_node init = {0};
  init.iarg[0] = sh;
  init.iarg[1] = sw;
  return lmg_op(g, &lmo_op_upsample2d, 1, &x, &init);
}

/* ---- relu_ex: iarg[0] has_max; farg = max_value, negative_slope, threshold ---- */

static lm_status relu_infer(lmg_graph *g, lmg_node *n) {
  if (lmo_check_f32(g, n)) return g->ctx->err;
  const lmg_node *x = lmg_in(g, n, 0);
  n->dtype = LM_FLOAT32;
  n->ndim = x->ndim;
  memcpy(n->shape, x->shape, sizeof n->shape);
  return LM_OK;
}

/* Branch-free: both sides of each select are computed and one is kept by a
 * bit mask. Written as a ternary, GCC (with the default -ftrapping-math) will
 * not speculate the multiply and emits a scalar loop with a data-dependent
 * branch, mispredicted about half the time on conv outputs (~4 ns per
 * element); the mask form vectorises. The values are bit-for-bit the same. */
static inline float relu_sel(bool take_a, float a, float b) {
  uint32_t ua, ub;
  memcpy(&ua, &a, sizeof ua);
  memcpy(&ub, &b, sizeof ub);
  const uint32_t m = 0u - (uint32_t)take_a;
  const uint32_t r = (ua & m) | (ub & ~m);
  float f;
  memcpy(&f, &r, sizeof f);
  return f;
}

static void relu_forward(lmg_graph *g, lmg_node *n) {
  const float *restrict x = lmg_in(g, n, 0)->val;
  float *restrict y = n->val;
  const float mx = n->farg[0], slope = n->farg[1], th = n->farg[2];
  if (n->iarg[0])
    LMO_MAP(g->threads, n->size, {
      const float v = x[i];
      const float pos = relu_sel(v >= mx, mx, v);
      y[i] = relu_sel(v >= th, pos, slope * (v - th));
    });
  else
    LMO_MAP(g->threads, n->size, {
      const float v = x[i];
      y[i] = relu_sel(v >= th, v, slope * (v - th));
    });
}

static void relu_backward(lmg_graph *g, lmg_node *n) {
  lmg_node *xn = lmg_in(g, n, 0);
  if (!xn->grad) return;
  const float *restrict x = xn->val, *restrict dy = n->grad;
  float *restrict dx = xn->grad;
  const float mx = n->farg[0], slope = n->farg[1], th = n->farg[2];
  const bool cap = n->iarg[0] != 0;
  LMO_MAP(g->threads, n->size, {
    const float v = x[i], d = dy[i];
    const float g1 = relu_sel(v >= th, d, slope * d);
    dx[i] += relu_sel(cap && v >= mx, 0.0f, g1);
  });
}

const lm_op lmo_op_relu_ex = {"relu_ex", relu_infer, relu_forward, relu_backward, NULL};

int lmo_relu_ex(lmg_graph *g, int x, bool has_max, float max_value, float negative_slope,
                float threshold) {
  lmg_node init = {0};
  init.iarg[0] = has_max;
  init.farg[0] = max_value;
  init.farg[1] = negative_slope;
  init.farg[2] = threshold;
  return lmg_op(g, &lmo_op_relu_ex, 1, &x, &init);
}

/* softmax over one axis. The input is seen as (outer, A, inner): each of the
 * outer * inner lines of length A, stride inner, is independent. */
#include <math.h>
#include <string.h>

#include "ops/ops.h"

static lm_status softmax_infer(lmg_graph *g, lmg_node *n) {
  if (lmo_check_f32(g, n)) return g->ctx->err;
  const lmg_node *x = lmg_in(g, n, 0);
  int axis = n->iarg[0];
  if (axis < 0 || axis >= x->ndim) {
    char s[128];
    lm_shape_str(x->ndim, x->shape, s, sizeof s);
    return lm_fail(g->ctx, LM_ERR_SHAPE, "softmax: axis %d is out of range for input shape %s",
                   axis, s);
  }
  n->dtype = LM_FLOAT32;
  n->ndim = x->ndim;
  memcpy(n->shape, x->shape, sizeof n->shape);
  return LM_OK;
}

static void softmax_dims(const lmg_node *n, int64_t *len, int64_t *inner) {
  int axis = n->iarg[0];
  *len = n->shape[axis];
  *inner = lmg_numel(n->ndim - axis - 1, n->shape + axis + 1);
}

static void softmax_line(const float *x, float *y, int64_t len, int64_t st) {
  float m = -INFINITY;
  for (int64_t a = 0; a < len; a++)
    if (x[a * st] > m) m = x[a * st];
  double s = 0.0;
  for (int64_t a = 0; a < len; a++) {
    float e = expf(x[a * st] - m); /* max subtracted: never overflows */
    y[a * st] = e;
    s += e;
  }
  float inv = (float)(1.0 / s);
  for (int64_t a = 0; a < len; a++) y[a * st] *= inv;
}

static void softmax_forward(lmg_graph *g, lmg_node *n) {
  int64_t len, inner;
  softmax_dims(n, &len, &inner);
  if (len == 0) return;
  int64_t lines = n->size / len;
  const float *x = lmg_in(g, n, 0)->val;
  float *y = n->val;
  LMO_PAR_FOR(g->threads, n->size > LMO_PAR_MIN)
  for (int64_t l = 0; l < lines; l++) {
    int64_t base = (l / inner) * len * inner + l % inner;
    softmax_line(x + base, y + base, len, inner);
  }
}

static void softmax_backward(lmg_graph *g, lmg_node *n) {
  lmg_node *in = lmg_in(g, n, 0);
  if (!in->grad) return;
  int64_t len, inner;
  softmax_dims(n, &len, &inner);
  if (len == 0) return;
  int64_t lines = n->size / len;
  const float *y = n->val, *dy = n->grad;
  float *dx = in->grad;
  /* dx = y * (dy - sum(dy * y)) along the line */
  LMO_PAR_FOR(g->threads, n->size > LMO_PAR_MIN)
  for (int64_t l = 0; l < lines; l++) {
    int64_t base = (l / inner) * len * inner + l % inner;
    double s = 0.0;
    for (int64_t a = 0; a < len; a++) s += (double)dy[base + a * inner] * y[base + a * inner];
    float sf = (float)s;
    for (int64_t a = 0; a < len; a++) {
      int64_t i = base + a * inner;
      dx[i] += y[i] * (dy[i] - sf);
    }
  }
}

const lm_op lmo_op_softmax = {"softmax", softmax_infer, softmax_forward, softmax_backward, NULL};

int lmo_softmax(lmg_graph *g, int x, int axis) {
  lmg_node init = {0};
  init.iarg[0] = axis;
  return lmg_op(g, &lmo_op_softmax, 1, &x, &init);
}

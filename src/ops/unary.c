/* Elementwise exp/log/sqrt/square/abs/neg, clip and affine (scale * x + shift). */
#include <math.h>
#include <string.h>

#include "ops/ops.h"

#define MAP(count, ...) LMO_MAP(g->threads, count, __VA_ARGS__)

static lm_status same_shape_infer(lmg_graph *g, lmg_node *n) {
  if (lmo_check_f32(g, n)) return g->ctx->err;
  const lmg_node *x = lmg_in(g, n, 0);
  n->dtype = LM_FLOAT32;
  n->ndim = x->ndim;
  memcpy(n->shape, x->shape, sizeof n->shape);
  return LM_OK;
}

/* ---- unary ---- */

static lm_status unary_infer(lmg_graph *g, lmg_node *n) {
  if (n->iarg[0] < LMO_EXP || n->iarg[0] > LMO_NEG)
    return lm_fail(g->ctx, LM_ERR_ARG, "unknown unary op kind %d", n->iarg[0]);
  return same_shape_infer(g, n);
}

static void unary_forward(lmg_graph *g, lmg_node *n) {
  const float *x = lmg_in(g, n, 0)->val;
  float *y = n->val;
  int64_t size = n->size;
  switch (n->iarg[0]) {
    case LMO_EXP: MAP(size, y[i] = expf(x[i])); break;
    case LMO_LOG: MAP(size, y[i] = logf(x[i])); break;
    case LMO_SQRT: MAP(size, y[i] = sqrtf(x[i])); break;
    case LMO_SQUARE: MAP(size, y[i] = x[i] * x[i]); break;
    case LMO_ABS: MAP(size, y[i] = fabsf(x[i])); break;
    default: MAP(size, y[i] = -x[i]); break;
  }
}

static void unary_backward(lmg_graph *g, lmg_node *n) {
  lmg_node *in = lmg_in(g, n, 0);
  if (!in->grad) return;
  const float *x = in->val, *y = n->val, *dy = n->grad;
  float *dx = in->grad;
  int64_t size = n->size;
  switch (n->iarg[0]) {
    case LMO_EXP: MAP(size, dx[i] += dy[i] * y[i]); break;
    case LMO_LOG: MAP(size, dx[i] += dy[i] / x[i]); break;
    case LMO_SQRT: MAP(size, dx[i] += 0.5f * dy[i] / y[i]); break;
    case LMO_SQUARE: MAP(size, dx[i] += 2.0f * x[i] * dy[i]); break;
    case LMO_ABS: MAP(size, dx[i] += x[i] > 0.0f ? dy[i] : x[i] < 0.0f ? -dy[i] : 0.0f); break;
    default: MAP(size, dx[i] -= dy[i]); break;
  }
}

const lm_op lmo_op_unary = {"unary", unary_infer, unary_forward, unary_backward, NULL};

int lmo_unary(lmg_graph *g, int kind, int x) {
  lmg_node init = {0};
  init.iarg[0] = kind;
  return lmg_op(g, &lmo_op_unary, 1, &x, &init);
}

/* ---- clip ---- */

static lm_status clip_infer(lmg_graph *g, lmg_node *n) {
  if (!(n->farg[0] <= n->farg[1]))
    return lm_fail(g->ctx, LM_ERR_ARG, "clip: min %g is greater than max %g", n->farg[0],
                   n->farg[1]);
  return same_shape_infer(g, n);
}

static void clip_forward(lmg_graph *g, lmg_node *n) {
  const float *x = lmg_in(g, n, 0)->val;
  float *y = n->val, lo = n->farg[0], hi = n->farg[1];
  MAP(n->size, y[i] = x[i] < lo ? lo : x[i] > hi ? hi : x[i]);
}

static void clip_backward(lmg_graph *g, lmg_node *n) {
  lmg_node *in = lmg_in(g, n, 0);
  if (!in->grad) return;
  const float *x = in->val, *dy = n->grad;
  float *dx = in->grad, lo = n->farg[0], hi = n->farg[1];
  MAP(n->size, dx[i] += x[i] >= lo && x[i] <= hi ? dy[i] : 0.0f);
}

const lm_op lmo_op_clip = {"clip", clip_infer, clip_forward, clip_backward, NULL};

int lmo_clip(lmg_graph *g, int x, float lo, float hi) {
  lmg_node init = {0};
  init.farg[0] = lo;
  init.farg[1] = hi;
  return lmg_op(g, &lmo_op_clip, 1, &x, &init);
}

/* ---- affine ---- */

static void affine_forward(lmg_graph *g, lmg_node *n) {
  const float *x = lmg_in(g, n, 0)->val;
  float *y = n->val, s = n->farg[0], t = n->farg[1];
  MAP(n->size, y[i] = s * x[i] + t);
}

static void affine_backward(lmg_graph *g, lmg_node *n) {
  lmg_node *in = lmg_in(g, n, 0);
  if (!in->grad) return;
  const float *dy = n->grad;
  float *dx = in->grad, s = n->farg[0];
  MAP(n->size, dx[i] += s * dy[i]);
}

const lm_op lmo_op_affine = {"affine", same_shape_infer, affine_forward, affine_backward, NULL};

int lmo_affine(lmg_graph *g, int x, float scale, float shift) {
  lmg_node init = {0};
  init.farg[0] = scale;
  init.farg[1] = shift;
  return lmg_op(g, &lmo_op_affine, 1, &x, &init);
}

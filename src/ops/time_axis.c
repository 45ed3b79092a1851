/* Ops on the time axis for the recurrent wrappers (src/layers/wrappers.c):
 *   reverse_time  (N, T, ...) -> the same with axis 1 reversed (Bidirectional's
 *                 backward sequence put back in time order);
 *   fold_time     (N, T, ...) -> (N*T, ...) (TimeDistributed: time into batch);
 *   unfold_time   y (N*T, ...) and the reference x (N, T, ...) -> (N, T, ...);
 *                 x gives N and T only and gets no gradient.
 * They move 4-byte elements, so they also carry int32 tensors. */
#include <string.h>

#include "ops/ops.h"

static lm_status need_time(lmg_graph *g, const lmg_node *n, const lmg_node *x) {
  if (x->ndim >= 3) return LM_OK;
  char s[128];
  lm_shape_str(x->ndim, x->shape, s, sizeof s);
  return lm_fail(g->ctx, LM_ERR_SHAPE, "%s expects (batch, timesteps, ...), got %s",
                 n->op->name, s);
}

static void backward_add(lmg_graph *g, lmg_node *n) {
  float *dx = lmg_in(g, n, 0)->grad;
  const float *dy = n->grad;
  if (dx) LMO_MAP(g->threads, n->size, dx[i] += dy[i]);
}

/* ---- reverse_time ---- */

static lm_status reverse_infer(lmg_graph *g, lmg_node *n) {
  const lmg_node *x = lmg_in(g, n, 0);
  if (need_time(g, n, x)) return g->ctx->err;
  n->dtype = x->dtype;
  n->ndim = x->ndim;
  memcpy(n->shape, x->shape, sizeof n->shape);
  return LM_OK;
}

/* row = one (sample, step) of `inner` elements */
static void reverse_copy(const lmg_node *n, const float *src, float *dst, bool add) {
  int64_t N = n->shape[0], T = n->shape[1], inner = T && N ? n->size / (N * T) : 0;
  for (int64_t i = 0; i < N; i++)
    for (int64_t t = 0; t < T; t++) {
      const float *a = src + (i * T + t) * inner;
      float *b = dst + (i * T + (T - 1 - t)) * inner;
      if (add)
        for (int64_t k = 0; k < inner; k++) b[k] += a[k];
      else
        memcpy(b, a, (size_t)inner * 4);
    }
}

static void reverse_forward(lmg_graph *g, lmg_node *n) {
  reverse_copy(n, lmg_in(g, n, 0)->val, n->val, false);
}

static void reverse_backward(lmg_graph *g, lmg_node *n) {
  float *dx = lmg_in(g, n, 0)->grad;
  if (dx) reverse_copy(n, n->grad, dx, true);
}

const lm_op lmo_op_reverse_time = {"reverse_time", reverse_infer, reverse_forward,
                                   reverse_backward, NULL};

int lmo_reverse_time(lmg_graph *g, int x) {
  return lmg_op(g, &lmo_op_reverse_time, 1, &x, NULL);
}

/* ---- fold_time / unfold_time ---- */

static lm_status fold_infer(lmg_graph *g, lmg_node *n) {
  const lmg_node *x = lmg_in(g, n, 0);
  if (need_time(g, n, x)) return g->ctx->err;
  n->dtype = x->dtype;
  n->ndim = x->ndim - 1;
  n->shape[0] = x->shape[0] == LM_NONE || x->shape[1] == LM_NONE ? LM_NONE
                                                                  : x->shape[0] * x->shape[1];
  for (int i = 2; i < x->ndim; i++) n->shape[i - 1] = x->shape[i];
  return LM_OK;
}

static void copy_forward(lmg_graph *g, lmg_node *n) {
  memcpy(n->val, lmg_in(g, n, 0)->val, (size_t)n->size * 4);
}

const lm_op lmo_op_fold_time = {"fold_time", fold_infer, copy_forward, backward_add, NULL};

int lmo_fold_time(lmg_graph *g, int x) { return lmg_op(g, &lmo_op_fold_time, 1, &x, NULL); }

static lm_status unfold_infer(lmg_graph *g, lmg_node *n) {
  const lmg_node *y = lmg_in(g, n, 0), *x = lmg_in(g, n, 1);
  if (need_time(g, n, x)) return g->ctx->err;
  bool known = y->shape[0] != LM_NONE && x->shape[0] != LM_NONE && x->shape[1] != LM_NONE;
  if (y->ndim < 1 || y->ndim + 1 > LM_MAX_DIMS ||
      (known && y->shape[0] != x->shape[0] * x->shape[1])) {
    char sy[128], sx[128];
    lm_shape_str(y->ndim, y->shape, sy, sizeof sy);
    lm_shape_str(x->ndim, x->shape, sx, sizeof sx);
    return lm_fail(g->ctx, LM_ERR_SHAPE, "unfold_time: %s does not hold the steps of %s", sy,
                   sx);
  }
  n->dtype = y->dtype;
  n->ndim = y->ndim + 1;
  n->shape[0] = x->shape[0];
  n->shape[1] = x->shape[1];
  for (int i = 1; i < y->ndim; i++) n->shape[i + 1] = y->shape[i];
  return LM_OK;
}

const lm_op lmo_op_unfold_time = {"unfold_time", unfold_infer, copy_forward, backward_add, NULL};

int lmo_unfold_time(lmg_graph *g, int y, int x) {
  int in[2] = {y, x};
  return lmg_op(g, &lmo_op_unfold_time, 2, in, NULL);
}

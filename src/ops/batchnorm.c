/* batchnorm: inputs x, moving_mean, moving_variance [, gamma] [, beta].
 * iarg: axis, has_gamma, has_beta, (set by forward) used batch statistics.
 * farg: momentum, epsilon. The workspace keeps the mean and 1/sqrt(var+eps)
 * that forward used, for backward. */
#include <math.h>
#include <string.h>

#include "kernels/conv.h"
#include "ops/conv_ops.h"

static lm_status bn_infer(lmg_graph *g, lmg_node *n) {
  if (lmo_check_f32(g, n)) return g->ctx->err;
  const lmg_node *x = lmg_in(g, n, 0);
  const char *who = n->label ? n->label : "batchnorm";
  int axis = n->iarg[0];
  char sx[128];
  lm_shape_str(x->ndim, x->shape, sx, sizeof sx);
  if (x->ndim < 2 || axis < 1 || axis >= x->ndim)
    return lm_fail(g->ctx, LM_ERR_SHAPE,
                   "%s: batch normalisation axis %d is out of range for input shape %s", who,
                   axis, sx);
  int64_t c = x->shape[axis];
  if (c == LM_NONE)
    return lm_fail(g->ctx, LM_ERR_SHAPE,
                   "%s: axis %d of the input should have a defined dimension but the layer "
                   "received an input with shape %s",
                   who, axis, sx);
  for (int i = 1; i < n->n_in; i++) {
    const lmg_node *p = lmg_in(g, n, i);
    if (p->ndim != 1 || p->shape[0] != c)
      return lm_fail(g->ctx, LM_ERR_SHAPE,
                     "%s: batch normalisation parameter %d must have shape (%lld,) for input "
                     "shape %s",
                     who, i, (long long)c, sx);
  }
  n->dtype = LM_FLOAT32;
  n->ndim = x->ndim;
  memcpy(n->shape, x->shape, sizeof n->shape);
  return LM_OK;
}

static void bn_dims(const lmg_node *x, int axis, int64_t *outer, int *c, int64_t *inner) {
  *outer = lmg_numel(axis, x->shape);
  *c = (int)x->shape[axis];
  *inner = lmg_numel(x->ndim - axis - 1, x->shape + axis + 1);
}

static size_t bn_workspace(const lmg_graph *g, const lmg_node *n) {
  return 2 * (size_t)lmg_in((lmg_graph *)g, n, 0)->shape[n->iarg[0]] * sizeof(float);
}

static const float *bn_param(lmg_graph *g, lmg_node *n, int which, float **grad) {
  /* which: 0 gamma, 1 beta */
  int idx = 3;
  if (which == 1) idx += n->iarg[1] ? 1 : 0;
  bool has = which == 0 ? n->iarg[1] : n->iarg[2];
  if (!has) {
    if (grad) *grad = NULL;
    return NULL;
  }
  lmg_node *p = lmg_in(g, n, idx);
  if (grad) *grad = p->grad;
  return p->val;
}

static void bn_forward(lmg_graph *g, lmg_node *n) {
  lmg_node *x = lmg_in(g, n, 0);
  float *mm = lmg_in(g, n, 1)->val, *mv = lmg_in(g, n, 2)->val;
  int64_t outer, inner;
  int c;
  bn_dims(x, n->iarg[0], &outer, &c, &inner);
  float *mean = n->ws, *inv = mean + c, eps = n->farg[1], mom = n->farg[0];
  n->iarg[3] = g->training;
  if (g->training) {
    lmk_bn_stats(outer, c, inner, x->val, mean, inv, g->threads); /* inv holds var */
    double m = (double)(outer * inner);
    double corr = m > 1.0 + eps ? m / (m - (1.0 + eps)) : 1.0;
    for (int k = 0; k < c; k++) {
      float var = inv[k];
      mm[k] = mm[k] * mom + mean[k] * (1.0f - mom);
      mv[k] = mv[k] * mom + (float)(var * corr) * (1.0f - mom);
      inv[k] = 1.0f / sqrtf(var + eps);
    }
  } else {
    for (int k = 0; k < c; k++) {
      mean[k] = mm[k];
      inv[k] = 1.0f / sqrtf(mv[k] + eps);
    }
  }
  const float *gamma = bn_param(g, n, 0, NULL), *beta = bn_param(g, n, 1, NULL);
  if (x->val != n->val) {
    lmk_bn_apply(outer, c, inner, x->val, mean, inv, gamma, beta, n->val, g->threads);
    return;
  }
  /* in place: a batchnorm folded into its conv by an inference plan, run
   * unfolded because g->training was set after planning (src/ops/fold.c) */
  float *y = n->val;
  for (int64_t o = 0; o < outer; o++)
    for (int k = 0; k < c; k++) {
      float sc = inv[k] * (gamma ? gamma[k] : 1.0f), sh = (beta ? beta[k] : 0.0f) - mean[k] * sc;
      float *p = y + (o * c + k) * inner;
      for (int64_t i = 0; i < inner; i++) p[i] = p[i] * sc + sh;
    }
}

static void bn_backward(lmg_graph *g, lmg_node *n) {
  lmg_node *x = lmg_in(g, n, 0);
  int64_t outer, inner;
  int c;
  bn_dims(x, n->iarg[0], &outer, &c, &inner);
  const float *mean = n->ws, *inv = mean + c;
  float *dgamma, *dbeta;
  const float *gamma = bn_param(g, n, 0, &dgamma);
  bn_param(g, n, 1, &dbeta);
  if (!x->grad && !dgamma && !dbeta) return;
  lmk_bn_bwd(outer, c, inner, x->val, n->grad, mean, inv, gamma, n->iarg[3] != 0, x->grad,
             dgamma, dbeta, g->threads);
}

const lm_op lmo_op_batchnorm = {"batchnorm", bn_infer, bn_forward, bn_backward, bn_workspace};

int lmo_batchnorm(lmg_graph *g, int x, int mean, int var, int gamma, int beta, int axis,
                  float momentum, float eps) {
  lmg_node init = {0};
  init.iarg[0] = axis;
  init.iarg[1] = gamma >= 0;
  init.iarg[2] = beta >= 0;
  init.farg[0] = momentum;
  init.farg[1] = eps;
  int in[5] = {x, mean, var, 0, 0}, k = 3;
  if (gamma >= 0) in[k++] = gamma;
  if (beta >= 0) in[k++] = beta;
  return lmg_op(g, &lmo_op_batchnorm, k, in, &init);
}

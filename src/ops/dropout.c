/* Inverted dropout: in training, keep each element with probability 1 - rate
 * and scale it by 1 / (1 - rate); identity in inference or when rate is 0 or
 * >= 1. The mask (0 or the scale, per element) lives in the node's workspace
 * from forward to backward; iarg[1] records whether forward applied it. */
#include <string.h>

#include "ops/ops.h"

static lm_status dropout_infer(lmg_graph *g, lmg_node *n) {
  if (lmo_check_f32(g, n)) return g->ctx->err;
  if (!(n->farg[0] >= 0.0f))
    return lm_fail(g->ctx, LM_ERR_ARG, "dropout rate must be >= 0, got %g", n->farg[0]);
  const lmg_node *x = lmg_in(g, n, 0);
  n->dtype = LM_FLOAT32;
  n->ndim = x->ndim;
  memcpy(n->shape, x->shape, sizeof n->shape);
  return LM_OK;
}

static size_t dropout_workspace(const lmg_graph *g, const lmg_node *n) {
  (void)g;
  float rate = n->farg[0];
  return rate > 0.0f && rate < 1.0f ? (size_t)n->size * sizeof(float) : 0;
}

static void dropout_forward(lmg_graph *g, lmg_node *n) {
  const float *x = lmg_in(g, n, 0)->val;
  float *y = n->val, *mask = n->ws, rate = n->farg[0];
  n->iarg[1] = g->training && rate > 0.0f && rate < 1.0f && mask;
  if (!n->iarg[1]) {
    memcpy(y, x, (size_t)n->size * sizeof(float));
    return;
  }
  /* keep when a 32-bit uniform is >= rate * 2^32; two draws per RNG step.
   * Serial, so the mask depends only on the seed. */
  float scale = 1.0f / (1.0f - rate);
  uint32_t thr = (uint32_t)((double)rate * 4294967296.0);
  int64_t k = 0;
  for (; k + 1 < n->size; k += 2) {
    uint64_t r = lm_rng_next(g->ctx->rng);
    mask[k] = (uint32_t)(r >> 32) >= thr ? scale : 0.0f;
    mask[k + 1] = (uint32_t)r >= thr ? scale : 0.0f;
  }
  if (k < n->size) mask[k] = (uint32_t)(lm_rng_next(g->ctx->rng) >> 32) >= thr ? scale : 0.0f;
  LMO_MAP(g->threads, n->size, y[i] = x[i] * mask[i]);
}

static void dropout_backward(lmg_graph *g, lmg_node *n) {
  float *dx = lmg_in(g, n, 0)->grad;
  if (!dx) return;
  const float *dy = n->grad, *mask = n->ws;
  if (n->iarg[1])
    LMO_MAP(g->threads, n->size, dx[i] += dy[i] * mask[i]);
  else
    LMO_MAP(g->threads, n->size, dx[i] += dy[i]);
}

const lm_op lmo_op_dropout = {"dropout", dropout_infer, dropout_forward, dropout_backward,
                              dropout_workspace};

int lmo_dropout(lmg_graph *g, int x, float rate) {
  lmg_node init = {0};
  init.farg[0] = rate;
  return lmg_op(g, &lmo_op_dropout, 1, &x, &init);
}

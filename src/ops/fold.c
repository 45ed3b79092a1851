/* What the buffer planner (src/graph/graph.c) knows about particular ops:
 * which workspaces are pure scratch, and batch normalisation folded into
 * the convolution before it (inference).
 *
 * With s = gamma / sqrt(moving_variance + epsilon) per output channel,
 * batchnorm(conv(x, W) + b) = conv(x, W * s) + (b - moving_mean) * s + beta.
 * The plan (src/graph/graph.c) pairs a conv2d or depthwise node with a
 * batchnorm over the last axis that is its only consumer; lmg_forward then
 * runs the convolution once with the derived kernel and bias, written into
 * the batchnorm's value, and skips the batchnorm. The user's weights are
 * never changed: the derived copy lives in the plan's slab (conv->fold_buf,
 * reserved for the plan's whole life) and is recomputed from the current
 * weights only when one of its sources' versions moved since it was made
 * (conv->fold_gen; every path that can write a tensor bumps its version:
 * lm_tensor_f32/_i32, the optimizers' step, training forwards, weight
 * loading and restoring), and every plan starts stale. That saves one pass
 * over the kernel per forward (38 MB read + 38 MB written for yolo's
 * 3x3x1024x1024). A caller who writes a weight through a pointer taken
 * before a predict must call lm_tensor_f32 again (include/lamina.h). */
#include <math.h>

#include "ops/conv_ops.h"
#include "ops/spatial.h"

bool lmo_ws_scratch(const lm_op *op) {
  return op == &lmo_op_conv2d || op == &lmo_op_depthwise || op == &lmo_op_conv2d_transpose;
}

static bool fixed_value(const lmg_node *n) {
  return (n->kind == LMG_PARAM || n->kind == LMG_CONST) && n->dtype == LM_FLOAT32;
}

bool lmo_fold_match(const lmg_graph *g, const lmg_node *conv, const lmg_node *bn) {
  if (bn->op != &lmo_op_batchnorm || conv->kind != LMG_OP) return false;
  if (conv->op != &lmo_op_conv2d && conv->op != &lmo_op_depthwise) return false;
  if (conv->op == &lmo_op_conv2d && conv->iarg[5]) return false; /* relu fused: bn(relu(.)) */
  if (conv->ndim != 4 || bn->iarg[0] != conv->ndim - 1) return false;
  for (int k = 1; k < conv->n_in; k++)
    if (!fixed_value(&g->nodes[conv->in[k]])) return false;
  for (int k = 1; k < bn->n_in; k++)
    if (!fixed_value(&g->nodes[bn->in[k]])) return false;
  const lmg_node *w = &g->nodes[conv->in[1]];
  int64_t oc = conv->shape[3];
  return oc > 0 && w->size % oc == 0;
}

size_t lmo_fold_floats(const lmg_graph *g, const lmg_node *conv) {
  return (size_t)(g->nodes[conv->in[1]].size + conv->shape[3]);
}

/* 1 + the summed versions of the pair's kernel, bias and statistics: each
 * version only grows, so the sum moves whenever any of them was written. */
static uint64_t fold_key(const lmg_graph *g, const lmg_node *conv, const lmg_node *bn) {
  uint64_t key = 1;
  for (int k = 1; k < conv->n_in; k++) {
    const lmg_node *s = &g->nodes[conv->in[k]];
    key += s->kind == LMG_PARAM ? s->param->version : s->cval->version;
  }
  for (int k = 1; k < bn->n_in; k++) {
    const lmg_node *s = &g->nodes[bn->in[k]];
    key += s->kind == LMG_PARAM ? s->param->version : s->cval->version;
  }
  return key;
}

void lmo_fold_forward(lmg_graph *g, lmg_node *conv, lmg_node *bn) {
  const lmg_node *wn = lmg_in(g, conv, 1);
  const float *w = wn->val, *b = conv->n_in == 3 ? lmg_in(g, conv, 2)->val : NULL;
  const float *mm = lmg_in(g, bn, 1)->val, *mv = lmg_in(g, bn, 2)->val;
  const float *gamma = bn->iarg[1] ? lmg_in(g, bn, 3)->val : NULL;
  const float *beta = bn->iarg[2] ? lmg_in(g, bn, 3 + (bn->iarg[1] ? 1 : 0))->val : NULL;
  const float eps = bn->farg[1];
  const int64_t oc = conv->shape[3], rows = wn->size / oc;
  float *w2 = conv->fold_buf, *b2 = w2 + wn->size;
  const uint64_t key = fold_key(g, conv, bn);
  if (conv->fold_gen != key) {
    for (int64_t o = 0; o < oc; o++) /* b2 holds s first */
      b2[o] = (1.0f / sqrtf(mv[o] + eps)) * (gamma ? gamma[o] : 1.0f);
    /* one pass over the kernel (38 MB for yolo's 3x3x1024x1024): split over
     * the threads by rows; each element is one product, whoever computes it */
    if (g->threads > 1 && wn->size > LMO_PAR_MIN) {
      LMO_PAR_FOR(g->threads, 1)
      for (int64_t r = 0; r < rows; r++)
        for (int64_t o = 0; o < oc; o++) w2[r * oc + o] = w[r * oc + o] * b2[o];
    } else {
      for (int64_t r = 0; r < rows; r++)
        for (int64_t o = 0; o < oc; o++) w2[r * oc + o] = w[r * oc + o] * b2[o];
    }
    for (int64_t o = 0; o < oc; o++)
      b2[o] = ((b ? b[o] : 0.0f) - mm[o]) * b2[o] + (beta ? beta[o] : 0.0f);
    conv->fold_gen = key;
  }
  if (conv->op == &lmo_op_conv2d)
    lmo_conv2d_run(g, conv, w2, b2, bn->val);
  else
    lmo_depthwise_run(g, conv, w2, b2, bn->val);
}

/* embedding: ids (N, ...) int32 or float32, table (V, D) -> (N, ..., D).
 *
 * An op's forward cannot fail, so an id outside [0, V) gives a zero row and
 * is reported through g->fwd_err (the first one, with its batch row); fit
 * turns it into an error naming the layer, the index and the sample. The
 * table is never read outside its bounds. */
#include "ops/ops.h"

static lm_status embedding_infer(lmg_graph *g, lmg_node *n) {
  lmg_node *ids = lmg_in(g, n, 0), *w = lmg_in(g, n, 1);
  char si[128], sw[128];
  lm_shape_str(ids->ndim, ids->shape, si, sizeof si);
  lm_shape_str(w->ndim, w->shape, sw, sizeof sw);
  if (w->dtype != LM_FLOAT32 || w->ndim != 2 || ids->ndim < 1 ||
      ids->ndim >= LM_MAX_DIMS)
    return lm_fail(g->ctx, LM_ERR_SHAPE,
                   "embedding expects indices of rank 1 to %d and a float32 "
                   "table (V, D), got "
                   "shapes %s and %s",
                   LM_MAX_DIMS - 1, si, sw);
  n->dtype = LM_FLOAT32;
  n->ndim = ids->ndim + 1;
  for (int i = 0; i < ids->ndim; i++)
    n->shape[i] = ids->shape[i];
  n->shape[ids->ndim] = w->shape[1];
  return LM_OK;
}

/* The id at flat position i (float ids are truncated toward zero, as a cast).
 */
static int64_t id_at(const lmg_node *ids, int64_t i) {
  if (ids->dtype == LM_INT32)
    return ((const int32_t *)ids->val)[i];
  float v = ids->val[i];
  if (!(v == v) || v < -2e9f || v > 2e9f)
    return -1;
  return (int64_t)v;
}

static void embedding_forward(lmg_graph *g, lmg_node *n) {
  const lmg_node *ids = lmg_in(g, n, 0), *w = lmg_in(g, n, 1);
  int64_t V = w->shape[0], D = w->shape[1], count = ids->size;
  int64_t per_row = ids->shape[0] ? count / ids->shape[0] : 0;
  for (int64_t i = 0; i < count; i++) {
    int64_t id = id_at(ids, i);
    float *y = n->val + i * D;
    if (id < 0 || id >= V) {
      for (int64_t k = 0; k < D; k++)
        y[k] = 0.0f;
      if (!g->fwd_err) {
        int64_t row = per_row ? i / per_row : 0,
                pos = per_row ? i % per_row : 0;
        g->fwd_err_row = row;
        if (ids->dtype == LM_FLOAT32)
          g->fwd_err =
              lm_fail(g->ctx, LM_ERR_VALUE,
                      "Layer %s: index %g at position %lld is not in [0, %lld) "
                      "(input_dim)",
                      n->label ? n->label : "embedding", (double)ids->val[i],
                      (long long)pos, (long long)V);
        else
          g->fwd_err = lm_fail(
              g->ctx, LM_ERR_VALUE,
              "Layer %s: index %lld at position %lld is not in [0, %lld) "
              "(input_dim)",
              n->label ? n->label : "embedding", (long long)id, (long long)pos,
              (long long)V);
      }
      continue;
    }
    const float *row = w->val + id * D;
    for (int64_t k = 0; k < D; k++)
      y[k] = row[k];
  }
}

/* Scatter-add, serially in index order (deterministic; ids may repeat). */
static void embedding_backward(lmg_graph *g, lmg_node *n) {
  const lmg_node *ids = lmg_in(g, n, 0), *w = lmg_in(g, n, 1);
  if (!w->grad)
    return;
  int64_t V = w->shape[0], D = w->shape[1];
  for (int64_t i = 0; i < ids->size; i++) {
    int64_t id = id_at(ids, i);
    if (id < 0 || id >= V)
      continue;
    const float *dy = n->grad + i * D;
    float *dw = w->grad + id * D;
    for (int64_t k = 0; k < D; k++)
      dw[k] += dy[k];
  }
}

const lm_op lmo_op_embedding = {"embedding", embedding_infer, embedding_forward,
                                embedding_backward, NULL};

int lmo_embedding(lmg_graph *g, int ids, int table) {
  int in[2] = {ids, table};
  return lmg_op(g, &lmo_op_embedding, 2, in, NULL);
}

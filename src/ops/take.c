/* take: y[i] = x[i, idx[i]] for x (N, C) and class indices idx (N) or (N, 1),
 * float32 (rounded) or int32. Out-of-range indices are clamped to [0, C - 1]. */
#include <math.h>

#include "ops/ops.h"

static lm_status take_infer(lmg_graph *g, lmg_node *n) {
  const lmg_node *x = lmg_in(g, n, 0), *idx = lmg_in(g, n, 1);
  bool idx_ok =
      idx->ndim == 1 || (idx->ndim == 2 && (idx->shape[1] == 1 || idx->shape[1] == LM_NONE));
  int64_t nx = x->ndim == 2 ? x->shape[0] : 0, ni = idx->ndim >= 1 ? idx->shape[0] : 0;
  if (x->dtype != LM_FLOAT32 || x->ndim != 2 || !idx_ok ||
      (nx != LM_NONE && ni != LM_NONE && nx != ni)) {
    char sx[128], si[128];
    lm_shape_str(x->ndim, x->shape, sx, sizeof sx);
    lm_shape_str(idx->ndim, idx->shape, si, sizeof si);
    return lm_fail(g->ctx, LM_ERR_SHAPE,
                   "take expects float32 values of shape (N, C) and indices of shape (N,) or "
                   "(N, 1), got %s and %s",
                   sx, si);
  }
  n->dtype = LM_FLOAT32;
  n->ndim = 1;
  n->shape[0] = nx != LM_NONE ? nx : ni;
  return LM_OK;
}

static inline int64_t take_index(const lmg_node *idx, int64_t i, int64_t C) {
  if (idx->dtype == LM_INT32) {
    int32_t v = ((const int32_t *)idx->val)[i];
    return v < 0 ? 0 : v >= C ? C - 1 : v;
  }
  float v = idx->val[i];
  if (!(v >= 0.0f)) return 0; /* negative or NaN */
  if (v >= (float)(C - 1)) return C - 1;
  return (int64_t)lrintf(v);
}

static void take_forward(lmg_graph *g, lmg_node *n) {
  const lmg_node *x = lmg_in(g, n, 0), *idx = lmg_in(g, n, 1);
  int64_t C = x->shape[1];
  float *y = n->val;
  if (C == 0) {
    LMO_MAP(g->threads, n->size, y[i] = 0.0f);
    return;
  }
  LMO_MAP(g->threads, n->size, y[i] = x->val[i * C + take_index(idx, i, C)]);
}

static void take_backward(lmg_graph *g, lmg_node *n) {
  const lmg_node *x = lmg_in(g, n, 0), *idx = lmg_in(g, n, 1);
  int64_t C = x->shape[1];
  float *dx = x->grad;
  const float *dy = n->grad;
  if (!dx || C == 0) return;
  LMO_MAP(g->threads, n->size, dx[i * C + take_index(idx, i, C)] += dy[i]);
}

const lm_op lmo_op_take = {"take", take_infer, take_forward, take_backward, NULL};

int lmo_take(lmg_graph *g, int x, int idx) {
  int in[2] = {x, idx};
  return lmg_op(g, &lmo_op_take, 2, in, NULL);
}

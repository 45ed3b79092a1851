/* matmul: x (..., K) . w (K, N) [+ b (N)] -> (..., N), through lmk_sgemm. */
#include <assert.h>
#include <limits.h>

#include "kernels/kernels.h"
#include "ops/ops.h"

static lm_status matmul_infer(lmg_graph *g, lmg_node *n) {
  lmg_node *x = lmg_in(g, n, 0), *w = lmg_in(g, n, 1);
  if (lmo_check_f32(g, n)) return g->ctx->err;
  char sx[128], sw[128];
  lm_shape_str(x->ndim, x->shape, sx, sizeof sx);
  lm_shape_str(w->ndim, w->shape, sw, sizeof sw);
  if (x->ndim < 1 || w->ndim != 2)
    return lm_fail(g->ctx, LM_ERR_SHAPE,
                   "matmul expects x of rank >= 1 and a rank-2 kernel, got shapes %s and %s", sx,
                   sw);
  int64_t k = x->shape[x->ndim - 1];
  if (k != LM_NONE && w->shape[0] != LM_NONE && k != w->shape[0])
    return lm_fail(g->ctx, LM_ERR_SHAPE,
                   "Dimensions must be equal, but are %lld and %lld for 'matmul' with input "
                   "shapes: %s, %s",
                   (long long)k, (long long)w->shape[0], sx, sw);
  if (n->n_in == 3) {
    lmg_node *b = lmg_in(g, n, 2);
    if (b->ndim != 1 ||
        (b->shape[0] != LM_NONE && w->shape[1] != LM_NONE && b->shape[0] != w->shape[1])) {
      char sb[128];
      lm_shape_str(b->ndim, b->shape, sb, sizeof sb);
      return lm_fail(g->ctx, LM_ERR_SHAPE,
                     "matmul bias of shape %s does not fit the kernel of shape %s", sb, sw);
    }
  }
  n->dtype = LM_FLOAT32;
  n->ndim = x->ndim;
  for (int i = 0; i < x->ndim - 1; i++) n->shape[i] = x->shape[i];
  n->shape[n->ndim - 1] = w->shape[1];
  return LM_OK;
}

/* Rows M, depth K and columns N of a planned matmul node. */
static void matmul_dims(lmg_graph *g, const lmg_node *n, int *m, int *k, int *nc) {
  const lmg_node *x = lmg_in(g, n, 0), *w = lmg_in(g, n, 1);
  int64_t kk = w->shape[0], nn = w->shape[1], mm = lmg_numel(x->ndim - 1, x->shape);
  assert(mm <= INT_MAX && kk <= INT_MAX && nn <= INT_MAX);
  *m = (int)mm;
  *k = (int)kk;
  *nc = (int)nn;
}

static void matmul_forward(lmg_graph *g, lmg_node *n) {
  int M, K, N;
  matmul_dims(g, n, &M, &K, &N);
  const float *x = lmg_in(g, n, 0)->val, *w = lmg_in(g, n, 1)->val;
  float *y = n->val;
  float beta = 0.0f;
  if (n->n_in == 3) {
    const float *b = lmg_in(g, n, 2)->val;
    LMO_PAR_FOR(g->threads, (int64_t)M * N > LMO_PAR_MIN)
    for (int i = 0; i < M; i++)
      for (int j = 0; j < N; j++) y[(int64_t)i * N + j] = b[j];
    beta = 1.0f;
  } else if (K == 0) {
    for (int64_t i = 0; i < n->size; i++) y[i] = 0.0f;
  }
  if (M && N && K) lmk_sgemm(false, false, M, N, K, 1.0f, x, K, w, N, beta, y, N);
}

/* db += column sums of dy (M, N); each column is summed over rows in order. */
static void bias_grad(lmg_graph *g, const float *dy, int M, int N, float *db) {
  enum { BLK = 64 };
  int n_blk = (N + BLK - 1) / BLK;
  LMO_PAR_FOR(g->threads, (int64_t)M * N > LMO_PAR_MIN)
  for (int bi = 0; bi < n_blk; bi++) {
    int c0 = bi * BLK, c1 = c0 + BLK < N ? c0 + BLK : N;
    double acc[BLK] = {0};
    for (int i = 0; i < M; i++) {
      const float *row = dy + (int64_t)i * N;
      for (int j = c0; j < c1; j++) acc[j - c0] += row[j];
    }
    for (int j = c0; j < c1; j++) db[j] += (float)acc[j - c0];
  }
}

static void matmul_backward(lmg_graph *g, lmg_node *n) {
  int M, K, N;
  matmul_dims(g, n, &M, &K, &N);
  lmg_node *x = lmg_in(g, n, 0), *w = lmg_in(g, n, 1);
  const float *dy = n->grad;
  if (M && N && K) {
    /* dx (M, K) += dy (M, N) . w^T;  dw (K, N) += x^T . dy */
    if (x->grad) lmk_sgemm(false, true, M, K, N, 1.0f, dy, N, w->val, N, 1.0f, x->grad, K);
    if (w->grad) lmk_sgemm(true, false, K, N, M, 1.0f, x->val, K, dy, N, 1.0f, w->grad, N);
  }
  if (n->n_in == 3 && lmg_in(g, n, 2)->grad) bias_grad(g, dy, M, N, lmg_in(g, n, 2)->grad);
}

const lm_op lmo_op_matmul = {"matmul", matmul_infer, matmul_forward, matmul_backward, NULL};

int lmo_matmul(lmg_graph *g, int x, int w, int b) {
  int in[3] = {x, w, b};
  return lmg_op(g, &lmo_op_matmul, b < 0 ? 2 : 3, in, NULL);
}

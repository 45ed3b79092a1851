/* depthwise: direct depthwise 2-D convolution (src/kernels/depthwise.c);
 * pointwise: the 1x1 stride-1 convolution of SeparableConv2D as one gemm. */
#include <assert.h>
#include <limits.h>

#include "kernels/conv_shape.h"
#include "kernels/depthwise.h"
#include "kernels/kernels.h"
#include "ops/spatial.h"

/* ---- depthwise ---- */

static lm_status dw_infer(lmg_graph *g, lmg_node *n) {
  if (lmo_check_f32(g, n)) return g->ctx->err;
  const lmg_node *x = lmg_in(g, n, 0), *k = lmg_in(g, n, 1);
  char sx[128], sk[128];
  lm_shape_str(x->ndim, x->shape, sx, sizeof sx);
  lm_shape_str(k->ndim, k->shape, sk, sizeof sk);
  if (x->ndim != 4 || k->ndim != 4 || k->shape[0] < 1 || k->shape[1] < 1 || k->shape[3] < 1)
    return lm_fail(g->ctx, LM_ERR_SHAPE,
                   "depthwise expects x (N, H, W, C) and a kernel (kh, kw, C, dm), got shapes "
                   "%s and %s",
                   sx, sk);
  if (x->shape[3] != LM_NONE && x->shape[3] != k->shape[2])
    return lm_fail(g->ctx, LM_ERR_SHAPE,
                   "depthwise: the input has %lld channels but the kernel %s expects %lld "
                   "(input shape %s)",
                   (long long)x->shape[3], sk, (long long)k->shape[2], sx);
  int64_t oc = k->shape[2] * k->shape[3];
  if (n->n_in == 3) {
    const lmg_node *b = lmg_in(g, n, 2);
    if (b->ndim != 1 || b->shape[0] != oc)
      return lm_fail(g->ctx, LM_ERR_SHAPE, "depthwise: the bias must have shape (%lld,)",
                     (long long)oc);
  }
  const bool same = n->iarg[4] != 0;
  n->dtype = LM_FLOAT32;
  n->ndim = 4;
  n->shape[0] = x->shape[0];
  for (int a = 1; a <= 2; a++) {
    int64_t len = x->shape[a];
    int kk = (int)k->shape[a - 1], s = n->iarg[a - 1], d = n->iarg[a + 1];
    if (len == LM_NONE) {
      n->shape[a] = LM_NONE;
      continue;
    }
    n->shape[a] = lmk_conv_out(len, kk, s, d, same);
    if (n->shape[a] < 1)
      return lm_fail(g->ctx, LM_ERR_SHAPE,
                     "Negative dimension size caused by subtracting %d from %lld for "
                     "'depthwise' with input shape %s and kernel shape %s (padding 'valid', "
                     "dilation %d)",
                     kk + (kk - 1) * (d - 1), (long long)len, sx, sk, d);
  }
  n->shape[3] = oc;
  return LM_OK;
}

static lmk_dw_geom dw_geom(lmg_graph *g, const lmg_node *n) {
  const lmg_node *x = lmg_in(g, n, 0), *k = lmg_in(g, n, 1);
  lmk_dw_geom q;
  assert(x->shape[0] <= INT_MAX && x->shape[1] <= INT_MAX && x->shape[2] <= INT_MAX);
  q.n = (int)x->shape[0];
  q.h = (int)x->shape[1];
  q.w = (int)x->shape[2];
  q.c = (int)x->shape[3];
  q.kh = (int)k->shape[0];
  q.kw = (int)k->shape[1];
  q.dm = (int)k->shape[3];
  q.sh = n->iarg[0];
  q.sw = n->iarg[1];
  q.dh = n->iarg[2];
  q.dw = n->iarg[3];
  q.oh = (int)n->shape[1];
  q.ow = (int)n->shape[2];
  const bool same = n->iarg[4] != 0;
  int64_t before, after;
  lmk_conv_pads(q.h, q.kh, q.sh, q.dh, same, &before, &after);
  q.pad_top = (int)before;
  lmk_conv_pads(q.w, q.kw, q.sw, q.dw, same, &before, &after);
  q.pad_left = (int)before;
  return q;
}

static size_t dw_workspace(const lmg_graph *g, const lmg_node *n) {
  lmk_dw_geom q = dw_geom((lmg_graph *)g, n);
  return lmk_depthwise_scratch(&q);
}

void lmo_depthwise_run(lmg_graph *g, lmg_node *n, const float *k, const float *b, float *y) {
  lmk_dw_geom q = dw_geom(g, n);
  lmk_depthwise_fwd(&q, lmg_in(g, n, 0)->val, k, b, y, g->threads);
}

static void dw_forward(lmg_graph *g, lmg_node *n) {
  const float *b = n->n_in == 3 ? lmg_in(g, n, 2)->val : NULL;
  lmo_depthwise_run(g, n, lmg_in(g, n, 1)->val, b, n->val);
}

static void dw_backward(lmg_graph *g, lmg_node *n) {
  lmk_dw_geom q = dw_geom(g, n);
  lmg_node *x = lmg_in(g, n, 0), *k = lmg_in(g, n, 1);
  if (x->grad) lmk_depthwise_bwd_data(&q, n->grad, k->val, x->grad, g->threads);
  if (k->grad) lmk_depthwise_bwd_filter(&q, x->val, n->grad, k->grad, n->ws, g->threads);
  if (n->n_in == 3 && lmg_in(g, n, 2)->grad)
    lmk_bias_grad_rows(n->grad, n->size / n->shape[3], (int)n->shape[3], lmg_in(g, n, 2)->grad,
                       g->threads);
}

const lm_op lmo_op_depthwise = {"depthwise", dw_infer, dw_forward, dw_backward, dw_workspace};

int lmo_depthwise(lmg_graph *g, int x, int k, int b, int sh, int sw, int dh, int dw, bool same) {
  if (sh < 1 || sw < 1 || dh < 1 || dw < 1) {
    lm_fail(g->ctx, LM_ERR_ARG, "depthwise: strides (%d, %d) and dilations (%d, %d) must be >= 1",
            sh, sw, dh, dw);
    return -1;
  }
  lmg_node init = {0};
  init.iarg[0] = sh;
  init.iarg[1] = sw;
  init.iarg[2] = dh;
  init.iarg[3] = dw;
  init.iarg[4] = same;
  int in[3] = {x, k, b};
  return lmg_op(g, &lmo_op_depthwise, b < 0 ? 2 : 3, in, &init);
}

/* ---- pointwise ---- */

static lm_status pw_infer(lmg_graph *g, lmg_node *n) {
  if (lmo_check_f32(g, n)) return g->ctx->err;
  const lmg_node *x = lmg_in(g, n, 0), *w = lmg_in(g, n, 1);
  char sx[128], sw[128];
  lm_shape_str(x->ndim, x->shape, sx, sizeof sx);
  lm_shape_str(w->ndim, w->shape, sw, sizeof sw);
  bool ok = x->ndim >= 1 && w->ndim >= 2;
  for (int i = 0; ok && i < w->ndim - 2; i++) ok = w->shape[i] == 1;
  if (!ok)
    return lm_fail(g->ctx, LM_ERR_SHAPE,
                   "pointwise expects x (..., K) and a kernel (1, ..., 1, K, N), got shapes %s "
                   "and %s",
                   sx, sw);
  int64_t kdim = x->shape[x->ndim - 1], wk = w->shape[w->ndim - 2], wn = w->shape[w->ndim - 1];
  if (kdim != LM_NONE && kdim != wk)
    return lm_fail(g->ctx, LM_ERR_SHAPE,
                   "pointwise: the input has %lld channels but the kernel %s expects %lld "
                   "(input shape %s)",
                   (long long)kdim, sw, (long long)wk, sx);
  if (n->n_in == 3) {
    const lmg_node *b = lmg_in(g, n, 2);
    if (b->ndim != 1 || b->shape[0] != wn)
      return lm_fail(g->ctx, LM_ERR_SHAPE, "pointwise: the bias must have shape (%lld,)",
                     (long long)wn);
  }
  n->dtype = LM_FLOAT32;
  n->ndim = x->ndim;
  for (int i = 0; i < x->ndim - 1; i++) n->shape[i] = x->shape[i];
  n->shape[n->ndim - 1] = wn;
  return LM_OK;
}

static void pw_dims(lmg_graph *g, const lmg_node *n, int *m, int *k, int *nc) {
  const lmg_node *x = lmg_in(g, n, 0), *w = lmg_in(g, n, 1);
  int64_t mm = lmg_numel(x->ndim - 1, x->shape);
  assert(mm <= INT_MAX);
  *m = (int)mm;
  *k = (int)w->shape[w->ndim - 2];
  *nc = (int)w->shape[w->ndim - 1];
}

static void pw_forward(lmg_graph *g, lmg_node *n) {
  int M, K, N;
  pw_dims(g, n, &M, &K, &N);
  float *y = n->val, beta = 0.0f;
  if (n->n_in == 3) {
    const float *b = lmg_in(g, n, 2)->val;
    LMO_PAR_FOR(g->threads, (int64_t)M * N > LMO_PAR_MIN)
    for (int i = 0; i < M; i++)
      for (int j = 0; j < N; j++) y[(int64_t)i * N + j] = b[j];
    beta = 1.0f;
  } else if (K == 0) {
    for (int64_t i = 0; i < n->size; i++) y[i] = 0.0f;
  }
  if (M && N && K)
    lmk_sgemm_rows(M, N, K, lmg_in(g, n, 0)->val, K, lmg_in(g, n, 1)->val, N, beta, y, N,
                   g->threads);
}

static void pw_backward(lmg_graph *g, lmg_node *n) {
  int M, K, N;
  pw_dims(g, n, &M, &K, &N);
  lmg_node *x = lmg_in(g, n, 0), *w = lmg_in(g, n, 1);
  if (M && N && K) {
    if (x->grad) lmk_sgemm(false, true, M, K, N, 1.0f, n->grad, N, w->val, N, 1.0f, x->grad, K);
    if (w->grad) lmk_sgemm(true, false, K, N, M, 1.0f, x->val, K, n->grad, N, 1.0f, w->grad, N);
  }
  if (n->n_in == 3 && lmg_in(g, n, 2)->grad)
    lmk_bias_grad_rows(n->grad, M, N, lmg_in(g, n, 2)->grad, g->threads);
}

const lm_op lmo_op_pointwise = {"pointwise", pw_infer, pw_forward, pw_backward, NULL};

int lmo_pointwise(lmg_graph *g, int x, int w, int b) {
  int in[3] = {x, w, b};
  return lmg_op(g, &lmo_op_pointwise, b < 0 ? 2 : 3, in, NULL);
}

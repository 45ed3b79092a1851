/* simple_rnn: Keras SimpleRNN over a sequence as one op.
 *
 * Inputs as lstm (src/ops/lstm.c) with one gate: x (N, T, D), W (D, U),
 * R (U, U) [, b (U)] [, mask ids (N, T)]; h_t = act(x_t W + h_{t-1} R + b).
 * Same iarg layout, masking and go_backwards rules as lstm. */
#include <assert.h>
#include <limits.h>
#include <string.h>

#include "kernels/kernels.h"
#include "ops/ops.h"

enum { A_BIAS, A_MASK, A_SEQ, A_BACK, A_ACT };

static lm_status srnn_infer(lmg_graph *g, lmg_node *n) {
  return lmo_rnn_infer(g, n, 1, 1);
}

/* Workspace (floats): G (N,T,U) activated outputs by time t; Hp (N,T,U)
 * the state before time t; dG (N,T,U); h, dh, dh2 (N,U). */
static size_t srnn_ws(const lmg_graph *g, const lmg_node *n) {
  const lmg_node *x = &g->nodes[n->in[0]], *r = &g->nodes[n->in[2]];
  size_t NT = (size_t)(x->shape[0] * x->shape[1]), N = (size_t)x->shape[0];
  return sizeof(float) * (NT * 3 + N * 3) * (size_t)r->shape[0];
}

typedef struct sdims {
  int N, T, D, U;
  float *G, *Hp, *dG, *h, *dh, *dh2;
  const lmg_node *mask;
} sdims;

static sdims get(lmg_graph *g, lmg_node *n) {
  const lmg_node *x = lmg_in(g, n, 0), *r = lmg_in(g, n, 2);
  assert(x->shape[0] * x->shape[1] <= INT_MAX);
  sdims d;
  memset(&d, 0, sizeof d);
  d.N = (int)x->shape[0], d.T = (int)x->shape[1], d.D = (int)x->shape[2],
  d.U = (int)r->shape[0];
  size_t NTU = (size_t)d.N * (size_t)d.T * (size_t)d.U,
         NU = (size_t)d.N * (size_t)d.U;
  d.G = n->ws;
  d.Hp = d.G + NTU;
  d.dG = d.Hp + NTU;
  d.h = d.dG + NTU;
  d.dh = d.h + NU;
  d.dh2 = d.dh + NU;
  d.mask = n->iarg[A_MASK] ? lmg_in(g, n, n->iarg[A_BIAS] ? 4 : 3) : NULL;
  return d;
}

static void srnn_forward(lmg_graph *g, lmg_node *n) {
  sdims d = get(g, n);
  int N = d.N, T = d.T, D = d.D, U = d.U;
  const float *x = lmg_in(g, n, 0)->val, *W = lmg_in(g, n, 1)->val,
              *R = lmg_in(g, n, 2)->val;
  const float *bias = n->iarg[A_BIAS] ? lmg_in(g, n, 3)->val : NULL;
  int64_t NT = (int64_t)N * T;
  for (int64_t i = 0; i < NT; i++)
    for (int j = 0; j < U; j++)
      d.G[i * U + j] = bias ? bias[j] : 0.0f;
  if (NT && D)
    lmk_sgemm(false, false, (int)NT, U, D, 1.0f, x, D, W, U, 1.0f, d.G, U);
  memset(d.h, 0, sizeof(float) * (size_t)N * (size_t)U);
  for (int s = 0; s < T; s++) {
    int t = n->iarg[A_BACK] ? T - 1 - s : s;
    for (int i = 0; i < N; i++)
      memcpy(d.Hp + ((int64_t)i * T + t) * U, d.h + (int64_t)i * U,
             sizeof(float) * (size_t)U);
    if (s > 0)
      lmk_sgemm_portable(false, false, N, U, U, 1.0f, d.Hp + (int64_t)t * U,
                         T * U, R, U, 1.0f, d.G + (int64_t)t * U, T * U);
    for (int i = 0; i < N; i++) {
      int64_t it = (int64_t)i * T + t;
      if (lmo_rnn_masked(d.mask, it))
        continue;
      float *z = d.G + it * U, *h = d.h + (int64_t)i * U;
      for (int u = 0; u < U; u++)
        h[u] = z[u] = lmo_rnn_act(n->iarg[A_ACT], z[u]);
    }
    if (n->iarg[A_SEQ])
      for (int i = 0; i < N; i++)
        memcpy(n->val + ((int64_t)i * T + s) * U, d.h + (int64_t)i * U,
               sizeof(float) * (size_t)U);
  }
  if (!n->iarg[A_SEQ])
    memcpy(n->val, d.h, sizeof(float) * (size_t)N * (size_t)U);
}

static void srnn_backward(lmg_graph *g, lmg_node *n) {
  sdims d = get(g, n);
  int N = d.N, T = d.T, D = d.D, U = d.U;
  lmg_node *xn = lmg_in(g, n, 0), *wn = lmg_in(g, n, 1), *rn = lmg_in(g, n, 2);
  lmg_node *bn = n->iarg[A_BIAS] ? lmg_in(g, n, 3) : NULL;
  int64_t NT = (int64_t)N * T, NU = (int64_t)N * U;
  memset(d.dh, 0, sizeof(float) * (size_t)NU);
  if (!n->iarg[A_SEQ])
    for (int64_t k = 0; k < NU; k++)
      d.dh[k] = n->grad[k];
  for (int s = T - 1; s >= 0; s--) {
    int t = n->iarg[A_BACK] ? T - 1 - s : s;
    if (n->iarg[A_SEQ])
      for (int64_t k = 0; k < NU; k++)
        d.dh[k] += n->grad[((k / U) * T + s) * U + k % U];
    for (int i = 0; i < N; i++) {
      int64_t it = (int64_t)i * T + t;
      float *dz = d.dG + it * U;
      const float *h = d.G + it * U, *dh = d.dh + (int64_t)i * U;
      bool masked = lmo_rnn_masked(d.mask, it);
      for (int u = 0; u < U; u++)
        dz[u] = masked ? 0.0f : dh[u] * lmo_rnn_act_d(n->iarg[A_ACT], h[u]);
    }
    if (s == 0)
      break;
    lmk_sgemm_portable(false, true, N, U, U, 1.0f, d.dG + (int64_t)t * U, T * U,
                       rn->val, U, 0.0f, d.dh2, U);
    for (int i = 0; i < N; i++)
      if (!lmo_rnn_masked(d.mask, (int64_t)i * T + t))
        memcpy(d.dh + (int64_t)i * U, d.dh2 + (int64_t)i * U,
               sizeof(float) * (size_t)U);
  }
  if (!NT)
    return;
  if (wn->grad && D)
    lmk_sgemm(true, false, D, U, (int)NT, 1.0f, xn->val, D, d.dG, U, 1.0f,
              wn->grad, U);
  if (rn->grad)
    lmk_sgemm(true, false, U, U, (int)NT, 1.0f, d.Hp, U, d.dG, U, 1.0f,
              rn->grad, U);
  if (xn->grad && D)
    lmk_sgemm(false, true, (int)NT, D, U, 1.0f, d.dG, U, wn->val, U, 1.0f,
              xn->grad, D);
  if (bn && bn->grad)
    for (int j = 0; j < U; j++) {
      double acc = 0;
      for (int64_t i = 0; i < NT; i++)
        acc += d.dG[i * U + j];
      bn->grad[j] += (float)acc;
    }
}

const lm_op lmo_op_simple_rnn = {"simple_rnn", srnn_infer, srnn_forward,
                                 srnn_backward, srnn_ws};

int lmo_simple_rnn(lmg_graph *g, int x, int w, int r, int b, int mask,
                   const lmo_rnn_args *a) {
  int in[5], k = 0;
  in[k++] = x, in[k++] = w, in[k++] = r;
  if (b >= 0)
    in[k++] = b;
  if (mask >= 0)
    in[k++] = mask;
  lmg_node init;
  memset(&init, 0, sizeof init);
  init.iarg[A_BIAS] = b >= 0;
  init.iarg[A_MASK] = mask >= 0;
  init.iarg[A_SEQ] = a->return_sequences;
  init.iarg[A_BACK] = a->go_backwards;
  init.iarg[A_ACT] = a->activation;
  return lmg_op(g, &lmo_op_simple_rnn, k, in, &init);
}

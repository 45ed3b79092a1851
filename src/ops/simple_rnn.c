/* simple_rnn: Keras SimpleRNN over a sequence as one op.
 *
 * Inputs as lstm (src/ops/lstm.c) with one gate: x (N, T, D), W (D, U),
 * R (U, U) [, b (U)] [, mask ids (N, T)]; h_t = act(x_t W + h_{t-1} R + b).
 * Same layout, masking, go_backwards, return_state (one state row) and
 * threading as lstm; dropout and recurrent_dropout use one mask each. */
#include <string.h>

#include "kernels/kernels.h"
#include "ops/rnn.h"

enum { GATES = 1, EXTRA = 0, STATES = 1 };

static lm_status srnn_infer(lmg_graph *g, lmg_node *n) { return lmo_rnn_infer(g, n, GATES, 1); }

static size_t srnn_ws(const lmg_graph *g, const lmg_node *n) {
  return lmo_rnn_ws(g, n, GATES, GATES, EXTRA, STATES);
}

static lmo_rnn get(lmg_graph *g, lmg_node *n) {
  return lmo_rnn_get(g, n, GATES, GATES, EXTRA, STATES);
}

/* Rows [lo, hi) through all steps; Z keeps the activated outputs. */
static void fwd_rows(lmg_node *n, const lmo_rnn *r, int lo, int hi) {
  int T = r->T, U = r->U, act = lmo_rnn_kind(n->iarg[RNN_ACT]);
  float *h0 = r->state + (size_t)lo * U;
  for (int s = 0; s < T; s++) {
    int t = n->iarg[RNN_BACK] ? T - 1 - s : s;
    for (int i = lo; i < hi; i++)
      memcpy(r->Hp + lmo_rnn_ws_row(r, i, t) * U, h0 + (size_t)(i - lo) * U,
             sizeof(float) * (size_t)U);
    if (s > 0 || r->has_init) lmo_rnn_rec_fwd(r, lo, hi, t, h0);
    for (int i = lo; i < hi; i++) {
      int64_t it = lmo_rnn_ws_row(r, i, t);
      if (lmo_rnn_masked(r->mask, (int64_t)i * T + t)) continue;
      float *z = r->Z + it * U;
      lmk_rnn_act(act, U, z, z);
      memcpy(h0 + (size_t)(i - lo) * U, z, sizeof(float) * (size_t)U);
    }
    if (n->iarg[RNN_SEQ])
      for (int i = lo; i < hi; i++)
        memcpy(n->val + lmo_rnn_out_row(r, i, s), h0 + (size_t)(i - lo) * U,
               sizeof(float) * (size_t)U);
  }
  for (int i = lo; i < hi; i++) {
    const float *h = h0 + (size_t)(i - lo) * U;
    if (!n->iarg[RNN_SEQ]) memcpy(n->val + lmo_rnn_out_row(r, i, 0), h, sizeof(float) * U);
    if (n->iarg[RNN_STATE])
      memcpy(n->val + lmo_rnn_state_row(r, i, 0), h, sizeof(float) * (size_t)U);
  }
}

static void srnn_forward(lmg_graph *g, lmg_node *n) {
  lmo_rnn r = get(g, n);
  lmo_rnn_forward(g, n, &r, fwd_rows);
}

static void bwd_rows(lmg_node *n, const lmo_rnn *r, int lo, int hi) {
  int T = r->T, U = r->U, act = lmo_rnn_kind(n->iarg[RNN_ACT]);
  float *dh0 = r->dstate + (size_t)lo * U;
  for (int i = lo; i < hi; i++) {
    float *dh = dh0 + (size_t)(i - lo) * U;
    memset(dh, 0, sizeof(float) * (size_t)U);
    if (!n->iarg[RNN_SEQ])
      for (int u = 0; u < U; u++) dh[u] += n->grad[lmo_rnn_out_row(r, i, 0) + u];
    if (n->iarg[RNN_STATE])
      for (int u = 0; u < U; u++) dh[u] += n->grad[lmo_rnn_state_row(r, i, 0) + u];
  }
  for (int s = T - 1; s >= 0; s--) {
    int t = n->iarg[RNN_BACK] ? T - 1 - s : s;
    for (int i = lo; i < hi; i++) {
      int64_t it = lmo_rnn_ws_row(r, i, t);
      float *dh = dh0 + (size_t)(i - lo) * U, *dz = r->dZ + it * U;
      if (n->iarg[RNN_SEQ]) {
        const float *gy = n->grad + lmo_rnn_out_row(r, i, s);
        for (int u = 0; u < U; u++) dh[u] += gy[u];
      }
      if (lmo_rnn_masked(r->mask, (int64_t)i * T + t)) {
        memset(dz, 0, sizeof(float) * (size_t)U);
        continue;
      }
      lmk_rnn_act_d(act, U, r->Z + it * U, dz);
      for (int u = 0; u < U; u++) dz[u] *= dh[u];
    }
    if (s > 0 || r->has_init) lmo_rnn_rec_bwd(r, lo, hi, t, dh0);
  }
}

static void srnn_backward(lmg_graph *g, lmg_node *n) {
  lmo_rnn r = get(g, n);
  lmo_rnn_backward(g, n, &r, bwd_rows);
}

const lm_op lmo_op_simple_rnn = {"simple_rnn", srnn_infer, srnn_forward, srnn_backward, srnn_ws};

int lmo_simple_rnn_ex(lmg_graph *g, int x, int w, int r, int b, int mask, const lmo_rnn_args *a,
                       const lmo_rnn_more *more) {
  return lmo_rnn_node(g, &lmo_op_simple_rnn, x, w, r, b, mask, a, more, STATES);
}

int lmo_simple_rnn(lmg_graph *g, int x, int w, int r, int b, int mask, const lmo_rnn_args *a) {
  return lmo_simple_rnn_ex(g, x, w, r, b, mask, a, NULL);
}

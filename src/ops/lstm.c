/* lstm: the whole Keras LSTM over a sequence as one op.
 *
 * Inputs: x (N, T, D), kernel W (D, 4U), recurrent kernel R (U, 4U), then
 * optionally the bias b (4U) and the ids (N, T) whose zeros mask steps
 * (mask_zero of an Embedding). Gate column blocks in Keras order i, f, c, o.
 * Output (N, U), or (N, T, U) with return_sequences; with go_backwards the
 * steps run from T-1 down to 0 and the sequence output keeps that order
 * (Keras 2.2.4). A masked step keeps h and c and outputs the previous h.
 * return_state puts the final h and c first, as two more rows (src/ops/rnn.h);
 * dropout and recurrent_dropout use four masks each, one per gate (Keras
 * 2.2.4, implementation=1).
 *
 * The input projection of all steps is one sgemm (src/ops/rnn.c). The time
 * loop runs on chunks of the batch, one per thread, with no synchronisation:
 * each step adds h . R for the chunk's rows (lmk_rowmm) and applies the gates
 * with the vectorised activations. Backward through time runs the same way
 * and ends with sgemms for dx, dW and dR. */
#include <string.h>

#include "kernels/kernels.h"
#include "ops/rnn.h"

enum { GATES = 4, EXTRA = 2, STATES = 2 }; /* extra: Cp and Tc */

static lm_status lstm_infer(lmg_graph *g, lmg_node *n) { return lmo_rnn_infer(g, n, GATES, 1); }

static size_t lstm_ws(const lmg_graph *g, const lmg_node *n) {
  return lmo_rnn_ws(g, n, GATES, GATES, EXTRA, STATES);
}

static lmo_rnn get(lmg_graph *g, lmg_node *n) {
  return lmo_rnn_get(g, n, GATES, GATES, EXTRA, STATES);
}

/* Rows [lo, hi) through all steps. Cp, Tc: the cell before each step and
 * act(c) after it, kept for backward. */
static void fwd_rows(lmg_node *n, const lmo_rnn *r, int lo, int hi) {
  int T = r->T, U = r->U, G = r->G;
  int act = lmo_rnn_kind(n->iarg[RNN_ACT]), rec = lmo_rnn_kind(n->iarg[RNN_REC]);
  size_t NTU = (size_t)r->N * (size_t)T * (size_t)U;
  float *Cp = r->extra, *Tc = r->extra + NTU;
  float *h0 = r->state + (size_t)lo * U, *c0 = r->state + ((size_t)r->N + lo) * U;
  for (int s = 0; s < T; s++) {
    int t = n->iarg[RNN_BACK] ? T - 1 - s : s;
    for (int i = lo; i < hi; i++) {
      int64_t it = lmo_rnn_ws_row(r, i, t);
      memcpy(r->Hp + it * U, h0 + (size_t)(i - lo) * U, sizeof(float) * (size_t)U);
      memcpy(Cp + it * U, c0 + (size_t)(i - lo) * U, sizeof(float) * (size_t)U);
    }
    if (s > 0 || r->has_init) lmo_rnn_rec_fwd(r, lo, hi, t, h0);
    for (int i = lo; i < hi; i++) {
      int64_t it = lmo_rnn_ws_row(r, i, t);
      if (lmo_rnn_masked(r->mask, (int64_t)i * T + t)) continue;
      float *z = r->Z + it * G, *tc = Tc + it * U;
      float *h = h0 + (size_t)(i - lo) * U, *c = c0 + (size_t)(i - lo) * U;
      lmk_rnn_act(rec, 2 * U, z, z); /* i, f */
      lmk_rnn_act(act, U, z + 2 * U, z + 2 * U);
      lmk_rnn_act(rec, U, z + 3 * U, z + 3 * U);
      const float *ig = z, *fg = z + U, *cg = z + 2 * U;
      for (int u = 0; u < U; u++) c[u] = fg[u] * c[u] + ig[u] * cg[u];
      lmk_rnn_act(act, U, c, tc);
      const float *og = z + 3 * U;
      for (int u = 0; u < U; u++) h[u] = og[u] * tc[u];
    }
    if (n->iarg[RNN_SEQ])
      for (int i = lo; i < hi; i++)
        memcpy(n->val + lmo_rnn_out_row(r, i, s), h0 + (size_t)(i - lo) * U,
               sizeof(float) * (size_t)U);
  }
  for (int i = lo; i < hi; i++) {
    const float *h = h0 + (size_t)(i - lo) * U, *c = c0 + (size_t)(i - lo) * U;
    if (!n->iarg[RNN_SEQ]) memcpy(n->val + lmo_rnn_out_row(r, i, 0), h, sizeof(float) * U);
    if (n->iarg[RNN_STATE]) {
      memcpy(n->val + lmo_rnn_state_row(r, i, 0), h, sizeof(float) * (size_t)U);
      memcpy(n->val + lmo_rnn_state_row(r, i, 1), c, sizeof(float) * (size_t)U);
    }
  }
}

static void lstm_forward(lmg_graph *g, lmg_node *n) {
  lmo_rnn r = get(g, n);
  lmo_rnn_forward(g, n, &r, fwd_rows);
}

/* Rows [lo, hi) backward through all steps: dZ from dh, dc. */
static void bwd_rows(lmg_node *n, const lmo_rnn *r, int lo, int hi) {
  int T = r->T, U = r->U, G = r->G;
  int act = lmo_rnn_kind(n->iarg[RNN_ACT]), rec = lmo_rnn_kind(n->iarg[RNN_REC]);
  size_t NTU = (size_t)r->N * (size_t)T * (size_t)U;
  const float *Cp = r->extra, *Tc = r->extra + NTU;
  float *dh0 = r->dstate + (size_t)lo * U, *dc0 = r->dstate + ((size_t)r->N + lo) * U;
  float *scratch = r->tmp + (size_t)lo * U; /* free until lmo_rnn_rec_bwd */
  for (int i = lo; i < hi; i++) {
    float *dh = dh0 + (size_t)(i - lo) * U, *dc = dc0 + (size_t)(i - lo) * U;
    memset(dh, 0, sizeof(float) * (size_t)U);
    memset(dc, 0, sizeof(float) * (size_t)U);
    if (!n->iarg[RNN_SEQ])
      for (int u = 0; u < U; u++) dh[u] += n->grad[lmo_rnn_out_row(r, i, 0) + u];
    if (n->iarg[RNN_STATE])
      for (int u = 0; u < U; u++) {
        dh[u] += n->grad[lmo_rnn_state_row(r, i, 0) + u];
        dc[u] += n->grad[lmo_rnn_state_row(r, i, 1) + u];
      }
  }
  for (int s = T - 1; s >= 0; s--) {
    int t = n->iarg[RNN_BACK] ? T - 1 - s : s;
    for (int i = lo; i < hi; i++) {
      int64_t it = lmo_rnn_ws_row(r, i, t);
      float *dh = dh0 + (size_t)(i - lo) * U, *dc = dc0 + (size_t)(i - lo) * U;
      if (n->iarg[RNN_SEQ]) {
        const float *gy = n->grad + lmo_rnn_out_row(r, i, s);
        for (int u = 0; u < U; u++) dh[u] += gy[u];
      }
      float *dz = r->dZ + it * G;
      if (lmo_rnn_masked(r->mask, (int64_t)i * T + t)) {
        memset(dz, 0, sizeof(float) * (size_t)G);
        continue;
      }
      const float *z = r->Z + it * G, *tc = Tc + it * U, *cp = Cp + it * U;
      /* derivatives through the activated gates, in place in dz; d act(c)
       * through tc in the scratch row */
      float *dtc = scratch + (size_t)(i - lo) * U;
      lmk_rnn_act_d(rec, 2 * U, z, dz);
      lmk_rnn_act_d(act, U, z + 2 * U, dz + 2 * U);
      lmk_rnn_act_d(rec, U, z + 3 * U, dz + 3 * U);
      lmk_rnn_act_d(act, U, tc, dtc);
      const float *ig = z, *fg = z + U, *cg = z + 2 * U, *og = z + 3 * U;
      for (int u = 0; u < U; u++) {
        float dct = dc[u] + dh[u] * og[u] * dtc[u];
        dz[u] *= dct * cg[u];
        dz[U + u] *= dct * cp[u];
        dz[2 * U + u] *= dct * ig[u];
        dz[3 * U + u] *= dh[u] * tc[u];
        dc[u] = dct * fg[u];
      }
    }
    if (s > 0 || r->has_init) lmo_rnn_rec_bwd(r, lo, hi, t, dh0);
  }
}

static void lstm_backward(lmg_graph *g, lmg_node *n) {
  lmo_rnn r = get(g, n);
  lmo_rnn_backward(g, n, &r, bwd_rows);
}

const lm_op lmo_op_lstm = {"lstm", lstm_infer, lstm_forward, lstm_backward, lstm_ws};

int lmo_lstm_ex(lmg_graph *g, int x, int w, int r, int b, int mask, const lmo_rnn_args *a,
                 const lmo_rnn_more *more) {
  return lmo_rnn_node(g, &lmo_op_lstm, x, w, r, b, mask, a, more, STATES);
}

int lmo_lstm(lmg_graph *g, int x, int w, int r, int b, int mask, const lmo_rnn_args *a) {
  return lmo_lstm_ex(g, x, w, r, b, mask, a, NULL);
}

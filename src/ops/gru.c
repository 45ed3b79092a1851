/* gru: the whole Keras GRU over a sequence as one op.
 *
 * Inputs: x (N, T, D), kernel W (D, 3U), recurrent kernel R (U, 3U), then
 * optionally the bias and the ids (N, T) whose zeros mask steps. Gate column
 * blocks in Keras order z (update), r (reset), h (candidate).
 *   reset_after = false (Keras 2.2.4 default): bias (3U),
 *     hh = act(x Wh + bh + (r * h) Rh)
 *   reset_after = true (tf.keras default, = PyTorch's GRU): bias (2, 3U), row
 *     0 for the input, row 1 for the recurrent product,
 *     hh = act(x Wh + b0h + r * (h Rh + b1h))
 * with z = rec(x Wz + h Rz + b..), r likewise, and h' = z * h + (1 - z) * hh.
 * Output (N, U), or (N, T, U) with return_sequences; go_backwards and masking
 * as lstm (src/ops/lstm.c): steps T-1 .. 0, sequence output in step order, a
 * masked step keeps h and repeats it.
 *
 * The input projection of all steps is one sgemm; each step adds the
 * recurrent products (one sgemm, two with reset_after = false). Backward
 * through time runs in the same op and ends with sgemms for dx, dW and dR. */
#include <assert.h>
#include <limits.h>
#include <string.h>

#include "kernels/kernels.h"
#include "ops/ops.h"
#include "ops/rnn.h"

/* The node layout of ops/rnn.h (lmo_rnn_infer reads it): slot RNN_STATE stays 0 (no
 * return_state rows yet), and reset_after takes the last slot, which the lstm and
 * simple_rnn ops use for their dropout flags (the gru has no dropout yet). */
enum {
  A_BIAS = RNN_BIAS,
  A_MASK = RNN_MASK,
  A_SEQ = RNN_SEQ,
  A_BACK = RNN_BACK,
  A_ACT = RNN_ACT,
  A_REC = RNN_REC,
  A_AFTER = RNN_DROP
};

static lm_status gru_infer(lmg_graph *g, lmg_node *n) {
  return lmo_rnn_infer(g, n, 3, n->iarg[A_AFTER] ? 2 : 1);
}

/* Workspace (floats): G (N,T,3U) activated z, r, hh; Hp (N,T,U) the state
 * before step t; A (N,T,U) h Rh + b1h (reset_after) or r * h (before); dG
 * (N,T,3U) gradient of the pre-activations; dA (N,T,U) gradient of A
 * (reset_after); h, dh, dh2 (N,U); tmp (N,3U) a step's recurrent products. */
typedef struct gru_bufs {
  int N, T, D, U;
  float *G, *Hp, *A, *dG, *dA, *h, *dh, *dh2, *tmp;
  const lmg_node *mask;
} gru_bufs;

static size_t gru_ws(const lmg_graph *g, const lmg_node *n) {
  const lmg_node *x = &g->nodes[n->in[0]], *r = &g->nodes[n->in[2]];
  size_t NT = (size_t)(x->shape[0] * x->shape[1]), N = (size_t)x->shape[0];
  return sizeof(float) * (NT * 9 + N * 6) * (size_t)r->shape[0];
}

static gru_bufs get_bufs(lmg_graph *g, const lmg_node *n) {
  const lmg_node *x = lmg_in(g, n, 0), *r = lmg_in(g, n, 2);
  assert(x->shape[0] * x->shape[1] <= INT_MAX && x->shape[2] <= INT_MAX);
  gru_bufs b;
  b.N = (int)x->shape[0], b.T = (int)x->shape[1], b.D = (int)x->shape[2];
  b.U = (int)r->shape[0];
  size_t NTU = (size_t)b.N * (size_t)b.T * (size_t)b.U, NU = (size_t)b.N * (size_t)b.U;
  b.G = n->ws;
  b.Hp = b.G + 3 * NTU;
  b.A = b.Hp + NTU;
  b.dG = b.A + NTU;
  b.dA = b.dG + 3 * NTU;
  b.h = b.dA + NTU;
  b.dh = b.h + NU;
  b.dh2 = b.dh + NU;
  b.tmp = b.dh2 + NU;
  b.mask = n->iarg[A_MASK] ? lmg_in(g, n, n->iarg[A_BIAS] ? 4 : 3) : NULL;
  return b;
}

/* The recurrent products of step t into tmp (N, 3U): reset_after, h R + b1;
 * otherwise h Rz|Rr in the first 2U columns (the h block comes later). */
static void step_products(const gru_bufs *b, const float *R, const float *b1, bool after,
                          int s, int t) {
  int N = b->N, T = b->T, U = b->U, G3 = 3 * U;
  for (int i = 0; i < N; i++)
    for (int j = 0; j < G3; j++) b->tmp[(int64_t)i * G3 + j] = b1 ? b1[j] : 0.0f;
  if (s > 0) /* small per-step products: the portable gemm, no BLAS wake-ups */
    lmk_sgemm_portable(false, false, N, after ? G3 : 2 * U, U, 1.0f, b->Hp + (int64_t)t * U,
                       T * U, R, G3, 1.0f, b->tmp, G3);
}

static void gru_forward(lmg_graph *g, lmg_node *n) {
  gru_bufs b = get_bufs(g, n);
  int N = b.N, T = b.T, D = b.D, U = b.U, G3 = 3 * U;
  const float *x = lmg_in(g, n, 0)->val, *W = lmg_in(g, n, 1)->val, *R = lmg_in(g, n, 2)->val;
  const float *bias = n->iarg[A_BIAS] ? lmg_in(g, n, 3)->val : NULL;
  bool after = n->iarg[A_AFTER];
  const float *b1 = bias && after ? bias + G3 : NULL;
  int act = n->iarg[A_ACT], rec = n->iarg[A_REC];
  int64_t NT = (int64_t)N * T;
  for (int64_t i = 0; i < NT; i++)
    for (int j = 0; j < G3; j++) b.G[i * G3 + j] = bias ? bias[j] : 0.0f;
  if (NT && D) lmk_sgemm(false, false, (int)NT, G3, D, 1.0f, x, D, W, G3, 1.0f, b.G, G3);
  memset(b.h, 0, sizeof(float) * (size_t)N * (size_t)U);
  for (int s = 0; s < T; s++) {
    int t = n->iarg[A_BACK] ? T - 1 - s : s;
    for (int i = 0; i < N; i++)
      memcpy(b.Hp + ((int64_t)i * T + t) * U, b.h + (int64_t)i * U, sizeof(float) * (size_t)U);
    step_products(&b, R, b1, after, s, t);
    /* z and r (and, with reset_after, the candidate and h) */
    LMO_PAR_FOR(g->threads, (int64_t)N * G3 > LMO_PAR_MIN)
    for (int i = 0; i < N; i++) {
      int64_t it = (int64_t)i * T + t;
      float *a = b.A + it * U;
      if (lmo_rnn_masked(b.mask, it)) {
        memset(a, 0, sizeof(float) * (size_t)U);
        continue;
      }
      float *z = b.G + it * G3, *h = b.h + (int64_t)i * U;
      const float *p = b.tmp + (int64_t)i * G3;
      for (int u = 0; u < U; u++) {
        z[u] = lmo_rnn_act(rec, z[u] + p[u]);
        z[U + u] = lmo_rnn_act(rec, z[U + u] + p[U + u]);
        if (after) {
          a[u] = p[2 * U + u];
          z[2 * U + u] = lmo_rnn_act(act, z[2 * U + u] + z[U + u] * a[u]);
          h[u] = z[u] * h[u] + (1.0f - z[u]) * z[2 * U + u];
        } else {
          a[u] = z[U + u] * h[u];
        }
      }
    }
    if (!after) { /* (r * h) Rh, then the candidate and h */
      if (s > 0)
        lmk_sgemm_portable(false, false, N, U, U, 1.0f, b.A + (int64_t)t * U, T * U, R + 2 * U,
                           G3, 1.0f, b.tmp + 2 * U, G3);
      LMO_PAR_FOR(g->threads, (int64_t)N * U > LMO_PAR_MIN)
      for (int i = 0; i < N; i++) {
        int64_t it = (int64_t)i * T + t;
        if (lmo_rnn_masked(b.mask, it)) continue;
        float *z = b.G + it * G3, *h = b.h + (int64_t)i * U;
        const float *p = b.tmp + (int64_t)i * G3;
        for (int u = 0; u < U; u++) {
          z[2 * U + u] = lmo_rnn_act(act, z[2 * U + u] + p[2 * U + u]);
          h[u] = z[u] * h[u] + (1.0f - z[u]) * z[2 * U + u];
        }
      }
    }
    if (n->iarg[A_SEQ])
      for (int i = 0; i < N; i++)
        memcpy(n->val + ((int64_t)i * T + s) * U, b.h + (int64_t)i * U, sizeof(float) * (size_t)U);
  }
  if (!n->iarg[A_SEQ]) memcpy(n->val, b.h, sizeof(float) * (size_t)N * (size_t)U);
}

/* One step back: dh holds d(loss)/d(h_t) and leaves holding d/d(h_{t-1}). */
static void step_backward(lmg_graph *g, const lmg_node *n, const gru_bufs *b, const float *R,
                          int s, int t) {
  int N = b->N, T = b->T, U = b->U, G3 = 3 * U;
  bool after = n->iarg[A_AFTER];
  int act = n->iarg[A_ACT], rec = n->iarg[A_REC];
  LMO_PAR_FOR(g->threads, (int64_t)N * G3 > LMO_PAR_MIN)
  for (int i = 0; i < N; i++) {
    int64_t it = (int64_t)i * T + t;
    float *dz = b->dG + it * G3, *da = b->dA + it * U;
    if (lmo_rnn_masked(b->mask, it)) { /* dh passes through unchanged */
      memset(dz, 0, sizeof(float) * (size_t)G3);
      memset(da, 0, sizeof(float) * (size_t)U);
      continue;
    }
    const float *z = b->G + it * G3, *hp = b->Hp + it * U, *a = b->A + it * U;
    float *dh = b->dh + (int64_t)i * U;
    for (int u = 0; u < U; u++) {
      float zg = z[u], rg = z[U + u], hh = z[2 * U + u];
      dz[u] = dh[u] * (hp[u] - hh) * lmo_rnn_act_d(rec, zg);
      float dah = dh[u] * (1.0f - zg) * lmo_rnn_act_d(act, hh);
      dz[2 * U + u] = dah;
      if (after) {
        dz[U + u] = dah * a[u] * lmo_rnn_act_d(rec, rg);
        da[u] = dah * rg;
      } else {
        da[u] = 0.0f;
      }
      dh[u] *= zg; /* the direct path h_{t-1} -> h_t */
    }
  }
  if (!after) { /* d(r * h) = dah Rh^T gives dr and a second path to h_{t-1} */
    lmk_sgemm_portable(false, true, N, U, U, 1.0f, b->dG + (int64_t)t * G3 + 2 * U, T * G3,
                       R + 2 * U, G3, 0.0f, b->dh2, U);
    LMO_PAR_FOR(g->threads, (int64_t)N * U > LMO_PAR_MIN)
    for (int i = 0; i < N; i++) {
      int64_t it = (int64_t)i * T + t;
      if (lmo_rnn_masked(b->mask, it)) continue;
      const float *z = b->G + it * G3, *hp = b->Hp + it * U, *drh = b->dh2 + (int64_t)i * U;
      float *dz = b->dG + it * G3, *dh = b->dh + (int64_t)i * U;
      for (int u = 0; u < U; u++) {
        dz[U + u] = drh[u] * hp[u] * lmo_rnn_act_d(rec, z[U + u]);
        dh[u] += drh[u] * z[U + u];
      }
    }
  }
  if (s == 0) return;
  /* the recurrent products: masked rows have zero dG / dA and add nothing */
  lmk_sgemm_portable(false, true, N, U, 2 * U, 1.0f, b->dG + (int64_t)t * G3, T * G3, R, G3,
                     1.0f, b->dh, U);
  if (after)
    lmk_sgemm_portable(false, true, N, U, U, 1.0f, b->dA + (int64_t)t * U, T * U, R + 2 * U, G3,
                       1.0f, b->dh, U);
}

static void sum_rows(const float *m, int64_t rows, int cols, int ld, float *out) {
  for (int j = 0; j < cols; j++) {
    double acc = 0;
    for (int64_t i = 0; i < rows; i++) acc += m[i * ld + j];
    out[j] += (float)acc;
  }
}

static void gru_backward(lmg_graph *g, lmg_node *n) {
  gru_bufs b = get_bufs(g, n);
  int N = b.N, T = b.T, D = b.D, U = b.U, G3 = 3 * U;
  lmg_node *xn = lmg_in(g, n, 0), *wn = lmg_in(g, n, 1), *rn = lmg_in(g, n, 2);
  lmg_node *bn = n->iarg[A_BIAS] ? lmg_in(g, n, 3) : NULL;
  bool after = n->iarg[A_AFTER];
  int64_t NT = (int64_t)N * T, NU = (int64_t)N * U;
  memset(b.dh, 0, sizeof(float) * (size_t)NU);
  if (!n->iarg[A_SEQ])
    for (int64_t k = 0; k < NU; k++) b.dh[k] = n->grad[k];
  for (int s = T - 1; s >= 0; s--) {
    int t = n->iarg[A_BACK] ? T - 1 - s : s;
    if (n->iarg[A_SEQ])
      for (int i = 0; i < N; i++)
        for (int u = 0; u < U; u++)
          b.dh[(int64_t)i * U + u] += n->grad[((int64_t)i * T + s) * U + u];
    step_backward(g, n, &b, rn->val, s, t);
  }
  if (!NT) return;
  if (wn->grad && D)
    lmk_sgemm(true, false, D, G3, (int)NT, 1.0f, xn->val, D, b.dG, G3, 1.0f, wn->grad, G3);
  if (xn->grad && D)
    lmk_sgemm(false, true, (int)NT, D, G3, 1.0f, b.dG, G3, wn->val, G3, 1.0f, xn->grad, D);
  if (rn->grad) {
    lmk_sgemm(true, false, U, 2 * U, (int)NT, 1.0f, b.Hp, U, b.dG, G3, 1.0f, rn->grad, G3);
    if (after)
      lmk_sgemm(true, false, U, U, (int)NT, 1.0f, b.Hp, U, b.dA, U, 1.0f, rn->grad + 2 * U, G3);
    else
      lmk_sgemm(true, false, U, U, (int)NT, 1.0f, b.A, U, b.dG + 2 * U, G3, 1.0f,
                rn->grad + 2 * U, G3);
  }
  if (bn && bn->grad) {
    sum_rows(b.dG, NT, G3, G3, bn->grad);
    if (after) {
      sum_rows(b.dG, NT, 2 * U, G3, bn->grad + G3);
      sum_rows(b.dA, NT, U, U, bn->grad + G3 + 2 * U);
    }
  }
}

const lm_op lmo_op_gru = {"gru", gru_infer, gru_forward, gru_backward, gru_ws};

int lmo_gru(lmg_graph *g, int x, int w, int r, int b, int mask, const lmo_rnn_args *a,
            bool reset_after) {
  int in[5], k = 0;
  in[k++] = x, in[k++] = w, in[k++] = r;
  if (b >= 0) in[k++] = b;
  if (mask >= 0) in[k++] = mask;
  lmg_node init;
  memset(&init, 0, sizeof init);
  init.iarg[A_BIAS] = b >= 0;
  init.iarg[A_MASK] = mask >= 0;
  init.iarg[A_SEQ] = a->return_sequences;
  init.iarg[A_BACK] = a->go_backwards;
  init.iarg[A_ACT] = a->activation;
  init.iarg[A_REC] = a->recurrent_activation;
  init.iarg[A_AFTER] = reset_after;
  return lmg_op(g, &lmo_op_gru, k, in, &init);
}

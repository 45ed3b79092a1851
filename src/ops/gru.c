/* gru: the whole Keras GRU over a sequence as one op.
 *
 * Inputs: x (N, T, D), kernel W (D, 3U), recurrent kernel R (U, 3U), then
 * optionally the bias, the ids (N, T) whose zeros mask steps and the initial
 * state h0 (N, U) (Keras' initial_state=; zeros without). Gate column blocks
 * in Keras order z (update), r (reset), h (candidate).
 *   reset_after = false (Keras 2.2.4 default): bias (3U),
 *     hh = act(x Wh + bh + (r * h) Rh)
 *   reset_after = true (tf.keras default, = PyTorch's GRU): bias (2, 3U), row
 *     0 for the input, row 1 for the recurrent product,
 *     hh = act(x Wh + b0h + r * (h Rh + b1h))
 * with z = rec(x Wz + h Rz + b..), r likewise, and h' = z * h + (1 - z) * hh.
 * Output (N, U), or (N, T, U) with return_sequences; go_backwards and masking
 * as lstm (src/ops/lstm.c): steps T-1 .. 0, sequence output in step order, a
 * masked step keeps h and repeats it. return_state puts the final h first as
 * one more row (the layout of src/ops/rnn.h).
 *
 * Dropout follows Keras 2.2.4's GRUCell with implementation=1: in training
 * each sample draws three input masks (N, D) and three recurrent masks (N, U),
 * one per gate z, r, h, fixed over all steps (lmo_rnn_draw_mask, input masks
 * first). Gate q sees x * dp[q] and h * rdp[q]: z = rec(x dp0 Wz + h rdp0 Rz),
 * r = rec(x dp1 Wr + h rdp1 Rr), and the candidate x dp2 Wh with
 * r * ((h rdp2) Rh + b1h) (reset_after) or (r * (h rdp2)) Rh (before); the
 * update h' = z * h + (1 - z) * hh uses the unmasked h.
 *
 * The input projection of all steps is one sgemm (one per gate with input
 * dropout); each step adds the recurrent products (one sgemm, two with
 * reset_after = false; one per gate with recurrent dropout). Backward through
 * time runs in the same op and ends with sgemms for dx, dW and dR. */
#include <assert.h>
#include <limits.h>
#include <string.h>

#include "kernels/kernels.h"
#include "ops/ops.h"
#include "ops/rnn.h"

/* The node layout of ops/rnn.h (lmo_rnn_infer reads it); the RNN_DROP slot
 * holds, as for lstm and simple_rnn, the dropout flags set by forward in bits 0
 * (input masks applied) and 1 (recurrent), and reset_after in bit 2. */
enum { GRU_AFTER = 4 };

static bool after_of(const lmg_node *n) { return (n->iarg[RNN_DROP] & GRU_AFTER) != 0; }

static lm_status gru_infer(lmg_graph *g, lmg_node *n) {
  return lmo_rnn_infer(g, n, 3, after_of(n) ? 2 : 1);
}

/* Workspace (floats): G (N,T,3U) activated z, r, hh; Hp (N,T,U) the state
 * before step t; A (N,T,U) (h rdp2) Rh + b1h (reset_after) or r * (h rdp2)
 * (before); dG (N,T,3U) gradient of the pre-activations; dA (N,T,U) gradient
 * of A (reset_after); h, dh, dh2, hm (N,U); tmp (N,3U) a step's recurrent
 * products; with input dropout dpm (3,N,D) and xm (N,T,D); with recurrent
 * dropout rdm (3,N,U) and Hm (N,T,U). */
typedef struct gru_bufs {
  int N, T, D, U, S, rows, k;
  bool after, drop_in, drop_rec, has_init;
  float *G, *Hp, *A, *dG, *dA, *h, *dh, *dh2, *hm, *tmp, *dpm, *xm, *rdm, *Hm;
  const lmg_node *mask;
} gru_bufs;

enum { B_G, B_HP, B_A, B_DG, B_DA, B_H, B_DH, B_DH2, B_HM, B_TMP, B_DPM, B_XM, B_RDM, B_HMM,
       B_END };

static void layout(const lmg_graph *g, const lmg_node *n, size_t off[B_END + 1]) {
  const lmg_node *x = &g->nodes[n->in[0]], *r = &g->nodes[n->in[2]];
  size_t N = (size_t)x->shape[0], T = (size_t)x->shape[1], D = (size_t)x->shape[2];
  size_t U = (size_t)r->shape[0], NT = N * T;
  bool din = lmo_rnn_rate_on(n->farg[0]), drec = lmo_rnn_rate_on(n->farg[1]);
  size_t len[B_END] = {
      [B_G] = 3 * NT * U, [B_HP] = NT * U, [B_A] = NT * U,    [B_DG] = 3 * NT * U,
      [B_DA] = NT * U,    [B_H] = N * U,   [B_DH] = N * U,    [B_DH2] = N * U,
      [B_HM] = N * U,     [B_TMP] = 3 * N * U,
      [B_DPM] = din ? 3 * N * D : 0,      [B_XM] = din ? NT * D : 0,
      [B_RDM] = drec ? 3 * N * U : 0,     [B_HMM] = drec ? NT * U : 0,
  };
  off[0] = 0;
  for (int i = 0; i < B_END; i++) off[i + 1] = off[i] + len[i];
}

static size_t gru_ws(const lmg_graph *g, const lmg_node *n) {
  size_t off[B_END + 1];
  layout(g, n, off);
  return sizeof(float) * off[B_END];
}

static gru_bufs get_bufs(lmg_graph *g, const lmg_node *n) {
  const lmg_node *x = lmg_in(g, n, 0), *r = lmg_in(g, n, 2);
  assert(x->shape[0] * x->shape[1] <= INT_MAX && x->shape[2] <= INT_MAX);
  gru_bufs b;
  memset(&b, 0, sizeof b);
  b.N = (int)x->shape[0], b.T = (int)x->shape[1], b.D = (int)x->shape[2];
  b.U = (int)r->shape[0];
  b.S = n->iarg[RNN_SEQ] ? b.T : 1;
  b.k = n->iarg[RNN_STATE];
  b.rows = b.S + b.k;
  b.after = after_of(n);
  b.drop_in = (n->iarg[RNN_DROP] & 1) != 0;
  b.drop_rec = (n->iarg[RNN_DROP] & 2) != 0;
  b.has_init = lmo_rnn_n_init(n) > 0;
  size_t off[B_END + 1];
  layout(g, n, off);
  float **dst[B_END] = {&b.G,  &b.Hp, &b.A,   &b.dG,  &b.dA, &b.h,   &b.dh,
                        &b.dh2, &b.hm, &b.tmp, &b.dpm, &b.xm, &b.rdm, &b.Hm};
  for (int i = 0; i < B_END; i++) *dst[i] = off[i + 1] > off[i] ? (float *)n->ws + off[i] : NULL;
  b.mask = n->iarg[RNN_MASK] ? lmg_in(g, n, n->iarg[RNN_BIAS] ? 4 : 3) : NULL;
  return b;
}

static int64_t out_row(const gru_bufs *b, int i, int s) {
  return ((int64_t)i * b->rows + b->k + s) * b->U;
}

/* dst (N*T, C) = src (N*T, C) * the mask row of each sample (masks (N, C)). */
static void mask_samples(const gru_bufs *b, const float *src, const float *m, int C, float *dst) {
  for (int i = 0; i < b->N; i++)
    for (int t = 0; t < b->T; t++) {
      size_t o = ((size_t)i * (size_t)b->T + (size_t)t) * (size_t)C;
      const float *mi = m + (size_t)i * (size_t)C;
      for (int c = 0; c < C; c++) dst[o + c] = src[o + c] * mi[c];
    }
}

/* hm (N, U) = the states before step t (rows of Hp) times recurrent mask q. */
static const float *masked_h(const gru_bufs *b, int q, int t) {
  int N = b->N, T = b->T, U = b->U;
  const float *m = b->rdm + (size_t)q * (size_t)N * (size_t)U;
  for (int i = 0; i < N; i++) {
    const float *hp = b->Hp + ((int64_t)i * T + t) * U;
    for (int u = 0; u < U; u++) b->hm[(int64_t)i * U + u] = hp[u] * m[(int64_t)i * U + u];
  }
  return b->hm;
}

/* The recurrent products of step t into tmp (N, 3U): reset_after, h R + b1;
 * otherwise h Rz|Rr in the first 2U columns (the h block comes later). The
 * first step has them only with an initial state. */
static void step_products(const gru_bufs *b, const float *R, const float *b1, int s, int t) {
  int N = b->N, T = b->T, U = b->U, G3 = 3 * U;
  for (int i = 0; i < N; i++)
    for (int j = 0; j < G3; j++) b->tmp[(int64_t)i * G3 + j] = b1 ? b1[j] : 0.0f;
  if (s == 0 && !b->has_init) return;
  /* small per-step products: the portable gemm, no BLAS wake-ups */
  if (!b->drop_rec) {
    lmk_sgemm_portable(false, false, N, b->after ? G3 : 2 * U, U, 1.0f, b->Hp + (int64_t)t * U,
                       T * U, R, G3, 1.0f, b->tmp, G3);
    return;
  }
  for (int q = 0; q < (b->after ? 3 : 2); q++)
    lmk_sgemm_portable(false, false, N, U, U, 1.0f, masked_h(b, q, t), U, R + q * U, G3, 1.0f,
                       b->tmp + q * U, G3);
}

static void gru_forward(lmg_graph *g, lmg_node *n) {
  gru_bufs b = get_bufs(g, n);
  int N = b.N, T = b.T, D = b.D, U = b.U, G3 = 3 * U;
  const float *x = lmg_in(g, n, 0)->val, *W = lmg_in(g, n, 1)->val, *R = lmg_in(g, n, 2)->val;
  const float *bias = n->iarg[RNN_BIAS] ? lmg_in(g, n, 3)->val : NULL;
  bool after = b.after;
  const float *b1 = bias && after ? bias + G3 : NULL;
  int act = n->iarg[RNN_ACT], rec = n->iarg[RNN_REC];
  bool din = g->training && b.dpm, drec = g->training && b.rdm;
  n->iarg[RNN_DROP] = (n->iarg[RNN_DROP] & GRU_AFTER) | (din ? 1 : 0) | (drec ? 2 : 0);
  b.drop_in = din, b.drop_rec = drec;
  if (din) lmo_rnn_draw_mask(g->ctx, n->farg[0], (int64_t)3 * N * D, b.dpm);
  if (drec) lmo_rnn_draw_mask(g->ctx, n->farg[1], (int64_t)3 * N * U, b.rdm);
  int64_t NT = (int64_t)N * T;
  for (int64_t i = 0; i < NT; i++)
    for (int j = 0; j < G3; j++) b.G[i * G3 + j] = bias ? bias[j] : 0.0f;
  if (NT && D && !din) lmk_sgemm(false, false, (int)NT, G3, D, 1.0f, x, D, W, G3, 1.0f, b.G, G3);
  if (NT && D && din)
    for (int q = 0; q < 3; q++) {
      mask_samples(&b, x, b.dpm + (size_t)q * (size_t)N * (size_t)D, D, b.xm);
      lmk_sgemm(false, false, (int)NT, U, D, 1.0f, b.xm, D, W + q * U, G3, 1.0f, b.G + q * U, G3);
    }
  if (b.has_init)
    memcpy(b.h, lmg_in(g, n, lmo_rnn_init_at(n))->val, sizeof(float) * (size_t)N * (size_t)U);
  else
    memset(b.h, 0, sizeof(float) * (size_t)N * (size_t)U);
  const float *rm2 = drec ? b.rdm + (size_t)2 * N * U : NULL;
  for (int s = 0; s < T; s++) {
    int t = n->iarg[RNN_BACK] ? T - 1 - s : s;
    for (int i = 0; i < N; i++)
      memcpy(b.Hp + ((int64_t)i * T + t) * U, b.h + (int64_t)i * U, sizeof(float) * (size_t)U);
    step_products(&b, R, b1, s, t);
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
      const float *p = b.tmp + (int64_t)i * G3, *m2 = rm2 ? rm2 + (int64_t)i * U : NULL;
      for (int u = 0; u < U; u++) {
        z[u] = lmo_rnn_act(rec, z[u] + p[u]);
        z[U + u] = lmo_rnn_act(rec, z[U + u] + p[U + u]);
        if (after) {
          a[u] = p[2 * U + u];
          z[2 * U + u] = lmo_rnn_act(act, z[2 * U + u] + z[U + u] * a[u]);
          h[u] = z[u] * h[u] + (1.0f - z[u]) * z[2 * U + u];
        } else {
          a[u] = z[U + u] * h[u] * (m2 ? m2[u] : 1.0f);
        }
      }
    }
    if (!after) { /* (r * h) Rh, then the candidate and h */
      if (s > 0 || b.has_init)
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
    if (n->iarg[RNN_SEQ])
      for (int i = 0; i < N; i++)
        memcpy(n->val + out_row(&b, i, s), b.h + (int64_t)i * U, sizeof(float) * (size_t)U);
  }
  for (int i = 0; i < N; i++) {
    const float *h = b.h + (int64_t)i * U;
    if (!n->iarg[RNN_SEQ]) memcpy(n->val + out_row(&b, i, 0), h, sizeof(float) * (size_t)U);
    if (b.k) memcpy(n->val + (int64_t)i * b.rows * U, h, sizeof(float) * (size_t)U);
  }
}

/* dh (N, U) += (dz (rows of stride ld) . Rq^T) * the recurrent mask q of each
 * sample (none without recurrent dropout); dh2 is the scratch. */
static void add_rec_grad(const gru_bufs *b, const float *dz, int ld, const float *Rq, int q) {
  int N = b->N, U = b->U, G3 = 3 * U;
  if (!b->drop_rec) {
    lmk_sgemm_portable(false, true, N, U, U, 1.0f, dz, ld, Rq, G3, 1.0f, b->dh, U);
    return;
  }
  lmk_sgemm_portable(false, true, N, U, U, 1.0f, dz, ld, Rq, G3, 0.0f, b->dh2, U);
  const float *m = b->rdm + (size_t)q * (size_t)N * (size_t)U;
  for (int64_t k = 0; k < (int64_t)N * U; k++) b->dh[k] += b->dh2[k] * m[k];
}

/* One step back: dh holds d(loss)/d(h_t) and leaves holding d/d(h_{t-1}). */
static void step_backward(lmg_graph *g, const lmg_node *n, const gru_bufs *b, const float *R,
                          int s, int t) {
  int N = b->N, T = b->T, U = b->U, G3 = 3 * U;
  bool after = b->after;
  int act = n->iarg[RNN_ACT], rec = n->iarg[RNN_REC];
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
  if (!after) { /* d(r * h rdp2) = dah Rh^T gives dr and a second path to h_{t-1} */
    lmk_sgemm_portable(false, true, N, U, U, 1.0f, b->dG + (int64_t)t * G3 + 2 * U, T * G3,
                       R + 2 * U, G3, 0.0f, b->dh2, U);
    const float *rm2 = b->drop_rec ? b->rdm + (size_t)2 * N * U : NULL;
    LMO_PAR_FOR(g->threads, (int64_t)N * U > LMO_PAR_MIN)
    for (int i = 0; i < N; i++) {
      int64_t it = (int64_t)i * T + t;
      if (lmo_rnn_masked(b->mask, it)) continue;
      const float *z = b->G + it * G3, *hp = b->Hp + it * U, *drh = b->dh2 + (int64_t)i * U;
      const float *m = rm2 ? rm2 + (int64_t)i * U : NULL;
      float *dz = b->dG + it * G3, *dh = b->dh + (int64_t)i * U;
      for (int u = 0; u < U; u++) {
        float mu = m ? m[u] : 1.0f;
        dz[U + u] = drh[u] * hp[u] * mu * lmo_rnn_act_d(rec, z[U + u]);
        dh[u] += drh[u] * z[U + u] * mu;
      }
    }
  }
  if (s == 0 && !b->has_init) return;
  /* the recurrent products: masked rows have zero dG / dA and add nothing */
  if (!b->drop_rec) {
    lmk_sgemm_portable(false, true, N, U, 2 * U, 1.0f, b->dG + (int64_t)t * G3, T * G3, R, G3,
                       1.0f, b->dh, U);
  } else {
    add_rec_grad(b, b->dG + (int64_t)t * G3, T * G3, R, 0);
    add_rec_grad(b, b->dG + (int64_t)t * G3 + U, T * G3, R + U, 1);
  }
  if (after) add_rec_grad(b, b->dA + (int64_t)t * U, T * U, R + 2 * U, 2);
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
  lmg_node *bn = n->iarg[RNN_BIAS] ? lmg_in(g, n, 3) : NULL;
  bool after = b.after;
  int64_t NT = (int64_t)N * T;
  memset(b.dh, 0, sizeof(float) * (size_t)N * (size_t)U);
  for (int i = 0; i < N; i++)
    for (int u = 0; u < U; u++) {
      float *dh = b.dh + (int64_t)i * U;
      if (!n->iarg[RNN_SEQ]) dh[u] += n->grad[out_row(&b, i, 0) + u];
      if (b.k) dh[u] += n->grad[(int64_t)i * b.rows * U + u];
    }
  for (int s = T - 1; s >= 0; s--) {
    int t = n->iarg[RNN_BACK] ? T - 1 - s : s;
    if (n->iarg[RNN_SEQ])
      for (int i = 0; i < N; i++)
        for (int u = 0; u < U; u++) b.dh[(int64_t)i * U + u] += n->grad[out_row(&b, i, s) + u];
    step_backward(g, n, &b, rn->val, s, t);
  }
  if (b.has_init) lmo_rnn_init_grads(g, n, b.dh, N, U);
  if (!NT) return;
  if (wn->grad && D) {
    if (!b.drop_in)
      lmk_sgemm(true, false, D, G3, (int)NT, 1.0f, xn->val, D, b.dG, G3, 1.0f, wn->grad, G3);
    else
      for (int q = 0; q < 3; q++) {
        mask_samples(&b, xn->val, b.dpm + (size_t)q * (size_t)N * (size_t)D, D, b.xm);
        lmk_sgemm(true, false, D, U, (int)NT, 1.0f, b.xm, D, b.dG + q * U, G3, 1.0f,
                  wn->grad + q * U, G3);
      }
  }
  if (xn->grad && D) {
    if (!b.drop_in) {
      lmk_sgemm(false, true, (int)NT, D, G3, 1.0f, b.dG, G3, wn->val, G3, 1.0f, xn->grad, D);
    } else {
      for (int q = 0; q < 3; q++) {
        lmk_sgemm(false, true, (int)NT, D, U, 1.0f, b.dG + q * U, G3, wn->val + q * U, G3, 0.0f,
                  b.xm, D);
        const float *m = b.dpm + (size_t)q * (size_t)N * (size_t)D;
        for (int i = 0; i < N; i++)
          for (int t = 0; t < T; t++) {
            size_t o = ((size_t)i * (size_t)T + (size_t)t) * (size_t)D;
            for (int d = 0; d < D; d++) xn->grad[o + d] += b.xm[o + d] * m[(size_t)i * D + d];
          }
      }
    }
  }
  if (rn->grad) {
    if (!b.drop_rec) {
      lmk_sgemm(true, false, U, 2 * U, (int)NT, 1.0f, b.Hp, U, b.dG, G3, 1.0f, rn->grad, G3);
      if (after)
        lmk_sgemm(true, false, U, U, (int)NT, 1.0f, b.Hp, U, b.dA, U, 1.0f, rn->grad + 2 * U, G3);
    } else {
      for (int q = 0; q < (after ? 3 : 2); q++) {
        mask_samples(&b, b.Hp, b.rdm + (size_t)q * (size_t)N * (size_t)U, U, b.Hm);
        const float *dz = q < 2 ? b.dG + q * U : b.dA;
        lmk_sgemm(true, false, U, U, (int)NT, 1.0f, b.Hm, U, dz, q < 2 ? G3 : U, 1.0f,
                  rn->grad + q * U, G3);
      }
    }
    if (!after) /* A = r * (h rdp2) holds the mask already */
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

int lmo_gru_ex(lmg_graph *g, int x, int w, int r, int b, int mask, const lmo_rnn_args *a,
               const lmo_rnn_more *more) {
  int in[6], k = 0;
  in[k++] = x, in[k++] = w, in[k++] = r;
  if (b >= 0) in[k++] = b;
  if (mask >= 0) in[k++] = mask;
  if (more && more->initial_state) {
    if (more->initial_state[0] < 0) return -1;
    in[k++] = more->initial_state[0];
  }
  lmg_node init;
  memset(&init, 0, sizeof init);
  init.iarg[RNN_BIAS] = b >= 0;
  init.iarg[RNN_MASK] = mask >= 0;
  init.iarg[RNN_SEQ] = a->return_sequences;
  init.iarg[RNN_BACK] = a->go_backwards;
  init.iarg[RNN_ACT] = a->activation;
  init.iarg[RNN_REC] = a->recurrent_activation;
  if (more) {
    init.iarg[RNN_STATE] = more->return_state ? 1 : 0;
    init.iarg[RNN_DROP] = more->reset_after ? GRU_AFTER : 0;
    init.farg[0] = more->dropout;
    init.farg[1] = more->recurrent_dropout;
  }
  return lmg_op(g, &lmo_op_gru, k, in, &init);
}

int lmo_gru(lmg_graph *g, int x, int w, int r, int b, int mask, const lmo_rnn_args *a,
            bool reset_after) {
  lmo_rnn_more more = {.reset_after = reset_after};
  return lmo_gru_ex(g, x, w, r, b, mask, a, &more);
}

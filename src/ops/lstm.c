/* lstm: the whole Keras LSTM over a sequence as one op.
 *
 * Inputs: x (N, T, D), kernel W (D, 4U), recurrent kernel R (U, 4U), then
 * optionally the bias b (4U) and the ids (N, T) whose zeros mask steps
 * (mask_zero of an Embedding). Gate column blocks in Keras order i, f, c, o.
 * Output (N, U), or (N, T, U) with return_sequences; with go_backwards the
 * steps run from T-1 down to 0 and the sequence output keeps that order
 * (Keras 2.2.4). A masked step keeps h and c and outputs the previous h.
 *
 * The input projection of all steps is one sgemm; each step adds h . R with
 * one more sgemm and applies the gates in place. Backward through time runs
 * in the same op and ends with three sgemms for dx, dW and dR. */
#include <assert.h>
#include <limits.h>
#include <math.h>
#include <string.h>

#include "kernels/kernels.h"
#include "ops/ops.h"

enum { A_BIAS, A_MASK, A_SEQ, A_BACK, A_ACT, A_REC };

bool lmo_rnn_act_ok(int kind) {
  return kind == LMO_TANH || kind == LMO_SIGMOID || kind == LMO_HARD_SIGMOID ||
         kind == LMO_RELU || kind == LMO_LINEAR;
}

float lmo_rnn_act(int kind, float x) {
  switch (kind) {
  case LMO_TANH:
    return tanhf(x);
  case LMO_SIGMOID:
    return 1.0f / (1.0f + expf(-x));
  case LMO_HARD_SIGMOID: {
    float y = 0.2f * x + 0.5f;
    return y < 0.0f ? 0.0f : y > 1.0f ? 1.0f : y;
  }
  case LMO_RELU:
    return x > 0.0f ? x : 0.0f;
  default:
    return x;
  }
}

/* The derivative written through the activation's output y. */
float lmo_rnn_act_d(int kind, float y) {
  switch (kind) {
  case LMO_TANH:
    return 1.0f - y * y;
  case LMO_SIGMOID:
    return y * (1.0f - y);
  case LMO_HARD_SIGMOID:
    return y > 0.0f && y < 1.0f ? 0.2f : 0.0f;
  case LMO_RELU:
    return y > 0.0f ? 1.0f : 0.0f;
  default:
    return 1.0f;
  }
}

bool lmo_rnn_masked(const lmg_node *ids, int64_t i) {
  if (!ids)
    return false;
  if (ids->dtype == LM_INT32)
    return ((const int32_t *)ids->val)[i] == 0;
  return ids->val[i] == 0.0f;
}

/* Checks shared by the recurrent ops: x (N, T, D), W (D, G*U), R (U, G*U),
 * b (bias_rows, G*U) when present, mask ids (N, T). */
lm_status lmo_rnn_infer(lmg_graph *g, lmg_node *n, int gates, int bias_rows) {
  const char *op = n->op->name;
  lmg_node *x = lmg_in(g, n, 0), *w = lmg_in(g, n, 1), *r = lmg_in(g, n, 2);
  char sx[128], sw[128], sr[128];
  lm_shape_str(x->ndim, x->shape, sx, sizeof sx);
  lm_shape_str(w->ndim, w->shape, sw, sizeof sw);
  lm_shape_str(r->ndim, r->shape, sr, sizeof sr);
  if (x->dtype != LM_FLOAT32 || w->dtype != LM_FLOAT32 ||
      r->dtype != LM_FLOAT32 || x->ndim != 3 || w->ndim != 2 || r->ndim != 2)
    return lm_fail(g->ctx, LM_ERR_SHAPE,
                   "%s expects float32 x (batch, timesteps, features), kernel "
                   "and recurrent "
                   "kernel of rank 2, got %s, %s and %s",
                   op, sx, sw, sr);
  int64_t U = r->shape[0];
  if ((x->shape[2] != LM_NONE && w->shape[0] != x->shape[2]) ||
      w->shape[1] != gates * U || r->shape[1] != gates * U)
    return lm_fail(g->ctx, LM_ERR_SHAPE,
                   "%s: kernel %s and recurrent kernel %s do not fit input %s "
                   "with %d gates",
                   op, sw, sr, sx, gates);
  int k = 3;
  if (n->iarg[A_BIAS]) {
    lmg_node *b = lmg_in(g, n, k++);
    bool ok = b->dtype == LM_FLOAT32 &&
              (bias_rows == 1 ? b->ndim == 1 && b->shape[0] == gates * U
                              : b->ndim == 2 && b->shape[0] == bias_rows &&
                                    b->shape[1] == gates * U);
    if (!ok) {
      char sb[128];
      lm_shape_str(b->ndim, b->shape, sb, sizeof sb);
      return lm_fail(g->ctx, LM_ERR_SHAPE,
                     "%s: bias of shape %s does not fit %lld units", op, sb,
                     (long long)U);
    }
  }
  if (n->iarg[A_MASK]) {
    lmg_node *m = lmg_in(g, n, k);
    bool ok = m->ndim == 2;
    for (int i = 0; i < 2 && ok; i++)
      ok = m->shape[i] == LM_NONE || x->shape[i] == LM_NONE ||
           m->shape[i] == x->shape[i];
    if (!ok) {
      char sm[128];
      lm_shape_str(m->ndim, m->shape, sm, sizeof sm);
      return lm_fail(g->ctx, LM_ERR_SHAPE,
                     "%s: mask of shape %s does not fit input %s", op, sm, sx);
    }
  }
  n->dtype = LM_FLOAT32;
  n->ndim = n->iarg[A_SEQ] ? 3 : 2;
  n->shape[0] = x->shape[0];
  if (n->iarg[A_SEQ])
    n->shape[1] = x->shape[1];
  n->shape[n->ndim - 1] = U;
  return LM_OK;
}

static lm_status lstm_infer(lmg_graph *g, lmg_node *n) {
  return lmo_rnn_infer(g, n, 4, 1);
}

typedef struct dims {
  int N, T, D, U;
} dims;

static dims get_dims(lmg_graph *g, const lmg_node *n) {
  const lmg_node *x = lmg_in(g, n, 0), *r = lmg_in(g, n, 2);
  assert(x->shape[0] * x->shape[1] <= INT_MAX && x->shape[2] <= INT_MAX);
  return (dims){(int)x->shape[0], (int)x->shape[1], (int)x->shape[2],
                (int)r->shape[0]};
}

/* Workspace (floats): G (N,T,4U) activated gates; Hp, Cp (N,T,U) the state
 * before the step at time t; Tc (N,T,U) act(c) after it; h, c (N,U); for
 * backward dG (N,T,4U), dh, dc, dh2 (N,U). */
static size_t lstm_ws(const lmg_graph *g, const lmg_node *n) {
  const lmg_node *x = &g->nodes[n->in[0]], *r = &g->nodes[n->in[2]];
  size_t NT = (size_t)(x->shape[0] * x->shape[1]), N = (size_t)x->shape[0];
  size_t U = (size_t)r->shape[0];
  return sizeof(float) * (NT * U * (4 + 3 + 4) + N * U * 5);
}

typedef struct bufs {
  float *G, *Hp, *Cp, *Tc, *h, *c, *dG, *dh, *dc, *dh2;
} bufs;

static bufs get_bufs(const lmg_node *n, dims d) {
  size_t NT = (size_t)d.N * (size_t)d.T, U = (size_t)d.U, N = (size_t)d.N;
  bufs b;
  b.G = n->ws;
  b.Hp = b.G + NT * 4 * U;
  b.Cp = b.Hp + NT * U;
  b.Tc = b.Cp + NT * U;
  b.dG = b.Tc + NT * U;
  b.h = b.dG + NT * 4 * U;
  b.c = b.h + N * U;
  b.dh = b.c + N * U;
  b.dc = b.dh + N * U;
  b.dh2 = b.dc + N * U;
  return b;
}

static const lmg_node *mask_node(lmg_graph *g, const lmg_node *n) {
  return n->iarg[A_MASK] ? lmg_in(g, n, n->iarg[A_BIAS] ? 4 : 3) : NULL;
}

static void lstm_forward(lmg_graph *g, lmg_node *n) {
  dims d = get_dims(g, n);
  bufs b = get_bufs(n, d);
  int N = d.N, T = d.T, D = d.D, U = d.U, G4 = 4 * U;
  const float *x = lmg_in(g, n, 0)->val, *W = lmg_in(g, n, 1)->val,
              *R = lmg_in(g, n, 2)->val;
  const float *bias = n->iarg[A_BIAS] ? lmg_in(g, n, 3)->val : NULL;
  const lmg_node *mask = mask_node(g, n);
  int act = n->iarg[A_ACT], rec = n->iarg[A_REC];
  int64_t NT = (int64_t)N * T;
  for (int64_t i = 0; i < NT; i++)
    for (int j = 0; j < G4; j++)
      b.G[i * G4 + j] = bias ? bias[j] : 0.0f;
  if (NT && D)
    lmk_sgemm(false, false, (int)NT, G4, D, 1.0f, x, D, W, G4, 1.0f, b.G, G4);
  memset(b.h, 0, sizeof(float) * (size_t)N * (size_t)U);
  memset(b.c, 0, sizeof(float) * (size_t)N * (size_t)U);
  for (int s = 0; s < T; s++) {
    int t = n->iarg[A_BACK] ? T - 1 - s : s;
    for (int i = 0; i < N; i++) {
      memcpy(b.Hp + ((int64_t)i * T + t) * U, b.h + (int64_t)i * U,
             sizeof(float) * (size_t)U);
      memcpy(b.Cp + ((int64_t)i * T + t) * U, b.c + (int64_t)i * U,
             sizeof(float) * (size_t)U);
    }
    if (s > 0) /* small per-step products: the portable gemm, no BLAS thread
                  wake-ups */
      lmk_sgemm_portable(false, false, N, G4, U, 1.0f, b.Hp + (int64_t)t * U,
                         T * U, R, G4, 1.0f, b.G + (int64_t)t * G4, T * G4);
    LMO_PAR_FOR(g->threads, (int64_t)N * G4 > LMO_PAR_MIN)
    for (int i = 0; i < N; i++) {
      int64_t it = (int64_t)i * T + t;
      if (lmo_rnn_masked(mask, it))
        continue;
      float *z = b.G + it * G4, *tc = b.Tc + it * U, *h = b.h + (int64_t)i * U,
            *c = b.c + (int64_t)i * U;
      for (int u = 0; u < U; u++) {
        float ig = lmo_rnn_act(rec, z[u]), fg = lmo_rnn_act(rec, z[U + u]);
        float cg = lmo_rnn_act(act, z[2 * U + u]),
              og = lmo_rnn_act(rec, z[3 * U + u]);
        z[u] = ig, z[U + u] = fg, z[2 * U + u] = cg, z[3 * U + u] = og;
        c[u] = fg * c[u] + ig * cg;
        tc[u] = lmo_rnn_act(act, c[u]);
        h[u] = og * tc[u];
      }
    }
    if (n->iarg[A_SEQ])
      for (int i = 0; i < N; i++)
        memcpy(n->val + ((int64_t)i * T + s) * U, b.h + (int64_t)i * U,
               sizeof(float) * (size_t)U);
  }
  if (!n->iarg[A_SEQ])
    memcpy(n->val, b.h, sizeof(float) * (size_t)N * (size_t)U);
}

static void lstm_backward(lmg_graph *g, lmg_node *n) {
  dims d = get_dims(g, n);
  bufs b = get_bufs(n, d);
  int N = d.N, T = d.T, D = d.D, U = d.U, G4 = 4 * U;
  lmg_node *xn = lmg_in(g, n, 0), *wn = lmg_in(g, n, 1), *rn = lmg_in(g, n, 2);
  lmg_node *bn = n->iarg[A_BIAS] ? lmg_in(g, n, 3) : NULL;
  const lmg_node *mask = mask_node(g, n);
  int act = n->iarg[A_ACT], rec = n->iarg[A_REC];
  int64_t NT = (int64_t)N * T, NU = (int64_t)N * U;
  memset(b.dh, 0, sizeof(float) * (size_t)NU);
  memset(b.dc, 0, sizeof(float) * (size_t)NU);
  if (!n->iarg[A_SEQ])
    for (int64_t k = 0; k < NU; k++)
      b.dh[k] = n->grad[k];
  for (int s = T - 1; s >= 0; s--) {
    int t = n->iarg[A_BACK] ? T - 1 - s : s;
    if (n->iarg[A_SEQ])
      for (int i = 0; i < N; i++)
        for (int u = 0; u < U; u++)
          b.dh[(int64_t)i * U + u] += n->grad[((int64_t)i * T + s) * U + u];
    LMO_PAR_FOR(g->threads, (int64_t)N * G4 > LMO_PAR_MIN)
    for (int i = 0; i < N; i++) {
      int64_t it = (int64_t)i * T + t;
      float *dz = b.dG + it * G4;
      if (lmo_rnn_masked(mask, it)) {
        memset(dz, 0, sizeof(float) * (size_t)G4);
        continue;
      }
      const float *z = b.G + it * G4, *tc = b.Tc + it * U, *cp = b.Cp + it * U;
      float *dh = b.dh + (int64_t)i * U, *dc = b.dc + (int64_t)i * U;
      for (int u = 0; u < U; u++) {
        float ig = z[u], fg = z[U + u], cg = z[2 * U + u], og = z[3 * U + u];
        float dct = dc[u] + dh[u] * og * lmo_rnn_act_d(act, tc[u]);
        dz[u] = dct * cg * lmo_rnn_act_d(rec, ig);
        dz[U + u] = dct * cp[u] * lmo_rnn_act_d(rec, fg);
        dz[2 * U + u] = dct * ig * lmo_rnn_act_d(act, cg);
        dz[3 * U + u] = dh[u] * tc[u] * lmo_rnn_act_d(rec, og);
        dc[u] = dct * fg;
      }
    }
    if (s == 0)
      break;
    lmk_sgemm_portable(false, true, N, U, G4, 1.0f, b.dG + (int64_t)t * G4,
                       T * G4, rn->val, G4, 0.0f, b.dh2, U);
    for (int i = 0; i < N; i++)
      if (!lmo_rnn_masked(mask, (int64_t)i * T + t))
        memcpy(b.dh + (int64_t)i * U, b.dh2 + (int64_t)i * U,
               sizeof(float) * (size_t)U);
  }
  if (!NT)
    return;
  if (wn->grad && D)
    lmk_sgemm(true, false, D, G4, (int)NT, 1.0f, xn->val, D, b.dG, G4, 1.0f,
              wn->grad, G4);
  if (rn->grad)
    lmk_sgemm(true, false, U, G4, (int)NT, 1.0f, b.Hp, U, b.dG, G4, 1.0f,
              rn->grad, G4);
  if (xn->grad && D)
    lmk_sgemm(false, true, (int)NT, D, G4, 1.0f, b.dG, G4, wn->val, G4, 1.0f,
              xn->grad, D);
  if (bn && bn->grad)
    for (int j = 0; j < G4; j++) {
      double acc = 0;
      for (int64_t i = 0; i < NT; i++)
        acc += b.dG[i * G4 + j];
      bn->grad[j] += (float)acc;
    }
}

const lm_op lmo_op_lstm = {"lstm", lstm_infer, lstm_forward, lstm_backward,
                           lstm_ws};

int lmo_lstm(lmg_graph *g, int x, int w, int r, int b, int mask,
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
  init.iarg[A_REC] = a->recurrent_activation;
  return lmg_op(g, &lmo_op_lstm, k, in, &init);
}

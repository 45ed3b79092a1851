/* Shared parts of the fused recurrent ops (see rnn.h): shape inference,
 * workspace, Keras dropout masks, the input projection as one sgemm, the
 * per-step recurrent products and the parameter gradients as sgemms.
 *
 * Dropout follows Keras 2.2.4 (recurrent.py, _generate_dropout_mask): in
 * training, each sample draws one mask per gate group for its inputs (N, D)
 * and one for its recurrent state (N, U), fixed over all steps, keeping with
 * probability 1 - rate and scaling by 1 / (1 - rate); the LSTM
 * (implementation=1) has four groups, one per gate, SimpleRNN one. Masks come
 * from the context's RNG serially, so they depend on the seed only. */
#include <assert.h>
#include <limits.h>
#include <math.h>
#include <string.h>

#include "kernels/kernels.h"
#include "ops/rnn.h"

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

int lmo_rnn_kind(int act) {
  switch (act) {
  case LMO_TANH:
    return LMK_TANH;
  case LMO_SIGMOID:
    return LMK_SIGMOID;
  case LMO_HARD_SIGMOID:
    return LMK_HARD_SIGMOID;
  case LMO_RELU:
    return LMK_RELU;
  default:
    return LMK_LINEAR;
  }
}

bool lmo_rnn_masked(const lmg_node *ids, int64_t i) {
  if (!ids) return false;
  if (ids->dtype == LM_INT32) return ((const int32_t *)ids->val)[i] == 0;
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
  if (x->dtype != LM_FLOAT32 || w->dtype != LM_FLOAT32 || r->dtype != LM_FLOAT32 ||
      x->ndim != 3 || w->ndim != 2 || r->ndim != 2)
    return lm_fail(g->ctx, LM_ERR_SHAPE,
                   "%s expects float32 x (batch, timesteps, features), kernel and recurrent "
                   "kernel of rank 2, got %s, %s and %s",
                   op, sx, sw, sr);
  int64_t U = r->shape[0];
  if ((x->shape[2] != LM_NONE && w->shape[0] != x->shape[2]) || w->shape[1] != gates * U ||
      r->shape[1] != gates * U)
    return lm_fail(g->ctx, LM_ERR_SHAPE,
                   "%s: kernel %s and recurrent kernel %s do not fit input %s with %d gates", op,
                   sw, sr, sx, gates);
  int k = 3, n_init = lmo_rnn_n_init(n);
  for (int j = 0; j < n_init; j++) {
    const lmg_node *st = lmg_in(g, n, lmo_rnn_init_at(n) + j);
    if (st->dtype != LM_FLOAT32 || st->ndim != 2 || st->shape[1] != U ||
        (st->shape[0] != LM_NONE && x->shape[0] != LM_NONE && st->shape[0] != x->shape[0])) {
      char ss[128];
      lm_shape_str(st->ndim, st->shape, ss, sizeof ss);
      return lm_fail(g->ctx, LM_ERR_SHAPE,
                     "%s: initial state %d of shape %s does not fit input %s with %lld units",
                     op, j, ss, sx, (long long)U);
    }
  }
  if (n->iarg[RNN_BIAS]) {
    lmg_node *b = lmg_in(g, n, k++);
    bool ok = b->dtype == LM_FLOAT32 &&
              (bias_rows == 1 ? b->ndim == 1 && b->shape[0] == gates * U
                              : b->ndim == 2 && b->shape[0] == bias_rows &&
                                    b->shape[1] == gates * U);
    if (!ok) {
      char sb[128];
      lm_shape_str(b->ndim, b->shape, sb, sizeof sb);
      return lm_fail(g->ctx, LM_ERR_SHAPE, "%s: bias of shape %s does not fit %lld units", op,
                     sb, (long long)U);
    }
  }
  if (n->iarg[RNN_MASK]) {
    lmg_node *m = lmg_in(g, n, k);
    bool ok = m->ndim == 2;
    for (int i = 0; i < 2 && ok; i++)
      ok = m->shape[i] == LM_NONE || x->shape[i] == LM_NONE || m->shape[i] == x->shape[i];
    if (!ok) {
      char sm[128];
      lm_shape_str(m->ndim, m->shape, sm, sizeof sm);
      return lm_fail(g->ctx, LM_ERR_SHAPE, "%s: mask of shape %s does not fit input %s", op, sm,
                     sx);
    }
  }
  int states = n->iarg[RNN_STATE];
  n->dtype = LM_FLOAT32;
  n->ndim = n->iarg[RNN_SEQ] || states ? 3 : 2;
  n->shape[0] = x->shape[0];
  if (n->ndim == 3) {
    int64_t S = n->iarg[RNN_SEQ] ? x->shape[1] : 1;
    n->shape[1] = S == LM_NONE ? LM_NONE : S + states;
  }
  n->shape[n->ndim - 1] = U;
  return LM_OK;
}

int lmo_rnn_n_init(const lmg_node *n) { return n->n_in - lmo_rnn_init_at(n); }

int lmo_rnn_init_at(const lmg_node *n) {
  return 3 + (n->iarg[RNN_BIAS] ? 1 : 0) + (n->iarg[RNN_MASK] ? 1 : 0);
}

void lmo_rnn_init_grads(lmg_graph *g, lmg_node *n, const float *dstate, int N, int U) {
  int n_init = lmo_rnn_n_init(n), at = lmo_rnn_init_at(n);
  size_t NU = (size_t)N * (size_t)U;
  for (int j = 0; j < n_init; j++) {
    lmg_node *st = lmg_in(g, n, at + j);
    if (!st->grad) continue;
    const float *d = dstate + (size_t)j * NU;
    for (size_t k = 0; k < NU; k++) st->grad[k] += d[k];
  }
}

int lmo_rnn_node(lmg_graph *g, const lm_op *op, int x, int w, int r, int b, int mask,
                 const lmo_rnn_args *a, const lmo_rnn_more *more, int n_states) {
  int in[8], k = 0;
  in[k++] = x, in[k++] = w, in[k++] = r;
  if (b >= 0) in[k++] = b;
  if (mask >= 0) in[k++] = mask;
  if (more && more->initial_state)
    for (int j = 0; j < n_states; j++) {
      if (more->initial_state[j] < 0) return -1;
      in[k++] = more->initial_state[j];
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
    init.iarg[RNN_STATE] = more->return_state ? n_states : 0;
    init.farg[0] = more->dropout;
    init.farg[1] = more->recurrent_dropout;
  }
  return lmg_op(g, op, k, in, &init);
}

static bool is_rnn(const lmg_node *n) {
  return n->kind == LMG_OP &&
         (n->op == &lmo_op_lstm || n->op == &lmo_op_simple_rnn || n->op == &lmo_op_gru);
}

int lmo_rnn_mask_source(lmg_graph *g, int x) {
  const lmg_node *n = lmg_at(g, x);
  if (n->kind == LMG_OP && n->op == &lmo_op_rnn_seq && is_rnn(lmg_in(g, n, 0)))
    n = lmg_in(g, n, 0); /* the sequence output under return_state */
  else if (n->kind == LMG_OP && n->op == &lmo_op_slice && is_rnn(lmg_in(g, n, 0)))
    return -1; /* a state, or the last output */
  else if (!is_rnn(n))
    return -2;
  if (!n->iarg[RNN_SEQ] || !n->iarg[RNN_MASK]) return -1;
  return n->in[n->iarg[RNN_BIAS] ? 4 : 3];
}

/* ---- rnn_seq: drop the k state rows in front of the sequence output ---- */

static lm_status rnn_seq_infer(lmg_graph *g, lmg_node *n) {
  const lmg_node *x = lmg_in(g, n, 0);
  int k = n->iarg[0];
  if (x->dtype != LM_FLOAT32 || x->ndim != 3 || k < 0 ||
      (x->shape[1] != LM_NONE && x->shape[1] < k)) {
    char sx[128];
    lm_shape_str(x->ndim, x->shape, sx, sizeof sx);
    return lm_fail(g->ctx, LM_ERR_SHAPE, "rnn_seq: cannot drop %d rows of axis 1 from %s", k,
                   sx);
  }
  n->dtype = LM_FLOAT32;
  n->ndim = 3;
  memcpy(n->shape, x->shape, sizeof n->shape);
  if (x->shape[1] != LM_NONE) n->shape[1] = x->shape[1] - k;
  return LM_OK;
}

static void rnn_seq_forward(lmg_graph *g, lmg_node *n) {
  const lmg_node *x = lmg_in(g, n, 0);
  int64_t N = x->shape[0], rows = x->shape[1], U = x->shape[2], k = n->iarg[0];
  size_t len = sizeof(float) * (size_t)((rows - k) * U);
  for (int64_t i = 0; i < N; i++)
    memcpy(n->val + i * (rows - k) * U, x->val + (i * rows + k) * U, len);
}

static void rnn_seq_backward(lmg_graph *g, lmg_node *n) {
  lmg_node *x = lmg_in(g, n, 0);
  if (!x->grad) return;
  int64_t N = x->shape[0], rows = x->shape[1], U = x->shape[2], k = n->iarg[0];
  int64_t len = (rows - k) * U;
  for (int64_t i = 0; i < N; i++) {
    float *dx = x->grad + (i * rows + k) * U;
    const float *dy = n->grad + i * len;
    for (int64_t j = 0; j < len; j++) dx[j] += dy[j];
  }
}

const lm_op lmo_op_rnn_seq = {"rnn_seq", rnn_seq_infer, rnn_seq_forward, rnn_seq_backward, NULL};

int lmo_rnn_seq(lmg_graph *g, int x, int k) {
  if (x < 0) return -1;
  lmg_node init;
  memset(&init, 0, sizeof init);
  init.iarg[0] = k;
  return lmg_op(g, &lmo_op_rnn_seq, 1, &x, &init);
}

bool lmo_rnn_rate_on(float rate) { return rate > 0.0f && rate < 1.0f; }


/* Offsets (in floats) of the workspace regions, in lmo_rnn order. */
enum { R_Z, R_DZ, R_HP, R_EXTRA, R_STATE, R_DSTATE, R_TMP, R_RT, R_COLSUM, R_DPM, R_RDM,
       R_XT, R_XM, R_HM, R_END };

static void layout(const lmg_node *x, const lmg_node *rk, const lmg_node *n, int gates,
                   int groups, int n_extra, int n_states, size_t off[R_END + 1]) {
  size_t N = (size_t)x->shape[0], T = (size_t)x->shape[1], D = (size_t)x->shape[2];
  size_t U = (size_t)rk->shape[0], G = (size_t)gates * U, NT = N * T;
  bool din = lmo_rnn_rate_on(n->farg[0]), drec = lmo_rnn_rate_on(n->farg[1]);
  size_t len[R_END] = {
      [R_Z] = NT * G,
      [R_DZ] = NT * G,
      [R_HP] = NT * U,
      [R_EXTRA] = (size_t)n_extra * NT * U,
      [R_STATE] = (size_t)n_states * N * U,
      [R_DSTATE] = (size_t)n_states * N * U,
      [R_TMP] = 2 * N * U,
      [R_RT] = G * U,
      [R_COLSUM] = G,
      [R_DPM] = din ? (size_t)groups * N * D : 0,
      [R_RDM] = drec ? (size_t)groups * N * U : 0,
      [R_XT] = NT * D,
      [R_XM] = din ? NT * D : 0,
      [R_HM] = drec ? NT * U : 0,
  };
  off[0] = 0;
  for (int i = 0; i < R_END; i++) off[i + 1] = off[i] + len[i];
}

size_t lmo_rnn_ws(const lmg_graph *g, const lmg_node *n, int gates, int groups, int n_extra,
                  int n_states) {
  size_t off[R_END + 1];
  layout(&g->nodes[n->in[0]], &g->nodes[n->in[2]], n, gates, groups, n_extra, n_states, off);
  return sizeof(float) * off[R_END];
}

lmo_rnn lmo_rnn_get(lmg_graph *g, lmg_node *n, int gates, int groups, int n_extra,
                    int n_states) {
  const lmg_node *x = lmg_in(g, n, 0), *rk = lmg_in(g, n, 2);
  assert(x->shape[0] * x->shape[1] <= INT_MAX && x->shape[2] <= INT_MAX);
  lmo_rnn r;
  memset(&r, 0, sizeof r);
  r.N = (int)x->shape[0], r.T = (int)x->shape[1], r.D = (int)x->shape[2];
  r.U = (int)rk->shape[0], r.G = gates * r.U, r.groups = groups, r.n_states = n_states;
  r.S = n->iarg[RNN_SEQ] ? r.T : 1;
  r.k = n->iarg[RNN_STATE];
  r.rows = r.S + r.k;
  r.drop_in = (n->iarg[RNN_DROP] & 1) != 0;
  r.drop_rec = (n->iarg[RNN_DROP] & 2) != 0;
  r.has_init = lmo_rnn_n_init(n) > 0;
  r.x = x->val, r.W = lmg_in(g, n, 1)->val, r.R = rk->val;
  r.bias = n->iarg[RNN_BIAS] ? lmg_in(g, n, 3)->val : NULL;
  r.mask = n->iarg[RNN_MASK] ? lmg_in(g, n, n->iarg[RNN_BIAS] ? 4 : 3) : NULL;
  size_t off[R_END + 1];
  layout(x, rk, n, gates, groups, n_extra, n_states, off);
  float *ws = n->ws;
  float **dst[R_END] = {&r.Z,  &r.dZ,     &r.Hp,  &r.extra, &r.state, &r.dstate, &r.tmp,
                        &r.RT, &r.colsum, &r.dpm, &r.rdm,   &r.xt,    &r.xm,     &r.hm};
  for (int i = 0; i < R_END; i++) *dst[i] = off[i + 1] > off[i] ? ws + off[i] : NULL;
  return r;
}

/* One mask of n values: keep when a 32-bit uniform is >= rate * 2^32, as
 * src/ops/dropout.c. */
void lmo_rnn_draw_mask(lm_ctx *ctx, float rate, int64_t n, float *m) {
  float scale = 1.0f / (1.0f - rate);
  uint32_t thr = (uint32_t)((double)rate * 4294967296.0);
  for (int64_t k = 0; k < n; k += 2) {
    uint64_t v = lm_rng_next(ctx->rng);
    m[k] = (uint32_t)(v >> 32) >= thr ? scale : 0.0f;
    if (k + 1 < n) m[k + 1] = (uint32_t)v >= thr ? scale : 0.0f;
  }
}

/* Time-major rows (T, N, C) times the mask of group q ((groups, N, C), one
 * row per sample): out = a * mask, or out += a * mask when add. */
static void mask_rows(const lmo_rnn *r, const float *a, const float *masks, int q, int C,
                      float *out, bool add) {
  const float *m = masks + (size_t)q * (size_t)r->N * (size_t)C;
  for (int t = 0; t < r->T; t++)
    for (int i = 0; i < r->N; i++) {
      size_t o = ((size_t)t * (size_t)r->N + (size_t)i) * (size_t)C;
      const float *mi = m + (size_t)i * (size_t)C;
      if (add)
        for (int c = 0; c < C; c++) out[o + c] += a[o + c] * mi[c];
      else
        for (int c = 0; c < C; c++) out[o + c] = a[o + c] * mi[c];
    }
}

/* dst (T, N, D) <- src (N, T, D), or dst (N, T, D) += src (T, N, D). */
static void to_time_major(const lmo_rnn *r, const float *src, float *dst) {
  size_t D = (size_t)r->D;
  for (int i = 0; i < r->N; i++)
    for (int t = 0; t < r->T; t++)
      memcpy(dst + ((size_t)t * r->N + i) * D, src + ((size_t)i * r->T + t) * D,
             sizeof(float) * D);
}
static void add_batch_major(const lmo_rnn *r, const float *src, float *dst) {
  size_t D = (size_t)r->D;
  for (int i = 0; i < r->N; i++)
    for (int t = 0; t < r->T; t++) {
      const float *a = src + ((size_t)t * r->N + i) * D;
      float *b = dst + ((size_t)i * r->T + t) * D;
      for (size_t d = 0; d < D; d++) b[d] += a[d];
    }
}

void lmo_rnn_begin(lmg_graph *g, lmg_node *n, lmo_rnn *r) {
  bool din = g->training && lmo_rnn_rate_on(n->farg[0]) && r->dpm;
  bool drec = g->training && lmo_rnn_rate_on(n->farg[1]) && r->rdm;
  n->iarg[RNN_DROP] = (din ? 1 : 0) | (drec ? 2 : 0);
  r->drop_in = din, r->drop_rec = drec;
  if (din) lmo_rnn_draw_mask(g->ctx, n->farg[0], (int64_t)r->groups * r->N * r->D, r->dpm);
  if (drec) lmo_rnn_draw_mask(g->ctx, n->farg[1], (int64_t)r->groups * r->N * r->U, r->rdm);
  int64_t NT = (int64_t)r->N * r->T;
  int G = r->G, W = G / r->groups;
  for (int64_t i = 0; i < NT; i++)
    if (r->bias)
      memcpy(r->Z + i * G, r->bias, sizeof(float) * (size_t)G);
    else
      memset(r->Z + i * G, 0, sizeof(float) * (size_t)G);
  if (NT && r->D) {
    to_time_major(r, r->x, r->xt);
    if (!din) {
      lmk_sgemm(false, false, (int)NT, G, r->D, 1.0f, r->xt, r->D, r->W, G, 1.0f, r->Z, G);
    } else {
      for (int q = 0; q < r->groups; q++) {
        mask_rows(r, r->xt, r->dpm, q, r->D, r->xm, false);
        lmk_sgemm(false, false, (int)NT, W, r->D, 1.0f, r->xm, r->D, r->W + q * W, G, 1.0f,
                  r->Z + q * W, G);
      }
    }
  }
  size_t NU = (size_t)r->N * (size_t)r->U;
  memset(r->state, 0, sizeof(float) * (size_t)r->n_states * NU);
  int at = lmo_rnn_init_at(n);
  for (int j = 0; j < lmo_rnn_n_init(n) && j < r->n_states; j++)
    memcpy(r->state + (size_t)j * NU, lmg_in(g, n, at + j)->val, sizeof(float) * NU);
}

void lmo_rnn_rec_fwd(const lmo_rnn *r, int lo, int hi, int t, const float *h) {
  int m = hi - lo, U = r->U, G = r->G, ldc = G;
  float *z = r->Z + ((int64_t)t * r->N + lo) * G;
  if (!r->drop_rec) {
    lmk_rowmm(m, G, U, h, U, r->R, G, z, ldc);
    return;
  }
  int W = G / r->groups;
  float *hm = r->tmp + (size_t)lo * (size_t)U; /* the rows' own part */
  for (int q = 0; q < r->groups; q++) {
    const float *msk = r->rdm + ((size_t)q * (size_t)r->N + (size_t)lo) * (size_t)U;
    for (int64_t k = 0; k < (int64_t)m * U; k++) hm[k] = h[k] * msk[k];
    lmk_rowmm(m, W, U, hm, U, r->R + q * W, G, z + q * W, ldc);
  }
}

void lmo_rnn_back_begin(lmo_rnn *r) {
  int U = r->U, G = r->G;
  for (int u = 0; u < U; u++)
    for (int j = 0; j < G; j++) r->RT[(size_t)j * U + u] = r->R[(size_t)u * G + j];
}

void lmo_rnn_rec_bwd(const lmo_rnn *r, int lo, int hi, int t, float *dh) {
  int m = hi - lo, U = r->U, G = r->G, lda = G;
  const float *dz = r->dZ + ((int64_t)t * r->N + lo) * G;
  float *out = r->tmp + (size_t)lo * U; /* the rows' own part */
  memset(out, 0, sizeof(float) * (size_t)m * (size_t)U);
  if (!r->drop_rec) {
    lmk_rowmm(m, U, G, dz, lda, r->RT, U, out, U);
  } else {
    int W = G / r->groups;
    float *part = r->tmp + ((size_t)r->N + (size_t)lo) * (size_t)U;
    for (int q = 0; q < r->groups; q++) {
      const float *msk = r->rdm + ((size_t)q * (size_t)r->N + (size_t)lo) * (size_t)U;
      memset(part, 0, sizeof(float) * (size_t)m * (size_t)U);
      lmk_rowmm(m, U, W, dz + q * W, lda, r->RT + (size_t)q * W * U, U, part, U);
      for (int64_t k = 0; k < (int64_t)m * U; k++) out[k] += part[k] * msk[k];
    }
  }
  for (int i = lo; i < hi; i++)
    if (!lmo_rnn_masked(r->mask, (int64_t)i * r->T + t))
      memcpy(dh + (size_t)(i - lo) * U, out + (size_t)(i - lo) * U, sizeof(float) * (size_t)U);
}

void lmo_rnn_run(const lmg_graph *g, lmg_node *n, const lmo_rnn *r, lmo_rnn_rows_fn rows) {
  int64_t work = (int64_t)r->N * r->T * r->G;
  int nc = g->threads < 1 ? 1 : g->threads;
  if (work < 4 * LMO_PAR_MIN) nc = 1;
  while (nc > 1 && r->N / nc < 8) nc--;
  int pairs = (r->N + 1) / 2;
  LMO_PAR_FOR(nc, nc > 1)
  for (int c = 0; c < nc; c++) {
    int lo = 2 * (int)((int64_t)pairs * c / nc), hi = 2 * (int)((int64_t)pairs * (c + 1) / nc);
    rows(n, r, lo, hi < r->N ? hi : r->N);
  }
}

void lmo_rnn_forward(lmg_graph *g, lmg_node *n, lmo_rnn *r, lmo_rnn_rows_fn rows) {
  lmo_rnn_begin(g, n, r);
  lmo_rnn_run(g, n, r, rows);
}

void lmo_rnn_backward(lmg_graph *g, lmg_node *n, lmo_rnn *r, lmo_rnn_rows_fn rows) {
  lmo_rnn_back_begin(r);
  lmo_rnn_run(g, n, r, rows);
  lmo_rnn_param_grads(g, n, r);
  if (r->has_init) lmo_rnn_init_grads(g, n, r->dstate, r->N, r->U);
}

/* colsum (G) = sum over the N*T rows of dZ, in blocks of 256 rows summed in
 * float (vectorised) and added in order. */
static void col_sums(const lmo_rnn *r, float *db) {
  int64_t NT = (int64_t)r->N * r->T;
  int G = r->G;
  for (int64_t i0 = 0; i0 < NT; i0 += 256) {
    int64_t i1 = i0 + 256 < NT ? i0 + 256 : NT;
    memset(r->colsum, 0, sizeof(float) * (size_t)G);
    for (int64_t i = i0; i < i1; i++) {
      const float *row = r->dZ + i * G;
      for (int j = 0; j < G; j++) r->colsum[j] += row[j];
    }
    for (int j = 0; j < G; j++) db[j] += r->colsum[j];
  }
}

void lmo_rnn_param_grads(lmg_graph *g, lmg_node *n, const lmo_rnn *r) {
  lmg_node *xn = lmg_in(g, n, 0), *wn = lmg_in(g, n, 1), *rn = lmg_in(g, n, 2);
  lmg_node *bn = n->iarg[RNN_BIAS] ? lmg_in(g, n, 3) : NULL;
  int NT = r->N * r->T, D = r->D, U = r->U, G = r->G, W = G / r->groups;
  if (!NT) return;
  if (wn->grad && D) {
    if (!r->drop_in)
      lmk_sgemm(true, false, D, G, NT, 1.0f, r->xt, D, r->dZ, G, 1.0f, wn->grad, G);
    else
      for (int q = 0; q < r->groups; q++) {
        mask_rows(r, r->xt, r->dpm, q, D, r->xm, false);
        lmk_sgemm(true, false, D, W, NT, 1.0f, r->xm, D, r->dZ + q * W, G, 1.0f,
                  wn->grad + q * W, G);
      }
  }
  if (rn->grad) {
    if (!r->drop_rec) {
      lmk_sgemm(true, false, U, G, NT, 1.0f, r->Hp, U, r->dZ, G, 1.0f, rn->grad, G);
    } else {
      for (int q = 0; q < r->groups; q++) {
        mask_rows(r, r->Hp, r->rdm, q, U, r->hm, false);
        lmk_sgemm(true, false, U, W, NT, 1.0f, r->hm, U, r->dZ + q * W, G, 1.0f,
                  rn->grad + q * W, G);
      }
    }
  }
  if (xn->grad && D) { /* time-major in xt (x is no longer needed), then added */
    if (!r->drop_in) {
      lmk_sgemm(false, true, NT, D, G, 1.0f, r->dZ, G, r->W, G, 0.0f, r->xt, D);
    } else {
      memset(r->xt, 0, sizeof(float) * (size_t)NT * (size_t)D);
      for (int q = 0; q < r->groups; q++) {
        lmk_sgemm(false, true, NT, D, W, 1.0f, r->dZ + q * W, G, r->W + q * W, G, 0.0f, r->xm,
                  D);
        mask_rows(r, r->xm, r->dpm, q, D, r->xt, true);
      }
    }
    add_batch_major(r, r->xt, xn->grad);
  }
  if (bn && bn->grad) col_sums(r, bn->grad);
}

/* conv1d and pool1d over (N, L, C) channels-last sequences.
 *
 * conv1d: x (N, L, C), kernel (K, C, F) [, bias (F)] -> (N, L', F) through
 * im2col (kept for backward) and one sgemm over all samples. pool1d: max or
 * average windows per channel. Padding: iarg pad 0 valid, 1 same (TF: the
 * extra element goes to the right), 2 causal (conv only: all on the left). */
#include <assert.h>
#include <limits.h>
#include <string.h>

#include "kernels/conv_shape.h"
#include "kernels/kernels.h"
#include "ops/ops.h"

enum { C_STRIDE, C_DIL, C_PAD, C_BIAS };

/* Output length and left padding for a window of span (K-1)*d+1. */
/* valid and same come from kernels/conv_shape.h, the one copy of the TF rule. */
int64_t lmo_seq_out_len(int64_t L, int K, int stride, int dil, int pad,
                        int64_t *pad_left) {
  int64_t span = (int64_t)(K - 1) * dil + 1, after;
  *pad_left = 0;
  if (L == LM_NONE)
    return LM_NONE;
  if (pad == 2) {
    *pad_left = span - 1;
    return lmk_conv_out(L, K, stride, dil, true);
  }
  lmk_conv_pads(L, K, stride, dil, pad == 1, pad_left, &after);
  return lmk_conv_out(L, K, stride, dil, pad == 1);
}

static lm_status conv1d_infer(lmg_graph *g, lmg_node *n) {
  lmg_node *x = lmg_in(g, n, 0), *w = lmg_in(g, n, 1);
  if (lmo_check_f32(g, n))
    return g->ctx->err;
  char sx[128], sw[128];
  lm_shape_str(x->ndim, x->shape, sx, sizeof sx);
  lm_shape_str(w->ndim, w->shape, sw, sizeof sw);
  if (x->ndim != 3 || w->ndim != 3 ||
      (x->shape[2] != LM_NONE && x->shape[2] != w->shape[1]) ||
      (n->n_in == 3 && (lmg_in(g, n, 2)->ndim != 1 ||
                        lmg_in(g, n, 2)->shape[0] != w->shape[2])))
    return lm_fail(g->ctx, LM_ERR_SHAPE,
                   "conv1d expects x (batch, steps, channels) and a kernel "
                   "(size, channels, "
                   "filters) that fit, got %s and %s",
                   sx, sw);
  int64_t pl;
  int64_t out =
      lmo_seq_out_len(x->shape[1], (int)w->shape[0], n->iarg[C_STRIDE],
                      n->iarg[C_DIL], n->iarg[C_PAD], &pl);
  if (out == 0)
    return lm_fail(g->ctx, LM_ERR_SHAPE,
                   "conv1d: input %s is shorter than the kernel %s (dilation "
                   "%d): the output "
                   "would be empty",
                   sx, sw, n->iarg[C_DIL]);
  n->dtype = LM_FLOAT32;
  n->ndim = 3;
  n->shape[0] = x->shape[0];
  n->shape[1] = out;
  n->shape[2] = w->shape[2];
  return LM_OK;
}

typedef struct cdims {
  int N, L, C, K, F, Lo, s, d;
  int64_t pl;
} cdims;

static cdims conv_dims(lmg_graph *g, const lmg_node *n) {
  const lmg_node *x = lmg_in(g, n, 0), *w = lmg_in(g, n, 1);
  cdims c = {(int)x->shape[0],  (int)x->shape[1], (int)x->shape[2],
             (int)w->shape[0],  (int)w->shape[2], (int)n->shape[1],
             n->iarg[C_STRIDE], n->iarg[C_DIL],   0};
  lmo_seq_out_len(c.L, c.K, c.s, c.d, n->iarg[C_PAD], &c.pl);
  return c;
}

static size_t conv1d_ws(const lmg_graph *g, const lmg_node *n) {
  const lmg_node *x = &g->nodes[n->in[0]], *w = &g->nodes[n->in[1]];
  return sizeof(float) *
         (size_t)(x->shape[0] * n->shape[1] * w->shape[0] * w->shape[1]);
}

static void conv1d_forward(lmg_graph *g, lmg_node *n) {
  cdims c = conv_dims(g, n);
  const float *x = lmg_in(g, n, 0)->val, *w = lmg_in(g, n, 1)->val;
  float *cols = n->ws;
  int KC = c.K * c.C;
  int64_t rows = (int64_t)c.N * c.Lo;
  assert(rows <= INT_MAX);
  LMO_PAR_FOR(g->threads, rows * KC > LMO_PAR_MIN)
  for (int64_t r = 0; r < rows; r++) {
    int64_t b = r / c.Lo, o = r % c.Lo;
    for (int k = 0; k < c.K; k++) {
      int64_t p = o * c.s + (int64_t)k * c.d - c.pl;
      float *dst = cols + r * KC + (int64_t)k * c.C;
      if (p < 0 || p >= c.L)
        memset(dst, 0, sizeof(float) * (size_t)c.C);
      else
        memcpy(dst, x + (b * c.L + p) * c.C, sizeof(float) * (size_t)c.C);
    }
  }
  float beta = 0.0f;
  if (n->n_in == 3) {
    const float *bias = lmg_in(g, n, 2)->val;
    for (int64_t r = 0; r < rows; r++)
      for (int f = 0; f < c.F; f++)
        n->val[r * c.F + f] = bias[f];
    beta = 1.0f;
  }
  if (rows && c.F && KC)
    lmk_sgemm(false, false, (int)rows, c.F, KC, 1.0f, cols, KC, w, c.F, beta,
              n->val, c.F);
}

static void conv1d_backward(lmg_graph *g, lmg_node *n) {
  cdims c = conv_dims(g, n);
  lmg_node *xn = lmg_in(g, n, 0), *wn = lmg_in(g, n, 1);
  const float *cols = n->ws, *dy = n->grad; /* cols: im2col of the forward */
  int KC = c.K * c.C;
  int64_t rows = (int64_t)c.N * c.Lo;
  if (!rows)
    return;
  if (wn->grad)
    lmk_sgemm(true, false, KC, c.F, (int)rows, 1.0f, cols, KC, dy, c.F, 1.0f,
              wn->grad, c.F);
  if (n->n_in == 3 && lmg_in(g, n, 2)->grad) {
    float *db = lmg_in(g, n, 2)->grad;
    for (int f = 0; f < c.F; f++) {
      double acc = 0;
      for (int64_t r = 0; r < rows; r++)
        acc += dy[r * c.F + f];
      db[f] += (float)acc;
    }
  }
  if (!xn->grad)
    return;
  /* dcols = dy . W^T in one sgemm, over the im2col buffer (dW is done with
   * it), then scattered into dx serially (windows overlap) */
  float *dcols = n->ws;
  if (KC)
    lmk_sgemm(false, true, (int)rows, KC, c.F, 1.0f, dy, c.F, wn->val, c.F,
              0.0f, dcols, KC);
  for (int64_t r = 0; r < rows; r++) {
    int64_t b = r / c.Lo, o = r % c.Lo;
    for (int k = 0; k < c.K; k++) {
      int64_t p = o * c.s + (int64_t)k * c.d - c.pl;
      if (p < 0 || p >= c.L)
        continue;
      float *dx = xn->grad + (b * c.L + p) * c.C;
      const float *src = dcols + r * KC + (int64_t)k * c.C;
      for (int ch = 0; ch < c.C; ch++)
        dx[ch] += src[ch];
    }
  }
}

const lm_op lmo_op_conv1d = {"conv1d", conv1d_infer, conv1d_forward,
                             conv1d_backward, conv1d_ws};

int lmo_conv1d(lmg_graph *g, int x, int w, int b, int stride, int dilation,
               int pad) {
  int in[3] = {x, w, b};
  lmg_node init;
  memset(&init, 0, sizeof init);
  init.iarg[C_STRIDE] = stride;
  init.iarg[C_DIL] = dilation;
  init.iarg[C_PAD] = pad;
  return lmg_op(g, &lmo_op_conv1d, b < 0 ? 2 : 3, in, &init);
}

/* ---- pool1d: iarg 0 kind (0 max, 1 avg), 1 pool, 2 stride, 3 pad ---- */

static lm_status pool1d_infer(lmg_graph *g, lmg_node *n) {
  lmg_node *x = lmg_in(g, n, 0);
  if (lmo_check_f32(g, n))
    return g->ctx->err;
  int64_t pl;
  int64_t out = x->ndim == 3 ? lmo_seq_out_len(x->shape[1], n->iarg[1],
                                               n->iarg[2], 1, n->iarg[3], &pl)
                             : 0;
  if (out == 0) {
    char sx[128];
    lm_shape_str(x->ndim, x->shape, sx, sizeof sx);
    return lm_fail(g->ctx, LM_ERR_SHAPE,
                   "pool1d expects (batch, steps, channels) with at least "
                   "pool_size %d steps, got "
                   "%s",
                   n->iarg[1], sx);
  }
  n->dtype = LM_FLOAT32;
  n->ndim = 3;
  n->shape[0] = x->shape[0];
  n->shape[1] = out;
  n->shape[2] = x->shape[2];
  return LM_OK;
}

/* Window [lo, hi) of output o, clipped to the input. */
static void window(const lmg_graph *g, const lmg_node *n, int64_t o,
                   int64_t *lo, int64_t *hi) {
  const lmg_node *x = &g->nodes[n->in[0]];
  int64_t pl;
  lmo_seq_out_len(x->shape[1], n->iarg[1], n->iarg[2], 1, n->iarg[3], &pl);
  *lo = o * n->iarg[2] - pl;
  *hi = *lo + n->iarg[1];
  if (*lo < 0)
    *lo = 0;
  if (*hi > x->shape[1])
    *hi = x->shape[1];
}

static void pool1d_forward(lmg_graph *g, lmg_node *n) {
  const lmg_node *x = lmg_in(g, n, 0);
  int64_t N = x->shape[0], L = x->shape[1], C = x->shape[2], Lo = n->shape[1];
  for (int64_t b = 0; b < N; b++)
    for (int64_t o = 0; o < Lo; o++) {
      int64_t lo, hi;
      window(g, n, o, &lo, &hi);
      float *y = n->val + (b * Lo + o) * C;
      for (int64_t ch = 0; ch < C; ch++) {
        float acc = n->iarg[0] == 0 ? x->val[(b * L + lo) * C + ch] : 0.0f;
        for (int64_t p = lo; p < hi; p++) {
          float v = x->val[(b * L + p) * C + ch];
          acc = n->iarg[0] == 0 ? (v > acc ? v : acc) : acc + v;
        }
        y[ch] = n->iarg[0] == 0
                    ? acc
                    : acc / (float)(hi - lo); /* avg: padding excluded */
      }
    }
}

/* Max: the gradient goes to the first maximum of the window. */
static void pool1d_backward(lmg_graph *g, lmg_node *n) {
  lmg_node *x = lmg_in(g, n, 0);
  if (!x->grad)
    return;
  int64_t N = x->shape[0], L = x->shape[1], C = x->shape[2], Lo = n->shape[1];
  for (int64_t b = 0; b < N; b++)
    for (int64_t o = 0; o < Lo; o++) {
      int64_t lo, hi;
      window(g, n, o, &lo, &hi);
      const float *dy = n->grad + (b * Lo + o) * C;
      for (int64_t ch = 0; ch < C; ch++) {
        if (n->iarg[0] == 0) {
          int64_t best = lo;
          for (int64_t p = lo + 1; p < hi; p++)
            if (x->val[(b * L + p) * C + ch] > x->val[(b * L + best) * C + ch])
              best = p;
          x->grad[(b * L + best) * C + ch] += dy[ch];
        } else {
          float share = dy[ch] / (float)(hi - lo);
          for (int64_t p = lo; p < hi; p++)
            x->grad[(b * L + p) * C + ch] += share;
        }
      }
    }
}

const lm_op lmo_op_pool1d = {"pool1d", pool1d_infer, pool1d_forward,
                             pool1d_backward, NULL};

int lmo_pool1d(lmg_graph *g, int x, bool avg, int pool, int stride, int pad) {
  lmg_node init;
  memset(&init, 0, sizeof init);
  init.iarg[0] = avg;
  init.iarg[1] = pool;
  init.iarg[2] = stride;
  init.iarg[3] = pad;
  return lmg_op(g, &lmo_op_pool1d, 1, &x, &init);
}

/* Keras masks for the recurrent layers: which ids tensor masks the steps of a sequence.
 *
 * lamina keeps no mask tensors; a recurrent op takes a node of ids (N, T) whose zeros
 * mark the masked steps: the ids of the Embedding(mask_zero=True) that started the
 * sequence, or the AND of several such masks. This walks back from a layer's input node
 * through the ops of the layers that pass a mask on in Keras 2.2.4: recurrent layers
 * with return_sequences (LSTM, GRU, SimpleRNN, and so Bidirectional, whose backward
 * output is reversed and merged), TimeDistributed (its output keeps the input's steps),
 * Dropout, Activation, Dense on (batch, steps, features), and the merges:
 *   Add/Subtract/Multiply/Average/Maximum (Keras' _Merge.compute_mask) AND the masks of
 *   the inputs that have one (an input without a mask does not restrict);
 *   Concatenate on the last axis (Concatenate.compute_mask: an input without a mask
 *   counts as all true, then all() over the last axis) is the same AND.
 *   Concatenate on the time axis (axis 1 of (batch, steps, features)) concatenates the
 *   masks along the steps, an input without a mask giving all-true steps (Keras 2.2.4
 *   does this when every input has a mask and fails otherwise).
 * The AND of distinct masks and the concatenated masks are float 0/1 nodes (custom ops
 * without gradient); one mask, or the same mask on every input, passes as it is.
 * Concatenate on another axis ends the mask.
 * Under return_state the sequence output (rnn_seq) carries the mask and the states do
 * not. Anything else ends the mask. */
#include <string.h>

#include "layers/layer.h"
#include "ops/ops.h"
#include "ops/rnn.h"

enum { MAX_AND = 16 };

static lm_status and_infer(void *ud, lmg_graph *g, lmg_node *n) {
  (void)ud;
  const lmg_node *a = lmg_in(g, n, 0);
  n->dtype = LM_FLOAT32;
  n->ndim = 2;
  n->shape[0] = a->shape[0];
  n->shape[1] = a->shape[1];
  for (int i = 1; i < n->n_in; i++) {
    const lmg_node *b = lmg_in(g, n, i);
    if (b->ndim != 2 || (b->shape[1] != LM_NONE && a->shape[1] != LM_NONE &&
                         b->shape[1] != a->shape[1])) {
      char sa[128], sb[128];
      lm_shape_str(a->ndim, a->shape, sa, sizeof sa);
      lm_shape_str(b->ndim, b->shape, sb, sizeof sb);
      return lm_fail(g->ctx, LM_ERR_SHAPE, "merged masks of shapes %s and %s do not fit", sa,
                     sb);
    }
    if (n->shape[1] == LM_NONE) n->shape[1] = b->shape[1];
  }
  return LM_OK;
}

static void and_forward(void *ud, lmg_graph *g, lmg_node *n) {
  (void)ud;
  int64_t size = lmg_in(g, n, 0)->shape[0] * lmg_in(g, n, 0)->shape[1];
  for (int64_t k = 0; k < size; k++) {
    bool keep = true;
    for (int i = 0; i < n->n_in && keep; i++) keep = !lmo_rnn_masked(lmg_in(g, n, i), k);
    n->val[k] = keep ? 1.0f : 0.0f;
  }
}

static const lmo_custom_def and_def = {"mask_and", and_infer, and_forward, NULL, NULL};

/* Masks concatenated along the steps: input j is a mask (N, T_j) or, for an input
 * without one, the sequence itself (N, T_j, F): all steps kept. */
static lm_status cat_infer(void *ud, lmg_graph *g, lmg_node *n) {
  (void)ud;
  n->dtype = LM_FLOAT32;
  n->ndim = 2;
  n->shape[0] = lmg_in(g, n, 0)->shape[0];
  n->shape[1] = 0;
  for (int i = 0; i < n->n_in; i++) {
    int64_t t = lmg_in(g, n, i)->shape[1];
    n->shape[1] = t == LM_NONE || n->shape[1] == LM_NONE ? LM_NONE : n->shape[1] + t;
  }
  return LM_OK;
}

static void cat_forward(void *ud, lmg_graph *g, lmg_node *n) {
  (void)ud;
  int64_t N = n->shape[0], T = n->shape[1];
  for (int64_t r = 0; r < N; r++) {
    int64_t o = 0;
    for (int i = 0; i < n->n_in; i++) {
      const lmg_node *m = lmg_in(g, n, i);
      int64_t Ti = m->shape[1];
      for (int64_t t = 0; t < Ti; t++)
        n->val[r * T + o + t] = m->ndim == 3 || !lmo_rnn_masked(m, r * Ti + t) ? 1.0f : 0.0f;
      o += Ti;
    }
  }
}

static const lmo_custom_def cat_def = {"mask_concat_steps", cat_infer, cat_forward, NULL, NULL};

static int mask_of(lmg_graph *g, int x, int depth);

/* Concatenate on the steps: the inputs' masks concatenated (-1 when none has one). */
static int steps_mask(lmg_graph *g, int n, const int *in, int depth) {
  int parts[64];
  bool any = false;
  if (n > 64) return -1;
  for (int i = 0; i < n; i++) {
    int m = mask_of(g, in[i], depth + 1);
    any |= m >= 0;
    parts[i] = m >= 0 ? m : in[i];
  }
  if (!any) return -1;
  int y = lmo_custom(g, n, parts, &cat_def, NULL);
  return y >= 0 ? y : -1;
}

/* The AND of the masks of inputs in[0 .. n-1] (Keras' merge compute_mask). */
static int merged_mask(lmg_graph *g, int n, const int *in, int depth) {
  int ms[MAX_AND], k = 0;
  for (int i = 0; i < n; i++) {
    int m = mask_of(g, in[i], depth + 1);
    if (m < 0) continue;
    bool seen = false;
    for (int j = 0; j < k && !seen; j++) seen = ms[j] == m;
    if (!seen && k < MAX_AND) ms[k++] = m;
  }
  if (k <= 1) return k ? ms[0] : -1;
  int y = lmo_custom(g, k, ms, &and_def, NULL);
  return y >= 0 ? y : -1;
}

static int mask_of(lmg_graph *g, int x, int depth) {
  if (x < 0 || depth > 256) return -1;
  const lmg_node *n = lmg_at(g, x);
  if (n->kind != LMG_OP || n->ndim != 3) return -1;
  const lm_op *op = n->op;
  if (op == &lmo_op_embedding) return n->iarg[0] ? n->in[0] : -1;
  int up = lmo_rnn_mask_source(g, x); /* lstm, simple_rnn, gru and their rnn_seq */
  if (up != -2) return up;
  if (op == &lmo_op_reverse_time || op == &lmo_op_dropout || op == &lmo_op_affine ||
      op == &lmo_op_activation ||
      (op == &lmo_op_matmul && lmg_in(g, n, 0)->ndim == 3))
    return mask_of(g, n->in[0], depth + 1);
  if (op == &lmo_op_unfold_time) return mask_of(g, n->in[1], depth + 1);
  if (op == &lmo_op_binary || (op == &lmo_op_concat && n->iarg[0] == 2))
    return merged_mask(g, n->n_in, n->in, depth);
  if (op == &lmo_op_concat && n->iarg[0] == 1) return steps_mask(g, n->n_in, n->in, depth);
  return -1;
}

int lml_rnn_mask_node(lmg_graph *g, int x) { return mask_of(g, x, 0); }

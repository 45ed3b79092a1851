/* Keras masks for the recurrent layers: which ids tensor masks the steps of a sequence.
 *
 * lamina keeps no mask tensors; a recurrent op takes the ids of the Embedding(mask_zero=True)
 * that started the sequence and skips the steps whose id is 0. This walks back from a
 * layer's input node through the ops of the layers that pass a mask on in Keras 2.2.4:
 * recurrent layers with return_sequences (LSTM, GRU, SimpleRNN, and so Bidirectional,
 * whose backward output is reversed and merged), TimeDistributed (its output keeps the
 * input's steps), Dropout, and the merges Add/Multiply/Average/Concatenate on the last
 * axis (Keras ANDs the masks of their inputs; here the first masked input's mask is
 * taken, exact when the inputs share one, the usual case), Activation, and Dense on
 * (batch, steps, features). Under return_state the sequence output (rnn_seq) carries the
 * mask and the states do not. Anything else ends the mask. */
#include "layers/layer.h"
#include "ops/ops.h"
#include "ops/rnn.h"

static int mask_of(lmg_graph *g, int x, int depth) {
  if (x < 0 || depth > 256) return -1;
  const lmg_node *n = lmg_at(g, x);
  if (n->kind != LMG_OP || n->ndim != 3) return -1;
  const lm_op *op = n->op;
  if (op == &lmo_op_embedding) return n->iarg[0] ? n->in[0] : -1;
  int up = lmo_rnn_mask_source(g, x); /* lstm, simple_rnn and their rnn_seq */
  if (up != -2) return up;
  if (op == &lmo_op_gru) /* iarg: bias, mask, return_sequences (the layout of ops/rnn.h) */
    return n->iarg[1] && n->iarg[2] ? n->in[n->iarg[0] ? 4 : 3] : -1;
  if (op == &lmo_op_reverse_time || op == &lmo_op_dropout || op == &lmo_op_affine ||
      op == &lmo_op_activation ||
      (op == &lmo_op_matmul && lmg_in(g, n, 0)->ndim == 3))
    return mask_of(g, n->in[0], depth + 1);
  if (op == &lmo_op_unfold_time) return mask_of(g, n->in[1], depth + 1);
  if (op == &lmo_op_binary || (op == &lmo_op_concat && n->iarg[0] == 2))
    for (int i = 0; i < n->n_in; i++) {
      int m = mask_of(g, n->in[i], depth + 1);
      if (m >= 0) return m;
    }
  return -1;
}

int lml_rnn_mask_node(lmg_graph *g, int x) { return mask_of(g, x, 0); }

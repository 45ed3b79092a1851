/* Machinery shared by the fused recurrent ops (src/ops/rnn.c for lstm.c and
 * simple_rnn.c): node layout, workspace, dropout masks, the input projection,
 * the per-step recurrent products and the parameter gradients. gru.c keeps
 * its own loops but the same node layout (inputs, iarg slots, output rows,
 * initial states) and dropout masks.
 *
 * A recurrent node's inputs are x (N, T, D), W (D, G), R (U, G), then the
 * bias (G) when iarg[RNN_BIAS] and the mask ids (N, T) when iarg[RNN_MASK];
 * G = gates * U columns. farg[0] is dropout, farg[1] recurrent_dropout.
 * With Keras' initial_state the initial states (N, U), h (then c), follow
 * as the last inputs (lmo_rnn_n_init of them; zeros without): the first step
 * then takes its recurrent product too, and backward adds the gradient that
 * reaches the state before the first step into them.
 *
 * Output rows per sample: with iarg[RNN_STATE] = k > 0 (return_state) first
 * the k final states (h, then c for the LSTM), then the S = T
 * (return_sequences) or 1 output rows: the node is (N, k + S, U) and the
 * layer takes it apart with slices and lmo_rnn_seq (S may be unknown while
 * building). */
#ifndef LM_OPS_RNN_H
#define LM_OPS_RNN_H

#include "ops/ops.h"

enum {
  RNN_BIAS,
  RNN_MASK,
  RNN_SEQ,
  RNN_BACK,
  RNN_ACT,
  RNN_REC,
  RNN_STATE, /* number of state rows appended to the output (return_state) */
  RNN_DROP   /* set by forward: bit 0 input masks applied, bit 1 recurrent */
};

typedef struct lmo_rnn {
  int N, T, D, U, G;
  int groups;     /* dropout mask groups: column blocks of G with their own masks */
  int S, rows;    /* output steps per sample; rows per sample in the node's value */
  int k;          /* state rows before the outputs (return_state) */
  int n_states;   /* states carried from step to step (h; h and c) */
  bool drop_in, drop_rec;
  bool has_init;  /* initial states given: the first step takes h . R too */
  const float *x, *W, *R, *bias;
  const lmg_node *mask;
  /* workspace, time-major (row t*N + i) so that the rows of one step are
   * contiguous: Z (T,N,G) activated gates; dZ (T,N,G); Hp (T,N,U) the state
   * h before each step; extra (n_extra * T*N*U) for the cell; state and
   * dstate (n_states * N*U); tmp (2 * N*U); RT (G, U) R transposed;
   * colsum (G); masks dpm (groups, N, D) and rdm (groups, N, U); xt (T,N,D)
   * x time-major; xm (T*N*D) and hm (T*N*U) for the dropout paths. */
  float *Z, *dZ, *Hp, *extra, *state, *dstate, *tmp, *RT, *colsum, *dpm, *rdm, *xt, *xm, *hm;
} lmo_rnn;

/* Keras mask propagation at graph level: for node x made by lstm, simple_rnn
 * or gru (or the slice of its sequence output under return_state), the
 * mask ids node its sequence output carries (-1 for none: a last output or a
 * state); -2 when x is no such node. */
int lmo_rnn_mask_source(lmg_graph *g, int x);

/* Initial-state inputs of a recurrent node (0 or its number of states), and
 * the index in n->in of the first. */
int lmo_rnn_n_init(const lmg_node *n);
int lmo_rnn_init_at(const lmg_node *n);
/* Adds the gradient of the states before the first step, dstate (n_states *
 * N * U as lmo_rnn's), into the initial-state inputs' grads. */
void lmo_rnn_init_grads(lmg_graph *g, lmg_node *n, const float *dstate, int N, int U);
/* Keras dropout mask of n values (keep with probability 1 - rate, scaled by
 * 1 / (1 - rate)) from the context's RNG; rate_on: 0 < rate < 1. */
void lmo_rnn_draw_mask(lm_ctx *ctx, float rate, int64_t n, float *m);
bool lmo_rnn_rate_on(float rate);

/* rnn_seq: x (N, k + S, U) -> (N, S, U), the sequence output of a
 * recurrent node with k state rows. */
int lmo_rnn_seq(lmg_graph *g, int x, int k);
extern const lm_op lmo_op_rnn_seq;

/* The op node (shared by lmo_lstm and lmo_simple_rnn). */
int lmo_rnn_node(lmg_graph *g, const lm_op *op, int x, int w, int r, int b, int mask,
                 const lmo_rnn_args *a, const lmo_rnn_more *more, int n_states);
size_t lmo_rnn_ws(const lmg_graph *g, const lmg_node *n, int gates, int groups, int n_extra,
                  int n_states);
lmo_rnn lmo_rnn_get(lmg_graph *g, lmg_node *n, int gates, int groups, int n_extra, int n_states);
/* The kernels' activation kind for an lmo_act_kind. */
int lmo_rnn_kind(int act);

/* Forward preamble: draws the dropout masks (training only), fills Z with
 * bias + x . W (masked per group) and zeroes the state. */
void lmo_rnn_begin(lmg_graph *g, lmg_node *n, lmo_rnn *r);
/* Rows [lo, hi) at time t: Z += h . R (h the rows' current state, masked per
 * group with recurrent dropout). */
void lmo_rnn_rec_fwd(const lmo_rnn *r, int lo, int hi, int t, const float *h);
/* Rows [lo, hi) at time t: dh of the rows whose step t is not masked
 * becomes dZ . R^T (masked per group); masked steps pass dh through. */
void lmo_rnn_rec_bwd(const lmo_rnn *r, int lo, int hi, int t, float *dh);
/* Backward epilogue: R^T for lmo_rnn_rec_bwd is made by lmo_rnn_back_begin;
 * lmo_rnn_param_grads adds dW, dR, db and dx from dZ and Hp. */
void lmo_rnn_back_begin(lmo_rnn *r);
void lmo_rnn_param_grads(lmg_graph *g, lmg_node *n, const lmo_rnn *r);
/* Workspace row of sample i at time t. */
static inline int64_t lmo_rnn_ws_row(const lmo_rnn *r, int i, int t) {
  return (int64_t)t * r->N + i;
}
/* Output row of sample i at step s of the node value (N, rows, U). */
static inline int64_t lmo_rnn_out_row(const lmo_rnn *r, int i, int s) {
  return ((int64_t)i * r->rows + r->k + s) * r->U;
}
/* Offset of state j (h, c) of sample i (return_state). */
static inline int64_t lmo_rnn_state_row(const lmo_rnn *r, int i, int j) {
  return ((int64_t)i * r->rows + j) * r->U;
}
/* Run rows(n, r, lo, hi) over the batch split in chunks of whole row pairs,
 * one chunk per thread (g->threads, when the work is large enough): the rows
 * of a recurrence are independent, so the chunks run all steps without
 * synchronisation, and the split depends only on the thread count. */
typedef void (*lmo_rnn_rows_fn)(lmg_node *n, const lmo_rnn *r, int lo, int hi);
void lmo_rnn_run(const lmg_graph *g, lmg_node *n, const lmo_rnn *r, lmo_rnn_rows_fn rows);
/* The whole forward (lmo_rnn_begin, then rows over the chunks) and backward
 * (R^T, rows over the chunks, then the parameter gradients) of an op. */
void lmo_rnn_forward(lmg_graph *g, lmg_node *n, lmo_rnn *r, lmo_rnn_rows_fn rows);
void lmo_rnn_backward(lmg_graph *g, lmg_node *n, lmo_rnn *r, lmo_rnn_rows_fn rows);

#endif

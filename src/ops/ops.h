/* Floor 3: op kinds and their builders.
 *
 * Every builder appends one node and returns its id, or -1 with the
 * context's error set. An input id of -1 propagates (returns -1), so chains
 * can be checked once. Float32 ops unless stated. Axes are non-negative and
 * count the batch axis (axis 0). */
#ifndef LM_OPS_H
#define LM_OPS_H

#include "graph/graph.h"

/* x (..., K) . w (K, N) [+ b (N)] -> (..., N). b = -1 for none. */
int lmo_matmul(lmg_graph *g, int x, int w, int b);

enum lmo_binary_kind { LMO_ADD, LMO_SUB, LMO_MUL, LMO_DIV, LMO_MAXIMUM, LMO_MINIMUM };
/* numpy broadcasting (right-aligned, size-1 dims stretch) */
int lmo_binary(lmg_graph *g, int kind, int a, int b);

enum lmo_unary_kind { LMO_EXP, LMO_LOG, LMO_SQRT, LMO_SQUARE, LMO_ABS, LMO_NEG };
int lmo_unary(lmg_graph *g, int kind, int x);
/* clip(x, lo, hi); gradient passes where lo <= x <= hi (tf.clip_by_value) */
int lmo_clip(lmg_graph *g, int x, float lo, float hi);
/* scale * x + shift */
int lmo_affine(lmg_graph *g, int x, float scale, float shift);

enum lmo_act_kind {
  LMO_LINEAR, LMO_RELU, LMO_SIGMOID, LMO_HARD_SIGMOID, LMO_TANH, LMO_SOFTMAX, LMO_ELU,
  LMO_SELU, LMO_SOFTPLUS, LMO_SOFTSIGN, LMO_LEAKY_RELU, LMO_N_ACT
};
/* Keras activations. alpha: elu (default 1), leaky_relu (default 0.3); 0
 * means the default. LMO_SOFTMAX makes a softmax node over the last axis;
 * LMO_LINEAR still makes a node (a copy). */
int lmo_activation(lmg_graph *g, int kind, int x, float alpha);
int lmo_act_parse(const char *name); /* Keras name ("relu", NULL/"linear") -> kind, -1 unknown */
const char *lmo_act_name(int kind);
int lmo_softmax(lmg_graph *g, int x, int axis);

enum lmo_reduce_kind { LMO_SUM, LMO_MEAN, LMO_MAX };
/* Reduce over the axes in the bitmask (bit i = axis i; 0 = all axes). Max
 * splits the gradient evenly between tied maxima (tf.reduce_max). */
int lmo_reduce(lmg_graph *g, int kind, int x, unsigned axes, bool keepdims);

/* Reshape keeping axis 0 (batch): shape lists the other axes, one may be -1.
 * Shape ops move 4-byte elements, so they also carry int32 tensors. */
int lmo_reshape(lmg_graph *g, int x, int ndim, const int64_t *shape);
int lmo_concat(lmg_graph *g, int n, const int *xs, int axis);
int lmo_slice(lmg_graph *g, int x, int axis, int64_t start, int64_t len);
int lmo_transpose(lmg_graph *g, int x, const int *perm);

/* Inverted dropout in training mode, identity otherwise or when rate is 0 or >= 1.
 * The mask comes from the context's RNG (serially, so it depends on the seed only). */
int lmo_dropout(lmg_graph *g, int x, float rate);

/* y[i] = x[i, idx[i]]: x (N, C), idx (N) or (N, 1) class indices (float32
 * or int32). Out-of-range indices are clamped; callers validate labels. */
int lmo_take(lmg_graph *g, int x, int idx);

/* An op written by hand: the callbacks work on the node directly (inputs via
 * lmg_in, value n->val, gradient n->grad, scratch n->ws). The graph keeps a
 * copy of *def; ud must outlive the graph. backward adds (+=) into the
 * inputs' grad where it is not NULL, like every op. */
typedef struct lmo_custom_def {
  const char *name;
  lm_status (*infer)(void *ud, lmg_graph *g, lmg_node *n);
  void (*forward)(void *ud, lmg_graph *g, lmg_node *n);
  void (*backward)(void *ud, lmg_graph *g, lmg_node *n); /* NULL: no gradient */
  size_t (*workspace)(void *ud, const lmg_graph *g, const lmg_node *n);
} lmo_custom_def;
int lmo_custom(lmg_graph *g, int n, const int *xs, const lmo_custom_def *def, void *ud);

/* ---- sequence ops (issue 5: src/ops/embedding.c, lstm.c) ---- */

/* ids (N, ...) int32 or float32, table (V, D) -> (N, ..., D). An id outside
 * [0, V) gives a zero row and sets g->fwd_err (message names the node's
 * layer, the index and its position; g->fwd_err_row the batch row). */
int lmo_embedding(lmg_graph *g, int ids, int table);

/* Recurrent ops: x (N, T, D) -> (N, U) or (N, T, U). b and mask are -1 for
 * none; mask is a node of ids (N, T) whose zeros mark masked steps. */
typedef struct lmo_rnn_args {
  bool return_sequences, go_backwards;
  int activation, recurrent_activation; /* lmo_act_kind; lmo_rnn_act_ok() */
} lmo_rnn_args;
/* More options of lstm, simple_rnn and gru (src/ops/rnn.h): return_state appends
 * the final states as rows of a (N, S + states, U) output; Keras dropout
 * masks in training; initial_state: NULL (zeros) or the node ids of the
 * initial states (N, U), h then c for the lstm (Keras' initial_state=), which
 * become the op's last inputs and get gradients; reset_after: gru only.
 * NULL: none. */
typedef struct lmo_rnn_more {
  bool return_state;
  float dropout, recurrent_dropout;
  const int *initial_state;
  bool reset_after;
} lmo_rnn_more;
int lmo_lstm_ex(lmg_graph *g, int x, int w, int r, int b, int mask, const lmo_rnn_args *a,
                const lmo_rnn_more *more);
int lmo_simple_rnn_ex(lmg_graph *g, int x, int w, int r, int b, int mask,
                      const lmo_rnn_args *a, const lmo_rnn_more *more);
/* Keras LSTM: W (D, 4U), R (U, 4U), b (4U), gates i, f, c, o. */
int lmo_lstm(lmg_graph *g, int x, int w, int r, int b, int mask, const lmo_rnn_args *a);
/* Helpers shared by the recurrent ops. */
bool lmo_rnn_act_ok(int kind);
float lmo_rnn_act(int kind, float x);
float lmo_rnn_act_d(int kind, float y); /* derivative through the output y */
bool lmo_rnn_masked(const lmg_node *ids, int64_t i);
lm_status lmo_rnn_infer(lmg_graph *g, lmg_node *n, int gates, int bias_rows);
/* conv1d: x (N, L, C), w (K, C, F), b (F) or -1; pad 0 valid, 1 same, 2 causal. */
int lmo_conv1d(lmg_graph *g, int x, int w, int b, int stride, int dilation, int pad);
/* Max (avg false) or average pooling over axis 1 of (N, L, C); pad 0 valid, 1 same. */
int lmo_pool1d(lmg_graph *g, int x, bool avg, int pool, int stride, int pad);
/* Output length of a window op; *pad_left receives the left padding. */
int64_t lmo_seq_out_len(int64_t L, int K, int stride, int dil, int pad, int64_t *pad_left);
/* Keras SimpleRNN: W (D, U), R (U, U), b (U); h = activation(x W + h R + b). */
int lmo_simple_rnn(lmg_graph *g, int x, int w, int r, int b, int mask, const lmo_rnn_args *a);
extern const lm_op lmo_op_embedding, lmo_op_lstm, lmo_op_conv1d, lmo_op_pool1d, lmo_op_simple_rnn;
/* [issue 5: gru.c] Keras GRU: W (D, 3U), R (U, 3U), gates z, r, h; b (3U), or
 * with reset_after (tf.keras, = PyTorch) b (2, 3U): input and recurrent rows. */
int lmo_gru(lmg_graph *g, int x, int w, int r, int b, int mask, const lmo_rnn_args *a,
            bool reset_after);
/* gru with return_state (one state row), dropout masks (three per kind, one
 * per gate: Keras 2.2.4 implementation=1), initial_state and more->reset_after. */
int lmo_gru_ex(lmg_graph *g, int x, int w, int r, int b, int mask, const lmo_rnn_args *a,
               const lmo_rnn_more *more);
/* [issue 5: time_axis.c] reverse axis 1; (N, T, ...) <-> (N*T, ...), unfold
 * takes the folded y and the original x (for N and T, no gradient). */
int lmo_reverse_time(lmg_graph *g, int x);
int lmo_fold_time(lmg_graph *g, int x);
int lmo_unfold_time(lmg_graph *g, int y, int x);
extern const lm_op lmo_op_gru, lmo_op_reverse_time, lmo_op_fold_time, lmo_op_unfold_time;

/* The op vtables (for the registry and tests). */
extern const lm_op lmo_op_matmul, lmo_op_binary, lmo_op_unary, lmo_op_clip, lmo_op_affine,
    lmo_op_activation, lmo_op_softmax, lmo_op_reduce, lmo_op_reshape, lmo_op_concat,
    lmo_op_slice, lmo_op_transpose, lmo_op_dropout, lmo_op_take, lmo_op_custom;

/* ---- internal to the op files ---- */

/* OpenMP loop over independent items, taken only when the work is large.
 * Every parallel loop in src/ops writes disjoint outputs or sums fixed
 * chunks in a fixed order, so results do not depend on the thread count. */
#define LMO_PAR_MIN 32768
#define LMO_PRAGMA(x) _Pragma(#x)
#ifdef _OPENMP
#define LMO_PAR_FOR(nt, cond) \
  LMO_PRAGMA(omp parallel for schedule(static) num_threads(nt) if (cond))
#else
#define LMO_PAR_FOR(nt, cond)
#endif

/* for (int64_t i = 0; i < count; i++) { body; }, in parallel when large.
 * Small loops never enter the OpenMP runtime: an `if(false)` parallel region
 * still costs a team start (futex, malloc) per call. */
#define LMO_MAP(nt, count, ...)                            \
  do {                                                     \
    int64_t lmo_count_ = (count);                          \
    if ((nt) > 1 && lmo_count_ > LMO_PAR_MIN) {            \
      LMO_PAR_FOR(nt, 1)                                   \
      for (int64_t i = 0; i < lmo_count_; i++) {           \
        __VA_ARGS__;                                       \
      }                                                    \
    } else {                                               \
      for (int64_t i = 0; i < lmo_count_; i++) {           \
        __VA_ARGS__;                                       \
      }                                                    \
    }                                                      \
  } while (0)

/* Fails with "<op> expects float32 inputs ..." unless every input of n is float32. */
lm_status lmo_check_f32(lmg_graph *g, const lmg_node *n);

/* Shared helper: numpy broadcast of two shapes into out; error names both. */
lm_status lmo_broadcast_shape(lm_ctx *ctx, int na, const int64_t *a, int nb, const int64_t *b,
                              int *nout, int64_t *out);

#endif

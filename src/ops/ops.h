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

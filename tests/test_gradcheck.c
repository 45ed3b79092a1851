/* Gradient check for every op kind (and every layer's emitted subgraph).
 *
 * One table, one entry per op kind and sub-kind. Each entry builds a tiny
 * graph on leaves (inputs with a symbolic batch and/or trainable params),
 * takes L = sum(r * y) for a fixed random r, and compares the analytic
 * gradient of every leaf (lmg_backward) with central finite differences of L
 * accumulated in double. Inputs stay away from kinks (relu, abs, clip, max)
 * by more than the step. The RNG of the context is reseeded before every
 * forward, so dropout sees the same mask in each evaluation and is checked in
 * training mode.
 *
 * A separate test fails when an op in lmo_registry[] (or a sub-kind of
 * binary/unary/activation/reduce) has no entry here.
 *
 * Adding a layer: write a builder `int build(lmg_graph *g, const int *in,
 * const gc_case *c)` that emits the layer's ops on in[] (it may add its own
 * lmg_param weights; every trainable param in the graph is checked) and add
 * an entry in the "layer subgraphs" part of the table, with covers = NULL. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/core.h"
#include "graph/graph.h"
#include "layers/layer.h"
#include "train/train.h"
#include "ops/ops.h"
#include "ops/conv_ops.h"
#include "ops/rnn.h"
#include "ops/spatial.h"
#include "testutil.h"

#define GC_EPS 1e-3  /* finite-difference step */
#define GC_RTOL 1e-2 /* relative tolerance */
#define GC_ATOL 1e-3 /* absolute floor */
#define GC_KINK 2e-2 /* distance kept from kinks */
#define GC_SEED 777u /* the context's RNG before each forward */

enum { GC_MAX_IN = 4 };

enum gc_dist {
  GC_UNIFORM,  /* uniform in [lo, hi], away from the case's kinks */
  GC_DISTINCT, /* a shuffled even grid over [lo, hi]: no ties (max) */
  GC_GRID,     /* multiples of 0.1 plus 0.05 * leaf index: leaves never tie (maximum) */
  GC_INDEX     /* class indices in [0, hi) (take); float32 or int32 */
};

typedef struct gc_leaf {
  int ndim;
  int64_t shape[LM_MAX_DIMS];
  bool param;     /* a trainable PARAM; otherwise an INPUT with want_grad */
  lm_dtype dtype; /* LM_FLOAT32 unless an index */
  int dist;
  float lo, hi;
  bool no_grad; /* not differentiated (indices) */
} gc_leaf;

typedef struct gc_case gc_case;
/* Emit the ops on the leaves in[]; return the output node (or -1). */
typedef int (*gc_build_fn)(lmg_graph *g, const int *in, const gc_case *c);

struct gc_case {
  const char *name;
  const char *covers; /* the registry op this entry exercises; NULL for a layer */
  gc_build_fn build;
  int kind; /* sub-kind for binary/unary/activation/reduce */
  int iarg[LM_MAX_DIMS];
  float farg[2];
  int n_in;
  gc_leaf in[GC_MAX_IN];
  float kinks[2];
  int n_kinks;
  bool training; /* g->training (dropout) */
  bool concrete; /* inputs keep their concrete batch while building */
};

/* ---- builders ---- */

static int b_matmul(lmg_graph *g, const int *in, const gc_case *c) {
  return lmo_matmul(g, in[0], in[1], c->n_in > 2 ? in[2] : -1);
}
static int b_binary(lmg_graph *g, const int *in, const gc_case *c) {
  return lmo_binary(g, c->kind, in[0], in[c->n_in > 1 ? 1 : 0]);
}
static int b_unary(lmg_graph *g, const int *in, const gc_case *c) {
  return lmo_unary(g, c->kind, in[0]);
}
static int b_clip(lmg_graph *g, const int *in, const gc_case *c) {
  return lmo_clip(g, in[0], c->farg[0], c->farg[1]);
}
static int b_affine(lmg_graph *g, const int *in, const gc_case *c) {
  return lmo_affine(g, in[0], c->farg[0], c->farg[1]);
}
static int b_act(lmg_graph *g, const int *in, const gc_case *c) {
  return lmo_activation(g, c->kind, in[0], c->farg[0]);
}
static int b_softmax(lmg_graph *g, const int *in, const gc_case *c) {
  return lmo_softmax(g, in[0], c->iarg[0]);
}
static int b_reduce(lmg_graph *g, const int *in, const gc_case *c) {
  return lmo_reduce(g, c->kind, in[0], (unsigned)c->iarg[0], c->iarg[1] != 0);
}
static int b_reshape(lmg_graph *g, const int *in, const gc_case *c) {
  int64_t s[LM_MAX_DIMS];
  for (int i = 0; i < c->iarg[0]; i++) s[i] = c->iarg[i + 1];
  return lmo_reshape(g, in[0], c->iarg[0], s);
}
static int b_concat(lmg_graph *g, const int *in, const gc_case *c) {
  return lmo_concat(g, c->n_in, in, c->iarg[0]);
}
static int b_slice(lmg_graph *g, const int *in, const gc_case *c) {
  return lmo_slice(g, in[0], c->iarg[0], c->iarg[1], c->iarg[2]);
}
static int b_transpose(lmg_graph *g, const int *in, const gc_case *c) {
  return lmo_transpose(g, in[0], c->iarg);
}
static int b_dropout(lmg_graph *g, const int *in, const gc_case *c) {
  return lmo_dropout(g, in[0], c->farg[0]);
}
static int b_take(lmg_graph *g, const int *in, const gc_case *c) {
  return lmo_take(g, in[0], in[1]);
}

/* custom: y = a^3 + a * b, with a^2 kept in the workspace for backward. */
static lm_status cube_infer(void *ud, lmg_graph *g, lmg_node *n) {
  (void)ud;
  const lmg_node *a = lmg_in(g, n, 0), *b = lmg_in(g, n, 1);
  if (a->ndim != b->ndim) return lm_fail(g->ctx, LM_ERR_SHAPE, "cube: ranks differ");
  n->dtype = LM_FLOAT32;
  n->ndim = a->ndim;
  memcpy(n->shape, a->shape, sizeof n->shape);
  return LM_OK;
}
static size_t cube_workspace(void *ud, const lmg_graph *g, const lmg_node *n) {
  (void)ud;
  (void)g;
  return (size_t)n->size * sizeof(float);
}
static void cube_forward(void *ud, lmg_graph *g, lmg_node *n) {
  (void)ud;
  const float *a = lmg_in(g, n, 0)->val, *b = lmg_in(g, n, 1)->val;
  float *sq = n->ws;
  for (int64_t i = 0; i < n->size; i++) {
    sq[i] = a[i] * a[i];
    n->val[i] = sq[i] * a[i] + a[i] * b[i];
  }
}
static void cube_backward(void *ud, lmg_graph *g, lmg_node *n) {
  (void)ud;
  lmg_node *a = lmg_in(g, n, 0), *b = lmg_in(g, n, 1);
  const float *sq = n->ws, *dy = n->grad;
  for (int64_t i = 0; i < n->size; i++) {
    if (a->grad) a->grad[i] += dy[i] * (3.0f * sq[i] + b->val[i]);
    if (b->grad) b->grad[i] += dy[i] * a->val[i];
  }
}
static const lmo_custom_def cube_def = {"cube", cube_infer, cube_forward, cube_backward,
                                        cube_workspace};
static int b_custom(lmg_graph *g, const int *in, const gc_case *c) {
  return lmo_custom(g, 2, in, &cube_def, NULL);
}

/* ---- layer subgraphs: Activation, Flatten, Reshape, Dropout and the merges
 * (src/layers/core_layers.c, merge.c). b_layer makes the layer named by
 * .kind on the graph's context (which owns it) and runs its emit. */
enum { GL_SOFTMAX, GL_ELU, GL_FLATTEN, GL_RESHAPE, GL_DROPOUT, GL_ADD, GL_SUBTRACT,
       GL_MULTIPLY, GL_AVERAGE, GL_MAXIMUM, GL_CONCATENATE };
static int b_layer(lmg_graph *g, const int *in, const gc_case *c) {
  static const int64_t target[] = {4, -1};
  lm_ctx *ctx = g->ctx;
  lm_layer *l = c->kind == GL_SOFTMAX    ? lm_layer_activation(ctx, "softmax", NULL)
                : c->kind == GL_ELU      ? lm_layer_activation(ctx, "elu", NULL)
                : c->kind == GL_FLATTEN  ? lm_layer_flatten(ctx, NULL)
                : c->kind == GL_RESHAPE  ? lm_layer_reshape(ctx, 2, target, NULL)
                : c->kind == GL_DROPOUT  ? lm_layer_dropout(ctx, 0.4f, NULL)
                : c->kind == GL_ADD      ? lm_layer_add(ctx, NULL)
                : c->kind == GL_SUBTRACT ? lm_layer_subtract(ctx, NULL)
                : c->kind == GL_MULTIPLY ? lm_layer_multiply(ctx, NULL)
                : c->kind == GL_AVERAGE  ? lm_layer_average(ctx, NULL)
                : c->kind == GL_MAXIMUM  ? lm_layer_maximum(ctx, NULL)
                                         : lm_layer_concatenate(ctx, c->iarg[0], NULL);
  int out = -1;
  if (!l || l->cls->emit(l, g, c->n_in, in, &out) != LM_OK) return -1;
  return out;
}

/* Dense: a layer built on a symbolic input of the leaf's shape; the kernel
 * and bias become PARAM nodes the harness checks. kind: 0 linear + bias,
 * 1 relu + bias, 2 tanh without bias. */
static int b_dense(lmg_graph *g, const int *in, const gc_case *c) {
  lm_ctx *ctx = g->ctx;
  const lmg_node *x = lmg_at(g, in[0]);
  static const char *const acts[] = {"linear", "relu", "tanh"};
  lm_dense_opts o = {.activation = acts[c->kind], .no_bias = c->kind == 2,
                     .bias_initializer = "uniform"};
  lm_layer *l = lm_layer_dense(ctx, 3, &o);
  lm_sym *s = lm_input(ctx, x->ndim - 1, x->shape + 1, LM_FLOAT32, NULL);
  int out = -1;
  if (!lm_layer_call(l, s) || l->cls->emit(l, g, 1, in, &out) != LM_OK) return -1;
  return out;
}

/* Keras losses (src/train/losses.c): in[0] = y_pred, in[1] = y_true. */
static int b_loss(lmg_graph *g, const int *in, const gc_case *c) {
  return lmt_loss_build(g, c->kind, in[1], in[0]);
}

/* ---- sequence ops and layers [issue 5] (src/ops/embedding.c, lstm.c,
 * src/layers/embedding.c, lstm.c). b_lstm kind: 0 last output, hard_sigmoid;
 * 1 return_sequences + go_backwards, sigmoid; 2 masked by in[4] (ids, 0 =
 * masked), return_sequences, no bias (in[3] unused). */
static int b_embedding(lmg_graph *g, const int *in, const gc_case *c) {
  (void)c;
  return lmo_embedding(g, in[0], in[1]);
}
static int b_lstm(lmg_graph *g, const int *in, const gc_case *c) {
  lmo_rnn_args a = {c->kind != 0, c->kind == 1, LMO_TANH,
                    c->kind == 1 ? LMO_SIGMOID : LMO_HARD_SIGMOID};
  return lmo_lstm(g, in[0], in[1], in[2], c->kind == 2 ? -1 : in[3], c->kind == 2 ? in[3] : -1,
                  &a);
}
/* Layers on symbolic inputs of the leaves' shapes. kind 0: Embedding(6, 3);
 * 1: LSTM(3); 2: LSTM(2, return_sequences, go_backwards, sigmoid);
 * 3: Embedding(4, 3, mask_zero) -> LSTM(2, return_sequences). */
static int b_seq_layer(lmg_graph *g, const int *in, const gc_case *c) {
  lm_ctx *ctx = g->ctx;
  const lmg_node *x = lmg_at(g, in[0]);
  lm_sym *s = lm_input(ctx, x->ndim - 1, x->shape + 1, x->dtype, NULL);
  lm_layer *l1 = NULL, *l2 = NULL;
  if (c->kind == 0) l1 = lm_layer_embedding(ctx, 6, 3, NULL);
  if (c->kind == 1) l1 = lm_layer_lstm(ctx, 3, NULL);
  if (c->kind == 2) {
    lm_rnn_opts o = {.return_sequences = true, .go_backwards = true,
                     .recurrent_activation = "sigmoid"};
    l1 = lm_layer_lstm(ctx, 2, &o);
  }
  if (c->kind == 3) {
    lm_embedding_opts eo = {.mask_zero = true};
    lm_rnn_opts o = {.return_sequences = true};
    l1 = lm_layer_embedding(ctx, 4, 3, &eo);
    l2 = lm_layer_lstm(ctx, 2, &o);
  }
  lm_sym *s1 = lm_layer_call(l1, s);
  int out = -1;
  if (!s1 || l1->cls->emit(l1, g, 1, in, &out) != LM_OK) return -1;
  if (l2) {
    int mid = out;
    if (!lm_layer_call(l2, s1) || l2->cls->emit(l2, g, 1, &mid, &out) != LM_OK) return -1;
  }
  return out;
}

/* Recurrent ops with lmo_rnn_more (return_state, dropout masks fixed by the
 * reseeded RNG). kind 0: lstm last output + states, dropout farg[0],
 * recurrent_dropout farg[1]; 1: lstm sequences + states, go_backwards,
 * masked by in[3], no bias; 2: simple_rnn sequences + state with dropout. */
static int b_rnn_more(lmg_graph *g, const int *in, const gc_case *c) {
  lmo_rnn_more more = {.return_state = true, .dropout = c->farg[0], .recurrent_dropout = c->farg[1]};
  if (c->kind == 2) {
    lmo_rnn_args a = {true, false, LMO_TANH, LMO_TANH};
    return lmo_simple_rnn_ex(g, in[0], in[1], in[2], in[3], -1, &a, &more);
  }
  lmo_rnn_args a = {c->kind == 1, c->kind == 1, LMO_TANH, LMO_SIGMOID};
  return lmo_lstm_ex(g, in[0], in[1], in[2], c->kind == 1 ? -1 : in[3],
                     c->kind == 1 ? in[3] : -1, &a, &more);
}
static int b_rnn_seq(lmg_graph *g, const int *in, const gc_case *c) {
  return lmo_rnn_seq(g, in[0], c->iarg[0]);
}
/* LSTM(2, return_state, dropout farg[0], recurrent_dropout farg[1]) layer,
 * return_sequences when kind 1: its three outputs flattened and
 * concatenated. */
static int b_lstm_state_layer(lmg_graph *g, const int *in, const gc_case *c) {
  lm_ctx *ctx = g->ctx;
  const lmg_node *x = lmg_at(g, in[0]);
  lm_sym *s = lm_input(ctx, x->ndim - 1, x->shape + 1, x->dtype, NULL);
  lm_rnn_opts o = {.return_sequences = c->kind == 1, .return_state = true,
                   .recurrent_activation = "sigmoid", .dropout = c->farg[0],
                   .recurrent_dropout = c->farg[1]};
  lm_layer *l = lm_layer_lstm(ctx, 2, &o);
  lm_sym *ys[3];
  int outs[LML_MAX_OUTPUTS];
  if (lm_layer_call_multi(l, 1, &s, 3, ys) != 3 || l->cls->emit(l, g, 1, in, outs) != LM_OK)
    return -1;
  int64_t flat[1] = {-1};
  int parts[3] = {lmo_reshape(g, outs[0], 1, flat), outs[1], outs[2]};
  return lmo_concat(g, 3, parts, 1);
}

/* Keras' initial_state [rnn work]: the recurrent layers called on (x, states...), every
 * output flattened and concatenated; in[1..] are the initial states (batch, units).
 * kind 0: LSTM(2, return_state, sigmoid)(x, [h0, c0]); 1: GRU(2, return_sequences,
 * return_state, reset_after=False, dropout farg[0], recurrent_dropout farg[1])(x, [h0]);
 * 2: SimpleRNN(2, go_backwards, return_state)(x, [h0]); 3: Bidirectional(GRU(2,
 * return_state, dropout farg[0], recurrent_dropout farg[1]))(x, [h_fw, h_bw]). */
static int b_rnn_init_layer(lmg_graph *g, const int *in, const gc_case *c) {
  lm_ctx *ctx = g->ctx;
  lm_sym *s[GC_MAX_IN];
  for (int i = 0; i < c->n_in; i++) {
    const lmg_node *x = lmg_at(g, in[i]);
    s[i] = lm_input(ctx, x->ndim - 1, x->shape + 1, x->dtype, NULL);
  }
  lm_rnn_opts o = {.return_state = true, .recurrent_activation = "sigmoid"};
  lm_layer *l = NULL;
  switch (c->kind) {
  case 0: l = lm_layer_lstm(ctx, 2, &o); break;
  case 1:
    o.return_sequences = true, o.no_reset_after = true;
    o.dropout = c->farg[0], o.recurrent_dropout = c->farg[1];
    l = lm_layer_gru(ctx, 2, &o);
    break;
  case 2: o.go_backwards = true, l = lm_layer_simple_rnn(ctx, 2, &o); break;
  default:
    o.dropout = c->farg[0], o.recurrent_dropout = c->farg[1];
    l = lm_layer_bidirectional(ctx, lm_layer_gru(ctx, 2, &o), NULL, NULL);
  }
  lm_sym *ys[LML_MAX_OUTPUTS];
  int outs[LML_MAX_OUTPUTS], parts[LML_MAX_OUTPUTS];
  int n = lm_layer_call_multi(l, c->n_in, s, LML_MAX_OUTPUTS, ys);
  if (n < 0 || l->cls->emit(l, g, c->n_in, in, outs) != LM_OK) return -1;
  int64_t flat[1] = {-1};
  for (int k = 0; k < n; k++) parts[k] = lmo_reshape(g, outs[k], 1, flat);
  return lmo_concat(g, n, parts, 1);
}
/* gru with lmo_rnn_more: kind 0 return_state, dropout farg[0] and recurrent_dropout
 * farg[1], reset_after, sequences; 1 the same with reset_after=False, last output, go_backwards;
 * 2 initial state in[3] (no bias), return_state, reset_after, masked by nothing. */
static int b_gru_more(lmg_graph *g, const int *in, const gc_case *c) {
  lmo_rnn_args a = {c->kind != 1, c->kind == 1, LMO_TANH, LMO_SIGMOID};
  lmo_rnn_more more = {.return_state = true, .dropout = c->farg[0],
                       .recurrent_dropout = c->farg[1], .reset_after = c->kind != 1};
  if (c->kind == 2) {
    more.initial_state = &in[3];
    return lmo_gru_ex(g, in[0], in[1], in[2], -1, -1, &a, &more);
  }
  return lmo_gru_ex(g, in[0], in[1], in[2], in[3], -1, &a, &more);
}
/* simple_rnn from the initial state in[3], no bias: kind 0 sequences with return_state
 * and dropout masks; 1 last output, go_backwards. (The lstm's h0 and c0 are checked by
 * the layer entry above.) */
static int b_srnn_init(lmg_graph *g, const int *in, const gc_case *c) {
  lmo_rnn_args a = {c->kind == 0, c->kind == 1, LMO_TANH, LMO_TANH};
  lmo_rnn_more more = {.return_state = c->kind == 0, .dropout = c->farg[0],
                       .recurrent_dropout = c->farg[1], .initial_state = &in[3]};
  return lmo_simple_rnn_ex(g, in[0], in[1], in[2], -1, -1, &a, &more);
}

/* ---- depthwise, pointwise, pad2d, upsample2d, relu_ex and their layers
 * [issue 4: src/ops/depthwise.c, spatial.c; src/layers/depthwise.c,
 * spatial.c, relu.c]. iarg for depthwise: strides, dilations, same. ---- */
static int b_depthwise(lmg_graph *g, const int *in, const gc_case *c) {
  return lmo_depthwise(g, in[0], in[1], c->n_in > 2 ? in[2] : -1, c->iarg[0], c->iarg[1],
                       c->iarg[2], c->iarg[3], c->iarg[4] != 0);
}
static int b_pointwise(lmg_graph *g, const int *in, const gc_case *c) {
  return lmo_pointwise(g, in[0], in[1], c->n_in > 2 ? in[2] : -1);
}
static int b_conv2d_transpose(lmg_graph *g, const int *in, const gc_case *c) {
  return lmo_conv2d_transpose(g, in[0], in[1], c->n_in > 2 ? in[2] : -1, c->iarg[0], c->iarg[1],
                              c->iarg[2], c->iarg[3], c->iarg[4] != 0);
}
static int b_pad2d(lmg_graph *g, const int *in, const gc_case *c) {
  return lmo_pad2d(g, in[0], c->iarg[0], c->iarg[1], c->iarg[2], c->iarg[3]);
}
static int b_upsample2d(lmg_graph *g, const int *in, const gc_case *c) {
  return lmo_upsample2d(g, in[0], c->iarg[0], c->iarg[1]);
}
static int b_relu_ex(lmg_graph *g, const int *in, const gc_case *c) {
  return lmo_relu_ex(g, in[0], c->iarg[0] != 0, c->farg[0], c->farg[1], c->iarg[1] * 0.1f);
}
enum { GS_DEPTHWISE, GS_SEPARABLE, GS_ZERO_PAD, GS_CROP, GS_UPSAMPLE, GS_LEAKY, GS_RELU,
       GS_SOFTMAX, GS_TRANSPOSE };
static int b_spatial_layer(lmg_graph *g, const int *in, const gc_case *c) {
  lm_ctx *ctx = g->ctx;
  const lmg_node *x = lmg_at(g, in[0]);
  lm_separable_opts so = {.strides = {c->iarg[0], c->iarg[1]},
                          .padding = c->iarg[2] ? "same" : "valid",
                          .depth_multiplier = c->iarg[3],
                          .activation = "tanh",
                          .bias_initializer = "uniform"};
  lm_relu_opts ro = {.has_max_value = true, .max_value = 0.8f, .negative_slope = 0.2f,
                     .threshold = 0.1f};
  lm_layer *l = c->kind == GS_DEPTHWISE   ? lm_layer_depthwise_conv2d(ctx, 3, 2, &so)
                : c->kind == GS_SEPARABLE ? lm_layer_separable_conv2d(ctx, 3, 2, 3, &so)
                : c->kind == GS_ZERO_PAD  ? lm_layer_zero_padding2d(ctx, 1, 2, 2, 0, NULL)
                : c->kind == GS_CROP      ? lm_layer_cropping2d(ctx, 1, 0, 1, 2, NULL)
                : c->kind == GS_UPSAMPLE  ? lm_layer_upsampling2d(ctx, 2, 3, NULL)
                : c->kind == GS_LEAKY     ? lm_layer_leaky_relu(ctx, 0.3f, NULL)
                : c->kind == GS_RELU      ? lm_layer_relu(ctx, &ro)
                : c->kind == GS_TRANSPOSE
                    ? lm_layer_conv2d_transpose(ctx, 2, 3, 2,
                                                &(lm_conv2d_transpose_opts){
                                                    .strides = {c->iarg[0], c->iarg[1]},
                                                    .padding = c->iarg[2] ? "same" : "valid",
                                                    .activation = "tanh",
                                                    .bias_initializer = "uniform"})
                                          : lm_layer_softmax(ctx, 1, NULL);
  lm_sym *s = lm_input(ctx, x->ndim - 1, x->shape + 1, LM_FLOAT32, NULL);
  int out = -1;
  if (!lm_layer_call(l, s) || l->cls->emit(l, g, 1, in, &out) != LM_OK) return -1;
  return out;
}

/* ---- convolution, pooling, batch normalisation [issue 4] (src/ops/conv2d.c,
 * pool.c, batchnorm.c; src/layers/conv2d.c, pooling.c, batchnorm.c).
 * b_conv2d iarg: sh, sw, dh, dw, same. b_pool2d kind: LMO_POOL_*, iarg: ph,
 * pw, sh, sw, same. b_bn: moving statistics are constants (mean 0.1, var
 * 1.5); kind bit 0 drops gamma (in[1]), bit 1 drops beta (in[2]); iarg[0]
 * is the axis. b_conv_layer builds the layer named by kind on a symbolic
 * input of the leaf's shape. */
static int b_conv2d(lmg_graph *g, const int *in, const gc_case *c) { /* kind 1: relu fused */
  return lmo_conv2d_relu(g, in[0], in[1], c->n_in > 2 ? in[2] : -1, c->iarg[0], c->iarg[1],
                         c->iarg[2], c->iarg[3], c->iarg[4] != 0, c->kind == 1);
}
static int b_pool2d(lmg_graph *g, const int *in, const gc_case *c) {
  return lmo_pool2d(g, c->kind, in[0], c->iarg[0], c->iarg[1], c->iarg[2], c->iarg[3],
                    c->iarg[4] != 0);
}
static int b_global_pool(lmg_graph *g, const int *in, const gc_case *c) {
  return lmo_global_pool(g, c->kind, in[0]);
}
static int b_bn(lmg_graph *g, const int *in, const gc_case *c) {
  const lmg_node *x = lmg_at(g, in[0]);
  int64_t ch[1] = {x->shape[c->iarg[0]]};
  lm_tensor *mt = lmt_new(g->ctx, LM_FLOAT32, 1, ch), *vt = lmt_new(g->ctx, LM_FLOAT32, 1, ch);
  if (!mt || !vt) {
    lmt_free(mt);
    lmt_free(vt);
    return -1;
  }
  for (int64_t i = 0; i < ch[0]; i++) {
    ((float *)mt->data)[i] = 0.1f;
    ((float *)vt->data)[i] = 1.5f;
  }
  int mean = lmg_const(g, mt), var = lmg_const(g, vt);
  return lmo_batchnorm(g, in[0], mean, var, c->kind & 1 ? -1 : in[1], c->kind & 2 ? -1 : in[2],
                       c->iarg[0], 0.99f, 1e-3f);
}
enum { GC_CONV2D, GC_CONV2D_1X1, GC_MAXPOOL, GC_AVGPOOL, GC_GAP, GC_GMP, GC_BN };
static int b_conv_layer(lmg_graph *g, const int *in, const gc_case *c) {
  lm_ctx *ctx = g->ctx;
  const lmg_node *x = lmg_at(g, in[0]);
  lm_conv2d_opts co = {.strides = {2, 2}, .padding = "same", .activation = "tanh",
                       .bias_initializer = "uniform"};
  lm_conv2d_opts c1 = {.no_bias = true};
  lm_pool2d_opts po = {.strides = {2, 2}, .padding = "same"};
  lm_batchnorm_opts bo = {.gamma_initializer = "uniform", .beta_initializer = "uniform"};
  lm_layer *l = c->kind == GC_CONV2D       ? lm_layer_conv2d(ctx, 3, 3, 2, &co)
                : c->kind == GC_CONV2D_1X1 ? lm_layer_conv2d(ctx, 2, 1, 1, &c1)
                : c->kind == GC_MAXPOOL    ? lm_layer_max_pooling2d(ctx, 0, 0, NULL)
                : c->kind == GC_AVGPOOL    ? lm_layer_average_pooling2d(ctx, 3, 3, &po)
                : c->kind == GC_GAP        ? lm_layer_global_average_pooling2d(ctx, NULL)
                : c->kind == GC_GMP        ? lm_layer_global_max_pooling2d(ctx, NULL)
                                           : lm_layer_batch_normalization(ctx, &bo);
  lm_sym *s = lm_input(ctx, x->ndim - 1, x->shape + 1, LM_FLOAT32, NULL);
  int out = -1;
  if (!lm_layer_call(l, s) || l->cls->emit(l, g, 1, in, &out) != LM_OK) return -1;
  return out;
}

/* simple_rnn kind: 0 last output, tanh, bias; 1 sequences, go_backwards,
 * masked by in[3], sigmoid, no bias. */
static int b_simple_rnn(lmg_graph *g, const int *in, const gc_case *c) {
  lmo_rnn_args a = {c->kind == 1, c->kind == 1, c->kind == 1 ? LMO_SIGMOID : LMO_TANH, 0};
  return lmo_simple_rnn(g, in[0], in[1], in[2], c->kind == 1 ? -1 : in[3],
                        c->kind == 1 ? in[3] : -1, &a);
}
static int b_simple_rnn_layer(lmg_graph *g, const int *in, const gc_case *c) {
  (void)c;
  lm_ctx *ctx = g->ctx;
  const lmg_node *x = lmg_at(g, in[0]);
  lm_sym *s = lm_input(ctx, x->ndim - 1, x->shape + 1, x->dtype, NULL);
  lm_layer *l = lm_layer_simple_rnn(ctx, 3, &(lm_rnn_opts){.return_sequences = true});
  int out = -1;
  if (!lm_layer_call(l, s) || l->cls->emit(l, g, 1, in, &out) != LM_OK) return -1;
  return out;
}

/* [issue 5: src/ops/gru.c, time_axis.c, src/layers/gru.c, wrappers.c]
 * gru kind: 0 last output, hard_sigmoid, reset_after, bias (2, 3U); 1
 * sequences, go_backwards, sigmoid, reset_after=False, bias (3U); 2 masked by
 * in[3], sequences, reset_after, no bias; 3 masked, go_backwards, last output,
 * reset_after=False, no bias. */
static int b_gru(lmg_graph *g, const int *in, const gc_case *c) {
  bool masked = c->kind >= 2;
  lmo_rnn_args a = {c->kind == 1 || c->kind == 2, c->kind == 1 || c->kind == 3, LMO_TANH,
                    c->kind == 1 ? LMO_SIGMOID : LMO_HARD_SIGMOID};
  return lmo_gru(g, in[0], in[1], in[2], masked ? -1 : in[3], masked ? in[3] : -1, &a,
                 c->kind == 0 || c->kind == 2);
}
/* time axis kind: 0 reverse_time; 1 fold_time; 2 unfold_time(2 fold_time(x), x). */
static int b_time_axis(lmg_graph *g, const int *in, const gc_case *c) {
  if (c->kind == 0) return lmo_reverse_time(g, in[0]);
  int f = lmo_fold_time(g, in[0]);
  return c->kind == 1 ? f : lmo_unfold_time(g, lmo_affine(g, f, 2.0f, 0.0f), in[0]);
}
/* kind 0 GRU(3); 1 GRU(2, return_sequences, go_backwards, sigmoid,
 * reset_after=False); 2 Embedding(4, 3, mask_zero) -> GRU(2, return_sequences);
 * 3 Bidirectional(LSTM(2, return_sequences)); 4 Bidirectional(GRU(2), sum);
 * 5 Embedding(4, 3, mask_zero) -> Bidirectional(SimpleRNN(2, return_sequences),
 * ave); 6 Bidirectional(LSTM(2), mul); 7 TimeDistributed(Dense(3, tanh));
 * 8 TimeDistributed(Conv1D(2, 2)) on (N, T, L, C). */
static int b_rnn_wrap_layer(lmg_graph *g, const int *in, const gc_case *c) {
  lm_ctx *ctx = g->ctx;
  const lmg_node *x = lmg_at(g, in[0]);
  lm_sym *s = lm_input(ctx, x->ndim - 1, x->shape + 1, x->dtype, NULL);
  lm_layer *l1 = NULL, *l2 = NULL;
  lm_rnn_opts seq = {.return_sequences = true};
  switch (c->kind) {
  case 0: l1 = lm_layer_gru(ctx, 3, NULL); break;
  case 1:
    l1 = lm_layer_gru(ctx, 2, &(lm_rnn_opts){.return_sequences = true, .go_backwards = true,
                                             .recurrent_activation = "sigmoid",
                                             .no_reset_after = true});
    break;
  case 2:
    l1 = lm_layer_embedding(ctx, 4, 3, &(lm_embedding_opts){.mask_zero = true});
    l2 = lm_layer_gru(ctx, 2, &seq);
    break;
  case 3: l1 = lm_layer_bidirectional(ctx, lm_layer_lstm(ctx, 2, &seq), NULL, NULL); break;
  case 4: l1 = lm_layer_bidirectional(ctx, lm_layer_gru(ctx, 2, NULL), "sum", NULL); break;
  case 5:
    l1 = lm_layer_embedding(ctx, 4, 3, &(lm_embedding_opts){.mask_zero = true});
    l2 = lm_layer_bidirectional(ctx, lm_layer_simple_rnn(ctx, 2, &seq), "ave", NULL);
    break;
  case 6: l1 = lm_layer_bidirectional(ctx, lm_layer_lstm(ctx, 2, NULL), "mul", NULL); break;
  case 7:
    l1 = lm_layer_time_distributed(
        ctx, lm_layer_dense(ctx, 3, &(lm_dense_opts){.activation = "tanh"}), NULL);
    break;
  default: l1 = lm_layer_time_distributed(ctx, lm_layer_conv1d(ctx, 2, 2, NULL), NULL);
  }
  lm_sym *s1 = lm_layer_call(l1, s);
  int out = -1;
  if (!s1 || l1->cls->emit(l1, g, 1, in, &out) != LM_OK) return -1;
  if (l2) {
    int mid = out;
    if (!lm_layer_call(l2, s1) || l2->cls->emit(l2, g, 1, &mid, &out) != LM_OK) return -1;
  }
  return out;
}

/* conv1d kind: 0 valid, 1 same + stride 2, 2 causal + dilation 2 (iarg:
 * stride, dilation, pad); bias when a third leaf is given. pool1d kind 0 max,
 * 1 avg (iarg: pool, stride, pad). */
static int b_conv1d(lmg_graph *g, const int *in, const gc_case *c) {
  return lmo_conv1d(g, in[0], in[1], c->n_in > 2 ? in[2] : -1, c->iarg[0], c->iarg[1],
                    c->iarg[2]);
}
static int b_pool1d(lmg_graph *g, const int *in, const gc_case *c) {
  return lmo_pool1d(g, in[0], c->kind == 1, c->iarg[0], c->iarg[1], c->iarg[2]);
}
/* kind 0 Conv1D(2, 3, same, tanh); 1 MaxPooling1D(2); 2 AveragePooling1D(3, 2,
 * same); 3 GlobalMaxPooling1D; 4 GlobalAveragePooling1D. */
static int b_conv1d_layer(lmg_graph *g, const int *in, const gc_case *c) {
  lm_ctx *ctx = g->ctx;
  const lmg_node *x = lmg_at(g, in[0]);
  lm_sym *s = lm_input(ctx, x->ndim - 1, x->shape + 1, x->dtype, NULL);
  lm_layer *l = c->kind == 0   ? lm_layer_conv1d(ctx, 2, 3,
                                                 &(lm_conv1d_opts){.padding = "same",
                                                                   .activation = "tanh",
                                                                   .bias_initializer = "uniform"})
                : c->kind == 1 ? lm_layer_max_pooling1d(ctx, 2, 0, NULL, NULL)
                : c->kind == 2 ? lm_layer_average_pooling1d(ctx, 3, 2, "same", NULL)
                : c->kind == 3 ? lm_layer_global_max_pooling1d(ctx, NULL)
                               : lm_layer_global_average_pooling1d(ctx, NULL);
  int out = -1;
  if (!lm_layer_call(l, s) || l->cls->emit(l, g, 1, in, &out) != LM_OK) return -1;
  return out;
}

/* ---- the table ---- */

#define NDIM(...) ((int)(sizeof((int64_t[]){__VA_ARGS__}) / sizeof(int64_t)))
#define LEAF(par, dist_, lo_, hi_, ...)                                                        \
  {                                                                                            \
    .ndim = NDIM(__VA_ARGS__), .shape = {__VA_ARGS__}, .param = par, .dist = dist_, .lo = lo_, \
    .hi = hi_                                                                                  \
  }
#define IN(lo, hi, ...) LEAF(false, GC_UNIFORM, lo, hi, __VA_ARGS__)
#define PAR(lo, hi, ...) LEAF(true, GC_UNIFORM, lo, hi, __VA_ARGS__)
#define IN_GRID(lo, hi, ...) LEAF(false, GC_GRID, lo, hi, __VA_ARGS__)
#define PAR_GRID(lo, hi, ...) LEAF(true, GC_GRID, lo, hi, __VA_ARGS__)
#define IN_DISTINCT(lo, hi, ...) LEAF(false, GC_DISTINCT, lo, hi, __VA_ARGS__)
#define SCALAR_PAR(lo_, hi_) \
  { .ndim = 0, .param = true, .lo = lo_, .hi = hi_ }
#define INDEX(dt, classes, ...)                                                       \
  {                                                                                   \
    .ndim = NDIM(__VA_ARGS__), .shape = {__VA_ARGS__}, .dtype = dt, .dist = GC_INDEX, \
    .hi = classes, .no_grad = true                                                    \
  }
#define KINK0 .kinks = {0.0f}, .n_kinks = 1

static const gc_case cases[] = {
    /* matmul */
    {"matmul/bias", "matmul", b_matmul, .n_in = 3,
     .in = {IN(-1, 1, 3, 4), PAR(-1, 1, 4, 5), PAR(-1, 1, 5)}},
    {"matmul/rank3 no bias", "matmul", b_matmul, .n_in = 2,
     .in = {IN(-1, 1, 2, 3, 4), PAR(-1, 1, 4, 2)}},

    /* binary: every kind, the broadcast paths (same shape, trailing vector,
     * column, scalar, both sides, broadcast first operand) */
    {"binary/add same shape", "binary", b_binary, .kind = LMO_ADD, .n_in = 2,
     .in = {IN(-1, 1, 3, 4), IN(-1, 1, 3, 4)}},
    {"binary/add bias-like", "binary", b_binary, .kind = LMO_ADD, .n_in = 2,
     .in = {IN(-1, 1, 3, 4), PAR(-1, 1, 4)}},
    {"binary/sub both broadcast", "binary", b_binary, .kind = LMO_SUB, .n_in = 2,
     .in = {IN(-1, 1, 3, 1, 4), PAR(-1, 1, 2, 1)}},
    {"binary/mul column", "binary", b_binary, .kind = LMO_MUL, .n_in = 2,
     .in = {IN(-1, 1, 3, 4), IN(-1, 1, 3, 1)}},
    {"binary/mul scalar", "binary", b_binary, .kind = LMO_MUL, .n_in = 2,
     .in = {IN(-1, 1, 3, 4), SCALAR_PAR(0.5f, 1.5f)}},
    {"binary/mul same input twice", "binary", b_binary, .kind = LMO_MUL, .n_in = 1,
     .in = {IN(-1, 1, 3, 4)}},
    {"binary/div trailing", "binary", b_binary, .kind = LMO_DIV, .n_in = 2,
     .in = {IN(-1, 1, 3, 4), PAR(0.5f, 2, 4)}},
    {"binary/div first broadcast", "binary", b_binary, .kind = LMO_DIV, .n_in = 2,
     .in = {PAR(-1, 1, 1, 4), IN(0.5f, 2, 3, 4)}},
    {"binary/maximum", "binary", b_binary, .kind = LMO_MAXIMUM, .n_in = 2,
     .in = {IN_GRID(-1, 1, 3, 4), PAR_GRID(-1, 1, 4)}},
    {"binary/minimum", "binary", b_binary, .kind = LMO_MINIMUM, .n_in = 2,
     .in = {IN_GRID(-1, 1, 2, 3, 4), IN_GRID(-1, 1, 2, 3, 1)}},

    /* unary, clip, affine */
    {"unary/exp", "unary", b_unary, .kind = LMO_EXP, .n_in = 1, .in = {IN(-1, 1, 3, 4)}},
    {"unary/log", "unary", b_unary, .kind = LMO_LOG, .n_in = 1, .in = {IN(0.5f, 2, 3, 4)}},
    {"unary/sqrt", "unary", b_unary, .kind = LMO_SQRT, .n_in = 1, .in = {IN(0.5f, 2, 3, 4)}},
    {"unary/square", "unary", b_unary, .kind = LMO_SQUARE, .n_in = 1, .in = {IN(-1, 1, 3, 4)}},
    {"unary/abs", "unary", b_unary, .kind = LMO_ABS, .n_in = 1, .in = {IN(-1, 1, 3, 4)}, KINK0},
    {"unary/neg", "unary", b_unary, .kind = LMO_NEG, .n_in = 1, .in = {IN(-1, 1, 3, 4)}},
    {"clip", "clip", b_clip, .farg = {-0.5f, 0.7f}, .n_in = 1, .in = {IN(-1.5f, 1.5f, 3, 4)},
     .kinks = {-0.5f, 0.7f}, .n_kinks = 2},
    {"affine", "affine", b_affine, .farg = {1.5f, -0.3f}, .n_in = 1, .in = {IN(-1, 1, 3, 4)}},

    /* activations (softmax goes to the softmax op) */
    {"activation/linear", "activation", b_act, .kind = LMO_LINEAR, .n_in = 1,
     .in = {IN(-2, 2, 3, 4)}},
    {"activation/relu", "activation", b_act, .kind = LMO_RELU, .n_in = 1, .in = {IN(-2, 2, 3, 4)},
     KINK0},
    {"activation/sigmoid", "activation", b_act, .kind = LMO_SIGMOID, .n_in = 1,
     .in = {IN(-3, 3, 3, 4)}},
    {"activation/hard_sigmoid", "activation", b_act, .kind = LMO_HARD_SIGMOID, .n_in = 1,
     .in = {IN(-4, 4, 3, 4)}, .kinks = {-2.5f, 2.5f}, .n_kinks = 2},
    {"activation/tanh", "activation", b_act, .kind = LMO_TANH, .n_in = 1, .in = {IN(-2, 2, 3, 4)}},
    {"activation/softmax", "softmax", b_act, .kind = LMO_SOFTMAX, .n_in = 1,
     .in = {IN(-2, 2, 3, 4)}},
    {"activation/elu", "activation", b_act, .kind = LMO_ELU, .n_in = 1, .in = {IN(-2, 2, 3, 4)},
     KINK0},
    {"activation/elu alpha 0.5", "activation", b_act, .kind = LMO_ELU, .farg = {0.5f}, .n_in = 1,
     .in = {IN(-2, 2, 3, 4)}, KINK0},
    {"activation/selu", "activation", b_act, .kind = LMO_SELU, .n_in = 1, .in = {IN(-2, 2, 3, 4)},
     KINK0},
    {"activation/softplus", "activation", b_act, .kind = LMO_SOFTPLUS, .n_in = 1,
     .in = {IN(-3, 3, 3, 4)}},
    {"activation/softsign", "activation", b_act, .kind = LMO_SOFTSIGN, .n_in = 1,
     .in = {IN(-2, 2, 3, 4)}, KINK0},
    {"activation/leaky_relu", "activation", b_act, .kind = LMO_LEAKY_RELU, .n_in = 1,
     .in = {IN(-2, 2, 3, 4)}, KINK0},

    /* softmax over a middle and the last axis */
    {"softmax/middle axis", "softmax", b_softmax, .iarg = {1}, .n_in = 1,
     .in = {IN(-2, 2, 2, 3, 4)}},
    {"softmax/last axis", "softmax", b_softmax, .iarg = {2}, .n_in = 1, .in = {IN(-2, 2, 2, 3, 4)}},

    /* reduce: iarg = {axes mask (0 = all), keepdims} */
    {"reduce/sum axis 1", "reduce", b_reduce, .kind = LMO_SUM, .iarg = {2, 0}, .n_in = 1,
     .in = {IN(-1, 1, 2, 3, 4)}},
    {"reduce/sum all keepdims", "reduce", b_reduce, .kind = LMO_SUM, .iarg = {0, 1}, .n_in = 1,
     .in = {IN(-1, 1, 2, 3, 4)}},
    {"reduce/sum axes 0,2", "reduce", b_reduce, .kind = LMO_SUM, .iarg = {5, 0}, .n_in = 1,
     .in = {IN(-1, 1, 2, 3, 4)}},
    {"reduce/sum batch", "reduce", b_reduce, .kind = LMO_SUM, .iarg = {1, 0}, .n_in = 1,
     .in = {IN(-1, 1, 5, 3)}},
    {"reduce/mean axis 2 keepdims", "reduce", b_reduce, .kind = LMO_MEAN, .iarg = {4, 1}, .n_in = 1,
     .in = {IN(-1, 1, 2, 3, 4)}},
    {"reduce/mean all", "reduce", b_reduce, .kind = LMO_MEAN, .iarg = {0, 0}, .n_in = 1,
     .in = {IN(-1, 1, 3, 4)}},
    {"reduce/mean batch keepdims", "reduce", b_reduce, .kind = LMO_MEAN, .iarg = {1, 1}, .n_in = 1,
     .in = {IN(-1, 1, 5, 3)}},
    {"reduce/max axis 1", "reduce", b_reduce, .kind = LMO_MAX, .iarg = {2, 0}, .n_in = 1,
     .in = {IN_DISTINCT(-2, 2, 2, 3, 4)}},
    {"reduce/max all keepdims", "reduce", b_reduce, .kind = LMO_MAX, .iarg = {0, 1}, .n_in = 1,
     .in = {IN_DISTINCT(-2, 2, 3, 4)}},
    {"reduce/max batch keepdims", "reduce", b_reduce, .kind = LMO_MAX, .iarg = {1, 1}, .n_in = 1,
     .in = {IN_DISTINCT(-2, 2, 5, 3)}},

    /* shape ops */
    {"reshape/-1", "reshape", b_reshape, .iarg = {2, -1, 4}, .n_in = 1, .in = {IN(-1, 1, 3, 2, 6)}},
    {"concat/axis 1", "concat", b_concat, .iarg = {1}, .n_in = 2,
     .in = {IN(-1, 1, 3, 2), PAR(-1, 1, 3, 4)}},
    {"concat/axis 2 of three", "concat", b_concat, .iarg = {2}, .n_in = 3,
     .in = {IN(-1, 1, 2, 3, 1), IN(-1, 1, 2, 3, 2), IN(-1, 1, 2, 3, 3)}},
    {"concat/axis 0", "concat", b_concat, .iarg = {0}, .n_in = 2,
     .in = {IN(-1, 1, 2, 3), IN(-1, 1, 1, 3)}, .concrete = true},
    {"slice/axis 1", "slice", b_slice, .iarg = {1, 1, 3}, .n_in = 1, .in = {IN(-1, 1, 3, 5)}},
    {"slice/axis 0", "slice", b_slice, .iarg = {0, 1, 2}, .n_in = 1, .in = {IN(-1, 1, 4, 3, 2)}},
    {"transpose/3d", "transpose", b_transpose, .iarg = {2, 0, 1}, .n_in = 1,
     .in = {IN(-1, 1, 2, 3, 4)}},
    {"transpose/2d", "transpose", b_transpose, .iarg = {1, 0}, .n_in = 1, .in = {IN(-1, 1, 3, 4)}},

    /* dropout: training with a fixed mask (reseeded RNG), and inference */
    {"dropout/training", "dropout", b_dropout, .farg = {0.5f}, .n_in = 1, .in = {IN(-1, 1, 4, 5)},
     .training = true},
    {"dropout/inference", "dropout", b_dropout, .farg = {0.5f}, .n_in = 1, .in = {IN(-1, 1, 4, 5)}},

    /* take */
    {"take/int32 (N)", "take", b_take, .n_in = 2, .in = {IN(-1, 1, 4, 5), INDEX(LM_INT32, 5, 4)}},
    {"take/float32 (N, 1)", "take", b_take, .n_in = 2,
     .in = {PAR(-1, 1, 4, 5), INDEX(LM_FLOAT32, 5, 4, 1)}},

    /* custom */
    {"custom/cube", "custom", b_custom, .n_in = 2, .in = {IN(-1, 1, 3, 4), PAR(-1, 1, 3, 4)}},

    /* ---- layer subgraphs: add entries below (covers = NULL) ----
     * {"layer/dense relu", NULL, build_dense_relu, .n_in = 1, .in = {IN(-1, 1, 3, 4)},
     *  KINK0}, */
    /* dense.c */
    {"layer/dense linear", NULL, b_dense, .kind = 0, .n_in = 1, .in = {IN(-1, 1, 4, 5)}},
    {"layer/dense relu", NULL, b_dense, .kind = 1, .n_in = 1, .in = {IN(-1, 1, 4, 5)}},
    {"layer/dense tanh rank 3, no bias", NULL, b_dense, .kind = 2, .n_in = 1,
     .in = {IN(-1, 1, 2, 3, 4)}},
    /* losses (train/losses.c) */
    {"loss/mse", NULL, b_loss, .kind = LMT_MSE, .n_in = 2, .in = {IN(0, 1, 4, 3), IN(0, 1, 4, 3)}},
    {"loss/mae", NULL, b_loss, .kind = LMT_MAE, .n_in = 2, .in = {IN(0, 1, 4, 3), IN(2, 3, 4, 3)}},
    {"loss/categorical_crossentropy", NULL, b_loss, .kind = LMT_CCE, .n_in = 2,
     .in = {IN(0.05, 0.95, 4, 3), IN(0, 1, 4, 3)}},
    {"loss/sparse_categorical_crossentropy", NULL, b_loss, .kind = LMT_SCCE, .n_in = 2,
     .in = {IN(0.05, 0.95, 4, 3), INDEX(LM_FLOAT32, 3, 4, 1)}},
    {"loss/binary_crossentropy", NULL, b_loss, .kind = LMT_BCE, .n_in = 2,
     .in = {IN(0.05, 0.95, 4, 2), IN(0, 1, 4, 2)}},
    /* core_layers.c, merge.c (b_layer): inputs (batch first) reach the ops
     * with a None batch, as in a model */
    {"layer/activation softmax", NULL, b_layer, .kind = GL_SOFTMAX, .n_in = 1,
     .in = {IN(-2, 2, 3, 4)}},
    {"layer/activation elu", NULL, b_layer, .kind = GL_ELU, .n_in = 1, .in = {IN(-2, 2, 3, 4)},
     KINK0},
    {"layer/flatten", NULL, b_layer, .kind = GL_FLATTEN, .n_in = 1, .in = {IN(-1, 1, 2, 3, 2)}},
    {"layer/reshape (4, -1)", NULL, b_layer, .kind = GL_RESHAPE, .n_in = 1,
     .in = {IN(-1, 1, 2, 2, 6)}},
    {"layer/dropout training", NULL, b_layer, .kind = GL_DROPOUT, .n_in = 1,
     .in = {IN(-1, 1, 4, 5)}, .training = true},
    {"layer/add three", NULL, b_layer, .kind = GL_ADD, .n_in = 3,
     .in = {IN(-1, 1, 2, 3), IN(-1, 1, 2, 3), IN(-1, 1, 2, 3)}},
    {"layer/add broadcast, lower rank", NULL, b_layer, .kind = GL_ADD, .n_in = 3,
     .in = {IN(-1, 1, 2, 3, 4), IN(-1, 1, 2, 4), IN(-1, 1, 2, 3, 1)}},
    {"layer/subtract broadcast", NULL, b_layer, .kind = GL_SUBTRACT, .n_in = 2,
     .in = {IN(-1, 1, 2, 3, 1), IN(-1, 1, 2, 3, 4)}},
    {"layer/multiply three", NULL, b_layer, .kind = GL_MULTIPLY, .n_in = 3,
     .in = {IN(-1, 1, 2, 3), IN(-1, 1, 2, 3), IN(-1, 1, 2, 3)}},
    {"layer/average three", NULL, b_layer, .kind = GL_AVERAGE, .n_in = 3,
     .in = {IN(-1, 1, 2, 3), IN(-1, 1, 2, 3), IN(-1, 1, 2, 3)}},
    {"layer/maximum three", NULL, b_layer, .kind = GL_MAXIMUM, .n_in = 3,
     .in = {IN_GRID(-1, 1, 2, 3), IN_GRID(-1, 1, 2, 3), IN_GRID(-1, 1, 2, 3)}},
    {"layer/concatenate axis -1", NULL, b_layer, .kind = GL_CONCATENATE, .iarg = {-1}, .n_in = 2,
     .in = {IN(-1, 1, 2, 3, 2), IN(-1, 1, 2, 3, 1)}},
    {"layer/concatenate axis 1 of three", NULL, b_layer, .kind = GL_CONCATENATE, .iarg = {1},
     .n_in = 3, .in = {IN(-1, 1, 2, 1, 2), IN(-1, 1, 2, 2, 2), IN(-1, 1, 2, 3, 2)}},
    /* sequence ops and layers [issue 5] */
    {"embedding/int32 ids", "embedding", b_embedding, .n_in = 2,
     .in = {INDEX(LM_INT32, 5, 3, 4), PAR(-1, 1, 5, 3)}},
    {"embedding/float ids", "embedding", b_embedding, .n_in = 2,
     .in = {INDEX(LM_FLOAT32, 4, 2, 3), PAR(-1, 1, 4, 2)}},
    {"lstm/last output, hard_sigmoid", "lstm", b_lstm, .kind = 0, .n_in = 4,
     .in = {IN(-1, 1, 2, 3, 4), PAR(-0.3, 0.3, 4, 12), PAR(-0.3, 0.3, 3, 12),
            PAR(-0.3, 0.3, 12)}},
    {"lstm/sequences, go_backwards, sigmoid", "lstm", b_lstm, .kind = 1, .n_in = 4,
     .in = {IN(-1, 1, 2, 4, 3), PAR(-0.5, 0.5, 3, 8), PAR(-0.5, 0.5, 2, 8),
            PAR(-0.5, 0.5, 8)}},
    {"lstm/masked sequences, no bias", "lstm", b_lstm, .kind = 2, .n_in = 4,
     .in = {IN(-1, 1, 3, 4, 3), PAR(-0.3, 0.3, 3, 8), PAR(-0.3, 0.3, 2, 8),
            INDEX(LM_INT32, 2, 3, 4)}},
    {"layer/embedding", NULL, b_seq_layer, .kind = 0, .n_in = 1, .in = {INDEX(LM_INT32, 6, 2, 5)}},
    {"layer/lstm", NULL, b_seq_layer, .kind = 1, .n_in = 1, .in = {IN(-1, 1, 2, 3, 4)}},
    {"layer/lstm sequences, go_backwards", NULL, b_seq_layer, .kind = 2, .n_in = 1,
     .in = {IN(-1, 1, 2, 4, 3)}},
    {"layer/lstm after embedding(mask_zero)", NULL, b_seq_layer, .kind = 3, .n_in = 1,
     .in = {INDEX(LM_INT32, 4, 3, 5)}},
    {"simple_rnn/last output, tanh", "simple_rnn", b_simple_rnn, .kind = 0, .n_in = 4,
     .in = {IN(-1, 1, 2, 4, 3), PAR(-0.5, 0.5, 3, 3), PAR(-0.5, 0.5, 3, 3), PAR(-0.5, 0.5, 3)}},
    {"simple_rnn/masked sequences, go_backwards", "simple_rnn", b_simple_rnn, .kind = 1,
     .n_in = 4,
     .in = {IN(-1, 1, 3, 4, 2), PAR(-0.5, 0.5, 2, 3), PAR(-0.5, 0.5, 3, 3),
            INDEX(LM_INT32, 2, 3, 4)}},
    {"layer/simple_rnn sequences", NULL, b_simple_rnn_layer, .n_in = 1,
     .in = {IN(-1, 1, 2, 3, 4)}},
    {"gru/last output, hard_sigmoid, reset_after", "gru", b_gru, .kind = 0, .n_in = 4,
     .in = {IN(-1, 1, 2, 3, 4), PAR(-0.5, 0.5, 4, 9), PAR(-0.5, 0.5, 3, 9),
            PAR(-0.5, 0.5, 2, 9)}},
    {"gru/sequences, go_backwards, sigmoid, reset before", "gru", b_gru, .kind = 1, .n_in = 4,
     .in = {IN(-1, 1, 2, 4, 3), PAR(-0.5, 0.5, 3, 6), PAR(-0.5, 0.5, 2, 6), PAR(-0.5, 0.5, 6)}},
    {"gru/masked sequences, reset_after, no bias", "gru", b_gru, .kind = 2, .n_in = 4,
     .in = {IN(-1, 1, 3, 4, 3), PAR(-0.5, 0.5, 3, 6), PAR(-0.5, 0.5, 2, 6),
            INDEX(LM_INT32, 2, 3, 4)}},
    {"gru/masked, go_backwards, last, reset before, no bias", "gru", b_gru, .kind = 3, .n_in = 4,
     .in = {IN(-1, 1, 3, 4, 3), PAR(-0.5, 0.5, 3, 6), PAR(-0.5, 0.5, 2, 6),
            INDEX(LM_INT32, 2, 3, 4)}},
    {"reverse_time", "reverse_time", b_time_axis, .kind = 0, .n_in = 1,
     .in = {IN(-1, 1, 2, 3, 2, 2)}},
    {"fold_time", "fold_time", b_time_axis, .kind = 1, .n_in = 1, .in = {IN(-1, 1, 2, 3, 4)}},
    {"unfold_time of fold_time", "unfold_time", b_time_axis, .kind = 2, .n_in = 1,
     .in = {IN(-1, 1, 2, 3, 2, 2)}},
    {"layer/gru", NULL, b_rnn_wrap_layer, .kind = 0, .n_in = 1, .in = {IN(-1, 1, 2, 3, 4)}},
    {"layer/gru sequences, go_backwards, reset_after=False", NULL, b_rnn_wrap_layer, .kind = 1,
     .n_in = 1, .in = {IN(-1, 1, 2, 4, 3)}},
    {"layer/gru after embedding(mask_zero)", NULL, b_rnn_wrap_layer, .kind = 2, .n_in = 1,
     .in = {INDEX(LM_INT32, 4, 3, 5)}},
    {"layer/bidirectional lstm sequences, concat", NULL, b_rnn_wrap_layer, .kind = 3, .n_in = 1,
     .in = {IN(-1, 1, 2, 4, 3)}},
    {"layer/bidirectional gru, sum", NULL, b_rnn_wrap_layer, .kind = 4, .n_in = 1,
     .in = {IN(-1, 1, 2, 3, 3)}},
    {"layer/bidirectional simple_rnn after embedding(mask_zero), ave", NULL, b_rnn_wrap_layer,
     .kind = 5, .n_in = 1, .in = {INDEX(LM_INT32, 4, 3, 5)}},
    {"layer/bidirectional lstm, mul", NULL, b_rnn_wrap_layer, .kind = 6, .n_in = 1,
     .in = {IN(-1, 1, 2, 3, 2)}},
    {"layer/time_distributed dense", NULL, b_rnn_wrap_layer, .kind = 7, .n_in = 1,
     .in = {IN(-1, 1, 2, 3, 4)}},
    {"layer/time_distributed conv1d", NULL, b_rnn_wrap_layer, .kind = 8, .n_in = 1,
     .in = {IN(-1, 1, 2, 3, 4, 2)}},
    {"lstm/return_state, dropout masks (training)", "lstm", b_rnn_more, .kind = 0,
     .farg = {0.3f, 0.4f}, .n_in = 4, .training = true,
     .in = {IN(-1, 1, 3, 4, 3), PAR(-0.5, 0.5, 3, 8), PAR(-0.5, 0.5, 2, 8),
            PAR(-0.5, 0.5, 8)}},
    {"lstm/return_state, sequences, masked, go_backwards", "lstm", b_rnn_more, .kind = 1,
     .n_in = 4,
     .in = {IN(-1, 1, 3, 4, 3), PAR(-0.5, 0.5, 3, 8), PAR(-0.5, 0.5, 2, 8),
            INDEX(LM_INT32, 2, 3, 4)}},
    {"simple_rnn/return_state, dropout masks (training)", "simple_rnn", b_rnn_more, .kind = 2,
     .farg = {0.5f, 0.5f}, .n_in = 4, .training = true,
     .in = {IN(-1, 1, 3, 4, 2), PAR(-0.5, 0.5, 2, 3), PAR(-0.5, 0.5, 3, 3),
            PAR(-0.5, 0.5, 3)}},
    {"rnn_seq/drop 2 state rows", "rnn_seq", b_rnn_seq, .iarg = {2}, .n_in = 1,
     .in = {IN(-1, 1, 2, 5, 3)}},
    {"layer/lstm return_state, dropout (training)", NULL, b_lstm_state_layer, .kind = 0,
     .farg = {0.25f, 0.25f}, .n_in = 1, .training = true, .in = {IN(-1, 1, 3, 4, 3)}},
    {"layer/lstm return_sequences + return_state", NULL, b_lstm_state_layer, .kind = 1,
     .n_in = 1, .in = {IN(-1, 1, 2, 3, 4)}},
    /* initial_state, GRU return_state and dropout [rnn work] */
    {"layer/lstm(x, initial_state=[h0, c0]), return_state", NULL, b_rnn_init_layer, .kind = 0,
     .n_in = 3, .in = {IN(-1, 1, 2, 3, 4), IN(-1, 1, 2, 2), IN(-1, 1, 2, 2)}},
    {"layer/gru(x, initial_state=[h0]), sequences, reset before, dropout (training)", NULL,
     b_rnn_init_layer, .kind = 1, .farg = {0.3f, 0.4f}, .n_in = 2, .training = true,
     .in = {IN(-1, 1, 3, 4, 3), IN(-1, 1, 3, 2)}},
    {"layer/simple_rnn(x, initial_state=[h0]), go_backwards", NULL, b_rnn_init_layer,
     .kind = 2, .n_in = 2, .in = {IN(-1, 1, 2, 4, 3), IN(-1, 1, 2, 2)}},
    {"layer/bidirectional gru(x, initial_state=[h_fw, h_bw]), return_state, dropout", NULL,
     b_rnn_init_layer, .kind = 3, .farg = {0.25f, 0.25f}, .n_in = 3, .training = true,
     .in = {IN(-1, 1, 3, 3, 2), IN(-1, 1, 3, 2), IN(-1, 1, 3, 2)}},
    {"gru/return_state, dropout masks (training), reset_after", "gru", b_gru_more, .kind = 0,
     .farg = {0.3f, 0.4f}, .n_in = 4, .training = true,
     .in = {IN(-1, 1, 3, 4, 3), PAR(-0.5, 0.5, 3, 6), PAR(-0.5, 0.5, 2, 6),
            PAR(-0.5, 0.5, 2, 6)}},
    {"gru/return_state, dropout masks, reset before, go_backwards", "gru", b_gru_more,
     .kind = 1, .farg = {0.5f, 0.3f}, .n_in = 4, .training = true,
     .in = {IN(-1, 1, 3, 4, 3), PAR(-0.5, 0.5, 3, 6), PAR(-0.5, 0.5, 2, 6),
            PAR(-0.5, 0.5, 6)}},
    {"gru/initial state, return_state, no bias", "gru", b_gru_more, .kind = 2, .n_in = 4,
     .in = {IN(-1, 1, 2, 3, 3), PAR(-0.5, 0.5, 3, 9), PAR(-0.5, 0.5, 3, 9), IN(-1, 1, 2, 3)}},
    {"simple_rnn/initial state, return_state, dropout (training)", "simple_rnn", b_srnn_init,
     .kind = 0, .farg = {0.3f, 0.3f}, .n_in = 4, .training = true,
     .in = {IN(-1, 1, 3, 4, 2), PAR(-0.5, 0.5, 2, 3), PAR(-0.5, 0.5, 3, 3), IN(-1, 1, 3, 3)}},
    {"simple_rnn/initial state, go_backwards, last", "simple_rnn", b_srnn_init, .kind = 1,
     .n_in = 4,
     .in = {IN(-1, 1, 2, 3, 2), PAR(-0.5, 0.5, 2, 3), PAR(-0.5, 0.5, 3, 3), IN(-1, 1, 2, 3)}},
    {"conv1d/valid, bias", "conv1d", b_conv1d, .iarg = {1, 1, 0}, .n_in = 3,
     .in = {IN(-1, 1, 2, 6, 3), PAR(-1, 1, 3, 3, 2), PAR(-1, 1, 2)}},
    {"conv1d/same, stride 2", "conv1d", b_conv1d, .iarg = {2, 1, 1}, .n_in = 2,
     .in = {IN(-1, 1, 2, 7, 2), PAR(-1, 1, 4, 2, 3)}},
    {"conv1d/causal, dilation 2", "conv1d", b_conv1d, .iarg = {1, 2, 2}, .n_in = 3,
     .in = {IN(-1, 1, 2, 5, 2), PAR(-1, 1, 2, 2, 2), PAR(-1, 1, 2)}},
    {"pool1d/max valid", "pool1d", b_pool1d, .kind = 0, .iarg = {2, 2, 0}, .n_in = 1,
     .in = {IN_DISTINCT(-1, 1, 2, 7, 3)}},
    {"pool1d/avg same, stride 2", "pool1d", b_pool1d, .kind = 1, .iarg = {3, 2, 1}, .n_in = 1,
     .in = {IN(-1, 1, 2, 6, 2)}},
    {"layer/conv1d", NULL, b_conv1d_layer, .kind = 0, .n_in = 1, .in = {IN(-1, 1, 2, 5, 3)}},
    {"layer/max_pooling1d", NULL, b_conv1d_layer, .kind = 1, .n_in = 1,
     .in = {IN_DISTINCT(-1, 1, 2, 5, 2)}},
    {"layer/average_pooling1d", NULL, b_conv1d_layer, .kind = 2, .n_in = 1,
     .in = {IN(-1, 1, 2, 5, 2)}},
    {"layer/global_max_pooling1d", NULL, b_conv1d_layer, .kind = 3, .n_in = 1,
     .in = {IN_DISTINCT(-1, 1, 2, 4, 3)}},
    {"layer/global_average_pooling1d", NULL, b_conv1d_layer, .kind = 4, .n_in = 1,
     .in = {IN(-1, 1, 2, 4, 3)}},
    /* depthwise, pointwise, pad2d, upsample2d, relu_ex and their layers [issue 4] */
    {"depthwise/3x3 valid, bias", "depthwise", b_depthwise, .iarg = {1, 1, 1, 1, 0}, .n_in = 3,
     .in = {IN(-1, 1, 2, 5, 5, 3), PAR(-1, 1, 3, 3, 3, 1), PAR(-1, 1, 3)}},
    {"depthwise/2x3 same, strides 2, dm 2", "depthwise", b_depthwise, .iarg = {2, 2, 1, 1, 1},
     .n_in = 2, .in = {IN(-1, 1, 2, 6, 5, 2), PAR(-1, 1, 2, 3, 2, 2)}},
    {"depthwise/3x3 same, dilation 2, dm 3", "depthwise", b_depthwise,
     .iarg = {1, 1, 2, 2, 1}, .n_in = 3,
     .in = {IN(-1, 1, 1, 7, 6, 2), PAR(-1, 1, 3, 3, 2, 3), PAR(-1, 1, 6)}},
    {"pointwise/bias", "pointwise", b_pointwise, .n_in = 3,
     .in = {IN(-1, 1, 2, 3, 3, 4), PAR(-1, 1, 1, 1, 4, 5), PAR(-1, 1, 5)}},
    {"pad2d/pad", "pad2d", b_pad2d, .iarg = {1, 2, 0, 1}, .n_in = 1,
     .in = {IN(-1, 1, 2, 3, 4, 2)}},
    {"pad2d/crop", "pad2d", b_pad2d, .iarg = {-1, 0, -1, -2}, .n_in = 1,
     .in = {IN(-1, 1, 2, 4, 5, 2)}},
    {"upsample2d", "upsample2d", b_upsample2d, .iarg = {2, 3}, .n_in = 1,
     .in = {IN(-1, 1, 2, 2, 3, 2)}},
    {"relu_ex/leaky", "relu_ex", b_relu_ex, .iarg = {0, 0}, .farg = {0.0f, 0.3f}, .n_in = 1,
     .in = {IN(-2, 2, 3, 4)}, KINK0},
    {"relu_ex/cap, slope, threshold", "relu_ex", b_relu_ex, .iarg = {1, 2}, .farg = {0.9f, 0.1f},
     .n_in = 1, .in = {IN(-1, 1.5f, 3, 4)}, .kinks = {0.2f, 0.9f}, .n_kinks = 2},
    {"layer/depthwise_conv2d same, dm 2", NULL, b_spatial_layer, .kind = GS_DEPTHWISE,
     .iarg = {1, 1, 1, 2}, .n_in = 1, .in = {IN(-1, 1, 2, 4, 5, 2)}},
    {"layer/separable_conv2d strides 2, dm 2", NULL, b_spatial_layer, .kind = GS_SEPARABLE,
     .iarg = {2, 1, 0, 2}, .n_in = 1, .in = {IN(-1, 1, 2, 5, 6, 2)}},
    {"layer/zero_padding2d", NULL, b_spatial_layer, .kind = GS_ZERO_PAD, .n_in = 1,
     .in = {IN(-1, 1, 2, 3, 2, 2)}},
    {"layer/cropping2d", NULL, b_spatial_layer, .kind = GS_CROP, .n_in = 1,
     .in = {IN(-1, 1, 2, 4, 5, 2)}},
    {"layer/up_sampling2d", NULL, b_spatial_layer, .kind = GS_UPSAMPLE, .n_in = 1,
     .in = {IN(-1, 1, 2, 2, 2, 3)}},
    {"layer/leaky_re_lu", NULL, b_spatial_layer, .kind = GS_LEAKY, .n_in = 1,
     .in = {IN(-2, 2, 3, 4)}, KINK0},
    {"layer/re_lu max_value, negative_slope, threshold", NULL, b_spatial_layer, .kind = GS_RELU,
     .n_in = 1, .in = {IN(-1, 1.5f, 3, 4)}, .kinks = {0.1f, 0.8f}, .n_kinks = 2},
    {"layer/softmax axis 1", NULL, b_spatial_layer, .kind = GS_SOFTMAX, .n_in = 1,
     .in = {IN(-2, 2, 2, 3, 4)}},
    {"conv2d_transpose/3x3 valid, bias", "conv2d_transpose", b_conv2d_transpose,
     .iarg = {1, 1, 1, 1, 0}, .n_in = 3,
     .in = {IN(-1, 1, 2, 3, 4, 2), PAR(-1, 1, 3, 3, 3, 2), PAR(-1, 1, 3)}},
    {"conv2d_transpose/3x2 same, strides 2x3", "conv2d_transpose", b_conv2d_transpose,
     .iarg = {2, 3, 1, 1, 1}, .n_in = 2,
     .in = {IN(-1, 1, 2, 3, 3, 2), PAR(-1, 1, 3, 2, 2, 2)}},
    {"conv2d_transpose/2x2 valid, strides 3, dilation 1", "conv2d_transpose", b_conv2d_transpose,
     .iarg = {3, 3, 1, 1, 0}, .n_in = 2, .in = {IN(-1, 1, 1, 2, 3, 2), PAR(-1, 1, 2, 2, 3, 2)}},
    {"conv2d_transpose/3x3 same, dilation 2", "conv2d_transpose", b_conv2d_transpose,
     .iarg = {1, 1, 2, 2, 1}, .n_in = 2, .in = {IN(-1, 1, 1, 4, 5, 2), PAR(-1, 1, 3, 3, 2, 2)}},
    {"layer/conv2d_transpose same, strides 2", NULL, b_spatial_layer, .kind = GS_TRANSPOSE,
     .iarg = {2, 2, 1}, .n_in = 1, .in = {IN(-1, 1, 2, 3, 2, 2)}},
    /* [issue 4] conv2d: valid/same, odd/even sizes, strides, dilation, 1x1 gemm */
    {"conv2d/3x3 valid bias", "conv2d", b_conv2d, .iarg = {1, 1, 1, 1, 0}, .n_in = 3,
     .in = {IN(-1, 1, 2, 5, 6, 3), PAR(-1, 1, 3, 3, 3, 4), PAR(-1, 1, 4)}},
    {"conv2d/3x3 same stride 2 even (pad 0/1)", "conv2d", b_conv2d, .iarg = {2, 2, 1, 1, 1},
     .n_in = 2, .in = {IN(-1, 1, 2, 6, 6, 2), PAR(-1, 1, 3, 3, 2, 3)}},
    {"conv2d/2x2 same stride 1 (pad 0/1)", "conv2d", b_conv2d, .iarg = {1, 1, 1, 1, 1},
     .n_in = 3, .in = {IN(-1, 1, 2, 5, 4, 2), PAR(-1, 1, 2, 2, 2, 3), PAR(-1, 1, 3)}},
    {"conv2d/3x2 dilation (2, 1) same", "conv2d", b_conv2d, .iarg = {1, 1, 2, 1, 1}, .n_in = 2,
     .in = {IN(-1, 1, 1, 7, 5, 2), PAR(-1, 1, 3, 2, 2, 2)}},
    {"conv2d/3x3 stride 2 dilation 2 same", "conv2d", b_conv2d, .iarg = {2, 2, 2, 2, 1},
     .n_in = 2, .in = {IN(-1, 1, 1, 7, 6, 2), PAR(-1, 1, 3, 3, 2, 2)}},
    {"conv2d/1x1 gemm", "conv2d", b_conv2d, .iarg = {1, 1, 1, 1, 0}, .n_in = 3,
     .in = {IN(-1, 1, 2, 3, 4, 3), PAR(-1, 1, 1, 1, 3, 2), PAR(-1, 1, 2)}},
    {"conv2d/1x1 stride 2", "conv2d", b_conv2d, .iarg = {2, 2, 1, 1, 0}, .n_in = 2,
     .in = {IN(-1, 1, 2, 5, 4, 3), PAR(-1, 1, 1, 1, 3, 2)}},
    /* relu fused: im2col path, and >= 16 channels (implicit gemm, packed weight gradient) */
    {"conv2d/3x3 same relu bias", "conv2d", b_conv2d, .kind = 1, .iarg = {1, 1, 1, 1, 1},
     .n_in = 3, .in = {IN(-1, 1, 2, 5, 4, 2), PAR(-1, 1, 3, 3, 2, 3), PAR(-1, 1, 3)}},
    {"conv2d/2x2 same relu 16 channels", "conv2d", b_conv2d, .kind = 1, .iarg = {1, 1, 1, 1, 1},
     .n_in = 3, .in = {IN(-1, 1, 1, 4, 3, 16), PAR(-1, 1, 2, 2, 16, 8), PAR(-1, 1, 8)}},
    /* pool2d */
    {"pool2d/max 2x2 valid odd", "pool2d", b_pool2d, .kind = LMO_POOL_MAX, .iarg = {2, 2, 2, 2, 0},
     .n_in = 1, .in = {IN_DISTINCT(-2, 2, 2, 5, 5, 3)}},
    {"pool2d/max 3x3 stride 2 same", "pool2d", b_pool2d, .kind = LMO_POOL_MAX,
     .iarg = {3, 3, 2, 2, 1}, .n_in = 1, .in = {IN_DISTINCT(-2, 2, 2, 6, 7, 2)}},
    {"pool2d/avg 2x2 same odd", "pool2d", b_pool2d, .kind = LMO_POOL_AVG, .iarg = {2, 2, 2, 2, 1},
     .n_in = 1, .in = {IN(-1, 1, 2, 5, 5, 2)}},
    {"pool2d/avg 3x2 stride 1 same", "pool2d", b_pool2d, .kind = LMO_POOL_AVG,
     .iarg = {3, 2, 1, 1, 1}, .n_in = 1, .in = {IN(-1, 1, 1, 4, 5, 2)}},
    /* global_pool */
    {"global_pool/max", "global_pool", b_global_pool, .kind = LMO_POOL_MAX, .n_in = 1,
     .in = {IN_DISTINCT(-2, 2, 2, 3, 4, 3)}},
    {"global_pool/avg", "global_pool", b_global_pool, .kind = LMO_POOL_AVG, .n_in = 1,
     .in = {IN(-1, 1, 2, 3, 4, 3)}},
    /* batchnorm */
    {"batchnorm/training NHWC", "batchnorm", b_bn, .iarg = {3}, .n_in = 3,
     .in = {IN(-1, 1, 3, 2, 2, 4), PAR(0.5f, 1.5f, 4), PAR(-1, 1, 4)}, .training = true},
    {"batchnorm/inference NHWC", "batchnorm", b_bn, .iarg = {3}, .n_in = 3,
     .in = {IN(-1, 1, 3, 2, 2, 4), PAR(0.5f, 1.5f, 4), PAR(-1, 1, 4)}},
    {"batchnorm/training axis 1, no gamma", "batchnorm", b_bn, .kind = 1, .iarg = {1}, .n_in = 3,
     .in = {IN(-1, 1, 4, 3, 2), PAR(0.5f, 1.5f, 3), PAR(-1, 1, 3)}, .training = true},
    {"batchnorm/training no beta", "batchnorm", b_bn, .kind = 2, .iarg = {1}, .n_in = 3,
     .in = {IN(-1, 1, 6, 3), PAR(0.5f, 1.5f, 3), PAR(-1, 1, 3)}, .training = true},
    /* layers (b_conv_layer) */
    {"layer/conv2d 3x3 same stride 2 tanh", NULL, b_conv_layer, .kind = GC_CONV2D, .n_in = 1,
     .in = {IN(-1, 1, 2, 5, 6, 2)}},
    {"layer/conv2d 1x1 no bias", NULL, b_conv_layer, .kind = GC_CONV2D_1X1, .n_in = 1,
     .in = {IN(-1, 1, 2, 3, 3, 3)}},
    {"layer/max_pooling2d", NULL, b_conv_layer, .kind = GC_MAXPOOL, .n_in = 1,
     .in = {IN_DISTINCT(-2, 2, 2, 5, 4, 2)}},
    {"layer/average_pooling2d 3x3 same stride 2", NULL, b_conv_layer, .kind = GC_AVGPOOL,
     .n_in = 1, .in = {IN(-1, 1, 2, 5, 6, 2)}},
    {"layer/global_average_pooling2d", NULL, b_conv_layer, .kind = GC_GAP, .n_in = 1,
     .in = {IN(-1, 1, 2, 3, 2, 3)}},
    {"layer/global_max_pooling2d", NULL, b_conv_layer, .kind = GC_GMP, .n_in = 1,
     .in = {IN_DISTINCT(-2, 2, 2, 3, 2, 3)}},
    {"layer/batch_normalization training", NULL, b_conv_layer, .kind = GC_BN, .n_in = 1,
     .in = {IN(-1, 1, 4, 2, 2, 3)}, .training = true},
    {"layer/batch_normalization inference", NULL, b_conv_layer, .kind = GC_BN, .n_in = 1,
     .in = {IN(-1, 1, 4, 2, 2, 3)}},
};
enum { N_CASES = (int)(sizeof cases / sizeof cases[0]) };

/* ---- the harness ---- */

static uint64_t name_seed(const char *s) {
  uint64_t h = 1469598103934665603u; /* FNV-1a */
  for (; *s; s++) h = (h ^ (unsigned char)*s) * 1099511628211u;
  return h;
}

static bool near_kink(const gc_case *c, float v) {
  for (int k = 0; k < c->n_kinks; k++)
    if (fabsf(v - c->kinks[k]) < GC_KINK) return true;
  return false;
}

static void fill_leaf(const gc_case *c, int li, lmg_node *n, uint64_t rng[4]) {
  const gc_leaf *L = &c->in[li];
  int64_t size = n->size;
  if (L->dist == GC_INDEX) {
    for (int64_t i = 0; i < size; i++) {
      int v = (int)(lm_rng_uniform(rng) * L->hi);
      if (n->dtype == LM_INT32)
        ((int32_t *)n->val)[i] = v;
      else
        n->val[i] = (float)v;
    }
    return;
  }
  if (L->dist == GC_DISTINCT) {
    for (int64_t i = 0; i < size; i++) n->val[i] = (float)i;
    for (int64_t i = size - 1; i > 0; i--) { /* Fisher-Yates */
      int64_t j = (int64_t)(lm_rng_uniform(rng) * (double)(i + 1));
      float t = n->val[i];
      n->val[i] = n->val[j];
      n->val[j] = t;
    }
    for (int64_t i = 0; i < size; i++)
      n->val[i] = L->lo + (L->hi - L->lo) * (n->val[i] + 0.5f) / (float)size;
    return;
  }
  for (int64_t i = 0; i < size; i++) {
    float v;
    do {
      v = L->lo + (L->hi - L->lo) * (float)lm_rng_uniform(rng);
      if (L->dist == GC_GRID) v = roundf(v * 10.0f) * 0.1f + 0.05f * (float)li;
    } while (near_kink(c, v));
    n->val[i] = v;
  }
}

typedef struct gc_graph {
  lm_ctx *ctx;
  lmg_graph g;
  int leaf[GC_MAX_IN];
  lm_tensor *owned[GC_MAX_IN];
  int y, loss;
  const float *r;
} gc_graph;

static void gc_forward(gc_graph *G) {
  lm_rng_seed(G->ctx->rng, GC_SEED);
  lmg_forward(&G->g, NULL);
}

static double gc_loss(gc_graph *G) {
  const lmg_node *y = lmg_at(&G->g, G->y);
  double s = 0.0;
  for (int64_t i = 0; i < y->size; i++) s += (double)G->r[i] * (double)y->val[i];
  return s;
}

/* Build leaves, the case's ops, and L = sum(r * y); plan with gradients. */
static void gc_build(gc_graph *G, const gc_case *c, uint64_t rng[4]) {
  memset(G, 0, sizeof *G);
  G->ctx = tu_ctx();
  assert_non_null(G->ctx);
  assert_int_equal(lmg_init(&G->g, G->ctx), LM_OK);
  lmg_graph *g = &G->g;
  g->training = c->training;
  int64_t batch = -1;
  for (int i = 0; i < c->n_in; i++) {
    const gc_leaf *L = &c->in[i];
    if (L->param) {
      G->owned[i] = lmt_new(G->ctx, L->dtype, L->ndim, L->shape);
      assert_non_null(G->owned[i]);
      G->leaf[i] = lmg_param(g, G->owned[i], !L->no_grad);
    } else {
      int64_t sym[LM_MAX_DIMS];
      memcpy(sym, L->shape, sizeof sym);
      if (!c->concrete && L->ndim > 0) {
        if (batch < 0) batch = L->shape[0];
        assert_int_equal(batch, L->shape[0]); /* symbolic inputs share the batch */
        sym[0] = LM_NONE;
      }
      G->leaf[i] = lmg_input(g, L->dtype, L->ndim, sym);
      assert_true(G->leaf[i] >= 0);
      lmg_at(g, G->leaf[i])->want_grad = !L->no_grad;
    }
  }
  G->y = c->build(g, G->leaf, c);
  if (G->y < 0) fail_msg("%s: build failed: %s", c->name, lm_errmsg(G->ctx));
  if (c->covers) {
    bool found = false;
    for (int i = 0; i < g->n_nodes; i++)
      if (g->nodes[i].op && strcmp(g->nodes[i].op->name, c->covers) == 0) found = true;
    if (!found) fail_msg("%s: the graph has no '%s' node", c->name, c->covers);
  }
  if (batch < 0) batch = 1;
  if (lmg_plan(g, batch, true) != LM_OK) fail_msg("%s: plan: %s", c->name, lm_errmsg(G->ctx));
  const lmg_node *y = lmg_at(g, G->y);
  assert_int_equal(y->dtype, LM_FLOAT32);
  lm_tensor *rt = lmt_new(G->ctx, LM_FLOAT32, y->ndim, y->shape);
  assert_non_null(rt);
  float *r = rt->data;
  for (int64_t i = 0; i < rt->size; i++) r[i] = (float)(2.0 * lm_rng_uniform(rng) - 1.0);
  G->r = r;
  int rn = lmg_const(g, rt);
  G->loss = lmo_reduce(g, LMO_SUM, lmo_binary(g, LMO_MUL, G->y, rn), 0, false);
  assert_true(G->loss >= 0);
  if (lmg_plan(g, batch, true) != LM_OK) fail_msg("%s: plan: %s", c->name, lm_errmsg(G->ctx));
  for (int i = 0; i < c->n_in; i++) fill_leaf(c, i, lmg_at(g, G->leaf[i]), rng);
}

static void gc_free(gc_graph *G) {
  lmg_release(&G->g);
  for (int i = 0; i < GC_MAX_IN; i++) lmt_free(G->owned[i]);
  lm_ctx_free(G->ctx);
}

static bool checked(const lmg_node *n) {
  if (n->dtype != LM_FLOAT32 || !n->grad) return false;
  return (n->kind == LMG_INPUT && n->want_grad) || (n->kind == LMG_PARAM && n->trainable);
}

static void run_case(void **state) {
  const gc_case *c = *state;
  uint64_t rng[4];
  lm_rng_seed(rng, name_seed(c->name));
  gc_graph G;
  gc_build(&G, c, rng);
  lmg_graph *g = &G.g;

  gc_forward(&G);
  double l0 = gc_loss(&G);
  float lg = lmg_at(g, G.loss)->val[0];
  assert_true(fabs(lg - l0) <= 1e-4 + 1e-4 * fabs(l0)); /* mul + sum agree with the harness */
  lmg_backward(g, G.loss, NULL);

  int n_checked = 0, n_bad = 0;
  double worst = 0.0;
  for (int id = 0; id < g->n_nodes; id++) {
    lmg_node *v = lmg_at(g, id);
    if (!checked(v)) continue;
    n_checked++;
    float *analytic = malloc(sizeof(float) * (size_t)(v->size ? v->size : 1));
    assert_non_null(analytic);
    memcpy(analytic, v->grad, sizeof(float) * (size_t)v->size);
    for (int64_t j = 0; j < v->size; j++) {
      float save = v->val[j];
      float hi = (float)(save + GC_EPS), lo = (float)(save - GC_EPS);
      v->val[j] = hi;
      gc_forward(&G);
      double lp = gc_loss(&G);
      v->val[j] = lo;
      gc_forward(&G);
      double lm = gc_loss(&G);
      v->val[j] = save;
      double fd = (lp - lm) / ((double)hi - (double)lo), a = analytic[j];
      double err = fabs(a - fd), tol = GC_ATOL + GC_RTOL * fmax(fabs(a), fabs(fd));
      if (err / tol > worst) worst = err / tol;
      if (err > tol && n_bad++ < 5)
        print_error("%s: node %d (%s) element %lld: analytic %.6g, numeric %.6g\n", c->name, id,
                    v->kind == LMG_PARAM ? "param" : "input", (long long)j, a, fd);
    }
    free(analytic);
  }
  gc_free(&G);
  if (getenv("LAMINA_GC_VERBOSE")) print_message("%s: worst err/tol %.3g\n", c->name, worst);
  if (n_checked == 0) fail_msg("%s: no leaf has a gradient", c->name);
  if (n_bad) fail_msg("%s: %d gradient elements off (worst err/tol %.3g)", c->name, n_bad, worst);
}

/* Dropout in training: the gradient is the saved mask times dy, about half
 * the elements are dropped, and the kept ones are scaled by 1 / (1 - rate). */
static void test_dropout_mask_gradient(void **state) {
  (void)state;
  lm_ctx *ctx = tu_ctx();
  lmg_graph g;
  lmg_init(&g, ctx);
  g.training = true;
  int64_t shape[2] = {LM_NONE, 100};
  int x = lmg_input(&g, LM_FLOAT32, 2, shape);
  lmg_at(&g, x)->want_grad = true;
  int y = lmo_dropout(&g, x, 0.5f);
  assert_true(y >= 0);
  assert_int_equal(lmg_plan(&g, 40, true), LM_OK);
  lmg_node *xn = lmg_at(&g, x), *yn = lmg_at(&g, y);
  for (int64_t i = 0; i < xn->size; i++) xn->val[i] = 1.0f + (float)(i % 7);
  lmg_forward(&g, NULL);
  lmg_backward(&g, y, NULL); /* dy = 1 */
  const float *mask = yn->ws;
  assert_non_null(mask);
  int64_t dropped = 0;
  for (int64_t i = 0; i < xn->size; i++) {
    assert_true(mask[i] == 0.0f || mask[i] == 2.0f);
    assert_true(xn->grad[i] == mask[i]);
    assert_true(yn->val[i] == xn->val[i] * mask[i]);
    dropped += mask[i] == 0.0f;
  }
  assert_true(dropped > 1600 && dropped < 2400); /* 4000 elements, rate 0.5 */
  lmg_release(&g);
  lm_ctx_free(ctx);
}

static bool has_case(gc_build_fn build, int kind, int keepdims) {
  for (int i = 0; i < N_CASES; i++)
    if (cases[i].build == build && cases[i].kind == kind &&
        (keepdims < 0 || cases[i].iarg[1] == keepdims))
      return true;
  return false;
}

/* Every registered op and every sub-kind has an entry in the table. */
static void test_registry_covered(void **state) {
  (void)state;
  int missing = 0;
  assert_true(lmo_registry_n > 0);
  for (int i = 0; i < lmo_registry_n; i++) {
    const char *name = lmo_registry[i]->name;
    bool found = false;
    for (int k = 0; k < N_CASES; k++)
      if (cases[k].covers && strcmp(cases[k].covers, name) == 0) found = true;
    if (!found) {
      print_error("op '%s' is registered but has no gradient-check entry\n", name);
      missing++;
    }
  }
  for (int k = LMO_ADD; k <= LMO_MINIMUM; k++)
    if (!has_case(b_binary, k, -1)) print_error("binary kind %d unchecked\n", k), missing++;
  for (int k = LMO_EXP; k <= LMO_NEG; k++)
    if (!has_case(b_unary, k, -1)) print_error("unary kind %d unchecked\n", k), missing++;
  for (int k = 0; k < LMO_N_ACT; k++)
    if (!has_case(b_act, k, -1))
      print_error("activation %s unchecked\n", lmo_act_name(k)), missing++;
  for (int k = LMO_SUM; k <= LMO_MAX; k++)
    for (int keep = 0; keep <= 1; keep++)
      if (!has_case(b_reduce, k, keep))
        print_error("reduce kind %d keepdims %d unchecked\n", k, keep), missing++;
  assert_int_equal(missing, 0);
}

/* Every layer class (but InputLayer) and every loss has a subgraph entry. */
static void test_layers_and_losses_covered(void **state) {
  (void)state;
  int missing = 0;
  for (int i = 0; i < lml_registry_n; i++) {
    const lml_class *cls = lml_registry[i];
    if (cls == &lml_input_class) continue;
    char prefix[96];
    snprintf(prefix, sizeof prefix, "layer/%s", cls->prefix);
    bool found = false;
    for (int k = 0; k < N_CASES; k++)
      if (strncmp(cases[k].name, prefix, strlen(prefix)) == 0) found = true;
    if (!found) print_error("layer %s has no gradient-check entry\n", cls->class_name), missing++;
  }
  for (int kind = 0; kind < LMT_N_LOSS; kind++) {
    bool found = false;
    for (int k = 0; k < N_CASES; k++)
      if (cases[k].build == b_loss && cases[k].kind == kind) found = true;
    if (!found) print_error("loss %s has no gradient-check entry\n", lmt_loss_name(kind)), missing++;
  }
  assert_int_equal(missing, 0);
}

int main(void) {
  struct CMUnitTest tests[N_CASES + 3];
  for (int i = 0; i < N_CASES; i++)
    tests[i] = (struct CMUnitTest){cases[i].name, run_case, NULL, NULL, (void *)&cases[i]};
  tests[N_CASES] = (struct CMUnitTest)cmocka_unit_test(test_registry_covered);
  tests[N_CASES + 1] = (struct CMUnitTest)cmocka_unit_test(test_dropout_mask_gradient);
  tests[N_CASES + 2] = (struct CMUnitTest)cmocka_unit_test(test_layers_and_losses_covered);
  return _cmocka_run_group_tests("gradcheck", tests, N_CASES + 3, NULL, NULL);
}

/* The Keras names a script can reach: modules, layers (one table entry per
 * layer class: its Keras name, its argument spec and its C constructor), and
 * module-level functions. A layer added to lamina.h appears in scripts by one
 * entry in `layers` below. */
#include <stdlib.h>
#include <string.h>

#include "script/hp.h"
#include "script/interp.h"

/* ---- modules ------------------------------------------------------------------ */

const char *const lms_modules[] = {
    "keras", "keras.layers", "keras.models", "keras.optimizers", "keras.losses",
    "keras.metrics", "keras.activations", "keras.callbacks", "keras.utils", "keras.datasets",
    "keras.datasets.fashion_mnist", "keras.datasets.mnist", "keras.backend",
    "numpy", "numpy.random", "tensorflow", "sys",
    "lamina", "lamina.hp", "math", "sklearn", "sklearn.datasets", /* script/hp.c */
    NULL};

bool lms_module_known(const char *path) {
  for (int i = 0; lms_modules[i]; i++)
    if (strcmp(lms_modules[i], path) == 0) return true;
  return false;
}

const char *lms_canonical_module(lms_interp *I, const char *path) {
  /* tensorflow.keras.X is keras.X */
  if (strncmp(path, "tensorflow.keras", 16) == 0 && (path[16] == 0 || path[16] == '.')) {
    size_t n = strlen(path + 11) + 1;
    char *s = lms_alloc(I, n);
    memcpy(s, path + 11, n);
    path = s;
  }
  /* hyperopt.X is lamina.X (hp.*, script/hp.c) */
  if (strncmp(path, "hyperopt", 8) == 0 && (path[8] == 0 || path[8] == '.')) {
    size_t n = strlen(path + 8) + 1;
    char *s = lms_alloc(I, n + 6);
    memcpy(s, "lamina", 6);
    memcpy(s + 6, path + 8, n);
    path = s;
  }
  for (int i = 0; lms_modules[i]; i++)
    if (strcmp(lms_modules[i], path) == 0) return lms_modules[i];
  return NULL;
}

/* ---- layer constructors --------------------------------------------------------- */

static lm_layer *ctor_dense(lms_interp *I, lms_args *a, const char *name) {
  int64_t units = lms_arg_int(a, 0, 0);
  if (units <= 0 || units > INT32_MAX)
    lms_fail(I, lms_arg_node(a, 0), "Dense: units must be a positive integer, got %lld", (long long)units);
  lm_dense_opts o = {.activation = lms_arg_str(a, 1, NULL),
                     .no_bias = !lms_arg_bool(a, 2, true),
                     .kernel_initializer = lms_arg_str(a, 3, NULL),
                     .bias_initializer = lms_arg_str(a, 4, NULL),
                     .name = name};
  return lm_layer_dense(I->ctx, (int)units, &o);
}

static lm_layer *ctor_activation(lms_interp *I, lms_args *a, const char *name) {
  return lm_layer_activation(I->ctx, lms_arg_str(a, 0, "linear"), name);
}

static lm_layer *ctor_flatten(lms_interp *I, lms_args *a, const char *name) {
  const char *df = lms_arg_str(a, 0, NULL);
  if (df && strcmp(df, "channels_last") != 0)
    lms_fail(I, lms_arg_node(a, 0), "Flatten: only data_format='channels_last' is supported");
  return lm_layer_flatten(I->ctx, name);
}

static lm_layer *ctor_reshape(lms_interp *I, lms_args *a, const char *name) {
  int64_t dims[LM_MAX_DIMS];
  lms_value *v = lms_arg(a, 0);
  int nd = 0;
  if (v->kind == V_INT) {
    dims[0] = v->u.i;
    nd = 1;
  } else {
    if (v->u.seq.n > LM_MAX_DIMS) lms_fail(I, lms_arg_node(a, 0), "Reshape: too many dimensions");
    for (int i = 0; i < v->u.seq.n; i++) {
      lms_value *d = v->u.seq.items[i];
      if (d->kind != V_INT) lms_fail(I, lms_arg_node(a, 0), "Reshape: target_shape holds ints");
      dims[nd++] = d->u.i;
    }
  }
  return lm_layer_reshape(I->ctx, nd, dims, name);
}

static lm_layer *ctor_dropout(lms_interp *I, lms_args *a, const char *name) {
  if (lms_arg(a, 1)) lms_fail(I, lms_arg_node(a, 1), "Dropout: noise_shape is not supported");
  return lm_layer_dropout(I->ctx, (float)lms_arg_float(a, 0, 0), name);
}

static lm_layer *ctor_add(lms_interp *I, lms_args *a, const char *name) {
  (void)a;
  return lm_layer_add(I->ctx, name);
}
static lm_layer *ctor_subtract(lms_interp *I, lms_args *a, const char *name) {
  (void)a;
  return lm_layer_subtract(I->ctx, name);
}
static lm_layer *ctor_multiply(lms_interp *I, lms_args *a, const char *name) {
  (void)a;
  return lm_layer_multiply(I->ctx, name);
}
static lm_layer *ctor_average(lms_interp *I, lms_args *a, const char *name) {
  (void)a;
  return lm_layer_average(I->ctx, name);
}
static lm_layer *ctor_maximum(lms_interp *I, lms_args *a, const char *name) {
  (void)a;
  return lm_layer_maximum(I->ctx, name);
}
static lm_layer *ctor_concatenate(lms_interp *I, lms_args *a, const char *name) {
  return lm_layer_concatenate(I->ctx, (int)lms_arg_int(a, 0, -1), name);
}

/* an int or a pair (a, b) of ints, each in [lo, 1<<24] */
static void pair_arg(lms_interp *I, lms_args *a, int slot, int def, int lo, int out[2]) {
  lms_value *v = lms_arg(a, slot);
  out[0] = out[1] = def;
  if (!v) return;
  for (int i = 0; i < 2; i++) {
    lms_value *x = v->kind == V_INT ? v : v->u.seq.items[i];
    if (x->kind != V_INT || x->u.i < lo || x->u.i > (1 << 24))
      lms_fail(I, lms_arg_node(a, slot), "%s: '%s' must hold integers >= %d", a->fname,
               a->slot_names[slot], lo);
    out[i] = (int)x->u.i;
  }
}

/* ZeroPadding2D/Cropping2D: n, (a, b) or ((top, bottom), (left, right)) */
static void pad4_arg(lms_interp *I, lms_args *a, int slot, int def, int out[4]) {
  lms_value *v = lms_arg(a, slot);
  for (int i = 0; i < 4; i++) out[i] = def;
  if (!v) return;
  const lms_node *at = lms_arg_node(a, slot);
  if (v->kind == V_INT) {
    for (int i = 0; i < 4; i++) out[i] = (int)v->u.i;
  } else {
    if ((v->kind != V_TUPLE && v->kind != V_LIST) || v->u.seq.n != 2)
      lms_fail(I, at, "%s: '%s' must be an int, a pair or a pair of pairs", a->fname, a->slot_names[slot]);
    for (int k = 0; k < 2; k++) {
      lms_value *x = v->u.seq.items[k];
      if (x->kind == V_INT) {
        out[2 * k] = out[2 * k + 1] = (int)x->u.i;
      } else if ((x->kind == V_TUPLE || x->kind == V_LIST) && x->u.seq.n == 2 &&
                 x->u.seq.items[0]->kind == V_INT && x->u.seq.items[1]->kind == V_INT) {
        out[2 * k] = (int)x->u.seq.items[0]->u.i;
        out[2 * k + 1] = (int)x->u.seq.items[1]->u.i;
      } else {
        lms_fail(I, at, "%s: '%s' must be an int, a pair or a pair of pairs", a->fname, a->slot_names[slot]);
      }
    }
  }
  for (int i = 0; i < 4; i++)
    if (out[i] < 0 || out[i] > (1 << 24)) lms_fail(I, at, "%s: '%s' must not be negative", a->fname, a->slot_names[slot]);
}

static void check_channels_last(lms_interp *I, lms_args *a) {
  int s = lms_slot(a, "data_format");
  const char *df = lms_arg_str(a, s, NULL);
  if (df && strcmp(df, "channels_last") != 0)
    lms_fail(I, lms_arg_node(a, s), "%s: only data_format='channels_last' is supported", a->fname);
}

static int pos_int(lms_interp *I, lms_args *a, int slot, int def) {
  int64_t v = lms_arg_int(a, slot, def);
  if (v <= 0 || v > INT32_MAX)
    lms_fail(I, lms_arg_node(a, slot), "%s: '%s' must be a positive integer, got %lld", a->fname,
             a->slot_names[slot], (long long)v);
  return (int)v;
}

#define CONV2D_SPEC "filters:i, kernel_size:P, strides:P=, padding:s=, data_format:s?=, dilation_rate:P=, " \
                    "activation:s?=, use_bias:b=, kernel_initializer:s?=, bias_initializer:s?="

static lm_layer *ctor_conv2d(lms_interp *I, lms_args *a, const char *name) {
  check_channels_last(I, a);
  lm_conv2d_opts o = {.padding = lms_arg_str(a, 3, NULL), .activation = lms_arg_str(a, 6, NULL),
                      .no_bias = !lms_arg_bool(a, 7, true), .kernel_initializer = lms_arg_str(a, 8, NULL),
                      .bias_initializer = lms_arg_str(a, 9, NULL), .name = name};
  int k[2];
  pair_arg(I, a, 1, 1, 1, k);
  pair_arg(I, a, 2, 1, 1, o.strides);
  pair_arg(I, a, 5, 1, 1, o.dilation_rate);
  return lm_layer_conv2d(I->ctx, pos_int(I, a, 0, 0), k[0], k[1], &o);
}

static lm_layer *ctor_conv2d_transpose(lms_interp *I, lms_args *a, const char *name) {
  check_channels_last(I, a);
  lm_conv2d_transpose_opts o = {.padding = lms_arg_str(a, 3, NULL), .activation = lms_arg_str(a, 6, NULL),
                                .no_bias = !lms_arg_bool(a, 7, true),
                                .kernel_initializer = lms_arg_str(a, 8, NULL),
                                .bias_initializer = lms_arg_str(a, 9, NULL), .name = name};
  int k[2];
  pair_arg(I, a, 1, 1, 1, k);
  pair_arg(I, a, 2, 1, 1, o.strides);
  pair_arg(I, a, 5, 1, 1, o.dilation_rate);
  return lm_layer_conv2d_transpose(I->ctx, pos_int(I, a, 0, 0), k[0], k[1], &o);
}

#define SEP_SPEC "strides:P=, padding:s=, data_format:s?=, dilation_rate:P=, depth_multiplier:i=, " \
                 "activation:s?=, use_bias:b=, depthwise_initializer:s?=, pointwise_initializer:s?=, bias_initializer:s?="

static lm_layer *ctor_separable(lms_interp *I, lms_args *a, const char *name, bool depthwise) {
  check_channels_last(I, a);
  int base = depthwise ? 1 : 2; /* first slot after the kernel size */
  lm_separable_opts o = {.padding = lms_arg_str(a, base + 1, NULL),
                         .depth_multiplier = pos_int(I, a, base + 4, 1),
                         .activation = lms_arg_str(a, base + 5, NULL),
                         .no_bias = !lms_arg_bool(a, base + 6, true),
                         .depthwise_initializer = lms_arg_str(a, base + 7, NULL),
                         .pointwise_initializer = lms_arg_str(a, base + 8, NULL),
                         .bias_initializer = lms_arg_str(a, base + 9, NULL), .name = name};
  int k[2];
  pair_arg(I, a, base - 1, 1, 1, k);
  pair_arg(I, a, base, 1, 1, o.strides);
  pair_arg(I, a, base + 3, 1, 1, o.dilation_rate);
  if (depthwise) return lm_layer_depthwise_conv2d(I->ctx, k[0], k[1], &o);
  return lm_layer_separable_conv2d(I->ctx, pos_int(I, a, 0, 0), k[0], k[1], &o);
}
static lm_layer *ctor_separable_conv2d(lms_interp *I, lms_args *a, const char *name) {
  return ctor_separable(I, a, name, false);
}
static lm_layer *ctor_depthwise_conv2d(lms_interp *I, lms_args *a, const char *name) {
  return ctor_separable(I, a, name, true);
}

static lm_layer *ctor_pool2d(lms_interp *I, lms_args *a, const char *name, bool max) {
  check_channels_last(I, a);
  lm_pool2d_opts o = {.padding = lms_arg_str(a, 2, NULL), .name = name};
  int p[2];
  pair_arg(I, a, 0, 2, 1, p);
  if (lms_arg(a, 1)) pair_arg(I, a, 1, 0, 1, o.strides);
  return max ? lm_layer_max_pooling2d(I->ctx, p[0], p[1], &o) : lm_layer_average_pooling2d(I->ctx, p[0], p[1], &o);
}
static lm_layer *ctor_max_pool2d(lms_interp *I, lms_args *a, const char *name) { return ctor_pool2d(I, a, name, true); }
static lm_layer *ctor_avg_pool2d(lms_interp *I, lms_args *a, const char *name) { return ctor_pool2d(I, a, name, false); }

static lm_layer *ctor_gap2d(lms_interp *I, lms_args *a, const char *name) {
  check_channels_last(I, a);
  return lm_layer_global_average_pooling2d(I->ctx, name);
}
static lm_layer *ctor_gmp2d(lms_interp *I, lms_args *a, const char *name) {
  check_channels_last(I, a);
  return lm_layer_global_max_pooling2d(I->ctx, name);
}

static lm_layer *ctor_batchnorm(lms_interp *I, lms_args *a, const char *name) {
  lm_batchnorm_opts o = {.axis = (int)lms_arg_int(a, 0, -1), .momentum = (float)lms_arg_float(a, 1, 0.99),
                         .epsilon = (float)lms_arg_float(a, 2, 1e-3), .no_center = !lms_arg_bool(a, 3, true),
                         .no_scale = !lms_arg_bool(a, 4, true), .beta_initializer = lms_arg_str(a, 5, NULL),
                         .gamma_initializer = lms_arg_str(a, 6, NULL),
                         .moving_mean_initializer = lms_arg_str(a, 7, NULL),
                         .moving_variance_initializer = lms_arg_str(a, 8, NULL), .name = name};
  return lm_layer_batch_normalization(I->ctx, &o);
}

static lm_layer *ctor_zero_padding2d(lms_interp *I, lms_args *a, const char *name) {
  check_channels_last(I, a);
  int p[4];
  pad4_arg(I, a, 0, 1, p);
  return lm_layer_zero_padding2d(I->ctx, p[0], p[1], p[2], p[3], name);
}
static lm_layer *ctor_cropping2d(lms_interp *I, lms_args *a, const char *name) {
  check_channels_last(I, a);
  int p[4];
  pad4_arg(I, a, 0, 0, p);
  return lm_layer_cropping2d(I->ctx, p[0], p[1], p[2], p[3], name);
}
static lm_layer *ctor_upsampling2d(lms_interp *I, lms_args *a, const char *name) {
  check_channels_last(I, a);
  const char *interp = lms_arg_str(a, 2, "nearest");
  if (strcmp(interp, "nearest") != 0)
    lms_fail(I, lms_arg_node(a, 2), "UpSampling2D: only interpolation='nearest' is supported");
  int s[2];
  pair_arg(I, a, 0, 2, 1, s);
  return lm_layer_upsampling2d(I->ctx, s[0], s[1], name);
}
static lm_layer *ctor_leaky_relu(lms_interp *I, lms_args *a, const char *name) {
  return lm_layer_leaky_relu(I->ctx, (float)lms_arg_float(a, 0, 0.3), name);
}
static lm_layer *ctor_relu(lms_interp *I, lms_args *a, const char *name) {
  lm_relu_opts o = {.has_max_value = lms_arg(a, 0) != NULL, .max_value = (float)lms_arg_float(a, 0, 0),
                    .negative_slope = (float)lms_arg_float(a, 1, 0), .threshold = (float)lms_arg_float(a, 2, 0),
                    .name = name};
  return lm_layer_relu(I->ctx, &o);
}
static lm_layer *ctor_softmax(lms_interp *I, lms_args *a, const char *name) {
  return lm_layer_softmax(I->ctx, (int)lms_arg_int(a, 0, -1), name);
}

static lm_layer *ctor_embedding(lms_interp *I, lms_args *a, const char *name) {
  if (lms_arg(a, 3) || lms_arg(a, 4) || lms_arg(a, 5))
    lms_fail(I, a->call, "Embedding: regularizers and constraints are not supported");
  lm_embedding_opts o = {.embeddings_initializer = lms_arg_str(a, 2, NULL), .mask_zero = lms_arg_bool(a, 6, false),
                         .input_length = lms_arg(a, 7) ? pos_int(I, a, 7, 1) : 0, .name = name};
  return lm_layer_embedding(I->ctx, pos_int(I, a, 0, 0), pos_int(I, a, 1, 0), &o);
}

static lm_layer *ctor_lstm(lms_interp *I, lms_args *a, const char *name) {
  lm_rnn_opts o = {.activation = lms_arg_str(a, 1, NULL), .recurrent_activation = lms_arg_str(a, 2, NULL),
                   .no_bias = !lms_arg_bool(a, 3, true), .kernel_initializer = lms_arg_str(a, 4, NULL),
                   .recurrent_initializer = lms_arg_str(a, 5, NULL), .bias_initializer = lms_arg_str(a, 6, NULL),
                   .no_unit_forget_bias = !lms_arg_bool(a, 7, true), .dropout = (float)lms_arg_float(a, 8, 0),
                   .recurrent_dropout = (float)lms_arg_float(a, 9, 0), .return_sequences = lms_arg_bool(a, 10, false),
                   .return_state = lms_arg_bool(a, 11, false), .go_backwards = lms_arg_bool(a, 12, false),
                   .name = name};
  if (lms_arg_bool(a, 13, false)) lms_fail(I, lms_arg_node(a, 13), "LSTM: stateful=True is not supported");
  return lm_layer_lstm(I->ctx, pos_int(I, a, 0, 0), &o);
}

static lm_layer *ctor_simple_rnn(lms_interp *I, lms_args *a, const char *name) {
  lm_rnn_opts o = {.activation = lms_arg_str(a, 1, NULL), .no_bias = !lms_arg_bool(a, 2, true),
                   .kernel_initializer = lms_arg_str(a, 3, NULL), .recurrent_initializer = lms_arg_str(a, 4, NULL),
                   .bias_initializer = lms_arg_str(a, 5, NULL), .dropout = (float)lms_arg_float(a, 6, 0),
                   .recurrent_dropout = (float)lms_arg_float(a, 7, 0), .return_sequences = lms_arg_bool(a, 8, false),
                   .return_state = lms_arg_bool(a, 9, false), .go_backwards = lms_arg_bool(a, 10, false),
                   .name = name};
  if (lms_arg_bool(a, 11, false)) lms_fail(I, lms_arg_node(a, 11), "SimpleRNN: stateful=True is not supported");
  return lm_layer_simple_rnn(I->ctx, pos_int(I, a, 0, 0), &o);
}

static lm_layer *ctor_gru(lms_interp *I, lms_args *a, const char *name) {
  lm_rnn_opts o = {.activation = lms_arg_str(a, 1, NULL), .recurrent_activation = lms_arg_str(a, 2, NULL),
                   .no_bias = !lms_arg_bool(a, 3, true), .kernel_initializer = lms_arg_str(a, 4, NULL),
                   .recurrent_initializer = lms_arg_str(a, 5, NULL), .bias_initializer = lms_arg_str(a, 6, NULL),
                   .dropout = (float)lms_arg_float(a, 7, 0), .recurrent_dropout = (float)lms_arg_float(a, 8, 0),
                   .return_sequences = lms_arg_bool(a, 9, false), .return_state = lms_arg_bool(a, 10, false),
                   .go_backwards = lms_arg_bool(a, 11, false), .no_reset_after = !lms_arg_bool(a, 13, true),
                   .name = name};
  if (lms_arg_bool(a, 12, false)) lms_fail(I, lms_arg_node(a, 12), "GRU: stateful=True is not supported");
  return lm_layer_gru(I->ctx, pos_int(I, a, 0, 0), &o);
}

/* Bidirectional / TimeDistributed: the wrapped layer is a layer value not called yet. */
static lm_layer *wrapped_arg(lms_interp *I, lms_args *a) {
  lms_value *v = lms_arg(a, 0);
  if (!v || v->kind != V_LAYER)
    lms_fail(I, lms_arg_node(a, 0), "%s expects a layer (such as layers.LSTM(32)), not %s", a->fname,
             v ? lms_type_name(v) : "None");
  return v->u.layer.l;
}
static lm_layer *ctor_bidirectional(lms_interp *I, lms_args *a, const char *name) {
  lm_layer *inner = wrapped_arg(I, a);
  bool none = a->slot[1] && a->slot[1]->kind == V_NONE; /* merge_mode=None: two outputs */
  return lm_layer_bidirectional(I->ctx, inner, none ? "none" : lms_arg_str(a, 1, NULL), name);
}
static lm_layer *ctor_time_distributed(lms_interp *I, lms_args *a, const char *name) {
  return lm_layer_time_distributed(I->ctx, wrapped_arg(I, a), name);
}

static lm_layer *ctor_conv1d(lms_interp *I, lms_args *a, const char *name) {
  check_channels_last(I, a);
  lm_conv1d_opts o = {.strides = pos_int(I, a, 2, 1), .padding = lms_arg_str(a, 3, NULL),
                      .dilation_rate = pos_int(I, a, 5, 1), .activation = lms_arg_str(a, 6, NULL),
                      .no_bias = !lms_arg_bool(a, 7, true), .kernel_initializer = lms_arg_str(a, 8, NULL),
                      .bias_initializer = lms_arg_str(a, 9, NULL), .name = name};
  return lm_layer_conv1d(I->ctx, pos_int(I, a, 0, 0), pos_int(I, a, 1, 0), &o);
}

static lm_layer *ctor_pool1d(lms_interp *I, lms_args *a, const char *name, bool max) {
  check_channels_last(I, a);
  int ps = pos_int(I, a, 0, 2), st = lms_arg(a, 1) ? pos_int(I, a, 1, 0) : 0;
  const char *pad = lms_arg_str(a, 2, NULL);
  return max ? lm_layer_max_pooling1d(I->ctx, ps, st, pad, name) : lm_layer_average_pooling1d(I->ctx, ps, st, pad, name);
}
static lm_layer *ctor_max_pool1d(lms_interp *I, lms_args *a, const char *name) { return ctor_pool1d(I, a, name, true); }
static lm_layer *ctor_avg_pool1d(lms_interp *I, lms_args *a, const char *name) { return ctor_pool1d(I, a, name, false); }
static lm_layer *ctor_gmp1d(lms_interp *I, lms_args *a, const char *name) {
  check_channels_last(I, a);
  return lm_layer_global_max_pooling1d(I->ctx, name);
}
static lm_layer *ctor_gap1d(lms_interp *I, lms_args *a, const char *name) {
  check_channels_last(I, a);
  return lm_layer_global_average_pooling1d(I->ctx, name);
}

/* Keras class name, own arguments (positional order as in Keras 2.2), constructor. */
static const lms_layer_entry layers[] = {
    {"Dense", "units:i, activation:s?=, use_bias:b=, kernel_initializer:s?=, bias_initializer:s?=",
     ctor_dense},
    {"Activation", "activation:s", ctor_activation},
    {"Flatten", "data_format:s?=", ctor_flatten},
    {"Reshape", "target_shape:S", ctor_reshape},
    {"Dropout", "rate:f, noise_shape:x?=, seed:i?=", ctor_dropout},
    {"Add", "", ctor_add},
    {"Subtract", "", ctor_subtract},
    {"Multiply", "", ctor_multiply},
    {"Average", "", ctor_average},
    {"Maximum", "", ctor_maximum},
    {"Concatenate", "axis:i=", ctor_concatenate},
    {"Conv2D", CONV2D_SPEC, ctor_conv2d},
    {"Conv2DTranspose", CONV2D_SPEC, ctor_conv2d_transpose},
    {"SeparableConv2D", "filters:i, kernel_size:P, " SEP_SPEC, ctor_separable_conv2d},
    {"DepthwiseConv2D", "kernel_size:P, " SEP_SPEC, ctor_depthwise_conv2d},
    {"MaxPooling2D", "pool_size:P=, strides:P?=, padding:s=, data_format:s?=", ctor_max_pool2d},
    {"AveragePooling2D", "pool_size:P=, strides:P?=, padding:s=, data_format:s?=", ctor_avg_pool2d},
    {"GlobalAveragePooling2D", "data_format:s?=", ctor_gap2d},
    {"GlobalMaxPooling2D", "data_format:s?=", ctor_gmp2d},
    {"BatchNormalization",
     "axis:i=, momentum:f=, epsilon:f=, center:b=, scale:b=, beta_initializer:s?=, gamma_initializer:s?=, "
     "moving_mean_initializer:s?=, moving_variance_initializer:s?=",
     ctor_batchnorm},
    {"ZeroPadding2D", "padding:x=, data_format:s?=", ctor_zero_padding2d},
    {"Cropping2D", "cropping:x=, data_format:s?=", ctor_cropping2d},
    {"UpSampling2D", "size:P=, data_format:s?=, interpolation:s=", ctor_upsampling2d},
    {"LeakyReLU", "alpha:f=", ctor_leaky_relu},
    {"ReLU", "max_value:f?=, negative_slope:f=, threshold:f=", ctor_relu},
    {"Softmax", "axis:i=", ctor_softmax},
    {"Embedding",
     "input_dim:i, output_dim:i, embeddings_initializer:s?=, embeddings_regularizer:x?=, "
     "activity_regularizer:x?=, embeddings_constraint:x?=, mask_zero:b=, input_length:i?=",
     ctor_embedding},
    {"LSTM",
     "units:i, activation:s?=, recurrent_activation:s?=, use_bias:b=, kernel_initializer:s?=, "
     "recurrent_initializer:s?=, bias_initializer:s?=, unit_forget_bias:b=, dropout:f=, recurrent_dropout:f=, "
     "return_sequences:b=, return_state:b=, go_backwards:b=, stateful:b=",
     ctor_lstm},
    {"SimpleRNN",
     "units:i, activation:s?=, use_bias:b=, kernel_initializer:s?=, recurrent_initializer:s?=, "
     "bias_initializer:s?=, dropout:f=, recurrent_dropout:f=, return_sequences:b=, return_state:b=, "
     "go_backwards:b=, stateful:b=",
     ctor_simple_rnn},
    {"GRU",
     "units:i, activation:s?=, recurrent_activation:s?=, use_bias:b=, kernel_initializer:s?=, "
     "recurrent_initializer:s?=, bias_initializer:s?=, dropout:f=, recurrent_dropout:f=, return_sequences:b=, "
     "return_state:b=, go_backwards:b=, stateful:b=, reset_after:b=",
     ctor_gru},
    {"Bidirectional", "layer:x, merge_mode:s?=", ctor_bidirectional},
    {"TimeDistributed", "layer:x", ctor_time_distributed},
    {"Conv1D", "filters:i, kernel_size:i, strides:i=, padding:s=, data_format:s?=, dilation_rate:i=, "
               "activation:s?=, use_bias:b=, kernel_initializer:s?=, bias_initializer:s?=",
     ctor_conv1d},
    {"MaxPooling1D", "pool_size:i=, strides:i?=, padding:s=, data_format:s?=", ctor_max_pool1d},
    {"AveragePooling1D", "pool_size:i=, strides:i?=, padding:s=, data_format:s?=", ctor_avg_pool1d},
    {"GlobalMaxPooling1D", "data_format:s?=", ctor_gmp1d},
    {"GlobalAveragePooling1D", "data_format:s?=", ctor_gap1d},
};

const lms_layer_entry *lms_find_layer(const char *name) {
  for (size_t i = 0; i < sizeof layers / sizeof *layers; i++)
    if (strcmp(layers[i].name, name) == 0) return &layers[i];
  return NULL;
}

/* Keras layer classes lamina does not have (yet): a clearer message than "no attribute". */
static const char *const keras_layers_missing[] = {
    "Conv3D", "Lambda", "PReLU", "ELU",
    "Permute", "RepeatVector", "Masking", "SpatialDropout1D", "SpatialDropout2D",
    "GaussianNoise", "Dot", "Minimum", "Conv3DTranspose", "MaxPooling3D", "UpSampling1D",
    "ZeroPadding1D", "Cropping1D", "ActivityRegularization", "ThresholdedReLU", NULL};

/* ---- module functions (keras.c, array.c) ---------------------------------------- */

lms_value *lms_keras_layer_new(lms_interp *I, lms_value *self, lms_args *a);
lms_value *lms_keras_merge_fn(lms_interp *I, lms_value *self, lms_args *a);
lms_value *lms_keras_input(lms_interp *I, lms_value *self, lms_args *a);
lms_value *lms_keras_model(lms_interp *I, lms_value *self, lms_args *a);
lms_value *lms_keras_sequential(lms_interp *I, lms_value *self, lms_args *a);
lms_value *lms_keras_load_model(lms_interp *I, lms_value *self, lms_args *a);
lms_value *lms_keras_optimizer(lms_interp *I, lms_value *self, lms_args *a);
lms_value *lms_keras_to_categorical(lms_interp *I, lms_value *self, lms_args *a);
lms_value *lms_keras_clear_session(lms_interp *I, lms_value *self, lms_args *a);
lms_value *lms_fashion_mnist_load(lms_interp *I, lms_value *self, lms_args *a);
lms_value *lms_keras_history(lms_interp *I, lms_value *self, lms_args *a);
lms_value *lms_np_fn(lms_interp *I, lms_value *self, lms_args *a);
lms_value *lms_keras_callback(lms_interp *I, lms_value *self, lms_args *a);

typedef struct modfn {
  const char *module, *name;
  lms_builtin b;
} modfn;

#define OPT_SPEC                                                                              \
  "lr:f=, *, learning_rate:f=, momentum:f=, nesterov:b=, rho:f=, beta_1:f=, beta_2:f=, " \
  "epsilon:f?=, decay:f=, amsgrad:b=, clipnorm:f=, clipvalue:f="

static const modfn functions[] = {
    {"keras", "Input", {"Input", lms_keras_input, "shape:S?=, batch_shape:S?=, name:s?=, dtype:s?=, sparse:b=, tensor:x?=", NULL}},
    {"keras.layers", "Input", {"Input", lms_keras_input, "shape:S?=, batch_shape:S?=, name:s?=, dtype:s?=, sparse:b=, tensor:x?=", NULL}},
    {"keras", "Model", {"Model", lms_keras_model, "inputs:x=, outputs:x=, name:s?=, *, input:x=, output:x=", NULL}},
    {"keras.models", "Model", {"Model", lms_keras_model, "inputs:x=, outputs:x=, name:s?=, *, input:x=, output:x=", NULL}},
    {"keras", "Sequential", {"Sequential", lms_keras_sequential, "layers:l?=, name:s?=", NULL}},
    {"keras.models", "Sequential", {"Sequential", lms_keras_sequential, "layers:l?=, name:s?=", NULL}},
    {"keras.models", "load_model", {"load_model", lms_keras_load_model, "filepath:s, custom_objects:x?=, compile:b=", NULL}},
    {"keras.layers", "add", {"add", lms_keras_merge_fn, "inputs:l, *, name:s?=", "Add"}},
    {"keras.layers", "subtract", {"subtract", lms_keras_merge_fn, "inputs:l, *, name:s?=", "Subtract"}},
    {"keras.layers", "multiply", {"multiply", lms_keras_merge_fn, "inputs:l, *, name:s?=", "Multiply"}},
    {"keras.layers", "average", {"average", lms_keras_merge_fn, "inputs:l, *, name:s?=", "Average"}},
    {"keras.layers", "maximum", {"maximum", lms_keras_merge_fn, "inputs:l, *, name:s?=", "Maximum"}},
    {"keras.layers", "concatenate", {"concatenate", lms_keras_merge_fn, "inputs:l, axis:i=, *, name:s?=", "Concatenate"}},
    {"keras.optimizers", "SGD", {"SGD", lms_keras_optimizer, OPT_SPEC, "sgd"}},
    {"keras.optimizers", "RMSprop", {"RMSprop", lms_keras_optimizer, OPT_SPEC, "rmsprop"}},
    {"keras.optimizers", "Adam", {"Adam", lms_keras_optimizer, OPT_SPEC, "adam"}},
    {"keras.callbacks", "EarlyStopping", {"EarlyStopping", lms_keras_callback,
     "monitor:s=, min_delta:f=, patience:i=, verbose:i=, mode:s=, baseline:f?=, restore_best_weights:b=", "es"}},
    {"keras.callbacks", "ReduceLROnPlateau", {"ReduceLROnPlateau", lms_keras_callback,
     "monitor:s=, factor:f=, patience:i=, verbose:i=, mode:s=, min_delta:f=, cooldown:i=, min_lr:f=, epsilon:f?=", "rlr"}},
    {"keras.callbacks", "LearningRateScheduler", {"LearningRateScheduler", lms_keras_callback, "schedule:x, verbose:i=", "lrs"}},
    {"keras.callbacks", "CSVLogger", {"CSVLogger", lms_keras_callback, "filename:s, separator:s=, append:b=", "csv"}},
    {"keras.callbacks", "History", {"History", lms_keras_history, "", NULL}},
    {"keras.callbacks", "TerminateOnNaN", {"TerminateOnNaN", lms_keras_callback, "", "nan"}},
    {"keras.callbacks", "LambdaCallback", {"LambdaCallback", lms_keras_callback,
     "on_epoch_begin:x?=, on_epoch_end:x?=, on_batch_begin:x?=, on_batch_end:x?=, on_train_begin:x?=, on_train_end:x?=", "lambda"}},
    {"keras.callbacks", "ModelCheckpoint", {"ModelCheckpoint", lms_keras_callback,
     "filepath:s, monitor:s=, verbose:i=, save_best_only:b=, save_weights_only:b=, mode:s=, period:i=", "ckpt"}},
    {"keras.utils", "to_categorical", {"to_categorical", lms_keras_to_categorical, "y:x, num_classes:i?=, dtype:s=", NULL}},
    {"keras.backend", "clear_session", {"clear_session", lms_keras_clear_session, "", NULL}},
    {"keras.datasets.fashion_mnist", "load_data", {"fashion_mnist.load_data", lms_fashion_mnist_load, "", "fashion"}},
    {"keras.datasets.mnist", "load_data", {"mnist.load_data", lms_fashion_mnist_load, "", "mnist"}},
    {"numpy.random", "seed", {"np.random.seed", lms_np_fn, "seed:i?=", "seed"}},
    {"numpy.random", "random", {"np.random.random", lms_np_fn, "size:S?=", "random"}},
    {"numpy.random", "random_sample", {"np.random.random_sample", lms_np_fn, "size:S?=", "random"}},
    {"numpy.random", "rand", {"np.random.rand", lms_np_fn, NULL, "rand"}},
    {"numpy.random", "randn", {"np.random.randn", lms_np_fn, NULL, "randn"}},
    {"numpy.random", "randint", {"np.random.randint", lms_np_fn, "low:i, high:i?=, size:S?=, dtype:s=", "randint"}},
    {"numpy.random", "uniform", {"np.random.uniform", lms_np_fn, "low:f=, high:f=, size:S?=", "uniform"}},
    {"numpy.random", "normal", {"np.random.normal", lms_np_fn, "loc:f=, scale:f=, size:S?=", "normal"}},
    {"numpy.random", "shuffle", {"np.random.shuffle", lms_np_fn, "x:x", "shuffle"}},
    {"numpy", "zeros", {"np.zeros", lms_np_fn, "shape:S, dtype:s=", "zeros"}},
    {"numpy", "ones", {"np.ones", lms_np_fn, "shape:S, dtype:s=", "ones"}},
    {"numpy", "full", {"np.full", lms_np_fn, "shape:S, fill_value:f, dtype:s=", "full"}},
    {"numpy", "arange", {"np.arange", lms_np_fn, "start:f, stop:f?=, step:f=, dtype:s?=", "arange"}},
    {"numpy", "array", {"np.array", lms_np_fn, "object:x, dtype:s?=", "array"}},
    {"numpy", "asarray", {"np.asarray", lms_np_fn, "a:x, dtype:s?=", "array"}},
    {"numpy", "load", {"np.load", lms_np_fn, "file:s, allow_pickle:b=", "load"}},
    {"numpy", "save", {"np.save", lms_np_fn, "file:s, arr:x", "save"}},
    {"numpy", "loadtxt", {"np.loadtxt", lms_np_fn, "fname:s, dtype:s=, comments:s?=, delimiter:s?=, skiprows:i=", "loadtxt"}},
    {"numpy", "argmax", {"np.argmax", lms_np_fn, "a:x, axis:i?=", "argmax"}},
    {"numpy", "mean", {"np.mean", lms_np_fn, "a:x", "mean"}},
    {"numpy", "sum", {"np.sum", lms_np_fn, "a:x", "sum"}},
    {"numpy", "max", {"np.max", lms_np_fn, "a:x", "max"}},
    {"numpy", "min", {"np.min", lms_np_fn, "a:x", "min"}},
};

static const char *const loss_names[] = {
    "mean_squared_error", "mean_absolute_error", "categorical_crossentropy",
    "sparse_categorical_crossentropy", "binary_crossentropy", "mse", "mae", NULL};
static const char *const metric_names[] = {
    "accuracy", "acc", "mean_squared_error", "mean_absolute_error", "categorical_accuracy",
    "binary_accuracy", "sparse_categorical_accuracy", "mse", "mae", NULL};
static const char *const activation_names[] = {
    "relu", "sigmoid", "tanh", "softmax", "linear", "hard_sigmoid", "elu", "selu",
    "softplus", "softsign", NULL};
static const char *const dtype_names[] = {"float32", "float64", "float16", "int32", "int64",
                                          "int8", "int16", "uint8", "uint16", "bool_", NULL};

static bool in_list(const char *const *list, const char *name) {
  for (int i = 0; list[i]; i++)
    if (strcmp(list[i], name) == 0) return true;
  return false;
}

const lms_builtin *lms_find_builtin(const char *module, const char *name) {
  for (size_t i = 0; i < sizeof functions / sizeof *functions; i++)
    if (strcmp(functions[i].module, module) == 0 && strcmp(functions[i].name, name) == 0)
      return &functions[i].b;
  return NULL;
}

lms_value *lms_module_attr(lms_interp *I, const char *module, const char *name, const lms_node *at) {
  /* a submodule */
  size_t ml = strlen(module), nl = strlen(name);
  char *path = lms_alloc(I, ml + nl + 2);
  memcpy(path, module, ml);
  path[ml] = '.';
  memcpy(path + ml + 1, name, nl + 1);
  const char *canon = lms_canonical_module(I, path);
  if (canon) {
    lms_value *m = lms_new(I, V_MODULE);
    m->u.module = canon;
    return m;
  }
  const lms_builtin *b = lms_find_builtin(module, name);
  if (b) return lms_builtin_value(I, b, NULL);
  lms_value *hpv = lms_hp_module_attr(I, module, name, at); /* hp.*, math, load_digits */
  if (hpv) return hpv;
  if (strcmp(module, "keras.layers") == 0) {
    const lms_layer_entry *e = lms_find_layer(name);
    if (e) {
      lms_builtin *lb = lms_alloc(I, sizeof *lb);
      lb->name = e->name;
      lb->fn = lms_keras_layer_new;
      lb->data = e;
      return lms_builtin_value(I, lb, NULL);
    }
    if (in_list(keras_layers_missing, name))
      lms_fail(I, at, "keras.layers.%s is not available in lamina yet", name);
  }
  if (strcmp(module, "keras.losses") == 0 && in_list(loss_names, name)) return lms_cstr(I, name);
  if (strcmp(module, "keras.metrics") == 0 && in_list(metric_names, name)) return lms_cstr(I, name);
  if (strcmp(module, "keras.activations") == 0 && in_list(activation_names, name))
    return lms_cstr(I, name);
  if (strcmp(module, "numpy") == 0 && in_list(dtype_names, name)) return lms_cstr(I, name);
  if (strcmp(module, "numpy") == 0 && (strcmp(name, "float") == 0 || strcmp(name, "int") == 0))
    return lms_cstr(I, name[0] == 'f' ? "float64" : "int64");
  if (strcmp(module, "sys") == 0 && strcmp(name, "argv") == 0) {
    lms_value *l = lms_seq(I, V_LIST, 0);
    for (int i = 0; i < I->opts.argc; i++) lms_list_append(I, l, lms_cstr(I, I->opts.argv[i]));
    if (I->opts.argc == 0) lms_list_append(I, l, lms_cstr(I, I->src.name));
    return l;
  }
  if (strcmp(module, "keras.callbacks") == 0)
    lms_fail(I, at, "keras.callbacks.%s is not available in lamina yet", name);
  lms_fail(I, at, "module '%s' has no attribute '%s'%s", module, name,
           strncmp(module, "numpy", 5) == 0 ? " (lamina supports a small part of numpy; see docs/scripts.md)" : "");
}

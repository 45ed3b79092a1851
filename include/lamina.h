/*
 * lamina: deep learning in C with the Keras functional API.
 *
 * Everything starts from a context (lm_ctx). A context owns every object
 * created through it (tensors, layers, symbolic tensors, models, optimizers,
 * histories); lm_ctx_free releases whatever the caller did not free itself.
 *
 * Errors: calls return lm_status (LM_OK == 0) or a pointer that is NULL on
 * failure; the message is in lm_errmsg(ctx). Builders accept NULL inputs and
 * return NULL, so a chain of layer calls can be checked once at the end.
 * The library never exits or aborts on user input.
 */
#ifndef LAMINA_H
#define LAMINA_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define LAMINA_VERSION "0.1.0"

/* ---- status, dtypes, shapes ------------------------------------------- */

typedef enum lm_status {
  LM_OK = 0,
  LM_ERR_NOMEM,  /* an allocation failed */
  LM_ERR_ARG,    /* a bad argument (NULL, out of range, unknown name) */
  LM_ERR_SHAPE,  /* shapes do not fit together */
  LM_ERR_VALUE,  /* bad data: NaN/Inf, label out of range */
  LM_ERR_IO,     /* a file could not be read or written */
  LM_ERR_FORMAT, /* a file is malformed or corrupt */
  LM_ERR_STATE   /* call not valid now (e.g. fit before compile) */
} lm_status;

typedef enum lm_dtype { LM_FLOAT32 = 0, LM_INT32 = 1 } lm_dtype;

#define LM_MAX_DIMS 8
#define LM_NONE (-1) /* an unknown dimension, such as the batch */

typedef struct lm_ctx lm_ctx;
typedef struct lm_tensor lm_tensor;
typedef struct lm_layer lm_layer;
typedef struct lm_sym lm_sym;
typedef struct lm_model lm_model;
typedef struct lm_optimizer lm_optimizer;
typedef struct lm_history lm_history;

/* Lua-style allocator: nsize == 0 frees p; otherwise (re)allocates. */
typedef void *(*lm_alloc_fn)(void *ud, void *p, size_t osize, size_t nsize);
/* Receives every line of text the library prints (progress bars, summary). */
typedef void (*lm_log_fn)(void *ud, const char *text);

/* ---- context ------------------------------------------------------------ */

lm_ctx *lm_ctx_new(lm_alloc_fn alloc, void *ud); /* alloc NULL: malloc */
void lm_ctx_free(lm_ctx *ctx);
void lm_ctx_set_seed(lm_ctx *ctx, uint64_t seed);
void lm_ctx_set_threads(lm_ctx *ctx, int n_threads);
int lm_ctx_threads(const lm_ctx *ctx);
/* Output hook; default writes to stdout. fn NULL silences the library. */
void lm_ctx_set_log(lm_ctx *ctx, lm_log_fn fn, void *ud);
const char *lm_errmsg(const lm_ctx *ctx);
lm_status lm_errcode(const lm_ctx *ctx);
void lm_clear_error(lm_ctx *ctx);
/* Restart automatic layer names (dense_1 ...), like K.clear_session(). */
void lm_ctx_reset_names(lm_ctx *ctx);

/* ---- tensors (row-major, channels-last) ---------------------------------- */

lm_tensor *lm_tensor_new(lm_ctx *ctx, lm_dtype dtype, int ndim, const int64_t *shape);
lm_tensor *lm_tensor_from(lm_ctx *ctx, lm_dtype dtype, int ndim, const int64_t *shape,
                          const void *data);
lm_tensor *lm_tensor_copy(const lm_tensor *t);
void lm_tensor_free(lm_tensor *t);
lm_dtype lm_tensor_dtype(const lm_tensor *t);
int lm_tensor_ndim(const lm_tensor *t);
int64_t lm_tensor_dim(const lm_tensor *t, int axis);
const int64_t *lm_tensor_shape(const lm_tensor *t);
int64_t lm_tensor_size(const lm_tensor *t);
/* Writable access; NULL unless LM_FLOAT32 (_i32: LM_INT32). Each call marks the
 * tensor as possibly written: predict refolds a Conv2D+BatchNormalization pair
 * only after a call on one of its weights, so take the pointer again (after
 * the last predict) for every change, rather than keeping it across predicts. */
float *lm_tensor_f32(lm_tensor *t);
int32_t *lm_tensor_i32(lm_tensor *t); /* NULL unless LM_INT32 */
const void *lm_tensor_data(const lm_tensor *t);

/* .npy files (float32, float64 -> float32, int32, int64 -> int32, uint8). */
lm_tensor *lm_tensor_load_npy(lm_ctx *ctx, const char *path);
lm_status lm_tensor_save_npy(const lm_tensor *t, const char *path);

/* ---- symbolic tensors and layers ----------------------------------------- */

/* Input(shape=..., dtype=..., name=...): shape excludes the batch, may hold LM_NONE. */
lm_sym *lm_input(lm_ctx *ctx, int ndim, const int64_t *shape, lm_dtype dtype, const char *name);
int lm_sym_ndim(const lm_sym *s);             /* including the batch axis */
int64_t lm_sym_dim(const lm_sym *s, int axis); /* LM_NONE for the batch */
const char *lm_sym_name(const lm_sym *s);     /* "dense_1/BiasAdd:0" style: "<layer>[<node>][<i>]" */

/* Calling a layer on symbolic tensors. Calling one layer twice shares its weights. */
lm_sym *lm_layer_call(lm_layer *layer, lm_sym *x);
lm_sym *lm_layer_call_n(lm_layer *layer, int n, lm_sym *const *xs);
/* Layers with several outputs (LSTM/SimpleRNN with return_state): the calls
 * above return the first output; lm_sym_output(y, i) gives output i of the
 * call that made y (NULL past the last). lm_layer_call_multi writes up to
 * max_out outputs and returns how many the call has (-1 on error):
 *   lm_sym *o[3]; lm_layer_call_multi(lstm, 1, &x, 3, o);  // output, h, c */
lm_sym *lm_sym_output(const lm_sym *y, int i);
int lm_layer_call_multi(lm_layer *layer, int n, lm_sym *const *xs, int max_out, lm_sym **outs);
/* Keras' layer(x, initial_state=[h0, c0]) for LSTM (states h, c), GRU and SimpleRNN (h)
 * and Bidirectional (the forward layer's states, then the backward layer's): the states
 * are symbolic (batch, units) tensors, e.g. an encoder's return_state outputs, and get
 * gradients. The call's inputs are [x, states...] (summary, save/load), as Keras'; the
 * same as lm_layer_call_n(layer, 1 + n_states, {x, states...}). */
lm_sym *lm_layer_call_rnn(lm_layer *layer, lm_sym *x, int n_states, lm_sym *const *states);

const char *lm_layer_name(const lm_layer *l);
const char *lm_layer_class(const lm_layer *l);
void lm_layer_set_trainable(lm_layer *l, bool trainable);
bool lm_layer_trainable(const lm_layer *l);
/* Keras' input_shape= for the first layer of a Sequential model. Returns l. */
lm_layer *lm_layer_set_input_shape(lm_layer *l, int ndim, const int64_t *shape, lm_dtype dtype);
int lm_layer_n_weights(const lm_layer *l);           /* 0 until built */
/* kernel, bias, ... (Keras order): the layer's own tensor. To change it in place,
 * write through lm_tensor_f32 taken after the last predict (see lm_tensor_f32). */
lm_tensor *lm_layer_weight(lm_layer *l, int i);
const char *lm_layer_weight_name(const lm_layer *l, int i); /* "dense_1/kernel:0" */
int64_t lm_layer_count_params(const lm_layer *l);

/* Layer constructors. Options may be NULL for Keras' defaults; a zeroed field
 * means the Keras default. name NULL gives the automatic name. */
typedef struct lm_dense_opts {
  const char *activation;         /* NULL = linear */
  bool no_bias;                   /* use_bias=False */
  const char *kernel_initializer; /* NULL = "glorot_uniform" */
  const char *bias_initializer;   /* NULL = "zeros" */
  const char *name;
} lm_dense_opts;

lm_layer *lm_layer_dense(lm_ctx *ctx, int units, const lm_dense_opts *opts);
lm_layer *lm_layer_activation(lm_ctx *ctx, const char *activation, const char *name);
lm_layer *lm_layer_flatten(lm_ctx *ctx, const char *name);
/* target_shape excludes the batch; one entry may be -1. */
lm_layer *lm_layer_reshape(lm_ctx *ctx, int ndim, const int64_t *target_shape, const char *name);
lm_layer *lm_layer_dropout(lm_ctx *ctx, float rate, const char *name);
lm_layer *lm_layer_add(lm_ctx *ctx, const char *name);
lm_layer *lm_layer_subtract(lm_ctx *ctx, const char *name);
lm_layer *lm_layer_multiply(lm_ctx *ctx, const char *name);
lm_layer *lm_layer_average(lm_ctx *ctx, const char *name);
lm_layer *lm_layer_maximum(lm_ctx *ctx, const char *name);
lm_layer *lm_layer_concatenate(lm_ctx *ctx, int axis, const char *name);

/* Keras' lowercase helpers: make the layer and call it. */
lm_sym *lm_add(lm_ctx *ctx, int n, lm_sym *const *xs);
lm_sym *lm_subtract(lm_ctx *ctx, int n, lm_sym *const *xs);
lm_sym *lm_multiply(lm_ctx *ctx, int n, lm_sym *const *xs);
lm_sym *lm_average(lm_ctx *ctx, int n, lm_sym *const *xs);
lm_sym *lm_maximum(lm_ctx *ctx, int n, lm_sym *const *xs);
lm_sym *lm_concatenate(lm_ctx *ctx, int n, lm_sym *const *xs, int axis);

/* ---- convolution, pooling, batch normalisation, IDX files [issue 4,
 * src/layers/conv2d.c, pooling.c, batchnorm.c, src/data/idx.c] ------------
 *
 * Channels-last (NHWC), Keras 2.2.4 arguments, defaults, names and weights:
 *   Conv2D: kernel (kh, kw, Cin, filters), bias (filters); cross-correlation;
 *     padding "valid" or "same" (TF rule: the extra pixel goes bottom/right).
 *   MaxPooling2D / AveragePooling2D: pool 0 = 2, strides 0 = the pool size;
 *     'same' average pooling divides by the real (unpadded) cells only.
 *   GlobalAveragePooling2D / GlobalMaxPooling2D: (N, H, W, C) -> (N, C).
 *   BatchNormalization: gamma, beta (trainable), moving_mean,
 *     moving_variance (non-trainable, saved); training uses the batch
 *     statistics and updates the moving ones by a plain EMA (momentum 0.99),
 *     the variance with Keras' m / (m - (1 + eps)) correction; inference uses
 *     the moving statistics.
 * A zeroed field takes the Keras default. */
typedef struct lm_conv2d_opts {
  int strides[2];         /* 0 = 1 */
  const char *padding;    /* NULL = "valid" */
  int dilation_rate[2];   /* 0 = 1 */
  const char *activation; /* NULL = linear */
  bool no_bias;           /* use_bias=False */
  const char *kernel_initializer; /* NULL = "glorot_uniform" */
  const char *bias_initializer;   /* NULL = "zeros" */
  const char *name;
} lm_conv2d_opts;
lm_layer *lm_layer_conv2d(lm_ctx *ctx, int filters, int kh, int kw, const lm_conv2d_opts *opts);

typedef struct lm_pool2d_opts {
  int strides[2];      /* 0 = pool size */
  const char *padding; /* NULL = "valid" */
  const char *name;
} lm_pool2d_opts;
lm_layer *lm_layer_max_pooling2d(lm_ctx *ctx, int ph, int pw, const lm_pool2d_opts *opts);
lm_layer *lm_layer_average_pooling2d(lm_ctx *ctx, int ph, int pw, const lm_pool2d_opts *opts);
lm_layer *lm_layer_global_average_pooling2d(lm_ctx *ctx, const char *name);
lm_layer *lm_layer_global_max_pooling2d(lm_ctx *ctx, const char *name);

typedef struct lm_batchnorm_opts {
  int axis;       /* 0 = -1 (the last axis); negative counts from the end */
  float momentum; /* 0 = 0.99 */
  float epsilon;  /* 0 = 1e-3 */
  bool no_center; /* center=False: no beta */
  bool no_scale;  /* scale=False: no gamma */
  const char *beta_initializer;            /* NULL = "zeros" */
  const char *gamma_initializer;           /* NULL = "ones" */
  const char *moving_mean_initializer;     /* NULL = "zeros" */
  const char *moving_variance_initializer; /* NULL = "ones" */
  const char *name;
} lm_batchnorm_opts;
lm_layer *lm_layer_batch_normalization(lm_ctx *ctx, const lm_batchnorm_opts *opts);

/* An IDX file (MNIST format; a name ending in .gz is inflated) as a float32
 * tensor of its dims, values unscaled. max_items > 0 keeps the first items
 * only. Errors name the file. */
lm_tensor *lm_tensor_load_idx(lm_ctx *ctx, const char *path, int64_t max_items);

/* ---- depthwise/separable/transposed convolution, padding, cropping,
 * upsampling, ReLU-family layers [issue 4, src/layers/depthwise.c,
 * conv_transpose.c, spatial.c, relu.c] ----
 *
 * Channels-last (NHWC), Keras 2.2.4 arguments, defaults, names and weights:
 *   DepthwiseConv2D: depthwise_kernel (kh, kw, C, dm), bias (C*dm);
 *   SeparableConv2D: depthwise_kernel (kh, kw, C, dm), pointwise_kernel
 *     (1, 1, C*dm, filters), bias (filters); the depthwise output channel is
 *     c*dm + m, then the 1x1 convolution, bias and activation.
 * padding "valid" or "same" (TF rule: the extra pixel goes to the bottom/right).
 * A zeroed field takes the Keras default. */
typedef struct lm_separable_opts {
  int strides[2];            /* 0 = 1 */
  const char *padding;       /* NULL = "valid" */
  int dilation_rate[2];      /* 0 = 1 */
  int depth_multiplier;      /* 0 = 1 */
  const char *activation;    /* NULL = linear */
  bool no_bias;              /* use_bias=False */
  const char *depthwise_initializer; /* NULL = "glorot_uniform" */
  const char *pointwise_initializer; /* NULL = "glorot_uniform" (SeparableConv2D) */
  const char *bias_initializer;      /* NULL = "zeros" */
  const char *name;
} lm_separable_opts;
lm_layer *lm_layer_depthwise_conv2d(lm_ctx *ctx, int kh, int kw, const lm_separable_opts *opts);
lm_layer *lm_layer_separable_conv2d(lm_ctx *ctx, int filters, int kh, int kw,
                                    const lm_separable_opts *opts);
/* ZeroPadding2D(padding=((top, bottom), (left, right))) and Cropping2D(cropping=...). */
lm_layer *lm_layer_zero_padding2d(lm_ctx *ctx, int top, int bottom, int left, int right,
                                  const char *name);
lm_layer *lm_layer_cropping2d(lm_ctx *ctx, int top, int bottom, int left, int right,
                              const char *name);
/* UpSampling2D(size=(sh, sw)), interpolation 'nearest'. */
lm_layer *lm_layer_upsampling2d(lm_ctx *ctx, int sh, int sw, const char *name);
/* LeakyReLU(alpha): pass 0.3f for Keras' default (alpha 0 is a plain ReLU). */
lm_layer *lm_layer_leaky_relu(lm_ctx *ctx, float alpha, const char *name);
/* ReLU(max_value=None, negative_slope=0, threshold=0). */
typedef struct lm_relu_opts {
  bool has_max_value;
  float max_value;
  float negative_slope;
  float threshold;
  const char *name;
} lm_relu_opts;
lm_layer *lm_layer_relu(lm_ctx *ctx, const lm_relu_opts *opts);
/* Softmax(axis=-1); axis counts the batch axis (negative from the end). */
lm_layer *lm_layer_softmax(lm_ctx *ctx, int axis, const char *name);
/* Conv2DTranspose(filters, kernel_size, ...): kernel (kh, kw, filters, Cin),
 * bias (filters); output size (Keras deconv_length) valid H*s + max(dk - s, 0),
 * same H*s. output_padding is not supported. */
typedef struct lm_conv2d_transpose_opts {
  int strides[2];                 /* 0 = 1 */
  const char *padding;            /* NULL = "valid" */
  int dilation_rate[2];           /* 0 = 1 */
  const char *activation;         /* NULL = linear */
  bool no_bias;                   /* use_bias=False */
  const char *kernel_initializer; /* NULL = "glorot_uniform" */
  const char *bias_initializer;   /* NULL = "zeros" */
  const char *name;
} lm_conv2d_transpose_opts;
lm_layer *lm_layer_conv2d_transpose(lm_ctx *ctx, int filters, int kh, int kw,
                                    const lm_conv2d_transpose_opts *opts);

/* ---- sequence layers [issue 5, src/layers/embedding.c, lstm.c, simple_rnn.c, conv1d.c]
 *
 * Keras 2.2.4 arguments, defaults, weight names and layouts; a zeroed
 * option field takes the Keras default.
 *   Embedding: embeddings (input_dim, output_dim), initializer "uniform".
 *     Takes int32 ids (or float32 holding integers); an id outside
 *     [0, input_dim) fails fit/evaluate/predict with a message naming the
 *     layer, the index, its position and the sample.
 *   LSTM: kernel (d, 4u), recurrent_kernel (u, 4u) "orthogonal", bias (4u),
 *     gate blocks i, f, c, o; recurrent_activation "hard_sigmoid";
 *     unit_forget_bias sets the f block of the bias to 1.
 * mask_zero: a recurrent layer fed by an Embedding(mask_zero=True) skips the
 * steps whose id is 0 (keeps its state, repeats its last output); the mask
 * passes on through recurrent layers with return_sequences, Bidirectional,
 * TimeDistributed, Dropout and the merges (Add, Concatenate, ...: the AND of
 * their inputs' masks), as in Keras. */
typedef struct lm_embedding_opts {
  const char *embeddings_initializer; /* NULL = "uniform" */
  bool mask_zero;
  int input_length; /* 0 = None */
  const char *name;
} lm_embedding_opts;
lm_layer *lm_layer_embedding(lm_ctx *ctx, int input_dim, int output_dim,
                             const lm_embedding_opts *opts);

typedef struct lm_rnn_opts {
  const char *activation;           /* NULL = "tanh" */
  const char *recurrent_activation; /* NULL = "hard_sigmoid" (LSTM) */
  bool no_bias;                     /* use_bias=False */
  bool no_unit_forget_bias;         /* unit_forget_bias=False (LSTM) */
  bool no_reset_after;              /* reset_after=False (GRU; default True as tf.keras) */
  bool return_sequences;
  bool return_state; /* outputs [output, h, c] (LSTM), [output, h] (GRU, SimpleRNN) */
  bool go_backwards;
  float dropout, recurrent_dropout; /* Keras masks: one per sample, fixed over the steps */
  const char *kernel_initializer;    /* NULL = "glorot_uniform" */
  const char *recurrent_initializer; /* NULL = "orthogonal" */
  const char *bias_initializer;      /* NULL = "zeros" */
  const char *name;
} lm_rnn_opts;
lm_layer *lm_layer_lstm(lm_ctx *ctx, int units, const lm_rnn_opts *opts);
/* SimpleRNN: kernel (d, u), recurrent_kernel (u, u) "orthogonal", bias (u);
 * recurrent_activation and unit_forget_bias are ignored. */
lm_layer *lm_layer_simple_rnn(lm_ctx *ctx, int units, const lm_rnn_opts *opts);
/* GRU [src/layers/gru.c]: kernel (d, 3u), recurrent_kernel (u, 3u) "orthogonal", gate
 * blocks z, r, h; recurrent_activation "hard_sigmoid" (as LSTM, Keras 2.2.4);
 * reset_after=True (tf.keras' default, PyTorch's GRU): bias (2, 3u), input row then
 * recurrent row, params 3*(u*(d+u) + 2u); reset_after=False (Keras 2.2.4): bias (3u),
 * params 3*(u*(d+u) + u). unit_forget_bias is ignored. */
lm_layer *lm_layer_gru(lm_ctx *ctx, int units, const lm_rnn_opts *opts);
/* Recurrent wrappers [src/layers/wrappers.c]. Both take over `layer`, which must
 * not have been called yet (its weights appear under the wrapper's name).
 *   Bidirectional(layer, merge_mode): layer an LSTM, GRU or SimpleRNN; runs it
 *     forwards ("forward_<name>") and a copy with go_backwards flipped
 *     ("backward_<name>"; its sequence output is put back in time order) and
 *     merges them: merge_mode NULL or "concat", "sum", "mul", "ave"; "none" (Keras'
 *     None) gives two outputs, forward then backward (lm_layer_call_multi). A layer
 *     with return_state gives [output, h_fw, (c_fw,) h_bw, (c_bw)] (Keras 2.2.4).
 *     Weights "bidirectional_1/forward_lstm_1/kernel:0", ... forward first.
 *   TimeDistributed(layer): applies layer to every step of (N, T, ...), the
 *     same weights for all steps ("time_distributed_1/kernel:0"). */
lm_layer *lm_layer_bidirectional(lm_ctx *ctx, lm_layer *layer, const char *merge_mode,
                                 const char *name);
lm_layer *lm_layer_time_distributed(lm_ctx *ctx, lm_layer *layer, const char *name);

/* Conv1D: kernel (kernel_size, channels, filters), bias (filters); padding
 * "valid", "same" (extra step on the right) or "causal" (all on the left).
 * Pooling: pool_size 0 = 2, strides 0 = pool_size, padding NULL = "valid";
 * AveragePooling1D 'same' leaves the padding out of the divisor. The global
 * poolings take max / mean over the steps: (N, steps, C) -> (N, C). */
typedef struct lm_conv1d_opts {
  int strides;               /* 0 = 1 */
  const char *padding;       /* NULL = "valid" */
  int dilation_rate;         /* 0 = 1 */
  const char *activation;    /* NULL = linear */
  bool no_bias;              /* use_bias=False */
  const char *kernel_initializer; /* NULL = "glorot_uniform" */
  const char *bias_initializer;   /* NULL = "zeros" */
  const char *name;
} lm_conv1d_opts;
lm_layer *lm_layer_conv1d(lm_ctx *ctx, int filters, int kernel_size, const lm_conv1d_opts *opts);
lm_layer *lm_layer_max_pooling1d(lm_ctx *ctx, int pool_size, int strides, const char *padding,
                                 const char *name);
lm_layer *lm_layer_average_pooling1d(lm_ctx *ctx, int pool_size, int strides,
                                     const char *padding, const char *name);
lm_layer *lm_layer_global_max_pooling1d(lm_ctx *ctx, const char *name);
lm_layer *lm_layer_global_average_pooling1d(lm_ctx *ctx, const char *name);

/* ---- models ---------------------------------------------------------------- */

lm_model *lm_model_new(lm_ctx *ctx, int n_inputs, lm_sym *const *inputs, int n_outputs,
                       lm_sym *const *outputs, const char *name);
lm_model *lm_sequential_new(lm_ctx *ctx, const char *name);
lm_status lm_sequential_add(lm_model *m, lm_layer *layer);
void lm_model_free(lm_model *m);

lm_ctx *lm_model_ctx(const lm_model *m);
const char *lm_model_name(const lm_model *m);
int lm_model_n_layers(const lm_model *m);
lm_layer *lm_model_layer(lm_model *m, int i);
lm_layer *lm_model_get_layer(lm_model *m, const char *name);
int lm_model_n_inputs(const lm_model *m);
int lm_model_n_outputs(const lm_model *m);
const char *lm_model_input_name(const lm_model *m, int i);
const char *lm_model_output_name(const lm_model *m, int i);
/* which: 0 all, 1 trainable, 2 non-trainable. Shared weights count once. */
int64_t lm_model_count_params(const lm_model *m, int which);
/* Keras 2 summary text. fn NULL: the context's log hook. */
lm_status lm_model_summary(lm_model *m, lm_log_fn fn, void *ud);

/* ---- training ---------------------------------------------------------------- */

typedef struct lm_optimizer_opts {
  float lr;        /* 0 = Keras default (SGD 0.01, RMSprop 0.001, Adam 0.001) */
  float momentum;  /* SGD */
  bool nesterov;   /* SGD */
  float rho;       /* RMSprop, 0 = 0.9 */
  float beta_1;    /* Adam, 0 = 0.9 */
  float beta_2;    /* Adam, 0 = 0.999 */
  float epsilon;   /* 0 = 1e-7 */
  float decay;     /* lr / (1 + decay * iterations) */
  bool amsgrad;    /* Adam */
  float clipnorm;  /* 0 = off; global norm over all gradients (Keras 2.2) */
  float clipvalue; /* 0 = off */
} lm_optimizer_opts;

lm_optimizer *lm_optimizer_sgd(lm_ctx *ctx, const lm_optimizer_opts *opts);
lm_optimizer *lm_optimizer_rmsprop(lm_ctx *ctx, const lm_optimizer_opts *opts);
lm_optimizer *lm_optimizer_adam(lm_ctx *ctx, const lm_optimizer_opts *opts);
/* "sgd", "rmsprop", "adam" (case-insensitive) with defaults. */
lm_optimizer *lm_optimizer_by_name(lm_ctx *ctx, const char *name);
void lm_optimizer_free(lm_optimizer *opt);
float lm_optimizer_lr(const lm_optimizer *opt);
void lm_optimizer_set_lr(lm_optimizer *opt, float lr);
int64_t lm_optimizer_iterations(const lm_optimizer *opt);

typedef struct lm_compile_opts {
  lm_optimizer *optimizer;    /* the model takes it over; NULL: optimizer_name */
  const char *optimizer_name; /* NULL = "rmsprop" */
  /* losses: one for all outputs (n_losses 1, loss_outputs NULL), a list in
   * output order, or keyed by output name (loss_outputs[i] names losses[i]). */
  int n_losses;
  const char *const *losses;
  const char *const *loss_outputs;
  int n_loss_weights; /* 0 = all 1.0 */
  const float *loss_weights;
  const char *const *loss_weight_outputs;
  int n_metrics; /* "acc"/"accuracy", "mae", "mse", ... for every output */
  const char *const *metrics;
} lm_compile_opts;

lm_status lm_model_compile(lm_model *m, const lm_compile_opts *opts);
lm_optimizer *lm_model_optimizer(lm_model *m);
/* Keys of every log: loss, <out>_loss ..., metrics (Keras 2.2 names). */
int lm_model_n_metrics(const lm_model *m);
const char *lm_model_metric_name(const lm_model *m, int i);

/* Arrays fed to fit/evaluate/predict: a list in model order (names NULL)
 * or keyed by input/output name. */
typedef struct lm_data {
  int n;
  lm_tensor *const *arrays;
  const char *const *names;
} lm_data;

typedef struct lm_fit_opts {
  int batch_size; /* default 32 */
  int epochs;     /* default 1 */
  int verbose;    /* 0 silent, 1 progress bar, 2 one line per epoch */
  bool shuffle;
  float validation_split;
  const lm_data *val_x, *val_y; /* validation_data, takes precedence */
  int initial_epoch;
  /* [issue 6] callbacks run after BaseLogger and the progress bar, before
   * History, in this order; resume_from: a training checkpoint to continue
   * from (see lm_callback_checkpoint), NULL for none. */
  struct lm_callback *const *callbacks;
  int n_callbacks;
  const char *resume_from;
} lm_fit_opts;

#define LM_FIT_DEFAULTS                                                                  \
  { .batch_size = 32, .epochs = 1, .verbose = 1, .shuffle = true, .validation_split = 0.0f, \
    .val_x = NULL, .val_y = NULL, .initial_epoch = 0, .callbacks = NULL, .n_callbacks = 0, \
    .resume_from = NULL }

/* opts NULL = LM_FIT_DEFAULTS. Returns a History (owned by the context). */
lm_history *lm_model_fit(lm_model *m, const lm_data *x, const lm_data *y, const lm_fit_opts *opts);
/* Writes lm_model_n_metrics(m) values into out (loss first). */
lm_status lm_model_evaluate(lm_model *m, const lm_data *x, const lm_data *y, int batch_size,
                            int verbose, double *out);
/* One gradient step on one batch (Keras train_on_batch). logs (or NULL)
 * receives lm_model_n_metrics(m) values computed before the update. */
lm_status lm_model_train_on_batch(lm_model *m, const lm_data *x, const lm_data *y, double *logs);
/* outs receives lm_model_n_outputs(m) new tensors (caller frees). */
lm_status lm_model_predict(lm_model *m, const lm_data *x, int batch_size, lm_tensor **outs);
/* predict and predict_on_batch need no compile (Keras): they run an inference
 * plan the model builds on first use and keeps (dropout off, batchnorm with its
 * moving statistics); evaluate, fit and train_on_batch need compile.
 * predict_on_batch: all of x as one batch. */
lm_status lm_model_predict_on_batch(lm_model *m, const lm_data *x, lm_tensor **outs);

int lm_history_n_epochs(const lm_history *h);
int lm_history_n_keys(const lm_history *h);
const char *lm_history_key(const lm_history *h, int i);
const double *lm_history_get(const lm_history *h, const char *key); /* NULL if absent */
void lm_history_free(lm_history *h);

/* ---- callbacks (Keras 2.2.4 keras/callbacks.py) [issue 6] ------------------------------
 *
 * fit calls every hook on [BaseLogger, progress bar, callbacks..., History] in
 * that order: on_train_begin; per epoch (0-based) on_epoch_begin, per batch
 * on_batch_begin / on_batch_end (logs: batch, size and this batch's own loss
 * and metrics), then on_epoch_end (logs: the epoch's sample-weighted means and
 * val_* after validation); on_train_end. A hook that returns non-LM_OK stops
 * fit, which returns NULL with the context's error. lm_model_stop_training is
 * Keras' model.stop_training = True: fit leaves the batch loop, skips that
 * epoch's validation, still runs on_epoch_end, then on_train_end.
 * Built-in callbacks are owned by the context (or freed with
 * lm_callback_free); a user callback is a caller-owned lm_callback whose vt
 * points at a static table. See docs/training.md. */
typedef struct lm_logs lm_logs; /* key -> double, in insertion order */
int lm_logs_n(const lm_logs *l);
const char *lm_logs_key(const lm_logs *l, int i);
double lm_logs_value(const lm_logs *l, int i);
bool lm_logs_get(const lm_logs *l, const char *key, double *value); /* false if absent */
lm_status lm_logs_set(lm_logs *l, const char *key, double value);   /* adds or replaces */

typedef struct lm_fit_params { /* Keras' callback.params */
  int batch_size, epochs, verbose;
  int64_t samples;
  bool do_validation;
  int n_metrics; /* keys of the epoch logs: loss, metrics, then val_* */
  const char *const *metrics;
} lm_fit_params;

typedef struct lm_callback lm_callback;
typedef struct lm_callback_vt {
  const char *name; /* class name, e.g. "EarlyStopping" */
  /* Any hook may be NULL. */
  lm_status (*on_train_begin)(lm_callback *cb, lm_logs *logs);
  lm_status (*on_train_end)(lm_callback *cb, lm_logs *logs);
  lm_status (*on_epoch_begin)(lm_callback *cb, int epoch, lm_logs *logs);
  lm_status (*on_epoch_end)(lm_callback *cb, int epoch, lm_logs *logs);
  lm_status (*on_batch_begin)(lm_callback *cb, int batch, lm_logs *logs);
  lm_status (*on_batch_end)(lm_callback *cb, int batch, lm_logs *logs);
  /* State kept in training checkpoints (best value, wait counters): write at
   * most cap values to out and return how many; restore from n values. */
  int (*get_state)(const lm_callback *cb, double *out, int cap);
  lm_status (*set_state)(lm_callback *cb, const double *vals, int n);
  void (*destroy)(lm_callback *cb); /* built-ins only; NULL for user callbacks */
} lm_callback_vt;

struct lm_callback {
  const lm_callback_vt *vt;
  void *ud;                     /* yours */
  lm_model *model;              /* set by fit (set_model) */
  const lm_fit_params *params;  /* set by fit (set_params); valid during fit */
};

/* Keras' model.stop_training = True, from a callback. */
void lm_model_stop_training(lm_model *m);
/* Frees a built-in callback (NULL ok; user callbacks are yours to free). */
void lm_callback_free(lm_callback *cb);

/* mode: NULL or "auto", "min", "max". monitor NULL: "val_loss". */
typedef struct lm_early_stopping_opts {
  const char *monitor;
  double min_delta;
  int patience;
  int verbose;
  const char *mode;
  bool has_baseline;
  double baseline;
  bool restore_best_weights;
} lm_early_stopping_opts;
lm_callback *lm_callback_early_stopping(lm_ctx *ctx, const lm_early_stopping_opts *opts);

/* opts NULL: Keras' defaults (factor 0.1, patience 10, min_delta 1e-4,
 * cooldown 0, min_lr 0). With opts, factor 0 means 0.1 and min_delta 0 means
 * 1e-4 (set no_min_delta for 0); patience is taken as given, 0 included. */
typedef struct lm_reduce_lr_opts {
  const char *monitor;
  double factor;
  int patience;
  int verbose;
  const char *mode;
  double min_delta;
  bool no_min_delta;
  int cooldown;
  double min_lr;
} lm_reduce_lr_opts;
lm_callback *lm_callback_reduce_lr_on_plateau(lm_ctx *ctx, const lm_reduce_lr_opts *opts);

/* schedule(epoch (0-based), current lr, ud) -> new lr. */
typedef double (*lm_lr_schedule_fn)(int epoch, double lr, void *ud);
lm_callback *lm_callback_lr_scheduler(lm_ctx *ctx, lm_lr_schedule_fn fn, void *ud, int verbose);

/* separator NULL: ",". Rows end in "\r\n"; columns epoch then sorted keys. */
lm_callback *lm_callback_csv_logger(lm_ctx *ctx, const char *filename, const char *separator,
                                    bool append);
lm_callback *lm_callback_terminate_on_nan(lm_ctx *ctx);

/* filepath is a Python format template: {epoch:02d} (1-based), {val_loss:.2f},
 * any log key; specs [0][width][.precision][d|f|e|g|E|G|s]. period 0 = 1. */
typedef struct lm_model_checkpoint_opts {
  const char *monitor;
  int verbose;
  bool save_best_only;
  bool save_weights_only;
  const char *mode;
  int period;
} lm_model_checkpoint_opts;
lm_callback *lm_callback_model_checkpoint(lm_ctx *ctx, const char *filepath,
                                          const lm_model_checkpoint_opts *opts);

/* A training checkpoint for resuming (lm_fit_opts.resume_from): weights,
 * optimizer slots and iterations, epoch and batch position, the shuffled
 * order, RNG state and every callback's state, in one safetensors file
 * written atomically, with its data size and CRC-32 in the metadata. Written
 * at every epoch end, and every every_n_batches batches when > 0. */
lm_callback *lm_callback_checkpoint(lm_ctx *ctx, const char *path, int every_n_batches);
/* LM_OK when path is a complete, uncorrupted training checkpoint. */
lm_status lm_checkpoint_verify(lm_ctx *ctx, const char *path);

/* keras.callbacks.<keras_name>(*args, **kwargs) with Keras 2.2.4's parameter
 * order and defaults, for model scripts: EarlyStopping, ReduceLROnPlateau
 * (epsilon= alias), CSVLogger, ModelCheckpoint, TerminateOnNaN. An argument
 * with key NULL is positional. Unknown names and keywords, duplicates and
 * wrong types fail with Python's wording. (LearningRateScheduler takes a
 * function: lm_callback_lr_scheduler.) */
typedef enum lm_kwarg_type { LM_KW_NONE, LM_KW_NUM, LM_KW_STR, LM_KW_BOOL } lm_kwarg_type;
typedef struct lm_kwarg {
  const char *key; /* NULL: positional */
  lm_kwarg_type type;
  double num;
  const char *str;
  bool b;
} lm_kwarg;
lm_callback *lm_callback_by_name(lm_ctx *ctx, const char *keras_name, int n_args,
                                 const lm_kwarg *args);

/* ---- files --------------------------------------------------------------------- */

/* One safetensors file: weights named like Keras (dense_1/kernel:0) and the
 * architecture in __metadata__. Written to a temporary file renamed into place. */
lm_status lm_model_save(lm_model *m, const char *path);
lm_model *lm_model_load(lm_ctx *ctx, const char *path);
lm_status lm_model_save_weights(lm_model *m, const char *path);
lm_status lm_model_load_weights(lm_model *m, const char *path);

/* ---- hyperparameter tuning (src/tune/) ------------------------------------
 * A search space is a flat list of named parameters in the spirit of
 * Hyperopt's hp.*; a parameter may be active only when an earlier choice
 * takes one option (conditional / nested spaces). A study runs an algorithm
 * (random, grid, TPE as in Hyperopt, a genetic algorithm) over the space,
 * calling an objective; every trial lives in a SQLite file (or in memory), so
 * a study resumes after a crash and several processes can share one file.
 * Loss is minimised unless lm_tune_opts.maximize. Docs: docs/tuning.md. */

typedef struct lm_space lm_space;
typedef struct lm_study lm_study;
typedef struct lm_trial lm_trial;

lm_space *lm_space_new(lm_ctx *ctx);
void lm_space_free(lm_space *s);
/* Each returns the parameter's id (>= 0), or -1 with the error in the context.
 * Bounds are in value space (loguniform(1e-5, 1), unlike Hyperopt's log bounds);
 * quantised values are round(x / q) * q; randint draws integers in [low, high). */
int lm_space_choice(lm_space *s, const char *name, int n_options, const char *const *options);
int lm_space_uniform(lm_space *s, const char *name, double low, double high);
int lm_space_quniform(lm_space *s, const char *name, double low, double high, double q);
int lm_space_loguniform(lm_space *s, const char *name, double low, double high);
int lm_space_qloguniform(lm_space *s, const char *name, double low, double high, double q);
int lm_space_normal(lm_space *s, const char *name, double mu, double sigma);
int lm_space_randint(lm_space *s, const char *name, int64_t low, int64_t high);
/* Make param active only when the choice parent (declared earlier) takes option. */
lm_status lm_space_only_if(lm_space *s, int param, int parent, int option);
int lm_space_n_params(const lm_space *s);

typedef enum lm_tune_algo { LM_TUNE_RANDOM = 0, LM_TUNE_GRID, LM_TUNE_TPE, LM_TUNE_GA } lm_tune_algo;
typedef enum lm_prune_kind { LM_PRUNE_NONE = 0, LM_PRUNE_MEDIAN, LM_PRUNE_SHA } lm_prune_kind;
typedef enum lm_trial_status {
  LM_TRIAL_RUNNING = 0, LM_TRIAL_COMPLETE, LM_TRIAL_PRUNED, LM_TRIAL_FAILED,
  LM_TRIAL_ABANDONED /* its worker died; the study runs another in its place */
} lm_trial_status;

typedef struct lm_tune_opts {
  lm_tune_algo algo;
  uint64_t seed;          /* with the trial number, fixes each trial's random draws */
  bool maximize;          /* the objective's value is a score to maximise */
  int verbose;            /* 1: one table row per finished trial through the log hook */
  /* TPE (Hyperopt defaults) */
  int tpe_startup;        /* 20: random trials before the model takes over */
  int tpe_candidates;     /* 24: draws from l(x) scored by log l - log g */
  double tpe_gamma;       /* 0.25 */
  bool tpe_gamma_linear;  /* false: below = ceil(gamma*sqrt(N)) (Hyperopt); true: ceil(gamma*N) (Optuna) */
  bool tpe_optuna_parzen; /* false: Hyperopt's model; true: Optuna 3.1's TPESampler model
                           * (its Parzen estimators, scores and split; docs/tuning.md) */
  double tpe_prior_weight;/* 1.0 */
  int tpe_lf;             /* 25: linear forgetting; also caps the below set */
  /* grid */
  int grid_points;        /* 5: points per continuous dimension (cell centres) */
  /* genetic algorithm */
  int ga_population;      /* 20 */
  int ga_tournament;      /* 3 */
  double ga_crossover;    /* 0.9: uniform crossover probability */
  double ga_mutation;     /* 0 = 1/d per gene; Gaussian 0.1*range, categorical resample */
  /* pruning through lm_trial_report */
  lm_prune_kind prune;
  int prune_startup;      /* 5: median: complete trials needed before pruning */
  int prune_warmup;       /* 0: median: no pruning before this step */
  int sha_min_resource;   /* 1: first rung at this step */
  int sha_eta;            /* 3: keep the best 1/eta at each rung */
} lm_tune_opts;

#define LM_TUNE_DEFAULTS                                                                     \
  { .algo = LM_TUNE_TPE, .seed = 0, .maximize = false, .verbose = 0, .tpe_startup = 20,       \
    .tpe_candidates = 24, .tpe_gamma = 0.25, .tpe_gamma_linear = false, .tpe_optuna_parzen = false, \
    .tpe_prior_weight = 1.0, .tpe_lf = 25, .grid_points = 5, .ga_population = 20,             \
    .ga_tournament = 3, .ga_crossover = 0.9, .ga_mutation = 0.0, .prune = LM_PRUNE_NONE,       \
    .prune_startup = 5, .prune_warmup = 0, .sha_min_resource = 1, .sha_eta = 3 }

/* Optuna 3.1's TPESampler() defaults on top of whatever o holds: 10 startup
 * trials, below = min(ceil(0.1 N), 25), 24 candidates, prior weight 1, its
 * Parzen estimators (tpe_optuna_parzen). */
void lm_tune_opts_optuna(lm_tune_opts *o);

/* path NULL: an in-memory study. An existing file is resumed; its space must
 * match. The study keeps a reference to the space (free the space after). */
lm_study *lm_study_open(lm_ctx *ctx, const lm_space *space, const char *path,
                        const lm_tune_opts *opts);
void lm_study_free(lm_study *st);

/* The objective writes the trial's value; a non-OK return marks it failed
 * (the study goes on). It may call lm_trial_report once per step. */
typedef lm_status (*lm_objective_fn)(lm_trial *t, void *ud, double *value);
/* Runs trials until the study holds n_trials (all workers together; abandoned
 * trials do not count), or the grid is exhausted. */
lm_status lm_study_optimize(lm_study *st, int n_trials, lm_objective_fn fn, void *ud);
/* Ask/tell for callers that drive the loop: ask returns NULL with LM_OK in
 * lm_errcode when the study is full. tell frees the trial. */
lm_trial *lm_study_ask(lm_study *st, int n_trials);
lm_status lm_study_tell(lm_study *st, lm_trial *t, lm_trial_status status, double value);

/* Reports an intermediate value (step counts from 1, e.g. epochs done);
 * returns true when the pruner says to stop: return the value you have and
 * the trial is recorded as pruned. */
bool lm_trial_report(lm_trial *t, int step, double value);
int lm_trial_number(const lm_trial *t);
bool lm_trial_active(const lm_trial *t, const char *name);
/* A parameter's value: numbers as drawn (randint/quantised as whole numbers),
 * a choice's option parsed as a number (its index if not numeric); NaN (int: 0)
 * when inactive or unknown. lm_trial_str gives a choice's option text. */
double lm_trial_float(const lm_trial *t, const char *name);
int64_t lm_trial_int(const lm_trial *t, const char *name);
const char *lm_trial_str(const lm_trial *t, const char *name);

/* Trials recorded so far (reloaded from the file), and the best complete one. */
int lm_study_n_trials(lm_study *st);
lm_status lm_study_trial(lm_study *st, int i, int *number, lm_trial_status *status,
                         double *value, char *params, size_t params_len);
/* -1 when no trial is complete. params: "name=value name=value". */
int lm_study_best(lm_study *st, double *value, char *params, size_t params_len);
const char *lm_trial_status_name(lm_trial_status s);
/* Opens an existing study file with the space stored in it (for reports). */
lm_study *lm_study_load(lm_ctx *ctx, const char *path);
const lm_space *lm_study_space(const lm_study *st);
bool lm_study_maximize(const lm_study *st);

#ifdef __cplusplus
}
#endif
#endif

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
float *lm_tensor_f32(lm_tensor *t);   /* NULL unless LM_FLOAT32 */
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

const char *lm_layer_name(const lm_layer *l);
const char *lm_layer_class(const lm_layer *l);
void lm_layer_set_trainable(lm_layer *l, bool trainable);
bool lm_layer_trainable(const lm_layer *l);
/* Keras' input_shape= for the first layer of a Sequential model. Returns l. */
lm_layer *lm_layer_set_input_shape(lm_layer *l, int ndim, const int64_t *shape, lm_dtype dtype);
int lm_layer_n_weights(const lm_layer *l);           /* 0 until built */
lm_tensor *lm_layer_weight(lm_layer *l, int i);      /* kernel, bias, ... (Keras order) */
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
} lm_fit_opts;

#define LM_FIT_DEFAULTS                                                                  \
  { .batch_size = 32, .epochs = 1, .verbose = 1, .shuffle = true, .validation_split = 0.0f, \
    .val_x = NULL, .val_y = NULL, .initial_epoch = 0 }

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

int lm_history_n_epochs(const lm_history *h);
int lm_history_n_keys(const lm_history *h);
const char *lm_history_key(const lm_history *h, int i);
const double *lm_history_get(const lm_history *h, const char *key); /* NULL if absent */
void lm_history_free(lm_history *h);

/* ---- files --------------------------------------------------------------------- */

/* One safetensors file: weights named like Keras (dense_1/kernel:0) and the
 * architecture in __metadata__. Written to a temporary file renamed into place. */
lm_status lm_model_save(lm_model *m, const char *path);
lm_model *lm_model_load(lm_ctx *ctx, const char *path);
lm_status lm_model_save_weights(lm_model *m, const char *path);
lm_status lm_model_load_weights(lm_model *m, const char *path);

#ifdef __cplusplus
}
#endif
#endif

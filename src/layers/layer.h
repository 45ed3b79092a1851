/* Floor 4: Keras layers, symbolic tensors and layer calls (the Keras graph). */
#ifndef LM_LAYER_H
#define LM_LAYER_H

#include "core/core.h"
#include "core/json.h"
#include "graph/graph.h"

typedef struct lm_shape {
  int ndim; /* including the batch axis */
  int64_t d[LM_MAX_DIMS];
  lm_dtype dtype;
} lm_shape;

typedef struct lm_call lm_call;

typedef struct lml_class {
  const char *class_name; /* "Dense" */
  const char *prefix;     /* "dense" (automatic names) */
  int min_inputs, max_inputs; /* max 0 = unlimited */
  /* Create the weights for these input shapes (NULL if none). Called once. */
  lm_status (*build)(lm_layer *l, int n_in, const lm_shape *in);
  /* Output shapes: out[0 .. n_outputs-1]. Errors name the layer and the shapes. */
  lm_status (*out_shape)(lm_layer *l, int n_in, const lm_shape *in, lm_shape *out);
  /* Append the ops of one call; in[] are node ids of the inputs; writes
   * out[0 .. n_outputs-1]. */
  lm_status (*emit)(lm_layer *l, lmg_graph *g, int n_in, const int *in, int *out);
  /* Write the config fields (after "name"/"trainable") as JSON members,
   * each starting with ", ". NULL: none. */
  void (*config)(const lm_layer *l, lm_buf *b);
  /* Make a layer from a saved config (the caller sets name and trainable). */
  lm_layer *(*from_config)(lm_ctx *ctx, const lmj_value *cfg, const char *name);
  /* Outputs of a call (LSTM with return_state: 3); NULL: 1. At most
   * LML_MAX_OUTPUTS. */
  int (*n_outputs)(const lm_layer *l);
} lml_class;

enum { LML_MAX_OUTPUTS = 8 };
int lml_n_outputs(const lm_layer *l);

typedef struct lml_weight {
  char *name; /* full Keras name: "dense_1/kernel:0" */
  lm_tensor *t;
  bool trainable;
} lml_weight;

struct lm_layer {
  lm_obj obj;
  lm_ctx *ctx;
  const lml_class *cls;
  char *name;
  bool trainable;
  bool built;
  /* layer-specific configuration (owned, freed with lm_dealloc) */
  void *cfg;
  lml_weight *weights;
  int n_weights, cap_weights;
  lm_call **calls; /* inbound nodes, in call order */
  int n_calls, cap_calls;
  bool has_input_shape; /* Keras input_shape= (Sequential) */
  lm_shape input_shape;
  lm_model *inner; /* a Model used as a layer (not yet) */
};

struct lm_call {
  lm_layer *layer;
  int index; /* position in layer->calls (Keras node index) */
  int n_in;
  lm_sym **in;
  lm_sym *out;   /* outs[0] */
  int n_out;     /* more than 1 for layers with several outputs */
  lm_sym **outs; /* outs[k]->index == k */
};

struct lm_sym {
  lm_obj obj;
  lm_ctx *ctx;
  lm_shape shape;
  lm_call *call; /* the call that produced it (InputLayer for inputs) */
  int index;     /* which output of the call (Keras tensor_index) */
  char label[160];
};

/* Make a layer of class cls; name NULL gives the automatic name. cfg_size
 * bytes of zeroed config are allocated in l->cfg. */
lm_layer *lml_new(lm_ctx *ctx, const lml_class *cls, const char *name, size_t cfg_size);
/* Add a weight (Keras order) initialised with a Keras initializer name. */
lm_tensor *lml_add_weight(lm_layer *l, const char *short_name, int ndim, const int64_t *shape,
                          const char *initializer, bool trainable);
/* Fill t by a Keras initializer ("glorot_uniform", "zeros", "ones",
 * "he_normal", "uniform", "normal", ...). */
lm_status lml_init_tensor(lm_ctx *ctx, lm_tensor *t, const char *initializer);
bool lml_initializer_known(const char *initializer);

/* Call a layer on symbolic tensors: checks shapes, builds on first call, records the call. */
lm_sym *lml_call(lm_layer *l, int n, lm_sym *const *xs);

/* An Input with a full shape (batch axis included), e.g. Sequential's "<layer>_input". */
lm_sym *lml_input_batch_shape(lm_ctx *ctx, const lm_shape *s, const char *name);

/* "(None, 64)" for a shape. */
void lml_shape_str(const lm_shape *s, char *out, size_t len);

/* Registered classes (loading saved models; the gradient table covers each). */
extern const lml_class *const lml_registry[];
extern const int lml_registry_n;
const lml_class *lml_find_class(const char *class_name);
extern const lml_class lml_input_class, lml_dense_class, lml_activation_class,
    lml_flatten_class, lml_reshape_class, lml_dropout_class, lml_add_class,
    lml_subtract_class, lml_multiply_class, lml_average_class, lml_maximum_class,
    lml_concatenate_class;
/* [issue 4] depthwise.c, spatial.c, relu.c, conv_transpose.c */
extern const lml_class lml_depthwise_conv2d_class, lml_separable_conv2d_class,
    lml_zero_padding2d_class, lml_cropping2d_class, lml_upsampling2d_class,
    lml_leaky_relu_class, lml_relu_class, lml_softmax_class, lml_conv2d_transpose_class;

/* ---- sequence layers [issue 5] ---- */
extern const lml_class lml_embedding_class, lml_lstm_class, lml_conv1d_class,
    lml_max_pooling1d_class, lml_average_pooling1d_class, lml_global_max_pooling1d_class,
    lml_global_average_pooling1d_class, lml_simple_rnn_class;
extern const lml_class lml_gru_class, lml_bidirectional_class, lml_time_distributed_class;
bool lml_embedding_mask_zero(const lm_layer *l);
/* The ids node whose zeros mask the steps of x (the recurrent layers' mask),
 * else -1: x comes from an Embedding with mask_zero, directly or through
 * layers that pass a mask on (src/layers/rnn_mask.c). */
int lml_rnn_mask_node(lmg_graph *g, int x);
/* Recurrent constructor checks: activations and initializer names. */
lm_status lml_rnn_check_opts(lm_ctx *ctx, const char *cls, int units, const lm_rnn_opts *o,
                             const char *default_rec, int *act, int *rec, char *ki, char *ri,
                             char *bi);

#endif

/* Floor 5: functional Model and Sequential. */
#ifndef LM_MODEL_H
#define LM_MODEL_H

#include "layers/layer.h"

typedef struct lmt_train lmt_train; /* compiled training state (src/train) */

/* The inference plan predict runs on (src/model/infer.c): the model's ops
 * alone (no targets, losses or gradients), planned without gradients, so
 * dropout is off, batch normalisation uses its moving statistics and folds
 * into the convolution before it. Built on the first predict, compiled or
 * not; it holds no copy of any weight (parameter nodes read the layers'
 * tensors, folded kernels are derived on every forward), so weight changes
 * show at the next predict. Dropped when the network changes and freed with
 * the model. */
typedef struct lmm_infer {
  lmg_graph g;
  int *in_nodes;  /* per model input */
  int *out_nodes; /* per model output */
  bool *mask;     /* the nodes the outputs need */
  int64_t *rows;  /* batch index scratch */
  int64_t cap_rows;
} lmm_infer;

struct lm_model {
  lm_obj obj;
  lm_ctx *ctx;
  char *name;
  bool sequential;
  lm_sym **inputs;
  int n_inputs, cap_inputs;
  lm_sym **outputs;
  int n_outputs, cap_outputs;
  lm_layer **layers; /* Keras order: depth descending, then DFS order */
  int n_layers, cap_layers;
  lm_call **calls; /* this model's calls in topological order (inputs first) */
  int *call_depth;
  int n_calls, cap_calls;
  bool built;
  lmt_train *train;
  lmm_infer *infer; /* NULL until the first predict */
};

/* (Re)compute layers and calls from inputs/outputs (Keras' _map_graph_network). */
lm_status lmm_build_network(lm_model *m);
/* Emit this model's ops into g. in_nodes: one node id per model input (or
 * NULL: make lmg_input nodes); out_nodes receives one id per output. */
lm_status lmm_emit(lm_model *m, lmg_graph *g, const int *in_nodes, int *in_made, int *out_nodes);
bool lmm_owns_call(const lm_model *m, const lm_call *c);
/* The inference plan, built on first use (NULL with the context's error). */
lmm_infer *lmm_infer_get(lm_model *m);
void lmm_infer_free(lm_model *m);
/* The compiled training graph, NULL when not compiled (train/). */
const lmg_graph *lmm_train_graph(const lm_model *m);
/* Free the compiled state (train/). */
void lmt_train_free(lm_model *m);

#endif

/* Floor 5: functional Model and Sequential. */
#ifndef LM_MODEL_H
#define LM_MODEL_H

#include "layers/layer.h"

typedef struct lmt_train lmt_train; /* compiled training state (src/train) */

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
};

/* (Re)compute layers and calls from inputs/outputs (Keras' _map_graph_network). */
lm_status lmm_build_network(lm_model *m);
/* Emit this model's ops into g. in_nodes: one node id per model input (or
 * NULL: make lmg_input nodes); out_nodes receives one id per output. */
lm_status lmm_emit(lm_model *m, lmg_graph *g, const int *in_nodes, int *in_made, int *out_nodes);
bool lmm_owns_call(const lm_model *m, const lm_call *c);
/* Free the compiled state (train/). */
void lmt_train_free(lm_model *m);

#endif

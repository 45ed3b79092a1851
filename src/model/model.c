/* Functional Model and Sequential: construction, layer order, emission. */
#include "model/model.h"

#include <string.h>

static void model_destroy(lm_obj *o) {
  lm_model *m = (lm_model *)o;
  lm_ctx *ctx = m->ctx;
  lmm_infer_free(m); /* first: it looks at the training graph's profile */
  lmt_train_free(m);
  lm_dealloc(ctx, m->inputs);
  lm_dealloc(ctx, m->outputs);
  lm_dealloc(ctx, m->layers);
  lm_dealloc(ctx, m->calls);
  lm_dealloc(ctx, m->call_depth);
  lm_dealloc(ctx, m->name);
  lm_dealloc(ctx, m);
}

void lm_model_free(lm_model *m) {
  if (!m) return;
  lm_obj_detach(&m->obj);
  model_destroy(&m->obj);
}

static lm_model *model_alloc(lm_ctx *ctx, const char *name, const char *prefix) {
  char autoname[128];
  if (!name || !*name) {
    if (lm_auto_name(ctx, prefix, autoname, sizeof autoname)) return NULL;
    name = autoname;
  }
  lm_model *m = lm_alloc(ctx, sizeof *m);
  if (!m) return NULL;
  m->ctx = ctx;
  m->name = lm_strdup(ctx, name);
  if (!m->name) {
    lm_dealloc(ctx, m);
    return NULL;
  }
  lm_obj_attach(ctx, &m->obj, model_destroy);
  return m;
}

static bool is_input_sym(const lm_sym *s) { return s->call->layer->cls == &lml_input_class; }

/* ---- network mapping (keras/engine/network.py: _map_graph_network) ---- */

typedef struct net_builder {
  lm_model *m;
  lm_call **in_progress;
  int n_in_progress;
  lm_layer **seen; /* traversal order of layers */
  int n_seen, cap_seen;
  int cap_prog;
} net_builder;

static int index_of_call(lm_call **arr, int n, const lm_call *c) {
  for (int i = 0; i < n; i++)
    if (arr[i] == c) return i;
  return -1;
}

static lm_status build_map(net_builder *b, lm_call *c) {
  lm_model *m = b->m;
  lm_ctx *ctx = m->ctx;
  if (index_of_call(b->in_progress, b->n_in_progress, c) >= 0)
    return lm_fail(ctx, LM_ERR_ARG, "The tensor %s at layer \"%s\" is part of a cycle.",
                   c->out->label, c->layer->name);
  if (index_of_call(m->calls, m->n_calls, c) >= 0) return LM_OK;
  int k = 0;
  while (k < b->n_seen && b->seen[k] != c->layer) k++;
  if (k == b->n_seen) {
    if (lm_grow(ctx, (void **)&b->seen, &b->cap_seen, b->n_seen + 1, sizeof *b->seen))
      return LM_ERR_NOMEM;
    b->seen[b->n_seen++] = c->layer;
  }
  if (lm_grow(ctx, (void **)&b->in_progress, &b->cap_prog, b->n_in_progress + 1,
              sizeof *b->in_progress))
    return LM_ERR_NOMEM;
  b->in_progress[b->n_in_progress++] = c;
  for (int i = 0; i < c->n_in; i++) {
    lm_status st = build_map(b, c->in[i]->call);
    if (st) return st;
  }
  b->n_in_progress--;
  if (lm_grow(ctx, (void **)&m->calls, &m->cap_calls, m->n_calls + 1, sizeof *m->calls))
    return LM_ERR_NOMEM;
  m->calls[m->n_calls++] = c;
  return LM_OK;
}

static lm_status check_connected(lm_model *m) {
  /* every InputLayer call reached must be one of the model's inputs */
  for (int i = 0; i < m->n_calls; i++) {
    lm_call *c = m->calls[i];
    if (c->layer->cls != &lml_input_class) continue;
    bool found = false;
    for (int k = 0; k < m->n_inputs; k++)
      if (m->inputs[k] == c->out) found = true;
    if (found) continue;
    lm_buf b;
    lm_buf_init(&b, m->ctx);
    for (int k = 0; k < i; k++) {
      lm_call *p = m->calls[k];
      if (p->layer->cls != &lml_input_class || index_of_call(m->calls, k, p) < 0)
        lm_buf_printf(&b, "%s'%s'", b.len ? ", " : "", p->layer->name);
    }
    lm_status st = lm_fail(m->ctx, LM_ERR_ARG,
                           "Graph disconnected: cannot obtain value for tensor %s at layer "
                           "\"%s\". The following previous layers were accessed without "
                           "issue: [%s]",
                           c->out->label, c->layer->name, b.data ? b.data : "");
    lm_buf_free(&b);
    return st;
  }
  return LM_OK;
}

lm_status lmm_build_network(lm_model *m) {
  lm_ctx *ctx = m->ctx;
  lmm_infer_free(m); /* the network changes: predict plans it again */
  m->n_calls = 0;
  m->n_layers = 0;
  net_builder b = {.m = m};
  lm_status st = LM_OK;
  for (int i = 0; i < m->n_outputs && !st; i++) st = build_map(&b, m->outputs[i]->call);
  if (!st) st = check_connected(m);
  /* depths: walk calls from outputs (reverse topological order) */
  if (!st) {
    lm_dealloc(ctx, m->call_depth);
    m->call_depth = lm_alloc(ctx, sizeof(int) * (size_t)(m->n_calls ? m->n_calls : 1));
    if (!m->call_depth) st = LM_ERR_NOMEM;
  }
  int *layer_depth = NULL;
  if (!st) {
    layer_depth = lm_alloc(ctx, sizeof(int) * (size_t)(b.n_seen ? b.n_seen : 1));
    if (!layer_depth) st = LM_ERR_NOMEM;
  }
  if (!st) {
    for (int i = 0; i < m->n_calls; i++) m->call_depth[i] = -1;
    for (int i = m->n_calls - 1; i >= 0; i--) {
      lm_call *c = m->calls[i];
      int depth = m->call_depth[i] < 0 ? 0 : m->call_depth[i];
      int li = 0;
      while (b.seen[li] != c->layer) li++;
      if (layer_depth[li] > depth) depth = layer_depth[li];
      layer_depth[li] = depth;
      m->call_depth[i] = depth;
      for (int k = 0; k < c->n_in; k++) {
        int j = index_of_call(m->calls, m->n_calls, c->in[k]->call);
        if (m->call_depth[j] < depth + 1) m->call_depth[j] = depth + 1;
      }
    }
    /* layers: depth descending, ties by traversal index */
    if (lm_grow(ctx, (void **)&m->layers, &m->cap_layers, b.n_seen, sizeof *m->layers))
      st = LM_ERR_NOMEM;
  }
  if (!st) {
    int *order = lm_alloc(ctx, sizeof(int) * (size_t)(b.n_seen ? b.n_seen : 1));
    if (!order) {
      st = LM_ERR_NOMEM;
    } else {
      for (int i = 0; i < b.n_seen; i++) order[i] = i;
      for (int i = 1; i < b.n_seen; i++) { /* stable insertion sort */
        int v = order[i], j = i - 1;
        while (j >= 0 && layer_depth[order[j]] < layer_depth[v]) {
          order[j + 1] = order[j];
          j--;
        }
        order[j + 1] = v;
      }
      for (int i = 0; i < b.n_seen; i++) m->layers[i] = b.seen[order[i]];
      m->n_layers = b.n_seen;
      lm_dealloc(ctx, order);
    }
  }
  /* duplicate names */
  for (int i = 0; !st && i < m->n_layers; i++)
    for (int k = i + 1; k < m->n_layers; k++)
      if (strcmp(m->layers[i]->name, m->layers[k]->name) == 0) {
        st = lm_fail(ctx, LM_ERR_ARG,
                     "The name \"%s\" is used 2 times in the model. All layer names should be "
                     "unique.",
                     m->layers[i]->name);
        break;
      }
  lm_dealloc(ctx, layer_depth);
  lm_dealloc(ctx, b.seen);
  lm_dealloc(ctx, b.in_progress);
  m->built = st == LM_OK;
  return st;
}

bool lmm_owns_call(const lm_model *m, const lm_call *c) {
  return index_of_call(m->calls, m->n_calls, c) >= 0;
}

static lm_status set_syms(lm_model *m, lm_sym ***arr, int *n, int *cap, int k,
                          lm_sym *const *xs) {
  if (lm_grow(m->ctx, (void **)arr, cap, k, sizeof **arr)) return LM_ERR_NOMEM;
  for (int i = 0; i < k; i++) (*arr)[i] = xs[i];
  *n = k;
  return LM_OK;
}

lm_model *lm_model_new(lm_ctx *ctx, int n_inputs, lm_sym *const *inputs, int n_outputs,
                       lm_sym *const *outputs, const char *name) {
  if (!ctx) return NULL;
  if (n_inputs < 1 || n_outputs < 1 || !inputs || !outputs) {
    lm_fail(ctx, LM_ERR_ARG, "Model needs at least one input and one output tensor");
    return NULL;
  }
  for (int i = 0; i < n_inputs; i++)
    if (!inputs[i]) return NULL;
  for (int i = 0; i < n_outputs; i++)
    if (!outputs[i]) return NULL;
  for (int i = 0; i < n_inputs; i++)
    if (!is_input_sym(inputs[i])) {
      lm_fail(ctx, LM_ERR_ARG,
              "Input tensors to a Model must come from `Input`. Received: %s (missing previous "
              "layer metadata).",
              inputs[i]->label);
      return NULL;
    }
  lm_model *m = model_alloc(ctx, name, "model");
  if (!m) return NULL;
  if (set_syms(m, &m->inputs, &m->n_inputs, &m->cap_inputs, n_inputs, inputs) ||
      set_syms(m, &m->outputs, &m->n_outputs, &m->cap_outputs, n_outputs, outputs) ||
      lmm_build_network(m)) {
    lm_model_free(m);
    return NULL;
  }
  return m;
}

lm_model *lm_sequential_new(lm_ctx *ctx, const char *name) {
  if (!ctx) return NULL;
  lm_model *m = model_alloc(ctx, name, "sequential");
  if (m) m->sequential = true;
  return m;
}

lm_status lm_sequential_add(lm_model *m, lm_layer *layer) {
  if (!m) return LM_ERR_ARG;
  lm_ctx *ctx = m->ctx;
  if (!layer) return ctx->err ? ctx->err : lm_fail(ctx, LM_ERR_ARG, "Sequential.add: NULL layer");
  if (!m->sequential) return lm_fail(ctx, LM_ERR_STATE, "%s is not a Sequential model", m->name);
  if (m->train)
    return lm_fail(ctx, LM_ERR_STATE, "Sequential.add after compile: compile the model again");
  lm_sym *x;
  if (m->n_outputs == 0) {
    if (layer->cls == &lml_input_class) {
      x = layer->calls[0]->out;
      if (set_syms(m, &m->inputs, &m->n_inputs, &m->cap_inputs, 1, &x) ||
          set_syms(m, &m->outputs, &m->n_outputs, &m->cap_outputs, 1, &x))
        return LM_ERR_NOMEM;
      return LM_OK;
    }
    if (!layer->has_input_shape)
      return lm_fail(ctx, LM_ERR_ARG,
                     "The first layer in a Sequential model (%s) must get an `input_shape` "
                     "argument.",
                     layer->name);
    char nm[300];
    snprintf(nm, sizeof nm, "%s_input", layer->name);
    lm_sym *in = lml_input_batch_shape(ctx, &layer->input_shape, nm);
    if (!in) return ctx->err;
    if (set_syms(m, &m->inputs, &m->n_inputs, &m->cap_inputs, 1, &in)) return LM_ERR_NOMEM;
    x = in;
  } else {
    x = m->outputs[0];
  }
  if (lml_n_outputs(layer) != 1)
    return lm_fail(ctx, LM_ERR_ARG,
                   "All layers in a Sequential model should have a single output tensor. For "
                   "multi-output layers, use the functional API. (layer %s)",
                   layer->name);
  lm_sym *y = lml_call(layer, 1, &x);
  if (!y) return ctx->err;
  if (set_syms(m, &m->outputs, &m->n_outputs, &m->cap_outputs, 1, &y)) return LM_ERR_NOMEM;
  return lmm_build_network(m);
}

/* Emit ops for every call of this model, in topological order. */
lm_status lmm_emit(lm_model *m, lmg_graph *g, const int *in_nodes, int *in_made, int *out_nodes) {
  lm_ctx *ctx = m->ctx;
  /* node_of[i * LML_MAX_OUTPUTS + k]: the node of output k of call i */
  int *node_of = lm_alloc(ctx, sizeof(int) * LML_MAX_OUTPUTS * (size_t)(m->n_calls ? m->n_calls : 1));
  if (!node_of) return LM_ERR_NOMEM;
  lm_status st = LM_OK;
  for (int i = 0; i < m->n_calls && !st; i++) {
    lm_call *c = m->calls[i];
    int ins[64];
    if (c->n_in > 64) {
      st = lm_fail(ctx, LM_ERR_ARG, "layer %s has more than 64 inputs", c->layer->name);
      break;
    }
    for (int k = 0; k < c->n_in; k++)
      ins[k] = node_of[index_of_call(m->calls, m->n_calls, c->in[k]->call) * LML_MAX_OUTPUTS +
                       c->in[k]->index];
    g->label = c->layer->name;
    int *out = node_of + (size_t)i * LML_MAX_OUTPUTS;
    for (int k = 0; k < LML_MAX_OUTPUTS; k++) out[k] = -1;
    int which = -1;
    for (int k = 0; k < m->n_inputs; k++)
      if (m->inputs[k] == c->out) which = k;
    if (which >= 0 && in_nodes) {
      out[0] = in_nodes[which];
    } else {
      st = c->layer->cls->emit(c->layer, g, c->n_in, ins, out);
      for (int k = 0; !st && k < c->n_out; k++)
        if (out[k] < 0) st = ctx->err ? ctx->err : LM_ERR_ARG;
      if (!st && which >= 0 && in_made) in_made[which] = out[0];
    }
  }
  for (int k = 0; !st && k < m->n_outputs; k++)
    out_nodes[k] = node_of[index_of_call(m->calls, m->n_calls, m->outputs[k]->call) *
                               LML_MAX_OUTPUTS +
                           m->outputs[k]->index];
  g->label = NULL;
  lm_dealloc(ctx, node_of);
  return st;
}

/* ---- accessors ---- */

lm_ctx *lm_model_ctx(const lm_model *m) { return m ? m->ctx : NULL; }
const char *lm_model_name(const lm_model *m) { return m ? m->name : ""; }

/* Sequential.layers omits the InputLayer. */
static int first_layer(const lm_model *m) {
  return m->sequential && m->n_layers > 0 && m->layers[0]->cls == &lml_input_class ? 1 : 0;
}
int lm_model_n_layers(const lm_model *m) { return m ? m->n_layers - first_layer(m) : 0; }
lm_layer *lm_model_layer(lm_model *m, int i) {
  if (!m) return NULL;
  i += first_layer(m);
  return i >= 0 && i < m->n_layers ? m->layers[i] : NULL;
}
lm_layer *lm_model_get_layer(lm_model *m, const char *name) {
  for (int i = 0; m && name && i < m->n_layers; i++)
    if (strcmp(m->layers[i]->name, name) == 0) return m->layers[i];
  if (m) lm_fail(m->ctx, LM_ERR_ARG, "No such layer: %s", name ? name : "(null)");
  return NULL;
}
int lm_model_n_inputs(const lm_model *m) { return m ? m->n_inputs : 0; }
int lm_model_n_outputs(const lm_model *m) { return m ? m->n_outputs : 0; }
const char *lm_model_input_name(const lm_model *m, int i) {
  return m && i >= 0 && i < m->n_inputs ? m->inputs[i]->call->layer->name : NULL;
}
const char *lm_model_output_name(const lm_model *m, int i) {
  return m && i >= 0 && i < m->n_outputs ? m->outputs[i]->call->layer->name : NULL;
}

int64_t lm_model_count_params(const lm_model *m, int which) {
  int64_t n = 0;
  for (int i = 0; m && i < m->n_layers; i++) {
    const lm_layer *l = m->layers[i];
    for (int k = 0; k < l->n_weights; k++) {
      bool tr = l->trainable && l->weights[k].trainable;
      if (which == 0 || (which == 1 && tr) || (which == 2 && !tr)) n += l->weights[k].t->size;
    }
  }
  return n;
}

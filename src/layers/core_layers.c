/* Activation, Flatten, Reshape, Dropout: the weightless one-input layers of
 * keras/layers/core.py (2.2.4). Each emits a single op. */
#include <stdio.h>
#include <string.h>

#include "layers/layer.h"
#include "ops/ops.h"

/* ---- Activation ---- */

typedef struct activation_cfg {
  int act; /* lmo_act_kind */
} activation_cfg;

static lm_status activation_out_shape(lm_layer *l, int n_in, const lm_shape *in, lm_shape *out) {
  *out = in[0];
  out->dtype = LM_FLOAT32;
  return LM_OK;
}

/* The Keras defaults for the activations that take a parameter. */
static float act_alpha(int act) {
  if (act == LMO_ELU) return 1.0f;
  if (act == LMO_LEAKY_RELU) return 0.3f;
  return 0.0f;
}

static lm_status activation_emit(lm_layer *l, lmg_graph *g, int n_in, const int *in, int *out) {
  int act = ((const activation_cfg *)l->cfg)->act;
  *out = lmo_activation(g, act, in[0], act_alpha(act));
  return *out < 0 ? g->ctx->err : LM_OK;
}

static void activation_config(const lm_layer *l, lm_buf *b) {
  lm_buf_puts(b, ", \"activation\": ");
  lmj_write_str(b, lmo_act_name(((const activation_cfg *)l->cfg)->act));
}

static lm_layer *activation_from_config(lm_ctx *ctx, const lmj_value *cfg, const char *name) {
  return lm_layer_activation(ctx, lmj_get_str(cfg, "activation", "linear"), name);
}

const lml_class lml_activation_class = {
    .class_name = "Activation",
    .prefix = "activation",
    .min_inputs = 1,
    .max_inputs = 1,
    .out_shape = activation_out_shape,
    .emit = activation_emit,
    .config = activation_config,
    .from_config = activation_from_config,
};

lm_layer *lm_layer_activation(lm_ctx *ctx, const char *activation, const char *name) {
  if (!ctx) return NULL;
  int act = lmo_act_parse(activation);
  if (act < 0) {
    lm_fail(ctx, LM_ERR_ARG, "Unknown activation function: %s", activation);
    return NULL;
  }
  lm_layer *l = lml_new(ctx, &lml_activation_class, name, sizeof(activation_cfg));
  if (!l) return NULL;
  ((activation_cfg *)l->cfg)->act = act;
  return l;
}

/* ---- Flatten ---- */

static lm_status flatten_out_shape(lm_layer *l, int n_in, const lm_shape *in, lm_shape *out) {
  int64_t size = 1;
  for (int i = 1; i < in[0].ndim; i++) {
    if (in[0].d[i] == LM_NONE) {
      char s[160];
      lml_shape_str(&in[0], s, sizeof s);
      return lm_fail(l->ctx, LM_ERR_SHAPE,
                     "The shape of the input to \"Flatten\" is not fully defined (got %s). "
                     "Make sure to pass a complete \"input_shape\" or \"batch_input_shape\" "
                     "argument to the first layer in your model. (layer %s)",
                     s, l->name);
    }
    size *= in[0].d[i];
  }
  memset(out, 0, sizeof *out);
  out->ndim = 2;
  out->d[0] = in[0].d[0];
  out->d[1] = size;
  out->dtype = in[0].dtype;
  return LM_OK;
}

static lm_status flatten_emit(lm_layer *l, lmg_graph *g, int n_in, const int *in, int *out) {
  const int64_t all[1] = {-1};
  *out = lmo_reshape(g, in[0], 1, all);
  return *out < 0 ? g->ctx->err : LM_OK;
}

static lm_layer *flatten_from_config(lm_ctx *ctx, const lmj_value *cfg, const char *name) {
  return lm_layer_flatten(ctx, name);
}

const lml_class lml_flatten_class = {
    .class_name = "Flatten",
    .prefix = "flatten",
    .min_inputs = 1,
    .max_inputs = 1,
    .out_shape = flatten_out_shape,
    .emit = flatten_emit,
    .from_config = flatten_from_config,
};

lm_layer *lm_layer_flatten(lm_ctx *ctx, const char *name) {
  if (!ctx) return NULL;
  return lml_new(ctx, &lml_flatten_class, name, 0);
}

/* ---- Reshape ---- */

typedef struct reshape_cfg {
  int ndim; /* without the batch */
  int64_t shape[LM_MAX_DIMS];
} reshape_cfg;

/* A target shape as Python prints the tuple: (4, -1), (12,). */
static void target_str(const reshape_cfg *c, char *out, size_t len) {
  size_t k = (size_t)snprintf(out, len, "(");
  for (int i = 0; i < c->ndim && k < len; i++)
    k += (size_t)snprintf(out + k, len - k, "%s%lld", i ? ", " : "", (long long)c->shape[i]);
  if (k < len) snprintf(out + k, len - k, c->ndim == 1 ? ",)" : ")");
}

static lm_status reshape_out_shape(lm_layer *l, int n_in, const lm_shape *in, lm_shape *out) {
  const reshape_cfg *c = l->cfg;
  memset(out, 0, sizeof *out);
  out->ndim = c->ndim + 1;
  out->d[0] = in[0].d[0];
  out->dtype = in[0].dtype;
  int64_t original = 1, known = 1;
  bool defined = true;
  int unknown = -1;
  for (int i = 1; i < in[0].ndim; i++) {
    if (in[0].d[i] == LM_NONE) defined = false;
    original *= in[0].d[i];
  }
  for (int i = 0; i < c->ndim; i++) {
    out->d[i + 1] = c->shape[i] < 0 ? LM_NONE : c->shape[i];
    if (c->shape[i] < 0)
      unknown = i;
    else
      known *= c->shape[i];
  }
  if (!defined) return LM_OK; /* Keras: the -1 stays None; checked when the graph is planned */
  bool ok = unknown >= 0 ? known > 0 && original % known == 0 : original == known;
  if (!ok) {
    char s[160], t[160];
    lml_shape_str(&in[0], s, sizeof s);
    target_str(c, t, sizeof t);
    return lm_fail(l->ctx, LM_ERR_SHAPE,
                   "total size of new array must be unchanged (layer %s: input shape %s, "
                   "target shape %s)",
                   l->name, s, t);
  }
  if (unknown >= 0) out->d[unknown + 1] = original / known;
  return LM_OK;
}

static lm_status reshape_emit(lm_layer *l, lmg_graph *g, int n_in, const int *in, int *out) {
  const reshape_cfg *c = l->cfg;
  *out = lmo_reshape(g, in[0], c->ndim, c->shape);
  return *out < 0 ? g->ctx->err : LM_OK;
}

static void reshape_config(const lm_layer *l, lm_buf *b) {
  const reshape_cfg *c = l->cfg;
  lm_buf_puts(b, ", \"target_shape\": [");
  for (int i = 0; i < c->ndim; i++)
    lm_buf_printf(b, "%s%lld", i ? ", " : "", (long long)c->shape[i]);
  lm_buf_puts(b, "]");
}

static lm_layer *reshape_from_config(lm_ctx *ctx, const lmj_value *cfg, const char *name) {
  const lmj_value *ts = lmj_get(cfg, "target_shape");
  if (!ts || ts->type != LMJ_ARR || ts->n >= LM_MAX_DIMS) {
    lm_fail(ctx, LM_ERR_FORMAT, "Reshape %s: missing or bad target_shape", name);
    return NULL;
  }
  int64_t shape[LM_MAX_DIMS];
  for (int i = 0; i < ts->n; i++) {
    if (ts->items[i].type != LMJ_NUM) {
      lm_fail(ctx, LM_ERR_FORMAT, "Reshape %s: target_shape must hold integers", name);
      return NULL;
    }
    shape[i] = (int64_t)ts->items[i].num;
  }
  return lm_layer_reshape(ctx, ts->n, shape, name);
}

const lml_class lml_reshape_class = {
    .class_name = "Reshape",
    .prefix = "reshape",
    .min_inputs = 1,
    .max_inputs = 1,
    .out_shape = reshape_out_shape,
    .emit = reshape_emit,
    .config = reshape_config,
    .from_config = reshape_from_config,
};

lm_layer *lm_layer_reshape(lm_ctx *ctx, int ndim, const int64_t *target_shape, const char *name) {
  if (!ctx) return NULL;
  if (ndim < 0 || ndim >= LM_MAX_DIMS || (ndim > 0 && !target_shape)) {
    lm_fail(ctx, LM_ERR_ARG, "Reshape: target_shape must have between 0 and %d dimensions",
            LM_MAX_DIMS - 1);
    return NULL;
  }
  int n_unknown = 0;
  for (int i = 0; i < ndim; i++) {
    if (target_shape[i] == -1) {
      n_unknown++;
    } else if (target_shape[i] <= 0) {
      lm_fail(ctx, LM_ERR_ARG, "Reshape: target_shape entries must be positive or -1, got %lld",
              (long long)target_shape[i]);
      return NULL;
    }
  }
  if (n_unknown > 1) {
    lm_fail(ctx, LM_ERR_ARG, "Can only specify one unknown dimension.");
    return NULL;
  }
  lm_layer *l = lml_new(ctx, &lml_reshape_class, name, sizeof(reshape_cfg));
  if (!l) return NULL;
  reshape_cfg *c = l->cfg;
  c->ndim = ndim;
  for (int i = 0; i < ndim; i++) c->shape[i] = target_shape[i];
  return l;
}

/* ---- Dropout ---- */

typedef struct dropout_cfg {
  float rate; /* in [0, 1] */
} dropout_cfg;

static lm_status dropout_out_shape(lm_layer *l, int n_in, const lm_shape *in, lm_shape *out) {
  *out = in[0];
  return LM_OK;
}

static lm_status dropout_emit(lm_layer *l, lmg_graph *g, int n_in, const int *in, int *out) {
  *out = lmo_dropout(g, in[0], ((const dropout_cfg *)l->cfg)->rate);
  return *out < 0 ? g->ctx->err : LM_OK;
}

static void dropout_config(const lm_layer *l, lm_buf *b) {
  lm_buf_puts(b, ", \"rate\": ");
  lmj_write_num(b, ((const dropout_cfg *)l->cfg)->rate); /* 0.1f prints 0.1 */
}

static lm_layer *dropout_from_config(lm_ctx *ctx, const lmj_value *cfg, const char *name) {
  const lmj_value *r = lmj_get(cfg, "rate");
  if (!r || r->type != LMJ_NUM) {
    lm_fail(ctx, LM_ERR_FORMAT, "Dropout %s: missing or bad rate", name);
    return NULL;
  }
  return lm_layer_dropout(ctx, (float)r->num, name);
}

const lml_class lml_dropout_class = {
    .class_name = "Dropout",
    .prefix = "dropout",
    .min_inputs = 1,
    .max_inputs = 1,
    .out_shape = dropout_out_shape,
    .emit = dropout_emit,
    .config = dropout_config,
    .from_config = dropout_from_config,
};

lm_layer *lm_layer_dropout(lm_ctx *ctx, float rate, const char *name) {
  if (!ctx) return NULL;
  lm_layer *l = lml_new(ctx, &lml_dropout_class, name, sizeof(dropout_cfg));
  if (!l) return NULL;
  /* Keras: min(1., max(0., rate)); NaN fails both tests and becomes 0 (no dropout) */
  ((dropout_cfg *)l->cfg)->rate = rate > 0.0f ? (rate < 1.0f ? rate : 1.0f) : 0.0f;
  return l;
}

/* LeakyReLU, ReLU and Softmax as layers (keras/layers/advanced_activations.py,
 * 2.2.4). LeakyReLU and ReLU emit one relu_ex op; Softmax one softmax op. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "layers/layer.h"
#include "ops/spatial.h"

typedef struct relu_cfg {
  bool has_max;
  float max_value, slope, threshold;
  int axis; /* Softmax */
} relu_cfg;

static lm_status same_out_shape(lm_layer *l, int n_in, const lm_shape *in, lm_shape *out) {
  *out = in[0];
  out->dtype = LM_FLOAT32;
  return LM_OK;
}

static lm_status relu_emit(lm_layer *l, lmg_graph *g, int n_in, const int *in, int *out) {
  const relu_cfg *c = l->cfg;
  *out = lmo_relu_ex(g, in[0], c->has_max, c->max_value, c->slope, c->threshold);
  return *out < 0 ? g->ctx->err : LM_OK;
}

static void leaky_config(const lm_layer *l, lm_buf *b) {
  lm_buf_puts(b, ", \"alpha\": ");
  lmj_write_num(b, ((const relu_cfg *)l->cfg)->slope);
}

static void relu_config(const lm_layer *l, lm_buf *b) {
  const relu_cfg *c = l->cfg;
  lm_buf_puts(b, ", \"max_value\": ");
  if (c->has_max)
    lmj_write_num(b, c->max_value);
  else
    lm_buf_puts(b, "null");
  lm_buf_puts(b, ", \"negative_slope\": ");
  lmj_write_num(b, c->slope);
  lm_buf_puts(b, ", \"threshold\": ");
  lmj_write_num(b, c->threshold);
}

static lm_layer *leaky_from_config(lm_ctx *ctx, const lmj_value *cfg, const char *name) {
  return lm_layer_leaky_relu(ctx, (float)lmj_get_num(cfg, "alpha", 0.3), name);
}

static lm_layer *relu_from_config(lm_ctx *ctx, const lmj_value *cfg, const char *name) {
  const lmj_value *mv = lmj_get(cfg, "max_value");
  lm_relu_opts o = {
      .has_max_value = mv && mv->type == LMJ_NUM,
      .max_value = mv && mv->type == LMJ_NUM ? (float)mv->num : 0.0f,
      .negative_slope = (float)lmj_get_num(cfg, "negative_slope", 0.0),
      .threshold = (float)lmj_get_num(cfg, "threshold", 0.0),
      .name = name,
  };
  return lm_layer_relu(ctx, &o);
}

const lml_class lml_leaky_relu_class = {
    .class_name = "LeakyReLU",
    .prefix = "leaky_re_lu",
    .min_inputs = 1,
    .max_inputs = 1,
    .out_shape = same_out_shape,
    .emit = relu_emit,
    .config = leaky_config,
    .from_config = leaky_from_config,
};

const lml_class lml_relu_class = {
    .class_name = "ReLU",
    .prefix = "re_lu",
    .min_inputs = 1,
    .max_inputs = 1,
    .out_shape = same_out_shape,
    .emit = relu_emit,
    .config = relu_config,
    .from_config = relu_from_config,
};

lm_layer *lm_layer_leaky_relu(lm_ctx *ctx, float alpha, const char *name) {
  if (!ctx) return NULL;
  if (!isfinite(alpha)) {
    lm_fail(ctx, LM_ERR_ARG, "LeakyReLU: alpha must be a finite number");
    return NULL;
  }
  lm_layer *l = lml_new(ctx, &lml_leaky_relu_class, name, sizeof(relu_cfg));
  if (!l) return NULL;
  ((relu_cfg *)l->cfg)->slope = alpha;
  return l;
}

lm_layer *lm_layer_relu(lm_ctx *ctx, const lm_relu_opts *opts) {
  if (!ctx) return NULL;
  lm_relu_opts dflt = {0};
  if (!opts) opts = &dflt;
  /* Keras 2.2.4 ReLU.__init__ raises for these */
  if (opts->has_max_value && !(opts->max_value >= 0.0f)) {
    lm_fail(ctx, LM_ERR_ARG, "max_value of a ReLU layer cannot be a negative value: %g",
            (double)opts->max_value);
    return NULL;
  }
  if (!(opts->negative_slope >= 0.0f) || !isfinite(opts->negative_slope)) {
    lm_fail(ctx, LM_ERR_ARG, "negative_slope of a ReLU layer cannot be a negative value: %g",
            (double)opts->negative_slope);
    return NULL;
  }
  if (!(opts->threshold >= 0.0f) || !isfinite(opts->threshold)) {
    lm_fail(ctx, LM_ERR_ARG, "threshold of a ReLU layer cannot be a negative value: %g",
            (double)opts->threshold);
    return NULL;
  }
  lm_layer *l = lml_new(ctx, &lml_relu_class, opts->name, sizeof(relu_cfg));
  if (!l) return NULL;
  relu_cfg *c = l->cfg;
  c->has_max = opts->has_max_value;
  c->max_value = opts->max_value;
  c->slope = opts->negative_slope;
  c->threshold = opts->threshold;
  return l;
}

/* ---- Softmax(axis) ---- */

static lm_status softmax_out_shape(lm_layer *l, int n_in, const lm_shape *in, lm_shape *out) {
  int axis = ((const relu_cfg *)l->cfg)->axis;
  int a = axis < 0 ? axis + in[0].ndim : axis;
  if (a < 1 || a >= in[0].ndim) {
    char s[128];
    lml_shape_str(&in[0], s, sizeof s);
    return lm_fail(l->ctx, LM_ERR_SHAPE, "Layer %s: softmax axis %d is out of range for shape %s",
                   l->name, axis, s);
  }
  return same_out_shape(l, n_in, in, out);
}

static lm_status softmax_emit(lm_layer *l, lmg_graph *g, int n_in, const int *in, int *out) {
  int axis = ((const relu_cfg *)l->cfg)->axis;
  int nd = lmg_at(g, in[0])->ndim;
  *out = lmo_softmax(g, in[0], axis < 0 ? axis + nd : axis);
  return *out < 0 ? g->ctx->err : LM_OK;
}

static void softmax_config(const lm_layer *l, lm_buf *b) {
  lm_buf_printf(b, ", \"axis\": %d", ((const relu_cfg *)l->cfg)->axis);
}

static lm_layer *softmax_from_config(lm_ctx *ctx, const lmj_value *cfg, const char *name) {
  return lm_layer_softmax(ctx, (int)lmj_get_num(cfg, "axis", -1), name);
}

const lml_class lml_softmax_class = {
    .class_name = "Softmax",
    .prefix = "softmax",
    .min_inputs = 1,
    .max_inputs = 1,
    .out_shape = softmax_out_shape,
    .emit = softmax_emit,
    .config = softmax_config,
    .from_config = softmax_from_config,
};

lm_layer *lm_layer_softmax(lm_ctx *ctx, int axis, const char *name) {
  if (!ctx) return NULL;
  lm_layer *l = lml_new(ctx, &lml_softmax_class, name, sizeof(relu_cfg));
  if (!l) return NULL;
  ((relu_cfg *)l->cfg)->axis = axis;
  return l;
}

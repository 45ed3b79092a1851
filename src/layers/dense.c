/* Dense: output = activation(x . kernel + bias), on the last axis. */
#include <string.h>

#include "layers/layer.h"
#include "ops/ops.h"

typedef struct dense_cfg {
  int units;
  int activation; /* lmo_act_kind */
  bool use_bias;
  char kernel_init[32];
  char bias_init[32];
} dense_cfg;

static lm_status dense_build(lm_layer *l, int n_in, const lm_shape *in) {
  dense_cfg *c = l->cfg;
  int64_t d = in[0].d[in[0].ndim - 1];
  if (in[0].ndim < 2 || d == LM_NONE) {
    char s[128];
    lml_shape_str(&in[0], s, sizeof s);
    return lm_fail(l->ctx, LM_ERR_SHAPE,
                   "Layer %s: the last dimension of the inputs to `Dense` should be defined. "
                   "Found `None` (input shape %s)",
                   l->name, s);
  }
  int64_t ks[2] = {d, c->units};
  if (!lml_add_weight(l, "kernel", 2, ks, c->kernel_init, true)) return l->ctx->err;
  if (c->use_bias) {
    int64_t bs[1] = {c->units};
    if (!lml_add_weight(l, "bias", 1, bs, c->bias_init, true)) return l->ctx->err;
  }
  return LM_OK;
}

static lm_status dense_out_shape(lm_layer *l, int n_in, const lm_shape *in, lm_shape *out) {
  dense_cfg *c = l->cfg;
  int64_t d = in[0].d[in[0].ndim - 1];
  int64_t want = l->weights[0].t->shape[0];
  if (in[0].ndim < 2 || d != want) {
    char s[128];
    lml_shape_str(&in[0], s, sizeof s);
    return lm_fail(l->ctx, LM_ERR_SHAPE,
                   "Input 0 is incompatible with layer %s: expected axis -1 of input shape to "
                   "have value %lld but got shape %s",
                   l->name, (long long)want, s);
  }
  *out = in[0];
  out->dtype = LM_FLOAT32;
  out->d[out->ndim - 1] = c->units;
  return LM_OK;
}

static lm_status dense_emit(lm_layer *l, lmg_graph *g, int n_in, const int *in, int *out) {
  dense_cfg *c = l->cfg;
  int w = lmg_param(g, l->weights[0].t, l->trainable);
  int b = c->use_bias ? lmg_param(g, l->weights[1].t, l->trainable) : -1;
  if (w < 0 || (c->use_bias && b < 0)) return g->ctx->err;
  int y = lmo_matmul(g, in[0], w, b);
  if (c->activation != LMO_LINEAR) y = lmo_activation(g, c->activation, y, 0.0f);
  *out = y;
  return y < 0 ? g->ctx->err : LM_OK;
}

static void dense_config(const lm_layer *l, lm_buf *b) {
  const dense_cfg *c = l->cfg;
  lm_buf_printf(b,
                ", \"units\": %d, \"activation\": \"%s\", \"use_bias\": %s, "
                "\"kernel_initializer\": \"%s\", \"bias_initializer\": \"%s\"",
                c->units, lmo_act_name(c->activation), c->use_bias ? "true" : "false",
                c->kernel_init, c->bias_init);
}

static lm_layer *dense_from_config(lm_ctx *ctx, const lmj_value *cfg, const char *name) {
  lm_dense_opts o = {
      .activation = lmj_get_str(cfg, "activation", "linear"),
      .no_bias = !lmj_get_bool(cfg, "use_bias", true),
      .kernel_initializer = lmj_get_str(cfg, "kernel_initializer", NULL),
      .bias_initializer = lmj_get_str(cfg, "bias_initializer", NULL),
      .name = name,
  };
  return lm_layer_dense(ctx, (int)lmj_get_num(cfg, "units", 0), &o);
}

const lml_class lml_dense_class = {
    .class_name = "Dense",
    .prefix = "dense",
    .min_inputs = 1,
    .max_inputs = 1,
    .build = dense_build,
    .out_shape = dense_out_shape,
    .emit = dense_emit,
    .config = dense_config,
    .from_config = dense_from_config,
};

lm_layer *lm_layer_dense(lm_ctx *ctx, int units, const lm_dense_opts *opts) {
  if (!ctx) return NULL;
  lm_dense_opts dflt = {0};
  if (!opts) opts = &dflt;
  if (units <= 0) {
    lm_fail(ctx, LM_ERR_ARG, "Dense: units must be a positive integer, got %d", units);
    return NULL;
  }
  int act = lmo_act_parse(opts->activation);
  if (act < 0) {
    lm_fail(ctx, LM_ERR_ARG, "Unknown activation function: %s", opts->activation);
    return NULL;
  }
  const char *ki = opts->kernel_initializer ? opts->kernel_initializer : "glorot_uniform";
  const char *bi = opts->bias_initializer ? opts->bias_initializer : "zeros";
  if (!lml_initializer_known(ki) || !lml_initializer_known(bi) || strlen(ki) >= 32 ||
      strlen(bi) >= 32) {
    lm_fail(ctx, LM_ERR_ARG, "Unknown initializer: %s", lml_initializer_known(ki) ? bi : ki);
    return NULL;
  }
  lm_layer *l = lml_new(ctx, &lml_dense_class, opts->name, sizeof(dense_cfg));
  if (!l) return NULL;
  dense_cfg *c = l->cfg;
  c->units = units;
  c->activation = act;
  c->use_bias = !opts->no_bias;
  strcpy(c->kernel_init, ki);
  strcpy(c->bias_init, bi);
  return l;
}

/* BatchNormalization (keras/layers/normalization.py, 2.2.4): weights gamma,
 * beta (trainable), moving_mean, moving_variance (non-trainable, saved).
 * Training normalises with the batch statistics and updates the moving ones;
 * inference uses the moving ones (see lmo_batchnorm). */
#include <string.h>

#include "layers/conv_layers.h"
#include "ops/conv_ops.h"

typedef struct bn_cfg {
  int axis; /* as given (negative counts from the end) */
  float momentum, epsilon;
  bool center, scale;
  char beta_init[32], gamma_init[32], mean_init[32], var_init[32];
} bn_cfg;

static int bn_axis(const bn_cfg *c, int ndim) { return c->axis < 0 ? ndim + c->axis : c->axis; }

static lm_status bn_check(lm_layer *l, const lm_shape *in, int64_t *ch) {
  bn_cfg *c = l->cfg;
  int axis = bn_axis(c, in->ndim);
  char s[128];
  lml_shape_str(in, s, sizeof s);
  if (axis < 1 || axis >= in->ndim)
    return lm_fail(l->ctx, LM_ERR_SHAPE, "Layer %s: axis %d is out of range for input shape %s",
                   l->name, c->axis, s);
  if (in->d[axis] == LM_NONE)
    return lm_fail(l->ctx, LM_ERR_SHAPE,
                   "Axis %d of input tensor should have a defined dimension but the layer %s "
                   "received an input with shape %s",
                   c->axis, l->name, s);
  *ch = in->d[axis];
  return LM_OK;
}

static lm_status bn_build(lm_layer *l, int n_in, const lm_shape *in) {
  bn_cfg *c = l->cfg;
  int64_t ch = 0;
  if (bn_check(l, &in[0], &ch)) return l->ctx->err;
  int64_t shape[1] = {ch};
  if (c->scale && !lml_add_weight(l, "gamma", 1, shape, c->gamma_init, true)) return l->ctx->err;
  if (c->center && !lml_add_weight(l, "beta", 1, shape, c->beta_init, true)) return l->ctx->err;
  if (!lml_add_weight(l, "moving_mean", 1, shape, c->mean_init, false) ||
      !lml_add_weight(l, "moving_variance", 1, shape, c->var_init, false))
    return l->ctx->err;
  return LM_OK;
}

static lm_status bn_out_shape(lm_layer *l, int n_in, const lm_shape *in, lm_shape *out) {
  int64_t ch = 0;
  if (bn_check(l, &in[0], &ch)) return l->ctx->err;
  int64_t want = l->weights[l->n_weights - 1].t->shape[0];
  if (ch != want) {
    char s[128];
    lml_shape_str(&in[0], s, sizeof s);
    return lm_fail(l->ctx, LM_ERR_SHAPE,
                   "Input 0 is incompatible with layer %s: expected axis %d of input shape to "
                   "have value %lld but got shape %s",
                   l->name, ((bn_cfg *)l->cfg)->axis, (long long)want, s);
  }
  *out = in[0];
  out->dtype = LM_FLOAT32;
  return LM_OK;
}

static lm_status bn_emit(lm_layer *l, lmg_graph *g, int n_in, const int *in, int *out) {
  bn_cfg *c = l->cfg;
  int k = 0, gamma = -1, beta = -1;
  if (c->scale && (gamma = lmg_param(g, l->weights[k++].t, l->trainable)) < 0) return g->ctx->err;
  if (c->center && (beta = lmg_param(g, l->weights[k++].t, l->trainable)) < 0) return g->ctx->err;
  int mean = lmg_param(g, l->weights[k].t, false), var = lmg_param(g, l->weights[k + 1].t, false);
  if (mean < 0 || var < 0 || in[0] < 0) return g->ctx->err;
  int axis = bn_axis(c, lmg_at(g, in[0])->ndim);
  *out = lmo_batchnorm(g, in[0], mean, var, gamma, beta, axis, c->momentum, c->epsilon);
  return *out < 0 ? g->ctx->err : LM_OK;
}

static void bn_config(const lm_layer *l, lm_buf *b) {
  const bn_cfg *c = l->cfg;
  lm_buf_printf(b, ", \"axis\": %d, \"momentum\": ", c->axis);
  lmj_write_num(b, c->momentum);
  lm_buf_puts(b, ", \"epsilon\": ");
  lmj_write_num(b, c->epsilon);
  lm_buf_printf(b,
                ", \"center\": %s, \"scale\": %s, \"beta_initializer\": \"%s\", "
                "\"gamma_initializer\": \"%s\", \"moving_mean_initializer\": \"%s\", "
                "\"moving_variance_initializer\": \"%s\"",
                c->center ? "true" : "false", c->scale ? "true" : "false", c->beta_init,
                c->gamma_init, c->mean_init, c->var_init);
}

static lm_layer *bn_from_config(lm_ctx *ctx, const lmj_value *cfg, const char *name) {
  const lmj_value *ax = lmj_get(cfg, "axis");
  int axis = -1;
  if (ax && ax->type == LMJ_ARR && ax->n == 1 && ax->items[0].type == LMJ_NUM)
    axis = (int)ax->items[0].num; /* tf.keras writes a list */
  else if (ax && ax->type == LMJ_NUM)
    axis = (int)ax->num;
  lm_batchnorm_opts o = {
      .axis = axis,
      .momentum = (float)lmj_get_num(cfg, "momentum", 0.99),
      .epsilon = (float)lmj_get_num(cfg, "epsilon", 1e-3),
      .no_center = !lmj_get_bool(cfg, "center", true),
      .no_scale = !lmj_get_bool(cfg, "scale", true),
      .beta_initializer = lmj_get_str(cfg, "beta_initializer", NULL),
      .gamma_initializer = lmj_get_str(cfg, "gamma_initializer", NULL),
      .moving_mean_initializer = lmj_get_str(cfg, "moving_mean_initializer", NULL),
      .moving_variance_initializer = lmj_get_str(cfg, "moving_variance_initializer", NULL),
      .name = name,
  };
  if (axis == 0) {
    lm_fail(ctx, LM_ERR_FORMAT, "BatchNormalization %s: axis 0 (the batch axis) is not allowed",
            name);
    return NULL;
  }
  return lm_layer_batch_normalization(ctx, &o);
}

const lml_class lml_batch_normalization_class = {
    .class_name = "BatchNormalization",
    .prefix = "batch_normalization",
    .min_inputs = 1,
    .max_inputs = 1,
    .build = bn_build,
    .out_shape = bn_out_shape,
    .emit = bn_emit,
    .config = bn_config,
    .from_config = bn_from_config,
};

static const char *init_or(const char *name, const char *dflt) { return name ? name : dflt; }

lm_layer *lm_layer_batch_normalization(lm_ctx *ctx, const lm_batchnorm_opts *opts) {
  if (!ctx) return NULL;
  lm_batchnorm_opts dflt = {0};
  if (!opts) opts = &dflt;
  const char *inits[4] = {init_or(opts->beta_initializer, "zeros"),
                          init_or(opts->gamma_initializer, "ones"),
                          init_or(opts->moving_mean_initializer, "zeros"),
                          init_or(opts->moving_variance_initializer, "ones")};
  for (int i = 0; i < 4; i++)
    if (!lml_initializer_known(inits[i]) || strlen(inits[i]) >= 32) {
      lm_fail(ctx, LM_ERR_ARG, "Unknown initializer: %s", inits[i]);
      return NULL;
    }
  float momentum = opts->momentum != 0.0f ? opts->momentum : 0.99f;
  float eps = opts->epsilon != 0.0f ? opts->epsilon : 1e-3f;
  if (!(momentum >= 0.0f && momentum <= 1.0f) || !(eps > 0.0f)) {
    lm_fail(ctx, LM_ERR_ARG,
            "BatchNormalization: momentum must be in [0, 1] and epsilon positive, got "
            "momentum=%g, epsilon=%g",
            momentum, eps);
    return NULL;
  }
  lm_layer *l = lml_new(ctx, &lml_batch_normalization_class, opts->name, sizeof(bn_cfg));
  if (!l) return NULL;
  bn_cfg *c = l->cfg;
  c->axis = opts->axis ? opts->axis : -1;
  c->momentum = momentum;
  c->epsilon = eps;
  c->center = !opts->no_center;
  c->scale = !opts->no_scale;
  strcpy(c->beta_init, inits[0]);
  strcpy(c->gamma_init, inits[1]);
  strcpy(c->mean_init, inits[2]);
  strcpy(c->var_init, inits[3]);
  return l;
}

/* Conv1D, MaxPooling1D, AveragePooling1D, GlobalMaxPooling1D,
 * GlobalAveragePooling1D on (N, steps, channels). */
#include <string.h>

#include "layers/layer.h"
#include "ops/ops.h"

static const char *const pad_names[] = {"valid", "same", "causal"};

static int parse_pad(const char *p, bool causal_ok) {
  for (int i = 0; i < (causal_ok ? 3 : 2); i++)
    if (!p || strcmp(p, pad_names[i]) == 0)
      return p ? i : 0;
  return -1;
}

static lm_status need_rank3(lm_layer *l, const lm_shape *in) {
  if (in->ndim == 3)
    return LM_OK;
  char s[128];
  lml_shape_str(in, s, sizeof s);
  return lm_fail(
      l->ctx, LM_ERR_SHAPE,
      "Input 0 is incompatible with layer %s: expected ndim=3 (batch, steps, "
      "channels), found shape %s",
      l->name, s);
}

/* ---- Conv1D ---- */

typedef struct conv1d_cfg {
  int filters, kernel_size, strides, dilation, pad, act;
  bool use_bias;
  char kernel_init[32], bias_init[32];
} conv1d_cfg;

static lm_status conv1d_build(lm_layer *l, int n_in, const lm_shape *in) {
  (void)n_in;
  conv1d_cfg *c = l->cfg;
  if (need_rank3(l, &in[0]))
    return l->ctx->err;
  if (in[0].d[2] == LM_NONE)
    return lm_fail(l->ctx, LM_ERR_SHAPE,
                   "Layer %s: the channel dimension of the inputs should be "
                   "defined. Found `None`.",
                   l->name);
  int64_t ks[3] = {c->kernel_size, in[0].d[2], c->filters},
          bs[1] = {c->filters};
  if (!lml_add_weight(l, "kernel", 3, ks, c->kernel_init, true))
    return l->ctx->err;
  if (c->use_bias && !lml_add_weight(l, "bias", 1, bs, c->bias_init, true))
    return l->ctx->err;
  return LM_OK;
}

static lm_status conv1d_out_shape(lm_layer *l, int n_in, const lm_shape *in,
                                  lm_shape *out) {
  (void)n_in;
  conv1d_cfg *c = l->cfg;
  if (need_rank3(l, &in[0]))
    return l->ctx->err;
  char s[128];
  lml_shape_str(&in[0], s, sizeof s);
  if (in[0].d[2] != l->weights[0].t->shape[1])
    return lm_fail(l->ctx, LM_ERR_SHAPE,
                   "Input 0 is incompatible with layer %s: expected axis -1 of "
                   "input shape to "
                   "have value %lld but got shape %s",
                   l->name, (long long)l->weights[0].t->shape[1], s);
  int64_t pl, len = lmo_seq_out_len(in[0].d[1], c->kernel_size, c->strides,
                                    c->dilation, c->pad, &pl);
  if (len == 0)
    return lm_fail(l->ctx, LM_ERR_SHAPE,
                   "Layer %s: input of shape %s is too short for kernel_size "
                   "%d (dilation %d, "
                   "padding '%s'): the output would have no steps",
                   l->name, s, c->kernel_size, c->dilation, pad_names[c->pad]);
  *out = in[0];
  out->dtype = LM_FLOAT32;
  out->d[1] = len;
  out->d[2] = c->filters;
  return LM_OK;
}

static lm_status conv1d_emit(lm_layer *l, lmg_graph *g, int n_in, const int *in,
                             int *out) {
  (void)n_in;
  conv1d_cfg *c = l->cfg;
  int w = lmg_param(g, l->weights[0].t, l->trainable);
  int b = c->use_bias ? lmg_param(g, l->weights[1].t, l->trainable) : -1;
  if (w < 0 || (c->use_bias && b < 0))
    return g->ctx->err;
  int y = lmo_conv1d(g, in[0], w, b, c->strides, c->dilation, c->pad);
  if (c->act != LMO_LINEAR)
    y = lmo_activation(g, c->act, y, 0.0f);
  *out = y;
  return y < 0 ? g->ctx->err : LM_OK;
}

static void conv1d_config(const lm_layer *l, lm_buf *b) {
  const conv1d_cfg *c = l->cfg;
  lm_buf_printf(
      b,
      ", \"filters\": %d, \"kernel_size\": [%d], \"strides\": [%d], "
      "\"padding\": "
      "\"%s\", \"data_format\": \"channels_last\", \"dilation_rate\": [%d], "
      "\"activation\": \"%s\", \"use_bias\": %s, \"kernel_initializer\": "
      "\"%s\", "
      "\"bias_initializer\": \"%s\"",
      c->filters, c->kernel_size, c->strides, pad_names[c->pad], c->dilation,
      lmo_act_name(c->act), c->use_bias ? "true" : "false", c->kernel_init,
      c->bias_init);
}

static int first_int(const lmj_value *cfg, const char *key, int dflt) {
  const lmj_value *v = lmj_get(cfg, key);
  if (v && v->type == LMJ_ARR && v->n > 0 && v->items[0].type == LMJ_NUM)
    return (int)v->items[0].num;
  if (v && v->type == LMJ_NUM)
    return (int)v->num;
  return dflt;
}

static lm_layer *conv1d_from_config(lm_ctx *ctx, const lmj_value *cfg,
                                    const char *name) {
  lm_conv1d_opts o = {
      .strides = first_int(cfg, "strides", 1),
      .padding = lmj_get_str(cfg, "padding", "valid"),
      .dilation_rate = first_int(cfg, "dilation_rate", 1),
      .activation = lmj_get_str(cfg, "activation", "linear"),
      .no_bias = !lmj_get_bool(cfg, "use_bias", true),
      .kernel_initializer = lmj_get_str(cfg, "kernel_initializer", NULL),
      .bias_initializer = lmj_get_str(cfg, "bias_initializer", NULL),
      .name = name,
  };
  return lm_layer_conv1d(ctx, (int)lmj_get_num(cfg, "filters", 0),
                         first_int(cfg, "kernel_size", 0), &o);
}

const lml_class lml_conv1d_class = {
    .class_name = "Conv1D",
    .prefix = "conv1d",
    .min_inputs = 1,
    .max_inputs = 1,
    .build = conv1d_build,
    .out_shape = conv1d_out_shape,
    .emit = conv1d_emit,
    .config = conv1d_config,
    .from_config = conv1d_from_config,
};

lm_layer *lm_layer_conv1d(lm_ctx *ctx, int filters, int kernel_size,
                          const lm_conv1d_opts *opts) {
  if (!ctx)
    return NULL;
  lm_conv1d_opts dflt = {0};
  if (!opts)
    opts = &dflt;
  int pad = parse_pad(opts->padding, true),
      act = lmo_act_parse(opts->activation);
  int strides = opts->strides ? opts->strides : 1;
  int dil = opts->dilation_rate ? opts->dilation_rate : 1;
  if (filters <= 0 || kernel_size <= 0 || strides <= 0 || dil <= 0 || pad < 0 ||
      act < 0 || (strides > 1 && dil > 1)) {
    lm_fail(ctx, LM_ERR_ARG,
            "Conv1D: filters, kernel_size, strides and dilation_rate must be "
            "positive (not both "
            "strides and dilation_rate > 1), padding 'valid', 'same' or "
            "'causal' and the "
            "activation known; got filters=%d, kernel_size=%d, strides=%d, "
            "dilation_rate=%d, "
            "padding=%s, activation=%s",
            filters, kernel_size, strides, dil,
            opts->padding ? opts->padding : "valid",
            opts->activation ? opts->activation : "linear");
    return NULL;
  }
  const char *ki =
      opts->kernel_initializer ? opts->kernel_initializer : "glorot_uniform";
  const char *bi = opts->bias_initializer ? opts->bias_initializer : "zeros";
  if (!lml_initializer_known(ki) || !lml_initializer_known(bi) ||
      strlen(ki) >= 32 || strlen(bi) >= 32) {
    lm_fail(ctx, LM_ERR_ARG, "Unknown initializer: %s",
            lml_initializer_known(ki) ? bi : ki);
    return NULL;
  }
  lm_layer *l = lml_new(ctx, &lml_conv1d_class, opts->name, sizeof(conv1d_cfg));
  if (!l)
    return NULL;
  conv1d_cfg *c = l->cfg;
  *c = (conv1d_cfg){filters, kernel_size,    strides, dil, pad,
                    act,     !opts->no_bias, "",      ""};
  strcpy(c->kernel_init, ki);
  strcpy(c->bias_init, bi);
  return l;
}

/* ---- pooling ---- */

typedef struct pool_cfg {
  int pool, strides, pad;
} pool_cfg;

static bool is_global(const lm_layer *l) {
  return l->cls == &lml_global_max_pooling1d_class ||
         l->cls == &lml_global_average_pooling1d_class;
}

static lm_status pool_out_shape(lm_layer *l, int n_in, const lm_shape *in,
                                lm_shape *out) {
  (void)n_in;
  if (need_rank3(l, &in[0]))
    return l->ctx->err;
  *out = in[0];
  out->dtype = LM_FLOAT32;
  if (is_global(l)) {
    out->ndim = 2;
    out->d[1] = in[0].d[2];
    return LM_OK;
  }
  const pool_cfg *c = l->cfg;
  int64_t pl,
      len = lmo_seq_out_len(in[0].d[1], c->pool, c->strides, 1, c->pad, &pl);
  if (len == 0) {
    char s[128];
    lml_shape_str(&in[0], s, sizeof s);
    return lm_fail(l->ctx, LM_ERR_SHAPE,
                   "Layer %s: input of shape %s is shorter than pool_size %d: "
                   "the output would "
                   "have no steps",
                   l->name, s, c->pool);
  }
  out->d[1] = len;
  return LM_OK;
}

static lm_status pool_emit(lm_layer *l, lmg_graph *g, int n_in, const int *in,
                           int *out) {
  (void)n_in;
  if (l->cls == &lml_global_max_pooling1d_class)
    *out = lmo_reduce(g, LMO_MAX, in[0], 1u << 1, false);
  else if (l->cls == &lml_global_average_pooling1d_class)
    *out = lmo_reduce(g, LMO_MEAN, in[0], 1u << 1, false);
  else {
    const pool_cfg *c = l->cfg;
    *out = lmo_pool1d(g, in[0], l->cls == &lml_average_pooling1d_class, c->pool,
                      c->strides, c->pad);
  }
  return *out < 0 ? g->ctx->err : LM_OK;
}

static void pool_config(const lm_layer *l, lm_buf *b) {
  if (is_global(l)) {
    lm_buf_puts(b, ", \"data_format\": \"channels_last\"");
    return;
  }
  const pool_cfg *c = l->cfg;
  lm_buf_printf(b,
                ", \"pool_size\": [%d], \"padding\": \"%s\", \"strides\": "
                "[%d], \"data_format\": "
                "\"channels_last\"",
                c->pool, pad_names[c->pad], c->strides);
}

static lm_layer *pool_make(lm_ctx *ctx, const lml_class *cls, int pool,
                           int strides, const char *padding, const char *name) {
  if (!ctx)
    return NULL;
  int pad = parse_pad(padding, false);
  if (pool <= 0)
    pool = 2;
  if (strides <= 0)
    strides = pool;
  if (pad < 0) {
    lm_fail(ctx, LM_ERR_ARG, "%s: padding must be 'valid' or 'same', got '%s'",
            cls->class_name, padding);
    return NULL;
  }
  lm_layer *l = lml_new(ctx, cls, name, sizeof(pool_cfg));
  if (l)
    *(pool_cfg *)l->cfg = (pool_cfg){pool, strides, pad};
  return l;
}

static lm_layer *pool_cfg_make(lm_ctx *ctx, const lml_class *cls,
                               const lmj_value *cfg, const char *name) {
  return pool_make(ctx, cls, first_int(cfg, "pool_size", 2),
                   first_int(cfg, "strides", 0),
                   lmj_get_str(cfg, "padding", "valid"), name);
}

#define POOL_CLASS(var, cname, pfx)                                            \
  static lm_layer *var##_from_config(lm_ctx *ctx, const lmj_value *cfg,        \
                                     const char *name) {                       \
    return pool_cfg_make(ctx, &var, cfg, name);                                \
  }                                                                            \
  const lml_class var = {.class_name = cname,                                  \
                         .prefix = pfx,                                        \
                         .min_inputs = 1,                                      \
                         .max_inputs = 1,                                      \
                         .out_shape = pool_out_shape,                          \
                         .emit = pool_emit,                                    \
                         .config = pool_config,                                \
                         .from_config = var##_from_config}
POOL_CLASS(lml_max_pooling1d_class, "MaxPooling1D", "max_pooling1d");
POOL_CLASS(lml_average_pooling1d_class, "AveragePooling1D",
           "average_pooling1d");
POOL_CLASS(lml_global_max_pooling1d_class, "GlobalMaxPooling1D",
           "global_max_pooling1d");
POOL_CLASS(lml_global_average_pooling1d_class, "GlobalAveragePooling1D",
           "global_average_pooling1d");

lm_layer *lm_layer_max_pooling1d(lm_ctx *ctx, int pool_size, int strides,
                                 const char *padding, const char *name) {
  return pool_make(ctx, &lml_max_pooling1d_class, pool_size, strides, padding,
                   name);
}
lm_layer *lm_layer_average_pooling1d(lm_ctx *ctx, int pool_size, int strides,
                                     const char *padding, const char *name) {
  return pool_make(ctx, &lml_average_pooling1d_class, pool_size, strides,
                   padding, name);
}
lm_layer *lm_layer_global_max_pooling1d(lm_ctx *ctx, const char *name) {
  return pool_make(ctx, &lml_global_max_pooling1d_class, 1, 1, NULL, name);
}
lm_layer *lm_layer_global_average_pooling1d(lm_ctx *ctx, const char *name) {
  return pool_make(ctx, &lml_global_average_pooling1d_class, 1, 1, NULL, name);
}

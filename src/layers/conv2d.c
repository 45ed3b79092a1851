/* Conv2D: output = activation(conv2d(x, kernel) + bias), NHWC, Keras
 * kernel (kh, kw, Cin, filters). */
#include <string.h>
#include <strings.h>

#include "kernels/conv_shape.h"
#include "layers/conv_layers.h"
#include "ops/conv_ops.h"

typedef struct conv2d_cfg {
  int filters, k[2], s[2], d[2];
  bool same, use_bias;
  int activation;
  char kernel_init[32], bias_init[32];
} conv2d_cfg;

bool lml_conv_pair(const lmj_value *cfg, const char *key, int dflt, int out[2]) {
  const lmj_value *v = lmj_get(cfg, key);
  out[0] = out[1] = dflt;
  if (!v || v->type == LMJ_NULL) return true;
  if (v->type == LMJ_NUM) {
    out[0] = out[1] = (int)v->num;
    return true;
  }
  if (v->type != LMJ_ARR || v->n != 2 || v->items[0].type != LMJ_NUM ||
      v->items[1].type != LMJ_NUM)
    return false;
  out[0] = (int)v->items[0].num;
  out[1] = (int)v->items[1].num;
  return true;
}

int lml_conv_padding(const char *padding) {
  if (!padding || strcasecmp(padding, "valid") == 0) return 0;
  if (strcasecmp(padding, "same") == 0) return 1;
  return -1;
}

static lm_status conv2d_build(lm_layer *l, int n_in, const lm_shape *in) {
  conv2d_cfg *c = l->cfg;
  char s[128];
  lml_shape_str(&in[0], s, sizeof s);
  if (in[0].ndim != 4)
    return lm_fail(l->ctx, LM_ERR_SHAPE,
                   "Input 0 is incompatible with layer %s: expected ndim=4, found ndim=%d "
                   "(input shape %s)",
                   l->name, in[0].ndim, s);
  int64_t cin = in[0].d[3];
  if (cin == LM_NONE)
    return lm_fail(l->ctx, LM_ERR_SHAPE,
                   "Layer %s: the channel dimension of the inputs should be defined. Found "
                   "`None` (input shape %s)",
                   l->name, s);
  int64_t ks[4] = {c->k[0], c->k[1], cin, c->filters};
  if (!lml_add_weight(l, "kernel", 4, ks, c->kernel_init, true)) return l->ctx->err;
  if (c->use_bias) {
    int64_t bs[1] = {c->filters};
    if (!lml_add_weight(l, "bias", 1, bs, c->bias_init, true)) return l->ctx->err;
  }
  return LM_OK;
}

static lm_status conv2d_out_shape(lm_layer *l, int n_in, const lm_shape *in, lm_shape *out) {
  conv2d_cfg *c = l->cfg;
  char s[128];
  lml_shape_str(&in[0], s, sizeof s);
  int64_t want = l->weights[0].t->shape[2];
  if (in[0].ndim != 4 || in[0].d[3] != want)
    return lm_fail(l->ctx, LM_ERR_SHAPE,
                   "Input 0 is incompatible with layer %s: expected ndim=4 with axis -1 of "
                   "value %lld, found shape %s",
                   l->name, (long long)want, s);
  int64_t oh = lmk_conv_out(in[0].d[1], c->k[0], c->s[0], c->d[0], c->same);
  int64_t ow = lmk_conv_out(in[0].d[2], c->k[1], c->s[1], c->d[1], c->same);
  if (oh == 0 || ow == 0)
    return lm_fail(l->ctx, LM_ERR_SHAPE,
                   "Negative dimension size caused by subtracting %d from %lld for layer %s "
                   "(kernel_size (%d, %d), dilation_rate (%d, %d), padding 'valid', input "
                   "shape %s)",
                   oh == 0 ? c->k[0] : c->k[1], (long long)(oh == 0 ? in[0].d[1] : in[0].d[2]),
                   l->name, c->k[0], c->k[1], c->d[0], c->d[1], s);
  *out = in[0];
  out->dtype = LM_FLOAT32;
  out->d[1] = oh;
  out->d[2] = ow;
  out->d[3] = c->filters;
  return LM_OK;
}

static lm_status conv2d_emit(lm_layer *l, lmg_graph *g, int n_in, const int *in, int *out) {
  conv2d_cfg *c = l->cfg;
  int w = lmg_param(g, l->weights[0].t, l->trainable);
  int b = c->use_bias ? lmg_param(g, l->weights[1].t, l->trainable) : -1;
  if (w < 0 || (c->use_bias && b < 0)) return g->ctx->err;
  /* relu is fused into the convolution (src/ops/conv2d.c) */
  const bool relu = c->activation == LMO_RELU;
  int y = lmo_conv2d_relu(g, in[0], w, b, c->s[0], c->s[1], c->d[0], c->d[1], c->same, relu);
  if (c->activation != LMO_LINEAR && !relu) y = lmo_activation(g, c->activation, y, 0.0f);
  *out = y;
  return y < 0 ? g->ctx->err : LM_OK;
}

static void conv2d_config(const lm_layer *l, lm_buf *b) {
  const conv2d_cfg *c = l->cfg;
  lm_buf_printf(b,
                ", \"filters\": %d, \"kernel_size\": [%d, %d], \"strides\": [%d, %d], "
                "\"padding\": \"%s\", \"data_format\": \"channels_last\", "
                "\"dilation_rate\": [%d, %d], \"activation\": \"%s\", \"use_bias\": %s, "
                "\"kernel_initializer\": \"%s\", \"bias_initializer\": \"%s\"",
                c->filters, c->k[0], c->k[1], c->s[0], c->s[1], c->same ? "same" : "valid",
                c->d[0], c->d[1], lmo_act_name(c->activation), c->use_bias ? "true" : "false",
                c->kernel_init, c->bias_init);
}

static lm_layer *conv2d_from_config(lm_ctx *ctx, const lmj_value *cfg, const char *name) {
  int k[2], s[2], d[2];
  if (!lml_conv_pair(cfg, "kernel_size", 0, k) || !lml_conv_pair(cfg, "strides", 1, s) ||
      !lml_conv_pair(cfg, "dilation_rate", 1, d)) {
    lm_fail(ctx, LM_ERR_FORMAT, "Conv2D %s: kernel_size, strides and dilation_rate must be "
            "integers or pairs of integers", name);
    return NULL;
  }
  lm_conv2d_opts o = {
      .strides = {s[0], s[1]},
      .padding = lmj_get_str(cfg, "padding", "valid"),
      .dilation_rate = {d[0], d[1]},
      .activation = lmj_get_str(cfg, "activation", "linear"),
      .no_bias = !lmj_get_bool(cfg, "use_bias", true),
      .kernel_initializer = lmj_get_str(cfg, "kernel_initializer", NULL),
      .bias_initializer = lmj_get_str(cfg, "bias_initializer", NULL),
      .name = name,
  };
  return lm_layer_conv2d(ctx, (int)lmj_get_num(cfg, "filters", 0), k[0], k[1], &o);
}

const lml_class lml_conv2d_class = {
    .class_name = "Conv2D",
    .prefix = "conv2d",
    .min_inputs = 1,
    .max_inputs = 1,
    .build = conv2d_build,
    .out_shape = conv2d_out_shape,
    .emit = conv2d_emit,
    .config = conv2d_config,
    .from_config = conv2d_from_config,
};

lm_layer *lm_layer_conv2d(lm_ctx *ctx, int filters, int kh, int kw, const lm_conv2d_opts *opts) {
  if (!ctx) return NULL;
  lm_conv2d_opts dflt = {0};
  if (!opts) opts = &dflt;
  int s[2] = {opts->strides[0] ? opts->strides[0] : 1, opts->strides[1] ? opts->strides[1] : 1};
  int d[2] = {opts->dilation_rate[0] ? opts->dilation_rate[0] : 1,
              opts->dilation_rate[1] ? opts->dilation_rate[1] : 1};
  if (filters <= 0 || kh <= 0 || kw <= 0 || s[0] < 0 || s[1] < 0 || d[0] < 0 || d[1] < 0) {
    lm_fail(ctx, LM_ERR_ARG,
            "Conv2D: filters, kernel_size, strides and dilation_rate must be positive, got "
            "filters=%d, kernel_size=(%d, %d), strides=(%d, %d), dilation_rate=(%d, %d)",
            filters, kh, kw, s[0], s[1], d[0], d[1]);
    return NULL;
  }
  int same = lml_conv_padding(opts->padding);
  if (same < 0) {
    lm_fail(ctx, LM_ERR_ARG, "Conv2D: padding must be 'valid' or 'same', got '%s'",
            opts->padding);
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
  lm_layer *l = lml_new(ctx, &lml_conv2d_class, opts->name, sizeof(conv2d_cfg));
  if (!l) return NULL;
  conv2d_cfg *c = l->cfg;
  c->filters = filters;
  c->k[0] = kh;
  c->k[1] = kw;
  memcpy(c->s, s, sizeof s);
  memcpy(c->d, d, sizeof d);
  c->same = same == 1;
  c->use_bias = !opts->no_bias;
  c->activation = act;
  strcpy(c->kernel_init, ki);
  strcpy(c->bias_init, bi);
  return l;
}

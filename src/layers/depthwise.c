/* DepthwiseConv2D and SeparableConv2D (keras/layers/convolutional.py, 2.2.4).
 *
 * DepthwiseConv2D: one depthwise op with the bias folded in, then the
 * activation. SeparableConv2D: depthwise (no bias), the 1x1 pointwise
 * convolution as one gemm on the last axis with the bias, then the
 * activation; no nonlinearity between the two steps, as in Keras. */
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "kernels/conv_shape.h"
#include "layers/layer.h"
#include "layers/spatial_util.h"
#include "ops/spatial.h"

typedef struct dwconv_cfg {
  int filters; /* SeparableConv2D; 0 for DepthwiseConv2D */
  int kh, kw, sh, sw, dh, dw, dm;
  bool same;
  int activation;
  bool use_bias;
  char dw_init[32], pw_init[32], bias_init[32];
} dwconv_cfg;

static int64_t dw_channels(const lm_layer *l) {
  return l->weights[0].t->shape[2]; /* depthwise_kernel (kh, kw, C, dm) */
}

static lm_status dwconv_build(lm_layer *l, int n_in, const lm_shape *in) {
  dwconv_cfg *c = l->cfg;
  if (in[0].ndim != 4 || in[0].d[3] == LM_NONE) {
    char s[128];
    lml_shape_str(&in[0], s, sizeof s);
    return lm_fail(l->ctx, LM_ERR_SHAPE,
                   "Input 0 is incompatible with layer %s: expected ndim=4 with a defined "
                   "channel dimension, found shape %s",
                   l->name, s);
  }
  int64_t C = in[0].d[3];
  int64_t ks[4] = {c->kh, c->kw, C, c->dm};
  if (!lml_add_weight(l, "depthwise_kernel", 4, ks, c->dw_init, true)) return l->ctx->err;
  if (c->filters) {
    int64_t ps[4] = {1, 1, C * c->dm, c->filters};
    if (!lml_add_weight(l, "pointwise_kernel", 4, ps, c->pw_init, true)) return l->ctx->err;
  }
  if (c->use_bias) {
    int64_t bs[1] = {c->filters ? c->filters : C * c->dm};
    if (!lml_add_weight(l, "bias", 1, bs, c->bias_init, true)) return l->ctx->err;
  }
  return LM_OK;
}

static lm_status dwconv_out_shape(lm_layer *l, int n_in, const lm_shape *in, lm_shape *out) {
  const dwconv_cfg *c = l->cfg;
  char s[128];
  lml_shape_str(&in[0], s, sizeof s);
  int64_t C = dw_channels(l);
  if (in[0].ndim != 4 || in[0].d[3] != C)
    return lm_fail(l->ctx, LM_ERR_SHAPE,
                   "Input 0 is incompatible with layer %s: expected ndim=4 and axis -1 of "
                   "input shape to have value %lld but got shape %s",
                   l->name, (long long)C, s);
  *out = in[0];
  out->dtype = LM_FLOAT32;
  const int k[2] = {c->kh, c->kw}, st[2] = {c->sh, c->sw}, dl[2] = {c->dh, c->dw};
  for (int a = 0; a < 2; a++) {
    int64_t n = in[0].d[a + 1];
    out->d[a + 1] = lmk_conv_out(n, k[a], st[a], dl[a], c->same);
    if (n != LM_NONE && out->d[a + 1] < 1)
      return lm_fail(l->ctx, LM_ERR_SHAPE,
                     "Layer %s: Negative dimension size caused by subtracting %d from %lld "
                     "(kernel_size (%d, %d), dilation_rate (%d, %d), padding 'valid') with "
                     "input shape %s",
                     l->name, k[a] + (k[a] - 1) * (dl[a] - 1), (long long)n, c->kh, c->kw, c->dh,
                     c->dw, s);
  }
  out->d[3] = c->filters ? c->filters : C * c->dm;
  return LM_OK;
}

static lm_status dwconv_emit(lm_layer *l, lmg_graph *g, int n_in, const int *in, int *out) {
  const dwconv_cfg *c = l->cfg;
  int k = lmg_param(g, l->weights[0].t, l->trainable);
  int pw = c->filters ? lmg_param(g, l->weights[1].t, l->trainable) : -1;
  int b = c->use_bias ? lmg_param(g, l->weights[c->filters ? 2 : 1].t, l->trainable) : -1;
  if (k < 0 || (c->filters && pw < 0) || (c->use_bias && b < 0)) return g->ctx->err;
  int y = lmo_depthwise(g, in[0], k, c->filters ? -1 : b, c->sh, c->sw, c->dh, c->dw, c->same);
  if (c->filters) y = lmo_pointwise(g, y, pw, b);
  if (c->activation != LMO_LINEAR) y = lmo_activation(g, c->activation, y, 0.0f);
  *out = y;
  return y < 0 ? g->ctx->err : LM_OK;
}

static void dwconv_config(const lm_layer *l, lm_buf *b) {
  const dwconv_cfg *c = l->cfg;
  if (c->filters) lm_buf_printf(b, ", \"filters\": %d", c->filters);
  lm_buf_printf(b,
                ", \"kernel_size\": [%d, %d], \"strides\": [%d, %d], \"padding\": \"%s\", "
                "\"data_format\": \"channels_last\", \"dilation_rate\": [%d, %d], "
                "\"depth_multiplier\": %d, \"activation\": \"%s\", \"use_bias\": %s, "
                "\"depthwise_initializer\": \"%s\"",
                c->kh, c->kw, c->sh, c->sw, c->same ? "same" : "valid", c->dh, c->dw, c->dm,
                lmo_act_name(c->activation), c->use_bias ? "true" : "false", c->dw_init);
  if (c->filters) lm_buf_printf(b, ", \"pointwise_initializer\": \"%s\"", c->pw_init);
  lm_buf_printf(b, ", \"bias_initializer\": \"%s\"", c->bias_init);
}

static lm_layer *dwconv_from_config(lm_ctx *ctx, const lmj_value *cfg, const char *name) {
  int ks[2] = {0, 0}, st[2] = {1, 1}, dl[2] = {1, 1};
  if (lml_spatial_pair(ctx, cfg, "kernel_size", 0, ks, name) ||
      lml_spatial_pair(ctx, cfg, "strides", 1, st, name) ||
      lml_spatial_pair(ctx, cfg, "dilation_rate", 1, dl, name))
    return NULL;
  lm_separable_opts o = {
      .strides = {st[0], st[1]},
      .padding = lmj_get_str(cfg, "padding", "valid"),
      .dilation_rate = {dl[0], dl[1]},
      .depth_multiplier = (int)lmj_get_num(cfg, "depth_multiplier", 1),
      .activation = lmj_get_str(cfg, "activation", "linear"),
      .no_bias = !lmj_get_bool(cfg, "use_bias", true),
      .depthwise_initializer = lmj_get_str(cfg, "depthwise_initializer", NULL),
      .pointwise_initializer = lmj_get_str(cfg, "pointwise_initializer", NULL),
      .bias_initializer = lmj_get_str(cfg, "bias_initializer", NULL),
      .name = name,
  };
  const lmj_value *f = lmj_get(cfg, "filters");
  if (f)
    return lm_layer_separable_conv2d(ctx, (int)lmj_get_num(cfg, "filters", 0), ks[0], ks[1], &o);
  return lm_layer_depthwise_conv2d(ctx, ks[0], ks[1], &o);
}

const lml_class lml_depthwise_conv2d_class = {
    .class_name = "DepthwiseConv2D",
    .prefix = "depthwise_conv2d",
    .min_inputs = 1,
    .max_inputs = 1,
    .build = dwconv_build,
    .out_shape = dwconv_out_shape,
    .emit = dwconv_emit,
    .config = dwconv_config,
    .from_config = dwconv_from_config,
};

const lml_class lml_separable_conv2d_class = {
    .class_name = "SeparableConv2D",
    .prefix = "separable_conv2d",
    .min_inputs = 1,
    .max_inputs = 1,
    .build = dwconv_build,
    .out_shape = dwconv_out_shape,
    .emit = dwconv_emit,
    .config = dwconv_config,
    .from_config = dwconv_from_config,
};

static bool init_ok(lm_ctx *ctx, const char *what, const char *init) {
  if (lml_initializer_known(init) && strlen(init) < 32) return true;
  lm_fail(ctx, LM_ERR_ARG, "%s: unknown initializer: %s", what, init);
  return false;
}

static lm_layer *dwconv_new(lm_ctx *ctx, const lml_class *cls, int filters, int kh, int kw,
                            const lm_separable_opts *opts) {
  if (!ctx) return NULL;
  lm_separable_opts dflt = {0};
  if (!opts) opts = &dflt;
  const char *what = cls->class_name;
  int sh = opts->strides[0] ? opts->strides[0] : 1, sw = opts->strides[1] ? opts->strides[1] : 1;
  int dh = opts->dilation_rate[0] ? opts->dilation_rate[0] : 1;
  int dw = opts->dilation_rate[1] ? opts->dilation_rate[1] : 1;
  int dm = opts->depth_multiplier ? opts->depth_multiplier : 1;
  if ((cls == &lml_separable_conv2d_class && filters <= 0) || kh <= 0 || kw <= 0 || sh < 0 ||
      sw < 0 || dh < 0 || dw < 0 || dm < 0) {
    lm_fail(ctx, LM_ERR_ARG,
            "%s: filters, kernel_size, strides, dilation_rate and depth_multiplier must be "
            "positive (got filters %d, kernel_size (%d, %d), strides (%d, %d), dilation_rate "
            "(%d, %d), depth_multiplier %d)",
            what, filters, kh, kw, sh, sw, dh, dw, dm);
    return NULL;
  }
  bool same;
  if (lml_spatial_padding(ctx, what, opts->padding, &same)) return NULL;
  int act = lmo_act_parse(opts->activation);
  if (act < 0) {
    lm_fail(ctx, LM_ERR_ARG, "Unknown activation function: %s", opts->activation);
    return NULL;
  }
  const char *di = opts->depthwise_initializer ? opts->depthwise_initializer : "glorot_uniform";
  const char *pi = opts->pointwise_initializer ? opts->pointwise_initializer : "glorot_uniform";
  const char *bi = opts->bias_initializer ? opts->bias_initializer : "zeros";
  if (!init_ok(ctx, what, di) || !init_ok(ctx, what, pi) || !init_ok(ctx, what, bi)) return NULL;
  lm_layer *l = lml_new(ctx, cls, opts->name, sizeof(dwconv_cfg));
  if (!l) return NULL;
  dwconv_cfg *c = l->cfg;
  c->filters = cls == &lml_separable_conv2d_class ? filters : 0;
  c->kh = kh;
  c->kw = kw;
  c->sh = sh;
  c->sw = sw;
  c->dh = dh;
  c->dw = dw;
  c->dm = dm;
  c->same = same;
  c->activation = act;
  c->use_bias = !opts->no_bias;
  strcpy(c->dw_init, di);
  strcpy(c->pw_init, pi);
  strcpy(c->bias_init, bi);
  return l;
}

lm_layer *lm_layer_depthwise_conv2d(lm_ctx *ctx, int kh, int kw, const lm_separable_opts *opts) {
  return dwconv_new(ctx, &lml_depthwise_conv2d_class, 0, kh, kw, opts);
}

lm_layer *lm_layer_separable_conv2d(lm_ctx *ctx, int filters, int kh, int kw,
                                    const lm_separable_opts *opts) {
  return dwconv_new(ctx, &lml_separable_conv2d_class, filters, kh, kw, opts);
}

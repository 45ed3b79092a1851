/* Conv2DTranspose (keras/layers/convolutional.py, 2.2.4): kernel (kh, kw,
 * filters, Cin), bias (filters); one conv2d_transpose op, then the
 * activation. output_padding is not supported (Keras' default None). */
#include <stdio.h>
#include <string.h>

#include "layers/spatial_util.h"
#include "ops/spatial.h"

typedef struct ct_cfg {
  int filters, kh, kw, sh, sw, dh, dw;
  bool same, use_bias;
  int activation;
  char kernel_init[32], bias_init[32];
} ct_cfg;

static int64_t deconv_len(int64_t n, int k, int s, int d, bool same) {
  if (n == LM_NONE) return LM_NONE;
  int64_t dk = (int64_t)k + (int64_t)(k - 1) * (d - 1);
  return same ? n * s : n * s + (dk > s ? dk - s : 0);
}

static lm_status ct_build(lm_layer *l, int n_in, const lm_shape *in) {
  ct_cfg *c = l->cfg;
  if (in[0].ndim != 4 || in[0].d[3] == LM_NONE) {
    char s[128];
    lml_shape_str(&in[0], s, sizeof s);
    return lm_fail(l->ctx, LM_ERR_SHAPE,
                   "Input 0 is incompatible with layer %s: expected ndim=4 with a defined "
                   "channel dimension, found shape %s",
                   l->name, s);
  }
  int64_t ks[4] = {c->kh, c->kw, c->filters, in[0].d[3]};
  if (!lml_add_weight(l, "kernel", 4, ks, c->kernel_init, true)) return l->ctx->err;
  if (c->use_bias) {
    int64_t bs[1] = {c->filters};
    if (!lml_add_weight(l, "bias", 1, bs, c->bias_init, true)) return l->ctx->err;
  }
  return LM_OK;
}

static lm_status ct_out_shape(lm_layer *l, int n_in, const lm_shape *in, lm_shape *out) {
  const ct_cfg *c = l->cfg;
  int64_t cin = l->weights[0].t->shape[3];
  if (in[0].ndim != 4 || in[0].d[3] != cin) {
    char s[128];
    lml_shape_str(&in[0], s, sizeof s);
    return lm_fail(l->ctx, LM_ERR_SHAPE,
                   "Input 0 is incompatible with layer %s: expected ndim=4 and axis -1 of "
                   "input shape to have value %lld but got shape %s",
                   l->name, (long long)cin, s);
  }
  *out = in[0];
  out->dtype = LM_FLOAT32;
  out->d[1] = deconv_len(in[0].d[1], c->kh, c->sh, c->dh, c->same);
  out->d[2] = deconv_len(in[0].d[2], c->kw, c->sw, c->dw, c->same);
  out->d[3] = c->filters;
  return LM_OK;
}

static lm_status ct_emit(lm_layer *l, lmg_graph *g, int n_in, const int *in, int *out) {
  const ct_cfg *c = l->cfg;
  int k = lmg_param(g, l->weights[0].t, l->trainable);
  int b = c->use_bias ? lmg_param(g, l->weights[1].t, l->trainable) : -1;
  if (k < 0 || (c->use_bias && b < 0)) return g->ctx->err;
  int y = lmo_conv2d_transpose(g, in[0], k, b, c->sh, c->sw, c->dh, c->dw, c->same);
  if (c->activation != LMO_LINEAR) y = lmo_activation(g, c->activation, y, 0.0f);
  *out = y;
  return y < 0 ? g->ctx->err : LM_OK;
}

static void ct_config(const lm_layer *l, lm_buf *b) {
  const ct_cfg *c = l->cfg;
  lm_buf_printf(b,
                ", \"filters\": %d, \"kernel_size\": [%d, %d], \"strides\": [%d, %d], "
                "\"padding\": \"%s\", \"data_format\": \"channels_last\", "
                "\"dilation_rate\": [%d, %d], \"activation\": \"%s\", \"use_bias\": %s, "
                "\"kernel_initializer\": \"%s\", \"bias_initializer\": \"%s\", "
                "\"output_padding\": null",
                c->filters, c->kh, c->kw, c->sh, c->sw, c->same ? "same" : "valid", c->dh, c->dw,
                lmo_act_name(c->activation), c->use_bias ? "true" : "false", c->kernel_init,
                c->bias_init);
}

static lm_layer *ct_from_config(lm_ctx *ctx, const lmj_value *cfg, const char *name) {
  int ks[2] = {0, 0}, st[2] = {1, 1}, dl[2] = {1, 1};
  if (lml_spatial_pair(ctx, cfg, "kernel_size", 0, ks, name) ||
      lml_spatial_pair(ctx, cfg, "strides", 1, st, name) ||
      lml_spatial_pair(ctx, cfg, "dilation_rate", 1, dl, name))
    return NULL;
  const lmj_value *op = lmj_get(cfg, "output_padding");
  if (op && op->type != LMJ_NULL) {
    lm_fail(ctx, LM_ERR_ARG, "Conv2DTranspose %s: output_padding is not supported", name);
    return NULL;
  }
  lm_conv2d_transpose_opts o = {
      .strides = {st[0], st[1]},
      .padding = lmj_get_str(cfg, "padding", "valid"),
      .dilation_rate = {dl[0], dl[1]},
      .activation = lmj_get_str(cfg, "activation", "linear"),
      .no_bias = !lmj_get_bool(cfg, "use_bias", true),
      .kernel_initializer = lmj_get_str(cfg, "kernel_initializer", NULL),
      .bias_initializer = lmj_get_str(cfg, "bias_initializer", NULL),
      .name = name,
  };
  return lm_layer_conv2d_transpose(ctx, (int)lmj_get_num(cfg, "filters", 0), ks[0], ks[1], &o);
}

const lml_class lml_conv2d_transpose_class = {
    .class_name = "Conv2DTranspose",
    .prefix = "conv2d_transpose",
    .min_inputs = 1,
    .max_inputs = 1,
    .build = ct_build,
    .out_shape = ct_out_shape,
    .emit = ct_emit,
    .config = ct_config,
    .from_config = ct_from_config,
};

lm_layer *lm_layer_conv2d_transpose(lm_ctx *ctx, int filters, int kh, int kw,
                                    const lm_conv2d_transpose_opts *opts) {
  if (!ctx) return NULL;
  lm_conv2d_transpose_opts dflt = {0};
  if (!opts) opts = &dflt;
  int sh = opts->strides[0] ? opts->strides[0] : 1, sw = opts->strides[1] ? opts->strides[1] : 1;
  int dh = opts->dilation_rate[0] ? opts->dilation_rate[0] : 1;
  int dw = opts->dilation_rate[1] ? opts->dilation_rate[1] : 1;
  if (filters <= 0 || kh <= 0 || kw <= 0 || sh < 1 || sw < 1 || dh < 1 || dw < 1) {
    lm_fail(ctx, LM_ERR_ARG,
            "Conv2DTranspose: filters, kernel_size, strides and dilation_rate must be positive "
            "(got filters %d, kernel_size (%d, %d), strides (%d, %d), dilation_rate (%d, %d))",
            filters, kh, kw, sh, sw, dh, dw);
    return NULL;
  }
  bool same;
  if (lml_spatial_padding(ctx, "Conv2DTranspose", opts->padding, &same)) return NULL;
  int act = lmo_act_parse(opts->activation);
  if (act < 0) {
    lm_fail(ctx, LM_ERR_ARG, "Unknown activation function: %s", opts->activation);
    return NULL;
  }
  const char *ki = opts->kernel_initializer ? opts->kernel_initializer : "glorot_uniform";
  const char *bi = opts->bias_initializer ? opts->bias_initializer : "zeros";
  if (!lml_initializer_known(ki) || !lml_initializer_known(bi) || strlen(ki) >= 32 ||
      strlen(bi) >= 32) {
    lm_fail(ctx, LM_ERR_ARG, "Conv2DTranspose: unknown initializer: %s",
            lml_initializer_known(ki) ? bi : ki);
    return NULL;
  }
  lm_layer *l = lml_new(ctx, &lml_conv2d_transpose_class, opts->name, sizeof(ct_cfg));
  if (!l) return NULL;
  ct_cfg *c = l->cfg;
  c->filters = filters;
  c->kh = kh;
  c->kw = kw;
  c->sh = sh;
  c->sw = sw;
  c->dh = dh;
  c->dw = dw;
  c->same = same;
  c->use_bias = !opts->no_bias;
  c->activation = act;
  strcpy(c->kernel_init, ki);
  strcpy(c->bias_init, bi);
  return l;
}

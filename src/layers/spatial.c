/* ZeroPadding2D, Cropping2D, UpSampling2D (keras/layers/convolutional.py,
 * 2.2.4; channels_last), and the helpers of spatial_util.h. */
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "layers/spatial_util.h"
#include "ops/spatial.h"

lm_status lml_spatial_padding(lm_ctx *ctx, const char *what, const char *padding, bool *same) {
  if (!padding || strcasecmp(padding, "valid") == 0) {
    *same = false;
    return LM_OK;
  }
  if (strcasecmp(padding, "same") == 0) {
    *same = true;
    return LM_OK;
  }
  return lm_fail(ctx, LM_ERR_ARG,
                 "%s: the `padding` argument must be one of \"valid\", \"same\". Received: %s",
                 what, padding);
}

static bool num_ok(const lmj_value *v) {
  return v && v->type == LMJ_NUM && v->num >= 0 && v->num < 1e9 && v->num == (int)v->num;
}

lm_status lml_spatial_pair(lm_ctx *ctx, const lmj_value *cfg, const char *key, int dflt, int out[2],
                           const char *layer) {
  const lmj_value *v = lmj_get(cfg, key);
  out[0] = out[1] = dflt;
  if (!v || v->type == LMJ_NULL) {
    if (dflt) return LM_OK;
  } else if (num_ok(v)) {
    out[0] = out[1] = (int)v->num;
    return LM_OK;
  } else if (v->type == LMJ_ARR && v->n == 2 && num_ok(&v->items[0]) && num_ok(&v->items[1])) {
    out[0] = (int)v->items[0].num;
    out[1] = (int)v->items[1].num;
    return LM_OK;
  }
  return lm_fail(ctx, LM_ERR_FORMAT, "layer %s: missing or bad \"%s\" in the saved config", layer,
                 key);
}

/* Keras' forms: n, (sym_h, sym_w) or ((top, bottom), (left, right)). */
static lm_status cfg_quad(lm_ctx *ctx, const lmj_value *cfg, const char *key, int out[4],
                          const char *layer) {
  const lmj_value *v = lmj_get(cfg, key);
  if (v && v->type == LMJ_ARR && v->n == 2 && v->items[0].type == LMJ_ARR) {
    for (int a = 0; a < 2; a++) {
      const lmj_value *p = &v->items[a];
      if (p->type != LMJ_ARR || p->n != 2 || !num_ok(&p->items[0]) || !num_ok(&p->items[1]))
        return lm_fail(ctx, LM_ERR_FORMAT, "layer %s: bad \"%s\" in the saved config", layer, key);
      out[2 * a] = (int)p->items[0].num;
      out[2 * a + 1] = (int)p->items[1].num;
    }
    return LM_OK;
  }
  int pair[2] = {0, 0};
  if (lml_spatial_pair(ctx, cfg, key, 0, pair, layer)) return ctx->err;
  out[0] = out[1] = pair[0];
  out[2] = out[3] = pair[1];
  return LM_OK;
}

/* ---- ZeroPadding2D and Cropping2D: one pad2d op (negative = crop) ---- */

typedef struct pad_cfg {
  int p[4]; /* top, bottom, left, right (non-negative) */
} pad_cfg;

static bool is_crop(const lm_layer *l);

static lm_status pad_out_shape(lm_layer *l, int n_in, const lm_shape *in, lm_shape *out) {
  const int *p = ((const pad_cfg *)l->cfg)->p;
  int sign = is_crop(l) ? -1 : 1;
  char s[128];
  lml_shape_str(&in[0], s, sizeof s);
  if (in[0].ndim != 4)
    return lm_fail(l->ctx, LM_ERR_SHAPE,
                   "Input 0 is incompatible with layer %s: expected ndim=4, found shape %s",
                   l->name, s);
  *out = in[0];
  for (int a = 1; a <= 2; a++) {
    if (in[0].d[a] == LM_NONE) continue;
    out->d[a] = in[0].d[a] + sign * (p[2 * a - 2] + p[2 * a - 1]);
    if (out->d[a] < 1)
      return lm_fail(l->ctx, LM_ERR_SHAPE,
                     "Layer %s: cropping ((%d, %d), (%d, %d)) removes every row or column of "
                     "input shape %s",
                     l->name, p[0], p[1], p[2], p[3], s);
  }
  return LM_OK;
}

static lm_status pad_emit(lm_layer *l, lmg_graph *g, int n_in, const int *in, int *out) {
  const int *p = ((const pad_cfg *)l->cfg)->p;
  int sign = is_crop(l) ? -1 : 1;
  *out = lmo_pad2d(g, in[0], sign * p[0], sign * p[1], sign * p[2], sign * p[3]);
  return *out < 0 ? g->ctx->err : LM_OK;
}

static void pad_config(const lm_layer *l, lm_buf *b) {
  const int *p = ((const pad_cfg *)l->cfg)->p;
  lm_buf_printf(b, ", \"%s\": [[%d, %d], [%d, %d]], \"data_format\": \"channels_last\"",
                is_crop(l) ? "cropping" : "padding", p[0], p[1], p[2], p[3]);
}

static lm_layer *pad_from_config(lm_ctx *ctx, const lmj_value *cfg, const char *name) {
  int p[4] = {0, 0, 0, 0};
  bool crop = lmj_get(cfg, "cropping") != NULL;
  if (cfg_quad(ctx, cfg, crop ? "cropping" : "padding", p, name)) return NULL;
  return crop ? lm_layer_cropping2d(ctx, p[0], p[1], p[2], p[3], name)
              : lm_layer_zero_padding2d(ctx, p[0], p[1], p[2], p[3], name);
}

const lml_class lml_zero_padding2d_class = {
    .class_name = "ZeroPadding2D",
    .prefix = "zero_padding2d",
    .min_inputs = 1,
    .max_inputs = 1,
    .out_shape = pad_out_shape,
    .emit = pad_emit,
    .config = pad_config,
    .from_config = pad_from_config,
};

const lml_class lml_cropping2d_class = {
    .class_name = "Cropping2D",
    .prefix = "cropping2d",
    .min_inputs = 1,
    .max_inputs = 1,
    .out_shape = pad_out_shape,
    .emit = pad_emit,
    .config = pad_config,
    .from_config = pad_from_config,
};

static bool is_crop(const lm_layer *l) { return l->cls == &lml_cropping2d_class; }

static lm_layer *pad_new(lm_ctx *ctx, const lml_class *cls, int t, int b, int le, int r,
                         const char *name) {
  if (!ctx) return NULL;
  if (t < 0 || b < 0 || le < 0 || r < 0) {
    lm_fail(ctx, LM_ERR_ARG, "%s: %s ((%d, %d), (%d, %d)) must be non-negative", cls->class_name,
            cls == &lml_cropping2d_class ? "cropping" : "padding", t, b, le, r);
    return NULL;
  }
  lm_layer *l = lml_new(ctx, cls, name, sizeof(pad_cfg));
  if (!l) return NULL;
  int *p = ((pad_cfg *)l->cfg)->p;
  p[0] = t;
  p[1] = b;
  p[2] = le;
  p[3] = r;
  return l;
}

lm_layer *lm_layer_zero_padding2d(lm_ctx *ctx, int top, int bottom, int left, int right,
                                  const char *name) {
  return pad_new(ctx, &lml_zero_padding2d_class, top, bottom, left, right, name);
}

lm_layer *lm_layer_cropping2d(lm_ctx *ctx, int top, int bottom, int left, int right,
                              const char *name) {
  return pad_new(ctx, &lml_cropping2d_class, top, bottom, left, right, name);
}

/* ---- UpSampling2D ---- */

typedef struct up_cfg {
  int sh, sw;
} up_cfg;

static lm_status up_out_shape(lm_layer *l, int n_in, const lm_shape *in, lm_shape *out) {
  const up_cfg *c = l->cfg;
  if (in[0].ndim != 4) {
    char s[128];
    lml_shape_str(&in[0], s, sizeof s);
    return lm_fail(l->ctx, LM_ERR_SHAPE,
                   "Input 0 is incompatible with layer %s: expected ndim=4, found shape %s",
                   l->name, s);
  }
  *out = in[0];
  if (in[0].d[1] != LM_NONE) out->d[1] = in[0].d[1] * c->sh;
  if (in[0].d[2] != LM_NONE) out->d[2] = in[0].d[2] * c->sw;
  return LM_OK;
}

static lm_status up_emit(lm_layer *l, lmg_graph *g, int n_in, const int *in, int *out) {
  const up_cfg *c = l->cfg;
  *out = lmo_upsample2d(g, in[0], c->sh, c->sw);
  return *out < 0 ? g->ctx->err : LM_OK;
}

static void up_config(const lm_layer *l, lm_buf *b) {
  const up_cfg *c = l->cfg;
  lm_buf_printf(b,
                ", \"size\": [%d, %d], \"data_format\": \"channels_last\", "
                "\"interpolation\": \"nearest\"",
                c->sh, c->sw);
}

static lm_layer *up_from_config(lm_ctx *ctx, const lmj_value *cfg, const char *name) {
  int s[2] = {0, 0};
  if (lml_spatial_pair(ctx, cfg, "size", 2, s, name)) return NULL;
  const char *interp = lmj_get_str(cfg, "interpolation", "nearest");
  if (strcmp(interp, "nearest") != 0) {
    lm_fail(ctx, LM_ERR_ARG, "UpSampling2D %s: interpolation '%s' is not supported (nearest only)",
            name, interp);
    return NULL;
  }
  return lm_layer_upsampling2d(ctx, s[0], s[1], name);
}

const lml_class lml_upsampling2d_class = {
    .class_name = "UpSampling2D",
    .prefix = "up_sampling2d",
    .min_inputs = 1,
    .max_inputs = 1,
    .out_shape = up_out_shape,
    .emit = up_emit,
    .config = up_config,
    .from_config = up_from_config,
};

lm_layer *lm_layer_upsampling2d(lm_ctx *ctx, int sh, int sw, const char *name) {
  if (!ctx) return NULL;
  if (sh < 1 || sw < 1) {
    lm_fail(ctx, LM_ERR_ARG, "UpSampling2D: size (%d, %d) must be positive", sh, sw);
    return NULL;
  }
  lm_layer *l = lml_new(ctx, &lml_upsampling2d_class, name, sizeof(up_cfg));
  if (!l) return NULL;
  ((up_cfg *)l->cfg)->sh = sh;
  ((up_cfg *)l->cfg)->sw = sw;
  return l;
}

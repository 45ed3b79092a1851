/* MaxPooling2D, AveragePooling2D, GlobalAveragePooling2D, GlobalMaxPooling2D
 * (keras/layers/pooling.py, channels_last). No weights. */
#include <string.h>

#include "kernels/conv_shape.h"
#include "layers/conv_layers.h"
#include "ops/conv_ops.h"

typedef struct pool_cfg {
  int p[2], s[2];
  bool same;
} pool_cfg;

static int pool_kind(const lm_layer *l) {
  return l->cls == &lml_max_pooling2d_class ? LMO_POOL_MAX : LMO_POOL_AVG;
}

static lm_status pool_out_shape(lm_layer *l, int n_in, const lm_shape *in, lm_shape *out) {
  const pool_cfg *c = l->cfg;
  char s[128];
  lml_shape_str(&in[0], s, sizeof s);
  if (in[0].ndim != 4)
    return lm_fail(l->ctx, LM_ERR_SHAPE,
                   "Input 0 is incompatible with layer %s: expected ndim=4, found ndim=%d "
                   "(input shape %s)",
                   l->name, in[0].ndim, s);
  int64_t oh = lmk_conv_out(in[0].d[1], c->p[0], c->s[0], 1, c->same);
  int64_t ow = lmk_conv_out(in[0].d[2], c->p[1], c->s[1], 1, c->same);
  if (oh == 0 || ow == 0)
    return lm_fail(l->ctx, LM_ERR_SHAPE,
                   "Negative dimension size caused by subtracting %d from %lld for layer %s "
                   "(pool_size (%d, %d), padding 'valid', input shape %s)",
                   oh == 0 ? c->p[0] : c->p[1], (long long)(oh == 0 ? in[0].d[1] : in[0].d[2]),
                   l->name, c->p[0], c->p[1], s);
  *out = in[0];
  out->dtype = LM_FLOAT32;
  out->d[1] = oh;
  out->d[2] = ow;
  return LM_OK;
}

static lm_status pool_emit(lm_layer *l, lmg_graph *g, int n_in, const int *in, int *out) {
  const pool_cfg *c = l->cfg;
  *out = lmo_pool2d(g, pool_kind(l), in[0], c->p[0], c->p[1], c->s[0], c->s[1], c->same);
  return *out < 0 ? g->ctx->err : LM_OK;
}

static void pool_config(const lm_layer *l, lm_buf *b) {
  const pool_cfg *c = l->cfg;
  lm_buf_printf(b,
                ", \"pool_size\": [%d, %d], \"padding\": \"%s\", \"strides\": [%d, %d], "
                "\"data_format\": \"channels_last\"",
                c->p[0], c->p[1], c->same ? "same" : "valid", c->s[0], c->s[1]);
}

static lm_layer *pool_make(lm_ctx *ctx, const lml_class *cls, int ph, int pw,
                           const lm_pool2d_opts *opts) {
  if (!ctx) return NULL;
  lm_pool2d_opts dflt = {0};
  if (!opts) opts = &dflt;
  int p[2] = {ph ? ph : 2, pw ? pw : 2};
  int s[2] = {opts->strides[0] ? opts->strides[0] : p[0],
              opts->strides[1] ? opts->strides[1] : p[1]};
  if (p[0] < 0 || p[1] < 0 || s[0] < 0 || s[1] < 0) {
    lm_fail(ctx, LM_ERR_ARG,
            "%s: pool_size and strides must be positive, got pool_size=(%d, %d), "
            "strides=(%d, %d)",
            cls->class_name, p[0], p[1], s[0], s[1]);
    return NULL;
  }
  int same = lml_conv_padding(opts->padding);
  if (same < 0) {
    lm_fail(ctx, LM_ERR_ARG, "%s: padding must be 'valid' or 'same', got '%s'",
            cls->class_name, opts->padding);
    return NULL;
  }
  lm_layer *l = lml_new(ctx, cls, opts->name, sizeof(pool_cfg));
  if (!l) return NULL;
  pool_cfg *c = l->cfg;
  memcpy(c->p, p, sizeof p);
  memcpy(c->s, s, sizeof s);
  c->same = same == 1;
  return l;
}

static lm_layer *pool_from_config(lm_ctx *ctx, const lmj_value *cfg, const char *name,
                                  const lml_class *cls) {
  int p[2], s[2];
  if (!lml_conv_pair(cfg, "pool_size", 2, p) || !lml_conv_pair(cfg, "strides", 0, s)) {
    lm_fail(ctx, LM_ERR_FORMAT, "%s %s: pool_size and strides must be integers or pairs",
            cls->class_name, name);
    return NULL;
  }
  lm_pool2d_opts o = {.strides = {s[0], s[1]},
                      .padding = lmj_get_str(cfg, "padding", "valid"),
                      .name = name};
  return pool_make(ctx, cls, p[0], p[1], &o);
}

static lm_layer *max_from_config(lm_ctx *ctx, const lmj_value *cfg, const char *name) {
  return pool_from_config(ctx, cfg, name, &lml_max_pooling2d_class);
}
static lm_layer *avg_from_config(lm_ctx *ctx, const lmj_value *cfg, const char *name) {
  return pool_from_config(ctx, cfg, name, &lml_average_pooling2d_class);
}

const lml_class lml_max_pooling2d_class = {
    .class_name = "MaxPooling2D",
    .prefix = "max_pooling2d",
    .min_inputs = 1,
    .max_inputs = 1,
    .out_shape = pool_out_shape,
    .emit = pool_emit,
    .config = pool_config,
    .from_config = max_from_config,
};

const lml_class lml_average_pooling2d_class = {
    .class_name = "AveragePooling2D",
    .prefix = "average_pooling2d",
    .min_inputs = 1,
    .max_inputs = 1,
    .out_shape = pool_out_shape,
    .emit = pool_emit,
    .config = pool_config,
    .from_config = avg_from_config,
};

lm_layer *lm_layer_max_pooling2d(lm_ctx *ctx, int ph, int pw, const lm_pool2d_opts *opts) {
  return pool_make(ctx, &lml_max_pooling2d_class, ph, pw, opts);
}

lm_layer *lm_layer_average_pooling2d(lm_ctx *ctx, int ph, int pw, const lm_pool2d_opts *opts) {
  return pool_make(ctx, &lml_average_pooling2d_class, ph, pw, opts);
}

/* ---- global pooling ---- */

static int global_kind(const lm_layer *l) {
  return l->cls == &lml_global_max_pooling2d_class ? LMO_POOL_MAX : LMO_POOL_AVG;
}

static lm_status global_out_shape(lm_layer *l, int n_in, const lm_shape *in, lm_shape *out) {
  if (in[0].ndim != 4) {
    char s[128];
    lml_shape_str(&in[0], s, sizeof s);
    return lm_fail(l->ctx, LM_ERR_SHAPE,
                   "Input 0 is incompatible with layer %s: expected ndim=4, found ndim=%d "
                   "(input shape %s)",
                   l->name, in[0].ndim, s);
  }
  *out = in[0];
  out->dtype = LM_FLOAT32;
  out->ndim = 2;
  out->d[1] = in[0].d[3];
  return LM_OK;
}

static lm_status global_emit(lm_layer *l, lmg_graph *g, int n_in, const int *in, int *out) {
  *out = lmo_global_pool(g, global_kind(l), in[0]);
  return *out < 0 ? g->ctx->err : LM_OK;
}

static void global_config(const lm_layer *l, lm_buf *b) {
  (void)l;
  lm_buf_puts(b, ", \"data_format\": \"channels_last\"");
}

static lm_layer *gap_from_config(lm_ctx *ctx, const lmj_value *cfg, const char *name) {
  (void)cfg;
  return lm_layer_global_average_pooling2d(ctx, name);
}
static lm_layer *gmp_from_config(lm_ctx *ctx, const lmj_value *cfg, const char *name) {
  (void)cfg;
  return lm_layer_global_max_pooling2d(ctx, name);
}

const lml_class lml_global_average_pooling2d_class = {
    .class_name = "GlobalAveragePooling2D",
    .prefix = "global_average_pooling2d",
    .min_inputs = 1,
    .max_inputs = 1,
    .out_shape = global_out_shape,
    .emit = global_emit,
    .config = global_config,
    .from_config = gap_from_config,
};

const lml_class lml_global_max_pooling2d_class = {
    .class_name = "GlobalMaxPooling2D",
    .prefix = "global_max_pooling2d",
    .min_inputs = 1,
    .max_inputs = 1,
    .out_shape = global_out_shape,
    .emit = global_emit,
    .config = global_config,
    .from_config = gmp_from_config,
};

lm_layer *lm_layer_global_average_pooling2d(lm_ctx *ctx, const char *name) {
  return lml_new(ctx, &lml_global_average_pooling2d_class, name, 0);
}

lm_layer *lm_layer_global_max_pooling2d(lm_ctx *ctx, const char *name) {
  return lml_new(ctx, &lml_global_max_pooling2d_class, name, 0);
}

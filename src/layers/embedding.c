/* Embedding: integer ids (N, L) -> (N, L, output_dim) by table lookup. */
#include <string.h>

#include "layers/layer.h"
#include "ops/ops.h"

typedef struct embedding_cfg {
  int input_dim, output_dim, input_length;
  bool mask_zero;
  char init[32];
} embedding_cfg;

bool lml_embedding_mask_zero(const lm_layer *l) {
  return l && l->cls == &lml_embedding_class &&
         ((const embedding_cfg *)l->cfg)->mask_zero;
}

static lm_status embedding_build(lm_layer *l, int n_in, const lm_shape *in) {
  (void)n_in, (void)in;
  embedding_cfg *c = l->cfg;
  int64_t s[2] = {c->input_dim, c->output_dim};
  return lml_add_weight(l, "embeddings", 2, s, c->init, true) ? LM_OK
                                                              : l->ctx->err;
}

static lm_status embedding_out_shape(lm_layer *l, int n_in, const lm_shape *in,
                                     lm_shape *out) {
  (void)n_in;
  embedding_cfg *c = l->cfg;
  if (in[0].ndim + 1 > LM_MAX_DIMS) {
    char s[128];
    lml_shape_str(&in[0], s, sizeof s);
    return lm_fail(l->ctx, LM_ERR_SHAPE,
                   "Layer %s: input of shape %s has too many axes", l->name, s);
  }
  *out = in[0];
  out->dtype = LM_FLOAT32;
  if (c->input_length > 0 && in[0].ndim == 2) {
    if (in[0].d[1] != LM_NONE && in[0].d[1] != c->input_length) {
      char s[128];
      lml_shape_str(&in[0], s, sizeof s);
      return lm_fail(
          l->ctx, LM_ERR_SHAPE,
          "Layer %s: \"input_length\" is %d, but received input has shape %s",
          l->name, c->input_length, s);
    }
    out->d[1] = c->input_length;
  }
  out->d[out->ndim++] = c->output_dim;
  return LM_OK;
}

static lm_status embedding_emit(lm_layer *l, lmg_graph *g, int n_in,
                                const int *in, int *out) {
  (void)n_in;
  int w = lmg_param(g, l->weights[0].t, l->trainable);
  if (w < 0)
    return g->ctx->err;
  *out = lmo_embedding(g, in[0], w);
  if (*out < 0)
    return g->ctx->err;
  /* mask_zero: a recurrent layer fed by this node reads the ids as its mask */
  lmg_at(g, *out)->iarg[0] = ((const embedding_cfg *)l->cfg)->mask_zero;
  return LM_OK;
}

static void embedding_config(const lm_layer *l, lm_buf *b) {
  const embedding_cfg *c = l->cfg;
  lm_buf_printf(b,
                ", \"input_dim\": %d, \"output_dim\": %d, "
                "\"embeddings_initializer\": \"%s\", "
                "\"mask_zero\": %s, \"input_length\": ",
                c->input_dim, c->output_dim, c->init,
                c->mask_zero ? "true" : "false");
  if (c->input_length > 0)
    lm_buf_printf(b, "%d", c->input_length);
  else
    lm_buf_puts(b, "null");
}

static lm_layer *embedding_from_config(lm_ctx *ctx, const lmj_value *cfg,
                                       const char *name) {
  lm_embedding_opts o = {
      .embeddings_initializer =
          lmj_get_str(cfg, "embeddings_initializer", NULL),
      .mask_zero = lmj_get_bool(cfg, "mask_zero", false),
      .input_length = (int)lmj_get_num(cfg, "input_length", 0),
      .name = name,
  };
  return lm_layer_embedding(ctx, (int)lmj_get_num(cfg, "input_dim", 0),
                            (int)lmj_get_num(cfg, "output_dim", 0), &o);
}

const lml_class lml_embedding_class = {
    .class_name = "Embedding",
    .prefix = "embedding",
    .min_inputs = 1,
    .max_inputs = 1,
    .build = embedding_build,
    .out_shape = embedding_out_shape,
    .emit = embedding_emit,
    .config = embedding_config,
    .from_config = embedding_from_config,
};

lm_layer *lm_layer_embedding(lm_ctx *ctx, int input_dim, int output_dim,
                             const lm_embedding_opts *opts) {
  if (!ctx)
    return NULL;
  lm_embedding_opts dflt = {0};
  if (!opts)
    opts = &dflt;
  if (input_dim <= 0 || output_dim <= 0 || opts->input_length < 0) {
    lm_fail(ctx, LM_ERR_ARG,
            "Embedding: input_dim and output_dim must be positive (and "
            "input_length >= 0), got "
            "input_dim=%d, output_dim=%d, input_length=%d",
            input_dim, output_dim, opts->input_length);
    return NULL;
  }
  const char *ei =
      opts->embeddings_initializer ? opts->embeddings_initializer : "uniform";
  if (!lml_initializer_known(ei) || strlen(ei) >= 32) {
    lm_fail(ctx, LM_ERR_ARG, "Unknown initializer: %s", ei);
    return NULL;
  }
  lm_layer *l =
      lml_new(ctx, &lml_embedding_class, opts->name, sizeof(embedding_cfg));
  if (!l)
    return NULL;
  embedding_cfg *c = l->cfg;
  c->input_dim = input_dim;
  c->output_dim = output_dim;
  c->input_length = opts->input_length;
  c->mask_zero = opts->mask_zero;
  strcpy(c->init, ei);
  return l;
}

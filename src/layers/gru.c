/* GRU: Keras' GRU over a sequence as one fused op (src/ops/gru.c).
 * Defaults: recurrent_activation 'hard_sigmoid' as this repo's LSTM (Keras
 * 2.2.4) and reset_after=True as tf.keras; see docs/keras-compat.md. */
#include <string.h>

#include "layers/layer.h"
#include "layers/rnn.h"
#include "ops/ops.h"

typedef struct gru_cfg {
  int units;
  int act, rec_act;
  bool use_bias, reset_after, return_sequences, go_backwards;
  char kernel_init[32], rec_init[32], bias_init[32];
} gru_cfg;

static lm_status gru_build(lm_layer *l, int n_in, const lm_shape *in) {
  (void)n_in;
  gru_cfg *c = l->cfg;
  if (lml_rnn_check_input(l, &in[0])) return l->ctx->err;
  int64_t U = c->units, ks[2] = {in[0].d[2], 3 * U}, rs[2] = {U, 3 * U};
  if (!lml_add_weight(l, "kernel", 2, ks, c->kernel_init, true)) return l->ctx->err;
  if (!lml_add_weight(l, "recurrent_kernel", 2, rs, c->rec_init, true)) return l->ctx->err;
  if (c->use_bias) {
    int64_t bs[2] = {2, 3 * U};
    if (!lml_add_weight(l, "bias", c->reset_after ? 2 : 1, c->reset_after ? bs : bs + 1,
                        c->bias_init, true))
      return l->ctx->err;
  }
  return LM_OK;
}

static lm_status gru_out_shape(lm_layer *l, int n_in, const lm_shape *in, lm_shape *out) {
  (void)n_in;
  gru_cfg *c = l->cfg;
  return lml_rnn_seq_shape(l, &in[0], c->units, c->return_sequences, out);
}

static lm_status gru_emit(lm_layer *l, lmg_graph *g, int n_in, const int *in, int *out) {
  (void)n_in;
  gru_cfg *c = l->cfg;
  int w = lmg_param(g, l->weights[0].t, l->trainable);
  int r = lmg_param(g, l->weights[1].t, l->trainable);
  int b = c->use_bias ? lmg_param(g, l->weights[2].t, l->trainable) : -1;
  if (w < 0 || r < 0 || (c->use_bias && b < 0)) return g->ctx->err;
  lmo_rnn_args a = {c->return_sequences, c->go_backwards, c->act, c->rec_act};
  *out = lmo_gru(g, in[0], w, r, b, lml_rnn_mask_node(g, in[0]), &a, c->reset_after);
  return *out < 0 ? g->ctx->err : LM_OK;
}

static void gru_config(const lm_layer *l, lm_buf *b) {
  const gru_cfg *c = l->cfg;
  lm_buf_printf(b,
                ", \"return_sequences\": %s, \"return_state\": false, \"go_backwards\": %s, "
                "\"stateful\": false, \"unroll\": false, \"units\": %d, \"activation\": \"%s\", "
                "\"recurrent_activation\": \"%s\", \"use_bias\": %s, "
                "\"kernel_initializer\": \"%s\", \"recurrent_initializer\": \"%s\", "
                "\"bias_initializer\": \"%s\", \"dropout\": 0.0, \"recurrent_dropout\": 0.0, "
                "\"implementation\": 1, \"reset_after\": %s",
                c->return_sequences ? "true" : "false", c->go_backwards ? "true" : "false",
                c->units, lmo_act_name(c->act), lmo_act_name(c->rec_act),
                c->use_bias ? "true" : "false", c->kernel_init, c->rec_init, c->bias_init,
                c->reset_after ? "true" : "false");
}

static lm_layer *gru_from_config(lm_ctx *ctx, const lmj_value *cfg, const char *name) {
  lm_rnn_opts o = lml_rnn_opts_from_config(cfg, name, "hard_sigmoid");
  o.no_reset_after = !lmj_get_bool(cfg, "reset_after", true);
  return lm_layer_gru(ctx, (int)lmj_get_num(cfg, "units", 0), &o);
}

const lml_class lml_gru_class = {
    .class_name = "GRU",
    .prefix = "gru",
    .min_inputs = 1,
    .max_inputs = 1,
    .build = gru_build,
    .out_shape = gru_out_shape,
    .emit = gru_emit,
    .config = gru_config,
    .from_config = gru_from_config,
};

lm_layer *lm_layer_gru(lm_ctx *ctx, int units, const lm_rnn_opts *opts) {
  if (!ctx) return NULL;
  lm_rnn_opts dflt = {0};
  if (!opts) opts = &dflt;
  int act, rec;
  char ki[32], ri[32], bi[32];
  if (lml_rnn_check_opts(ctx, "GRU", units, opts, "hard_sigmoid", &act, &rec, ki, ri, bi))
    return NULL;
  lm_layer *l = lml_new(ctx, &lml_gru_class, opts->name, sizeof(gru_cfg));
  if (!l) return NULL;
  gru_cfg *c = l->cfg;
  c->units = units;
  c->act = act;
  c->rec_act = rec;
  c->use_bias = !opts->no_bias;
  c->reset_after = !opts->no_reset_after;
  c->return_sequences = opts->return_sequences;
  c->go_backwards = opts->go_backwards;
  strcpy(c->kernel_init, ki);
  strcpy(c->rec_init, ri);
  strcpy(c->bias_init, bi);
  return l;
}

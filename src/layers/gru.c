/* GRU: Keras' GRU over a sequence as one fused op (src/ops/gru.c), with the
 * options shared with LSTM and SimpleRNN (src/layers/rnn.c): return_state (one
 * state), dropout and recurrent_dropout (three masks each, Keras 2.2.4's
 * implementation=1), initial_state.
 * Defaults: recurrent_activation 'hard_sigmoid' as this repo's LSTM (Keras
 * 2.2.4) and reset_after=True as tf.keras; see docs/keras-compat.md. */
#include <string.h>

#include "layers/layer.h"
#include "layers/rnn.h"
#include "ops/ops.h"

static lm_status gru_build(lm_layer *l, int n_in, const lm_shape *in) {
  lml_rnn_cfg *c = l->cfg;
  if (lml_rnn_check_input(l, &in[0]) || lml_rnn_check_states(l, n_in, in)) return l->ctx->err;
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

static lm_status gru_emit(lm_layer *l, lmg_graph *g, int n_in, const int *in, int *out) {
  return lml_rnn_emit(l, g, n_in, in, out, lmo_gru_ex);
}

static void gru_config(const lm_layer *l, lm_buf *b) {
  const lml_rnn_cfg *c = l->cfg;
  lml_rnn_config_head(l, b);
  lm_buf_printf(b,
                ", \"recurrent_activation\": \"%s\", \"use_bias\": %s, "
                "\"kernel_initializer\": \"%s\", \"recurrent_initializer\": \"%s\", "
                "\"bias_initializer\": \"%s\", \"dropout\": ",
                lmo_act_name(c->rec_act), c->use_bias ? "true" : "false", c->kernel_init,
                c->rec_init, c->bias_init);
  lml_rnn_write_rate(b, c->dropout);
  lm_buf_puts(b, ", \"recurrent_dropout\": ");
  lml_rnn_write_rate(b, c->recurrent_dropout);
  lm_buf_printf(b, ", \"implementation\": 1, \"reset_after\": %s",
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
    .max_inputs = 0, /* x, then Keras' initial_state (lml_rnn_check_states) */
    .build = gru_build,
    .out_shape = lml_rnn_out_shape,
    .emit = gru_emit,
    .config = gru_config,
    .from_config = gru_from_config,
    .n_outputs = lml_rnn_n_outputs,
};

lm_layer *lm_layer_gru(lm_ctx *ctx, int units, const lm_rnn_opts *opts) {
  lm_layer *l = lml_rnn_new(ctx, &lml_gru_class, units, opts, "hard_sigmoid", 1);
  if (l) ((lml_rnn_cfg *)l->cfg)->reset_after = !(opts && opts->no_reset_after);
  return l;
}

/* LSTM (Keras 2.2.4): one fused op over the sequence (src/ops/lstm.c); the
 * parts shared with SimpleRNN are in src/layers/rnn.c. */
#include "layers/rnn.h"

static lm_status lstm_build(lm_layer *l, int n_in, const lm_shape *in) {
  lml_rnn_cfg *c = l->cfg;
  if (lml_rnn_check_input(l, &in[0]) || lml_rnn_check_states(l, n_in, in)) return l->ctx->err;
  int64_t U = c->units, ks[2] = {in[0].d[2], 4 * U}, rs[2] = {U, 4 * U}, bs[1] = {4 * U};
  if (!lml_add_weight(l, "kernel", 2, ks, c->kernel_init, true)) return l->ctx->err;
  if (!lml_add_weight(l, "recurrent_kernel", 2, rs, c->rec_init, true)) return l->ctx->err;
  if (c->use_bias) {
    lm_tensor *b = lml_add_weight(l, "bias", 1, bs, c->bias_init, true);
    if (!b) return l->ctx->err;
    if (c->unit_forget_bias) { /* [bias_init | ones | bias_init | bias_init] */
      float *v = b->data;
      for (int64_t k = U; k < 2 * U; k++) v[k] = 1.0f;
    }
  }
  return LM_OK;
}

static lm_status lstm_emit(lm_layer *l, lmg_graph *g, int n_in, const int *in, int *out) {
  return lml_rnn_emit(l, g, n_in, in, out, lmo_lstm_ex);
}

static void lstm_config(const lm_layer *l, lm_buf *b) {
  const lml_rnn_cfg *c = l->cfg;
  lml_rnn_config_head(l, b);
  lm_buf_printf(b,
                ", \"recurrent_activation\": \"%s\", \"use_bias\": %s, "
                "\"kernel_initializer\": \"%s\", \"recurrent_initializer\": \"%s\", "
                "\"bias_initializer\": \"%s\", \"unit_forget_bias\": %s, \"dropout\": ",
                lmo_act_name(c->rec_act), c->use_bias ? "true" : "false", c->kernel_init,
                c->rec_init, c->bias_init, c->unit_forget_bias ? "true" : "false");
  lml_rnn_write_rate(b, c->dropout);
  lm_buf_puts(b, ", \"recurrent_dropout\": ");
  lml_rnn_write_rate(b, c->recurrent_dropout);
  lm_buf_puts(b, ", \"implementation\": 1");
}

static lm_layer *lstm_from_config(lm_ctx *ctx, const lmj_value *cfg, const char *name) {
  lm_rnn_opts o = lml_rnn_opts_from_config(cfg, name, "hard_sigmoid");
  return lm_layer_lstm(ctx, (int)lmj_get_num(cfg, "units", 0), &o);
}

const lml_class lml_lstm_class = {
    .class_name = "LSTM",
    .prefix = "lstm",
    .min_inputs = 1,
    .max_inputs = 0, /* x, then Keras' initial_state (lml_rnn_check_states) */
    .build = lstm_build,
    .out_shape = lml_rnn_out_shape,
    .emit = lstm_emit,
    .config = lstm_config,
    .from_config = lstm_from_config,
    .n_outputs = lml_rnn_n_outputs,
};

lm_layer *lm_layer_lstm(lm_ctx *ctx, int units, const lm_rnn_opts *opts) {
  return lml_rnn_new(ctx, &lml_lstm_class, units, opts, "hard_sigmoid", 2);
}

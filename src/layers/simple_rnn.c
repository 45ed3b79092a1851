/* SimpleRNN (Keras 2.2.4): one fused op over the sequence
 * (src/ops/simple_rnn.c); the parts shared with LSTM are in
 * src/layers/rnn.c. */
#include "layers/rnn.h"

static lm_status srnn_build(lm_layer *l, int n_in, const lm_shape *in) {
  lml_rnn_cfg *c = l->cfg;
  if (lml_rnn_check_input(l, &in[0]) || lml_rnn_check_states(l, n_in, in)) return l->ctx->err;
  int64_t U = c->units, ks[2] = {in[0].d[2], U}, rs[2] = {U, U}, bs[1] = {U};
  if (!lml_add_weight(l, "kernel", 2, ks, c->kernel_init, true)) return l->ctx->err;
  if (!lml_add_weight(l, "recurrent_kernel", 2, rs, c->rec_init, true)) return l->ctx->err;
  if (c->use_bias && !lml_add_weight(l, "bias", 1, bs, c->bias_init, true)) return l->ctx->err;
  return LM_OK;
}

static int srnn_op(lmg_graph *g, int x, int w, int r, int b, int mask, const lmo_rnn_args *a,
                   const lmo_rnn_more *more) {
  lmo_rnn_args one = *a;
  one.recurrent_activation = a->activation; /* a single activation */
  return lmo_simple_rnn_ex(g, x, w, r, b, mask, &one, more);
}

static lm_status srnn_emit(lm_layer *l, lmg_graph *g, int n_in, const int *in, int *out) {
  return lml_rnn_emit(l, g, n_in, in, out, srnn_op);
}

static void srnn_config(const lm_layer *l, lm_buf *b) {
  const lml_rnn_cfg *c = l->cfg;
  lml_rnn_config_head(l, b);
  lm_buf_printf(b,
                ", \"use_bias\": %s, \"kernel_initializer\": \"%s\", "
                "\"recurrent_initializer\": \"%s\", \"bias_initializer\": \"%s\", \"dropout\": ",
                c->use_bias ? "true" : "false", c->kernel_init, c->rec_init, c->bias_init);
  lml_rnn_write_rate(b, c->dropout);
  lm_buf_puts(b, ", \"recurrent_dropout\": ");
  lml_rnn_write_rate(b, c->recurrent_dropout);
}

static lm_layer *srnn_from_config(lm_ctx *ctx, const lmj_value *cfg, const char *name) {
  lm_rnn_opts o = lml_rnn_opts_from_config(cfg, name, "tanh");
  return lm_layer_simple_rnn(ctx, (int)lmj_get_num(cfg, "units", 0), &o);
}

const lml_class lml_simple_rnn_class = {
    .class_name = "SimpleRNN",
    .prefix = "simple_rnn",
    .min_inputs = 1,
    .max_inputs = 0, /* x, then Keras' initial_state (lml_rnn_check_states) */
    .build = srnn_build,
    .out_shape = lml_rnn_out_shape,
    .emit = srnn_emit,
    .config = srnn_config,
    .from_config = srnn_from_config,
    .n_outputs = lml_rnn_n_outputs,
};

lm_layer *lm_layer_simple_rnn(lm_ctx *ctx, int units, const lm_rnn_opts *opts) {
  return lml_rnn_new(ctx, &lml_simple_rnn_class, units, opts, "tanh", 1);
}

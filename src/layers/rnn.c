/* Shared parts of the recurrent layers (see rnn.h). */
#include "layers/rnn.h"
#include "ops/rnn.h"

#include <math.h>
#include <string.h>

static lm_status check_opts(lm_ctx *ctx, const char *cls, int units, const lm_rnn_opts *o,
                            const char *default_rec, int *act, int *rec, char *ki, char *ri,
                            char *bi, bool more_ok) {
  if (units <= 0)
    return lm_fail(ctx, LM_ERR_ARG, "%s: units must be positive, got %d", cls, units);
  *act = lmo_act_parse(o->activation ? o->activation : "tanh");
  *rec = lmo_act_parse(o->recurrent_activation ? o->recurrent_activation : default_rec);
  if (*act < 0 || *rec < 0 || !lmo_rnn_act_ok(*act) || !lmo_rnn_act_ok(*rec))
    return lm_fail(ctx, LM_ERR_ARG,
                   "%s: activation '%s' / recurrent_activation '%s' not supported (tanh, "
                   "sigmoid, hard_sigmoid, relu, linear)",
                   cls, o->activation ? o->activation : "tanh",
                   o->recurrent_activation ? o->recurrent_activation : default_rec);
  if (!more_ok && (o->return_state || o->dropout != 0.0f || o->recurrent_dropout != 0.0f))
    return lm_fail(ctx, LM_ERR_ARG,
                   "%s: return_state, dropout and recurrent_dropout are not supported yet", cls);
  if (isnan(o->dropout) || isnan(o->recurrent_dropout))
    return lm_fail(ctx, LM_ERR_ARG, "%s: dropout and recurrent_dropout must be numbers", cls);
  const char *names[3] = {o->kernel_initializer ? o->kernel_initializer : "glorot_uniform",
                          o->recurrent_initializer ? o->recurrent_initializer : "orthogonal",
                          o->bias_initializer ? o->bias_initializer : "zeros"};
  char *dst[3] = {ki, ri, bi};
  for (int i = 0; i < 3; i++) {
    if (!lml_initializer_known(names[i]) || strlen(names[i]) >= 32)
      return lm_fail(ctx, LM_ERR_ARG, "Unknown initializer: %s", names[i]);
    strcpy(dst[i], names[i]);
  }
  return LM_OK;
}

lm_status lml_rnn_check_opts(lm_ctx *ctx, const char *cls, int units, const lm_rnn_opts *o,
                             const char *default_rec, int *act, int *rec, char *ki, char *ri,
                             char *bi) {
  return check_opts(ctx, cls, units, o, default_rec, act, rec, ki, ri, bi, false);
}

/* Keras clips the rates into [0, 1]. */
static float clip01(float v) { return v < 0.0f ? 0.0f : v > 1.0f ? 1.0f : v; }

lm_layer *lml_rnn_new(lm_ctx *ctx, const lml_class *cls, int units, const lm_rnn_opts *opts,
                      const char *default_rec, int n_states) {
  if (!ctx) return NULL;
  lm_rnn_opts dflt = {0};
  if (!opts) opts = &dflt;
  int act = 0, rec = 0;
  char ki[32], ri[32], bi[32];
  if (check_opts(ctx, cls->class_name, units, opts, default_rec, &act, &rec, ki, ri, bi, true))
    return NULL;
  lm_layer *l = lml_new(ctx, cls, opts->name, sizeof(lml_rnn_cfg));
  if (!l) return NULL;
  lml_rnn_cfg *c = l->cfg;
  c->units = units;
  c->act = act;
  c->rec_act = rec;
  c->n_states = n_states;
  c->use_bias = !opts->no_bias;
  c->unit_forget_bias = !opts->no_unit_forget_bias;
  c->return_sequences = opts->return_sequences;
  c->return_state = opts->return_state;
  c->go_backwards = opts->go_backwards;
  c->dropout = clip01(opts->dropout);
  c->recurrent_dropout = clip01(opts->recurrent_dropout);
  strcpy(c->kernel_init, ki);
  strcpy(c->rec_init, ri);
  strcpy(c->bias_init, bi);
  return l;
}

lm_status lml_rnn_check_input(lm_layer *l, const lm_shape *in) {
  if (in->ndim == 3 && in->d[2] != LM_NONE) return LM_OK;
  char s[128];
  lml_shape_str(in, s, sizeof s);
  return lm_fail(l->ctx, LM_ERR_SHAPE,
                 "Input 0 is incompatible with layer %s: expected ndim=3 (batch, timesteps, "
                 "features) with the features defined, found shape %s",
                 l->name, s);
}

lm_status lml_rnn_check_states(lm_layer *l, int n_in, const lm_shape *in) {
  const lml_rnn_cfg *c = l->cfg;
  if (n_in <= 1) return LM_OK;
  if (n_in - 1 != c->n_states)
    return lm_fail(l->ctx, LM_ERR_ARG, "Layer %s has %d states but was passed %d initial states.",
                   l->name, c->n_states, n_in - 1);
  for (int j = 1; j < n_in; j++)
    if (in[j].ndim != 2 || in[j].d[1] != c->units || in[j].dtype != LM_FLOAT32) {
      char s[128];
      lml_shape_str(&in[j], s, sizeof s);
      return lm_fail(l->ctx, LM_ERR_SHAPE,
                     "An `initial_state` was passed that is not compatible with "
                     "`cell.state_size` of layer %s: initial state %d has shape %s, expected "
                     "(None, %d)",
                     l->name, j - 1, s, c->units);
    }
  return LM_OK;
}

int lml_rnn_n_outputs(const lm_layer *l) {
  const lml_rnn_cfg *c = l->cfg;
  return c->return_state ? 1 + c->n_states : 1;
}

lm_status lml_rnn_seq_shape(lm_layer *l, const lm_shape *in, int units, bool return_sequences,
                            lm_shape *out) {
  if (lml_rnn_check_input(l, in)) return l->ctx->err;
  int64_t want = l->weights[0].t->shape[0];
  if (in->d[2] != want) {
    char s[128];
    lml_shape_str(in, s, sizeof s);
    return lm_fail(l->ctx, LM_ERR_SHAPE,
                   "Input 0 is incompatible with layer %s: expected axis -1 of input shape to "
                   "have value %lld but got shape %s",
                   l->name, (long long)want, s);
  }
  *out = *in;
  out->dtype = LM_FLOAT32;
  if (!return_sequences) out->ndim = 2;
  out->d[out->ndim - 1] = units;
  return LM_OK;
}

lm_status lml_rnn_out_shape(lm_layer *l, int n_in, const lm_shape *in, lm_shape *out) {
  lml_rnn_cfg *c = l->cfg;
  if (lml_rnn_check_states(l, n_in, in)) return l->ctx->err;
  if (lml_rnn_seq_shape(l, &in[0], c->units, c->return_sequences, &out[0])) return l->ctx->err;
  for (int k = 1; k < lml_rnn_n_outputs(l); k++) { /* states (batch, units) */
    memset(&out[k], 0, sizeof out[k]);
    out[k].ndim = 2;
    out[k].dtype = LM_FLOAT32;
    out[k].d[0] = in[0].d[0];
    out[k].d[1] = c->units;
  }
  return LM_OK;
}

/* Row j of the packed (N, k + S, U) output as (N, U). */
static int packed_row(lmg_graph *g, int y, int64_t j, int U) {
  int64_t shape[1] = {U};
  return lmo_reshape(g, lmo_slice(g, y, 1, j, 1), 1, shape);
}

lm_status lml_rnn_emit(lm_layer *l, lmg_graph *g, int n_in, const int *in, int *out,
                       lml_rnn_op_fn op) {
  lml_rnn_cfg *c = l->cfg;
  int w = lmg_param(g, l->weights[0].t, l->trainable);
  int r = lmg_param(g, l->weights[1].t, l->trainable);
  int b = c->use_bias ? lmg_param(g, l->weights[2].t, l->trainable) : -1;
  if (w < 0 || r < 0 || (c->use_bias && b < 0)) return g->ctx->err;
  lmo_rnn_args a = {c->return_sequences, c->go_backwards, c->act, c->rec_act};
  lmo_rnn_more more = {c->return_state, c->dropout, c->recurrent_dropout,
                       n_in > 1 ? in + 1 : NULL, c->reset_after};
  int y = op(g, in[0], w, r, b, lml_rnn_mask_node(g, in[0]), &a, &more);
  if (y < 0) return g->ctx->err;
  if (!c->return_state) {
    out[0] = y;
    return LM_OK;
  }
  int k = c->n_states;
  out[0] = c->return_sequences ? lmo_rnn_seq(g, y, k) : packed_row(g, y, k, c->units);
  for (int j = 0; j < k; j++) out[j + 1] = packed_row(g, y, j, c->units);
  for (int j = 0; j <= k; j++)
    if (out[j] < 0) return g->ctx->err;
  return LM_OK;
}

void lml_rnn_write_rate(lm_buf *b, float v) {
  if (v == floorf(v))
    lm_buf_printf(b, "%.1f", (double)v);
  else
    lmj_write_num(b, v);
}

void lml_rnn_config_head(const lm_layer *l, lm_buf *b) {
  const lml_rnn_cfg *c = l->cfg;
  lm_buf_printf(b,
                ", \"return_sequences\": %s, \"return_state\": %s, \"go_backwards\": %s, "
                "\"stateful\": false, \"unroll\": false, \"units\": %d, \"activation\": \"%s\"",
                c->return_sequences ? "true" : "false", c->return_state ? "true" : "false",
                c->go_backwards ? "true" : "false", c->units, lmo_act_name(c->act));
}

lm_rnn_opts lml_rnn_opts_from_config(const lmj_value *cfg, const char *name,
                                     const char *default_rec) {
  lm_rnn_opts o = {
      .activation = lmj_get_str(cfg, "activation", "tanh"),
      .recurrent_activation = lmj_get_str(cfg, "recurrent_activation", default_rec),
      .no_bias = !lmj_get_bool(cfg, "use_bias", true),
      .no_unit_forget_bias = !lmj_get_bool(cfg, "unit_forget_bias", true),
      .return_sequences = lmj_get_bool(cfg, "return_sequences", false),
      .return_state = lmj_get_bool(cfg, "return_state", false),
      .go_backwards = lmj_get_bool(cfg, "go_backwards", false),
      .dropout = (float)lmj_get_num(cfg, "dropout", 0),
      .recurrent_dropout = (float)lmj_get_num(cfg, "recurrent_dropout", 0),
      .kernel_initializer = lmj_get_str(cfg, "kernel_initializer", NULL),
      .recurrent_initializer = lmj_get_str(cfg, "recurrent_initializer", NULL),
      .bias_initializer = lmj_get_str(cfg, "bias_initializer", NULL),
      .name = name,
  };
  return o;
}

lm_sym *lm_layer_call_rnn(lm_layer *layer, lm_sym *x, int n_states, lm_sym *const *states) {
  if (!layer) return NULL;
  lm_ctx *ctx = layer->ctx;
  const lml_class *k = layer->cls;
  if (k != &lml_lstm_class && k != &lml_gru_class && k != &lml_simple_rnn_class &&
      k != &lml_bidirectional_class) {
    lm_fail(ctx, LM_ERR_ARG,
            "Layer %s (%s) takes no initial_state (LSTM, GRU, SimpleRNN and Bidirectional do)",
            layer->name, k->class_name);
    return NULL;
  }
  enum { MAX_STATES = 16 };
  if (n_states < 0 || n_states > MAX_STATES || (n_states > 0 && !states)) {
    lm_fail(ctx, LM_ERR_ARG, "Layer %s: %d initial states (0 to %d)", layer->name, n_states,
            MAX_STATES);
    return NULL;
  }
  lm_sym *xs[1 + MAX_STATES];
  xs[0] = x;
  for (int j = 0; j < n_states; j++) xs[1 + j] = states[j];
  return lml_call(layer, 1 + n_states, xs);
}

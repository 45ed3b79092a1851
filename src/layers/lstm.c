/* LSTM (Keras 2.2.4): one fused op over the sequence (src/ops/lstm.c). */
#include <string.h>

#include "layers/layer.h"
#include "ops/ops.h"

typedef struct lstm_cfg {
  int units;
  int act, rec_act;
  bool use_bias, unit_forget_bias, return_sequences, go_backwards;
  char kernel_init[32], rec_init[32], bias_init[32];
} lstm_cfg;

static lm_status lstm_check_input(lm_layer *l, const lm_shape *in) {
  if (in->ndim == 3 && in->d[2] != LM_NONE)
    return LM_OK;
  char s[128];
  lml_shape_str(in, s, sizeof s);
  return lm_fail(l->ctx, LM_ERR_SHAPE,
                 "Input 0 is incompatible with layer %s: expected ndim=3 "
                 "(batch, timesteps, "
                 "features) with the features defined, found shape %s",
                 l->name, s);
}

static lm_status lstm_build(lm_layer *l, int n_in, const lm_shape *in) {
  (void)n_in;
  lstm_cfg *c = l->cfg;
  if (lstm_check_input(l, &in[0]))
    return l->ctx->err;
  int64_t U = c->units, ks[2] = {in[0].d[2], 4 * U}, rs[2] = {U, 4 * U},
          bs[1] = {4 * U};
  if (!lml_add_weight(l, "kernel", 2, ks, c->kernel_init, true))
    return l->ctx->err;
  if (!lml_add_weight(l, "recurrent_kernel", 2, rs, c->rec_init, true))
    return l->ctx->err;
  if (c->use_bias) {
    lm_tensor *b = lml_add_weight(l, "bias", 1, bs, c->bias_init, true);
    if (!b)
      return l->ctx->err;
    if (c->unit_forget_bias) { /* [bias_init | ones | bias_init | bias_init] */
      float *v = b->data;
      for (int64_t k = U; k < 2 * U; k++)
        v[k] = 1.0f;
    }
  }
  return LM_OK;
}

static lm_status lstm_out_shape(lm_layer *l, int n_in, const lm_shape *in,
                                lm_shape *out) {
  (void)n_in;
  lstm_cfg *c = l->cfg;
  if (lstm_check_input(l, &in[0]))
    return l->ctx->err;
  int64_t want = l->weights[0].t->shape[0];
  if (in[0].d[2] != want) {
    char s[128];
    lml_shape_str(&in[0], s, sizeof s);
    return lm_fail(l->ctx, LM_ERR_SHAPE,
                   "Input 0 is incompatible with layer %s: expected axis -1 of "
                   "input shape to "
                   "have value %lld but got shape %s",
                   l->name, (long long)want, s);
  }
  *out = in[0];
  out->dtype = LM_FLOAT32;
  if (!c->return_sequences)
    out->ndim = 2;
  out->d[out->ndim - 1] = c->units;
  return LM_OK;
}

static lm_status lstm_emit(lm_layer *l, lmg_graph *g, int n_in, const int *in,
                           int *out) {
  (void)n_in;
  lstm_cfg *c = l->cfg;
  int w = lmg_param(g, l->weights[0].t, l->trainable);
  int r = lmg_param(g, l->weights[1].t, l->trainable);
  int b = c->use_bias ? lmg_param(g, l->weights[2].t, l->trainable) : -1;
  if (w < 0 || r < 0 || (c->use_bias && b < 0))
    return g->ctx->err;
  lmo_rnn_args a = {c->return_sequences, c->go_backwards, c->act, c->rec_act};
  *out = lmo_lstm(g, in[0], w, r, b, lml_rnn_mask_node(g, in[0]), &a);
  return *out < 0 ? g->ctx->err : LM_OK;
}

static void lstm_config(const lm_layer *l, lm_buf *b) {
  const lstm_cfg *c = l->cfg;
  lm_buf_printf(
      b,
      ", \"return_sequences\": %s, \"return_state\": false, \"go_backwards\": "
      "%s, "
      "\"stateful\": false, \"unroll\": false, \"units\": %d, \"activation\": "
      "\"%s\", "
      "\"recurrent_activation\": \"%s\", \"use_bias\": %s, "
      "\"kernel_initializer\": \"%s\", \"recurrent_initializer\": \"%s\", "
      "\"bias_initializer\": \"%s\", \"unit_forget_bias\": %s, \"dropout\": "
      "0.0, "
      "\"recurrent_dropout\": 0.0, \"implementation\": 1",
      c->return_sequences ? "true" : "false",
      c->go_backwards ? "true" : "false", c->units, lmo_act_name(c->act),
      lmo_act_name(c->rec_act), c->use_bias ? "true" : "false", c->kernel_init,
      c->rec_init, c->bias_init, c->unit_forget_bias ? "true" : "false");
}

static lm_layer *lstm_from_config(lm_ctx *ctx, const lmj_value *cfg,
                                  const char *name) {
  lm_rnn_opts o = {
      .activation = lmj_get_str(cfg, "activation", "tanh"),
      .recurrent_activation =
          lmj_get_str(cfg, "recurrent_activation", "hard_sigmoid"),
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
  return lm_layer_lstm(ctx, (int)lmj_get_num(cfg, "units", 0), &o);
}

const lml_class lml_lstm_class = {
    .class_name = "LSTM",
    .prefix = "lstm",
    .min_inputs = 1,
    .max_inputs = 1,
    .build = lstm_build,
    .out_shape = lstm_out_shape,
    .emit = lstm_emit,
    .config = lstm_config,
    .from_config = lstm_from_config,
};

/* Checks shared by the recurrent constructors; fills act/rec and the
 * initializer names (defaults kernel glorot_uniform, recurrent orthogonal,
 * bias zeros). */
lm_status lml_rnn_check_opts(lm_ctx *ctx, const char *cls, int units,
                             const lm_rnn_opts *o, const char *default_rec,
                             int *act, int *rec, char *ki, char *ri, char *bi) {
  if (units <= 0)
    return lm_fail(ctx, LM_ERR_ARG, "%s: units must be positive, got %d", cls,
                   units);
  *act = lmo_act_parse(o->activation ? o->activation : "tanh");
  *rec = lmo_act_parse(o->recurrent_activation ? o->recurrent_activation
                                               : default_rec);
  if (*act < 0 || *rec < 0 || !lmo_rnn_act_ok(*act) || !lmo_rnn_act_ok(*rec))
    return lm_fail(
        ctx, LM_ERR_ARG,
        "%s: activation '%s' / recurrent_activation '%s' not supported (tanh, "
        "sigmoid, hard_sigmoid, relu, linear)",
        cls, o->activation ? o->activation : "tanh",
        o->recurrent_activation ? o->recurrent_activation : default_rec);
  if (o->return_state || o->dropout != 0.0f || o->recurrent_dropout != 0.0f)
    return lm_fail(
        ctx, LM_ERR_ARG,
        "%s: return_state, dropout and recurrent_dropout are not supported yet",
        cls);
  const char *names[3] = {
      o->kernel_initializer ? o->kernel_initializer : "glorot_uniform",
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

lm_layer *lm_layer_lstm(lm_ctx *ctx, int units, const lm_rnn_opts *opts) {
  if (!ctx)
    return NULL;
  lm_rnn_opts dflt = {0};
  if (!opts)
    opts = &dflt;
  int act, rec;
  char ki[32], ri[32], bi[32];
  if (lml_rnn_check_opts(ctx, "LSTM", units, opts, "hard_sigmoid", &act, &rec,
                         ki, ri, bi))
    return NULL;
  lm_layer *l = lml_new(ctx, &lml_lstm_class, opts->name, sizeof(lstm_cfg));
  if (!l)
    return NULL;
  lstm_cfg *c = l->cfg;
  c->units = units;
  c->act = act;
  c->rec_act = rec;
  c->use_bias = !opts->no_bias;
  c->unit_forget_bias = !opts->no_unit_forget_bias;
  c->return_sequences = opts->return_sequences;
  c->go_backwards = opts->go_backwards;
  strcpy(c->kernel_init, ki);
  strcpy(c->rec_init, ri);
  strcpy(c->bias_init, bi);
  return l;
}

/* Parity of GRU, Bidirectional and TimeDistributed with PyTorch autograd references
 * (tests/fixtures/torch_rnn/, written by tests/fixtures/gen_torch_rnn_fixtures.py): the gru
 * op (reset_after both ways, hard_sigmoid and sigmoid, return_sequences, go_backwards,
 * masks) and the layers Bidirectional(LSTM / GRU) with every merge mode, masked by an
 * Embedding(mask_zero) and passing that mask on to an LSTM, and TimeDistributed(Dense);
 * Keras' initial_state with return_state for the lstm, gru and simple_rnn ops (the
 * gradients of the initial states too), the seq2seq encoder -> decoder(initial_state) for
 * LSTM and GRU, and Bidirectional(LSTM(return_state)) with four initial states; forward
 * and every gradient of sum(y * dy). */
#include <math.h>
#include <string.h>

#include "testutil.h"
#include "graph/graph.h"
#include "layers/layer.h"
#include "ops/ops.h"

static lm_tensor *fx(lm_ctx *ctx, const char *name, const char *part, bool optional) {
  char rel[256];
  snprintf(rel, sizeof rel, "torch_rnn/%s_%s.npy", name, part);
  lm_tensor *t = lm_tensor_load_npy(ctx, tu_fixture(rel));
  if (!t && !optional) fail_msg("cannot load fixture %s: %s", rel, lm_errmsg(ctx));
  lm_clear_error(ctx);
  return t;
}

static void expect_close(const char *what, const float *got, const lm_tensor *want) {
  const float *w = lm_tensor_data(want);
  for (int64_t i = 0; i < lm_tensor_size(want); i++)
    if (fabsf(got[i] - w[i]) > 1e-4f + 1e-4f * fabsf(w[i]))
      fail_msg("%s[%lld]: got %.7g, want %.7g", what, (long long)i, got[i], w[i]);
}

/* ---- the gru op ---- */

typedef struct gru_case {
  const char *name;
  bool seq, back, sigmoid, after;
} gru_case;

static void run_gru(void **state) {
  const gru_case *c = *state;
  lm_ctx *ctx = tu_ctx();
  lm_tensor *x = fx(ctx, c->name, "x", false), *k = fx(ctx, c->name, "kernel", false);
  lm_tensor *b = fx(ctx, c->name, "bias", false), *dy = fx(ctx, c->name, "dy", false);
  lm_tensor *r = fx(ctx, c->name, "recurrent", false), *ids = fx(ctx, c->name, "ids", true);
  lmg_graph g;
  assert_int_equal(lmg_init(&g, ctx), LM_OK);
  int xn = lmg_input(&g, LM_FLOAT32, 3, lm_tensor_shape(x));
  lmg_at(&g, xn)->want_grad = true;
  int kn = lmg_param(&g, k, true), rn = lmg_param(&g, r, true), bn = lmg_param(&g, b, true);
  int mn = ids ? lmg_input(&g, LM_INT32, 2, lm_tensor_shape(ids)) : -1;
  lmo_rnn_args a = {c->seq, c->back, LMO_TANH, c->sigmoid ? LMO_SIGMOID : LMO_HARD_SIGMOID};
  int y = lmo_gru(&g, xn, kn, rn, bn, mn, &a, c->after);
  int dyn = lmg_const(&g, lm_tensor_copy(dy));
  int loss = lmo_reduce(&g, LMO_SUM, lmo_binary(&g, LMO_MUL, y, dyn), 0, false);
  if (loss < 0) fail_msg("%s: %s", c->name, lm_errmsg(ctx));
  lmg_keep(&g, y); /* read after backward: not to be reused by the planner */
  assert_int_equal(lmg_plan(&g, lm_tensor_dim(x, 0), true), LM_OK);
  memcpy(lmg_at(&g, xn)->val, lm_tensor_data(x), 4 * (size_t)lm_tensor_size(x));
  if (ids) memcpy(lmg_at(&g, mn)->val, lm_tensor_data(ids), 4 * (size_t)lm_tensor_size(ids));
  lmg_forward(&g, NULL);
  lmg_backward(&g, loss, NULL);
  expect_close("y", lmg_at(&g, y)->val, fx(ctx, c->name, "y", false));
  expect_close("dx", lmg_at(&g, xn)->grad, fx(ctx, c->name, "dx", false));
  expect_close("dkernel", lmg_at(&g, kn)->grad, fx(ctx, c->name, "dkernel", false));
  expect_close("drecurrent", lmg_at(&g, rn)->grad, fx(ctx, c->name, "drecurrent", false));
  expect_close("dbias", lmg_at(&g, bn)->grad, fx(ctx, c->name, "dbias", false));
  lmg_release(&g);
  lm_ctx_free(ctx);
}

static const gru_case gru_cases[] = {
    {"gru_after_sig_last", false, false, true, true},
    {"gru_after_sig_seq_back", true, true, true, true},
    {"gru_after_hs_mask_seq", true, false, false, true},
    {"gru_after_hs_mask_back_last", false, true, false, true},
    {"gru_before_hs_last", false, false, false, false},
    {"gru_before_sig_mask_back_seq", true, true, true, false},
};

/* ---- layers: the weights of the layers in order are w0, w1, ... ---- */

typedef struct layer_case {
  const char *name;
  int kind; /* 0 Bidirectional(LSTM), 1 Bidirectional(GRU), 2 Embedding -> Bidi(GRU), 3 TD(Dense),
              4 Embedding -> Bidi(GRU) -> LSTM */
  int units;
  bool seq;
  const char *merge;
} layer_case;

static int make_layers(lm_ctx *ctx, const layer_case *c, lm_layer **ls) {
  lm_rnn_opts o = {.return_sequences = c->seq, .recurrent_activation = "sigmoid"};
  switch (c->kind) {
  case 0:
    ls[0] = lm_layer_bidirectional(ctx, lm_layer_lstm(ctx, c->units, &o), c->merge, NULL);
    return 1;
  case 1:
    ls[0] = lm_layer_bidirectional(ctx, lm_layer_gru(ctx, c->units, &o), c->merge, NULL);
    return 1;
  case 2: {
    lm_rnn_opts h = {.return_sequences = c->seq}; /* hard_sigmoid, the default */
    ls[0] = lm_layer_embedding(ctx, 5, 3, &(lm_embedding_opts){.mask_zero = true});
    ls[1] = lm_layer_bidirectional(ctx, lm_layer_gru(ctx, c->units, &h), c->merge, NULL);
    return 2;
  }
  case 3:
    ls[0] = lm_layer_time_distributed(ctx, lm_layer_dense(ctx, c->units, NULL), NULL);
    return 1;
  default: { /* the LSTM gets the mask through the Bidirectional */
    lm_rnn_opts h = {.return_sequences = true};
    ls[0] = lm_layer_embedding(ctx, 6, 3, &(lm_embedding_opts){.mask_zero = true});
    ls[1] = lm_layer_bidirectional(ctx, lm_layer_gru(ctx, c->units, &h), NULL, NULL);
    ls[2] = lm_layer_lstm(ctx, 3, NULL);
    return 3;
  }
  }
}

static int param_node(lmg_graph *g, const lm_tensor *t) {
  for (int i = 0; i < g->n_nodes; i++)
    if (g->nodes[i].kind == LMG_PARAM && g->nodes[i].param == t) return i;
  fail_msg("no graph node for a weight");
  return -1;
}

static void run_layer(void **state) {
  const layer_case *c = *state;
  lm_ctx *ctx = tu_ctx();
  lm_tensor *x = fx(ctx, c->name, "x", false), *dy = fx(ctx, c->name, "dy", false);
  lm_dtype dt = lm_tensor_dtype(x);
  lm_layer *ls[3];
  int nl = make_layers(ctx, c, ls);
  lm_sym *s = lm_input(ctx, lm_tensor_ndim(x) - 1, lm_tensor_shape(x) + 1, dt, NULL);
  for (int i = 0; i < nl; i++) s = lm_layer_call(ls[i], s);
  if (!s) fail_msg("%s: %s", c->name, lm_errmsg(ctx));
  lmg_graph g;
  assert_int_equal(lmg_init(&g, ctx), LM_OK);
  int xn = lmg_input(&g, dt, lm_tensor_ndim(x), lm_tensor_shape(x)), y = xn;
  if (dt == LM_FLOAT32) lmg_at(&g, xn)->want_grad = true;
  for (int i = 0; i < nl; i++) {
    int in = y;
    assert_int_equal(ls[i]->cls->emit(ls[i], &g, 1, &in, &y), LM_OK);
  }
  int dyn = lmg_const(&g, lm_tensor_copy(dy));
  int loss = lmo_reduce(&g, LMO_SUM, lmo_binary(&g, LMO_MUL, y, dyn), 0, false);
  if (loss < 0) fail_msg("%s: %s", c->name, lm_errmsg(ctx));
  lmg_keep(&g, y); /* read after backward: not to be reused by the planner */
  assert_int_equal(lmg_plan(&g, lm_tensor_dim(x, 0), true), LM_OK);
  memcpy(lmg_at(&g, xn)->val, lm_tensor_data(x), 4 * (size_t)lm_tensor_size(x));
  int nw = 0;
  for (int i = 0; i < nl; i++)
    for (int k = 0; k < lm_layer_n_weights(ls[i]); k++, nw++) {
      char part[16];
      snprintf(part, sizeof part, "w%d", nw);
      lm_tensor *w = lm_layer_weight(ls[i], k), *want = fx(ctx, c->name, part, false);
      assert_int_equal(lm_tensor_size(w), lm_tensor_size(want));
      memcpy(lm_tensor_f32(w), lm_tensor_data(want), 4 * (size_t)lm_tensor_size(w));
    }
  lmg_forward(&g, NULL);
  lmg_backward(&g, loss, NULL);
  expect_close("y", lmg_at(&g, y)->val, fx(ctx, c->name, "y", false));
  if (dt == LM_FLOAT32) expect_close("dx", lmg_at(&g, xn)->grad, fx(ctx, c->name, "dx", false));
  nw = 0;
  for (int i = 0; i < nl; i++)
    for (int k = 0; k < lm_layer_n_weights(ls[i]); k++, nw++) {
      char part[16];
      snprintf(part, sizeof part, "dw%d", nw);
      expect_close(part, lmg_at(&g, param_node(&g, lm_layer_weight(ls[i], k)))->grad,
                   fx(ctx, c->name, part, false));
    }
  lmg_release(&g);
  lm_ctx_free(ctx);
}

static const layer_case layer_cases[] = {
    {"bidi_lstm_seq_concat", 0, 4, true, "concat"},
    {"bidi_lstm_last_ave", 0, 3, false, "ave"},
    {"bidi_gru_seq_sum", 1, 3, true, "sum"},
    {"bidi_gru_last_mul", 1, 3, false, "mul"},
    {"bidi_gru_mask_seq", 2, 2, true, NULL},
    {"td_dense", 3, 3, false, NULL},
    {"stack_mask_bidi_lstm", 4, 2, true, NULL},
};

/* ---- initial_state and return_state: the op level ---- */

typedef struct init_case {
  const char *name;
  int kind; /* 0 lstm, 1 gru, 2 simple_rnn */
  bool seq, back, sigmoid, after;
} init_case;

static void run_init(void **state) {
  const init_case *c = *state;
  lm_ctx *ctx = tu_ctx();
  lm_tensor *x = fx(ctx, c->name, "x", false), *k = fx(ctx, c->name, "kernel", false);
  lm_tensor *b = fx(ctx, c->name, "bias", false), *dy = fx(ctx, c->name, "dy", false);
  lm_tensor *r = fx(ctx, c->name, "recurrent", false), *ids = fx(ctx, c->name, "ids", true);
  lm_tensor *st[2] = {fx(ctx, c->name, "h0", false), c->kind == 0 ? fx(ctx, c->name, "c0", false) : NULL};
  int ns = c->kind == 0 ? 2 : 1;
  lmg_graph g;
  assert_int_equal(lmg_init(&g, ctx), LM_OK);
  int xn = lmg_input(&g, LM_FLOAT32, 3, lm_tensor_shape(x)), sn[2];
  lmg_at(&g, xn)->want_grad = true;
  for (int j = 0; j < ns; j++) {
    sn[j] = lmg_input(&g, LM_FLOAT32, 2, lm_tensor_shape(st[j]));
    lmg_at(&g, sn[j])->want_grad = true;
  }
  int kn = lmg_param(&g, k, true), rn = lmg_param(&g, r, true), bn = lmg_param(&g, b, true);
  int mn = ids ? lmg_input(&g, LM_INT32, 2, lm_tensor_shape(ids)) : -1;
  int act = LMO_TANH, rec = c->kind == 2 ? LMO_TANH : c->sigmoid ? LMO_SIGMOID : LMO_HARD_SIGMOID;
  lmo_rnn_args a = {c->seq, c->back, act, rec};
  lmo_rnn_more more = {.return_state = true, .initial_state = sn, .reset_after = c->after};
  int y = c->kind == 0   ? lmo_lstm_ex(&g, xn, kn, rn, bn, mn, &a, &more)
          : c->kind == 1 ? lmo_gru_ex(&g, xn, kn, rn, bn, mn, &a, &more)
                         : lmo_simple_rnn_ex(&g, xn, kn, rn, bn, mn, &a, &more);
  int dyn = lmg_const(&g, lm_tensor_copy(dy));
  int loss = lmo_reduce(&g, LMO_SUM, lmo_binary(&g, LMO_MUL, y, dyn), 0, false);
  if (loss < 0) fail_msg("%s: %s", c->name, lm_errmsg(ctx));
  lmg_keep(&g, y);
  assert_int_equal(lmg_plan(&g, lm_tensor_dim(x, 0), true), LM_OK);
  memcpy(lmg_at(&g, xn)->val, lm_tensor_data(x), 4 * (size_t)lm_tensor_size(x));
  for (int j = 0; j < ns; j++)
    memcpy(lmg_at(&g, sn[j])->val, lm_tensor_data(st[j]), 4 * (size_t)lm_tensor_size(st[j]));
  if (ids) memcpy(lmg_at(&g, mn)->val, lm_tensor_data(ids), 4 * (size_t)lm_tensor_size(ids));
  lmg_forward(&g, NULL);
  lmg_backward(&g, loss, NULL);
  expect_close("y", lmg_at(&g, y)->val, fx(ctx, c->name, "y", false));
  expect_close("dx", lmg_at(&g, xn)->grad, fx(ctx, c->name, "dx", false));
  expect_close("dkernel", lmg_at(&g, kn)->grad, fx(ctx, c->name, "dkernel", false));
  expect_close("drecurrent", lmg_at(&g, rn)->grad, fx(ctx, c->name, "drecurrent", false));
  expect_close("dbias", lmg_at(&g, bn)->grad, fx(ctx, c->name, "dbias", false));
  expect_close("dh0", lmg_at(&g, sn[0])->grad, fx(ctx, c->name, "dh0", false));
  if (ns > 1) expect_close("dc0", lmg_at(&g, sn[1])->grad, fx(ctx, c->name, "dc0", false));
  lmg_release(&g);
  lm_ctx_free(ctx);
}

static const init_case init_cases[] = {
    {"init_lstm_seq", 0, true, false, true, false},
    {"init_lstm_last_back", 0, false, true, true, false},
    {"init_lstm_hs_mask_back_seq", 0, true, true, false, false},
    {"init_gru_after_seq", 1, true, false, true, true},
    {"init_gru_after_hs_mask_last", 1, false, false, false, true},
    {"init_gru_before_mask_back_seq", 1, true, true, true, false},
    {"init_srnn_seq_back", 2, true, true, false, false},
    {"init_srnn_mask_last", 2, false, false, false, false},
};

/* ---- initial_state at the layer level: symbolic calls, then the layers' ops ---- */

typedef struct multi_case {
  const char *name;
  int kind; /* 0 seq2seq LSTM, 1 seq2seq GRU, 2 Bidirectional(LSTM(return_state)) + 4 states */
  int n_x, n_y;
} multi_case;

static lm_tensor *fxi(lm_ctx *ctx, const char *name, const char *part, int i) {
  char p[32];
  snprintf(p, sizeof p, "%s%d", part, i);
  return fx(ctx, name, p, false);
}

static void run_multi(void **state) {
  const multi_case *c = *state;
  lm_ctx *ctx = tu_ctx();
  lm_tensor *x[5];
  lm_sym *s[5];
  for (int i = 0; i < c->n_x; i++) {
    x[i] = fxi(ctx, c->name, "x", i);
    s[i] = lm_input(ctx, lm_tensor_ndim(x[i]) - 1, lm_tensor_shape(x[i]) + 1, LM_FLOAT32, NULL);
  }
  lmg_graph g;
  assert_int_equal(lmg_init(&g, ctx), LM_OK);
  int xn[5], y[5];
  for (int i = 0; i < c->n_x; i++) {
    xn[i] = lmg_input(&g, LM_FLOAT32, lm_tensor_ndim(x[i]), lm_tensor_shape(x[i]));
    lmg_at(&g, xn[i])->want_grad = true;
  }
  lm_layer *ls[2];
  int nl = 0;
  if (c->kind < 2) {
    int U = (int)lm_tensor_dim(fxi(ctx, c->name, "w", 1), 0);
    lm_rnn_opts eo = {.return_state = true, .recurrent_activation = "sigmoid"};
    lm_rnn_opts dopt = {.return_sequences = true, .recurrent_activation = "sigmoid"};
    ls[0] = c->kind == 0 ? lm_layer_lstm(ctx, U, &eo) : lm_layer_gru(ctx, U, &eo);
    ls[1] = c->kind == 0 ? lm_layer_lstm(ctx, U, &dopt) : lm_layer_gru(ctx, U, &dopt);
    nl = 2;
    lm_sym *eout[3];
    int ne = lm_layer_call_multi(ls[0], 1, &s[0], 3, eout);
    if (ne < 0 || !lm_layer_call_rnn(ls[1], s[1], ne - 1, eout + 1))
      fail_msg("%s: %s", c->name, lm_errmsg(ctx));
    int enc[3], din[3] = {xn[1]};
    assert_int_equal(ls[0]->cls->emit(ls[0], &g, 1, &xn[0], enc), LM_OK);
    for (int j = 1; j < ne; j++) din[j] = enc[j];
    assert_int_equal(ls[1]->cls->emit(ls[1], &g, ne, din, y), LM_OK);
  } else {
    int U = (int)lm_tensor_dim(x[1], 1);
    lm_rnn_opts o = {.return_sequences = true, .return_state = true,
                     .recurrent_activation = "sigmoid"};
    ls[0] = lm_layer_bidirectional(ctx, lm_layer_lstm(ctx, U, &o), NULL, NULL);
    nl = 1;
    lm_sym *outs[5];
    if (!lm_layer_call_rnn(ls[0], s[0], 4, s + 1)) fail_msg("%s: %s", c->name, lm_errmsg(ctx));
    assert_int_equal(lm_layer_call_multi(ls[0], 5, s, 5, outs), 5); /* a second call: shared */
    assert_int_equal(ls[0]->cls->emit(ls[0], &g, 5, xn, y), LM_OK);
  }
  int loss = -1;
  for (int k = 0; k < c->n_y; k++) {
    int term = lmo_reduce(&g, LMO_SUM,
                          lmo_binary(&g, LMO_MUL, y[k], lmg_const(&g, lm_tensor_copy(fxi(ctx, c->name, "dy", k)))),
                          0, false);
    loss = loss < 0 ? term : lmo_binary(&g, LMO_ADD, loss, term);
    lmg_keep(&g, y[k]);
  }
  if (loss < 0) fail_msg("%s: %s", c->name, lm_errmsg(ctx));
  assert_int_equal(lmg_plan(&g, lm_tensor_dim(x[0], 0), true), LM_OK);
  for (int i = 0; i < c->n_x; i++)
    memcpy(lmg_at(&g, xn[i])->val, lm_tensor_data(x[i]), 4 * (size_t)lm_tensor_size(x[i]));
  int nw = 0;
  for (int i = 0; i < nl; i++)
    for (int k = 0; k < lm_layer_n_weights(ls[i]); k++, nw++) {
      lm_tensor *w = lm_layer_weight(ls[i], k), *want = fxi(ctx, c->name, "w", nw);
      assert_int_equal(lm_tensor_size(w), lm_tensor_size(want));
      memcpy(lm_tensor_f32(w), lm_tensor_data(want), 4 * (size_t)lm_tensor_size(w));
    }
  lmg_forward(&g, NULL);
  lmg_backward(&g, loss, NULL);
  char what[32];
  for (int k = 0; k < c->n_y; k++) {
    snprintf(what, sizeof what, "y%d", k);
    expect_close(what, lmg_at(&g, y[k])->val, fxi(ctx, c->name, "y", k));
  }
  for (int i = 0; i < c->n_x; i++) {
    snprintf(what, sizeof what, "dx%d", i);
    expect_close(what, lmg_at(&g, xn[i])->grad, fxi(ctx, c->name, "dx", i));
  }
  nw = 0;
  for (int i = 0; i < nl; i++)
    for (int k = 0; k < lm_layer_n_weights(ls[i]); k++, nw++) {
      snprintf(what, sizeof what, "dw%d", nw);
      expect_close(what, lmg_at(&g, param_node(&g, lm_layer_weight(ls[i], k)))->grad,
                   fxi(ctx, c->name, "dw", nw));
    }
  lmg_release(&g);
  lm_ctx_free(ctx);
}

static const multi_case multi_cases[] = {
    {"seq2seq_lstm", 0, 2, 1},
    {"seq2seq_gru", 1, 2, 1},
    {"bidi_lstm_state_init", 2, 5, 5},
};

int main(void) {
  enum { NG = (int)(sizeof gru_cases / sizeof gru_cases[0]) };
  enum { NL = (int)(sizeof layer_cases / sizeof layer_cases[0]) };
  enum { NI = (int)(sizeof init_cases / sizeof init_cases[0]) };
  enum { NM = (int)(sizeof multi_cases / sizeof multi_cases[0]) };
  struct CMUnitTest tests[NG + NL + NI + NM];
  for (int i = 0; i < NG; i++)
    tests[i] = (struct CMUnitTest){gru_cases[i].name, run_gru, NULL, NULL, (void *)&gru_cases[i]};
  for (int i = 0; i < NL; i++)
    tests[NG + i] =
        (struct CMUnitTest){layer_cases[i].name, run_layer, NULL, NULL, (void *)&layer_cases[i]};
  for (int i = 0; i < NI; i++)
    tests[NG + NL + i] =
        (struct CMUnitTest){init_cases[i].name, run_init, NULL, NULL, (void *)&init_cases[i]};
  for (int i = 0; i < NM; i++)
    tests[NG + NL + NI + i] =
        (struct CMUnitTest){multi_cases[i].name, run_multi, NULL, NULL, (void *)&multi_cases[i]};
  return _cmocka_run_group_tests("parity_rnn", tests, NG + NL + NI + NM, NULL, NULL);
}

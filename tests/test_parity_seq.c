/* Parity of the sequence ops with PyTorch autograd references (tests/fixtures/torch_seq/,
 * written by tests/fixtures/gen_torch_seq_fixtures.py): LSTM (hard_sigmoid and sigmoid,
 * return_sequences, go_backwards, masks), SimpleRNN and Conv1D (valid, same + stride,
 * causal + dilation), forward and every gradient of sum(y * dy). */
#include <math.h>
#include <string.h>

#include "testutil.h"
#include "graph/graph.h"
#include "ops/ops.h"

static lm_tensor *fx(lm_ctx *ctx, const char *name, const char *part, bool optional) {
  char rel[256];
  snprintf(rel, sizeof rel, "torch_seq/%s_%s.npy", name, part);
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

typedef struct seq_case {
  const char *name;
  int op; /* 0 lstm, 1 simple_rnn, 2 conv1d */
  bool seq, back, sigmoid;
  int stride, dil, pad;
} seq_case;

static void run(void **state) {
  const seq_case *c = *state;
  lm_ctx *ctx = tu_ctx();
  lm_tensor *x = fx(ctx, c->name, "x", false), *k = fx(ctx, c->name, "kernel", false);
  lm_tensor *b = fx(ctx, c->name, "bias", false), *dy = fx(ctx, c->name, "dy", false);
  lm_tensor *r = c->op < 2 ? fx(ctx, c->name, "recurrent", false) : NULL;
  lm_tensor *ids = c->op < 2 ? fx(ctx, c->name, "ids", true) : NULL;
  lmg_graph g;
  assert_int_equal(lmg_init(&g, ctx), LM_OK);
  int xn = lmg_input(&g, LM_FLOAT32, 3, lm_tensor_shape(x));
  lmg_at(&g, xn)->want_grad = true;
  int kn = lmg_param(&g, k, true), bn = lmg_param(&g, b, true);
  int rn = r ? lmg_param(&g, r, true) : -1;
  int mn = ids ? lmg_input(&g, LM_INT32, 2, lm_tensor_shape(ids)) : -1;
  lmo_rnn_args a = {c->seq, c->back, LMO_TANH, c->sigmoid ? LMO_SIGMOID : LMO_HARD_SIGMOID};
  int y = c->op == 0   ? lmo_lstm(&g, xn, kn, rn, bn, mn, &a)
          : c->op == 1 ? lmo_simple_rnn(&g, xn, kn, rn, bn, mn, &a)
                       : lmo_conv1d(&g, xn, kn, bn, c->stride, c->dil, c->pad);
  int dyn = lmg_const(&g, lm_tensor_copy(dy));
  int loss = lmo_reduce(&g, LMO_SUM, lmo_binary(&g, LMO_MUL, y, dyn), 0, false);
  if (loss < 0) fail_msg("%s: %s", c->name, lm_errmsg(ctx));
  assert_int_equal(lmg_plan(&g, lm_tensor_dim(x, 0), true), LM_OK);
  memcpy(lmg_at(&g, xn)->val, lm_tensor_data(x), 4 * (size_t)lm_tensor_size(x));
  if (ids) memcpy(lmg_at(&g, mn)->val, lm_tensor_data(ids), 4 * (size_t)lm_tensor_size(ids));
  lmg_forward(&g, NULL);
  lmg_backward(&g, loss, NULL);
  expect_close("y", lmg_at(&g, y)->val, fx(ctx, c->name, "y", false));
  expect_close("dx", lmg_at(&g, xn)->grad, fx(ctx, c->name, "dx", false));
  expect_close("dkernel", lmg_at(&g, kn)->grad, fx(ctx, c->name, "dkernel", false));
  expect_close("dbias", lmg_at(&g, bn)->grad, fx(ctx, c->name, "dbias", false));
  if (r) expect_close("drecurrent", lmg_at(&g, rn)->grad, fx(ctx, c->name, "drecurrent", false));
  lmg_release(&g);
  lm_ctx_free(ctx);
}

static const seq_case cases[] = {
    {"lstm_hs_last", 0, false, false, false, 0, 0, 0},
    {"lstm_sig_seq_back", 0, true, true, true, 0, 0, 0},
    {"lstm_sig_last", 0, false, false, true, 0, 0, 0},
    {"lstm_hs_mask_seq", 0, true, false, false, 0, 0, 0},
    {"lstm_hs_mask_back_last", 0, false, true, false, 0, 0, 0},
    {"srnn_seq", 1, true, false, false, 0, 0, 0},
    {"srnn_mask_back_last", 1, false, true, false, 0, 0, 0},
    {"conv1d_valid", 2, false, false, false, 1, 1, 0},
    {"conv1d_same_s2", 2, false, false, false, 2, 1, 1},
    {"conv1d_causal_d2", 2, false, false, false, 1, 2, 2},
};

int main(void) {
  enum { N = (int)(sizeof cases / sizeof cases[0]) };
  struct CMUnitTest tests[N];
  for (int i = 0; i < N; i++)
    tests[i] = (struct CMUnitTest){cases[i].name, run, NULL, NULL, (void *)&cases[i]};
  return _cmocka_run_group_tests("parity_seq", tests, N, NULL, NULL);
}

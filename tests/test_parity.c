/* Parity with PyTorch autograd references (the .npy files in tests/fixtures/torch/, written
 * by tests/fixtures/gen_torch_fixtures.py; CI only reads the committed files).
 *
 * Dense: for inputs of rank 2 and 3, with and without bias, and every Keras
 * activation, the forward value and the gradients of sum(y * dy) with respect
 * to x, the kernel and the bias. Losses: the batch-mean value of each Keras
 * loss and its gradient with respect to y_pred, including predictions on and
 * beyond the clip bounds. Tolerance: |got - want| <= max(1e-4 |want|, 1e-5). */
#include "testutil.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "graph/graph.h"
#include "layers/layer.h"
#include "ops/ops.h"
#include "train/train.h"

#define ARRAY_N(a) ((int)(sizeof(a) / sizeof *(a)))
#define REL_TOL 1e-4
#define ABS_TOL 1e-5

static const char *const activations[] = {
    "linear", "relu", "sigmoid", "tanh", "softmax", "elu", "selu",
    "softplus", "softsign", "hard_sigmoid", "leaky_relu",
};

/* Loads tests/fixtures/torch/<name>.npy as float32; fails the test if absent. */
static lm_tensor *load(lm_ctx *ctx, const char *name) {
  char rel[256];
  snprintf(rel, sizeof rel, "torch/%s.npy", name);
  lm_tensor *t = lm_tensor_load_npy(ctx, tu_fixture(rel));
  if (!t)
    fail_msg("cannot load fixture %s: %s (regenerate with tests/fixtures/gen_torch_fixtures.py)",
             rel, lm_errmsg(ctx));
  if (lm_tensor_dtype(t) != LM_FLOAT32) fail_msg("fixture %s is not float32", rel);
  return t;
}

static bool same_shape(int ndim, const int64_t *shape, const lm_tensor *t) {
  if (ndim != lm_tensor_ndim(t)) return false;
  for (int i = 0; i < ndim; i++)
    if (shape[i] != lm_tensor_shape(t)[i]) return false;
  return true;
}

/* Compares got (a node's value or gradient) with the reference; prints the
 * first mismatches and returns how many elements are out of tolerance. */
static int compare(const char *what, const lmg_node *n, const float *got, const lm_tensor *ref) {
  if (!got) {
    print_message("%s: no buffer (gradient not computed)\n", what);
    return 1;
  }
  int64_t size = lm_tensor_size(ref);
  if (!same_shape(n->ndim, n->shape, ref) && !(n->size == size && size == 1)) {
    char a[128], b[128];
    lm_shape_str(n->ndim, n->shape, a, sizeof a);
    lm_shape_str(lm_tensor_ndim(ref), lm_tensor_shape(ref), b, sizeof b);
    print_message("%s: shape %s, reference %s\n", what, a, b);
    return 1;
  }
  const float *want = lm_tensor_data(ref);
  int bad = 0;
  for (int64_t i = 0; i < size; i++) {
    double w = want[i], g = got[i], err = fabs(g - w);
    double tol = fmax(REL_TOL * fabs(w), ABS_TOL);
    if (!(err <= tol)) {
      if (bad < 4)
        print_message("%s[%lld]: got %.9g, want %.9g (diff %.3g)\n", what, (long long)i, g, w,
                      err);
      bad++;
    }
  }
  if (bad) print_message("%s: %d of %lld elements out of tolerance\n", what, bad, (long long)size);
  return bad;
}

/* ---- Dense ---- */

/* One Dense case: the layer is built through a symbolic call, its weights
 * overwritten with the fixture, and its ops emitted into a hand-made graph
 * whose loss is sum(y * dy), so the backward pass seeds y's gradient with dy. */
static int run_dense(const char *combo, bool use_bias, const char *act) {
  lm_ctx *ctx = tu_ctx();
  assert_non_null(ctx);
  char nm[160], what[200];
  snprintf(nm, sizeof nm, "dense_%s_x", combo);
  lm_tensor *x = load(ctx, nm);
  snprintf(nm, sizeof nm, "dense_%s_kernel", combo);
  lm_tensor *kernel = load(ctx, nm);
  lm_tensor *bias = NULL;
  if (use_bias) {
    snprintf(nm, sizeof nm, "dense_%s_bias", combo);
    bias = load(ctx, nm);
  }
  snprintf(nm, sizeof nm, "dense_%s_dy", combo);
  lm_tensor *dy = load(ctx, nm);
  lm_tensor *ref[4];
  static const char *const ref_names[4] = {"y", "dx", "dkernel", "dbias"};
  for (int i = 0; i < 4; i++) {
    ref[i] = NULL;
    if (i == 3 && !use_bias) continue;
    snprintf(nm, sizeof nm, "dense_%s_%s_%s", combo, act, ref_names[i]);
    ref[i] = load(ctx, nm);
  }
  int xnd = lm_tensor_ndim(x);
  const int64_t *xs = lm_tensor_shape(x);
  assert_int_equal(lm_tensor_ndim(kernel), 2);
  int units = (int)lm_tensor_dim(kernel, 1);

  /* The layer, built by a call on a symbolic Input(shape = x.shape[1:]). */
  lm_dense_opts o = {.activation = act, .no_bias = !use_bias};
  lm_layer *l = lm_layer_dense(ctx, units, &o);
  assert_non_null(l);
  lm_sym *in = lm_input(ctx, xnd - 1, xs + 1, LM_FLOAT32, NULL);
  lm_sym *out = lm_layer_call(l, in);
  if (!out) fail_msg("Dense(%d, %s) call failed: %s", units, act, lm_errmsg(ctx));
  assert_int_equal(lm_sym_ndim(out), xnd);
  assert_int_equal(lm_sym_dim(out, xnd - 1), units);
  assert_int_equal(lm_layer_n_weights(l), use_bias ? 2 : 1);
  lm_tensor *w = lm_layer_weight(l, 0);
  assert_true(same_shape(lm_tensor_ndim(w), lm_tensor_shape(w), kernel));
  memcpy(lm_tensor_f32(w), lm_tensor_data(kernel), sizeof(float) * (size_t)lm_tensor_size(w));
  lm_tensor *b = NULL;
  if (use_bias) {
    b = lm_layer_weight(l, 1);
    assert_true(same_shape(lm_tensor_ndim(b), lm_tensor_shape(b), bias));
    memcpy(lm_tensor_f32(b), lm_tensor_data(bias), sizeof(float) * (size_t)lm_tensor_size(b));
  }

  /* The graph: x -> Dense -> y; loss = sum(y * dy). */
  lmg_graph g;
  assert_int_equal(lmg_init(&g, ctx), LM_OK);
  int xn = lmg_input(&g, LM_FLOAT32, xnd, xs);
  assert_true(xn >= 0);
  lmg_at(&g, xn)->want_grad = true;
  int yn = -1;
  if (l->cls->emit(l, &g, 1, &xn, &yn) != LM_OK || yn < 0)
    fail_msg("Dense(%s) emit failed: %s", act, lm_errmsg(ctx));
  int dyn = lmg_const(&g, lm_tensor_copy(dy));
  int loss = lmo_reduce(&g, LMO_SUM, lmo_binary(&g, LMO_MUL, yn, dyn), 0, false);
  if (loss < 0) fail_msg("building sum(y * dy) failed: %s", lm_errmsg(ctx));
  int n_nodes = g.n_nodes;
  int wn = lmg_param(&g, w, true);
  int bn = use_bias ? lmg_param(&g, b, true) : -1;
  assert_int_equal(g.n_nodes, n_nodes); /* the layer's own PARAM nodes */
  if (lmg_plan(&g, xs[0], true) != LM_OK) fail_msg("lmg_plan: %s", lm_errmsg(ctx));
  memcpy(lmg_at(&g, xn)->val, lm_tensor_data(x), sizeof(float) * (size_t)lm_tensor_size(x));

  int bad = 0;
  lmg_forward(&g, NULL);
  snprintf(what, sizeof what, "dense %s %s: y", combo, act);
  bad += compare(what, lmg_at(&g, yn), lmg_at(&g, yn)->val, ref[0]);
  lmg_backward(&g, loss, NULL);
  snprintf(what, sizeof what, "dense %s %s: dx", combo, act);
  bad += compare(what, lmg_at(&g, xn), lmg_at(&g, xn)->grad, ref[1]);
  snprintf(what, sizeof what, "dense %s %s: dkernel", combo, act);
  bad += compare(what, lmg_at(&g, wn), lmg_at(&g, wn)->grad, ref[2]);
  if (use_bias) {
    snprintf(what, sizeof what, "dense %s %s: dbias", combo, act);
    bad += compare(what, lmg_at(&g, bn), lmg_at(&g, bn)->grad, ref[3]);
  }
  lmg_release(&g);
  lm_ctx_free(ctx);
  return bad;
}

static void dense_combo(const char *combo, bool use_bias) {
  int failed = 0;
  for (int a = 0; a < ARRAY_N(activations); a++)
    if (run_dense(combo, use_bias, activations[a])) failed++;
  if (failed) fail_msg("Dense %s: %d of %d activations differ from PyTorch", combo, failed,
                       ARRAY_N(activations));
}

static void test_dense_rank2_bias(void **state) {
  (void)state;
  dense_combo("r2_bias", true);
}
static void test_dense_rank2_nobias(void **state) {
  (void)state;
  dense_combo("r2_nobias", false);
}
static void test_dense_rank3_bias(void **state) {
  (void)state;
  dense_combo("r3_bias", true);
}
static void test_dense_rank3_nobias(void **state) {
  (void)state;
  dense_combo("r3_nobias", false);
}

/* ---- losses ---- */

static int run_loss(const char *name, int kind) {
  lm_ctx *ctx = tu_ctx();
  assert_non_null(ctx);
  char nm[160], what[200];
  snprintf(nm, sizeof nm, "loss_%s_y_true", name);
  lm_tensor *yt = load(ctx, nm);
  snprintf(nm, sizeof nm, "loss_%s_y_pred", name);
  lm_tensor *yp = load(ctx, nm);
  snprintf(nm, sizeof nm, "loss_%s_value", name);
  lm_tensor *value = load(ctx, nm);
  snprintf(nm, sizeof nm, "loss_%s_grad", name);
  lm_tensor *grad = load(ctx, nm);
  assert_int_equal(lm_tensor_size(value), 1);

  lmg_graph g;
  assert_int_equal(lmg_init(&g, ctx), LM_OK);
  int ytn = lmg_input(&g, LM_FLOAT32, lm_tensor_ndim(yt), lm_tensor_shape(yt));
  int ypn = lmg_input(&g, LM_FLOAT32, lm_tensor_ndim(yp), lm_tensor_shape(yp));
  assert_true(ytn >= 0 && ypn >= 0);
  lmg_at(&g, ypn)->want_grad = true;
  int loss = lmt_loss_build(&g, kind, ytn, ypn);
  if (loss < 0) fail_msg("lmt_loss_build(%s): %s", lmt_loss_name(kind), lm_errmsg(ctx));
  if (lmg_plan(&g, lm_tensor_dim(yp, 0), true) != LM_OK)
    fail_msg("lmg_plan: %s", lm_errmsg(ctx));
  assert_int_equal(lmg_at(&g, loss)->size, 1);
  memcpy(lmg_at(&g, ytn)->val, lm_tensor_data(yt), sizeof(float) * (size_t)lm_tensor_size(yt));
  memcpy(lmg_at(&g, ypn)->val, lm_tensor_data(yp), sizeof(float) * (size_t)lm_tensor_size(yp));

  int bad = 0;
  lmg_forward(&g, NULL);
  snprintf(what, sizeof what, "loss %s: value", name);
  bad += compare(what, lmg_at(&g, loss), lmg_at(&g, loss)->val, value);
  lmg_backward(&g, loss, NULL);
  snprintf(what, sizeof what, "loss %s: d/dy_pred", name);
  bad += compare(what, lmg_at(&g, ypn), lmg_at(&g, ypn)->grad, grad);
  lmg_release(&g);
  lm_ctx_free(ctx);
  return bad;
}

static void loss_cases(int kind, int n, const char *const *names) {
  int failed = 0;
  for (int i = 0; i < n; i++)
    if (run_loss(names[i], kind)) failed++;
  if (failed) fail_msg("%s: %d of %d cases differ from PyTorch", lmt_loss_name(kind), failed, n);
}

static void test_loss_mse(void **state) {
  (void)state;
  static const char *const c[] = {"mse_r2", "mse_r3"};
  loss_cases(LMT_MSE, ARRAY_N(c), c);
}
static void test_loss_mae(void **state) {
  (void)state;
  static const char *const c[] = {"mae_r2", "mae_r3"};
  loss_cases(LMT_MAE, ARRAY_N(c), c);
}
static void test_loss_cce(void **state) {
  (void)state;
  static const char *const c[] = {"cce_r2", "cce_r3"};
  loss_cases(LMT_CCE, ARRAY_N(c), c);
}
static void test_loss_scce(void **state) {
  (void)state;
  static const char *const c[] = {"scce"};
  loss_cases(LMT_SCCE, ARRAY_N(c), c);
}
static void test_loss_bce(void **state) {
  (void)state;
  static const char *const c[] = {"bce_r2", "bce_r3"};
  loss_cases(LMT_BCE, ARRAY_N(c), c);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_dense_rank2_bias), cmocka_unit_test(test_dense_rank2_nobias),
      cmocka_unit_test(test_dense_rank3_bias), cmocka_unit_test(test_dense_rank3_nobias),
      cmocka_unit_test(test_loss_mse),         cmocka_unit_test(test_loss_mae),
      cmocka_unit_test(test_loss_cce),         cmocka_unit_test(test_loss_scce),
      cmocka_unit_test(test_loss_bce),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}

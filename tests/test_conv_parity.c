/* Parity of Conv2D, MaxPooling2D, AveragePooling2D, the global poolings and
 * BatchNormalization with PyTorch autograd references (tests/fixtures/torch/
 * conv_*, pool_*, gpool_*, bn_*.npy, written by
 * tests/fixtures/gen_torch_conv_fixtures.py, which documents the cases: a grid
 * of kernel sizes, strides, dilations, 'valid'/'same' padding with odd and
 * even sizes). Each case runs the layer's emitted ops on the fixture input
 * and compares the output and the gradients of sum(y * dy) with respect to
 * the input and every weight. Tolerance: |got - want| <= max(1e-4 |want|, 2e-5). */
#include "testutil.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "graph/graph.h"
#include "layers/layer.h"
#include "ops/ops.h"

#define REL_TOL 1e-4
#define ABS_TOL 2e-5

static lm_tensor *load(lm_ctx *ctx, const char *pre, const char *what) {
  char rel[256];
  snprintf(rel, sizeof rel, "torch/%s_%s.npy", pre, what);
  lm_tensor *t = lm_tensor_load_npy(ctx, tu_fixture(rel));
  if (!t)
    fail_msg("cannot load fixture %s: %s (regenerate with "
             "tests/fixtures/gen_torch_conv_fixtures.py)",
             rel, lm_errmsg(ctx));
  return t;
}

static int compare(const char *pre, const char *what, int64_t size, const float *got,
                   const lm_tensor *ref) {
  if (!got || size != lm_tensor_size(ref)) {
    print_message("%s %s: %s (size %lld, reference %lld)\n", pre, what,
                  got ? "size differs" : "no buffer", (long long)size,
                  (long long)lm_tensor_size(ref));
    return 1;
  }
  const float *want = lm_tensor_data(ref);
  int bad = 0;
  for (int64_t i = 0; i < size; i++) {
    double w = want[i], g = got[i], err = fabs(g - w);
    if (!(err <= fmax(REL_TOL * fabs(w), ABS_TOL))) {
      if (bad < 4)
        print_message("%s %s[%lld]: got %.9g, want %.9g\n", pre, what, (long long)i, g, w);
      bad++;
    }
  }
  return bad;
}

/* Runs layer l on fixture <pre>_x; weights[i] (fixture suffix or NULL) are
 * loaded into the layer first; compares y, dx and grads[i] (fixture suffix or
 * NULL) of the weights. Returns the number of mismatches. */
static int run_layer(lm_ctx *ctx, const char *pre, lm_layer *l, int n_w,
                     const char *const *weights, const char *const *grads, bool training) {
  lm_tensor *x = load(ctx, pre, "x"), *dy = load(ctx, pre, "dy");
  lm_sym *s = lm_input(ctx, lm_tensor_ndim(x) - 1, lm_tensor_shape(x) + 1, LM_FLOAT32, NULL);
  if (!lm_layer_call(l, s)) fail_msg("%s: %s", pre, lm_errmsg(ctx));
  assert_int_equal(lm_layer_n_weights(l), n_w);
  for (int i = 0; i < n_w; i++) {
    if (!weights[i]) continue;
    lm_tensor *t = load(ctx, pre, weights[i]), *w = lm_layer_weight(l, i);
    assert_int_equal(lm_tensor_size(t), lm_tensor_size(w));
    memcpy(lm_tensor_f32(w), lm_tensor_data(t), sizeof(float) * (size_t)lm_tensor_size(t));
    lm_tensor_free(t);
  }
  lmg_graph g;
  assert_int_equal(lmg_init(&g, ctx), LM_OK);
  g.training = training;
  int64_t sym[LM_MAX_DIMS];
  memcpy(sym, lm_tensor_shape(x), sizeof(int64_t) * (size_t)lm_tensor_ndim(x));
  sym[0] = LM_NONE;
  int xi = lmg_input(&g, LM_FLOAT32, lm_tensor_ndim(x), sym), y = -1;
  lmg_at(&g, xi)->want_grad = true;
  if (l->cls->emit(l, &g, 1, &xi, &y) != LM_OK) fail_msg("%s: emit: %s", pre, lm_errmsg(ctx));
  lm_tensor *dyc = lmt_new(ctx, LM_FLOAT32, lm_tensor_ndim(dy), lm_tensor_shape(dy));
  assert_non_null(dyc);
  memcpy(dyc->data, lm_tensor_data(dy), sizeof(float) * (size_t)dyc->size);
  int loss = lmo_reduce(&g, LMO_SUM, lmo_binary(&g, LMO_MUL, y, lmg_const(&g, dyc)), 0, false);
  assert_true(loss >= 0);
  if (lmg_plan(&g, lm_tensor_dim(x, 0), true)) fail_msg("%s: plan: %s", pre, lm_errmsg(ctx));
  memcpy(lmg_at(&g, xi)->val, lm_tensor_data(x), sizeof(float) * (size_t)lm_tensor_size(x));
  lmg_forward(&g, NULL);
  lmg_backward(&g, loss, NULL);
  int bad = 0;
  lm_tensor *ref = load(ctx, pre, "y");
  bad += compare(pre, "y", lmg_at(&g, y)->size, lmg_at(&g, y)->val, ref);
  lm_tensor_free(ref);
  ref = load(ctx, pre, "dx");
  bad += compare(pre, "dx", lmg_at(&g, xi)->size, lmg_at(&g, xi)->grad, ref);
  lm_tensor_free(ref);
  for (int i = 0; i < n_w; i++) {
    if (!grads || !grads[i]) continue;
    int p = lmg_param(&g, lm_layer_weight(l, i), true); /* the existing node */
    ref = load(ctx, pre, grads[i]);
    bad += compare(pre, grads[i], lmg_at(&g, p)->size, lmg_at(&g, p)->grad, ref);
    lm_tensor_free(ref);
  }
  lmg_release(&g);
  lm_tensor_free(x);
  lm_tensor_free(dy);
  return bad;
}

typedef struct conv_case {
  const char *name;
  int k[2], filters, s[2], d[2];
  bool same, bias;
} conv_case;

static const conv_case conv_cases[] = {
    {"k3_valid", {3, 3}, 4, {1, 1}, {1, 1}, false, true},
    {"k3_s2_same_even", {3, 3}, 3, {2, 2}, {1, 1}, true, true},
    {"k3_s2_same_odd", {3, 3}, 3, {2, 2}, {1, 1}, true, false},
    {"k2_same", {2, 2}, 2, {1, 1}, {1, 1}, true, true},
    {"k32_d2_same", {3, 2}, 4, {1, 1}, {2, 2}, true, true},
    {"k4_s3_valid", {4, 4}, 2, {3, 3}, {1, 1}, false, true},
    {"k1_gemm", {1, 1}, 5, {1, 1}, {1, 1}, false, true},
    {"k5_s2_same", {5, 5}, 2, {2, 2}, {1, 1}, true, true},
    {"k3_d23_valid", {3, 3}, 2, {1, 1}, {2, 3}, false, false},
    {"k2_s21_same", {2, 3}, 3, {2, 1}, {1, 1}, true, true},
};

static void test_conv2d(void **state) {
  (void)state;
  int bad = 0;
  for (size_t i = 0; i < sizeof conv_cases / sizeof *conv_cases; i++) {
    const conv_case *c = &conv_cases[i];
    lm_ctx *ctx = tu_ctx();
    lm_conv2d_opts o = {.strides = {c->s[0], c->s[1]},
                        .padding = c->same ? "same" : "valid",
                        .dilation_rate = {c->d[0], c->d[1]},
                        .no_bias = !c->bias};
    lm_layer *l = lm_layer_conv2d(ctx, c->filters, c->k[0], c->k[1], &o);
    assert_non_null(l);
    char pre[64];
    snprintf(pre, sizeof pre, "conv_%s", c->name);
    const char *w[2] = {"kernel", "bias"}, *gr[2] = {"dkernel", "dbias"};
    bad += run_layer(ctx, pre, l, c->bias ? 2 : 1, w, gr, true);
    lm_ctx_free(ctx);
  }
  assert_int_equal(bad, 0);
}

typedef struct pool_case {
  const char *name;
  int p[2], s[2];
  bool same;
} pool_case;

static const pool_case pool_cases[] = {
    {"p2_valid_odd", {2, 2}, {2, 2}, false}, {"p3_s2_same", {3, 3}, {2, 2}, true},
    {"p2_same_odd", {2, 2}, {2, 2}, true},   {"p32_s1_same", {3, 2}, {1, 1}, true},
    {"p3_s3_valid", {3, 3}, {3, 3}, false},  {"p2_s1_valid", {2, 2}, {1, 1}, false},
};

static void test_pooling(void **state) {
  (void)state;
  int bad = 0;
  for (int kind = 0; kind < 2; kind++)
    for (size_t i = 0; i < sizeof pool_cases / sizeof *pool_cases; i++) {
      const pool_case *c = &pool_cases[i];
      lm_ctx *ctx = tu_ctx();
      lm_pool2d_opts o = {.strides = {c->s[0], c->s[1]}, .padding = c->same ? "same" : "valid"};
      lm_layer *l = kind == 0 ? lm_layer_max_pooling2d(ctx, c->p[0], c->p[1], &o)
                              : lm_layer_average_pooling2d(ctx, c->p[0], c->p[1], &o);
      assert_non_null(l);
      char pre[64];
      snprintf(pre, sizeof pre, "pool_%s_%s", kind == 0 ? "max" : "avg", c->name);
      bad += run_layer(ctx, pre, l, 0, NULL, NULL, true);
      lm_ctx_free(ctx);
    }
  for (int kind = 0; kind < 2; kind++) {
    lm_ctx *ctx = tu_ctx();
    lm_layer *l = kind == 0 ? lm_layer_global_max_pooling2d(ctx, NULL)
                            : lm_layer_global_average_pooling2d(ctx, NULL);
    bad += run_layer(ctx, kind == 0 ? "gpool_max" : "gpool_avg", l, 0, NULL, NULL, true);
    lm_ctx_free(ctx);
  }
  assert_int_equal(bad, 0);
}

static void test_batchnorm(void **state) {
  (void)state;
  int bad = 0;
  /* training: batch statistics; the moving ones start at (0, 1) and are
   * compared after the step */
  lm_ctx *ctx = tu_ctx();
  lm_layer *l = lm_layer_batch_normalization(ctx, NULL);
  const char *w_train[4] = {"gamma", "beta", NULL, NULL};
  const char *grads[4] = {"dgamma", "dbeta", NULL, NULL};
  bad += run_layer(ctx, "bn_train", l, 4, w_train, grads, true);
  for (int i = 0; i < 2; i++) {
    lm_tensor *ref = load(ctx, "bn_train", i == 0 ? "mean" : "var");
    lm_tensor *w = lm_layer_weight(l, 2 + i);
    bad += compare("bn_train", i == 0 ? "moving_mean" : "moving_variance", lm_tensor_size(w),
                   lm_tensor_f32(w), ref);
    lm_tensor_free(ref);
  }
  lm_ctx_free(ctx);
  /* inference: the moving statistics */
  ctx = tu_ctx();
  l = lm_layer_batch_normalization(ctx, NULL);
  const char *w_infer[4] = {"gamma", "beta", "mean", "var"};
  bad += run_layer(ctx, "bn_infer", l, 4, w_infer, grads, false);
  lm_ctx_free(ctx);
  assert_int_equal(bad, 0);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_conv2d),
      cmocka_unit_test(test_pooling),
      cmocka_unit_test(test_batchnorm),
  };
  return cmocka_run_group_tests_name("conv_parity", tests, NULL, NULL);
}

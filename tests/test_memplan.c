/* The buffer planner (src/graph/graph.c): liveness-based reuse of values,
 * gradients and workspaces, and batchnorm folded into the convolution before
 * it in inference plans (src/ops/fold.c). Reuse must not change a single bit
 * of training or inference; folding agrees with the unfolded graph to float
 * rounding, follows weight changes and never writes the user's weights. */
#include "testutil.h"

#include <math.h>
#include <string.h>

#include "graph/graph.h"
#include "ops/conv_ops.h"
#include "train/train.h"

/* ---- graph level ---- */

/* A chain of equal-sized unary ops: in an inference plan the values
 * alternate between two buffers (plus the kept input and output). */
static void test_chain_reuses_buffers(void **state) {
  (void)state;
  lm_ctx *ctx = tu_ctx();
  lmg_graph g;
  assert_int_equal(lmg_init(&g, ctx), LM_OK);
  enum { LEN = 10, D = 1000 };
  int x = lmg_input(&g, LM_FLOAT32, 2, (int64_t[]){LM_NONE, D});
  int ids[LEN], y = x;
  for (int i = 0; i < LEN; i++) ids[i] = y = lmo_unary(&g, i % 2 ? LMO_NEG : LMO_ABS, y);
  assert_true(y >= 0);
  assert_int_equal(lmg_plan(&g, 4, false), LM_OK);
  size_t one = 4 * D * sizeof(float);
  assert_int_equal(g.plan_naive_bytes, (LEN + 1) * one);
  if (g.plan_bytes > 4 * one)
    fail_msg("plan takes %zu bytes, want at most %zu", g.plan_bytes, 4 * one);
  lmg_node *xn = lmg_at(&g, x);
  for (int64_t k = 0; k < xn->size; k++) xn->val[k] = (float)k - 1000.0f;
  lmg_forward(&g, NULL);
  const lmg_node *yn = lmg_at(&g, y);
  for (int64_t k = 0; k < yn->size; k++) /* abs, neg, ...: -|x| after an even count */
    assert_float_equal(yn->val[k], -fabsf((float)k - 1000.0f), 0.0f);
  /* kept nodes are never reused; the input stays intact */
  lmg_keep(&g, ids[3]);
  assert_int_equal(lmg_plan(&g, 4, false), LM_OK);
  for (int64_t k = 0; k < xn->size; k++) xn->val[k] = (float)k - 1000.0f; /* a plan moves buffers */
  lmg_forward(&g, NULL);
  for (int64_t k = 0; k < xn->size; k++) assert_float_equal(xn->val[k], (float)k - 1000.0f, 0.0f);
  const lmg_node *k3 = lmg_at(&g, ids[3]);
  for (int64_t k = 0; k < k3->size; k++)
    assert_float_equal(k3->val[k], -fabsf((float)k - 1000.0f), 0.0f);
  for (int i = 4; i < LEN; i++) /* no later value shares the kept one's buffer */
    assert_true(lmg_at(&g, ids[i])->val != k3->val);
  lmg_release(&g);
  lm_ctx_free(ctx);
}

/* Gradients through a diamond (x used twice) with reuse equal those of the
 * same graph planned with one buffer each, bit for bit. */
static void diamond_grads(bool no_reuse, float *gw, float *gx) {
  lm_ctx *ctx = tu_ctx();
  lmg_graph g;
  assert_int_equal(lmg_init(&g, ctx), LM_OK);
  g.no_reuse = no_reuse;
  lm_tensor *w = lmt_new(ctx, LM_FLOAT32, 2, (int64_t[]){6, 6});
  for (int k = 0; k < 36; k++) ((float *)w->data)[k] = sinf(0.3f * (float)k);
  int x = lmg_input(&g, LM_FLOAT32, 2, (int64_t[]){LM_NONE, 6});
  lmg_at(&g, x)->want_grad = true;
  int p = lmg_param(&g, w, true);
  int a = lmo_matmul(&g, x, p, -1);
  int b = lmo_activation(&g, LMO_TANH, a, 0.0f);
  int c = lmo_binary(&g, LMO_MUL, b, a);
  int d = lmo_matmul(&g, c, p, -1);
  int e = lmo_binary(&g, LMO_ADD, d, b);
  int l = lmo_reduce(&g, LMO_SUM, lmo_unary(&g, LMO_SQUARE, e), 0, false);
  assert_true(l >= 0);
  assert_int_equal(lmg_plan(&g, 5, true), LM_OK);
  if (!no_reuse) assert_true(g.plan_bytes < g.plan_naive_bytes);
  lmg_node *xn = lmg_at(&g, x);
  for (int k = 0; k < 30; k++) xn->val[k] = cosf(0.7f * (float)k);
  for (int rep = 0; rep < 2; rep++) { /* the second step sees the first's leftovers */
    lmg_forward(&g, NULL);
    lmg_backward(&g, l, NULL);
  }
  memcpy(gw, lmg_at(&g, p)->grad, 36 * sizeof(float));
  memcpy(gx, xn->grad, 30 * sizeof(float));
  lmg_release(&g);
  lmt_free(w);
  lm_ctx_free(ctx);
}

static void test_grads_same_with_reuse(void **state) {
  (void)state;
  float gw[2][36], gx[2][30];
  diamond_grads(false, gw[0], gx[0]);
  diamond_grads(true, gw[1], gx[1]);
  assert_memory_equal(gw[0], gw[1], sizeof gw[0]);
  assert_memory_equal(gx[0], gx[1], sizeof gx[0]);
  float s = 0;
  for (int k = 0; k < 36; k++) s += fabsf(gw[0][k]);
  assert_true(s > 0.1f); /* gradients flowed */
}

/* A folded pair run with g->training set after an inference plan: the conv
 * writes the batchnorm's buffer and the batchnorm (batch statistics) runs in
 * place; the result matches the unfolded graph. */
static void fold_pair_training(bool no_fold, float *out, int64_t *n_out, int *folds) {
  lm_ctx *ctx = tu_ctx();
  lmg_graph g;
  assert_int_equal(lmg_init(&g, ctx), LM_OK);
  g.no_fold = no_fold;
  lm_tensor *t[6];
  const int64_t wsh[4] = {3, 3, 2, 5}, vsh[1] = {5};
  t[0] = lmt_new(ctx, LM_FLOAT32, 4, wsh);
  for (int k = 1; k < 6; k++) t[k] = lmt_new(ctx, LM_FLOAT32, 1, vsh);
  for (int k = 0; k < 6; k++)
    for (int64_t j = 0; j < t[k]->size; j++)
      ((float *)t[k]->data)[j] = (k == 3 ? 1.0f : 0.0f) + 0.5f * sinf((float)(7 * k + j));
  int x = lmg_input(&g, LM_FLOAT32, 4, (int64_t[]){LM_NONE, 5, 5, 2});
  int c = lmo_conv2d(&g, x, lmg_param(&g, t[0], true), lmg_param(&g, t[1], true), 1, 1, 1, 1, true);
  int y = lmo_batchnorm(&g, c, lmg_param(&g, t[2], false), lmg_param(&g, t[3], false),
                        lmg_param(&g, t[4], true), lmg_param(&g, t[5], true), 3, 0.9f, 1e-3f);
  assert_true(y >= 0);
  assert_int_equal(lmg_plan(&g, 3, false), LM_OK);
  *folds = g.plan_folds;
  lmg_node *xn = lmg_at(&g, x);
  for (int64_t k = 0; k < xn->size; k++) xn->val[k] = cosf(0.37f * (float)k);
  g.training = true;
  lmg_forward(&g, NULL);
  *n_out = lmg_at(&g, y)->size;
  memcpy(out, lmg_at(&g, y)->val, sizeof(float) * (size_t)*n_out);
  lmg_release(&g);
  for (int k = 0; k < 6; k++) lmt_free(t[k]);
  lm_ctx_free(ctx);
}

static void test_folded_pair_run_in_training(void **state) {
  (void)state;
  static float a[3 * 5 * 5 * 5], b[3 * 5 * 5 * 5];
  int64_t na, nb;
  int fa, fb;
  fold_pair_training(false, a, &na, &fa);
  fold_pair_training(true, b, &nb, &fb);
  assert_int_equal(fa, 1);
  assert_int_equal(fb, 0);
  assert_int_equal(na, nb);
  for (int64_t k = 0; k < na; k++) assert_float_equal(a[k], b[k], 1e-5f);
  double s = 0; /* batch statistics: channel 0 has mean beta[0] */
  for (int64_t k = 0; k < na; k += 5) s += a[k];
  assert_float_equal(s / (double)(na / 5), sinf(35.0f) * 0.5f, 1e-4); /* beta of channel 0 */
}

/* A trainable parameter the loss does not depend on gets a zero gradient,
 * even when the loss needs no gradient at all (its slab bytes are NaN). */
static void test_unused_param_grad_zeroed(void **state) {
  (void)state;
  lm_ctx *ctx = tu_ctx();
  lmg_graph g;
  assert_int_equal(lmg_init(&g, ctx), LM_OK);
  lm_tensor *w1 = lmt_new(ctx, LM_FLOAT32, 2, (int64_t[]){3, 2});
  lm_tensor *w2 = lmt_new(ctx, LM_FLOAT32, 2, (int64_t[]){3, 2});
  for (int k = 0; k < 6; k++) ((float *)w1->data)[k] = ((float *)w2->data)[k] = (float)k;
  int x = lmg_input(&g, LM_FLOAT32, 2, (int64_t[]){LM_NONE, 3});
  int loss = lmo_reduce(&g, LMO_SUM, lmo_matmul(&g, x, lmg_param(&g, w1, false), -1), 0, false);
  int p2 = lmg_param(&g, w2, true);
  int side = lmo_matmul(&g, x, p2, -1);
  assert_true(loss >= 0 && side >= 0);
  assert_int_equal(lmg_plan(&g, 2, true), LM_OK);
  memset(g.slab, 0xff, g.slab_cap); /* NaN everywhere */
  lmg_node *xn = lmg_at(&g, x);
  for (int k = 0; k < 6; k++) xn->val[k] = 1.0f;
  lmg_forward(&g, NULL);
  assert_float_equal(lmg_at(&g, loss)->val[0], 2 * (0 + 1 + 2 + 3 + 4 + 5), 0.0f);
  lmg_backward(&g, loss, NULL);
  const float *gw = lmg_at(&g, p2)->grad;
  assert_non_null(gw);
  for (int k = 0; k < 6; k++) assert_true(gw[k] == 0.0f);
  lmg_release(&g);
  lmt_free(w1);
  lmt_free(w2);
  lm_ctx_free(ctx);
}

/* ---- model level ---- */

static lmg_graph *graph_of(lm_model *m) { return &m->train->g; }
/* predict runs on the model's own inference plan (built on first use) */
static lmg_graph *pred_graph_of(lm_model *m) {
  lmm_infer *p = lmm_infer_get(m);
  if (!p) fail_msg("inference plan: %s", lm_errmsg(m->ctx));
  return &p->g;
}

static float frand(unsigned *s) {
  *s = *s * 1664525u + 1013904223u;
  return (float)(*s >> 8) / 16777216.0f;
}

/* Non-trivial batchnorm weights: gamma, beta, moving mean and variance. */
static void scramble_bn(lm_layer *l, unsigned seed) {
  for (int i = 0; lm_layer_weight(l, i); i++) {
    lm_tensor *t = lm_layer_weight(l, i);
    const char *nm = lm_layer_weight_name(l, i);
    float lo = -0.5f, hi = 0.5f;
    if (strstr(nm, "gamma")) lo = 0.5f, hi = 1.5f;
    if (strstr(nm, "moving_variance")) lo = 0.3f, hi = 2.5f;
    for (int64_t k = 0; k < lm_tensor_size(t); k++)
      lm_tensor_f32(t)[k] = lo + (hi - lo) * frand(&seed);
  }
}

enum { H = 9, W = 9, C = 3, NS = 12 };

static lm_tensor *images(lm_ctx *ctx) {
  lm_tensor *x = lm_tensor_new(ctx, LM_FLOAT32, 4, (int64_t[]){NS, H, W, C});
  unsigned s = 7;
  for (int64_t k = 0; k < lm_tensor_size(x); k++) lm_tensor_f32(x)[k] = 2.0f * frand(&s) - 1.0f;
  return x;
}

/* kind 0: conv -> BN -> relu -> depthwise -> BN (both fold);
 * kind 1: conv -> BN, and the conv output also feeds an add (no fold);
 * kind 2: conv(relu) -> BN (an activation in between: no fold). */
static lm_model *bn_model(lm_ctx *ctx, int kind, bool scale) {
  lm_sym *in = lm_input(ctx, 3, (int64_t[]){H, W, C}, LM_FLOAT32, NULL);
  lm_conv2d_opts co = {.padding = kind == 2 ? "valid" : "same", .activation = kind == 2 ? "relu" : NULL};
  lm_sym *c = lm_layer_call(lm_layer_conv2d(ctx, 6, 3, 3, &co), in);
  lm_batchnorm_opts bo = {.no_scale = !scale};
  lm_layer *bn1 = lm_layer_batch_normalization(ctx, &bo);
  lm_sym *y = lm_layer_call(bn1, c);
  scramble_bn(bn1, 11);
  if (kind == 0) {
    y = lm_layer_call(lm_layer_activation(ctx, "relu", NULL), y);
    y = lm_layer_call(lm_layer_depthwise_conv2d(ctx, 3, 3, &(lm_separable_opts){.depth_multiplier = 2, .no_bias = true}), y);
    lm_layer *bn2 = lm_layer_batch_normalization(ctx, NULL);
    y = lm_layer_call(bn2, y);
    scramble_bn(bn2, 12);
  } else if (kind == 1) {
    lm_sym *xy[2] = {y, c};
    y = lm_add(ctx, 2, xy);
  }
  lm_model *m = lm_model_new(ctx, 1, &in, 1, &y, NULL);
  const char *loss = "mse";
  lm_compile_opts o = {.optimizer_name = "sgd", .n_losses = 1, .losses = &loss};
  if (!m || lm_model_compile(m, &o)) fail_msg("model: %s", lm_errmsg(ctx));
  return m;
}

static lm_tensor *predict(lm_model *m, lm_tensor *x, bool fold) {
  lmg_graph *g = pred_graph_of(m);
  g->no_fold = !fold;
  g->planned = false;
  lm_data dx = {1, &x, NULL};
  lm_tensor *out = NULL;
  if (lm_model_predict(m, &dx, 5, &out)) fail_msg("predict: %s", lm_errmsg(m->ctx));
  return out;
}

static double max_rel_diff(const lm_tensor *a, const lm_tensor *b) {
  assert_int_equal(lm_tensor_size(a), lm_tensor_size(b));
  double worst = 0, scale = 0;
  for (int64_t k = 0; k < lm_tensor_size(a); k++) {
    double d = fabs((double)lm_tensor_f32((lm_tensor *)a)[k] - lm_tensor_f32((lm_tensor *)b)[k]);
    double v = fabs((double)lm_tensor_f32((lm_tensor *)b)[k]);
    if (d > worst) worst = d;
    if (v > scale) scale = v;
  }
  return worst / (scale > 0 ? scale : 1);
}

static void weights_snapshot(lm_model *m, float *buf, int64_t cap, int64_t *n) {
  *n = 0;
  for (int li = 0; lm_model_layer(m, li); li++) {
    lm_layer *l = lm_model_layer(m, li);
    for (int i = 0; lm_layer_weight(l, i); i++) {
      lm_tensor *t = lm_layer_weight(l, i);
      assert_true(*n + lm_tensor_size(t) <= cap);
      memcpy(buf + *n, lm_tensor_f32(t), sizeof(float) * (size_t)lm_tensor_size(t));
      *n += lm_tensor_size(t);
    }
  }
}

static void check_fold_agrees(bool scale) {
  lm_ctx *ctx = tu_ctx();
  lm_model *m = bn_model(ctx, 0, scale);
  lm_tensor *x = images(ctx);
  static float before[4096], after[4096];
  int64_t nb, na;
  weights_snapshot(m, before, 4096, &nb);
  lm_tensor *plain = predict(m, x, false);
  assert_int_equal(pred_graph_of(m)->plan_folds, 0);
  lm_tensor *folded = predict(m, x, true);
  assert_int_equal(pred_graph_of(m)->plan_folds, 2); /* conv+BN and depthwise+BN */
  weights_snapshot(m, after, 4096, &na);
  assert_int_equal(na, nb);
  assert_memory_equal(before, after, sizeof(float) * (size_t)nb); /* weights untouched */
  double d = max_rel_diff(folded, plain);
  if (d > 2e-6) fail_msg("folded and plain predictions differ by %g (relative)", d);
  /* the folded kernel follows the weights: change gamma/beta and the moving stats */
  scramble_bn(lm_model_layer(m, 2), 99);
  lm_tensor *folded2 = predict(m, x, true);
  lm_tensor *plain2 = predict(m, x, false);
  d = max_rel_diff(folded2, plain2);
  if (d > 2e-6) fail_msg("after a weight change: folded and plain differ by %g", d);
  assert_true(max_rel_diff(folded2, folded) > 1e-3); /* the change mattered */
  lm_ctx_free(ctx);
}

static void test_fold_agrees(void **state) {
  (void)state;
  check_fold_agrees(true);
}

static void test_fold_agrees_no_scale(void **state) {
  (void)state;
  check_fold_agrees(false);
}

static void test_no_fold_when_shared_or_activated(void **state) {
  (void)state;
  for (int kind = 1; kind <= 2; kind++) {
    lm_ctx *ctx = tu_ctx();
    lm_model *m = bn_model(ctx, kind, true);
    lm_tensor *x = images(ctx);
    lm_tensor *a = predict(m, x, true);
    assert_int_equal(pred_graph_of(m)->plan_folds, 0);
    lm_tensor *b = predict(m, x, false);
    assert_memory_equal(lm_tensor_f32(a), lm_tensor_f32(b), sizeof(float) * (size_t)lm_tensor_size(a));
    lm_ctx_free(ctx);
  }
}

/* evaluate folds too; fit's validation pass uses it and training does not */
static void test_fold_in_evaluate_not_in_training(void **state) {
  (void)state;
  lm_ctx *ctx = tu_ctx();
  lm_model *m = bn_model(ctx, 0, true);
  lm_tensor *x = images(ctx), *y = predict(m, x, false);
  graph_of(m)->no_fold = false;
  lm_data dx = {1, &x, NULL}, dy = {1, &y, NULL};
  double logs[4];
  assert_int_equal(lm_model_train_on_batch(m, &dx, &dy, logs), LM_OK);
  assert_int_equal(graph_of(m)->plan_folds, 0);
  double loss[2];
  assert_int_equal(lm_model_evaluate(m, &dx, &dy, 4, 0, loss), LM_OK);
  assert_int_equal(graph_of(m)->plan_folds, 2);
  graph_of(m)->no_fold = true;
  graph_of(m)->planned = false;
  double loss_plain[2];
  assert_int_equal(lm_model_evaluate(m, &dx, &dy, 4, 0, loss_plain), LM_OK);
  assert_true(loss[0] > 1e-6); /* the weights moved */
  assert_true(fabs(loss[0] - loss_plain[0]) <= 1e-5 * loss_plain[0]);
  lm_ctx_free(ctx);
}

/* ---- training with reuse is bit-identical to one buffer per node ---- */

static lm_model *resnet_ish(lm_ctx *ctx) {
  lm_sym *in = lm_input(ctx, 3, (int64_t[]){H, W, C}, LM_FLOAT32, NULL);
  lm_sym *x = lm_layer_call(lm_layer_conv2d(ctx, 8, 3, 3, &(lm_conv2d_opts){.padding = "same"}), in);
  for (int b = 0; b < 2; b++) {
    lm_sym *y = lm_layer_call(
        lm_layer_conv2d(ctx, 8, 3, 3, &(lm_conv2d_opts){.padding = "same", .activation = "relu"}), x);
    y = lm_layer_call(lm_layer_batch_normalization(ctx, NULL), y);
    y = lm_layer_call(lm_layer_conv2d(ctx, 8, 3, 3, &(lm_conv2d_opts){.padding = "same"}), y);
    y = lm_layer_call(lm_layer_batch_normalization(ctx, NULL), y);
    lm_sym *xy[2] = {y, x};
    x = lm_layer_call(lm_layer_activation(ctx, "relu", NULL), lm_add(ctx, 2, xy));
  }
  x = lm_layer_call(lm_layer_max_pooling2d(ctx, 2, 2, NULL), x);
  x = lm_layer_call(lm_layer_dropout(ctx, 0.3f, NULL), x);
  x = lm_layer_call(lm_layer_global_average_pooling2d(ctx, NULL), x);
  lm_sym *y = lm_layer_call(lm_layer_dense(ctx, 4, &(lm_dense_opts){.activation = "softmax"}), x);
  lm_model *m = lm_model_new(ctx, 1, &in, 1, &y, NULL);
  const char *loss = "sparse_categorical_crossentropy", *met = "acc";
  lm_compile_opts o = {.optimizer_name = "adam", .n_losses = 1, .losses = &loss, .n_metrics = 1,
                       .metrics = &met};
  if (!m || lm_model_compile(m, &o)) fail_msg("model: %s", lm_errmsg(ctx));
  return m;
}

typedef struct counter {
  long calls;
} counter;

static void *count_alloc(void *ud, void *p, size_t osize, size_t nsize) {
  (void)osize;
  if (nsize == 0) {
    free(p);
    return NULL;
  }
  ((counter *)ud)->calls++;
  return realloc(p, nsize);
}

static void train_run(bool no_reuse, double *logs_out, float *pred_out, size_t *plan_bytes) {
  counter cnt = {0};
  lm_ctx *ctx = lm_ctx_new(count_alloc, &cnt);
  lm_ctx_set_log(ctx, NULL, NULL);
  lm_ctx_set_seed(ctx, 77);
  lm_model *m = resnet_ish(ctx);
  graph_of(m)->no_reuse = no_reuse;
  lm_tensor *x = images(ctx);
  lm_tensor *y = lm_tensor_new(ctx, LM_INT32, 1, (int64_t[]){NS});
  for (int k = 0; k < NS; k++) lm_tensor_i32(y)[k] = (k * 5) % 4;
  lm_data dx = {1, &x, NULL}, dy = {1, &y, NULL};
  double logs[4];
  for (int step = 0; step < 2; step++) assert_int_equal(lm_model_train_on_batch(m, &dx, &dy, logs), LM_OK);
  long warm = cnt.calls;
  for (int step = 0; step < 3; step++) assert_int_equal(lm_model_train_on_batch(m, &dx, &dy, logs), LM_OK);
  if (cnt.calls != warm) fail_msg("steady-state training steps allocated %ld times", cnt.calls - warm);
  *plan_bytes = graph_of(m)->plan_bytes;
  memcpy(logs_out, logs, sizeof logs);
  pred_graph_of(m)->no_reuse = no_reuse;
  lm_tensor *p = predict(m, x, false);
  memcpy(pred_out, lm_tensor_f32(p), sizeof(float) * NS * 4);
  lm_ctx_free(ctx);
}

static void test_training_bit_identical(void **state) {
  (void)state;
  double la[4], lb[4];
  float pa[NS * 4], pb[NS * 4];
  size_t ba, bb;
  train_run(false, la, pa, &ba);
  train_run(true, lb, pb, &bb);
  assert_memory_equal(la, lb, 2 * sizeof(double)); /* loss, acc */
  assert_memory_equal(pa, pb, sizeof pa);
  if (ba * 10 > bb * 7) fail_msg("reuse saves too little: %zu vs %zu bytes", ba, bb);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_chain_reuses_buffers),
      cmocka_unit_test(test_grads_same_with_reuse),
      cmocka_unit_test(test_unused_param_grad_zeroed),
      cmocka_unit_test(test_folded_pair_run_in_training),
      cmocka_unit_test(test_fold_agrees),
      cmocka_unit_test(test_fold_agrees_no_scale),
      cmocka_unit_test(test_no_fold_when_shared_or_activated),
      cmocka_unit_test(test_fold_in_evaluate_not_in_training),
      cmocka_unit_test(test_training_bit_identical),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}

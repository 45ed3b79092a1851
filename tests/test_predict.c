#define _POSIX_C_SOURCE 200809L
/* predict without compile (Keras: model.predict works on a model never
 * compiled): the model's own inference plan, bit-identical before and after
 * compile, following weight changes, for loaded uncompiled saves, in scripts,
 * and under allocation failure. fit/evaluate/train_on_batch still need
 * compile, with Keras' message. */
#include "testutil.h"

#include <math.h>
#include <string.h>
#include <unistd.h>

#include "model/model.h"
#include "train/train.h"
#include "script/script.h"

static float frand(unsigned *s) {
  *s = *s * 1664525u + 1013904223u;
  return (float)(*s >> 8) / 16777216.0f;
}

static lm_tensor *rand_tensor(lm_ctx *ctx, int ndim, const int64_t *shape, unsigned seed) {
  lm_tensor *x = lm_tensor_new(ctx, LM_FLOAT32, ndim, shape);
  assert_non_null(x);
  for (int64_t k = 0; k < lm_tensor_size(x); k++) lm_tensor_f32(x)[k] = 2.0f * frand(&seed) - 1.0f;
  return x;
}

/* Non-trivial batchnorm weights: gamma, beta, moving mean and variance. */
static void scramble_bn(lm_layer *l, unsigned seed) {
  for (int i = 0; lm_layer_weight(l, i); i++) {
    lm_tensor *t = lm_layer_weight(l, i);
    const char *nm = lm_layer_weight_name(l, i);
    float lo = -0.5f, hi = 0.5f;
    if (strstr(nm, "gamma")) lo = 0.5f, hi = 1.5f;
    if (strstr(nm, "moving_variance")) lo = 0.3f, hi = 2.5f;
    for (int64_t k = 0; k < lm_tensor_size(t); k++) lm_tensor_f32(t)[k] = lo + (hi - lo) * frand(&seed);
  }
}

static void compile_mse(lm_model *m) {
  const char *loss = "mse";
  lm_compile_opts o = {.optimizer_name = "sgd", .n_losses = 1, .losses = &loss};
  if (lm_model_compile(m, &o)) fail_msg("compile: %s", lm_errmsg(lm_model_ctx(m)));
}

/* n_out new tensors; fails the test on error */
static void predict_n(lm_model *m, int n_in, lm_tensor **x, int bs, lm_tensor **outs) {
  lm_data d = {n_in, x, NULL};
  if (lm_model_predict(m, &d, bs, outs)) fail_msg("predict: %s", lm_errmsg(lm_model_ctx(m)));
}

static void assert_same(const lm_tensor *a, const lm_tensor *b) {
  assert_int_equal(lm_tensor_ndim(a), lm_tensor_ndim(b));
  for (int i = 0; i < lm_tensor_ndim(a); i++) assert_int_equal(lm_tensor_dim(a, i), lm_tensor_dim(b, i));
  assert_memory_equal(lm_tensor_data(a), lm_tensor_data(b), 4 * (size_t)lm_tensor_size(a));
}

static bool same(const lm_tensor *a, const lm_tensor *b) {
  return lm_tensor_size(a) == lm_tensor_size(b) &&
         memcmp(lm_tensor_data(a), lm_tensor_data(b), 4 * (size_t)lm_tensor_size(a)) == 0;
}

static double spread(const lm_tensor *t) { /* max - min: the output is not constant */
  const float *v = lm_tensor_data(t);
  double lo = v[0], hi = v[0];
  for (int64_t k = 1; k < lm_tensor_size(t); k++) {
    if (v[k] < lo) lo = v[k];
    if (v[k] > hi) hi = v[k];
  }
  return hi - lo;
}

/* Predict (uncompiled) -> compile -> predict: the same bits, and the
 * uncompiled model holds no training state. batch 5 leaves a partial batch. */
static void check_compile_invariant(lm_model *m, int n_in, lm_tensor **x) {
  int n_out = lm_model_n_outputs(m);
  lm_tensor *before[4] = {0}, *after[4] = {0}, *again[4] = {0};
  assert_null(m->train);
  predict_n(m, n_in, x, 5, before);
  assert_null(m->train); /* predict compiles nothing */
  assert_non_null(m->infer);
  for (int i = 0; i < n_out; i++) assert_true(spread(before[i]) > 1e-4);
  compile_mse(m);
  predict_n(m, n_in, x, 5, after);
  for (int i = 0; i < n_out; i++) assert_same(before[i], after[i]);
  /* the compiled graph (evaluate, inference mode) computes the same outputs */
  lm_data dx = {n_in, x, NULL}, dy = {n_out, before, NULL};
  double logs[8];
  assert_int_equal(lm_model_evaluate(m, &dx, &dy, 5, 0, logs), LM_OK);
  if (!(logs[0] <= 1e-12)) fail_msg("evaluate against predict's outputs: loss %g", logs[0]);
  compile_mse(m); /* recompiling changes nothing predict sees */
  predict_n(m, n_in, x, 5, again);
  for (int i = 0; i < n_out; i++) {
    assert_same(before[i], again[i]);
    lm_tensor_free(before[i]);
    lm_tensor_free(after[i]);
    lm_tensor_free(again[i]);
  }
}

enum { NS = 12 };

static lm_model *mlp(lm_ctx *ctx) {
  lm_sym *in = lm_input(ctx, 1, (int64_t[]){6}, LM_FLOAT32, NULL);
  lm_sym *h = lm_layer_call(lm_layer_dense(ctx, 16, &(lm_dense_opts){.activation = "relu"}), in);
  h = lm_layer_call(lm_layer_dropout(ctx, 0.5f, NULL), h); /* off in predict */
  lm_sym *y = lm_layer_call(lm_layer_dense(ctx, 3, &(lm_dense_opts){.activation = "softmax"}), h);
  lm_model *m = lm_model_new(ctx, 1, &in, 1, &y, NULL);
  assert_non_null(m);
  return m;
}

static void test_mlp(void **state) {
  (void)state;
  lm_ctx *ctx = tu_ctx();
  lm_model *m = mlp(ctx);
  lm_tensor *x = rand_tensor(ctx, 2, (int64_t[]){NS, 6}, 3);
  check_compile_invariant(m, 1, &x);
  /* dropout is off: two predicts agree, and batch size does not matter much */
  lm_tensor *a = NULL, *b = NULL;
  predict_n(m, 1, &x, 32, &a);
  predict_n(m, 1, &x, 1, &b);
  for (int64_t k = 0; k < lm_tensor_size(a); k++)
    assert_float_equal(lm_tensor_f32(a)[k], lm_tensor_f32(b)[k], 1e-6);
  /* the kept plan follows the context's thread count */
  lm_ctx_set_threads(ctx, 1);
  lm_tensor *c = NULL, *d = NULL;
  predict_n(m, 1, &x, 32, &c);
  assert_int_equal(m->infer->g.threads, 1);
  lm_ctx_set_threads(ctx, 3);
  predict_n(m, 1, &x, 32, &d);
  assert_int_equal(m->infer->g.threads, 3);
  lm_ctx_free(ctx);
}

static lm_model *conv_bn(lm_ctx *ctx) {
  lm_sym *in = lm_input(ctx, 3, (int64_t[]){8, 8, 3}, LM_FLOAT32, NULL);
  lm_sym *c = lm_layer_call(lm_layer_conv2d(ctx, 6, 3, 3, &(lm_conv2d_opts){.padding = "same"}), in);
  lm_layer *bn = lm_layer_batch_normalization(ctx, &(lm_batchnorm_opts){.name = "bn"});
  lm_sym *y = lm_layer_call(bn, c);
  scramble_bn(bn, 11);
  y = lm_layer_call(lm_layer_activation(ctx, "relu", NULL), y);
  y = lm_layer_call(lm_layer_max_pooling2d(ctx, 2, 2, NULL), y);
  y = lm_layer_call(lm_layer_flatten(ctx, NULL), y);
  y = lm_layer_call(lm_layer_dense(ctx, 4, NULL), y);
  lm_model *m = lm_model_new(ctx, 1, &in, 1, &y, NULL);
  assert_non_null(m);
  return m;
}

static void test_conv_bn(void **state) {
  (void)state;
  lm_ctx *ctx = tu_ctx();
  lm_model *m = conv_bn(ctx);
  lm_tensor *x = rand_tensor(ctx, 4, (int64_t[]){NS, 8, 8, 3}, 5);
  check_compile_invariant(m, 1, &x);
  if (!m->infer->g.no_fold) assert_int_equal(m->infer->g.plan_folds, 1); /* BN folded */
  /* moving statistics, not the batch's: one sample alone gives its row of the batch */
  lm_tensor *all = NULL, *one = NULL;
  predict_n(m, 1, &x, NS, &all);
  predict_n(m, 1, &x, 1, &one);
  for (int64_t k = 0; k < lm_tensor_size(all); k++)
    assert_float_equal(lm_tensor_f32(all)[k], lm_tensor_f32(one)[k], 1e-5);
  /* the folded kernel follows the moving statistics */
  lm_tensor *var = lm_layer_weight(lm_model_get_layer(m, "bn"), 3);
  assert_non_null(var);
  lm_tensor_f32(var)[0] *= 4.0f;
  lm_tensor *changed = NULL;
  predict_n(m, 1, &x, NS, &changed);
  assert_false(same(all, changed));
  lm_tensor_f32(var)[0] /= 4.0f;
  lm_tensor *back = NULL;
  predict_n(m, 1, &x, NS, &back);
  assert_same(all, back);
  lm_ctx_free(ctx);
}

static void test_lstm(void **state) {
  (void)state;
  lm_ctx *ctx = tu_ctx();
  lm_sym *in = lm_input(ctx, 2, (int64_t[]){7, 4}, LM_FLOAT32, NULL);
  lm_sym *h = lm_layer_call(lm_layer_lstm(ctx, 5, &(lm_rnn_opts){.return_sequences = true}), in);
  h = lm_layer_call(lm_layer_lstm(ctx, 3, NULL), h);
  lm_sym *y = lm_layer_call(lm_layer_dense(ctx, 2, NULL), h);
  lm_model *m = lm_model_new(ctx, 1, &in, 1, &y, NULL);
  assert_non_null(m);
  lm_tensor *x = rand_tensor(ctx, 3, (int64_t[]){NS, 7, 4}, 9);
  check_compile_invariant(m, 1, &x);
  lm_ctx_free(ctx);
}

/* two inputs, two outputs, inputs fed by name in the other order */
static void test_multi_output(void **state) {
  (void)state;
  lm_ctx *ctx = tu_ctx();
  lm_sym *a = lm_input(ctx, 1, (int64_t[]){4}, LM_FLOAT32, "a");
  lm_sym *b = lm_input(ctx, 1, (int64_t[]){3}, LM_FLOAT32, "b");
  lm_sym *ab[2] = {a, b};
  lm_sym *h = lm_layer_call(lm_layer_dense(ctx, 8, &(lm_dense_opts){.activation = "tanh"}),
                            lm_concatenate(ctx, 2, ab, -1));
  lm_sym *outs[2] = {
      lm_layer_call(lm_layer_dense(ctx, 2, &(lm_dense_opts){.name = "o1"}), h),
      lm_layer_call(lm_layer_dense(ctx, 5, &(lm_dense_opts){.activation = "sigmoid", .name = "o2"}), h)};
  lm_model *m = lm_model_new(ctx, 2, ab, 2, outs, NULL);
  assert_non_null(m);
  lm_tensor *x[2] = {rand_tensor(ctx, 2, (int64_t[]){NS, 4}, 1), rand_tensor(ctx, 2, (int64_t[]){NS, 3}, 2)};
  check_compile_invariant(m, 2, x);
  lm_tensor *byname[2] = {x[1], x[0]}, *p[2] = {0}, *q[2] = {0};
  const char *names[2] = {"b", "a"};
  lm_data d = {2, byname, names};
  assert_int_equal(lm_model_predict(m, &d, 4, p), LM_OK);
  predict_n(m, 2, x, 4, q);
  assert_same(p[0], q[0]);
  assert_same(p[1], q[1]);
  assert_int_equal(lm_tensor_dim(p[1], 1), 5);
  lm_ctx_free(ctx);
}

/* weights changed in place, by load_weights and by training show at once */
static void test_weight_changes(void **state) {
  (void)state;
  lm_ctx *ctx = tu_ctx();
  lm_model *m = mlp(ctx);
  lm_tensor *x = rand_tensor(ctx, 2, (int64_t[]){NS, 6}, 3);
  lm_tensor *p0 = NULL, *p1 = NULL, *p2 = NULL, *p3 = NULL, *p4 = NULL;
  predict_n(m, 1, &x, 32, &p0);
  char path[] = "/tmp/lamina_predict_w_XXXXXX";
  int fd = mkstemp(path);
  assert_true(fd >= 0);
  close(fd);
  assert_int_equal(lm_model_save_weights(m, path), LM_OK);
  lm_tensor *k = lm_layer_weight(lm_model_layer(m, 1), 0); /* 0 is the InputLayer */
  assert_non_null(k);
  for (int64_t i = 0; i < lm_tensor_size(k); i++) lm_tensor_f32(k)[i] *= -0.5f;
  predict_n(m, 1, &x, 32, &p1);
  assert_false(same(p0, p1));
  assert_int_equal(lm_model_load_weights(m, path), LM_OK);
  predict_n(m, 1, &x, 32, &p2);
  assert_same(p0, p2);
  /* a training step moves the weights: the next predict sees it */
  compile_mse(m);
  lm_tensor *y = rand_tensor(ctx, 2, (int64_t[]){NS, 3}, 4);
  lm_data dx = {1, &x, NULL}, dy = {1, &y, NULL};
  assert_int_equal(lm_model_train_on_batch(m, &dx, &dy, NULL), LM_OK);
  predict_n(m, 1, &x, 32, &p3);
  assert_false(same(p0, p3));
  assert_int_equal(lm_model_load_weights(m, path), LM_OK);
  predict_n(m, 1, &x, 32, &p4);
  assert_same(p0, p4);
  unlink(path);
  lm_ctx_free(ctx);
}

/* predict with every folded kernel recomputed from the current weights */
static void predict_fresh(lm_model *m, lm_tensor *x, lm_tensor **out) {
  if (m->infer)
    for (int i = 0; i < m->infer->g.n_nodes; i++) m->infer->g.nodes[i].fold_gen = 0;
  predict_n(m, 1, &x, 4, out);
}

/* The folded conv+batchnorm kernel is cached across predicts and recomputed
 * after any write: lm_tensor_f32, load_weights, a training step. Each cached
 * predict is compared with one that refolds everything. */
static void test_fold_cache(void **state) {
  (void)state;
  lm_ctx *ctx = tu_ctx();
  lm_model *m = conv_bn(ctx);
  lm_tensor *x = rand_tensor(ctx, 4, (int64_t[]){NS, 8, 8, 3}, 5);
  lm_tensor *p0 = NULL, *p1 = NULL, *f1 = NULL, *p2 = NULL, *p3 = NULL, *f3 = NULL, *p4 = NULL,
            *f4 = NULL, *p5 = NULL, *p6 = NULL;
  predict_n(m, 1, &x, 4, &p0);
  if (m->infer->g.no_fold || m->infer->g.plan_folds != 1) {
    lm_ctx_free(ctx);
    skip(); /* LAMINA_FOLD=0 */
  }
  char path[] = "/tmp/lamina_predict_f_XXXXXX";
  int fd = mkstemp(path);
  assert_true(fd >= 0);
  close(fd);
  assert_int_equal(lm_model_save_weights(m, path), LM_OK);
  lm_tensor *k = lm_layer_weight(lm_model_layer(m, 1), 0); /* 0 is the InputLayer */
  lm_tensor *gamma = lm_layer_weight(lm_model_get_layer(m, "bn"), 0);
  assert_non_null(k);
  assert_non_null(gamma);
  /* the cache is used: a write that bypasses the version is not seen
   * (batch 4 divides the 12 samples: one plan for all predicts) */
  ((float *)k->data)[0] += 1.0f;
  predict_n(m, 1, &x, 4, &p6);
  assert_same(p0, p6);
  ((float *)k->data)[0] -= 1.0f;
  /* kernel written through lm_tensor_f32 */
  for (int64_t i = 0; i < lm_tensor_size(k); i++) lm_tensor_f32(k)[i] *= -0.5f;
  predict_n(m, 1, &x, 4, &p1);
  assert_false(same(p0, p1));
  predict_fresh(m, x, &f1);
  assert_same(p1, f1);
  /* load_weights */
  assert_int_equal(lm_model_load_weights(m, path), LM_OK);
  predict_n(m, 1, &x, 4, &p2);
  assert_same(p0, p2);
  /* a training step moves the kernel and the moving statistics */
  compile_mse(m);
  lm_tensor *y = rand_tensor(ctx, 2, (int64_t[]){NS, 4}, 4);
  lm_data dx = {1, &x, NULL}, dy = {1, &y, NULL};
  assert_int_equal(lm_model_train_on_batch(m, &dx, &dy, NULL), LM_OK);
  predict_n(m, 1, &x, 4, &p3);
  assert_false(same(p0, p3));
  predict_fresh(m, x, &f3);
  assert_same(p3, f3);
  /* a batchnorm weight alone */
  lm_tensor_f32(gamma)[1] *= 3.0f;
  predict_n(m, 1, &x, 4, &p4);
  assert_false(same(p3, p4));
  predict_fresh(m, x, &f4);
  assert_same(p4, f4);
  assert_int_equal(lm_model_load_weights(m, path), LM_OK);
  predict_n(m, 1, &x, 4, &p5);
  assert_same(p0, p5);
  unlink(path);
  lm_ctx_free(ctx);
}

/* a model saved before compile loads uncompiled and predicts the same bits */
static void test_load_uncompiled(void **state) {
  (void)state;
  lm_ctx *ctx = tu_ctx();
  lm_model *m = conv_bn(ctx);
  lm_tensor *x = rand_tensor(ctx, 4, (int64_t[]){NS, 8, 8, 3}, 5);
  lm_tensor *p0 = NULL, *p1 = NULL;
  predict_n(m, 1, &x, 5, &p0);
  char path[] = "/tmp/lamina_predict_m_XXXXXX";
  int fd = mkstemp(path);
  assert_true(fd >= 0);
  close(fd);
  assert_int_equal(lm_model_save(m, path), LM_OK);
  lm_model *l = lm_model_load(ctx, path);
  unlink(path);
  if (!l) fail_msg("load: %s", lm_errmsg(ctx));
  assert_null(l->train);
  assert_int_equal(lm_model_n_metrics(l), 0);
  predict_n(l, 1, &x, 5, &p1);
  assert_same(p0, p1);
  lm_ctx_free(ctx);
}

static void test_needs_compile(void **state) {
  (void)state;
  const char *want = "You must compile a model before training/testing. Use `model.compile(optimizer, loss)`.";
  lm_ctx *ctx = tu_ctx();
  lm_model *m = mlp(ctx);
  lm_tensor *x = rand_tensor(ctx, 2, (int64_t[]){NS, 6}, 3), *y = rand_tensor(ctx, 2, (int64_t[]){NS, 3}, 4);
  lm_data dx = {1, &x, NULL}, dy = {1, &y, NULL};
  lm_tensor *p = NULL;
  predict_n(m, 1, &x, 32, &p); /* a plan exists: still not compiled */
  lm_fit_opts fo = LM_FIT_DEFAULTS;
  fo.verbose = 0;
  assert_null(lm_model_fit(m, &dx, &dy, &fo));
  assert_int_equal(lm_errcode(ctx), LM_ERR_STATE);
  assert_string_equal(lm_errmsg(ctx), want);
  lm_clear_error(ctx);
  double out[4];
  assert_int_equal(lm_model_evaluate(m, &dx, &dy, 32, 0, out), LM_ERR_STATE);
  assert_string_equal(lm_errmsg(ctx), want);
  lm_clear_error(ctx);
  assert_int_equal(lm_model_train_on_batch(m, &dx, &dy, NULL), LM_ERR_STATE);
  assert_string_equal(lm_errmsg(ctx), want);
  lm_ctx_free(ctx);
}

/* predict_on_batch is predict with the whole input as one batch; errors
 * (wrong shape) are predict's */
static void test_predict_on_batch(void **state) {
  (void)state;
  lm_ctx *ctx = tu_ctx();
  lm_model *m = conv_bn(ctx);
  lm_tensor *x = rand_tensor(ctx, 4, (int64_t[]){NS, 8, 8, 3}, 5);
  lm_tensor *a = NULL, *b = NULL;
  predict_n(m, 1, &x, NS, &a);
  lm_data d = {1, &x, NULL};
  assert_int_equal(lm_model_predict_on_batch(m, &d, &b), LM_OK);
  assert_same(a, b);
  lm_tensor *bad = rand_tensor(ctx, 4, (int64_t[]){2, 8, 7, 3}, 5);
  lm_data db = {1, &bad, NULL};
  lm_tensor *c = (lm_tensor *)&c;
  assert_int_equal(lm_model_predict_on_batch(m, &db, &c), LM_ERR_SHAPE);
  assert_null(c);
  assert_non_null(strstr(lm_errmsg(ctx), "expected input_"));
  lm_ctx_free(ctx);
}

/* Sequential.add after a predict: the next predict plans the new network */
static void test_sequential_grows(void **state) {
  (void)state;
  lm_ctx *ctx = tu_ctx();
  lm_model *m = lm_sequential_new(ctx, NULL);
  lm_layer *d1 = lm_layer_dense(ctx, 4, NULL);
  lm_layer_set_input_shape(d1, 1, (int64_t[]){3}, LM_FLOAT32);
  assert_int_equal(lm_sequential_add(m, d1), LM_OK);
  lm_tensor *x = rand_tensor(ctx, 2, (int64_t[]){NS, 3}, 8), *p = NULL, *q = NULL;
  predict_n(m, 1, &x, 32, &p);
  assert_int_equal(lm_tensor_dim(p, 1), 4);
  assert_int_equal(lm_sequential_add(m, lm_layer_dense(ctx, 2, NULL)), LM_OK);
  assert_null(m->infer);
  predict_n(m, 1, &x, 32, &q);
  assert_int_equal(lm_tensor_dim(q, 1), 2);
  /* an empty Sequential has nothing to predict */
  lm_model *e = lm_sequential_new(ctx, NULL);
  lm_tensor *r = NULL;
  lm_data d = {1, &x, NULL};
  assert_int_equal(lm_model_predict(e, &d, 32, &r), LM_ERR_STATE);
  lm_ctx_free(ctx);
}

/* The plan is the liveness-planned one: deeper than wide, so buffers are
 * reused, and no gradient or training buffer exists. */
static void test_plan_memory(void **state) {
  (void)state;
  lm_ctx *ctx = tu_ctx();
  lm_sym *in = lm_input(ctx, 1, (int64_t[]){64}, LM_FLOAT32, NULL);
  lm_sym *h = in;
  for (int i = 0; i < 8; i++)
    h = lm_layer_call(lm_layer_dense(ctx, 64, &(lm_dense_opts){.activation = "relu"}), h);
  lm_model *m = lm_model_new(ctx, 1, &in, 1, &h, NULL);
  lm_tensor *x = rand_tensor(ctx, 2, (int64_t[]){256, 64}, 1), *p = NULL;
  predict_n(m, 1, &x, 256, &p);
  const lmg_graph *g = &m->infer->g;
  /* values only: 9 of 256 x 64 floats without reuse; a few with it */
  size_t act = 256 * 64 * sizeof(float);
  assert_true(g->plan_naive_bytes >= 9 * act);
  if (g->plan_bytes > 4 * act) fail_msg("plan takes %zu bytes, want at most %zu", g->plan_bytes, 4 * act);
  for (int i = 0; i < g->n_nodes; i++) assert_null(g->nodes[i].grad);
  assert_null(m->train);
  lm_ctx_free(ctx);
}

/* A compiled model that only predicts holds no training buffers: the
 * training graph is never planned and the optimizer's moments come with the
 * first step. */
static void test_compiled_holds_no_training_buffers(void **state) {
  (void)state;
  lm_ctx *ctx = tu_ctx();
  lm_model *m = conv_bn(ctx);
  const char *loss = "mse";
  lm_compile_opts co = {.optimizer_name = "adam", .n_losses = 1, .losses = &loss};
  assert_int_equal(lm_model_compile(m, &co), LM_OK);
  lm_tensor *x = rand_tensor(ctx, 4, (int64_t[]){NS, 8, 8, 3}, 5), *p = NULL;
  predict_n(m, 1, &x, 4, &p);
  const lm_optimizer *opt = m->train->opt;
  assert_true(opt->n_params > 0);
  for (int i = 0; i < 3 * opt->n_params; i++) assert_null(opt->slots[i]);
  assert_null(m->train->g.slab);
  assert_non_null(m->infer->g.slab);
  lm_data dx = {1, &x, NULL}, dy = {1, &p, NULL};
  assert_int_equal(lm_model_train_on_batch(m, &dx, &dy, NULL), LM_OK);
  for (int i = 0; i < opt->n_params; i++) { /* Adam: m and v */
    assert_non_null(opt->slots[3 * i]);
    assert_non_null(opt->slots[3 * i + 1]);
  }
  assert_non_null(m->train->g.slab);
  lm_ctx_free(ctx);
}

/* Fail the n-th allocation of build + predict (uncompiled) + compile + predict,
 * for every n: an error (out of memory), never a crash or a leak. */
static int build_and_predict(lm_ctx *ctx, void *arg) {
  (void)arg;
  lm_sym *in = lm_input(ctx, 3, (int64_t[]){6, 6, 2}, LM_FLOAT32, NULL);
  lm_sym *c = lm_layer_call(lm_layer_conv2d(ctx, 3, 3, 3, NULL), in);
  lm_sym *y = lm_layer_call(lm_layer_batch_normalization(ctx, NULL), c);
  y = lm_layer_call(lm_layer_flatten(ctx, NULL), y);
  lm_sym *o2[2] = {lm_layer_call(lm_layer_dense(ctx, 2, NULL), y),
                   lm_layer_call(lm_layer_dense(ctx, 3, &(lm_dense_opts){.activation = "softmax"}), y)};
  lm_model *m = lm_model_new(ctx, 1, &in, 2, o2, NULL);
  if (!m) return 0;
  lm_tensor *x = lm_tensor_new(ctx, LM_FLOAT32, 4, (int64_t[]){5, 6, 6, 2});
  if (!x) return 0;
  lm_data dx = {1, &x, NULL};
  lm_tensor *p[2] = {0}, *q[2] = {0};
  if (lm_model_predict(m, &dx, 2, p)) {
    assert_null(p[0]);
    assert_null(p[1]);
    return 0;
  }
  const char *loss = "mse";
  lm_compile_opts co = {.optimizer_name = "sgd", .n_losses = 1, .losses = &loss};
  if (lm_model_compile(m, &co)) return 0;
  int ok = lm_model_predict(m, &dx, 4, q) == LM_OK;
  if (ok) {
    assert_memory_equal(lm_tensor_data(p[0]), lm_tensor_data(q[0]), 4 * 10);
    assert_memory_equal(lm_tensor_data(p[1]), lm_tensor_data(q[1]), 4 * 15);
  }
  lm_tensor_free(p[0]);
  lm_tensor_free(p[1]);
  lm_tensor_free(q[0]);
  lm_tensor_free(q[1]);
  return ok;
}

static void test_alloc_sweep(void **state) {
  (void)state;
  const long n = tu_alloc_sweep(build_and_predict, NULL);
  print_message("predict allocation sweep: %ld failure points checked\n", n);
}

/* model.predict(x) in a script, before and after compile */
static void test_script_predict(void **state) {
  (void)state;
  const char *src =
      "from keras import layers, models\n"
      "import numpy as np\n"
      "m = models.Sequential()\n"
      "m.add(layers.Dense(5, activation='relu', input_shape=(3,)))\n"
      "m.add(layers.BatchNormalization())\n"
      "m.add(layers.Dense(2))\n"
      "x = np.arange(24).reshape((8, 3)) / 10.0\n"
      "p = m.predict(x)\n"
      "print(p.shape)\n"
      "m.compile('sgd', 'mse')\n"
      "q = m.predict(x, batch_size=3)\n"
      "d = p - q\n"
      "print((d * d).sum())\n"
      "r = m.predict_on_batch(x)\n"
      "d = p - r\n"
      "print(r.shape, (d * d).sum())\n";
  tu_capture out = {0}, err = {0};
  lm_ctx *ctx = tu_ctx();
  lms_opts o = {.mode = LMS_MODE_RUN, .out = tu_capture_fn, .out_ud = &out, .err = tu_capture_fn, .err_ud = &err};
  int status = lms_run_source(ctx, "t.py", src, strlen(src), &o);
  lm_ctx_free(ctx);
  if (status != 0) fail_msg("script failed (%d): %s", status, err.text ? err.text : "");
  assert_string_equal(out.text, "(8, 2)\n0.0\n(8, 2) 0.0\n");
  free(out.text);
  free(err.text);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_mlp),
      cmocka_unit_test(test_conv_bn),
      cmocka_unit_test(test_lstm),
      cmocka_unit_test(test_multi_output),
      cmocka_unit_test(test_weight_changes),
      cmocka_unit_test(test_fold_cache),
      cmocka_unit_test(test_load_uncompiled),
      cmocka_unit_test(test_needs_compile),
      cmocka_unit_test(test_predict_on_batch),
      cmocka_unit_test(test_sequential_grows),
      cmocka_unit_test(test_plan_memory),
      cmocka_unit_test(test_compiled_holds_no_training_buffers),
      cmocka_unit_test(test_alloc_sweep),
      cmocka_unit_test(test_script_predict),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}

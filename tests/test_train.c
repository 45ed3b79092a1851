/* compile / fit / evaluate / predict: optimizer steps against hand-computed
 * values, Keras log keys, loss weights, data errors, learning. */
#include <math.h>
#include <string.h>

#include "testutil.h"
#include "train/fit.h"

/* Dense(1, linear, no bias) with kernel [0.5, -0.5]; x = [1, 2], y = 1:
 * pred = -0.5, mse = 2.25, dL/dW = 2 (pred - y) x = [-3, -6]. */
static lm_model *one_weight_model(lm_ctx *ctx, lm_optimizer *opt) {
  int64_t s[1] = {2};
  lm_sym *x = lm_input(ctx, 1, s, LM_FLOAT32, NULL);
  lm_layer *d = lm_layer_dense(ctx, 1, &(lm_dense_opts){.no_bias = true});
  lm_sym *y = lm_layer_call(d, x);
  lm_model *m = lm_model_new(ctx, 1, &x, 1, &y, NULL);
  float *w = lm_tensor_f32(lm_layer_weight(d, 0));
  w[0] = 0.5f;
  w[1] = -0.5f;
  const char *loss = "mse";
  lm_compile_opts co = {.optimizer = opt, .n_losses = 1, .losses = &loss};
  assert_int_equal(lm_model_compile(m, &co), LM_OK);
  return m;
}

static void step_and_check(lm_ctx *ctx, lm_optimizer *opt, int steps, float w0, float w1) {
  lm_model *m = one_weight_model(ctx, opt);
  int64_t xs[2] = {1, 2}, ys[2] = {1, 1};
  float xv[2] = {1, 2}, yv[1] = {1};
  lm_tensor *x = lm_tensor_from(ctx, LM_FLOAT32, 2, xs, xv);
  lm_tensor *y = lm_tensor_from(ctx, LM_FLOAT32, 2, ys, yv);
  lm_data dx = {1, &x, NULL}, dy = {1, &y, NULL};
  double logs[1];
  for (int i = 0; i < steps; i++) assert_int_equal(lm_model_train_on_batch(m, &dx, &dy, logs), LM_OK);
  if (steps == 1) assert_true(fabs(logs[0] - 2.25) < 1e-6);
  float *w = lm_tensor_f32(lm_layer_weight(lm_model_layer(m, 1), 0));
  if (fabsf(w[0] - w0) > 1e-5f || fabsf(w[1] - w1) > 1e-5f)
    fprintf(stderr, "got [%.7f, %.7f], want [%.7f, %.7f]\n", w[0], w[1], w0, w1);
  assert_true(fabsf(w[0] - w0) <= 1e-5f);
  assert_true(fabsf(w[1] - w1) <= 1e-5f);
  lm_model_free(m);
}

static void test_optimizer_steps(void **state) {
  lm_ctx *ctx = tu_ctx();
  /* SGD: w -= 0.1 g */
  step_and_check(ctx, lm_optimizer_sgd(ctx, &(lm_optimizer_opts){.lr = 0.1f}), 1, 0.8f, 0.1f);
  /* SGD default lr 0.01 */
  step_and_check(ctx, lm_optimizer_by_name(ctx, "SGD"), 1, 0.53f, -0.44f);
  /* clipnorm 1: g scaled by 1/|g| = 1/sqrt(45) */
  step_and_check(ctx, lm_optimizer_sgd(ctx, &(lm_optimizer_opts){.lr = 0.1f, .clipnorm = 1}), 1,
                 0.5f + 0.1f * 3 / sqrtf(45), -0.5f + 0.1f * 6 / sqrtf(45));
  /* clipvalue 1: g = [-1, -1] */
  step_and_check(ctx, lm_optimizer_sgd(ctx, &(lm_optimizer_opts){.lr = 0.1f, .clipvalue = 1}), 1,
                 0.6f, -0.4f);
  /* nesterov: v = -lr g = [0.3, 0.6]; w += 0.9 v - lr g = [0.57, 1.14] */
  step_and_check(ctx,
                 lm_optimizer_sgd(ctx, &(lm_optimizer_opts){.lr = 0.1f, .momentum = 0.9f, .nesterov = true}),
                 1, 1.07f, 0.64f);
  /* momentum, two steps. step 1: v = [0.3, 0.6], w = [0.8, 0.1];
   * step 2: pred = 0.8 + 0.2 = 1.0 -> g = 0, v = 0.9 v, w = [1.07, 0.64] */
  step_and_check(ctx, lm_optimizer_sgd(ctx, &(lm_optimizer_opts){.lr = 0.1f, .momentum = 0.9f}), 2,
                 1.07f, 0.64f);
  /* RMSprop: a = 0.1 g^2; w -= 0.001 g / (sqrt(a) + 1e-7) = +0.001 * sqrt(10) / ... */
  float r = 0.001f * 3.0f / (sqrtf(0.9f) + 1e-7f);
  step_and_check(ctx, lm_optimizer_by_name(ctx, "rmsprop"), 1, 0.5f + r, -0.5f + r);
  /* Adam: lr_t = 0.001 sqrt(1 - 0.999) / (1 - 0.9); m = 0.1 g; v = 0.001 g^2 */
  double lr_t = 0.001 * sqrt(0.001) / 0.1;
  float a0 = (float)(lr_t * 0.3 / (sqrt(0.009) + 1e-7)), a1 = (float)(lr_t * 0.6 / (sqrt(0.036) + 1e-7));
  step_and_check(ctx, lm_optimizer_by_name(ctx, "adam"), 1, 0.5f + a0, -0.5f + a1);
  /* decay: lr / (1 + decay * iterations); first step uses iterations = 0 */
  step_and_check(ctx, lm_optimizer_sgd(ctx, &(lm_optimizer_opts){.lr = 0.1f, .decay = 1.0f}), 1, 0.8f, 0.1f);
  assert_null(lm_optimizer_by_name(ctx, "adagrad"));
  assert_non_null(strstr(lm_errmsg(ctx), "adagrad"));
  lm_ctx_free(ctx);
}

/* Two Gaussian blobs in 4-D; label 1 when the sum is positive. */
static void blobs(lm_ctx *ctx, int n, lm_tensor **x, lm_tensor **y, lm_tensor **y_onehot) {
  int64_t xs[2] = {n, 4}, ys[2] = {n, 1}, os[2] = {n, 2};
  *x = lm_tensor_new(ctx, LM_FLOAT32, 2, xs);
  *y = lm_tensor_new(ctx, LM_FLOAT32, 2, ys);
  *y_onehot = lm_tensor_new(ctx, LM_FLOAT32, 2, os);
  uint64_t s = 12345;
  for (int i = 0; i < n; i++) {
    float sum = 0;
    for (int k = 0; k < 4; k++) {
      s = s * 6364136223846793005ULL + 1442695040888963407ULL;
      float v = (float)((double)(s >> 11) / 9007199254740992.0) * 2 - 1;
      lm_tensor_f32(*x)[i * 4 + k] = v;
      sum += v;
    }
    int label = sum > 0;
    lm_tensor_f32(*y)[i] = (float)label;
    lm_tensor_f32(*y_onehot)[i * 2 + label] = 1;
  }
}

static void test_fit_single_output_keys_and_learning(void **state) {
  lm_ctx *ctx = tu_ctx();
  lm_tensor *x, *y, *y2;
  blobs(ctx, 400, &x, &y, &y2);
  int64_t s[1] = {4};
  lm_sym *in = lm_input(ctx, 1, s, LM_FLOAT32, NULL);
  lm_sym *h = lm_layer_call(lm_layer_dense(ctx, 16, &(lm_dense_opts){.activation = "tanh"}), in);
  lm_sym *out = lm_layer_call(lm_layer_dense(ctx, 1, &(lm_dense_opts){.activation = "sigmoid"}), h);
  lm_model *m = lm_model_new(ctx, 1, &in, 1, &out, NULL);
  const char *loss = "binary_crossentropy", *met = "accuracy";
  lm_compile_opts co = {.optimizer_name = "adam", .n_losses = 1, .losses = &loss, .n_metrics = 1, .metrics = &met};
  assert_int_equal(lm_model_compile(m, &co), LM_OK);
  assert_int_equal(lm_model_n_metrics(m), 2);
  assert_string_equal(lm_model_metric_name(m, 1), "acc");
  lm_fit_opts fo = LM_FIT_DEFAULTS;
  fo.epochs = 30;
  fo.verbose = 0;
  fo.validation_split = 0.25f;
  lm_data dx = {1, &x, NULL}, dy = {1, &y, NULL};
  lm_history *hist = lm_model_fit(m, &dx, &dy, &fo);
  assert_non_null(hist);
  assert_int_equal(lm_history_n_epochs(hist), 30);
  const char *keys[] = {"loss", "acc", "val_loss", "val_acc"};
  assert_int_equal(lm_history_n_keys(hist), 4);
  for (int i = 0; i < 4; i++) assert_string_equal(lm_history_key(hist, i), keys[i]);
  const double *loss_h = lm_history_get(hist, "loss"), *val_acc = lm_history_get(hist, "val_acc");
  assert_true(loss_h[29] < loss_h[0]);
  assert_true(val_acc[29] > 0.9);
  /* validation_split is the last 25%: evaluate on it reproduces val_loss */
  int64_t vs[2] = {100, 4}, vys[2] = {100, 1};
  lm_tensor *vx = lm_tensor_from(ctx, LM_FLOAT32, 2, vs, lm_tensor_f32(x) + 300 * 4);
  lm_tensor *vy = lm_tensor_from(ctx, LM_FLOAT32, 2, vys, lm_tensor_f32(y) + 300);
  lm_data dvx = {1, &vx, NULL}, dvy = {1, &vy, NULL};
  double ev[2];
  assert_int_equal(lm_model_evaluate(m, &dvx, &dvy, 32, 0, ev), LM_OK);
  assert_true(fabs(ev[0] - lm_history_get(hist, "val_loss")[29]) < 1e-6);
  assert_true(fabs(ev[1] - val_acc[29]) < 1e-9);
  /* predict agrees with the loss evaluate reports */
  lm_tensor *pred = NULL;
  assert_int_equal(lm_model_predict(m, &dvx, 7, &pred), LM_OK);
  assert_int_equal(lm_tensor_dim(pred, 0), 100);
  double bce = 0;
  for (int i = 0; i < 100; i++) {
    double p = fmin(fmax(lm_tensor_f32(pred)[i], 1e-7), 1 - 1e-7), t = lm_tensor_f32(vy)[i];
    bce -= t * log(p) + (1 - t) * log(1 - p);
  }
  assert_true(fabs(bce / 100 - ev[0]) < 1e-4);
  lm_ctx_free(ctx);
}

static void test_multi_output_keys_and_weights(void **state) {
  lm_ctx *ctx = tu_ctx();
  lm_tensor *x, *y, *y2;
  blobs(ctx, 64, &x, &y, &y2);
  int64_t s[1] = {4};
  lm_sym *in = lm_input(ctx, 1, s, LM_FLOAT32, "features");
  lm_sym *h = lm_layer_call(lm_layer_dense(ctx, 8, &(lm_dense_opts){.activation = "relu"}), in);
  lm_sym *outs[2] = {
      lm_layer_call(lm_layer_dense(ctx, 1, &(lm_dense_opts){.activation = "sigmoid", .name = "flag"}), h),
      lm_layer_call(lm_layer_dense(ctx, 2, &(lm_dense_opts){.activation = "softmax", .name = "kind"}), h)};
  lm_model *m = lm_model_new(ctx, 1, &in, 2, outs, NULL);
  const char *losses[] = {"binary_crossentropy", "categorical_crossentropy"}, *met = "acc";
  float w[] = {0.25f, 10.0f};
  lm_compile_opts co = {.n_losses = 2, .losses = losses, .n_loss_weights = 2, .loss_weights = w,
                        .n_metrics = 1, .metrics = &met};
  assert_int_equal(lm_model_compile(m, &co), LM_OK);
  const char *keys[] = {"loss", "flag_loss", "kind_loss", "flag_acc", "kind_acc"};
  assert_int_equal(lm_model_n_metrics(m), 5);
  for (int i = 0; i < 5; i++) assert_string_equal(lm_model_metric_name(m, i), keys[i]);
  /* targets by name, in any order */
  lm_tensor *ys[2] = {y2, y};
  const char *names[2] = {"kind", "flag"};
  lm_data dx = {1, &x, NULL}, dy = {2, ys, names};
  double ev[5];
  assert_int_equal(lm_model_evaluate(m, &dx, &dy, 16, 0, ev), LM_OK);
  assert_true(fabs(ev[0] - (0.25 * ev[1] + 10.0 * ev[2])) < 1e-4);
  lm_fit_opts fo = LM_FIT_DEFAULTS;
  fo.verbose = 0;
  fo.epochs = 2;
  fo.val_x = &dx;
  fo.val_y = &dy;
  lm_history *hist = lm_model_fit(m, &dx, &dy, &fo);
  assert_non_null(hist);
  assert_non_null(lm_history_get(hist, "val_kind_acc"));
  assert_non_null(lm_history_get(hist, "val_flag_loss"));
  /* loss weights by name: missing names default to 1 */
  const char *lw_names[] = {"kind"};
  float lw[] = {2.0f};
  co.n_loss_weights = 1;
  co.loss_weights = lw;
  co.loss_weight_outputs = lw_names;
  assert_int_equal(lm_model_compile(m, &co), LM_OK);
  assert_int_equal(lm_model_evaluate(m, &dx, &dy, 16, 0, ev), LM_OK);
  assert_true(fabs(ev[0] - (ev[1] + 2.0 * ev[2])) < 1e-4);
  /* errors: list lengths */
  co.loss_weight_outputs = NULL;
  assert_int_not_equal(lm_model_compile(m, &co), LM_OK);
  assert_non_null(strstr(lm_errmsg(ctx), "loss_weights"));
  co.n_loss_weights = 0;
  const char *bad[] = {"nope"}, *bad_out[] = {"flag"};
  co.n_losses = 1;
  co.losses = bad;
  co.loss_outputs = bad_out;
  assert_int_not_equal(lm_model_compile(m, &co), LM_OK);
  assert_non_null(strstr(lm_errmsg(ctx), "nope"));
  co.losses = losses;
  const char *unknown_out[] = {"color"};
  co.loss_outputs = unknown_out;
  assert_int_not_equal(lm_model_compile(m, &co), LM_OK);
  assert_non_null(strstr(lm_errmsg(ctx), "Unknown entry in loss dictionary: \"color\""));
  lm_ctx_free(ctx);
}

static void test_data_errors(void **state) {
  lm_ctx *ctx = tu_ctx();
  int64_t s[1] = {3};
  lm_sym *in = lm_input(ctx, 1, s, LM_FLOAT32, "pixels");
  lm_sym *out = lm_layer_call(lm_layer_dense(ctx, 4, &(lm_dense_opts){.activation = "softmax", .name = "cls"}), in);
  lm_model *m = lm_model_new(ctx, 1, &in, 1, &out, NULL);
  lm_fit_opts fo = LM_FIT_DEFAULTS;
  fo.verbose = 0;
  int64_t xs[2] = {5, 3}, bad[2] = {5, 2}, ls[1] = {5}, ys[2] = {4, 1};
  lm_tensor *x = lm_tensor_new(ctx, LM_FLOAT32, 2, xs), *xb = lm_tensor_new(ctx, LM_FLOAT32, 2, bad);
  lm_tensor *labels = lm_tensor_new(ctx, LM_FLOAT32, 1, ls), *y4 = lm_tensor_new(ctx, LM_FLOAT32, 2, ys);
  lm_data dx = {1, &x, NULL}, dxb = {1, &xb, NULL}, dl = {1, &labels, NULL}, dy4 = {1, &y4, NULL};
  /* fit before compile */
  assert_null(lm_model_fit(m, &dx, &dl, &fo));
  assert_non_null(strstr(lm_errmsg(ctx), "compile"));
  const char *loss = "sparse_categorical_crossentropy";
  lm_compile_opts co = {.n_losses = 1, .losses = &loss};
  assert_int_equal(lm_model_compile(m, &co), LM_OK);
  /* wrong shape names the input and both shapes */
  assert_null(lm_model_fit(m, &dxb, &dl, &fo));
  assert_string_equal(lm_errmsg(ctx), "Error when checking input: expected pixels to have shape (3,) but got array with shape (2,)");
  /* wrong number of arrays */
  lm_tensor *two[2] = {x, x};
  lm_data d2 = {2, two, NULL};
  assert_null(lm_model_fit(m, &d2, &dl, &fo));
  assert_non_null(strstr(lm_errmsg(ctx), "Expected to see 1 array(s), but instead got 2"));
  /* unknown name */
  const char *nm[1] = {"image"};
  lm_data dn = {1, &x, nm};
  assert_null(lm_model_fit(m, &dn, &dl, &fo));
  assert_non_null(strstr(lm_errmsg(ctx), "\"image\""));
  /* sample counts differ */
  assert_null(lm_model_fit(m, &dx, &dy4, &fo));
  assert_non_null(strstr(lm_errmsg(ctx), "Found 5 input samples and 4 target samples"));
  /* NaN in inputs names the sample */
  lm_tensor_f32(x)[2 * 3 + 1] = NAN;
  assert_null(lm_model_fit(m, &dx, &dl, &fo));
  assert_string_equal(lm_errmsg(ctx), "Error when checking input: array for pixels contains NaN at sample 2");
  lm_tensor_f32(x)[2 * 3 + 1] = INFINITY;
  assert_null(lm_model_fit(m, &dx, &dl, &fo));
  assert_non_null(strstr(lm_errmsg(ctx), "Inf at sample 2"));
  lm_tensor_f32(x)[2 * 3 + 1] = 0;
  /* label out of range names the sample */
  lm_tensor_f32(labels)[3] = 4;
  assert_null(lm_model_fit(m, &dx, &dl, &fo));
  assert_non_null(strstr(lm_errmsg(ctx), "label 4 at sample 3 is out of range [0, 4)"));
  lm_tensor_f32(labels)[3] = 1;
  lm_history *h = lm_model_fit(m, &dx, &dl, &fo);
  assert_non_null(h);
  /* categorical_crossentropy with integer targets: Keras' advice */
  loss = "categorical_crossentropy";
  assert_int_equal(lm_model_compile(m, &co), LM_OK);
  assert_null(lm_model_fit(m, &dx, &dl, &fo));
  assert_non_null(strstr(lm_errmsg(ctx), "to_categorical"));
  lm_ctx_free(ctx);
}

static void test_progress_output(void **state) {
  lm_ctx *ctx = tu_ctx();
  tu_capture cap = {0};
  lm_ctx_set_log(ctx, tu_capture_fn, &cap);
  lm_tensor *x, *y, *y2;
  blobs(ctx, 40, &x, &y, &y2);
  int64_t s[1] = {4};
  lm_sym *in = lm_input(ctx, 1, s, LM_FLOAT32, NULL);
  lm_sym *out = lm_layer_call(lm_layer_dense(ctx, 1, &(lm_dense_opts){.activation = "sigmoid"}), in);
  lm_model *m = lm_model_new(ctx, 1, &in, 1, &out, NULL);
  const char *loss = "binary_crossentropy", *met = "acc";
  lm_compile_opts co = {.n_losses = 1, .losses = &loss, .n_metrics = 1, .metrics = &met};
  assert_int_equal(lm_model_compile(m, &co), LM_OK);
  lm_fit_opts fo = LM_FIT_DEFAULTS;
  fo.epochs = 2;
  fo.validation_split = 0.25f;
  lm_data dx = {1, &x, NULL}, dy = {1, &y, NULL};
  assert_non_null(lm_model_fit(m, &dx, &dy, &fo));
  /* not a terminal: one final line per epoch */
  assert_true(strncmp(cap.text, "Train on 30 samples, validate on 10 samples\nEpoch 1/2\n30/30 [==============================] - ", 90) == 0);
  assert_non_null(strstr(cap.text, "us/step - loss: "));
  assert_non_null(strstr(cap.text, " - acc: "));
  assert_non_null(strstr(cap.text, " - val_loss: "));
  assert_non_null(strstr(cap.text, "\nEpoch 2/2\n30/30 ["));
  int lines = 0;
  for (const char *p = cap.text; *p; p++) lines += *p == '\n';
  assert_int_equal(lines, 5);
  /* verbose 0 prints nothing */
  tu_capture_reset(&cap);
  fo.verbose = 0;
  assert_non_null(lm_model_fit(m, &dx, &dy, &fo));
  assert_null(cap.text);
  tu_capture_reset(&cap);
  lm_ctx_free(ctx);
}

/* A learning rate that blows up: fit stops with a message naming the epoch
 * and batch, and the weights stay finite. */
static void test_nan_loss_stops_training(void **state) {
  lm_ctx *ctx = tu_ctx();
  lm_tensor *x, *y, *y2;
  blobs(ctx, 64, &x, &y, &y2);
  for (int i = 0; i < 64 * 4; i++) lm_tensor_f32(x)[i] *= 1e3f;
  int64_t s[1] = {4};
  lm_sym *in = lm_input(ctx, 1, s, LM_FLOAT32, NULL);
  lm_layer *d = lm_layer_dense(ctx, 1, NULL);
  lm_sym *out = lm_layer_call(d, in);
  lm_model *m = lm_model_new(ctx, 1, &in, 1, &out, NULL);
  const char *loss = "mse";
  lm_compile_opts co = {.optimizer = lm_optimizer_sgd(ctx, &(lm_optimizer_opts){.lr = 10.0f}),
                        .n_losses = 1, .losses = &loss};
  assert_int_equal(lm_model_compile(m, &co), LM_OK);
  lm_fit_opts fo = LM_FIT_DEFAULTS;
  fo.verbose = 0;
  fo.epochs = 50;
  lm_data dx = {1, &x, NULL}, dy = {1, &y, NULL};
  assert_null(lm_model_fit(m, &dx, &dy, &fo));
  assert_int_equal(lm_errcode(ctx), LM_ERR_VALUE);
  assert_non_null(strstr(lm_errmsg(ctx), "Epoch "));
  assert_non_null(strstr(lm_errmsg(ctx), "batch "));
  assert_non_null(strstr(lm_errmsg(ctx), "the loss is"));
  const float *w = lm_tensor_f32(lm_layer_weight(d, 0));
  for (int i = 0; i < 4; i++) assert_true(isfinite(w[i]));
  lm_ctx_free(ctx);
}

/* The terminal bar: redrawn in place, throttled, Keras' widths and ETA. */
static void test_progbar_terminal(void **state) {
  lm_ctx *ctx = tu_ctx();
  tu_capture cap = {0};
  lm_ctx_set_log(ctx, tu_capture_fn, &cap);
  lmt_progbar bar;
  lmt_progbar_init(&bar, ctx, 100, 1);
  bar.dynamic = true;
  char *keys[1] = {"loss"};
  double v = 0.5;
  lmt_progbar_add(&bar, 32, 1, keys, &v, NULL);
  lmt_progbar_show(&bar, 32);
  assert_string_equal(cap.text, "\r 32/100 [========>.....................] - ETA: 0s - loss: 0.5000");
  v = 0.25;
  lmt_progbar_add(&bar, 64, 1, keys, &v, NULL);
  lmt_progbar_show(&bar, 64); /* within 50 ms: not drawn */
  assert_int_equal(strlen(cap.text), strlen("\r 32/100 [========>.....................] - ETA: 0s - loss: 0.5000"));
  v = 1e-4;
  lmt_progbar_add(&bar, 100, 1, keys, &v, NULL);
  lmt_progbar_show(&bar, 100);
  const char *final = strstr(cap.text, "\r100/100 [==============================] - 0s ");
  assert_non_null(final);
  /* running mean (0.5*32 + 0.25*32 + 1e-4*36) / 100 */
  assert_non_null(strstr(final, "us/step - loss: 0.2400\n"));
  const char *bs = strchr(cap.text, '\b');
  assert_non_null(bs); /* the previous bar is erased first */
  tu_capture_reset(&cap);
  lm_ctx_free(ctx);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_optimizer_steps),
      cmocka_unit_test(test_fit_single_output_keys_and_learning),
      cmocka_unit_test(test_multi_output_keys_and_weights),
      cmocka_unit_test(test_data_errors),
      cmocka_unit_test(test_progress_output),
      cmocka_unit_test(test_nan_loss_stops_training),
      cmocka_unit_test(test_progbar_terminal),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}

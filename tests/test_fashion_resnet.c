/* A small residual network with BatchNormalization (Conv-BN-ReLU, a residual
 * block with an Add skip, GlobalAveragePooling2D, Dense softmax) learns on
 * real Fashion-MNIST (skipped without ../shared/data/fashion-mnist): after
 * three epochs on 1,500 images its test accuracy, computed with the BN moving
 * statistics (inference mode), is far above chance (0.1) and close to its
 * training accuracy (batch statistics), so the moving statistics are right.
 * The full-size network: examples/fashion_resnet.c. */
#include <stdio.h>
#include <string.h>

#include "testutil.h"

/* First n images of an IDX file / 255 as (n, 28, 28, 1), or labels as (n,). */
static lm_tensor *load(lm_ctx *ctx, const char *file, int64_t n, bool images) {
  char rel[256];
  snprintf(rel, sizeof rel, "data/fashion-mnist/%s", file);
  const char *path = tu_shared(rel);
  assert_non_null(path);
  lm_tensor *t = lm_tensor_load_idx(ctx, path, n);
  assert_non_null(t);
  if (!images) return t;
  int64_t shape[4] = {n, 28, 28, 1};
  lm_tensor *x = lm_tensor_new(ctx, LM_FLOAT32, 4, shape);
  assert_non_null(x);
  for (int64_t i = 0; i < lm_tensor_size(x); i++) lm_tensor_f32(x)[i] = lm_tensor_f32(t)[i] / 255.0f;
  lm_tensor_free(t);
  return x;
}

static bool have_data(void) {
  if (tu_shared("data/fashion-mnist/train-images-idx3-ubyte.gz") &&
      tu_shared("data/fashion-mnist/t10k-labels-idx1-ubyte.gz"))
    return true;
  print_message("skipped: no ../shared/data/fashion-mnist\n");
  return false;
}

/* Fits (x, y) and returns the accuracy that evaluate() gives on the test set. */
static double fit_and_test(lm_ctx *ctx, lm_model *m, int64_t n_train, int64_t n_test,
                           int epochs, int batch_size, double *train_acc) {
  const char *loss = "sparse_categorical_crossentropy", *met = "acc";
  lm_compile_opts co = {.optimizer_name = "adam", .n_losses = 1, .losses = &loss,
                        .n_metrics = 1, .metrics = &met};
  assert_non_null(m);
  assert_int_equal(lm_model_compile(m, &co), LM_OK);
  lm_tensor *x = load(ctx, "train-images-idx3-ubyte.gz", n_train, true);
  lm_tensor *y = load(ctx, "train-labels-idx1-ubyte.gz", n_train, false);
  lm_tensor *tx = load(ctx, "t10k-images-idx3-ubyte.gz", n_test, true);
  lm_tensor *ty = load(ctx, "t10k-labels-idx1-ubyte.gz", n_test, false);
  lm_fit_opts fo = LM_FIT_DEFAULTS;
  fo.verbose = 0;
  fo.epochs = epochs;
  fo.batch_size = batch_size;
  lm_data dx = {1, &x, NULL}, dy = {1, &y, NULL}, dtx = {1, &tx, NULL}, dty = {1, &ty, NULL};
  lm_history *h = lm_model_fit(m, &dx, &dy, &fo);
  if (!h) print_message("%s\n", lm_errmsg(ctx));
  assert_non_null(h);
  *train_acc = lm_history_get(h, "acc")[epochs - 1];
  double logs[2];
  assert_int_equal(lm_model_evaluate(m, &dtx, &dty, 256, 0, logs), LM_OK);
  return logs[1];
}

static lm_sym *conv_bn(lm_ctx *ctx, lm_sym *x, int filters, int stride, bool relu) {
  lm_conv2d_opts co = {.strides = {stride, stride}, .padding = "same", .no_bias = true};
  x = lm_layer_call(lm_layer_conv2d(ctx, filters, 3, 3, &co), x);
  /* momentum 0.9 for a run of ~140 steps: with 0.99 the moving statistics
   * would still hold ~37% of their start values; see examples/fashion_resnet.c */
  x = lm_layer_call(lm_layer_batch_normalization(ctx, &(lm_batchnorm_opts){.momentum = 0.9f}), x);
  return relu ? lm_layer_call(lm_layer_activation(ctx, "relu", NULL), x) : x;
}

static void test_fashion_resnet_subset(void **state) {
  (void)state;
  if (!have_data()) skip();
  lm_ctx *ctx = tu_ctx();
  lm_ctx_set_seed(ctx, 1);
  /* one thread: these small batches gain little from two, and on a loaded
   * machine the waiting OpenMP/OpenBLAS threads spin (10-25x the CPU time) */
  lm_ctx_set_threads(ctx, 1);
  int64_t shape[3] = {28, 28, 1};
  lm_sym *in = lm_input(ctx, 3, shape, LM_FLOAT32, NULL);
  lm_sym *x = conv_bn(ctx, in, 16, 2, true); /* 14x14x16 */
  lm_sym *y = conv_bn(ctx, conv_bn(ctx, x, 16, 1, true), 16, 1, false);
  lm_sym *pair[2] = {x, y};
  x = lm_layer_call(lm_layer_activation(ctx, "relu", NULL), lm_add(ctx, 2, pair));
  x = lm_layer_call(lm_layer_global_average_pooling2d(ctx, NULL), x);
  lm_sym *out =
      lm_layer_call(lm_layer_dense(ctx, 10, &(lm_dense_opts){.activation = "softmax"}), x);
  double train_acc;
  double acc = fit_and_test(ctx, lm_model_new(ctx, 1, &in, 1, &out, NULL), 1500, 1000, 3, 32,
                            &train_acc);
  print_message("fashion resnet, 1500 images, 3 epochs: acc %.4f, test_acc %.4f\n", train_acc,
                acc);
  assert_true(acc >= 0.35);
  assert_true(acc >= 0.75 * train_acc);
  lm_ctx_free(ctx);
}

int main(void) {
  const struct CMUnitTest tests[] = {cmocka_unit_test(test_fashion_resnet_subset)};
  return cmocka_run_group_tests(tests, NULL, NULL);
}

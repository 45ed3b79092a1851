/* The lecture's Fashion-MNIST convnet trains as Keras does: three Adam steps
 * match PyTorch under Keras semantics (tests/fixtures/torch_fashion); and on
 * real data (skipped without ../shared/data/fashion-mnist) one epoch on the
 * first 4,000 training images beats a threshold on 1,000 test images. The
 * residual network with BatchNormalization: test_fashion_resnet.c. */
#include <math.h>
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

/* The lecture's convnet; layers[0..3] get conv2d_1, conv2d_2, dense_1, dense_2. */
static lm_model *build_cnn(lm_ctx *ctx, lm_layer **layers) {
  lm_layer *l[4] = {
      lm_layer_conv2d(ctx, 32, 3, 3, &(lm_conv2d_opts){.activation = "relu"}),
      lm_layer_conv2d(ctx, 64, 3, 3, &(lm_conv2d_opts){.activation = "relu"}),
      lm_layer_dense(ctx, 128, &(lm_dense_opts){.activation = "relu"}),
      lm_layer_dense(ctx, 10, &(lm_dense_opts){.activation = "softmax"})};
  int64_t shape[3] = {28, 28, 1};
  lm_sym *in = lm_input(ctx, 3, shape, LM_FLOAT32, NULL);
  lm_sym *h = lm_layer_call(l[0], in);
  h = lm_layer_call(lm_layer_max_pooling2d(ctx, 2, 2, NULL), h);
  h = lm_layer_call(l[1], h);
  h = lm_layer_call(lm_layer_max_pooling2d(ctx, 2, 2, NULL), h);
  h = lm_layer_call(lm_layer_flatten(ctx, NULL), h);
  h = lm_layer_call(l[2], h);
  lm_sym *out = lm_layer_call(l[3], h);
  if (layers) memcpy(layers, l, sizeof l);
  return lm_model_new(ctx, 1, &in, 1, &out, NULL);
}

/* splitmix64 of a counter, top 24 bits (tests/fixtures/gen_torch_fashion_cnn.py) */
static int64_t u24(uint64_t salt, uint64_t i) {
  uint64_t z = (salt << 32) + i + 0x9E3779B97F4A7C15ULL;
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
  z ^= z >> 31;
  return (int64_t)(z >> 40);
}

static lm_tensor *fixture(lm_ctx *ctx, const char *name) {
  char rel[128];
  snprintf(rel, sizeof rel, "torch_fashion/%s", name);
  lm_tensor *t = lm_tensor_load_npy(ctx, tu_fixture(rel));
  if (!t) print_message("%s\n", lm_errmsg(ctx));
  assert_non_null(t);
  return t;
}

/* Three Adam steps of the convnet from hashed weights and images against
 * PyTorch (float64) under Keras 2.2.4 semantics: per-step losses and every
 * weight afterwards. Catches any gradient, pooling, flatten-order, loss
 * clipping or Adam-form difference (they move the weights by ~1e-3). */
static void test_fashion_cnn_adam_steps(void **state) {
  (void)state;
  lm_ctx *ctx = tu_ctx();
  lm_layer *l[4];
  lm_model *m = build_cnn(ctx, l);
  const char *loss = "sparse_categorical_crossentropy";
  lm_compile_opts co = {.optimizer_name = "adam", .n_losses = 1, .losses = &loss};
  assert_non_null(m);
  assert_int_equal(lm_model_compile(m, &co), LM_OK);
  static const double fans[8] = {9 + 288, 0, 288 + 576, 0, 1600 + 128, 0, 128 + 10, 0};
  for (int k = 0; k < 8; k++) {
    lm_tensor *w = lm_layer_weight(l[k / 2], k % 2);
    float scale = fans[k] > 0 ? (float)sqrt(6.0 / fans[k]) : 0.01f;
    for (int64_t i = 0; i < lm_tensor_size(w); i++)
      lm_tensor_f32(w)[i] =
          scale * ((float)(u24((uint64_t)k + 1, (uint64_t)i) - (1 << 23)) / (float)(1 << 23));
  }
  int64_t xs[4] = {32, 28, 28, 1}, ys[1] = {32};
  lm_tensor *x[2], *y[2];
  for (int b = 0; b < 2; b++) {
    x[b] = lm_tensor_new(ctx, LM_FLOAT32, 4, xs);
    y[b] = lm_tensor_new(ctx, LM_INT32, 1, ys);
    for (int64_t i = 0; i < 32 * 784; i++)
      lm_tensor_f32(x[b])[i] = (float)(u24(100, (uint64_t)(b * 32 * 784 + i)) >> 16) / 255.0f;
    for (int64_t i = 0; i < 32; i++) lm_tensor_i32(y[b])[i] = (int32_t)(u24(101, (uint64_t)(b * 32 + i)) % 10);
  }
  const float *ref_loss = lm_tensor_f32(fixture(ctx, "loss.npy"));
  static const int steps[3] = {0, 1, 0};
  for (int s = 0; s < 3; s++) {
    lm_data dx = {1, &x[steps[s]], NULL}, dy = {1, &y[steps[s]], NULL};
    double logs[1];
    assert_int_equal(lm_model_train_on_batch(m, &dx, &dy, logs), LM_OK);
    print_message("step %d: loss %.6f, PyTorch %.6f\n", s, logs[0], (double)ref_loss[s]);
    assert_true(fabs(logs[0] - ref_loss[s]) <= 1e-5 * fabs(ref_loss[s]));
  }
  for (int k = 0; k < 8; k++) {
    char name[16];
    snprintf(name, sizeof name, "w%d.npy", k);
    lm_tensor *ref = fixture(ctx, name);
    const float *w = lm_tensor_f32(lm_layer_weight(l[k / 2], k % 2)), *r = lm_tensor_f32(ref);
    int64_t stride = k == 4 ? 50 : 1;
    double worst = 0;
    for (int64_t i = 0; i < lm_tensor_size(ref); i++) {
      double d = fabs((double)w[i * stride] - (double)r[i]);
      if (d > worst) worst = d;
    }
    print_message("%s: max |lamina - PyTorch| %.3g\n", lm_layer_weight_name(l[k / 2], k % 2), worst);
    assert_true(worst <= 1e-4); /* each weight moved by ~3e-3 */
  }
  lm_ctx_free(ctx);
}

/* Conv2D(32, 3, relu) -> MaxPool -> Conv2D(64, 3, relu) -> MaxPool -> Flatten
 * -> Dense(128, relu) -> Dense(10, softmax), Adam, batch 64, one epoch on
 * 4,000 images (63 steps); a broken gradient, pooling or optimizer step stays
 * far below the threshold. */
static void test_fashion_cnn_subset(void **state) {
  (void)state;
  if (!have_data()) skip();
  lm_ctx *ctx = tu_ctx();
  lm_ctx_set_seed(ctx, 1);
  /* one thread: these small batches gain little from two, and on a loaded
   * machine the waiting OpenMP/OpenBLAS threads spin (10-25x the CPU time) */
  lm_ctx_set_threads(ctx, 1);
  double train_acc;
  double acc = fit_and_test(ctx, build_cnn(ctx, NULL), 4000, 1000, 1, 64,
                            &train_acc);
  print_message("fashion cnn, 4000 images, 1 epoch: acc %.4f, test_acc %.4f\n", train_acc, acc);
  assert_true(acc >= 0.68);
  lm_ctx_free(ctx);
}

/* A small residual network with BatchNormalization (Conv-BN-ReLU, a residual
 * block with an Add skip, GlobalAveragePooling2D, Dense softmax) learns on
 * real Fashion-MNIST (skipped without ../shared/data/fashion-mnist): after
 * three epochs on 1,500 images its test accuracy, computed with the BN moving
 * statistics (inference mode), is far above chance (0.1) and close to its
 * training accuracy (batch statistics), so the moving statistics are right.
 * The full-size network: examples/fashion_resnet.c. */
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
  if (getenv("LAMINA_TEST_FILTER")) cmocka_set_test_filter(getenv("LAMINA_TEST_FILTER"));
  const struct CMUnitTest tests[] = {cmocka_unit_test(test_fashion_cnn_adam_steps),
                                     cmocka_unit_test(test_fashion_cnn_subset),
                                     cmocka_unit_test(test_fashion_resnet_subset)};
  return cmocka_run_group_tests(tests, NULL, NULL);
}

#define _DEFAULT_SOURCE /* mkstemp */
/* Conv2D, pooling and BatchNormalization layers: Keras shapes, parameter
 * counts, error texts, moving-statistics updates, save/load of the moving
 * statistics, reproducibility, and a small Fashion-MNIST fit (skipped when
 * shared/data is absent). */
#include "testutil.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "layers/layer.h"

static const char *sym_shape(const lm_sym *s) {
  static char buf[160];
  int64_t d[LM_MAX_DIMS];
  int nd = lm_sym_ndim(s);
  for (int i = 0; i < nd; i++) d[i] = lm_sym_dim(s, i);
  lm_shape_str(nd, d, buf, sizeof buf);
  return buf;
}

static void assert_err_has(lm_ctx *ctx, const char *part) {
  const char *msg = lm_errmsg(ctx);
  if (!strstr(msg, part)) fail_msg("error \"%s\" lacks \"%s\"", msg, part);
}

static lm_sym *img_input(lm_ctx *ctx, int64_t h, int64_t w, int64_t c) {
  int64_t s[3] = {h, w, c};
  lm_sym *x = lm_input(ctx, 3, s, LM_FLOAT32, NULL);
  assert_non_null(x);
  return x;
}

static void test_shapes(void **state) {
  (void)state;
  lm_ctx *ctx = tu_ctx();
  lm_sym *x = img_input(ctx, 7, 7, 3);
  lm_conv2d_opts same2 = {.strides = {2, 2}, .padding = "same"};
  lm_conv2d_opts valid2 = {.strides = {2, 2}};
  lm_conv2d_opts dil = {.dilation_rate = {2, 2}};
  assert_string_equal(sym_shape(lm_layer_call(lm_layer_conv2d(ctx, 8, 3, 3, &same2), x)),
                      "(None, 4, 4, 8)");
  assert_string_equal(sym_shape(lm_layer_call(lm_layer_conv2d(ctx, 8, 3, 3, &valid2), x)),
                      "(None, 3, 3, 8)");
  assert_string_equal(sym_shape(lm_layer_call(lm_layer_conv2d(ctx, 4, 3, 3, &dil), x)),
                      "(None, 3, 3, 4)");
  assert_string_equal(sym_shape(lm_layer_call(lm_layer_max_pooling2d(ctx, 0, 0, NULL), x)),
                      "(None, 3, 3, 3)");
  lm_pool2d_opts psame = {.padding = "same"};
  assert_string_equal(
      sym_shape(lm_layer_call(lm_layer_average_pooling2d(ctx, 2, 2, &psame), x)),
      "(None, 4, 4, 3)");
  lm_pool2d_opts s1 = {.strides = {1, 1}};
  assert_string_equal(sym_shape(lm_layer_call(lm_layer_max_pooling2d(ctx, 3, 3, &s1), x)),
                      "(None, 5, 5, 3)");
  assert_string_equal(sym_shape(lm_layer_call(lm_layer_global_average_pooling2d(ctx, NULL), x)),
                      "(None, 3)");
  assert_string_equal(sym_shape(lm_layer_call(lm_layer_global_max_pooling2d(ctx, NULL), x)),
                      "(None, 3)");
  assert_string_equal(sym_shape(lm_layer_call(lm_layer_batch_normalization(ctx, NULL), x)),
                      "(None, 7, 7, 3)");
  /* automatic names */
  assert_string_equal(lm_layer_name(lm_layer_conv2d(ctx, 1, 1, 1, NULL)), "conv2d_4");
  assert_string_equal(lm_layer_name(lm_layer_max_pooling2d(ctx, 2, 2, NULL)), "max_pooling2d_3");
  assert_string_equal(lm_layer_name(lm_layer_batch_normalization(ctx, NULL)),
                      "batch_normalization_2");
  lm_ctx_free(ctx);
}

static void test_param_counts(void **state) {
  (void)state;
  lm_ctx *ctx = tu_ctx();
  lm_sym *in = img_input(ctx, 28, 28, 1);
  lm_conv2d_opts relu = {.activation = "relu"};
  lm_layer *c1 = lm_layer_conv2d(ctx, 32, 3, 3, &relu);
  lm_sym *x = lm_layer_call(c1, in);
  assert_int_equal(lm_layer_count_params(c1), 320);
  assert_string_equal(lm_layer_weight_name(c1, 0), "conv2d_1/kernel:0");
  assert_int_equal(lm_tensor_dim(lm_layer_weight(c1, 0), 3), 32);
  x = lm_layer_call(lm_layer_max_pooling2d(ctx, 2, 2, NULL), x);
  x = lm_layer_call(lm_layer_conv2d(ctx, 64, 3, 3, &relu), x);
  lm_layer *bn = lm_layer_batch_normalization(ctx, NULL);
  x = lm_layer_call(bn, x);
  assert_int_equal(lm_layer_count_params(bn), 256);
  assert_string_equal(lm_layer_weight_name(bn, 0), "batch_normalization_1/gamma:0");
  assert_string_equal(lm_layer_weight_name(bn, 3), "batch_normalization_1/moving_variance:0");
  x = lm_layer_call(lm_layer_max_pooling2d(ctx, 2, 2, NULL), x);
  x = lm_layer_call(lm_layer_flatten(ctx, NULL), x);
  x = lm_layer_call(lm_layer_dense(ctx, 128, &(lm_dense_opts){.activation = "relu"}), x);
  x = lm_layer_call(lm_layer_dense(ctx, 10, &(lm_dense_opts){.activation = "softmax"}), x);
  lm_model *m = lm_model_new(ctx, 1, &in, 1, &x, NULL);
  assert_non_null(m);
  assert_int_equal(lm_model_count_params(m, 0), 225034 + 256);
  assert_int_equal(lm_model_count_params(m, 2), 128);
  /* center/scale off drop beta/gamma */
  lm_batchnorm_opts nc = {.no_center = true, .no_scale = true};
  lm_layer *bn2 = lm_layer_batch_normalization(ctx, &nc);
  assert_non_null(lm_layer_call(bn2, img_input(ctx, 4, 4, 6)));
  assert_int_equal(lm_layer_n_weights(bn2), 2);
  assert_int_equal(lm_layer_count_params(bn2), 12);
  lm_ctx_free(ctx);
}

static void test_errors(void **state) {
  (void)state;
  lm_ctx *ctx = tu_ctx();
  lm_sym *x = img_input(ctx, 3, 3, 2);
  lm_conv2d_opts named = {.name = "big"};
  assert_null(lm_layer_call(lm_layer_conv2d(ctx, 4, 5, 5, &named), x));
  assert_err_has(ctx, "Negative dimension size");
  assert_err_has(ctx, "big");
  assert_err_has(ctx, "(None, 3, 3, 2)");
  int64_t flat[1] = {8};
  assert_null(lm_layer_call(lm_layer_conv2d(ctx, 4, 3, 3, NULL),
                            lm_input(ctx, 1, flat, LM_FLOAT32, NULL)));
  assert_err_has(ctx, "expected ndim=4, found ndim=2");
  assert_null(lm_layer_conv2d(ctx, 4, 3, 3, &(lm_conv2d_opts){.padding = "full"}));
  assert_err_has(ctx, "padding must be 'valid' or 'same'");
  assert_null(lm_layer_conv2d(ctx, 0, 3, 3, NULL));
  assert_err_has(ctx, "filters");
  assert_null(lm_layer_call(lm_layer_max_pooling2d(ctx, 4, 4, NULL), x));
  assert_err_has(ctx, "Negative dimension size");
  assert_null(lm_layer_batch_normalization(ctx, &(lm_batchnorm_opts){.momentum = 2}));
  assert_err_has(ctx, "momentum");
  assert_null(lm_layer_call(lm_layer_conv2d(ctx, 2, 3, 3, NULL), NULL)); /* NULL propagates */
  lm_ctx_free(ctx);
}

/* x (n, 4, 4, 2) with a ramp; y one-hot of 3 classes. */
static void small_data(lm_ctx *ctx, int64_t n, lm_tensor **x, lm_tensor **y) {
  int64_t xs[4] = {n, 4, 4, 2}, ys[2] = {n, 3};
  *x = lm_tensor_new(ctx, LM_FLOAT32, 4, xs);
  *y = lm_tensor_new(ctx, LM_FLOAT32, 2, ys);
  for (int64_t i = 0; i < lm_tensor_size(*x); i++)
    lm_tensor_f32(*x)[i] = (float)((i * 37) % 23) / 23.0f * 2.0f - 0.7f;
  for (int64_t i = 0; i < n; i++) lm_tensor_f32(*y)[i * 3 + i % 3] = 1.0f;
}

static lm_model *small_model(lm_ctx *ctx) {
  lm_sym *in = img_input(ctx, 4, 4, 2);
  lm_sym *x = lm_layer_call(
      lm_layer_conv2d(ctx, 4, 3, 3, &(lm_conv2d_opts){.padding = "same", .activation = "relu"}),
      in);
  x = lm_layer_call(lm_layer_batch_normalization(ctx, NULL), x);
  x = lm_layer_call(lm_layer_average_pooling2d(ctx, 2, 2, NULL), x);
  x = lm_layer_call(lm_layer_max_pooling2d(ctx, 2, 2, &(lm_pool2d_opts){.strides = {1, 1},
                                                                          .padding = "same"}),
                    x);
  x = lm_layer_call(lm_layer_global_average_pooling2d(ctx, NULL), x);
  x = lm_layer_call(lm_layer_dense(ctx, 3, &(lm_dense_opts){.activation = "softmax"}), x);
  lm_model *m = lm_model_new(ctx, 1, &in, 1, &x, NULL);
  assert_non_null(m);
  const char *loss = "categorical_crossentropy", *metric = "acc";
  lm_compile_opts co = {.optimizer_name = "adam", .n_losses = 1, .losses = &loss,
                        .n_metrics = 1, .metrics = &metric};
  assert_int_equal(lm_model_compile(m, &co), LM_OK);
  return m;
}

/* One train_on_batch moves the moving statistics by a plain EMA of the batch
 * statistics of the BN input (Keras' m / (m - 1.001) variance correction). */
static void test_bn_moving_update(void **state) {
  (void)state;
  lm_ctx *ctx = tu_ctx();
  int64_t s[1] = {3}, n = 10;
  lm_sym *in = lm_input(ctx, 1, s, LM_FLOAT32, NULL);
  lm_layer *bn = lm_layer_batch_normalization(ctx, NULL);
  lm_sym *out = lm_layer_call(bn, in);
  lm_model *m = lm_model_new(ctx, 1, &in, 1, &out, NULL);
  const char *loss = "mse";
  lm_compile_opts co = {.optimizer_name = "sgd", .n_losses = 1, .losses = &loss};
  assert_int_equal(lm_model_compile(m, &co), LM_OK);
  int64_t xs[2] = {n, 3};
  lm_tensor *x = lm_tensor_new(ctx, LM_FLOAT32, 2, xs), *y = lm_tensor_new(ctx, LM_FLOAT32, 2, xs);
  for (int i = 0; i < n * 3; i++) lm_tensor_f32(x)[i] = (float)((i * 7) % 11) * 0.5f + (float)(i % 3);
  lm_data dx = {1, &x, NULL}, dy = {1, &y, NULL};
  assert_int_equal(lm_model_train_on_batch(m, &dx, &dy, NULL), LM_OK);
  for (int c = 0; c < 3; c++) {
    double mean = 0, var = 0;
    for (int i = 0; i < n; i++) mean += lm_tensor_f32(x)[i * 3 + c];
    mean /= (double)n;
    for (int i = 0; i < n; i++) {
      double d = lm_tensor_f32(x)[i * 3 + c] - mean;
      var += d * d;
    }
    var /= (double)n;
    double mm = 0.01 * mean, mv = 0.99 + 0.01 * var * n / (n - 1.001);
    assert_true(fabs(lm_tensor_f32(lm_layer_weight(bn, 2))[c] - mm) < 1e-5);
    assert_true(fabs(lm_tensor_f32(lm_layer_weight(bn, 3))[c] - mv) < 1e-5);
  }
  /* inference (predict) uses the moving statistics */
  lm_tensor *p = NULL;
  assert_int_equal(lm_model_predict(m, &dx, 4, &p), LM_OK);
  float g = lm_tensor_f32(lm_layer_weight(bn, 0))[1], b = lm_tensor_f32(lm_layer_weight(bn, 1))[1];
  float mm = lm_tensor_f32(lm_layer_weight(bn, 2))[1], mv = lm_tensor_f32(lm_layer_weight(bn, 3))[1];
  float want = g * (lm_tensor_f32(x)[4] - mm) / sqrtf(mv + 1e-3f) + b;
  assert_true(fabsf(lm_tensor_f32(p)[4] - want) < 1e-5f);
  lm_tensor_free(p);
  lm_ctx_free(ctx);
}

static void test_save_load(void **state) {
  (void)state;
  lm_ctx *ctx = tu_ctx();
  lm_model *m = small_model(ctx);
  lm_tensor *x, *y;
  small_data(ctx, 24, &x, &y);
  lm_data dx = {1, &x, NULL}, dy = {1, &y, NULL};
  lm_fit_opts fo = LM_FIT_DEFAULTS;
  fo.verbose = 0;
  fo.epochs = 2;
  fo.batch_size = 8;
  assert_non_null(lm_model_fit(m, &dx, &dy, &fo));
  char path[] = "/tmp/lamina_test_conv_XXXXXX";
  int fd = mkstemp(path);
  assert_true(fd >= 0);
  close(fd);
  assert_int_equal(lm_model_save(m, path), LM_OK);
  lm_tensor *p1 = NULL, *p2 = NULL;
  assert_int_equal(lm_model_predict(m, &dx, 5, &p1), LM_OK);
  lm_ctx *ctx2 = tu_ctx();
  lm_model *m2 = lm_model_load(ctx2, path);
  unlink(path);
  if (!m2) fail_msg("load: %s", lm_errmsg(ctx2));
  assert_int_equal(lm_model_count_params(m2, 0), lm_model_count_params(m, 0));
  assert_int_equal(lm_model_count_params(m2, 2), 8);
  lm_layer *bn = lm_model_get_layer(m2, "batch_normalization_1");
  assert_non_null(bn);
  assert_string_equal(lm_layer_class(bn), "BatchNormalization");
  assert_true(lm_tensor_f32(lm_layer_weight(bn, 2))[0] != 0.0f); /* moved and saved */
  lm_layer *pool = lm_model_get_layer(m2, "max_pooling2d_1");
  assert_non_null(pool);
  lm_tensor *x2 = lm_tensor_copy(x);
  lm_data dx2 = {1, &x2, NULL};
  assert_int_equal(lm_model_predict(m2, &dx2, 5, &p2), LM_OK);
  assert_int_equal(lm_tensor_size(p1), lm_tensor_size(p2));
  assert_memory_equal(lm_tensor_data(p1), lm_tensor_data(p2),
                      sizeof(float) * (size_t)lm_tensor_size(p1));
  lm_tensor_free(p1);
  lm_tensor_free(p2);
  lm_ctx_free(ctx2);
  lm_ctx_free(ctx);
}

/* The same seed and thread count give the same weights. */
static void test_reproducible(void **state) {
  (void)state;
  float first[4][3];
  for (int run = 0; run < 2; run++) {
    lm_ctx *ctx = tu_ctx();
    lm_ctx_set_threads(ctx, 2);
    lm_model *m = small_model(ctx);
    lm_tensor *x, *y;
    small_data(ctx, 40, &x, &y);
    lm_data dx = {1, &x, NULL}, dy = {1, &y, NULL};
    lm_fit_opts fo = LM_FIT_DEFAULTS;
    fo.verbose = 0;
    fo.batch_size = 16;
    assert_non_null(lm_model_fit(m, &dx, &dy, &fo));
    const float *w = lm_tensor_f32(lm_layer_weight(lm_model_get_layer(m, "dense_1"), 0));
    if (run == 0)
      memcpy(first, w, sizeof first);
    else
      assert_memory_equal(first, w, sizeof first);
    lm_ctx_free(ctx);
  }
}

/* The conv, depthwise, pooling and BatchNormalization kernels are
 * deterministic for a fixed thread count: two runs at 2 threads, shapes large
 * enough for the parallel paths, two training steps, every weight compared.
 * (Across thread counts only the library's own kernels are: OpenBLAS sgemm
 * itself rounds differently at 1 and 2 threads.) */
static void train_two_steps(int threads, float **out, int64_t *n_out) {
  lm_ctx *ctx = tu_ctx();
  lm_ctx_set_seed(ctx, 7);
  lm_ctx_set_threads(ctx, threads);
  lm_sym *in = img_input(ctx, 16, 16, 8);
  lm_sym *x = lm_layer_call(
      lm_layer_conv2d(ctx, 16, 3, 3, &(lm_conv2d_opts){.padding = "same", .activation = "relu"}),
      in);
  x = lm_layer_call(lm_layer_batch_normalization(ctx, NULL), x);
  x = lm_layer_call(lm_layer_max_pooling2d(ctx, 2, 2, NULL), x);
  x = lm_layer_call(lm_layer_separable_conv2d(ctx, 16, 3, 3, &(lm_separable_opts){.padding = "same"}),
                    x);
  x = lm_layer_call(lm_layer_conv2d(ctx, 8, 3, 3, &(lm_conv2d_opts){.strides = {2, 2}}), x);
  x = lm_layer_call(lm_layer_global_average_pooling2d(ctx, NULL), x);
  x = lm_layer_call(lm_layer_dense(ctx, 3, &(lm_dense_opts){.activation = "softmax"}), x);
  lm_model *m = lm_model_new(ctx, 1, &in, 1, &x, NULL);
  assert_non_null(m);
  const char *loss = "categorical_crossentropy";
  lm_compile_opts co = {.optimizer_name = "sgd", .n_losses = 1, .losses = &loss};
  assert_int_equal(lm_model_compile(m, &co), LM_OK);
  int64_t xs[4] = {32, 16, 16, 8}, ys[2] = {32, 3};
  lm_tensor *xt = lm_tensor_new(ctx, LM_FLOAT32, 4, xs), *yt = lm_tensor_new(ctx, LM_FLOAT32, 2, ys);
  for (int64_t i = 0; i < lm_tensor_size(xt); i++)
    lm_tensor_f32(xt)[i] = (float)((i * 37) % 101) / 101.0f - 0.4f;
  for (int64_t i = 0; i < 32; i++)
    for (int j = 0; j < 3; j++) lm_tensor_f32(yt)[i * 3 + j] = (i % 3) == j ? 1.0f : 0.0f;
  lm_data dx = {1, &xt, NULL}, dy = {1, &yt, NULL};
  for (int s = 0; s < 2; s++) assert_int_equal(lm_model_train_on_batch(m, &dx, &dy, NULL), LM_OK);
  int64_t n = 0;
  for (int li = 0; li < lm_model_n_layers(m); li++) {
    lm_layer *l = lm_model_layer(m, li);
    for (int k = 0; k < lm_layer_n_weights(l); k++) n += lm_tensor_size(lm_layer_weight(l, k));
  }
  float *all = malloc(sizeof(float) * (size_t)n);
  assert_non_null(all);
  int64_t at = 0;
  for (int li = 0; li < lm_model_n_layers(m); li++) {
    lm_layer *l = lm_model_layer(m, li);
    for (int k = 0; k < lm_layer_n_weights(l); k++) {
      lm_tensor *w = lm_layer_weight(l, k);
      memcpy(all + at, lm_tensor_f32(w), sizeof(float) * (size_t)lm_tensor_size(w));
      at += lm_tensor_size(w);
    }
  }
  *out = all;
  *n_out = n;
  lm_tensor_free(xt);
  lm_tensor_free(yt);
  lm_ctx_free(ctx);
}

static void test_parallel_determinism(void **state) {
  (void)state;
  float *w1, *w2;
  int64_t n1, n2;
  train_two_steps(2, &w1, &n1);
  train_two_steps(2, &w2, &n2);
  assert_int_equal(n1, n2);
  assert_true(n1 > 1000);
  assert_memory_equal(w1, w2, sizeof(float) * (size_t)n1);
  free(w1);
  free(w2);
}

/* Conv2D(8, 3) -> MaxPooling2D -> Flatten -> Dense(10) trained for 2 epochs on
 * the first 1500 Fashion-MNIST test-set images scores well above chance on the
 * last 500 (the small test file keeps the test fast). */
static lm_tensor *rows(lm_ctx *ctx, const lm_tensor *t, int64_t r0, int64_t n, bool image) {
  int64_t row = lm_tensor_size(t) / lm_tensor_dim(t, 0);
  int64_t s[4] = {n, 28, 28, 1};
  lm_tensor *out = lm_tensor_new(ctx, LM_FLOAT32, image ? 4 : 1, s);
  assert_non_null(out);
  const float *src = lm_tensor_data(t);
  for (int64_t i = 0; i < n * row; i++)
    lm_tensor_f32(out)[i] = src[r0 * row + i] / (image ? 255.0f : 1.0f);
  return out;
}

static void test_fashion_subset(void **state) {
  (void)state;
  const char *dir = tu_shared("data/fashion-mnist");
  if (!dir) {
    print_message("shared/data/fashion-mnist absent: skipped\n");
    skip();
  }
  char pi[1024], pl[1024];
  snprintf(pi, sizeof pi, "%s/t10k-images-idx3-ubyte.gz", dir);
  snprintf(pl, sizeof pl, "%s/t10k-labels-idx1-ubyte.gz", dir);
  lm_ctx *ctx = tu_ctx();
  lm_ctx_set_threads(ctx, 1); /* a busy test machine: no spinning second thread */
  lm_tensor *ti = lm_tensor_load_idx(ctx, pi, 0), *tl = lm_tensor_load_idx(ctx, pl, 0);
  if (!ti || !tl) fail_msg("%s", lm_errmsg(ctx));
  lm_tensor *img[2] = {rows(ctx, ti, 0, 1500, true), rows(ctx, ti, 9500, 500, true)};
  lm_tensor *t[4] = {NULL, rows(ctx, tl, 0, 1500, false), NULL, rows(ctx, tl, 9500, 500, false)};
  lm_sym *in = img_input(ctx, 28, 28, 1);
  lm_sym *x = lm_layer_call(lm_layer_conv2d(ctx, 8, 3, 3, &(lm_conv2d_opts){.activation = "relu"}),
                            in);
  x = lm_layer_call(lm_layer_max_pooling2d(ctx, 2, 2, NULL), x);
  x = lm_layer_call(lm_layer_flatten(ctx, NULL), x);
  x = lm_layer_call(lm_layer_dense(ctx, 10, &(lm_dense_opts){.activation = "softmax"}), x);
  lm_model *m = lm_model_new(ctx, 1, &in, 1, &x, NULL);
  const char *loss = "sparse_categorical_crossentropy", *metric = "acc";
  lm_compile_opts co = {.optimizer_name = "adam", .n_losses = 1, .losses = &loss,
                        .n_metrics = 1, .metrics = &metric};
  assert_int_equal(lm_model_compile(m, &co), LM_OK);
  lm_data dx = {1, &img[0], NULL}, dy = {1, &t[1], NULL};
  lm_fit_opts fo = LM_FIT_DEFAULTS;
  fo.verbose = 0;
  fo.epochs = 2;
  fo.batch_size = 64;
  assert_non_null(lm_model_fit(m, &dx, &dy, &fo));
  double logs[2];
  lm_data tx = {1, &img[1], NULL}, ty = {1, &t[3], NULL};
  assert_int_equal(lm_model_evaluate(m, &tx, &ty, 100, 0, logs), LM_OK);
  print_message("fashion subset: test acc %.3f\n", logs[1]);
  assert_true(logs[1] > 0.65);
  lm_ctx_free(ctx);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_shapes),         cmocka_unit_test(test_param_counts),
      cmocka_unit_test(test_errors),         cmocka_unit_test(test_bn_moving_update),
      cmocka_unit_test(test_save_load),      cmocka_unit_test(test_reproducible),
      cmocka_unit_test(test_parallel_determinism),
      cmocka_unit_test(test_fashion_subset),
  };
  return cmocka_run_group_tests_name("conv_layers", tests, NULL, NULL);
}

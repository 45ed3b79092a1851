#define _DEFAULT_SOURCE
/* DepthwiseConv2D, SeparableConv2D, ZeroPadding2D, Cropping2D, UpSampling2D,
 * LeakyReLU, ReLU, Softmax: names, shapes, Keras parameter counts (the
 * lecture's SeparableConv2D listing: 38,949), error texts, forward values,
 * save/load, and the depthwise kernel against a naive loop at 1 and 2
 * threads (bit-identical across thread counts). */
#include "testutil.h"

#include <math.h>
#include <string.h>
#include <unistd.h>

#include "kernels/conv_shape.h"
#include "kernels/depthwise.h"
#include "layers/layer.h"

#define ARRAY_N(a) ((int)(sizeof(a) / sizeof *(a)))

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

static lm_sym *input3(lm_ctx *ctx, int64_t h, int64_t w, int64_t c) {
  int64_t s[3] = {h, w, c};
  lm_sym *x = lm_input(ctx, 3, s, LM_FLOAT32, NULL);
  assert_non_null(x);
  return x;
}

/* The lecture's SeparableConv2D listing (Sequential, input (64, 64, 3)). */
static void test_separable_listing(void **state) {
  lm_ctx *ctx = tu_ctx();
  lm_model *m = lm_sequential_new(ctx, NULL);
  int64_t in_shape[3] = {64, 64, 3};
  lm_separable_opts relu = {.activation = "relu"};
  lm_layer *first = lm_layer_separable_conv2d(ctx, 32, 3, 3, &relu);
  lm_layer_set_input_shape(first, 3, in_shape, LM_FLOAT32);
  lm_layer *layers[] = {
      first,
      lm_layer_separable_conv2d(ctx, 64, 3, 3, &relu),
      lm_layer_max_pooling2d(ctx, 2, 2, NULL),
      lm_layer_separable_conv2d(ctx, 64, 3, 3, &relu),
      lm_layer_separable_conv2d(ctx, 128, 3, 3, &relu),
      lm_layer_max_pooling2d(ctx, 2, 2, NULL),
      lm_layer_separable_conv2d(ctx, 64, 3, 3, &relu),
      lm_layer_separable_conv2d(ctx, 128, 3, 3, &relu),
      lm_layer_global_average_pooling2d(ctx, NULL),
      lm_layer_dense(ctx, 32, &(lm_dense_opts){.activation = "relu"}),
      lm_layer_dense(ctx, 10, &(lm_dense_opts){.activation = "softmax"}),
  };
  for (int i = 0; i < ARRAY_N(layers); i++) {
    if (!layers[i] || lm_sequential_add(m, layers[i]) != LM_OK)
      fail_msg("layer %d: %s", i, lm_errmsg(ctx));
  }
  assert_int_equal(lm_model_count_params(m, 0), 38949);
  assert_int_equal(lm_model_count_params(m, 1), 38949);
  assert_int_equal(lm_model_count_params(m, 2), 0);
  assert_int_equal(lm_layer_count_params(layers[0]), 155); /* 27 + 96 + 32 */
  assert_int_equal(lm_layer_count_params(layers[1]), 2400);
  assert_string_equal(lm_layer_name(layers[0]), "separable_conv2d_1");
  assert_string_equal(lm_layer_weight_name(layers[1], 0), "separable_conv2d_2/depthwise_kernel:0");
  assert_string_equal(lm_layer_weight_name(layers[1], 1), "separable_conv2d_2/pointwise_kernel:0");
  assert_string_equal(lm_layer_weight_name(layers[1], 2), "separable_conv2d_2/bias:0");
  tu_capture cap = {0};
  assert_int_equal(lm_model_summary(m, tu_capture_fn, &cap), LM_OK);
  const char *want[] = {
      "separable_conv2d_1 (Separabl (None, 62, 62, 32)        155",
      "separable_conv2d_2 (Separabl (None, 60, 60, 64)        2400",
      "separable_conv2d_4 (Separabl (None, 26, 26, 128)       8896",
      "separable_conv2d_6 (Separabl (None, 9, 9, 128)         8896",
      "Total params: 38,949",
      "Trainable params: 38,949",
      "Non-trainable params: 0",
  };
  for (int i = 0; i < ARRAY_N(want); i++)
    if (!strstr(cap.text, want[i])) fail_msg("summary lacks \"%s\":\n%s", want[i], cap.text);
  tu_capture_reset(&cap);

  /* a few training steps (2 batches of 2) on random data */
  const char *loss = "categorical_crossentropy";
  lm_compile_opts co = {.optimizer_name = "rmsprop", .n_losses = 1, .losses = &loss};
  assert_int_equal(lm_model_compile(m, &co), LM_OK);
  int64_t xs[4] = {4, 64, 64, 3}, ys[2] = {4, 10};
  lm_tensor *x = lm_tensor_new(ctx, LM_FLOAT32, 4, xs), *y = lm_tensor_new(ctx, LM_FLOAT32, 2, ys);
  for (int64_t i = 0; i < lm_tensor_size(x); i++)
    lm_tensor_f32(x)[i] = (float)((i * 7919) % 101) / 101.0f;
  for (int i = 0; i < 4; i++) lm_tensor_f32(y)[i * 10 + i % 10] = 1.0f;
  lm_data dx = {1, &x, NULL}, dy = {1, &y, NULL};
  lm_fit_opts fo = LM_FIT_DEFAULTS;
  fo.verbose = 0;
  fo.epochs = 1;
  fo.batch_size = 2;
  lm_history *h = lm_model_fit(m, &dx, &dy, &fo);
  if (!h) fail_msg("fit: %s", lm_errmsg(ctx));
  const double *l = lm_history_get(h, "loss");
  assert_true(isfinite(l[0]));
  lm_ctx_free(ctx);
}

static void test_shapes_params_names(void **state) {
  lm_ctx *ctx = tu_ctx();
  lm_sym *x = input3(ctx, 9, 8, 3);
  lm_layer *dw = lm_layer_depthwise_conv2d(ctx, 3, 3, &(lm_separable_opts){.depth_multiplier = 2});
  assert_string_equal(sym_shape(lm_layer_call(dw, x)), "(None, 7, 6, 6)");
  assert_int_equal(lm_layer_count_params(dw), 3 * 3 * 3 * 2 + 6);
  assert_string_equal(lm_layer_name(dw), "depthwise_conv2d_1");
  assert_string_equal(lm_layer_weight_name(dw, 0), "depthwise_conv2d_1/depthwise_kernel:0");
  assert_int_equal(lm_tensor_dim(lm_layer_weight(dw, 0), 3), 2);
  lm_separable_opts same2 = {.strides = {2, 2}, .padding = "same"};
  assert_string_equal(sym_shape(lm_layer_call(lm_layer_depthwise_conv2d(ctx, 3, 3, &same2), x)),
                      "(None, 5, 4, 3)");
  lm_separable_opts dil = {.dilation_rate = {2, 2}, .no_bias = true};
  lm_layer *dl = lm_layer_depthwise_conv2d(ctx, 3, 3, &dil);
  assert_string_equal(sym_shape(lm_layer_call(dl, x)), "(None, 5, 4, 3)");
  assert_int_equal(lm_layer_count_params(dl), 27);

  lm_sym *x32 = input3(ctx, 10, 10, 32);
  lm_layer *sep = lm_layer_separable_conv2d(ctx, 64, 3, 3, NULL);
  assert_string_equal(sym_shape(lm_layer_call(sep, x32)), "(None, 8, 8, 64)");
  assert_int_equal(lm_layer_count_params(sep), 2400); /* keras-semantics.md section 3 */
  lm_layer *sep2 = lm_layer_separable_conv2d(
      ctx, 5, 2, 2, &(lm_separable_opts){.depth_multiplier = 3, .padding = "SAME"});
  assert_string_equal(sym_shape(lm_layer_call(sep2, x)), "(None, 9, 8, 5)");
  assert_int_equal(lm_layer_count_params(sep2), 2 * 2 * 3 * 3 + 9 * 5 + 5);

  /* Conv2DTranspose: kernel (kh, kw, filters, Cin); deconv_length sizes */
  lm_layer *ct =
      lm_layer_conv2d_transpose(ctx, 4, 3, 3, &(lm_conv2d_transpose_opts){.strides = {2, 2}});
  assert_string_equal(sym_shape(lm_layer_call(ct, x)), "(None, 19, 17, 4)"); /* 9*2+1, 8*2+1 */
  assert_string_equal(lm_layer_name(ct), "conv2d_transpose_1");
  assert_string_equal(lm_layer_weight_name(ct, 0), "conv2d_transpose_1/kernel:0");
  assert_int_equal(lm_tensor_dim(lm_layer_weight(ct, 0), 2), 4);
  assert_int_equal(lm_tensor_dim(lm_layer_weight(ct, 0), 3), 3);
  assert_int_equal(lm_layer_count_params(ct), 3 * 3 * 4 * 3 + 4);
  lm_conv2d_transpose_opts cs = {.strides = {3, 2}, .padding = "same", .no_bias = true};
  assert_string_equal(sym_shape(lm_layer_call(lm_layer_conv2d_transpose(ctx, 2, 2, 5, &cs), x)),
                      "(None, 27, 16, 2)");
  lm_conv2d_transpose_opts c1 = {.strides = {3, 3}};
  assert_string_equal(sym_shape(lm_layer_call(lm_layer_conv2d_transpose(ctx, 2, 1, 1, &c1), x)),
                      "(None, 27, 24, 2)"); /* max(dk - s, 0) = 0 */
  assert_string_equal(sym_shape(lm_layer_call(lm_layer_zero_padding2d(ctx, 1, 2, 3, 0, NULL), x)),
                      "(None, 12, 11, 3)");
  assert_string_equal(sym_shape(lm_layer_call(lm_layer_cropping2d(ctx, 1, 2, 3, 0, NULL), x)),
                      "(None, 6, 5, 3)");
  assert_string_equal(sym_shape(lm_layer_call(lm_layer_upsampling2d(ctx, 2, 3, NULL), x)),
                      "(None, 18, 24, 3)");
  lm_layer *named[] = {
      lm_layer_leaky_relu(ctx, 0.3f, NULL),   lm_layer_relu(ctx, NULL),
      lm_layer_softmax(ctx, -1, NULL),        lm_layer_zero_padding2d(ctx, 0, 0, 0, 0, NULL),
      lm_layer_upsampling2d(ctx, 1, 1, NULL), lm_layer_cropping2d(ctx, 0, 0, 0, 0, NULL)};
  const char *names[] = {"leaky_re_lu_1",    "re_lu_1",         "softmax_1",
                         "zero_padding2d_2", "up_sampling2d_2", "cropping2d_2"};
  for (int i = 0; i < ARRAY_N(named); i++) {
    assert_string_equal(lm_layer_name(named[i]), names[i]);
    assert_ptr_equal(lml_find_class(lm_layer_class(named[i])), named[i]->cls);
  }
  assert_string_equal(sym_shape(lm_layer_call(named[2], x)), "(None, 9, 8, 3)");
  assert_int_equal(lm_errcode(ctx), LM_OK);
  lm_ctx_free(ctx);
}

static void test_errors(void **state) {
  lm_ctx *ctx = tu_ctx();
  lm_sym *x = input3(ctx, 4, 5, 2);
  assert_null(lm_layer_call(lm_layer_depthwise_conv2d(ctx, 5, 3, NULL), x));
  assert_err_has(ctx, "depthwise_conv2d_1: Negative dimension size caused by subtracting 5 from 4");
  assert_err_has(ctx, "(None, 4, 5, 2)");
  assert_null(lm_layer_separable_conv2d(ctx, 4, 3, 3, &(lm_separable_opts){.padding = "full"}));
  assert_err_has(ctx, "SeparableConv2D: the `padding` argument must be one of");
  assert_null(lm_layer_separable_conv2d(ctx, 0, 3, 3, NULL));
  assert_err_has(ctx, "filters 0");
  assert_null(lm_layer_separable_conv2d(ctx, 2, 3, 3, &(lm_separable_opts){.activation = "nope"}));
  assert_err_has(ctx, "Unknown activation function: nope");
  assert_null(lm_layer_call(lm_layer_cropping2d(ctx, 2, 2, 0, 0, NULL), x));
  assert_err_has(ctx, "cropping2d_1: cropping ((2, 2), (0, 0)) removes every row");
  assert_null(lm_layer_zero_padding2d(ctx, -1, 0, 0, 0, NULL));
  assert_err_has(ctx, "must be non-negative");
  assert_null(lm_layer_upsampling2d(ctx, 0, 2, NULL));
  assert_null(lm_layer_relu(ctx, &(lm_relu_opts){.has_max_value = true, .max_value = -1}));
  assert_err_has(ctx, "max_value of a ReLU layer cannot be a negative value");
  int64_t v[1] = {6};
  lm_sym *flat = lm_input(ctx, 1, v, LM_FLOAT32, NULL);
  assert_null(lm_layer_call(lm_layer_upsampling2d(ctx, 2, 2, NULL), flat));
  assert_err_has(ctx, "expected ndim=4, found shape (None, 6)");
  assert_null(lm_layer_call(lm_layer_softmax(ctx, 2, NULL), flat));
  assert_err_has(ctx, "softmax axis 2 is out of range for shape (None, 6)");
  /* a depthwise layer built for 2 channels refuses 3 */
  lm_layer *dw = lm_layer_depthwise_conv2d(ctx, 1, 1, NULL);
  assert_non_null(lm_layer_call(dw, x));
  assert_null(lm_layer_call(dw, input3(ctx, 4, 5, 3)));
  assert_err_has(ctx, "axis -1 of input shape to have value 2 but got shape (None, 4, 5, 3)");
  lm_ctx_free(ctx);
}

static void compile_mse(lm_model *m) {
  const char *loss = "mse";
  lm_compile_opts co = {.optimizer_name = "sgd", .n_losses = 1, .losses = &loss};
  if (lm_model_compile(m, &co) != LM_OK) fail_msg("compile: %s", lm_errmsg(lm_model_ctx(m)));
}

/* Forward values through a model's predict. */
static lm_tensor *predict1(lm_ctx *ctx, lm_sym *in, lm_sym *out, lm_tensor *x) {
  lm_model *m = lm_model_new(ctx, 1, &in, 1, &out, NULL);
  if (!m) fail_msg("model: %s", lm_errmsg(ctx));
  compile_mse(m);
  lm_data dx = {1, &x, NULL};
  lm_tensor *y = NULL;
  if (lm_model_predict(m, &dx, 32, &y) != LM_OK) fail_msg("predict: %s", lm_errmsg(ctx));
  return y;
}

static void test_forward_values(void **state) {
  lm_ctx *ctx = tu_ctx();
  int64_t xs[4] = {1, 2, 3, 1};
  float xv[6] = {-2, -0.5f, 0.05f, 0.5f, 1.0f, 3.0f};
  lm_tensor *x = lm_tensor_from(ctx, LM_FLOAT32, 4, xs, xv);
  lm_sym *in = input3(ctx, 2, 3, 1);
  /* ReLU(max_value=1, negative_slope=0.1, threshold=0.1) */
  lm_relu_opts ro = {
      .has_max_value = true, .max_value = 1.0f, .negative_slope = 0.1f, .threshold = 0.1f};
  lm_tensor *y = predict1(ctx, in, lm_layer_call(lm_layer_relu(ctx, &ro), in), x);
  const float want_relu[6] = {-0.21f, -0.06f, -0.005f, 0.5f, 1.0f, 1.0f};
  for (int i = 0; i < 6; i++) assert_float_equal(lm_tensor_f32(y)[i], want_relu[i], 1e-6);
  y = predict1(ctx, in, lm_layer_call(lm_layer_leaky_relu(ctx, 0.3f, NULL), in), x);
  assert_float_equal(lm_tensor_f32(y)[0], -0.6f, 1e-6);
  assert_float_equal(lm_tensor_f32(y)[5], 3.0f, 1e-6);
  y = predict1(ctx, in, lm_layer_call(lm_layer_leaky_relu(ctx, 0.0f, NULL), in), x);
  assert_float_equal(lm_tensor_f32(y)[0], 0.0f, 0); /* alpha 0 stays 0 */
  /* ZeroPadding2D((1, 0), (0, 2)) -> (3, 5) with x in rows 1..2, cols 0..2 */
  y = predict1(ctx, in, lm_layer_call(lm_layer_zero_padding2d(ctx, 1, 0, 0, 2, NULL), in), x);
  assert_int_equal(lm_tensor_size(y), 15);
  const float *p = lm_tensor_f32(y);
  for (int i = 0; i < 5; i++) assert_float_equal(p[i], 0.0f, 0);
  assert_float_equal(p[5], -2.0f, 0);
  assert_float_equal(p[7], 0.05f, 0);
  assert_float_equal(p[8], 0.0f, 0);
  assert_float_equal(p[12], 3.0f, 0);
  /* Cropping2D((1, 0), (1, 1)) keeps x[1, 1] only */
  y = predict1(ctx, in, lm_layer_call(lm_layer_cropping2d(ctx, 1, 0, 1, 1, NULL), in), x);
  assert_int_equal(lm_tensor_size(y), 1);
  assert_float_equal(lm_tensor_f32(y)[0], 1.0f, 0);
  /* UpSampling2D((2, 1)): rows repeated */
  y = predict1(ctx, in, lm_layer_call(lm_layer_upsampling2d(ctx, 2, 1, NULL), in), x);
  assert_int_equal(lm_tensor_size(y), 12);
  assert_float_equal(lm_tensor_f32(y)[3], -2.0f, 0);
  assert_float_equal(lm_tensor_f32(y)[11], 3.0f, 0);
  /* Softmax(axis=1): over the two rows */
  y = predict1(ctx, in, lm_layer_call(lm_layer_softmax(ctx, 1, NULL), in), x);
  float e0 = expf(-2.0f), e1 = expf(0.5f);
  assert_float_equal(lm_tensor_f32(y)[0], e0 / (e0 + e1), 1e-6);
  assert_float_equal(lm_tensor_f32(y)[0] + lm_tensor_f32(y)[3], 1.0f, 1e-6);
  lm_ctx_free(ctx);
}

static lm_model *make_model(lm_ctx *ctx) {
  lm_sym *in = input3(ctx, 7, 6, 2);
  lm_sym *x = lm_layer_call(lm_layer_zero_padding2d(ctx, 1, 1, 0, 1, NULL), in);
  x = lm_layer_call(lm_layer_depthwise_conv2d(ctx, 3, 2,
                                              &(lm_separable_opts){.depth_multiplier = 2,
                                                                   .strides = {2, 1},
                                                                   .padding = "same",
                                                                   .bias_initializer = "uniform"}),
                    x);
  x = lm_layer_call(lm_layer_leaky_relu(ctx, 0.2f, NULL), x);
  x = lm_layer_call(lm_layer_upsampling2d(ctx, 1, 2, NULL), x);
  x = lm_layer_call(lm_layer_separable_conv2d(ctx, 3, 2, 2,
                                              &(lm_separable_opts){.dilation_rate = {2, 1},
                                                                   .activation = "tanh",
                                                                   .bias_initializer = "uniform"}),
                    x);
  x = lm_layer_call(lm_layer_cropping2d(ctx, 1, 0, 0, 2, NULL), x);
  x = lm_layer_call(
      lm_layer_relu(
          ctx, &(lm_relu_opts){.has_max_value = true, .max_value = 0.5f, .negative_slope = 0.1f}),
      x);
  x = lm_layer_call(lm_layer_softmax(ctx, 2, NULL), x);
  lm_model *m = lm_model_new(ctx, 1, &in, 1, &x, NULL);
  if (!m) fail_msg("%s", lm_errmsg(ctx));
  compile_mse(m);
  return m;
}

static void test_save_load(void **state) {
  lm_ctx *ctx = tu_ctx();
  lm_model *m = make_model(ctx);
  int64_t xs[4] = {3, 7, 6, 2};
  lm_tensor *x = lm_tensor_new(ctx, LM_FLOAT32, 4, xs);
  for (int64_t i = 0; i < lm_tensor_size(x); i++) lm_tensor_f32(x)[i] = sinf((float)i);
  lm_data dx = {1, &x, NULL};
  lm_tensor *p1 = NULL, *p2 = NULL;
  assert_int_equal(lm_model_predict(m, &dx, 2, &p1), LM_OK);
  char path[] = "/tmp/lamina_test_spatial_XXXXXX";
  int fd = mkstemp(path);
  assert_true(fd >= 0);
  close(fd);
  assert_int_equal(lm_model_save(m, path), LM_OK);
  lm_ctx *ctx2 = tu_ctx();
  lm_model *m2 = lm_model_load(ctx2, path);
  unlink(path);
  if (!m2) fail_msg("load: %s", lm_errmsg(ctx2));
  assert_int_equal(lm_model_count_params(m2, 0), lm_model_count_params(m, 0));
  assert_int_equal(lm_model_predict(m2, &dx, 2, &p2), LM_OK);
  assert_int_equal(lm_tensor_size(p1), lm_tensor_size(p2));
  assert_memory_equal(lm_tensor_f32(p1), lm_tensor_f32(p2),
                      sizeof(float) * (size_t)lm_tensor_size(p1));
  tu_capture c1 = {0}, c2 = {0};
  lm_model_summary(m, tu_capture_fn, &c1);
  lm_model_summary(m2, tu_capture_fn, &c2);
  assert_string_equal(c1.text, c2.text);
  tu_capture_reset(&c1);
  tu_capture_reset(&c2);
  lm_ctx_free(ctx2);
  lm_ctx_free(ctx);
}

/* Fail the n-th allocation while building, compiling and fitting one step
 * of a model of every layer here, then while loading it from a file: an
 * error, never a crash or a leak. */
static int sweep_build(lm_ctx *ctx, const char *path) {
  int64_t s[3] = {6, 5, 2};
  lm_sym *in = lm_input(ctx, 3, s, LM_FLOAT32, NULL);
  lm_sym *x = lm_layer_call(lm_layer_zero_padding2d(ctx, 1, 0, 0, 1, NULL), in);
  x = lm_layer_call(
      lm_layer_depthwise_conv2d(ctx, 2, 2, &(lm_separable_opts){.depth_multiplier = 2}), x);
  x = lm_layer_call(lm_layer_leaky_relu(ctx, 0.3f, NULL), x);
  x = lm_layer_call(
      lm_layer_separable_conv2d(ctx, 3, 3, 3, &(lm_separable_opts){.padding = "same"}), x);
  x = lm_layer_call(
      lm_layer_conv2d_transpose(ctx, 2, 2, 2, &(lm_conv2d_transpose_opts){.strides = {2, 2}}),
      x);
  x = lm_layer_call(lm_layer_upsampling2d(ctx, 1, 2, NULL), x);
  x = lm_layer_call(lm_layer_cropping2d(ctx, 1, 1, 1, 1, NULL), x);
  x = lm_layer_call(lm_layer_relu(ctx, &(lm_relu_opts){.has_max_value = true, .max_value = 1}), x);
  x = lm_layer_call(lm_layer_softmax(ctx, -1, NULL), x);
  lm_model *m = lm_model_new(ctx, 1, &in, 1, &x, NULL);
  if (!m) return 0;
  const char *loss = "mse";
  lm_compile_opts co = {.optimizer_name = "adam", .n_losses = 1, .losses = &loss};
  if (lm_model_compile(m, &co)) return 0;
  int64_t xs[4] = {4, 6, 5, 2}, ys[4] = {4, 0, 0, 0};
  for (int i = 1; i < 4; i++) ys[i] = lm_sym_dim(x, i);
  lm_tensor *xt = lm_tensor_new(ctx, LM_FLOAT32, 4, xs);
  lm_tensor *yt = lm_tensor_new(ctx, LM_FLOAT32, 4, ys);
  if (!xt || !yt) return 0;
  lm_data dx = {1, &xt, NULL}, dy = {1, &yt, NULL};
  lm_fit_opts fo = LM_FIT_DEFAULTS;
  fo.verbose = 0;
  fo.batch_size = 4;
  if (!lm_model_fit(m, &dx, &dy, &fo)) return 0;
  return path ? lm_model_save(m, path) == LM_OK : 1;
}

static int sweep_load(lm_ctx *ctx, const char *path) { return lm_model_load(ctx, path) != NULL; }

static long sweep(int (*fn)(lm_ctx *, const char *), const char *path) {
  long n;
  int ok = 0;
  for (n = 0; n < 100000 && !ok; n++) {
    tu_failalloc fa = {.countdown = n};
    lm_ctx *ctx = lm_ctx_new(tu_failalloc_fn, &fa);
    if (!ctx) continue;
    lm_ctx_set_log(ctx, NULL, NULL);
    ok = fn(ctx, path);
    if (!ok && fa.failed != 1) fail_msg("failure point %ld: %s", n, lm_errmsg(ctx));
    if (!ok) assert_int_equal(lm_errcode(ctx), LM_ERR_NOMEM);
    lm_ctx_free(ctx);
    assert_int_equal(fa.live, 0);
  }
  assert_true(ok);
  return n - 1;
}

static void test_alloc_sweep(void **state) {
  char path[] = "/tmp/lamina_test_spatial_sweep_XXXXXX";
  int fd = mkstemp(path);
  assert_true(fd >= 0);
  close(fd);
  long n_build = sweep(sweep_build, NULL);
  lm_ctx *ctx = tu_ctx();
  assert_true(sweep_build(ctx, path));
  lm_ctx_free(ctx);
  long n_load = sweep(sweep_load, path);
  unlink(path);
  print_message("allocation sweep: %ld + %ld failure points checked\n", n_build, n_load);
}

/* ---- the depthwise kernel against a naive loop ---- */

static float rnd(uint32_t *s) {
  *s = *s * 1664525u + 1013904223u;
  return (float)((*s >> 8) & 0xffff) / 32768.0f - 1.0f;
}

static void naive(const lmk_dw_geom *q, const float *x, const float *k, const float *dy, double *y,
                  double *dx, double *dk) {
  int OC = q->c * q->dm;
  for (int b = 0; b < q->n; b++)
    for (int oy = 0; oy < q->oh; oy++)
      for (int ox = 0; ox < q->ow; ox++)
        for (int i = 0; i < q->kh; i++)
          for (int j = 0; j < q->kw; j++) {
            int iy = oy * q->sh - q->pad_top + i * q->dh, ix = ox * q->sw - q->pad_left + j * q->dw;
            if (iy < 0 || iy >= q->h || ix < 0 || ix >= q->w) continue;
            for (int o = 0; o < OC; o++) {
              int c = o / q->dm;
              int64_t xi = (((int64_t)b * q->h + iy) * q->w + ix) * q->c + c;
              int64_t yi = (((int64_t)b * q->oh + oy) * q->ow + ox) * OC + o;
              int64_t ki = (int64_t)(i * q->kw + j) * OC + o;
              y[yi] += (double)x[xi] * k[ki];
              dx[xi] += (double)dy[yi] * k[ki];
              dk[ki] += (double)x[xi] * dy[yi];
            }
          }
}

static int close_all(const float *got, const double *want, int64_t n) {
  int bad = 0;
  for (int64_t i = 0; i < n; i++)
    if (!(fabs(got[i] - want[i]) <= 1e-4 + 1e-4 * fabs(want[i]))) bad++;
  return bad;
}

static void test_depthwise_kernel(void **state) {
  static const int grid[][9] = {
      /* h, w, c, kh, kw, dm, stride, dilation, same */
      {7, 6, 3, 3, 3, 1, 1, 1, 0},
      {7, 6, 3, 3, 3, 2, 2, 1, 1},
      {8, 9, 5, 2, 2, 1, 2, 1, 1},
      {9, 8, 4, 3, 2, 3, 1, 2, 1},
      {5, 5, 16, 5, 5, 1, 1, 1, 1},
      {6, 7, 2, 1, 1, 4, 3, 1, 0},
      {12, 11, 8, 3, 3, 2, 2, 2, 1},
      {20, 20, 32, 3, 3, 1, 1, 1, 1},
      /* register blocks of 32 channels and a remainder */
      {9, 10, 40, 3, 3, 1, 2, 1, 1},
      {8, 7, 64, 2, 3, 1, 1, 2, 0},
      {6, 6, 33, 3, 3, 1, 3, 1, 1},
  };
  uint32_t seed = 12345;
  for (int gi = 0; gi < ARRAY_N(grid); gi++) {
    const int *p = grid[gi];
    lmk_dw_geom q = {.n = 3,
                     .h = p[0],
                     .w = p[1],
                     .c = p[2],
                     .kh = p[3],
                     .kw = p[4],
                     .dm = p[5],
                     .sh = p[6],
                     .sw = p[6],
                     .dh = p[7],
                     .dw = p[7]};
    int64_t before, after;
    q.oh = (int)lmk_conv_out(q.h, q.kh, q.sh, q.dh, p[8]);
    q.ow = (int)lmk_conv_out(q.w, q.kw, q.sw, q.dw, p[8]);
    lmk_conv_pads(q.h, q.kh, q.sh, q.dh, p[8], &before, &after);
    q.pad_top = (int)before;
    lmk_conv_pads(q.w, q.kw, q.sw, q.dw, p[8], &before, &after);
    q.pad_left = (int)before;
    int OC = q.c * q.dm;
    int64_t nx = (int64_t)q.n * q.h * q.w * q.c, ny = (int64_t)q.n * q.oh * q.ow * OC,
            nk = (int64_t)q.kh * q.kw * OC;
    float *x = malloc(sizeof(float) * (size_t)nx), *k = malloc(sizeof(float) * (size_t)nk),
          *dy = malloc(sizeof(float) * (size_t)ny);
    double *ry = calloc((size_t)ny, sizeof(double)), *rdx = calloc((size_t)nx, sizeof(double)),
           *rdk = calloc((size_t)nk, sizeof(double));
    for (int64_t i = 0; i < nx; i++) x[i] = rnd(&seed);
    for (int64_t i = 0; i < nk; i++) k[i] = rnd(&seed);
    for (int64_t i = 0; i < ny; i++) dy[i] = rnd(&seed);
    naive(&q, x, k, dy, ry, rdx, rdk);
    float *out[2][3];
    void *scratch = malloc(lmk_depthwise_scratch(&q));
    for (int t = 0; t < 2; t++) {
      out[t][0] = malloc(sizeof(float) * (size_t)ny);
      out[t][1] = calloc((size_t)nx, sizeof(float));
      out[t][2] = calloc((size_t)nk, sizeof(float));
      lmk_depthwise_fwd(&q, x, k, NULL, out[t][0], t + 1);
      lmk_depthwise_bwd_data(&q, dy, k, out[t][1], t + 1);
      lmk_depthwise_bwd_filter(&q, x, dy, out[t][2], scratch, t + 1);
      if (close_all(out[t][0], ry, ny) || close_all(out[t][1], rdx, nx) ||
          close_all(out[t][2], rdk, nk))
        fail_msg("grid case %d, %d threads: depthwise differs from the naive loop", gi, t + 1);
    }
    assert_memory_equal(out[0][0], out[1][0], sizeof(float) * (size_t)ny);
    assert_memory_equal(out[0][1], out[1][1], sizeof(float) * (size_t)nx);
    assert_memory_equal(out[0][2], out[1][2], sizeof(float) * (size_t)nk);
    for (int t = 0; t < 2; t++)
      for (int i = 0; i < 3; i++) free(out[t][i]);
    free(scratch);
    free(x), free(k), free(dy), free(ry), free(rdx), free(rdk);
  }
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_separable_listing),
      cmocka_unit_test(test_shapes_params_names),
      cmocka_unit_test(test_errors),
      cmocka_unit_test(test_forward_values),
      cmocka_unit_test(test_save_load),
      cmocka_unit_test(test_depthwise_kernel),
      cmocka_unit_test(test_alloc_sweep),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}

/* A small residual network with batch normalisation on Fashion-MNIST:
 *
 *   Conv2D(16, 3, same) -> BN -> ReLU                      28x28x16
 *   residual block(16)                                     28x28x16
 *   Conv2D(32, 3, strides 2, same) -> BN -> ReLU           14x14x32
 *   residual block(32)                                     14x14x32
 *   GlobalAveragePooling2D -> Dense(10, softmax)
 *
 * residual block(f): y = Conv2D(f, 3, same) -> BN -> ReLU -> Conv2D(f, 3, same)
 * -> BN; out = ReLU(add([x, y])). The convolutions before a BatchNormalization
 * have no bias (use_bias=False): BN's beta plays that role. Adam, batch 64.
 *
 *   fashion_resnet [DIR] [--epochs N] [--train N] [--threads N] [--seed S]
 *                  [--momentum M]
 *
 * evaluate()/predict() and the per-epoch val_acc use the BN moving statistics,
 * not the batch's. BatchNormalization(momentum=0.99) updates them as
 * moving = 0.99 * moving + 0.01 * batch_stat, so they need a few hundred steps
 * to forget their start values (mean 0, variance 1): after n steps a fraction
 * 0.99^n of the start remains (37% after 100 steps, 0.008% after one epoch of
 * 60,000 images at batch 64 = 938 steps). On a short run (a few thousand
 * images) the moving statistics are still wrong and test accuracy looks poor
 * while the training accuracy is fine. Keras users then lower the momentum,
 * BatchNormalization(momentum=0.9) (1 - 0.9^n forgets in ~50 steps), which is
 * what --momentum does; they do not evaluate in training mode. (Keras 2.2.4 on
 * TensorFlow 1 debiased the average, moving / (1 - momentum^n); lamina follows
 * Keras 2.3+ and tf.keras with the plain average, see docs/keras-compat.md.) */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fashion_data.h"
#include "lamina.h"

static float bn_momentum = 0.99f;

static lm_sym *conv_bn(lm_ctx *ctx, lm_sym *x, int filters, int stride, bool relu) {
  lm_conv2d_opts co = {.strides = {stride, stride}, .padding = "same", .no_bias = true};
  x = lm_layer_call(lm_layer_conv2d(ctx, filters, 3, 3, &co), x);
  lm_batchnorm_opts bo = {.momentum = bn_momentum};
  x = lm_layer_call(lm_layer_batch_normalization(ctx, &bo), x);
  return relu ? lm_layer_call(lm_layer_activation(ctx, "relu", NULL), x) : x;
}

static lm_sym *residual_block(lm_ctx *ctx, lm_sym *x, int filters) {
  lm_sym *y = conv_bn(ctx, x, filters, 1, true);
  y = conv_bn(ctx, y, filters, 1, false);
  lm_sym *pair[2] = {x, y};
  return lm_layer_call(lm_layer_activation(ctx, "relu", NULL), lm_add(ctx, 2, pair));
}

static lm_model *build(lm_ctx *ctx) {
  int64_t shape[3] = {28, 28, 1};
  lm_sym *input = lm_input(ctx, 3, shape, LM_FLOAT32, NULL);
  lm_sym *x = conv_bn(ctx, input, 16, 1, true);
  x = residual_block(ctx, x, 16);
  x = conv_bn(ctx, x, 32, 2, true);
  x = residual_block(ctx, x, 32);
  x = lm_layer_call(lm_layer_global_average_pooling2d(ctx, NULL), x);
  lm_sym *out =
      lm_layer_call(lm_layer_dense(ctx, 10, &(lm_dense_opts){.activation = "softmax"}), x);
  return lm_model_new(ctx, 1, &input, 1, &out, NULL);
}

static int fail(lm_ctx *ctx) {
  fprintf(stderr, "fashion_resnet: %s\n", lm_errmsg(ctx));
  lm_ctx_free(ctx);
  return 1;
}

int main(int argc, char **argv) {
  const char *dir_arg = NULL;
  int epochs = 3, threads = 0;
  unsigned long long seed = 0;
  bool has_seed = false;
  int64_t n_train = 0;
  for (int i = 1; i < argc; i++) {
    if (strcmp(argv[i], "--epochs") == 0 && i + 1 < argc)
      epochs = atoi(argv[++i]);
    else if (strcmp(argv[i], "--train") == 0 && i + 1 < argc)
      n_train = atoll(argv[++i]);
    else if (strcmp(argv[i], "--threads") == 0 && i + 1 < argc)
      threads = atoi(argv[++i]);
    else if (strcmp(argv[i], "--momentum") == 0 && i + 1 < argc)
      bn_momentum = (float)atof(argv[++i]);
    else if (strcmp(argv[i], "--seed") == 0 && i + 1 < argc) {
      seed = strtoull(argv[++i], NULL, 10);
      has_seed = true;
    } else
      dir_arg = argv[i];
  }
  const char *dir = fashion_find_dir(dir_arg);
  if (!dir) {
    fprintf(stderr, "fashion_resnet: Fashion-MNIST not found; install Debian's "
                    "dataset-fashion-mnist or pass the folder\n");
    return 1;
  }
  lm_ctx *ctx = lm_ctx_new(NULL, NULL);
  if (has_seed) lm_ctx_set_seed(ctx, seed);
  if (threads > 0) lm_ctx_set_threads(ctx, threads);
  lm_tensor *x_train = fashion_load(ctx, dir, "train-images-idx3-ubyte.gz", n_train, 4);
  lm_tensor *y_train = fashion_load(ctx, dir, "train-labels-idx1-ubyte.gz", n_train, 0);
  lm_tensor *x_test = fashion_load(ctx, dir, "t10k-images-idx3-ubyte.gz", 0, 4);
  lm_tensor *y_test = fashion_load(ctx, dir, "t10k-labels-idx1-ubyte.gz", 0, 0);
  if (!x_train || !y_train || !x_test || !y_test) return fail(ctx);

  lm_model *model = build(ctx);
  const char *loss = "sparse_categorical_crossentropy", *metric = "acc";
  lm_compile_opts co = {.optimizer_name = "adam", .n_losses = 1, .losses = &loss,
                        .n_metrics = 1, .metrics = &metric};
  if (!model || lm_model_compile(model, &co)) return fail(ctx);
  lm_model_summary(model, NULL, NULL);

  lm_data dx = {1, &x_train, NULL}, dy = {1, &y_train, NULL};
  lm_data tx = {1, &x_test, NULL}, ty = {1, &y_test, NULL};
  lm_fit_opts fo = LM_FIT_DEFAULTS;
  fo.epochs = epochs;
  fo.batch_size = 64;
  fo.verbose = 2;
  fo.val_x = &tx; /* val_acc: test accuracy with the moving statistics */
  fo.val_y = &ty;
  if (!lm_model_fit(model, &dx, &dy, &fo)) return fail(ctx);
  double logs[2];
  if (lm_model_evaluate(model, &tx, &ty, 256, 0, logs)) return fail(ctx);
  printf("test_loss: %.4f\ntest_acc: %.4f\n", logs[0], logs[1]);
  lm_ctx_free(ctx);
  return 0;
}

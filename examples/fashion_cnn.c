/* The lecture's convnet on Fashion-MNIST:
 *   Conv2D(32, 3, relu) -> MaxPooling2D -> Conv2D(64, 3, relu) -> MaxPooling2D
 *   -> Flatten -> Dense(128, relu) -> Dense(10, softmax), Adam, batch 64, 5 epochs.
 *
 *   fashion_cnn [DIR] [--epochs N] [--train N] [--threads N] [--seed S]
 *
 * The same program as a Keras script: examples/fashion_mnist_cnn.py; with the
 * same --seed and --threads, `lamina run` prints the same numbers.
 *
 * DIR holds the four IDX .gz files; without it the data comes from
 * $LAMINA_FASHION_MNIST, Debian's dataset-fashion-mnist package
 * (/usr/share/datasets/fashion-mnist) or ../shared/data/fashion-mnist.
 * Prints the summary, one line per epoch and `test_acc: 0.9xxx`. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fashion_data.h"
#include "lamina.h"

static lm_sym *conv(lm_ctx *ctx, int filters, lm_sym *x) {
  return lm_layer_call(lm_layer_conv2d(ctx, filters, 3, 3, &(lm_conv2d_opts){.activation = "relu"}),
                       x);
}

int main(int argc, char **argv) {
  const char *dir_arg = NULL;
  int epochs = 5, threads = 0;
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
    else if (strcmp(argv[i], "--seed") == 0 && i + 1 < argc) {
      seed = strtoull(argv[++i], NULL, 10);
      has_seed = true;
    }
    else
      dir_arg = argv[i];
  }
  const char *dir = fashion_find_dir(dir_arg);
  if (!dir) {
    fprintf(stderr, "fashion_cnn: Fashion-MNIST not found; install Debian's "
                    "dataset-fashion-mnist or pass the folder\n");
    return 1;
  }
  lm_ctx *ctx = lm_ctx_new(NULL, NULL);
  if (has_seed) lm_ctx_set_seed(ctx, seed); /* else the default, as `lamina run` */
  if (threads > 0) lm_ctx_set_threads(ctx, threads);
  lm_tensor *x_train = fashion_load(ctx, dir, "train-images-idx3-ubyte.gz", n_train, 4);
  lm_tensor *y_train = fashion_load(ctx, dir, "train-labels-idx1-ubyte.gz", n_train, 0);
  lm_tensor *x_test = fashion_load(ctx, dir, "t10k-images-idx3-ubyte.gz", 0, 4);
  lm_tensor *y_test = fashion_load(ctx, dir, "t10k-labels-idx1-ubyte.gz", 0, 0);
  if (!x_train || !y_train || !x_test || !y_test) {
    fprintf(stderr, "fashion_cnn: %s\n", lm_errmsg(ctx));
    lm_ctx_free(ctx);
    return 1;
  }

  int64_t shape[3] = {28, 28, 1};
  lm_sym *input = lm_input(ctx, 3, shape, LM_FLOAT32, NULL);
  lm_sym *x = conv(ctx, 32, input);
  x = lm_layer_call(lm_layer_max_pooling2d(ctx, 2, 2, NULL), x);
  x = conv(ctx, 64, x);
  x = lm_layer_call(lm_layer_max_pooling2d(ctx, 2, 2, NULL), x);
  x = lm_layer_call(lm_layer_flatten(ctx, NULL), x);
  x = lm_layer_call(lm_layer_dense(ctx, 128, &(lm_dense_opts){.activation = "relu"}), x);
  lm_sym *out =
      lm_layer_call(lm_layer_dense(ctx, 10, &(lm_dense_opts){.activation = "softmax"}), x);
  lm_model *model = lm_model_new(ctx, 1, &input, 1, &out, NULL);
  const char *loss = "sparse_categorical_crossentropy", *metric = "acc";
  lm_compile_opts co = {.optimizer_name = "adam", .n_losses = 1, .losses = &loss,
                        .n_metrics = 1, .metrics = &metric};
  if (!model || lm_model_compile(model, &co)) {
    fprintf(stderr, "fashion_cnn: %s\n", lm_errmsg(ctx));
    lm_ctx_free(ctx);
    return 1;
  }
  lm_model_summary(model, NULL, NULL);

  /* validation_data=(x_test, y_test) as in the classic Keras example: val_acc
   * after each epoch is the test accuracy of that epoch's weights */
  lm_data dx = {1, &x_train, NULL}, dy = {1, &y_train, NULL};
  lm_data tx = {1, &x_test, NULL}, ty = {1, &y_test, NULL};
  lm_fit_opts fo = LM_FIT_DEFAULTS;
  fo.epochs = epochs;
  fo.batch_size = 64;
  fo.verbose = 2;
  fo.val_x = &tx;
  fo.val_y = &ty;
  if (!lm_model_fit(model, &dx, &dy, &fo)) {
    fprintf(stderr, "fashion_cnn: %s\n", lm_errmsg(ctx));
    lm_ctx_free(ctx);
    return 1;
  }
  double logs[2];
  if (lm_model_evaluate(model, &tx, &ty, 256, 0, logs)) {
    fprintf(stderr, "fashion_cnn: %s\n", lm_errmsg(ctx));
    lm_ctx_free(ctx);
    return 1;
  }
  printf("test_loss: %.4f\ntest_acc: %.4f\n", logs[0], logs[1]);
  lm_ctx_free(ctx);
  return 0;
}

/* An LSTM reading Fashion-MNIST images as sequences of 28 rows of 28 pixels:
 *   Input(28, 28) -> LSTM(64) -> Dense(10, softmax), Adam, batch 64, 5 epochs
 *   (Keras 2.2.4 LSTM defaults: hard_sigmoid gates, orthogonal recurrent
 * kernel).
 *
 *   fashion_lstm [DIR] [--epochs N] [--train N] [--threads N] [--units U]
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

int main(int argc, char **argv) {
  const char *dir_arg = NULL;
  int epochs = 5, threads = 0, units = 64;
  int64_t n_train = 0;
  for (int i = 1; i < argc; i++) {
    if (strcmp(argv[i], "--epochs") == 0 && i + 1 < argc)
      epochs = atoi(argv[++i]);
    else if (strcmp(argv[i], "--train") == 0 && i + 1 < argc)
      n_train = atoll(argv[++i]);
    else if (strcmp(argv[i], "--units") == 0 && i + 1 < argc)
      units = atoi(argv[++i]);
    else if (strcmp(argv[i], "--threads") == 0 && i + 1 < argc)
      threads = atoi(argv[++i]);
    else
      dir_arg = argv[i];
  }
  const char *dir = fashion_find_dir(dir_arg);
  if (!dir) {
    fprintf(stderr, "fashion_lstm: Fashion-MNIST not found; install Debian's "
                    "dataset-fashion-mnist or pass the folder\n");
    return 1;
  }
  lm_ctx *ctx = lm_ctx_new(NULL, NULL);
  lm_ctx_set_seed(ctx, 42);
  if (threads > 0)
    lm_ctx_set_threads(ctx, threads);
  lm_tensor *x_train =
      fashion_load(ctx, dir, "train-images-idx3-ubyte.gz", n_train, 3);
  lm_tensor *y_train =
      fashion_load(ctx, dir, "train-labels-idx1-ubyte.gz", n_train, 0);
  lm_tensor *x_test = fashion_load(ctx, dir, "t10k-images-idx3-ubyte.gz", 0, 3);
  lm_tensor *y_test = fashion_load(ctx, dir, "t10k-labels-idx1-ubyte.gz", 0, 0);
  if (!x_train || !y_train || !x_test || !y_test) {
    fprintf(stderr, "fashion_lstm: %s\n", lm_errmsg(ctx));
    lm_ctx_free(ctx);
    return 1;
  }

  int64_t shape[2] = {28, 28};
  lm_sym *input = lm_input(ctx, 2, shape, LM_FLOAT32, NULL);
  lm_sym *x = lm_layer_call(lm_layer_lstm(ctx, units, NULL), input);
  lm_sym *out = lm_layer_call(
      lm_layer_dense(ctx, 10, &(lm_dense_opts){.activation = "softmax"}), x);
  lm_model *model = lm_model_new(ctx, 1, &input, 1, &out, NULL);
  const char *loss = "sparse_categorical_crossentropy", *metric = "acc";
  lm_compile_opts co = {.optimizer_name = "adam",
                        .n_losses = 1,
                        .losses = &loss,
                        .n_metrics = 1,
                        .metrics = &metric};
  if (!model || lm_model_compile(model, &co)) {
    fprintf(stderr, "fashion_lstm: %s\n", lm_errmsg(ctx));
    lm_ctx_free(ctx);
    return 1;
  }
  lm_model_summary(model, NULL, NULL);

  lm_data dx = {1, &x_train, NULL}, dy = {1, &y_train, NULL};
  lm_fit_opts fo = LM_FIT_DEFAULTS;
  fo.epochs = epochs;
  fo.batch_size = 64;
  fo.verbose = 2;
  if (!lm_model_fit(model, &dx, &dy, &fo)) {
    fprintf(stderr, "fashion_lstm: %s\n", lm_errmsg(ctx));
    lm_ctx_free(ctx);
    return 1;
  }
  double logs[2];
  lm_data tx = {1, &x_test, NULL}, ty = {1, &y_test, NULL};
  if (lm_model_evaluate(model, &tx, &ty, 256, 0, logs)) {
    fprintf(stderr, "fashion_lstm: %s\n", lm_errmsg(ctx));
    lm_ctx_free(ctx);
    return 1;
  }
  printf("test_loss: %.4f\ntest_acc: %.4f\n", logs[0], logs[1]);
  lm_ctx_free(ctx);
  return 0;
}

/* Dense(64, relu) -> Dense(10, softmax) on the 1797 scikit-learn digits.
 *
 *   digits_mlp [digits.csv.gz]
 *
 * Without an argument the data comes from $LAMINA_DIGITS, Debian's
 * python3-sklearn package, or ../shared/data/digits. Prints val_acc. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "data/csv.h"
#include "lamina.h"

/* The file lists the digits in the order they were collected, and Keras'
 * validation_split takes the last 20% unshuffled: that slice comes from other
 * writers (an MLP, like scikit-learn's, scores ~0.91 on it). Shuffle the rows
 * once with a fixed seed first, as the Keras docs advise. */
static void shuffle_rows(float *rows, int64_t n, int64_t cols, uint64_t seed) {
  float tmp[256];
  for (int64_t i = n - 1; i > 0; i--) {
    seed = seed * 6364136223846793005ULL + 1442695040888963407ULL;
    int64_t j = (int64_t)((seed >> 33) % (uint64_t)(i + 1));
    memcpy(tmp, rows + i * cols, sizeof(float) * (size_t)cols);
    memcpy(rows + i * cols, rows + j * cols, sizeof(float) * (size_t)cols);
    memcpy(rows + j * cols, tmp, sizeof(float) * (size_t)cols);
  }
}

static const char *find_digits(int argc, char **argv) {
  static const char *const candidates[] = {
      "/usr/lib/python3/dist-packages/sklearn/datasets/data/digits.csv.gz",
      "../shared/data/digits/digits.csv.gz",
      "../../shared/data/digits/digits.csv.gz",
  };
  if (argc > 1) return argv[1];
  const char *env = getenv("LAMINA_DIGITS");
  if (env) return env;
  for (size_t i = 0; i < sizeof candidates / sizeof *candidates; i++)
    if (access(candidates[i], R_OK) == 0) return candidates[i];
  return NULL;
}

int main(int argc, char **argv) {
  const char *path = find_digits(argc, argv);
  if (!path) {
    fprintf(stderr, "digits_mlp: digits.csv.gz not found; install Debian's python3-sklearn "
                    "or pass the file's path\n");
    return 1;
  }
  lm_ctx *ctx = lm_ctx_new(NULL, NULL);
  lm_ctx_set_seed(ctx, 42);
  lm_tensor *table = lmd_load_csv(ctx, path, ',', 0);
  if (!table) {
    fprintf(stderr, "digits_mlp: %s\n", lm_errmsg(ctx));
    lm_ctx_free(ctx);
    return 1;
  }
  int64_t n = lm_tensor_dim(table, 0), cols = lm_tensor_dim(table, 1);
  shuffle_rows(lm_tensor_f32(table), n, cols, 7);
  int64_t xs[2] = {n, cols - 1}, ys[2] = {n, 10};
  lm_tensor *x = lm_tensor_new(ctx, LM_FLOAT32, 2, xs);
  lm_tensor *y = lm_tensor_new(ctx, LM_FLOAT32, 2, ys);
  const float *t = lm_tensor_f32(table);
  for (int64_t i = 0; i < n; i++) {
    for (int64_t j = 0; j < cols - 1; j++) lm_tensor_f32(x)[i * (cols - 1) + j] = t[i * cols + j] / 16.0f;
    lm_tensor_f32(y)[i * 10 + (int)t[i * cols + cols - 1]] = 1.0f;
  }
  printf("digits: %lld samples of %lld pixels from %s\n", (long long)n, (long long)(cols - 1), path);

  int64_t in_shape[1] = {cols - 1};
  lm_sym *in = lm_input(ctx, 1, in_shape, LM_FLOAT32, NULL);
  lm_sym *h = lm_layer_call(lm_layer_dense(ctx, 64, &(lm_dense_opts){.activation = "relu"}), in);
  lm_sym *out = lm_layer_call(lm_layer_dense(ctx, 10, &(lm_dense_opts){.activation = "softmax"}), h);
  lm_model *model = lm_model_new(ctx, 1, &in, 1, &out, NULL);
  if (!model) {
    fprintf(stderr, "digits_mlp: %s\n", lm_errmsg(ctx));
    lm_ctx_free(ctx);
    return 1;
  }
  lm_model_summary(model, NULL, NULL);
  const char *loss = "categorical_crossentropy", *metric = "acc";
  lm_compile_opts co = {.optimizer_name = "adam", .n_losses = 1, .losses = &loss,
                        .n_metrics = 1, .metrics = &metric};
  if (lm_model_compile(model, &co)) {
    fprintf(stderr, "digits_mlp: %s\n", lm_errmsg(ctx));
    lm_ctx_free(ctx);
    return 1;
  }
  lm_fit_opts fo = LM_FIT_DEFAULTS;
  fo.epochs = 40;
  fo.batch_size = 32;
  fo.validation_split = 0.2f;
  fo.verbose = 2;
  lm_data dx = {1, &x, NULL}, dy = {1, &y, NULL};
  lm_history *hist = lm_model_fit(model, &dx, &dy, &fo);
  if (!hist) {
    fprintf(stderr, "digits_mlp: %s\n", lm_errmsg(ctx));
    lm_ctx_free(ctx);
    return 1;
  }
  const double *val_acc = lm_history_get(hist, "val_acc");
  printf("val_acc: %.4f\n", val_acc[lm_history_n_epochs(hist) - 1]);
  lm_ctx_free(ctx);
  return 0;
}

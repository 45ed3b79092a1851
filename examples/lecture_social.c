/* The lecture's social-media model: one int32 input, three outputs (age,
 * income, gender) with losses ['mse', 'categorical_crossentropy',
 * 'binary_crossentropy'] and loss_weights [0.25, 1., 10.]. Trains on random
 * posts; fit reports loss, age_loss, income_loss, gender_loss and the
 * metrics per output.
 *   build/lecture_social [epochs] [samples] */
#include <stdio.h>
#include <stdlib.h>

#include <lamina.h>

enum { VOCABULARY_SIZE = 50000, NUM_INCOME_GROUPS = 10, MAX_LENGTH = 300 };

static lm_layer *conv(lm_ctx *ctx, int filters) {
  return lm_layer_conv1d(ctx, filters, 5,
                         &(lm_conv1d_opts){.activation = "relu"});
}

int main(int argc, char **argv) {
  int epochs = argc > 1 ? atoi(argv[1]) : 2;
  int n = argc > 2 ? atoi(argv[2]) : 256;
  lm_ctx *ctx = lm_ctx_new(NULL, NULL);
  lm_ctx_set_seed(ctx, 1);
  lm_sym *posts_input =
      lm_input(ctx, 1, (int64_t[]){LM_NONE}, LM_INT32, "posts");
  lm_sym *x = lm_layer_call(lm_layer_embedding(ctx, VOCABULARY_SIZE, 256, NULL),
                            posts_input);
  x = lm_layer_call(conv(ctx, 128), x);
  x = lm_layer_call(lm_layer_max_pooling1d(ctx, 5, 0, NULL, NULL), x);
  x = lm_layer_call(conv(ctx, 256), x);
  x = lm_layer_call(conv(ctx, 256), x);
  x = lm_layer_call(lm_layer_max_pooling1d(ctx, 5, 0, NULL, NULL), x);
  x = lm_layer_call(conv(ctx, 256), x);
  x = lm_layer_call(conv(ctx, 256), x);
  x = lm_layer_call(lm_layer_global_max_pooling1d(ctx, NULL), x);
  x = lm_layer_call(
      lm_layer_dense(ctx, 128, &(lm_dense_opts){.activation = "relu"}), x);
  lm_sym *outs[3] = {
      lm_layer_call(lm_layer_dense(ctx, 1, &(lm_dense_opts){.name = "age"}), x),
      lm_layer_call(lm_layer_dense(ctx, NUM_INCOME_GROUPS,
                                   &(lm_dense_opts){.activation = "softmax",
                                                    .name = "income"}),
                    x),
      lm_layer_call(lm_layer_dense(ctx, 1,
                                   &(lm_dense_opts){.activation = "sigmoid",
                                                    .name = "gender"}),
                    x),
  };
  lm_model *model = lm_model_new(ctx, 1, &posts_input, 3, outs, NULL);
  const char *losses[3] = {"mse", "categorical_crossentropy",
                           "binary_crossentropy"};
  const float weights[3] = {0.25f, 1.0f, 10.0f};
  const char *metric = "acc";
  lm_compile_opts co = {.optimizer_name = "rmsprop",
                        .n_losses = 3,
                        .losses = losses,
                        .n_loss_weights = 3,
                        .loss_weights = weights,
                        .n_metrics = 1,
                        .metrics = &metric};
  if (!model || lm_model_compile(model, &co)) {
    fprintf(stderr, "%s\n", lm_errmsg(ctx));
    return 1;
  }
  lm_model_summary(model, NULL, NULL);

  lm_tensor *posts =
      lm_tensor_new(ctx, LM_INT32, 2, (int64_t[]){n, MAX_LENGTH});
  lm_tensor *age = lm_tensor_new(ctx, LM_FLOAT32, 2, (int64_t[]){n, 1});
  lm_tensor *income =
      lm_tensor_new(ctx, LM_FLOAT32, 2, (int64_t[]){n, NUM_INCOME_GROUPS});
  lm_tensor *gender = lm_tensor_new(ctx, LM_FLOAT32, 2, (int64_t[]){n, 1});
  if (!posts || !age || !income || !gender) {
    fprintf(stderr, "%s\n", lm_errmsg(ctx));
    return 1;
  }
  uint64_t s = 5;
  for (int64_t i = 0; i < (int64_t)n * MAX_LENGTH; i++) {
    s = s * 6364136223846793005ULL + 1442695040888963407ULL;
    lm_tensor_i32(posts)[i] = 1 + (int32_t)((s >> 33) % (VOCABULARY_SIZE - 1));
  }
  for (int i = 0; i < n; i++) {
    lm_tensor_f32(age)[i] = (float)(20 + i % 40) / 10.0f;
    lm_tensor_f32(income)[i * NUM_INCOME_GROUPS + i % NUM_INCOME_GROUPS] = 1.0f;
    lm_tensor_f32(gender)[i] = (float)(i % 2);
  }
  lm_tensor *ys[3] = {age, income, gender};
  lm_data dx = {1, &posts, NULL}, dy = {3, ys, NULL};
  lm_fit_opts fo = LM_FIT_DEFAULTS;
  fo.epochs = epochs;
  fo.batch_size = 64;
  lm_history *h = lm_model_fit(model, &dx, &dy, &fo);
  if (!h) {
    fprintf(stderr, "%s\n", lm_errmsg(ctx));
    return 1;
  }
  printf("history keys:");
  for (int k = 0; k < lm_history_n_keys(h); k++)
    printf(" %s", lm_history_key(h, k));
  printf("\n");
  lm_ctx_free(ctx);
  return 0;
}

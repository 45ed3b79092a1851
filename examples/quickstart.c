/* The README's C example: the lecture's functional MLP on random data. */
#include <stdio.h>

#include <lamina.h>

int main(void) {
  lm_ctx *ctx = lm_ctx_new(NULL, NULL);
  int64_t shape[1] = {64};
  lm_sym *input = lm_input(ctx, 1, shape, LM_FLOAT32, NULL); /* input_1 */
  lm_sym *x = lm_layer_call(lm_layer_dense(ctx, 32, &(lm_dense_opts){.activation = "relu"}), input);
  x = lm_layer_call(lm_layer_dense(ctx, 32, &(lm_dense_opts){.activation = "relu"}), x);
  lm_sym *out = lm_layer_call(lm_layer_dense(ctx, 10, &(lm_dense_opts){.activation = "softmax"}), x);
  lm_model *model = lm_model_new(ctx, 1, &input, 1, &out, NULL);
  if (!model) { /* one check for the whole chain */
    fprintf(stderr, "%s\n", lm_errmsg(ctx));
    return 1;
  }
  lm_model_summary(model, NULL, NULL); /* Total params: 3,466 */

  const char *loss = "categorical_crossentropy", *metric = "acc";
  lm_compile_opts co = {.optimizer_name = "rmsprop", .n_losses = 1, .losses = &loss,
                        .n_metrics = 1, .metrics = &metric};
  lm_model_compile(model, &co);

  int64_t xs[2] = {1000, 64}, ys[2] = {1000, 10};
  lm_tensor *x_train = lm_tensor_new(ctx, LM_FLOAT32, 2, xs); /* np.random.random((1000, 64)) */
  lm_tensor *y_train = lm_tensor_new(ctx, LM_FLOAT32, 2, ys);
  uint64_t s = 1;
  for (int64_t i = 0; i < 1000 * 64; i++) {
    s = s * 6364136223846793005ULL + 1442695040888963407ULL;
    lm_tensor_f32(x_train)[i] = (float)(s >> 40) / (float)(1 << 24);
  }
  for (int64_t i = 0; i < 1000 * 10; i++) {
    s = s * 6364136223846793005ULL + 1442695040888963407ULL;
    lm_tensor_f32(y_train)[i] = (float)(s >> 40) / (float)(1 << 24);
  }
  lm_data dx = {1, &x_train, NULL}, dy = {1, &y_train, NULL};
  lm_fit_opts fo = LM_FIT_DEFAULTS;
  fo.epochs = 10;
  fo.batch_size = 128;
  lm_history *h = lm_model_fit(model, &dx, &dy, &fo);
  if (!h) {
    fprintf(stderr, "%s\n", lm_errmsg(ctx));
    return 1;
  }
  double score;
  lm_model_evaluate(model, &dx, &dy, 32, 0, &score);
  printf("loss: %.4f\n", score);
  lm_status st = lm_model_save(model, "mlp.safetensors"); /* atomic write */
  if (st) fprintf(stderr, "%s\n", lm_errmsg(ctx));
  lm_ctx_free(ctx); /* frees everything */
  return st ? 1 : 0;
}

/* The lecture's shared-LSTM (siamese) model: one LSTM(32) called on two
 * inputs, so both branches train the same weights (summary: 20,673 params).
 *   build/lecture_shared_lstm [epochs] */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include <lamina.h>

int main(int argc, char **argv) {
  int epochs = argc > 1 ? atoi(argv[1]) : 5;
  lm_ctx *ctx = lm_ctx_new(NULL, NULL);
  lm_ctx_set_seed(ctx, 1);
  lm_layer *lstm = lm_layer_lstm(ctx, 32, NULL);
  lm_sym *left_input =
      lm_input(ctx, 2, (int64_t[]){LM_NONE, 128}, LM_FLOAT32, NULL);
  lm_sym *left_output = lm_layer_call(lstm, left_input);
  lm_sym *right_input =
      lm_input(ctx, 2, (int64_t[]){LM_NONE, 128}, LM_FLOAT32, NULL);
  lm_sym *right_output = lm_layer_call(lstm, right_input);
  lm_sym *lr[2] = {left_output, right_output};
  lm_sym *merged = lm_concatenate(ctx, 2, lr, -1);
  lm_sym *predictions = lm_layer_call(
      lm_layer_dense(ctx, 1, &(lm_dense_opts){.activation = "sigmoid"}),
      merged);
  lm_sym *inputs[2] = {left_input, right_input};
  lm_model *model = lm_model_new(ctx, 2, inputs, 1, &predictions, NULL);
  const char *loss = "binary_crossentropy", *metric = "acc";
  lm_compile_opts co = {.optimizer_name = "rmsprop",
                        .n_losses = 1,
                        .losses = &loss,
                        .n_metrics = 1,
                        .metrics = &metric};
  if (!model || lm_model_compile(model, &co)) {
    fprintf(stderr, "%s\n", lm_errmsg(ctx));
    return 1;
  }
  lm_model_summary(model, NULL, NULL);

  /* targets: 1 when the two sequences share their sign pattern */
  enum { N = 512, T = 10, D = 128 };
  int64_t xs[3] = {N, T, D}, ys[2] = {N, 1};
  lm_tensor *left = lm_tensor_new(ctx, LM_FLOAT32, 3, xs);
  lm_tensor *right = lm_tensor_new(ctx, LM_FLOAT32, 3, xs);
  lm_tensor *targets = lm_tensor_new(ctx, LM_FLOAT32, 2, ys);
  uint64_t s = 3;
  for (int n = 0; n < N; n++) {
    int same = n % 2;
    lm_tensor_f32(targets)[n] = (float)same;
    for (int k = 0; k < T * D; k++) {
      s = s * 6364136223846793005ULL + 1442695040888963407ULL;
      float v = (float)((s >> 40) & 0xffff) / 65536.0f;
      float l = v - 0.5f, r = same ? l : -l;
      lm_tensor_f32(left)[(int64_t)n * T * D + k] = l;
      lm_tensor_f32(right)[(int64_t)n * T * D + k] = r;
    }
  }
  lm_tensor *x[2] = {left, right};
  lm_data dx = {2, x, NULL}, dy = {1, &targets, NULL};
  lm_fit_opts fo = LM_FIT_DEFAULTS;
  fo.epochs = epochs;
  if (!lm_model_fit(model, &dx, &dy, &fo)) {
    fprintf(stderr, "%s\n", lm_errmsg(ctx));
    return 1;
  }
  lm_ctx_free(ctx);
  return 0;
}

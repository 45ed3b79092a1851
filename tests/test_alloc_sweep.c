/* Fail the n-th allocation during model build, compile and one fit step, for
 * every n: the call reports an error (never crashes) and nothing leaks. */
#include <string.h>

#include "testutil.h"

/* Returns 1 when everything succeeded, 0 when an error was reported. */
static int build_compile_step(lm_ctx *ctx, void *arg) {
  (void)arg;
  int64_t s[1] = {8};
  lm_sym *in = lm_input(ctx, 1, s, LM_FLOAT32, NULL);
  lm_sym *h = lm_layer_call(lm_layer_dense(ctx, 16, &(lm_dense_opts){.activation = "relu"}), in);
  lm_sym *hs[2] = {h, lm_layer_call(lm_layer_dense(ctx, 16, NULL), in)};
  lm_sym *sum = lm_add(ctx, 2, hs);
  lm_sym *d = lm_layer_call(lm_layer_dropout(ctx, 0.2f, NULL), sum);
  lm_sym *out = lm_layer_call(lm_layer_dense(ctx, 3, &(lm_dense_opts){.activation = "softmax"}), d);
  lm_model *m = lm_model_new(ctx, 1, &in, 1, &out, NULL);
  if (!m) return 0;
  const char *loss = "categorical_crossentropy", *met = "acc";
  lm_compile_opts co = {.optimizer_name = "adam", .n_losses = 1, .losses = &loss, .n_metrics = 1, .metrics = &met};
  if (lm_model_compile(m, &co)) return 0;
  int64_t xs[2] = {10, 8}, ys[2] = {10, 3};
  lm_tensor *x = lm_tensor_new(ctx, LM_FLOAT32, 2, xs), *y = lm_tensor_new(ctx, LM_FLOAT32, 2, ys);
  if (!x || !y) return 0;
  for (int i = 0; i < 10; i++) lm_tensor_f32(y)[i * 3 + i % 3] = 1;
  lm_data dx = {1, &x, NULL}, dy = {1, &y, NULL};
  lm_fit_opts fo = LM_FIT_DEFAULTS;
  fo.verbose = 0;
  fo.batch_size = 5;
  fo.validation_split = 0.2f;
  return lm_model_fit(m, &dx, &dy, &fo) != NULL;
}

static void test_sweep(void **state) {
  (void)state;
  const long n = tu_alloc_sweep(build_compile_step, NULL);
  print_message("allocation sweep: %ld failure points checked\n", n);
}

int main(void) {
  const struct CMUnitTest tests[] = {cmocka_unit_test(test_sweep)};
  return cmocka_run_group_tests(tests, NULL, NULL);
}

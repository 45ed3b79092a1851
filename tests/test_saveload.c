#define _DEFAULT_SOURCE
/* save / load round trips (bit-identical predictions), weights-only files, bad files. */
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <sys/types.h>

#include "testutil.h"

static lm_model *make(lm_ctx *ctx) {
  int64_t s[1] = {6};
  lm_sym *a = lm_input(ctx, 1, s, LM_FLOAT32, "a");
  lm_sym *b = lm_input(ctx, 1, s, LM_FLOAT32, "b");
  lm_layer *shared = lm_layer_dense(ctx, 5, &(lm_dense_opts){.activation = "tanh", .name = "shared"});
  lm_sym *pair[2] = {lm_layer_call(shared, a), lm_layer_call(shared, b)};
  lm_sym *c = lm_concatenate(ctx, 2, pair, -1);
  lm_sym *d = lm_layer_call(lm_layer_dropout(ctx, 0.3f, NULL), c);
  lm_sym *out = lm_layer_call(lm_layer_dense(ctx, 3, &(lm_dense_opts){.activation = "softmax", .name = "out"}), d);
  lm_sym *ins[2] = {a, b};
  lm_model *m = lm_model_new(ctx, 2, ins, 1, &out, NULL);
  const char *loss = "categorical_crossentropy", *met = "acc";
  lm_compile_opts co = {.optimizer_name = "adam", .n_losses = 1, .losses = &loss, .n_metrics = 1, .metrics = &met};
  assert_int_equal(lm_model_compile(m, &co), LM_OK);
  return m;
}

static void test_round_trip(void **state) {
  lm_ctx *ctx = tu_ctx();
  lm_model *m = make(ctx);
  int64_t xs[2] = {9, 6}, ys[2] = {9, 3};
  lm_tensor *xa = lm_tensor_new(ctx, LM_FLOAT32, 2, xs), *xb = lm_tensor_new(ctx, LM_FLOAT32, 2, xs);
  lm_tensor *y = lm_tensor_new(ctx, LM_FLOAT32, 2, ys);
  for (int i = 0; i < 54; i++) {
    lm_tensor_f32(xa)[i] = (float)((i * 37) % 11) / 11.0f - 0.5f;
    lm_tensor_f32(xb)[i] = (float)((i * 13) % 7) / 7.0f - 0.5f;
  }
  for (int i = 0; i < 9; i++) lm_tensor_f32(y)[i * 3 + i % 3] = 1;
  lm_tensor *xx[2] = {xa, xb};
  lm_data dx = {2, xx, NULL}, dy = {1, &y, NULL};
  lm_fit_opts fo = LM_FIT_DEFAULTS;
  fo.verbose = 0;
  fo.epochs = 3;
  assert_non_null(lm_model_fit(m, &dx, &dy, &fo));
  char path[] = "/tmp/lamina_test_model_XXXXXX";
  int fd = mkstemp(path);
  assert_true(fd >= 0);
  close(fd);
  assert_int_equal(lm_model_save(m, path), LM_OK);
  lm_tensor *p1 = NULL, *p2 = NULL;
  assert_int_equal(lm_model_predict(m, &dx, 4, &p1), LM_OK);

  lm_ctx *ctx2 = tu_ctx();
  lm_model *m2 = lm_model_load(ctx2, path);
  if (!m2) fprintf(stderr, "%s\n", lm_errmsg(ctx2));
  assert_non_null(m2);
  assert_string_equal(lm_model_name(m2), lm_model_name(m));
  assert_int_equal(lm_model_count_params(m2, 0), lm_model_count_params(m, 0));
  assert_int_equal(lm_model_n_metrics(m2), 2); /* compiled from the saved training config */
  lm_tensor *xa2 = lm_tensor_copy(xa), *xb2 = lm_tensor_copy(xb);
  lm_tensor *xx2[2] = {xa2, xb2};
  lm_data dx2 = {2, xx2, NULL};
  /* xa2 belongs to ctx, fine: tensors are plain data */
  assert_int_equal(lm_model_predict(m2, &dx2, 4, &p2), LM_OK);
  assert_memory_equal(lm_tensor_f32(p1), lm_tensor_f32(p2), sizeof(float) * 27);
  /* same summary text */
  tu_capture c1 = {0}, c2 = {0};
  lm_model_summary(m, tu_capture_fn, &c1);
  lm_model_summary(m2, tu_capture_fn, &c2);
  assert_string_equal(c1.text, c2.text);
  tu_capture_reset(&c1);
  tu_capture_reset(&c2);

  /* weights only into a fresh model of the same architecture */
  assert_int_equal(lm_model_save_weights(m, path), LM_OK);
  lm_ctx_reset_names(ctx);
  lm_model *m3 = make(ctx);
  assert_int_equal(lm_model_load_weights(m3, path), LM_OK);
  lm_tensor *p3 = NULL;
  assert_int_equal(lm_model_predict(m3, &dx, 4, &p3), LM_OK);
  assert_memory_equal(lm_tensor_f32(p1), lm_tensor_f32(p3), sizeof(float) * 27);
  /* a weights-only file is not a model */
  assert_null(lm_model_load(ctx2, path));
  assert_non_null(strstr(lm_errmsg(ctx2), "model_config"));
  unlink(path);
  lm_ctx_free(ctx2);
  lm_ctx_free(ctx);
}

static void test_bad_files(void **state) {
  lm_ctx *ctx = tu_ctx();
  assert_null(lm_model_load(ctx, "/nonexistent/model.safetensors"));
  assert_non_null(strstr(lm_errmsg(ctx), "/nonexistent/model.safetensors"));
  char path[] = "/tmp/lamina_test_bad_XXXXXX";
  int fd = mkstemp(path);
  assert_true(fd >= 0);
  assert_int_equal(write(fd, "garbage!garbage!", 16), 16);
  close(fd);
  assert_null(lm_model_load(ctx, path));
  assert_int_equal(lm_errcode(ctx), LM_ERR_FORMAT);
  /* truncated model file */
  lm_model *m = make(ctx);
  assert_int_equal(lm_model_save(m, path), LM_OK);
  assert_int_equal(truncate(path, 200), 0);
  assert_null(lm_model_load(ctx, path));
  assert_int_equal(lm_errcode(ctx), LM_ERR_FORMAT);
  unlink(path);
  lm_ctx_free(ctx);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_round_trip),
      cmocka_unit_test(test_bad_files),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}

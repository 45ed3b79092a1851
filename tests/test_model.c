/* Functional API, Sequential, naming, layer order, summary golden texts, errors. */
#include <string.h>

#include "testutil.h"

static lm_sym *dense(lm_ctx *ctx, int units, const char *act, const char *name, lm_sym *x) {
  lm_dense_opts o = {.activation = act, .name = name};
  return lm_layer_call(lm_layer_dense(ctx, units, &o), x);
}

static char *summary_text(lm_model *m, tu_capture *cap) {
  tu_capture_reset(cap);
  assert_int_equal(lm_model_summary(m, tu_capture_fn, cap), LM_OK);
  return cap->text;
}

static void expect_golden(lm_model *m, const char *file) {
  char path[4096];
  snprintf(path, sizeof path, "%s/../golden/%s", getenv("LAMINA_TEST_DATA"), file);
  char *want = tu_read_text(path);
  assert_non_null(want);
  tu_capture cap = {0};
  char *got = summary_text(m, &cap);
  if (strcmp(got, want) != 0) fprintf(stderr, "got:\n%s\nwant:\n%s\n", got, want);
  assert_string_equal(got, want);
  tu_capture_reset(&cap);
  free(want);
}

/* The lecture's listing: a Sequential model, then its functional twin. */
static void test_lecture_mlp_summaries(void **state) {
  lm_ctx *ctx = tu_ctx();
  lm_model *seq = lm_sequential_new(ctx, NULL);
  int64_t in64[1] = {64};
  lm_dense_opts relu = {.activation = "relu"}, soft = {.activation = "softmax"};
  assert_int_equal(lm_sequential_add(seq, lm_layer_set_input_shape(lm_layer_dense(ctx, 32, &relu), 1, in64, LM_FLOAT32)), LM_OK);
  assert_int_equal(lm_sequential_add(seq, lm_layer_dense(ctx, 32, &relu)), LM_OK);
  assert_int_equal(lm_sequential_add(seq, lm_layer_dense(ctx, 10, &soft)), LM_OK);

  lm_sym *input = lm_input(ctx, 1, in64, LM_FLOAT32, NULL);
  lm_sym *x = dense(ctx, 32, "relu", NULL, input);
  x = dense(ctx, 32, "relu", NULL, x);
  lm_sym *out = dense(ctx, 10, "softmax", NULL, x);
  lm_model *model = lm_model_new(ctx, 1, &input, 1, &out, NULL);
  assert_non_null(model);
  expect_golden(seq, "lecture_sequential_mlp.txt");
  expect_golden(model, "lecture_functional_mlp.txt");
  assert_int_equal(lm_model_count_params(model, 0), 3466);
  assert_int_equal(lm_model_count_params(seq, 1), 3466);
  assert_int_equal(lm_model_n_layers(seq), 3);
  assert_int_equal(lm_model_n_layers(model), 4);
  assert_string_equal(lm_model_name(seq), "sequential_1");
  assert_string_equal(lm_model_name(model), "model_1");
  assert_string_equal(lm_model_input_name(seq, 0), "dense_1_input");
  assert_string_equal(lm_layer_weight_name(lm_model_layer(model, 1), 0), "dense_4/kernel:0");
  assert_string_equal(lm_layer_weight_name(lm_model_layer(model, 1), 1), "dense_4/bias:0");
  lm_ctx_free(ctx);
}

static lm_model *branching(lm_ctx *ctx) {
  int64_t s16[1] = {16};
  lm_sym *left = lm_input(ctx, 1, s16, LM_FLOAT32, "left");
  lm_sym *right = lm_input(ctx, 1, s16, LM_FLOAT32, "right");
  lm_layer *shared = lm_layer_dense(ctx, 8, &(lm_dense_opts){.activation = "relu", .name = "shared"});
  lm_sym *a = lm_layer_call(shared, left), *b = lm_layer_call(shared, right);
  lm_sym *ab[2] = {a, b};
  lm_sym *c = lm_concatenate(ctx, 2, ab, -1);
  c = lm_layer_call(lm_layer_dropout(ctx, 0.5f, NULL), c);
  lm_sym *outs[2] = {dense(ctx, 1, "sigmoid", "score", c), dense(ctx, 3, "softmax", "kind", c)};
  lm_sym *ins[2] = {left, right};
  return lm_model_new(ctx, 2, ins, 2, outs, NULL);
}

static void test_branching_summary_and_sharing(void **state) {
  lm_ctx *ctx = tu_ctx();
  lm_model *m = branching(ctx);
  assert_non_null(m);
  expect_golden(m, "branching.txt");
  /* the shared layer's weights are counted once */
  assert_int_equal(lm_model_count_params(m, 0), 204);
  assert_string_equal(lm_model_output_name(m, 1), "kind");
  lm_ctx_free(ctx);
}

static void test_automatic_names(void **state) {
  lm_ctx *ctx = tu_ctx();
  lm_layer *a = lm_layer_dense(ctx, 2, NULL);
  lm_layer *named = lm_layer_dense(ctx, 2, &(lm_dense_opts){.name = "mine"});
  lm_layer *b = lm_layer_dense(ctx, 2, NULL);
  assert_string_equal(lm_layer_name(a), "dense_1");
  assert_string_equal(lm_layer_name(named), "mine");
  assert_string_equal(lm_layer_name(b), "dense_2");
  int64_t s[1] = {3};
  lm_sym *i1 = lm_input(ctx, 1, s, LM_FLOAT32, NULL), *i2 = lm_input(ctx, 1, s, LM_FLOAT32, NULL);
  assert_string_equal(lm_sym_name(i1), "input_1[0][0]");
  assert_string_equal(lm_sym_name(i2), "input_2[0][0]");
  lm_ctx_reset_names(ctx);
  assert_string_equal(lm_layer_name(lm_layer_dense(ctx, 2, NULL)), "dense_1");
  lm_ctx_free(ctx);
}

static void test_errors(void **state) {
  lm_ctx *ctx = tu_ctx();
  int64_t s4[1] = {4}, s5[1] = {5};
  lm_sym *a = lm_input(ctx, 1, s4, LM_FLOAT32, "a");
  lm_sym *b = lm_input(ctx, 1, s5, LM_FLOAT32, "b");
  /* a Dense built for 4 inputs called on 5 */
  lm_layer *d = lm_layer_dense(ctx, 3, &(lm_dense_opts){.name = "d"});
  assert_non_null(lm_layer_call(d, a));
  assert_null(lm_layer_call(d, b));
  assert_int_equal(lm_errcode(ctx), LM_ERR_SHAPE);
  assert_non_null(strstr(lm_errmsg(ctx), "layer d"));
  assert_non_null(strstr(lm_errmsg(ctx), "(None, 5)"));
  assert_non_null(strstr(lm_errmsg(ctx), "4"));
  /* NULL propagates without touching the message */
  lm_clear_error(ctx);
  assert_null(lm_layer_call(lm_layer_dense(ctx, 2, NULL), NULL));
  assert_int_equal(lm_errcode(ctx), LM_OK);
  /* graph disconnected */
  lm_sym *ab[2] = {lm_layer_call(lm_layer_dense(ctx, 2, NULL), a),
                   lm_layer_call(lm_layer_dense(ctx, 2, NULL), b)};
  lm_sym *sum = lm_add(ctx, 2, ab);
  assert_null(lm_model_new(ctx, 1, &a, 1, &sum, NULL));
  assert_non_null(strstr(lm_errmsg(ctx), "Graph disconnected"));
  assert_non_null(strstr(lm_errmsg(ctx), "\"b\""));
  /* a non-Input tensor as a model input */
  assert_null(lm_model_new(ctx, 1, &ab[0], 1, &sum, NULL));
  assert_non_null(strstr(lm_errmsg(ctx), "must come from `Input`"));
  /* unknown activation, bad units */
  assert_null(lm_layer_dense(ctx, 3, &(lm_dense_opts){.activation = "relux"}));
  assert_non_null(strstr(lm_errmsg(ctx), "relux"));
  assert_null(lm_layer_dense(ctx, 0, NULL));
  assert_non_null(strstr(lm_errmsg(ctx), "units"));
  /* Sequential without input_shape */
  lm_model *seq = lm_sequential_new(ctx, NULL);
  assert_int_not_equal(lm_sequential_add(seq, lm_layer_dense(ctx, 2, NULL)), LM_OK);
  assert_non_null(strstr(lm_errmsg(ctx), "input_shape"));
  lm_ctx_free(ctx);
}

static void test_layer_order_depth(void **state) {
  /* Keras orders by depth, inputs first; ties by DFS order from the outputs */
  lm_ctx *ctx = tu_ctx();
  int64_t s[1] = {4};
  lm_sym *x = lm_input(ctx, 1, s, LM_FLOAT32, "x");
  lm_sym *deep = dense(ctx, 4, NULL, "d1", x);
  deep = dense(ctx, 4, NULL, "d2", deep);
  lm_sym *shallow = dense(ctx, 4, NULL, "s1", x);
  lm_sym *pair[2] = {shallow, deep};
  lm_sym *y = lm_add(ctx, 2, pair);
  lm_model *m = lm_model_new(ctx, 1, &x, 1, &y, NULL);
  assert_non_null(m);
  const char *want[] = {"x", "d1", "s1", "d2", "add_1"};
  for (int i = 0; i < 5; i++) assert_string_equal(lm_layer_name(lm_model_layer(m, i)), want[i]);
  lm_ctx_free(ctx);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_lecture_mlp_summaries),
      cmocka_unit_test(test_branching_summary_and_sharing),
      cmocka_unit_test(test_automatic_names),
      cmocka_unit_test(test_errors),
      cmocka_unit_test(test_layer_order_depth),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}

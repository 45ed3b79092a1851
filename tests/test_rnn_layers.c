#define _POSIX_C_SOURCE 200809L
/* GRU, Bidirectional and TimeDistributed [issue 5]: Keras names, weight names and shapes,
 * parameter counts, the summary golden text (C API and script), errors, save/load, and a
 * small fit where only the backward direction can see the answer. Numerics are in
 * test_gradcheck.c and test_parity_rnn.c. */
#include <math.h>
#include <string.h>
#include <unistd.h>

#include "testutil.h"
#include "script/script.h"

static char *summary_of(lm_model *m) {
  tu_capture cap = {0};
  assert_int_equal(lm_model_summary(m, tu_capture_fn, &cap), LM_OK);
  return cap.text;
}

static char *golden(const char *file) {
  char path[4096];
  snprintf(path, sizeof path, "%s/../golden/%s", getenv("LAMINA_TEST_DATA"), file);
  char *want = tu_read_text(path);
  assert_non_null(want);
  return want;
}

/* examples/rnn_wrappers.py in C */
static lm_model *wrappers_model(lm_ctx *ctx) {
  lm_model *m = lm_sequential_new(ctx, NULL);
  int64_t len[1] = {20};
  lm_layer *emb = lm_layer_embedding(ctx, 1000, 32, &(lm_embedding_opts){.input_length = 20});
  assert_int_equal(lm_sequential_add(m, lm_layer_set_input_shape(emb, 1, len, LM_FLOAT32)), LM_OK);
  lm_rnn_opts seq = {.return_sequences = true};
  assert_int_equal(
      lm_sequential_add(m, lm_layer_bidirectional(ctx, lm_layer_lstm(ctx, 32, &seq), NULL, NULL)),
      LM_OK);
  assert_int_equal(
      lm_sequential_add(m, lm_layer_time_distributed(ctx, lm_layer_dense(ctx, 8, NULL), NULL)),
      LM_OK);
  assert_int_equal(lm_sequential_add(m, lm_layer_gru(ctx, 16, NULL)), LM_OK);
  lm_dense_opts sig = {.activation = "sigmoid"};
  assert_int_equal(lm_sequential_add(m, lm_layer_dense(ctx, 1, &sig)), LM_OK);
  return m;
}

static void test_summary_golden(void **state) {
  (void)state;
  lm_ctx *ctx = tu_ctx();
  lm_model *m = wrappers_model(ctx);
  char *got = summary_of(m), *want = golden("rnn_wrappers.txt");
  if (strcmp(got, want) != 0) fprintf(stderr, "got:\n%s\nwant:\n%s\n", got, want);
  assert_string_equal(got, want);
  free(got);
  free(want);
  lm_ctx_free(ctx);
}

static void test_script_summary(void **state) {
  (void)state;
  const char *src =
      "from keras import layers\nfrom keras.models import Sequential\n"
      "model = Sequential()\nmodel.add(layers.Embedding(1000, 32, input_length=20))\n"
      "model.add(layers.Bidirectional(layers.LSTM(32, return_sequences=True)))\n"
      "model.add(layers.TimeDistributed(layers.Dense(8)))\nmodel.add(layers.GRU(16))\n"
      "model.add(layers.Dense(1, activation='sigmoid'))\nmodel.summary()\n";
  lm_ctx *ctx = tu_ctx();
  tu_capture out = {0}, err = {0};
  lms_opts o = {.mode = LMS_MODE_SUMMARY, .out = tu_capture_fn, .out_ud = &out,
                .err = tu_capture_fn, .err_ud = &err};
  int st = lms_run_source(ctx, "t.py", src, strlen(src), &o);
  if (st) fprintf(stderr, "%s\n", err.text ? err.text : "");
  assert_int_equal(st, 0);
  char *want = golden("rnn_wrappers.txt");
  assert_non_null(out.text);
  assert_non_null(strstr(out.text, want));
  free(want);
  free(out.text);
  free(err.text);
  lm_ctx_free(ctx);
}

static int script_error(const char *src, const char *want) {
  lm_ctx *ctx = tu_ctx();
  tu_capture out = {0}, err = {0};
  lms_opts o = {.mode = LMS_MODE_SUMMARY, .out = tu_capture_fn, .out_ud = &out,
                .err = tu_capture_fn, .err_ud = &err};
  int st = lms_run_source(ctx, "t.py", src, strlen(src), &o);
  if (!err.text || !strstr(err.text, want))
    fprintf(stderr, "want '%s' in:\n%s\n", want, err.text ? err.text : "(nothing)");
  int found = err.text && strstr(err.text, want) != NULL;
  free(out.text);
  free(err.text);
  lm_ctx_free(ctx);
  return st != 0 && found;
}

static void test_script_errors(void **state) {
  (void)state;
  const char *head = "from keras import layers\nx = layers.Input(shape=(5, 3))\n";
  char src[512];
  snprintf(src, sizeof src, "%sy = layers.Bidirectional(layers.LSTM(4), merge_mode=None)(x) + 1\n", head);
  assert_true(script_error(src, "list")); /* None gives a list of two outputs */
  snprintf(src, sizeof src, "%sy = layers.TimeDistributed(layers.LSTM(4, return_state=True))(x)\n", head);
  assert_true(script_error(src, "it has 3 outputs"));
  snprintf(src, sizeof src, "%sy = layers.LSTM(4)(x, initial_state=[x])\n", head);
  assert_true(script_error(src, "Layer lstm_1 has 2 states but was passed 1 initial states."));
  snprintf(src, sizeof src, "%sy = layers.Dense(4)(x, initial_state=[x])\n", head);
  assert_true(script_error(src, "takes no initial_state"));
  snprintf(src, sizeof src, "%sy = layers.Bidirectional(layers.LSTM(4), merge_mode='max')(x)\n", head);
  assert_true(script_error(src, "Invalid merge mode"));
  snprintf(src, sizeof src, "%sy = layers.Bidirectional(layers.Dense(4))(x)\n", head);
  assert_true(script_error(src, "Bidirectional wraps an LSTM, GRU or SimpleRNN"));
  snprintf(src, sizeof src, "%sy = layers.TimeDistributed(4)(x)\n", head);
  assert_true(script_error(src, "TimeDistributed expects a layer"));
  snprintf(src, sizeof src, "%sy = layers.GRU(4, stateful=True)(x)\n", head);
  assert_true(script_error(src, "stateful=True is not supported"));
}

static void expect_weight(lm_layer *l, int i, const char *name, int ndim, int64_t d0, int64_t d1) {
  assert_string_equal(lm_layer_weight_name(l, i), name);
  lm_tensor *t = lm_layer_weight(l, i);
  assert_int_equal(lm_tensor_ndim(t), ndim);
  assert_int_equal(lm_tensor_dim(t, 0), d0);
  if (ndim > 1) assert_int_equal(lm_tensor_dim(t, 1), d1);
}

static void test_names_and_counts(void **state) {
  (void)state;
  lm_ctx *ctx = tu_ctx();
  lm_model *m = wrappers_model(ctx);
  lm_layer *bi = lm_model_get_layer(m, "bidirectional_1");
  assert_non_null(bi);
  assert_int_equal(lm_layer_n_weights(bi), 6);
  expect_weight(bi, 0, "bidirectional_1/forward_lstm_1/kernel:0", 2, 32, 128);
  expect_weight(bi, 1, "bidirectional_1/forward_lstm_1/recurrent_kernel:0", 2, 32, 128);
  expect_weight(bi, 2, "bidirectional_1/forward_lstm_1/bias:0", 1, 128, 0);
  expect_weight(bi, 3, "bidirectional_1/backward_lstm_1/kernel:0", 2, 32, 128);
  expect_weight(bi, 5, "bidirectional_1/backward_lstm_1/bias:0", 1, 128, 0);
  /* unit_forget_bias reaches both copies */
  assert_true(lm_tensor_f32(lm_layer_weight(bi, 2))[32] == 1.0f);
  assert_true(lm_tensor_f32(lm_layer_weight(bi, 5))[32] == 1.0f);
  lm_layer *td = lm_model_get_layer(m, "time_distributed_1");
  expect_weight(td, 0, "time_distributed_1/kernel:0", 2, 64, 8);
  expect_weight(td, 1, "time_distributed_1/bias:0", 1, 8, 0);
  lm_layer *gru = lm_model_get_layer(m, "gru_1");
  expect_weight(gru, 0, "gru_1/kernel:0", 2, 8, 48);
  expect_weight(gru, 1, "gru_1/recurrent_kernel:0", 2, 16, 48);
  expect_weight(gru, 2, "gru_1/bias:0", 2, 2, 48);
  assert_int_equal(lm_model_count_params(m, 0), 50425);
  assert_non_null(lm_model_get_layer(m, "dense_2")); /* dense_1 sits inside TimeDistributed */
  assert_null(lm_model_get_layer(m, "lstm_1"));

  /* reset_after=False (Keras 2.2.4): bias (3u), 3*(u*(d+u) + u) */
  lm_sym *x = lm_input(ctx, 2, (int64_t[]){7, 8}, LM_FLOAT32, NULL);
  lm_layer *g2 = lm_layer_gru(ctx, 16, &(lm_rnn_opts){.no_reset_after = true});
  lm_sym *y = lm_layer_call(g2, x);
  assert_non_null(y);
  assert_int_equal(lm_layer_count_params(g2), 3 * (16 * (8 + 16) + 16));
  expect_weight(g2, 2, "gru_2/bias:0", 1, 48, 0);
  /* Bidirectional(GRU) and Bidirectional(SimpleRNN), sum: twice the parameters, units wide */
  lm_layer *b2 = lm_layer_bidirectional(ctx, lm_layer_gru(ctx, 4, NULL), "sum", NULL);
  lm_sym *y2 = lm_layer_call(b2, x);
  assert_int_equal(lm_sym_dim(y2, -1), 4);
  assert_int_equal(lm_layer_count_params(b2), 2 * 3 * (4 * (8 + 4) + 2 * 4));
  assert_string_equal(lm_layer_weight_name(b2, 3), "bidirectional_2/backward_gru_3/kernel:0");
  lm_rnn_opts seq = {.return_sequences = true};
  lm_layer *b3 = lm_layer_bidirectional(ctx, lm_layer_simple_rnn(ctx, 5, &seq), NULL, NULL);
  lm_sym *y3 = lm_layer_call(b3, x);
  assert_int_equal(lm_sym_ndim(y3), 3);
  assert_int_equal(lm_sym_dim(y3, 1), 7);
  assert_int_equal(lm_sym_dim(y3, 2), 10);
  assert_int_equal(lm_layer_count_params(b3), 2 * (5 * (8 + 5) + 5));
  /* TimeDistributed keeps the steps and any inner rank */
  lm_sym *x4 = lm_input(ctx, 3, (int64_t[]){LM_NONE, 6, 2}, LM_FLOAT32, NULL);
  lm_sym *y4 = lm_layer_call(lm_layer_time_distributed(ctx, lm_layer_conv1d(ctx, 3, 2, NULL), NULL), x4);
  assert_int_equal(lm_sym_ndim(y4), 4);
  assert_int_equal(lm_sym_dim(y4, 1), LM_NONE);
  assert_int_equal(lm_sym_dim(y4, 2), 5);
  assert_int_equal(lm_sym_dim(y4, 3), 3);
  lm_ctx_free(ctx);
}

static void test_errors(void **state) {
  (void)state;
  lm_ctx *ctx = tu_ctx();
  lm_sym *x = lm_input(ctx, 2, (int64_t[]){7, 8}, LM_FLOAT32, NULL);
  assert_null(lm_layer_bidirectional(ctx, lm_layer_lstm(ctx, 4, NULL), "max", NULL));
  assert_non_null(strstr(lm_errmsg(ctx), "Invalid merge mode"));
  lm_layer *used = lm_layer_lstm(ctx, 4, NULL);
  assert_non_null(lm_layer_call(used, x));
  assert_null(lm_layer_bidirectional(ctx, used, NULL, NULL));
  assert_non_null(strstr(lm_errmsg(ctx), "layer lstm_2 has already been called"));
  assert_null(lm_layer_bidirectional(ctx, lm_layer_dense(ctx, 3, NULL), NULL, NULL));
  assert_string_equal(lm_errmsg(ctx), "Bidirectional wraps an LSTM, GRU or SimpleRNN, not dense_1 (Dense)");
  lm_sym *flat = lm_input(ctx, 1, (int64_t[]){8}, LM_FLOAT32, NULL);
  assert_null(lm_layer_call(lm_layer_time_distributed(ctx, lm_layer_dense(ctx, 3, NULL), NULL), flat));
  assert_non_null(strstr(lm_errmsg(ctx), "with at least 3 dimensions, received: (None, 8)"));
  assert_null(lm_layer_call(lm_layer_gru(ctx, 3, NULL), flat));
  assert_non_null(strstr(lm_errmsg(ctx), "expected ndim=3"));
  assert_null(lm_layer_gru(ctx, 0, NULL));
  assert_null(lm_layer_gru(ctx, 3, &(lm_rnn_opts){.recurrent_activation = "softmax"}));
  assert_null(lm_layer_bidirectional(ctx, NULL, NULL, NULL)); /* a failed chain stays NULL */
  lm_ctx_free(ctx);
}

/* merge_mode=None ("none" in C): two outputs, forward then backward in time order; with
 * the same weights their concatenation is the 'concat' mode's output. */
static void test_merge_none(void **state) {
  (void)state;
  lm_ctx *ctx = tu_ctx();
  lm_rnn_opts seq = {.return_sequences = true};
  lm_sym *x = lm_input(ctx, 2, (int64_t[]){5, 3}, LM_FLOAT32, NULL), *fb[2] = {0};
  lm_layer *none = lm_layer_bidirectional(ctx, lm_layer_lstm(ctx, 4, &seq), "none", NULL);
  assert_int_equal(lm_layer_call_multi(none, 1, &x, 2, fb), 2);
  lm_model *ma = lm_model_new(ctx, 1, &x, 2, fb, NULL);
  if (!ma) fail_msg("%s", lm_errmsg(ctx));
  lm_sym *x2 = lm_input(ctx, 2, (int64_t[]){5, 3}, LM_FLOAT32, NULL);
  lm_layer *cat = lm_layer_bidirectional(ctx, lm_layer_lstm(ctx, 4, &seq), NULL, NULL);
  lm_sym *y = lm_layer_call(cat, x2);
  lm_model *mb = lm_model_new(ctx, 1, &x2, 1, &y, NULL);
  assert_non_null(mb);
  char *sum = summary_of(ma);
  assert_non_null(strstr(sum, "[(None, 5, 4), (None, 5"));
  free(sum);
  for (int i = 0; i < lm_layer_n_weights(none); i++) {
    lm_tensor *a = lm_layer_weight(none, i), *b = lm_layer_weight(cat, i);
    memcpy(lm_tensor_f32(b), lm_tensor_f32(a), 4 * (size_t)lm_tensor_size(a));
  }
  const char *mse[2] = {"mse", "mse"};
  assert_int_equal(lm_model_compile(ma, &(lm_compile_opts){.n_losses = 2, .losses = mse}), LM_OK);
  assert_int_equal(lm_model_compile(mb, &(lm_compile_opts){.n_losses = 1, .losses = mse}), LM_OK);
  lm_tensor *in = lm_tensor_new(ctx, LM_FLOAT32, 3, (int64_t[]){2, 5, 3}), *pa[2], *pb;
  for (int i = 0; i < 30; i++) lm_tensor_f32(in)[i] = sinf(0.7f * (float)i);
  lm_data dx = {1, &in, NULL};
  if (lm_model_predict(ma, &dx, 2, pa)) fail_msg("%s", lm_errmsg(ctx));
  assert_int_equal(lm_model_predict(mb, &dx, 2, &pb), LM_OK);
  for (int r = 0; r < 10; r++)
    for (int u = 0; u < 8; u++) {
      float want = lm_tensor_f32(pb)[r * 8 + u];
      float got = lm_tensor_f32(pa[u / 4])[r * 4 + u % 4];
      assert_true(got == want);
    }
  lm_ctx_free(ctx);
}

/* Calling a wrapped layer directly works (its own weights, as Keras' original layer). */
static void test_wrapped_layer_called_directly(void **state) {
  (void)state;
  lm_ctx *ctx = tu_ctx();
  lm_sym *x = lm_input(ctx, 2, (int64_t[]){4, 3}, LM_FLOAT32, NULL);
  lm_layer *gru = lm_layer_gru(ctx, 2, NULL), *dense = lm_layer_dense(ctx, 2, NULL);
  lm_layer *bi = lm_layer_bidirectional(ctx, gru, NULL, NULL);
  lm_layer *td = lm_layer_time_distributed(ctx, dense, NULL);
  lm_sym *a = lm_layer_call(bi, x), *b = lm_layer_call(td, x);
  assert_non_null(a);
  assert_non_null(b);
  lm_sym *c = lm_layer_call(gru, x), *d = lm_layer_call(dense, x);
  assert_non_null(c);
  assert_non_null(d);
  assert_int_equal(lm_layer_n_weights(gru), 3);
  assert_string_equal(lm_layer_weight_name(gru, 0), "forward_gru_1/kernel:0");
  assert_int_equal(lm_layer_n_weights(bi), 6);
  assert_true(lm_layer_weight(gru, 0) != lm_layer_weight(bi, 0));
  lm_sym *outs[4] = {a, b, c, d};
  lm_model *m = lm_model_new(ctx, 1, &x, 4, outs, NULL);
  assert_non_null(m);
  assert_int_equal(lm_model_count_params(m, 0), 2 * 3 * (2 * 5 + 4) + 8 + 3 * (2 * 5 + 4) + 8);
  lm_ctx_free(ctx);
}

static lm_tensor *ids_tensor(lm_ctx *ctx, int n, int t, int vocab, uint64_t seed) {
  lm_tensor *ids = lm_tensor_new(ctx, LM_INT32, 2, (int64_t[]){n, t});
  int32_t *p = lm_tensor_i32(ids);
  uint64_t s = seed;
  for (int i = 0; i < n * t; i++) {
    s = s * 6364136223846793005ULL + 1442695040888963407ULL;
    p[i] = 1 + (int32_t)((s >> 33) % (uint64_t)(vocab - 1));
  }
  return ids;
}

static void test_save_load(void **state) {
  (void)state;
  lm_ctx *ctx = tu_ctx();
  lm_sym *in = lm_input(ctx, 1, (int64_t[]){6}, LM_INT32, NULL);
  lm_sym *e = lm_layer_call(lm_layer_embedding(ctx, 9, 4, &(lm_embedding_opts){.mask_zero = true}), in);
  lm_rnn_opts seq = {.return_sequences = true, .no_reset_after = true};
  lm_sym *h = lm_layer_call(lm_layer_bidirectional(ctx, lm_layer_gru(ctx, 3, &seq), "ave", NULL), e);
  h = lm_layer_call(lm_layer_time_distributed(ctx, lm_layer_dense(ctx, 2, NULL), NULL), h);
  lm_sym *out = lm_layer_call(lm_layer_lstm(ctx, 2, NULL), h);
  lm_model *m = lm_model_new(ctx, 1, &in, 1, &out, NULL);
  assert_non_null(m);
  const char *mse = "mse";
  lm_compile_opts co = {.n_losses = 1, .losses = &mse};
  assert_int_equal(lm_model_compile(m, &co), LM_OK);
  lm_tensor *ids = ids_tensor(ctx, 5, 6, 9, 3);
  lm_tensor_i32(ids)[4] = lm_tensor_i32(ids)[5] = 0; /* padding, masked */
  lm_data dx = {1, &ids, NULL};
  lm_tensor *y1 = NULL, *y2 = NULL;
  if (lm_model_predict(m, &dx, 2, &y1)) fail_msg("predict: %s", lm_errmsg(ctx));
  char path[] = "/tmp/lamina_test_rnn_XXXXXX";
  int fd = mkstemp(path);
  assert_true(fd >= 0);
  close(fd);
  assert_int_equal(lm_model_save(m, path), LM_OK);
  lm_ctx *ctx2 = tu_ctx();
  lm_model *m2 = lm_model_load(ctx2, path);
  if (!m2) fail_msg("load: %s", lm_errmsg(ctx2));
  unlink(path);
  char *s1 = summary_of(m), *s2 = summary_of(m2);
  assert_string_equal(s1, s2);
  assert_non_null(strstr(s1, "bidirectional_1 (Bidirection (None, 6, 3)"));
  free(s1);
  free(s2);
  lm_layer *b2 = lm_model_get_layer(m2, "bidirectional_1");
  assert_string_equal(lm_layer_weight_name(b2, 5), "bidirectional_1/backward_gru_1/bias:0");
  lm_tensor *ids2 = lm_tensor_copy(ids);
  lm_data dx2 = {1, &ids2, NULL};
  assert_int_equal(lm_model_predict(m2, &dx2, 5, &y2), LM_OK);
  for (int64_t i = 0; i < lm_tensor_size(y1); i++)
    assert_true(lm_tensor_f32(y1)[i] == lm_tensor_f32(y2)[i]);
  lm_tensor_free(y1);
  lm_tensor_free(y2);
  lm_ctx_free(ctx2);
  lm_ctx_free(ctx);
}

/* Training through the wrapper: the optimizer updates the weights the
 * Bidirectional owns. The label is the first token's half of the vocabulary
 * (the backward direction ends on it). */
static void test_fit_bidirectional(void **state) {
  (void)state;
  lm_ctx *ctx = tu_ctx();
  enum { N = 384, T = 12, V = 20 };
  lm_sym *in = lm_input(ctx, 1, (int64_t[]){T}, LM_INT32, NULL);
  lm_sym *e = lm_layer_call(lm_layer_embedding(ctx, V, 8, NULL), in);
  lm_sym *h = lm_layer_call(lm_layer_bidirectional(ctx, lm_layer_gru(ctx, 8, NULL), NULL, NULL), e);
  lm_sym *out = lm_layer_call(lm_layer_dense(ctx, 1, &(lm_dense_opts){.activation = "sigmoid"}), h);
  lm_model *m = lm_model_new(ctx, 1, &in, 1, &out, NULL);
  const char *loss = "binary_crossentropy", *metric = "acc";
  lm_compile_opts co = {.optimizer_name = "adam", .n_losses = 1, .losses = &loss, .n_metrics = 1,
                        .metrics = &metric};
  assert_int_equal(lm_model_compile(m, &co), LM_OK);
  lm_tensor *x = ids_tensor(ctx, N, T, V, 11);
  lm_tensor *y = lm_tensor_new(ctx, LM_FLOAT32, 2, (int64_t[]){N, 1});
  for (int i = 0; i < N; i++) lm_tensor_f32(y)[i] = lm_tensor_i32(x)[i * T] >= V / 2 ? 1.0f : 0.0f;
  lm_data dx = {1, &x, NULL}, dy = {1, &y, NULL};
  lm_fit_opts fo = LM_FIT_DEFAULTS;
  fo.epochs = 12;
  fo.verbose = 0;
  lm_history *hist = lm_model_fit(m, &dx, &dy, &fo);
  assert_non_null(hist);
  const double *acc = lm_history_get(hist, "acc");
  assert_non_null(acc);
  if (acc[0] > 0.8 || acc[11] < 0.95) fail_msg("accuracy %.3f after 1 epoch, %.3f after 12", acc[0], acc[11]);
  lm_ctx_free(ctx);
}

/* Fail the n-th allocation while building, compiling and fitting a model with
 * every new layer, for every n: an error is reported, nothing leaks. */
static int build_fit_wrappers(lm_ctx *ctx, void *arg) {
  (void)arg;
  lm_sym *in = lm_input(ctx, 1, (int64_t[]){5}, LM_INT32, NULL);
  lm_sym *e = lm_layer_call(lm_layer_embedding(ctx, 7, 3, &(lm_embedding_opts){.mask_zero = true}), in);
  lm_rnn_opts seq = {.return_sequences = true};
  lm_sym *h = lm_layer_call(lm_layer_bidirectional(ctx, lm_layer_gru(ctx, 2, &seq), "sum", NULL), e);
  h = lm_layer_call(lm_layer_time_distributed(ctx, lm_layer_dense(ctx, 2, NULL), NULL), h);
  lm_sym *out = lm_layer_call(lm_layer_gru(ctx, 1, &(lm_rnn_opts){.no_reset_after = true}), h);
  lm_model *m = lm_model_new(ctx, 1, &in, 1, &out, NULL);
  if (!m) return 0;
  const char *loss = "mse";
  lm_compile_opts co = {.n_losses = 1, .losses = &loss};
  if (lm_model_compile(m, &co)) return 0;
  lm_tensor *x = lm_tensor_new(ctx, LM_INT32, 2, (int64_t[]){4, 5});
  lm_tensor *y = lm_tensor_new(ctx, LM_FLOAT32, 2, (int64_t[]){4, 1});
  if (!x || !y) return 0;
  for (int i = 0; i < 20; i++) lm_tensor_i32(x)[i] = i % 7;
  lm_data dx = {1, &x, NULL}, dy = {1, &y, NULL};
  lm_fit_opts fo = LM_FIT_DEFAULTS;
  fo.verbose = 0;
  fo.batch_size = 2;
  return lm_model_fit(m, &dx, &dy, &fo) != NULL;
}

static void test_alloc_sweep(void **state) {
  (void)state;
  const long n = tu_alloc_sweep(build_fit_wrappers, NULL);
  assert_true(n > 100);
  print_message("allocation sweep: %ld failure points checked\n", n);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_summary_golden),  cmocka_unit_test(test_script_summary),
      cmocka_unit_test(test_script_errors),   cmocka_unit_test(test_names_and_counts),
      cmocka_unit_test(test_errors),          cmocka_unit_test(test_wrapped_layer_called_directly),
      cmocka_unit_test(test_save_load), cmocka_unit_test(test_merge_none),
      cmocka_unit_test(test_fit_bidirectional), cmocka_unit_test(test_alloc_sweep),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}

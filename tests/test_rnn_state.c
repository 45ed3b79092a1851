/* Recurrent layers, issue 5 second part: return_state outputs (values,
 * summary, save/load, scripts), Keras dropout masks (one per sample, fixed
 * over the steps, inverted scaling, off in inference), masks propagated
 * through stacked layers, and the threaded time loop against one thread. */
#include <math.h>
#include <string.h>

#include "graph/graph.h"
#include "kernels/kernels.h"
#include "layers/layer.h"
#include "model/model.h"
#include "ops/ops.h"
#include "script/script.h"
#include "testutil.h"

static lm_model *compiled(lm_model *m) {
  const char *loss = "mse";
  lm_compile_opts co = {.optimizer_name = "sgd", .n_losses = 1, .losses = &loss};
  assert_non_null(m);
  assert_int_equal(lm_model_compile(m, &co), LM_OK);
  return m;
}

static lm_tensor *seq_input(lm_ctx *ctx, int N, int T, int D) {
  lm_tensor *x = lm_tensor_new(ctx, LM_FLOAT32, 3, (int64_t[]){N, T, D});
  for (int i = 0; i < N * T * D; i++) lm_tensor_f32(x)[i] = (float)sin(0.37 * i + 0.2) * 1.3f;
  return x;
}

/* Final h and c of a Keras LSTM (sigmoid gates) in double. */
static void ref_final(const lm_layer *l, const float *x, int T, int D, int U, double *h,
                      double *c) {
  lm_layer *ml = (lm_layer *)l;
  const float *W = lm_tensor_f32(lm_layer_weight(ml, 0)), *R = lm_tensor_f32(lm_layer_weight(ml, 1));
  const float *b = lm_tensor_f32(lm_layer_weight(ml, 2));
  for (int u = 0; u < U; u++) h[u] = c[u] = 0;
  for (int t = 0; t < T; t++) {
    double z[64], hn[16];
    for (int j = 0; j < 4 * U; j++) {
      z[j] = b[j];
      for (int k = 0; k < D; k++) z[j] += x[t * D + k] * W[k * 4 * U + j];
      for (int k = 0; k < U; k++) z[j] += h[k] * R[k * 4 * U + j];
    }
    for (int u = 0; u < U; u++) {
      double i = 1 / (1 + exp(-z[u])), f = 1 / (1 + exp(-z[U + u]));
      double g = tanh(z[2 * U + u]), o = 1 / (1 + exp(-z[3 * U + u]));
      c[u] = f * c[u] + i * g;
      hn[u] = o * tanh(c[u]);
    }
    memcpy(h, hn, sizeof(double) * (size_t)U);
  }
}

static void test_return_state_values(void **state) {
  (void)state;
  enum { N = 3, T = 5, D = 4, U = 3 };
  lm_ctx *ctx = tu_ctx();
  lm_sym *in = lm_input(ctx, 2, (int64_t[]){T, D}, LM_FLOAT32, NULL);
  lm_layer *l1 = lm_layer_lstm(
      ctx, U, &(lm_rnn_opts){.return_state = true, .recurrent_activation = "sigmoid"});
  lm_layer *l2 = lm_layer_lstm(ctx, U,
                               &(lm_rnn_opts){.return_state = true, .return_sequences = true,
                                              .recurrent_activation = "sigmoid"});
  lm_layer *l3 = lm_layer_simple_rnn(ctx, U, &(lm_rnn_opts){.return_state = true});
  lm_sym *o[9];
  assert_int_equal(lm_layer_call_multi(l1, 1, &in, 3, o), 3);
  assert_int_equal(lm_layer_call_multi(l2, 1, &in, 3, o + 3), 3);
  assert_int_equal(lm_layer_call_multi(l3, 1, &in, 2, o + 6), 2);
  assert_ptr_equal(lm_sym_output(o[3], 2), o[5]);
  assert_null(lm_sym_output(o[3], 3));
  assert_string_equal(lm_sym_name(o[2]), "lstm_1[0][2]");
  assert_int_equal(lm_sym_ndim(o[3]), 3);
  assert_int_equal(lm_sym_dim(o[4], 1), U);
  lm_model *m = compiled(lm_model_new(ctx, 1, &in, 8, o, NULL));
  assert_non_null(m);
  lm_tensor *x = seq_input(ctx, N, T, D), *p[8];
  lm_data dx = {1, &x, NULL};
  assert_int_equal(lm_model_predict(m, &dx, N, p), LM_OK);
  for (int n = 0; n < N; n++) {
    double h[U], c[U];
    ref_final(l1, lm_tensor_f32(x) + n * T * D, T, D, U, h, c);
    for (int u = 0; u < U; u++) {
      float out = lm_tensor_f32(p[0])[n * U + u], hs = lm_tensor_f32(p[1])[n * U + u];
      assert_true(out == hs); /* output == state_h */
      assert_true(fabs(hs - h[u]) < 1e-5);
      assert_true(fabs(lm_tensor_f32(p[2])[n * U + u] - c[u]) < 1e-5);
      /* return_sequences: the last step is state_h */
      assert_true(lm_tensor_f32(p[3])[(n * T + T - 1) * U + u] == lm_tensor_f32(p[4])[n * U + u]);
      assert_true(lm_tensor_f32(p[6])[n * U + u] == lm_tensor_f32(p[7])[n * U + u]);
    }
  }
  for (int k = 0; k < 8; k++) lm_tensor_free(p[k]);
  lm_ctx_free(ctx);
}

/* Keras 2.2.4 prints a multi-output layer's shapes as a list, cut at the
 * column; later layers name the output index. The outputs survive save and
 * load. */
static void test_summary_save_load(void **state) {
  (void)state;
  lm_ctx *ctx = tu_ctx();
  lm_sym *in = lm_input(ctx, 2, (int64_t[]){6, 4}, LM_FLOAT32, NULL);
  lm_sym *o[3];
  assert_int_equal(
      lm_layer_call_multi(lm_layer_lstm(ctx, 8, &(lm_rnn_opts){.return_state = true}), 1, &in,
                          3, o),
      3);
  lm_sym *cat[2] = {o[1], o[2]};
  lm_sym *y = lm_concatenate(ctx, 2, cat, -1);
  lm_model *m = compiled(lm_model_new(ctx, 1, &in, 1, &y, NULL));
  tu_capture cap = {0};
  assert_int_equal(lm_model_summary(m, tu_capture_fn, &cap), LM_OK);
  assert_non_null(strstr(cap.text, "lstm_1 (LSTM)                   [(None, 8), (None, 8 416"));
  assert_non_null(strstr(cap.text, "lstm_1[0][1]"));
  assert_non_null(strstr(cap.text, "lstm_1[0][2]"));
  tu_capture_reset(&cap);
  lm_tensor *x = seq_input(ctx, 2, 6, 4), *p1, *p2;
  lm_data dx = {1, &x, NULL};
  assert_int_equal(lm_model_predict(m, &dx, 2, &p1), LM_OK);
  const char *path = "test_rnn_state.safetensors";
  assert_int_equal(lm_model_save(m, path), LM_OK);
  lm_model *m2 = lm_model_load(ctx, path);
  if (!m2) fail_msg("%s", lm_errmsg(ctx));
  if (!lm_model_n_outputs(m2) || !m2->train) compiled(m2);
  assert_int_equal(lm_model_predict(m2, &dx, 2, &p2), LM_OK);
  assert_memory_equal(lm_tensor_f32(p1), lm_tensor_f32(p2), 4 * 2 * 16);
  remove(path);
  /* Keras: multi-output layers only in the functional API */
  lm_model *sq = lm_sequential_new(ctx, NULL);
  lm_layer *l = lm_layer_lstm(ctx, 2, &(lm_rnn_opts){.return_state = true});
  lm_layer_set_input_shape(l, 2, (int64_t[]){3, 2}, LM_FLOAT32);
  assert_int_equal(lm_sequential_add(sq, l), LM_ERR_ARG);
  assert_non_null(strstr(lm_errmsg(ctx), "single output tensor"));
  lm_ctx_free(ctx);
}

static void test_script_unpacking(void **state) {
  (void)state;
  lm_ctx *ctx = tu_ctx();
  const char *src = "from keras import layers, Input\n"
                    "from keras.models import Model\n"
                    "x = Input(shape=(5, 4))\n"
                    "out, h, c = layers.LSTM(8, return_state=True)(x)\n"
                    "s, h1 = layers.SimpleRNN(4, return_state=True, dropout=0.2)(x)\n"
                    "m = Model(x, [out, h, c, h1])\n"
                    "m.summary()\n";
  tu_capture out = {0}, err = {0};
  lms_opts o = {.mode = LMS_MODE_RUN, .out = tu_capture_fn, .out_ud = &out,
                .err = tu_capture_fn, .err_ud = &err};
  lm_status st = lms_run_source(ctx, "t.py", src, strlen(src), &o);
  if (st != LM_OK) fail_msg("%s", err.text ? err.text : "?");
  assert_non_null(strstr(out.text, "lstm_1 (LSTM)                   [(None, 8), (None, 8"));
  assert_non_null(strstr(out.text, "simple_rnn_1 (SimpleRNN)        [(None, 4), (None, 4 36"));
  tu_capture_reset(&out);
  tu_capture_reset(&err);
  lm_ctx_free(ctx);
}

/* SimpleRNN with one linear unit, W = 1, R = r, b = 0, on x = 1 at every
 * step: with input dropout h_t = m + r h_{t-1}, with recurrent dropout
 * h_t = 1 + m r h_{t-1}; m in {0, 1 / (1 - rate)} per sample. */
static void run_srnn(lm_ctx *ctx, bool training, float drop, float rec_drop, float r,
                     float *out /* (N, T) */) {
  enum { N = 64, T = 5 };
  lmg_graph g;
  assert_int_equal(lmg_init(&g, ctx), LM_OK);
  g.training = training;
  lm_tensor *W = lmt_new(ctx, LM_FLOAT32, 2, (int64_t[]){1, 1});
  lm_tensor *R = lmt_new(ctx, LM_FLOAT32, 2, (int64_t[]){1, 1});
  ((float *)W->data)[0] = 1.0f;
  ((float *)R->data)[0] = r;
  int x = lmg_input(&g, LM_FLOAT32, 3, (int64_t[]){N, T, 1});
  lmo_rnn_args a = {true, false, LMO_LINEAR, LMO_LINEAR};
  lmo_rnn_more more = {.dropout = drop, .recurrent_dropout = rec_drop};
  int y = lmo_simple_rnn_ex(&g, x, lmg_param(&g, W, false), lmg_param(&g, R, false), -1, -1, &a,
                            &more);
  assert_true(y >= 0);
  assert_int_equal(lmg_plan(&g, N, false), LM_OK);
  for (int i = 0; i < N * T; i++) lmg_at(&g, x)->val[i] = 1.0f;
  bool mask[8] = {true, true, true, true, true, true, true, true};
  lmg_forward(&g, mask);
  memcpy(out, lmg_at(&g, y)->val, sizeof(float) * N * T);
  lmg_release(&g);
  lmt_free(W);
  lmt_free(R);
}

static void test_dropout_masks(void **state) {
  (void)state;
  enum { N = 64, T = 5 };
  lm_ctx *ctx = tu_ctx();
  float y[N * T];
  /* input dropout 0.5: each sample's steps are all 0 or all 2 */
  run_srnn(ctx, true, 0.5f, 0.0f, 0.0f, y);
  int kept = 0;
  for (int n = 0; n < N; n++) {
    assert_true(y[n * T] == 0.0f || y[n * T] == 2.0f);
    for (int t = 1; t < T; t++) assert_true(y[n * T + t] == y[n * T]);
    kept += y[n * T] != 0.0f;
  }
  assert_true(kept > 16 && kept < 48);
  /* recurrent dropout 0.5 with r = 1: 1, 1, ... or 1, 3, 7, 15, 31 */
  run_srnn(ctx, true, 0.0f, 0.5f, 1.0f, y);
  kept = 0;
  for (int n = 0; n < N; n++) {
    bool on = y[n * T + 1] == 3.0f;
    kept += on;
    for (int t = 0; t < T; t++)
      assert_true(y[n * T + t] == (on ? (float)((1 << (t + 1)) - 1) : 1.0f));
  }
  assert_true(kept > 16 && kept < 48);
  /* inference: no dropout */
  run_srnn(ctx, false, 0.5f, 0.5f, 1.0f, y);
  for (int n = 0; n < N; n++)
    for (int t = 0; t < T; t++) assert_true(y[n * T + t] == (float)(t + 1));
  lm_ctx_free(ctx);
}

/* In inference, an LSTM with dropout predicts as the same LSTM without. */
static void test_dropout_inference(void **state) {
  (void)state;
  lm_ctx *ctx = tu_ctx();
  lm_sym *in = lm_input(ctx, 2, (int64_t[]){4, 3}, LM_FLOAT32, NULL);
  lm_layer *a = lm_layer_lstm(ctx, 5, &(lm_rnn_opts){.dropout = 0.5f, .recurrent_dropout = 0.3f});
  lm_layer *b = lm_layer_lstm(ctx, 5, NULL);
  lm_sym *ya = lm_layer_call(a, in), *yb = lm_layer_call(b, in);
  for (int k = 0; k < 3; k++)
    memcpy(lm_tensor_f32(lm_layer_weight(b, k)), lm_tensor_f32(lm_layer_weight(a, k)),
           4 * (size_t)lm_tensor_size(lm_layer_weight(a, k)));
  lm_model *ma = compiled(lm_model_new(ctx, 1, &in, 1, &ya, NULL));
  lm_model *mb = compiled(lm_model_new(ctx, 1, &in, 1, &yb, NULL));
  lm_tensor *x = seq_input(ctx, 3, 4, 3), *pa, *pb;
  lm_data dx = {1, &x, NULL};
  assert_int_equal(lm_model_predict(ma, &dx, 3, &pa), LM_OK);
  assert_int_equal(lm_model_predict(mb, &dx, 3, &pb), LM_OK);
  assert_memory_equal(lm_tensor_f32(pa), lm_tensor_f32(pb), 4 * 15);
  lm_ctx_free(ctx);
}

/* Embedding(mask_zero) -> LSTM(seq) -> Dropout -> Activation -> LSTM(seq,
 * return_state) -> LSTM: trailing zeros change nothing when the mask reaches
 * every recurrent layer (and do without mask_zero). */
static void stacked(lm_ctx *ctx, bool mask_zero, float *diff) {
  lm_sym *in = lm_input(ctx, 1, (int64_t[]){LM_NONE}, LM_INT32, NULL);
  lm_sym *x = lm_layer_call(
      lm_layer_embedding(ctx, 10, 4, &(lm_embedding_opts){.mask_zero = mask_zero}), in);
  x = lm_layer_call(lm_layer_lstm(ctx, 3, &(lm_rnn_opts){.return_sequences = true}), x);
  x = lm_layer_call(lm_layer_dropout(ctx, 0.3f, NULL), x);
  x = lm_layer_call(lm_layer_activation(ctx, "tanh", NULL), x);
  lm_sym *o[3];
  assert_int_equal(
      lm_layer_call_multi(
          lm_layer_simple_rnn(ctx, 3,
                              &(lm_rnn_opts){.return_sequences = true, .return_state = true}),
          1, &x, 3, o),
      2);
  lm_sym *y = lm_layer_call(lm_layer_lstm(ctx, 2, NULL), o[0]);
  lm_model *m = compiled(lm_model_new(ctx, 1, &in, 1, &y, NULL));
  lm_tensor *ids5 = lm_tensor_new(ctx, LM_INT32, 2, (int64_t[]){1, 5});
  lm_tensor *ids3 = lm_tensor_new(ctx, LM_INT32, 2, (int64_t[]){1, 3});
  int32_t v[5] = {3, 1, 2, 0, 0};
  memcpy(lm_tensor_i32(ids5), v, sizeof v);
  memcpy(lm_tensor_i32(ids3), v, 3 * sizeof(int32_t));
  lm_tensor *p5, *p3;
  lm_data d5 = {1, &ids5, NULL}, d3 = {1, &ids3, NULL};
  assert_int_equal(lm_model_predict(m, &d5, 1, &p5), LM_OK);
  assert_int_equal(lm_model_predict(m, &d3, 1, &p3), LM_OK);
  *diff = fabsf(lm_tensor_f32(p5)[0] - lm_tensor_f32(p3)[0]) +
          fabsf(lm_tensor_f32(p5)[1] - lm_tensor_f32(p3)[1]);
}

static void test_stacked_masking(void **state) {
  (void)state;
  lm_ctx *ctx = tu_ctx();
  float with, without;
  stacked(ctx, true, &with);
  stacked(ctx, false, &without);
  assert_true(with == 0.0f);
  assert_true(without > 1e-4f);
  lm_ctx_free(ctx);
}

/* The time loop split over 2 threads gives the 1-thread result exactly. */
static void test_threads_same(void **state) {
  (void)state;
  enum { N = 64, T = 40, D = 8, U = 16 };
  float out[2][N * U], gw[2][D * 4 * U];
  for (int run = 0; run < 2; run++) {
    lm_ctx *ctx = tu_ctx();
    lmg_graph g;
    assert_int_equal(lmg_init(&g, ctx), LM_OK);
    g.threads = run ? 2 : 1;
    g.training = true;
    lm_tensor *W = lmt_new(ctx, LM_FLOAT32, 2, (int64_t[]){D, 4 * U});
    lm_tensor *R = lmt_new(ctx, LM_FLOAT32, 2, (int64_t[]){U, 4 * U});
    assert_int_equal(lml_init_tensor(ctx, W, "glorot_uniform"), LM_OK);
    assert_int_equal(lml_init_tensor(ctx, R, "orthogonal"), LM_OK);
    int x = lmg_input(&g, LM_FLOAT32, 3, (int64_t[]){N, T, D});
    int w = lmg_param(&g, W, true);
    lmo_rnn_args a = {false, false, LMO_TANH, LMO_SIGMOID};
    lmo_rnn_more more = {.dropout = 0.2f, .recurrent_dropout = 0.2f};
    int y = lmo_lstm_ex(&g, x, w, lmg_param(&g, R, true), -1, -1, &a, &more);
    int s = lmo_reduce(&g, LMO_SUM, y, 0, false);
    assert_true(s >= 0);
    assert_int_equal(lmg_plan(&g, N, true), LM_OK);
    for (int i = 0; i < N * T * D; i++) lmg_at(&g, x)->val[i] = (float)cos(0.11 * i);
    bool *mask = calloc((size_t)g.n_nodes, 1);
    lmg_mark(&g, 1, &s, mask);
    lmg_forward(&g, mask);
    lmg_backward(&g, s, mask);
    memcpy(out[run], lmg_at(&g, y)->val, sizeof out[run]);
    memcpy(gw[run], lmg_at(&g, w)->grad, sizeof gw[run]);
    free(mask);
    lmg_release(&g);
    lmt_free(W);
    lmt_free(R);
    lm_ctx_free(ctx);
  }
  assert_memory_equal(out[0], out[1], sizeof out[0]);
  assert_memory_equal(gw[0], gw[1], sizeof gw[0]);
}

/* The rnn kernels, AVX2 and generic builds: activations within 1e-6
 * relative of libm, the row product against a naive loop. */
static void test_kernels(void **state) {
  (void)state;
  enum { NX = 20001, M = 5, K = 37, NC = 45 };
  static float x[NX], y[NX];
  for (int i = 0; i < NX; i++) x[i] = -20.0f + 40.0f * (float)i / (NX - 1);
  for (int mode = 0; mode < 2; mode++) {
    int old = lmk_rnn_set_mode(mode);
    lmk_rnn_act(LMK_TANH, NX, x, y);
    for (int i = 0; i < NX; i++) {
      double t = tanh((double)x[i]);
      assert_true(fabs(y[i] - t) <= 1e-6 * fabs(t) + 1e-30);
    }
    lmk_rnn_act(LMK_SIGMOID, NX, x, y);
    for (int i = 0; i < NX; i++) {
      double t = 1 / (1 + exp(-(double)x[i]));
      assert_true(fabs(y[i] - t) <= 1e-6 * t);
    }
    float A[M * K], B[K * NC], C[M * 50], R[M * 50];
    for (int i = 0; i < M * K; i++) A[i] = (float)sin(i * 0.3);
    for (int i = 0; i < K * NC; i++) B[i] = (float)cos(i * 0.7);
    for (int i = 0; i < M * 50; i++) C[i] = R[i] = (float)(i % 7) * 0.1f;
    lmk_rowmm(M, NC, K, A, K, B, NC, C, 50);
    for (int i = 0; i < M; i++)
      for (int j = 0; j < NC; j++) {
        double s = R[i * 50 + j];
        for (int k = 0; k < K; k++) s += (double)A[i * K + k] * B[k * NC + j];
        assert_true(fabs(C[i * 50 + j] - s) < 1e-4);
      }
    for (int i = 0; i < M; i++) /* columns past n untouched */
      for (int j = NC; j < 50; j++) assert_true(C[i * 50 + j] == R[i * 50 + j]);
    lmk_rnn_set_mode(old);
  }
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_return_state_values), cmocka_unit_test(test_summary_save_load),
      cmocka_unit_test(test_script_unpacking),    cmocka_unit_test(test_dropout_masks),
      cmocka_unit_test(test_dropout_inference),   cmocka_unit_test(test_stacked_masking),
      cmocka_unit_test(test_threads_same),        cmocka_unit_test(test_kernels),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}

/* Sequence-to-sequence features of the recurrent layers (the numerics against PyTorch are
 * in test_parity_rnn.c, the gradients in test_gradcheck.c):
 *  - Keras' initial_state: the lstm_seq2seq example's summary (Keras 2.2.4's text, the
 *    decoder connected to input_2[0][0], lstm_1[0][1], lstm_1[0][2]), a C encoder ->
 *    decoder whose encoder learns only through the states, save/load, and the errors;
 *  - GRU dropout against Keras 2.2.4's GRUCell (implementation=1: three input masks and
 *    three recurrent masks, one per gate) with the masks redrawn from the same seed;
 *  - merge masks: Add and Concatenate AND the masks of their inputs (an input without a
 *    mask counts as all true), checked against the LSTM on the kept steps only;
 *  - Bidirectional(LSTM(return_state)): [output, h_fw, c_fw, h_bw, c_bw]. */
#define _POSIX_C_SOURCE 200809L
#include <math.h>
#include <string.h>
#include <unistd.h>

#include "graph/graph.h"
#include "layers/layer.h"
#include "ops/ops.h"
#include "ops/rnn.h"
#include "script/script.h"
#include "testutil.h"

static lm_model *compiled(lm_model *m) {
  const char *loss = "mse";
  lm_compile_opts co = {.optimizer_name = "sgd", .n_losses = 1, .losses = &loss};
  assert_non_null(m);
  assert_int_equal(lm_model_compile(m, &co), LM_OK);
  return m;
}

static lm_tensor *filled(lm_ctx *ctx, int ndim, const int64_t *shape, double phase) {
  lm_tensor *t = lm_tensor_new(ctx, LM_FLOAT32, ndim, shape);
  for (int64_t i = 0; i < lm_tensor_size(t); i++)
    lm_tensor_f32(t)[i] = (float)sin(0.61 * (double)i + phase);
  return t;
}

/* A script in a context of its own (the script's log hooks point at these captures). */
static char *run_script(const char *src, bool expect_ok) {
  lm_ctx *ctx = tu_ctx();
  tu_capture out = {0}, err = {0};
  lms_opts o = {.mode = LMS_MODE_RUN, .out = tu_capture_fn, .out_ud = &out,
                .err = tu_capture_fn, .err_ud = &err};
  lm_status st = lms_run_source(ctx, "t.py", src, strlen(src), &o);
  if ((st == LM_OK) != expect_ok) fail_msg("%s", err.text ? err.text : "(no error)");
  char *text = expect_ok ? out.text : err.text;
  if (expect_ok) tu_capture_reset(&err);
  else tu_capture_reset(&out);
  lm_ctx_free(ctx);
  return text;
}

/* keras/examples/lstm_seq2seq.py: model.summary() as Keras 2.2.4 prints it. */
static void test_seq2seq_summary(void **state) {
  (void)state;
  const char *src =
      "from keras.layers import Input, LSTM, Dense\n"
      "from keras.models import Model\n"
      "encoder_inputs = Input(shape=(None, 71))\n"
      "encoder = LSTM(256, return_state=True)\n"
      "encoder_outputs, state_h, state_c = encoder(encoder_inputs)\n"
      "encoder_states = [state_h, state_c]\n"
      "decoder_inputs = Input(shape=(None, 93))\n"
      "decoder_lstm = LSTM(256, return_sequences=True, return_state=True)\n"
      "decoder_outputs, _, _ = decoder_lstm(decoder_inputs, initial_state=encoder_states)\n"
      "decoder_dense = Dense(93, activation='softmax')\n"
      "decoder_outputs = decoder_dense(decoder_outputs)\n"
      "model = Model([encoder_inputs, decoder_inputs], decoder_outputs)\n"
      "model.summary()\n";
  const char *want =
      "lstm_1 (LSTM)                   [(None, 256), (None, 335872      input_1[0][0]            "
      "        \n"
      "__________________________________________________________________________________________"
      "________\n"
      "lstm_2 (LSTM)                   [(None, None, 256),  358400      input_2[0][0]            "
      "        \n"
      "                                                                 lstm_1[0][1]             "
      "        \n"
      "                                                                 lstm_1[0][2]             "
      "        \n"
      "__________________________________________________________________________________________"
      "________\n"
      "dense_1 (Dense)                 (None, None, 93)     23901       lstm_2[0][0]             "
      "        \n";
  char *got = run_script(src, true);
  if (!strstr(got, want)) fail_msg("summary:\n%s", got);
  assert_non_null(strstr(got, "Total params: 718,173"));
  free(got);
}

/* A small encoder -> decoder in C: the encoder's weights reach the loss only through the
 * decoder's initial states, so one training step must change them; save/load keeps the
 * three-input call and the predictions. */
static void test_seq2seq_train_save(void **state) {
  (void)state;
  enum { N = 4, T1 = 5, T2 = 3, D1 = 3, D2 = 2, U = 4 };
  lm_ctx *ctx = tu_ctx();
  for (int kind = 0; kind < 2; kind++) {
    lm_sym *ein = lm_input(ctx, 2, (int64_t[]){LM_NONE, D1}, LM_FLOAT32, NULL);
    lm_sym *din = lm_input(ctx, 2, (int64_t[]){LM_NONE, D2}, LM_FLOAT32, NULL);
    lm_rnn_opts eo = {.return_state = true}, dopt = {.return_sequences = true};
    lm_layer *enc = kind ? lm_layer_gru(ctx, U, &eo) : lm_layer_lstm(ctx, U, &eo);
    lm_layer *dec = kind ? lm_layer_gru(ctx, U, &dopt) : lm_layer_lstm(ctx, U, &dopt);
    lm_sym *e[3];
    int ne = lm_layer_call_multi(enc, 1, &ein, 3, e);
    assert_int_equal(ne, kind ? 2 : 3);
    lm_sym *y = lm_layer_call_rnn(dec, din, ne - 1, e + 1);
    y = lm_layer_call(lm_layer_dense(ctx, 1, NULL), y);
    lm_sym *ins[2] = {ein, din};
    lm_model *m = compiled(lm_model_new(ctx, 2, ins, 1, &y, NULL));
    lm_tensor *x[2] = {filled(ctx, 3, (int64_t[]){N, T1, D1}, 0.1),
                       filled(ctx, 3, (int64_t[]){N, T2, D2}, 0.7)};
    lm_tensor *t = filled(ctx, 3, (int64_t[]){N, T2, 1}, 1.3);
    lm_data dx = {2, x, NULL}, dy = {1, &t, NULL};
    lm_tensor *k0 = lm_tensor_copy(lm_layer_weight(enc, 0));
    double logs[4];
    assert_int_equal(lm_model_train_on_batch(m, &dx, &dy, logs), LM_OK);
    const float *a = lm_tensor_f32(k0), *b = lm_tensor_f32(lm_layer_weight(enc, 0));
    double moved = 0;
    for (int64_t i = 0; i < lm_tensor_size(k0); i++) moved += fabs(a[i] - b[i]);
    assert_true(moved > 1e-6); /* the gradient reached the encoder through the states */
    lm_tensor *p1, *p2;
    assert_int_equal(lm_model_predict(m, &dx, N, &p1), LM_OK);
    const char *path = "test_rnn_seq2seq.safetensors";
    assert_int_equal(lm_model_save(m, path), LM_OK);
    lm_model *m2 = lm_model_load(ctx, path);
    if (!m2) fail_msg("%s", lm_errmsg(ctx));
    unlink(path);
    assert_int_equal(lm_model_predict(m2, &dx, N, &p2), LM_OK);
    assert_memory_equal(lm_tensor_f32(p1), lm_tensor_f32(p2), 4 * (size_t)lm_tensor_size(p1));
    /* the decoder's states decide its output: other states, other predictions */
    lm_tensor *x2[2] = {filled(ctx, 3, (int64_t[]){N, T1, D1}, 2.9), x[1]};
    lm_data dx2 = {2, x2, NULL};
    lm_tensor *p3;
    assert_int_equal(lm_model_predict(m, &dx2, N, &p3), LM_OK);
    double diff = 0;
    for (int64_t i = 0; i < lm_tensor_size(p1); i++)
      diff += fabs(lm_tensor_f32(p1)[i] - lm_tensor_f32(p3)[i]);
    assert_true(diff > 1e-4);
  }
  lm_ctx_free(ctx);
}

/* The decoder sees only zeros; the answer (the encoder's last token, at every decoder step)
 * reaches it only through the initial states, so a trained model above chance (1/3) reads
 * them (that the gradient also reaches the encoder through them is
 * test_seq2seq_train_save's check). */
static void test_seq2seq_learns_through_states(void **state) {
  (void)state;
  enum { N = 192, T1 = 5, T2 = 3, V = 3, U = 12 };
  lm_ctx *ctx = tu_ctx();
  lm_sym *ein = lm_input(ctx, 2, (int64_t[]){T1, V}, LM_FLOAT32, NULL);
  lm_sym *din = lm_input(ctx, 2, (int64_t[]){T2, 1}, LM_FLOAT32, NULL);
  lm_layer *enc = lm_layer_lstm(ctx, U, &(lm_rnn_opts){.return_state = true});
  lm_layer *dec = lm_layer_lstm(ctx, U, &(lm_rnn_opts){.return_sequences = true});
  lm_sym *e[3];
  assert_int_equal(lm_layer_call_multi(enc, 1, &ein, 3, e), 3);
  lm_sym *h = lm_layer_call_rnn(dec, din, 2, e + 1);
  lm_sym *y = lm_layer_call(lm_layer_dense(ctx, V, &(lm_dense_opts){.activation = "softmax"}), h);
  lm_sym *ins[2] = {ein, din};
  lm_model *m = lm_model_new(ctx, 2, ins, 1, &y, NULL);
  const char *loss = "categorical_crossentropy", *metric = "acc";
  lm_compile_opts co = {.optimizer = lm_optimizer_adam(ctx, &(lm_optimizer_opts){.lr = 0.02f}),
                        .n_losses = 1, .losses = &loss, .n_metrics = 1, .metrics = &metric};
  assert_non_null(m);
  assert_int_equal(lm_model_compile(m, &co), LM_OK);
  lm_tensor *xe = lm_tensor_new(ctx, LM_FLOAT32, 3, (int64_t[]){N, T1, V});
  lm_tensor *xd = lm_tensor_new(ctx, LM_FLOAT32, 3, (int64_t[]){N, T2, 1});
  lm_tensor *t = lm_tensor_new(ctx, LM_FLOAT32, 3, (int64_t[]){N, T2, V});
  uint64_t r = 12345;
  for (int i = 0; i < N; i++) {
    int last = 0;
    for (int s = 0; s < T1; s++) {
      r = r * 6364136223846793005ull + 1442695040888963407ull;
      last = (int)((r >> 33) % V);
      lm_tensor_f32(xe)[(i * T1 + s) * V + last] = 1.0f;
    }
    for (int s = 0; s < T2; s++) lm_tensor_f32(t)[(i * T2 + s) * V + last] = 1.0f;
  }
  lm_tensor *xs[2] = {xe, xd};
  lm_data dx = {2, xs, NULL}, dy = {1, &t, NULL};
  lm_fit_opts fo = LM_FIT_DEFAULTS;
  fo.epochs = 25;
  fo.verbose = 0;
  if (!lm_model_fit(m, &dx, &dy, &fo)) fail_msg("%s", lm_errmsg(ctx));
  double out[2];
  assert_int_equal(lm_model_evaluate(m, &dx, &dy, 64, 0, out), LM_OK);
  if (out[1] < 0.9) fail_msg("acc %.3f after training", out[1]);
  lm_ctx_free(ctx);
}

static void test_initial_state_errors(void **state) {
  (void)state;
  lm_ctx *ctx = tu_ctx();
  lm_sym *x = lm_input(ctx, 2, (int64_t[]){5, 3}, LM_FLOAT32, NULL);
  lm_sym *h = lm_input(ctx, 1, (int64_t[]){4}, LM_FLOAT32, NULL);
  lm_sym *h7 = lm_input(ctx, 1, (int64_t[]){7}, LM_FLOAT32, NULL);
  lm_sym *two[2] = {h, h}, *bad[2] = {h, h7};
  assert_null(lm_layer_call_rnn(lm_layer_lstm(ctx, 4, NULL), x, 1, &h));
  assert_string_equal(lm_errmsg(ctx), "Layer lstm_1 has 2 states but was passed 1 initial states.");
  assert_null(lm_layer_call_rnn(lm_layer_lstm(ctx, 4, NULL), x, 2, bad));
  assert_non_null(strstr(lm_errmsg(ctx), "initial state 1 has shape (None, 7), expected (None, 4)"));
  assert_null(lm_layer_call_rnn(lm_layer_gru(ctx, 4, NULL), x, 2, two));
  assert_non_null(strstr(lm_errmsg(ctx), "has 1 states but was passed 2"));
  assert_null(lm_layer_call_rnn(lm_layer_dense(ctx, 4, NULL), x, 1, &h));
  assert_non_null(strstr(lm_errmsg(ctx), "takes no initial_state"));
  lm_layer *bi = lm_layer_bidirectional(ctx, lm_layer_simple_rnn(ctx, 4, NULL), NULL, NULL);
  assert_null(lm_layer_call_rnn(bi, x, 1, &h));
  assert_non_null(strstr(lm_errmsg(ctx), "the state should be a list containing the states"));
  assert_non_null(lm_layer_call_rnn(lm_layer_simple_rnn(ctx, 4, NULL), x, 1, &h));
  assert_non_null(lm_layer_call_rnn(bi, x, 2, two));
  lm_ctx_free(ctx);
}

/* ---- GRU dropout: Keras 2.2.4's GRUCell, implementation=1 ---- */

static double sig(double v) { return 1.0 / (1.0 + exp(-v)); }

/* The GRU of Keras' GRUCell.call (implementation=1) in double with the masks dp (3, N, D)
 * and rdp (3, N, U) (NULL: ones); y (N, T, U). */
static void keras_gru(int N, int T, int D, int U, bool after, const float *x, const float *W,
                      const float *R, const float *b, const float *dp, const float *rdp,
                      double *y) {
  for (int i = 0; i < N; i++) {
    double h[8] = {0};
    for (int t = 0; t < T; t++) {
      const float *xt = x + ((size_t)i * T + t) * D;
      double xg[3][8], hg[3][8], g[3][8], hn[8];
      for (int q = 0; q < 3; q++)
        for (int u = 0; u < U; u++) {
          double s = b[q * U + u];
          for (int d = 0; d < D; d++)
            s += xt[d] * (dp ? dp[((size_t)q * N + i) * D + d] : 1.0) * W[d * 3 * U + q * U + u];
          xg[q][u] = s;
        }
      for (int q = 0; q < 2; q++)
        for (int u = 0; u < U; u++) {
          double s = after ? b[3 * U + q * U + u] : 0.0;
          for (int k = 0; k < U; k++)
            s += h[k] * (rdp ? rdp[((size_t)q * N + i) * U + k] : 1.0) * R[k * 3 * U + q * U + u];
          hg[q][u] = s;
          g[q][u] = sig(xg[q][u] + s);
        }
      for (int u = 0; u < U; u++) {
        double s = after ? b[5 * U + u] : 0.0;
        for (int k = 0; k < U; k++) {
          double hk = h[k] * (rdp ? rdp[((size_t)2 * N + i) * U + k] : 1.0);
          s += (after ? hk : g[1][k] * hk) * R[k * 3 * U + 2 * U + u];
        }
        hg[2][u] = after ? g[1][u] * s : s;
        g[2][u] = tanh(xg[2][u] + hg[2][u]);
        hn[u] = g[0][u] * h[u] + (1.0 - g[0][u]) * g[2][u];
      }
      for (int u = 0; u < U; u++) y[((size_t)i * T + t) * U + u] = h[u] = hn[u];
    }
  }
}

static void test_gru_dropout_keras(void **state) {
  (void)state;
  enum { N = 6, T = 4, D = 3, U = 3 };
  for (int after = 0; after < 2; after++) {
    lm_ctx *ctx = tu_ctx();
    lmg_graph g;
    assert_int_equal(lmg_init(&g, ctx), LM_OK);
    g.training = true;
    lm_tensor *W = filled(ctx, 2, (int64_t[]){D, 3 * U}, 0.3);
    lm_tensor *R = filled(ctx, 2, (int64_t[]){U, 3 * U}, 1.1);
    lm_tensor *b = after ? filled(ctx, 2, (int64_t[]){2, 3 * U}, 2.0)
                         : filled(ctx, 1, (int64_t[]){3 * U}, 2.0);
    for (int64_t i = 0; i < lm_tensor_size(R); i++) lm_tensor_f32(R)[i] *= 0.8f;
    int bn = lmg_param(&g, b, false);
    int x = lmg_input(&g, LM_FLOAT32, 3, (int64_t[]){N, T, D});
    lmo_rnn_args a = {true, false, LMO_TANH, LMO_SIGMOID};
    lmo_rnn_more more = {.dropout = 0.4f, .recurrent_dropout = 0.5f, .reset_after = after};
    int y = lmo_gru_ex(&g, x, lmg_param(&g, W, false), lmg_param(&g, R, false), bn, -1, &a, &more);
    if (y < 0) fail_msg("%s", lm_errmsg(ctx));
    assert_int_equal(lmg_plan(&g, N, false), LM_OK);
    for (int i = 0; i < N * T * D; i++) lmg_at(&g, x)->val[i] = (float)cos(0.37 * i);
    lm_rng_seed(ctx->rng, 99);
    lmg_forward(&g, NULL);
    float dp[3 * N * D], rdp[3 * N * U];
    lm_rng_seed(ctx->rng, 99); /* the same masks, drawn as the op does: inputs first */
    lmo_rnn_draw_mask(ctx, 0.4f, 3 * N * D, dp);
    lmo_rnn_draw_mask(ctx, 0.5f, 3 * N * U, rdp);
    double ref[N * T * U], plain[N * T * U];
    keras_gru(N, T, D, U, after, lmg_at(&g, x)->val, lm_tensor_f32(W), lm_tensor_f32(R),
              lm_tensor_f32(b), dp, rdp, ref);
    keras_gru(N, T, D, U, after, lmg_at(&g, x)->val, lm_tensor_f32(W), lm_tensor_f32(R),
              lm_tensor_f32(b), NULL, NULL, plain);
    double off = 0;
    for (int i = 0; i < N * T * U; i++) {
      float got = lmg_at(&g, y)->val[i];
      if (fabs(got - ref[i]) > 1e-5) fail_msg("after=%d y[%d]: got %g, want %g", after, i, got, ref[i]);
      off += fabs(plain[i] - ref[i]);
    }
    assert_true(off > 0.1); /* the masks changed the result */
    /* every mask row is 0 or 1 / (1 - rate) and each gate has its own masks */
    bool differ = false;
    for (int i = 0; i < N * D; i++) differ |= dp[i] != dp[N * D + i] || dp[i] != dp[2 * N * D + i];
    assert_true(differ);
    g.training = false; /* inference: no masks */
    lmg_forward(&g, NULL);
    for (int i = 0; i < N * T * U; i++) assert_true(fabs(lmg_at(&g, y)->val[i] - plain[i]) < 1e-5);
    lmg_release(&g);
    lm_ctx_free(ctx);
  }
}

/* ---- merge masks ---- */

/* Two Embedding(mask_zero) branches (and a float input without a mask) merged, then an
 * LSTM(3). kind 0: Add(e1, e2); 1: Concatenate(e1, e2); 2: Concatenate(e1, f) (f has no
 * mask: only e1's); 3: Concatenate(axis=1)(e1, e2), the masks concatenated along the
 * steps; 4: Concatenate(axis=1)(e1, f), f's steps all kept. Each sample's output must be
 * the LSTM over its kept steps only (the same layer called on the compressed sequence, no
 * mask). */
static void test_merge_masks(void **state) {
  (void)state;
  enum { N = 3, T = 6, V = 5, E = 2 };
  static const int32_t ids[2][N * T] = {{1, 2, 0, 3, 4, 0, 2, 2, 2, 1, 0, 0, 0, 3, 1, 4, 2, 1},
                                        {3, 0, 1, 2, 4, 1, 1, 2, 0, 0, 3, 1, 4, 4, 1, 0, 2, 1}};
  for (int kind = 0; kind < 5; kind++) {
    bool floats = kind == 2 || kind == 4, steps = kind >= 3;
    lm_ctx *ctx = tu_ctx();
    lm_sym *in1 = lm_input(ctx, 1, (int64_t[]){T}, LM_INT32, NULL);
    lm_sym *in2 = !floats ? lm_input(ctx, 1, (int64_t[]){T}, LM_INT32, NULL)
                           : lm_input(ctx, 2, (int64_t[]){T, E}, LM_FLOAT32, NULL);
    lm_layer *emb1 = lm_layer_embedding(ctx, V, E, &(lm_embedding_opts){.mask_zero = true});
    lm_layer *emb2 = lm_layer_embedding(ctx, V, E, &(lm_embedding_opts){.mask_zero = true});
    lm_sym *e[2] = {lm_layer_call(emb1, in1), !floats ? lm_layer_call(emb2, in2) : in2};
    lm_sym *merged = kind == 0 ? lm_add(ctx, 2, e) : lm_concatenate(ctx, 2, e, steps ? 1 : -1);
    lm_layer *lstm = lm_layer_lstm(ctx, 3, &(lm_rnn_opts){.recurrent_activation = "sigmoid"});
    lm_sym *y = lm_layer_call(lstm, merged);
    lm_sym *ins[2] = {in1, in2};
    lm_model *m = compiled(lm_model_new(ctx, 2, ins, 1, &y, NULL));
    int F = kind == 0 || steps ? E : 2 * E;
    lm_sym *plain = lm_input(ctx, 2, (int64_t[]){LM_NONE, F}, LM_FLOAT32, NULL);
    lm_sym *yp = lm_layer_call(lstm, plain); /* the same weights, no mask */
    lm_model *mp = compiled(lm_model_new(ctx, 1, &plain, 1, &yp, NULL));
    lm_tensor *x[2] = {lm_tensor_new(ctx, LM_INT32, 2, (int64_t[]){N, T}),
                       !floats ? lm_tensor_new(ctx, LM_INT32, 2, (int64_t[]){N, T})
                                : lm_tensor_new(ctx, LM_FLOAT32, 3, (int64_t[]){N, T, E})};
    memcpy(lm_tensor_i32(x[0]), ids[0], sizeof ids[0]);
    if (!floats)
      memcpy(lm_tensor_i32(x[1]), ids[1], sizeof ids[1]);
    else
      for (int i = 0; i < N * T * E; i++) lm_tensor_f32(x[1])[i] = (float)sin(1.7 * i);
    lm_data dx = {2, x, NULL};
    lm_tensor *p;
    assert_int_equal(lm_model_predict(m, &dx, N, &p), LM_OK);
    const float *t1 = lm_tensor_f32(lm_layer_weight(emb1, 0));
    const float *t2 = !floats ? lm_tensor_f32(lm_layer_weight(emb2, 0)) : NULL;
    for (int i = 0; i < N; i++) {
      float seq[2 * T * 2 * E];
      int K = 0;
      for (int t = 0; t < (steps ? 2 * T : T); t++) {
        int side = steps && t >= T, tt = side ? t - T : t; /* steps: e1's, then the other's */
        int a = ids[0][i * T + tt], b = !floats ? ids[1][i * T + tt] : 1;
        if (steps ? (side ? b == 0 : a == 0) : (a == 0 || b == 0)) continue; /* the masks */
        for (int f = 0; f < E; f++) {
          float v1 = t1[a * E + f];
          float v2 = !floats ? t2[b * E + f] : lm_tensor_f32(x[1])[(i * T + tt) * E + f];
          if (kind == 0) seq[K * F + f] = v1 + v2;
          else if (steps) seq[K * F + f] = side ? v2 : v1;
          else seq[K * F + f] = v1, seq[K * F + E + f] = v2;
        }
        K++;
      }
      assert_true(K > 0);
      lm_tensor *xs = lm_tensor_new(ctx, LM_FLOAT32, 3, (int64_t[]){1, K, F}), *pp;
      memcpy(lm_tensor_f32(xs), seq, sizeof(float) * (size_t)(K * F));
      lm_data d1 = {1, &xs, NULL};
      assert_int_equal(lm_model_predict(mp, &d1, 1, &pp), LM_OK);
      for (int u = 0; u < 3; u++)
        if (fabsf(lm_tensor_f32(p)[i * 3 + u] - lm_tensor_f32(pp)[u]) > 1e-5f)
          fail_msg("kind %d sample %d unit %d: %g vs %g", kind, i, u, lm_tensor_f32(p)[i * 3 + u],
                   lm_tensor_f32(pp)[u]);
    }
    lm_ctx_free(ctx);
  }
}

/* ---- Bidirectional(LSTM(return_state=True)) ---- */

static void test_bidirectional_states(void **state) {
  (void)state;
  const char *src = "from keras.layers import Input, LSTM, GRU, Bidirectional, concatenate\n"
                    "from keras.models import Model\n"
                    "x = Input(shape=(5, 3))\n"
                    "out, fh, fc, bh, bc = Bidirectional(LSTM(4, return_state=True))(x)\n"
                    "y, h1, h2 = Bidirectional(GRU(2, return_state=True), merge_mode='sum')(x)\n"
                    "seq = GRU(4, return_sequences=True)(x, initial_state=[fh])\n"
                    "m = Model(x, [out, fh, bc, y, h2, seq])\n"
                    "m.summary()\n";
  char *got = run_script(src, true);
  if (!strstr(got, "bidirectional_1 (Bidirectional) [(None, 8), (None, 4 256         input_1[0][0]"))
    fail_msg("summary:\n%s", got);
  assert_non_null(strstr(got, "gru_2 (GRU)                     (None, 5, 4)         108         input_1[0][0]"));
  assert_non_null(strstr(got, "                                                                 bidirectional_1[0][1]"));
  free(got);
  /* C: the merged output is [h_fw, h_bw] without return_sequences */
  lm_ctx *ctx = tu_ctx();
  lm_sym *in = lm_input(ctx, 2, (int64_t[]){5, 3}, LM_FLOAT32, NULL);
  lm_layer *bi = lm_layer_bidirectional(
      ctx, lm_layer_lstm(ctx, 4, &(lm_rnn_opts){.return_state = true}), NULL, NULL);
  lm_sym *o[5];
  assert_int_equal(lm_layer_call_multi(bi, 1, &in, 5, o), 5);
  assert_int_equal(lm_sym_dim(o[0], 1), 8);
  lm_model *m = compiled(lm_model_new(ctx, 1, &in, 5, o, NULL));
  lm_tensor *x = filled(ctx, 3, (int64_t[]){2, 5, 3}, 0.4), *p[5];
  lm_data dx = {1, &x, NULL};
  assert_int_equal(lm_model_predict(m, &dx, 2, p), LM_OK);
  for (int n = 0; n < 2; n++)
    for (int u = 0; u < 4; u++) {
      assert_true(lm_tensor_f32(p[0])[n * 8 + u] == lm_tensor_f32(p[1])[n * 4 + u]);
      assert_true(lm_tensor_f32(p[0])[n * 8 + 4 + u] == lm_tensor_f32(p[3])[n * 4 + u]);
      assert_true(lm_tensor_f32(p[2])[n * 4 + u] != lm_tensor_f32(p[4])[n * 4 + u]);
    }
  lm_layer *none = lm_layer_bidirectional(
      ctx, lm_layer_simple_rnn(ctx, 3, &(lm_rnn_opts){.return_state = true}), "none", NULL);
  lm_sym *o4[4];
  assert_int_equal(lm_layer_call_multi(none, 1, &in, 4, o4), 4); /* y_fw, y_bw, h_fw, h_bw */
  assert_int_equal(lm_sym_dim(o4[1], 1), 3);
  assert_string_equal(lm_sym_name(o4[3]), "bidirectional_2[0][3]");
  const char *path = "test_rnn_seq2seq_bidi.safetensors";
  assert_int_equal(lm_model_save(m, path), LM_OK);
  lm_model *m2 = lm_model_load(ctx, path);
  if (!m2) fail_msg("%s", lm_errmsg(ctx));
  unlink(path);
  lm_tensor *q[5];
  assert_int_equal(lm_model_predict(m2, &dx, 2, q), LM_OK);
  for (int k = 0; k < 5; k++)
    assert_memory_equal(lm_tensor_f32(p[k]), lm_tensor_f32(q[k]), 4 * (size_t)lm_tensor_size(p[k]));
  lm_ctx_free(ctx);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_seq2seq_summary),      cmocka_unit_test(test_seq2seq_train_save),
      cmocka_unit_test(test_initial_state_errors), cmocka_unit_test(test_gru_dropout_keras),
      cmocka_unit_test(test_seq2seq_learns_through_states),
      cmocka_unit_test(test_merge_masks),          cmocka_unit_test(test_bidirectional_states),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}

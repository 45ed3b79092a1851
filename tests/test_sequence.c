/* Sequence layers [issue 5]: Embedding, LSTM forward against a plain
 * reference recurrence (Keras 2.2.4 semantics), index errors, orthogonal
 * init, and the lecture's question-answering and shared-LSTM models. */
#include <math.h>
#include <string.h>

#include "graph/graph.h"
#include "layers/layer.h"
#include "model/model.h"
#include "ops/ops.h"
#include "testutil.h"

static double ref_act(int kind, double x) {
  if (kind == LMO_TANH)
    return tanh(x);
  if (kind == LMO_SIGMOID)
    return 1.0 / (1.0 + exp(-x));
  double y = 0.2 * x + 0.5; /* hard_sigmoid */
  return y < 0 ? 0 : y > 1 ? 1 : y;
}

/* Keras LSTM step by step in double: gates i, f, c, o; masked steps keep
 * the state and output the previous h; go_backwards outputs in step order. */
static void ref_lstm(int N, int T, int D, int U, const float *x, const float *W,
                     const float *R, const float *b, const int32_t *ids,
                     bool seq, bool back, int rec, double *out) {
  for (int n = 0; n < N; n++) {
    double h[16] = {0}, c[16] = {0};
    for (int s = 0; s < T; s++) {
      int t = back ? T - 1 - s : s;
      if (!(ids && ids[n * T + t] == 0)) {
        double z[64], hn[16];
        for (int j = 0; j < 4 * U; j++) {
          z[j] = b ? b[j] : 0;
          for (int k = 0; k < D; k++)
            z[j] += x[(n * T + t) * D + k] * W[k * 4 * U + j];
          for (int k = 0; k < U; k++)
            z[j] += h[k] * R[k * 4 * U + j];
        }
        for (int u = 0; u < U; u++) {
          double i = ref_act(rec, z[u]), f = ref_act(rec, z[U + u]);
          double g = tanh(z[2 * U + u]), o = ref_act(rec, z[3 * U + u]);
          c[u] = f * c[u] + i * g;
          hn[u] = o * tanh(c[u]);
        }
        memcpy(h, hn, sizeof(double) * (size_t)U);
      }
      if (seq)
        for (int u = 0; u < U; u++)
          out[(n * T + s) * U + u] = h[u];
    }
    if (!seq)
      for (int u = 0; u < U; u++)
        out[n * U + u] = h[u];
  }
}

static void check_lstm_case(bool seq, bool back, bool masked, int rec) {
  enum { N = 3, T = 5, D = 4, U = 3 };
  lm_ctx *ctx = tu_ctx();
  lmg_graph g;
  assert_int_equal(lmg_init(&g, ctx), LM_OK);
  int64_t xs[3] = {N, T, D}, ms[2] = {N, T};
  lm_tensor *W = lmt_new(ctx, LM_FLOAT32, 2, (int64_t[]){D, 4 * U});
  lm_tensor *R = lmt_new(ctx, LM_FLOAT32, 2, (int64_t[]){U, 4 * U});
  lm_tensor *B = lmt_new(ctx, LM_FLOAT32, 1, (int64_t[]){4 * U});
  assert_int_equal(lml_init_tensor(ctx, W, "glorot_uniform"), LM_OK);
  assert_int_equal(lml_init_tensor(ctx, R, "orthogonal"), LM_OK);
  assert_int_equal(lml_init_tensor(ctx, B, "uniform"), LM_OK);
  int x = lmg_input(&g, LM_FLOAT32, 3, xs);
  int m = masked ? lmg_input(&g, LM_INT32, 2, ms) : -1;
  lmo_rnn_args a = {seq, back, LMO_TANH, rec};
  int y = lmo_lstm(&g, x, lmg_param(&g, W, true), lmg_param(&g, R, true),
                   lmg_param(&g, B, true), m, &a);
  assert_true(y >= 0);
  assert_int_equal(lmg_plan(&g, N, false), LM_OK);
  float xv[N * T * D];
  int32_t idv[N * T];
  for (int i = 0; i < N * T * D; i++)
    xv[i] = (float)sin(0.7 * i) * 1.5f;
  for (int i = 0; i < N * T; i++)
    idv[i] = (i * 7 + 3) % 4; /* some zeros */
  memcpy(lmg_at(&g, x)->val, xv, sizeof xv);
  if (masked)
    memcpy(lmg_at(&g, m)->val, idv, sizeof idv);
  lmg_forward(&g, NULL);
  double ref[N * T * U];
  ref_lstm(N, T, D, U, xv, W->data, R->data, B->data, masked ? idv : NULL, seq,
           back, rec, ref);
  const lmg_node *yn = lmg_at(&g, y);
  assert_int_equal(yn->size, seq ? N * T * U : N * U);
  for (int64_t i = 0; i < yn->size; i++)
    assert_true(fabs(yn->val[i] - ref[i]) < 1e-5);
  lmg_release(&g);
  lmt_free(W), lmt_free(R), lmt_free(B);
  lm_ctx_free(ctx);
}

static void test_lstm_reference(void **state) {
  (void)state;
  for (int k = 0; k < 16; k++)
    check_lstm_case(k & 1, (k >> 1) & 1, (k >> 2) & 1,
                    k & 8 ? LMO_SIGMOID : LMO_HARD_SIGMOID);
}

/* SimpleRNN against h = tanh(x W + h R + b), masked, backwards, sequences. */
static void test_simple_rnn_reference(void **state) {
  (void)state;
  enum { N = 2, T = 4, D = 3, U = 2 };
  lm_ctx *ctx = tu_ctx();
  lmg_graph g;
  assert_int_equal(lmg_init(&g, ctx), LM_OK);
  lm_tensor *W = lmt_new(ctx, LM_FLOAT32, 2, (int64_t[]){D, U});
  lm_tensor *R = lmt_new(ctx, LM_FLOAT32, 2, (int64_t[]){U, U});
  lm_tensor *B = lmt_new(ctx, LM_FLOAT32, 1, (int64_t[]){U});
  lml_init_tensor(ctx, W, "glorot_uniform");
  lml_init_tensor(ctx, R, "orthogonal");
  lml_init_tensor(ctx, B, "uniform");
  int x = lmg_input(&g, LM_FLOAT32, 3, (int64_t[]){N, T, D});
  int m = lmg_input(&g, LM_INT32, 2, (int64_t[]){N, T});
  lmo_rnn_args a = {true, true, LMO_TANH, 0};
  int y = lmo_simple_rnn(&g, x, lmg_param(&g, W, true), lmg_param(&g, R, true),
                         lmg_param(&g, B, true), m, &a);
  assert_int_equal(lmg_plan(&g, N, false), LM_OK);
  float xv[N * T * D];
  int32_t ids[N * T] = {1, 0, 2, 3, 0, 0, 1, 1};
  for (int i = 0; i < N * T * D; i++)
    xv[i] = (float)cos(0.9 * i);
  memcpy(lmg_at(&g, x)->val, xv, sizeof xv);
  memcpy(lmg_at(&g, m)->val, ids, sizeof ids);
  lmg_forward(&g, NULL);
  const float *w = W->data, *r = R->data, *b = B->data;
  for (int n = 0; n < N; n++) {
    double h[U] = {0};
    for (int s = 0; s < T; s++) {
      int t = T - 1 - s;
      if (ids[n * T + t]) {
        double hn[U];
        for (int u = 0; u < U; u++) {
          double z = b[u];
          for (int k = 0; k < D; k++)
            z += xv[(n * T + t) * D + k] * w[k * U + u];
          for (int k = 0; k < U; k++)
            z += h[k] * r[k * U + u];
          hn[u] = tanh(z);
        }
        memcpy(h, hn, sizeof h);
      }
      for (int u = 0; u < U; u++)
        assert_true(fabs(lmg_at(&g, y)->val[(n * T + s) * U + u] - h[u]) <
                    1e-5);
    }
  }
  lmg_release(&g);
  lmt_free(W), lmt_free(R), lmt_free(B);
  lm_ctx_free(ctx);
}

static void test_orthogonal(void **state) {
  (void)state;
  lm_ctx *ctx = tu_ctx();
  int64_t shapes[2][2] = {{8, 32}, {20, 6}};
  for (int s = 0; s < 2; s++) {
    lm_tensor *t = lmt_new(ctx, LM_FLOAT32, 2, shapes[s]);
    assert_int_equal(lml_init_tensor(ctx, t, "orthogonal"), LM_OK);
    const float *w = t->data;
    int64_t r = shapes[s][0], c = shapes[s][1];
    bool rows = r <= c;
    int64_t nv = rows ? r : c, len = rows ? c : r;
    for (int64_t a = 0; a < nv; a++)
      for (int64_t b = 0; b < nv; b++) {
        double dot = 0;
        for (int64_t k = 0; k < len; k++)
          dot += rows ? (double)w[a * c + k] * w[b * c + k]
                      : (double)w[k * c + a] * w[k * c + b];
        assert_true(fabs(dot - (a == b)) < 1e-5);
      }
    lmt_free(t);
  }
  lm_ctx_free(ctx);
}

static void test_params_and_bias(void **state) {
  (void)state;
  lm_ctx *ctx = tu_ctx();
  lm_sym *in = lm_input(ctx, 1, (int64_t[]){LM_NONE}, LM_INT32, NULL);
  lm_layer *e = lm_layer_embedding(ctx, 10000, 32, NULL);
  lm_layer *l = lm_layer_lstm(ctx, 32, NULL);
  lm_sym *y = lm_layer_call(l, lm_layer_call(e, in));
  assert_non_null(y);
  assert_int_equal(lm_layer_count_params(e), 320000);
  assert_int_equal(lm_layer_count_params(l), 8320);
  assert_string_equal(lm_layer_weight_name(l, 1), "lstm_1/recurrent_kernel:0");
  const float *b = lm_tensor_f32(lm_layer_weight(l, 2));
  for (int k = 0; k < 128; k++)
    assert_true(b[k] == (k >= 32 && k < 64 ? 1.0f : 0.0f));
  const float *emb = lm_tensor_f32(lm_layer_weight(e, 0));
  for (int k = 0; k < 1000; k++)
    assert_true(fabsf(emb[k]) <= 0.05f);
  assert_null(lm_layer_lstm(ctx, 4, &(lm_rnn_opts){.activation = "softmax"}));
  lm_ctx_free(ctx);
}

/* The lecture's question-answering model (small vocabularies). swap: the
 * listing's Embedding(64, text_vocabulary_size) argument order. */
static lm_model *qa_model(lm_ctx *ctx, bool swap, int vocab, int answers) {
  lm_sym *text = lm_input(ctx, 1, (int64_t[]){LM_NONE}, LM_INT32, "text");
  lm_sym *question =
      lm_input(ctx, 1, (int64_t[]){LM_NONE}, LM_INT32, "question");
  lm_layer *et = swap ? lm_layer_embedding(ctx, 64, vocab, NULL)
                      : lm_layer_embedding(ctx, vocab, 64, NULL);
  lm_layer *eq = swap ? lm_layer_embedding(ctx, 32, vocab, NULL)
                      : lm_layer_embedding(ctx, vocab, 32, NULL);
  lm_sym *a =
      lm_layer_call(lm_layer_lstm(ctx, 32, NULL), lm_layer_call(et, text));
  lm_sym *b =
      lm_layer_call(lm_layer_lstm(ctx, 16, NULL), lm_layer_call(eq, question));
  lm_sym *ab[2] = {a, b};
  lm_sym *cat = lm_concatenate(ctx, 2, ab, -1);
  lm_sym *ans = lm_layer_call(
      lm_layer_dense(ctx, answers, &(lm_dense_opts){.activation = "softmax"}),
      cat);
  lm_sym *ins[2] = {text, question};
  lm_model *m = lm_model_new(ctx, 2, ins, 1, &ans, NULL);
  assert_non_null(m);
  const char *loss = "categorical_crossentropy", *met = "acc";
  lm_compile_opts co = {.optimizer_name = "rmsprop",
                        .n_losses = 1,
                        .losses = &loss,
                        .n_metrics = 1,
                        .metrics = &met};
  assert_int_equal(lm_model_compile(m, &co), LM_OK);
  return m;
}

static void qa_data(lm_ctx *ctx, int n, int len, int vocab, int answers,
                    lm_tensor **text, lm_tensor **question, lm_tensor **y) {
  int64_t s[2] = {n, len}, ys[2] = {n, answers};
  *text = lm_tensor_new(ctx, LM_INT32, 2, s);
  *question = lm_tensor_new(ctx, LM_INT32, 2, s);
  *y = lm_tensor_new(ctx, LM_FLOAT32, 2, ys);
  uint64_t rng[4];
  lm_rng_seed(rng, 99);
  for (int64_t i = 0; i < n * len; i++) {
    lm_tensor_i32(*text)[i] =
        1 + (int32_t)(lm_rng_next(rng) % (uint64_t)(vocab - 1));
    lm_tensor_i32(*question)[i] =
        1 + (int32_t)(lm_rng_next(rng) % (uint64_t)(vocab - 1));
  }
  for (int i = 0; i < n; i++)
    lm_tensor_f32(*y)[i * answers + (i % answers)] = 1.0f;
}

static void test_qa_model(void **state) {
  (void)state;
  enum { VOCAB = 200, ANS = 10, N = 40, LEN = 12 };
  lm_ctx *ctx = tu_ctx();
  lm_model *m = qa_model(ctx, false, VOCAB, ANS);
  lm_tensor *text, *question, *y;
  qa_data(ctx, N, LEN, VOCAB, ANS, &text, &question, &y);
  lm_tensor *xs[2] = {text, question};
  lm_fit_opts fo = LM_FIT_DEFAULTS;
  fo.epochs = 2, fo.batch_size = 16, fo.verbose = 0;
  lm_data dx = {2, xs, NULL}, dy = {1, &y, NULL};
  lm_history *h = lm_model_fit(m, &dx, &dy, &fo);
  assert_non_null(h);
  assert_int_equal(lm_history_n_keys(h), 2);
  assert_string_equal(lm_history_key(h, 0), "loss");
  assert_string_equal(lm_history_key(h, 1), "acc");
  /* by name, in the other order */
  lm_tensor *xs2[2] = {question, text};
  const char *names[2] = {"question", "text"};
  lm_data dxn = {2, xs2, names};
  assert_non_null(lm_model_fit(m, &dxn, &dy, &fo));
  double ev_list[2], ev_dict[2];
  assert_int_equal(lm_model_evaluate(m, &dx, &dy, 16, 0, ev_list), LM_OK);
  assert_int_equal(lm_model_evaluate(m, &dxn, &dy, 16, 0, ev_dict), LM_OK);
  assert_true(ev_list[0] == ev_dict[0]);

  /* the listing's swapped Embedding arguments: ids reach 199 >= input_dim 64 */
  lm_model *bad = qa_model(ctx, true, VOCAB, ANS);
  assert_null(lm_model_fit(bad, &dx, &dy, &fo));
  const char *msg = lm_errmsg(ctx);
  assert_int_equal(lm_errcode(ctx), LM_ERR_VALUE);
  assert_non_null(strstr(msg, "embedding_3"));
  assert_non_null(strstr(msg, "not in [0, 64)"));
  assert_non_null(strstr(msg, "sample"));
  lm_tensor *pred[1];
  assert_int_equal(lm_model_predict(bad, &dx, 16, pred), LM_ERR_VALUE);
  lm_ctx_free(ctx);
}

/* An id out of range names the layer, the index, its position and the sample.
 */
static void test_embedding_index_message(void **state) {
  (void)state;
  lm_ctx *ctx = tu_ctx();
  lm_sym *in = lm_input(ctx, 1, (int64_t[]){3}, LM_INT32, NULL);
  lm_layer *e =
      lm_layer_embedding(ctx, 5, 2, &(lm_embedding_opts){.name = "emb"});
  lm_sym *y = lm_layer_call(lm_layer_flatten(ctx, NULL), lm_layer_call(e, in));
  lm_model *m = lm_model_new(ctx, 1, &in, 1, &y, NULL);
  const char *loss = "mse";
  lm_compile_opts co = {
      .optimizer_name = "sgd", .n_losses = 1, .losses = &loss};
  assert_int_equal(lm_model_compile(m, &co), LM_OK);
  int32_t ids[12] = {0, 1, 2, 3, 4, 0, 1, 2, 3, 4, -1, 9};
  float yv[24] = {0};
  lm_tensor *x = lm_tensor_from(ctx, LM_INT32, 2, (int64_t[]){4, 3}, ids);
  lm_tensor *t = lm_tensor_from(ctx, LM_FLOAT32, 2, (int64_t[]){4, 6}, yv);
  lm_data dx = {1, &x, NULL}, dy = {1, &t, NULL};
  double out[1];
  assert_int_equal(lm_model_evaluate(m, &dx, &dy, 4, 0, out), LM_ERR_VALUE);
  assert_string_equal(lm_errmsg(ctx), "Layer emb: index -1 at position 1 is "
                                      "not in [0, 5) (input_dim), in sample 3");
  ids[10] = 7;
  lm_tensor *x2 = lm_tensor_from(ctx, LM_INT32, 2, (int64_t[]){4, 3}, ids);
  lm_data dx2 = {1, &x2, NULL};
  assert_int_equal(lm_model_evaluate(m, &dx2, &dy, 2, 0, out), LM_ERR_VALUE);
  assert_string_equal(lm_errmsg(ctx), "Layer emb: index 7 at position 1 is not "
                                      "in [0, 5) (input_dim), in sample 3");
  lm_ctx_free(ctx);
}

/* Shared LSTM (lecture): summary total 20,673; the shared weights'
 * gradient is the sum of the gradients of two unshared copies. */
static lm_model *siamese(lm_ctx *ctx, lm_layer *left_lstm, lm_layer *right_lstm,
                         lm_layer *dense) {
  lm_sym *l = lm_input(ctx, 2, (int64_t[]){LM_NONE, 128}, LM_FLOAT32, NULL);
  lm_sym *r = lm_input(ctx, 2, (int64_t[]){LM_NONE, 128}, LM_FLOAT32, NULL);
  lm_sym *lr[2] = {lm_layer_call(left_lstm, l), lm_layer_call(right_lstm, r)};
  lm_sym *p = lm_layer_call(dense, lm_concatenate(ctx, 2, lr, -1));
  lm_sym *ins[2] = {l, r};
  return lm_model_new(ctx, 2, ins, 1, &p, NULL);
}

/* d(sum(r * y))/d(weights) for every weight tensor in ts. */
static void model_grads(lm_model *m, lm_tensor *const *x, int nt,
                        lm_tensor *const *ts, float **grads) {
  lm_ctx *ctx = m->ctx;
  lmg_graph g;
  assert_int_equal(lmg_init(&g, ctx), LM_OK);
  int in_nodes[2] = {-1, -1}, out = -1;
  assert_int_equal(lmm_emit(m, &g, NULL, in_nodes, &out), LM_OK);
  int loss = lmo_reduce(&g, LMO_SUM, lmo_affine(&g, out, 0.7f, 0.0f), 0, false);
  assert_true(loss >= 0);
  int64_t bs = x[0]->shape[0];
  for (int i = 0; i < 2; i++)
    assert_int_equal(lmg_set_input_shape(&g, in_nodes[i], 3, x[i]->shape),
                     LM_OK);
  assert_int_equal(lmg_plan(&g, bs, true), LM_OK);
  for (int i = 0; i < 2; i++)
    memcpy(lmg_at(&g, in_nodes[i])->val, x[i]->data,
           sizeof(float) * (size_t)x[i]->size);
  lmg_forward(&g, NULL);
  lmg_backward(&g, loss, NULL);
  for (int k = 0; k < nt; k++) {
    int found = 0;
    for (int i = 0; i < g.n_nodes; i++)
      if (g.nodes[i].kind == LMG_PARAM && g.nodes[i].param == ts[k]) {
        memcpy(grads[k], g.nodes[i].grad, sizeof(float) * (size_t)ts[k]->size);
        found++;
      }
    assert_int_equal(found, 1);
  }
  lmg_release(&g);
}

static void test_shared_lstm(void **state) {
  (void)state;
  lm_ctx *ctx = tu_ctx();
  lm_layer *lstm = lm_layer_lstm(ctx, 32, NULL), *dense;
  dense = lm_layer_dense(ctx, 1, &(lm_dense_opts){.activation = "sigmoid"});
  lm_model *m = siamese(ctx, lstm, lstm, dense);
  assert_non_null(m);
  assert_int_equal(lm_model_count_params(m, 0), 20673);
  tu_capture cap = {0};
  assert_int_equal(lm_model_summary(m, tu_capture_fn, &cap), LM_OK);
  assert_non_null(strstr(cap.text, "Total params: 20,673"));
  assert_non_null(strstr(cap.text, "lstm_1 (LSTM)"));
  free(cap.text);

  /* the same weights in two unshared LSTMs */
  lm_layer *a = lm_layer_lstm(ctx, 32, NULL), *b = lm_layer_lstm(ctx, 32, NULL);
  lm_layer *d2 =
      lm_layer_dense(ctx, 1, &(lm_dense_opts){.activation = "sigmoid"});
  lm_model *twin = siamese(ctx, a, b, d2);
  assert_non_null(twin);
  for (int w = 0; w < 3; w++) {
    lm_tensor *src = lm_layer_weight(lstm, w);
    memcpy(lm_tensor_f32(lm_layer_weight(a, w)), lm_tensor_f32(src),
           4 * (size_t)lm_tensor_size(src));
    memcpy(lm_tensor_f32(lm_layer_weight(b, w)), lm_tensor_f32(src),
           4 * (size_t)lm_tensor_size(src));
  }
  for (int w = 0; w < 2; w++)
    memcpy(lm_tensor_f32(lm_layer_weight(d2, w)),
           lm_tensor_f32(lm_layer_weight(dense, w)),
           4 * (size_t)lm_tensor_size(lm_layer_weight(dense, w)));
  int64_t xs[3] = {3, 4, 128};
  lm_tensor *x[2] = {lm_tensor_new(ctx, LM_FLOAT32, 3, xs),
                     lm_tensor_new(ctx, LM_FLOAT32, 3, xs)};
  for (int i = 0; i < 2; i++)
    for (int64_t k = 0; k < x[i]->size; k++)
      lm_tensor_f32(x[i])[k] = (float)sin(0.37 * k + i);
  for (int w = 0; w < 3; w++) {
    int64_t n = lm_tensor_size(lm_layer_weight(lstm, w));
    float *gs = calloc((size_t)n, 4), *ga = calloc((size_t)n, 4),
          *gb = calloc((size_t)n, 4);
    lm_tensor *ts[1] = {lm_layer_weight(lstm, w)};
    model_grads(m, x, 1, ts, &gs);
    ts[0] = lm_layer_weight(a, w);
    model_grads(twin, x, 1, ts, &ga);
    ts[0] = lm_layer_weight(b, w);
    model_grads(twin, x, 1, ts, &gb);
    double norm_a = 0, norm_b = 0;
    for (int64_t k = 0; k < n; k++) {
      assert_true(fabsf(gs[k] - (ga[k] + gb[k])) <=
                  1e-5f + 1e-4f * fabsf(gs[k]));
      norm_a += fabs(ga[k]), norm_b += fabs(gb[k]);
    }
    assert_true(norm_a > 0 && norm_b > 0); /* both branches contribute */
    free(gs), free(ga), free(gb);
  }
  /* one fit step through the shared layer */
  const char *loss = "binary_crossentropy";
  lm_compile_opts co = {
      .optimizer_name = "rmsprop", .n_losses = 1, .losses = &loss};
  assert_int_equal(lm_model_compile(m, &co), LM_OK);
  lm_tensor *t = lm_tensor_new(ctx, LM_FLOAT32, 2, (int64_t[]){3, 1});
  lm_tensor_f32(t)[1] = 1.0f;
  lm_data dx = {2, x, NULL}, dy = {1, &t, NULL};
  double logs[1];
  assert_int_equal(lm_model_train_on_batch(m, &dx, &dy, logs), LM_OK);
  assert_true(isfinite(logs[0]));
  lm_ctx_free(ctx);
}

/* The lecture's social-media model (vocabulary 500 instead of 50000): three
 * losses with loss weights; Keras' log keys; loss = sum of weighted losses. */
static void test_social_model(void **state) {
  (void)state;
  enum {
    VOCAB = 500,
    N = 8,
    L = 269
  }; /* 269: the shortest posts the listing accepts */
  lm_ctx *ctx = tu_ctx();
  lm_conv1d_opts relu = {.activation = "relu"};
  lm_sym *posts = lm_input(ctx, 1, (int64_t[]){LM_NONE}, LM_INT32, "posts");
  lm_sym *x = lm_layer_call(lm_layer_embedding(ctx, VOCAB, 256, NULL), posts);
  x = lm_layer_call(lm_layer_conv1d(ctx, 128, 5, &relu), x);
  x = lm_layer_call(lm_layer_max_pooling1d(ctx, 5, 0, NULL, NULL), x);
  x = lm_layer_call(lm_layer_conv1d(ctx, 256, 5, &relu), x);
  x = lm_layer_call(lm_layer_conv1d(ctx, 256, 5, &relu), x);
  x = lm_layer_call(lm_layer_max_pooling1d(ctx, 5, 0, NULL, NULL), x);
  x = lm_layer_call(lm_layer_conv1d(ctx, 256, 5, &relu), x);
  x = lm_layer_call(lm_layer_conv1d(ctx, 256, 5, &relu), x);
  x = lm_layer_call(lm_layer_global_max_pooling1d(ctx, NULL), x);
  x = lm_layer_call(
      lm_layer_dense(ctx, 128, &(lm_dense_opts){.activation = "relu"}), x);
  lm_sym *outs[3] = {
      lm_layer_call(lm_layer_dense(ctx, 1, &(lm_dense_opts){.name = "age"}), x),
      lm_layer_call(lm_layer_dense(ctx, 10,
                                   &(lm_dense_opts){.activation = "softmax",
                                                    .name = "income"}),
                    x),
      lm_layer_call(lm_layer_dense(ctx, 1,
                                   &(lm_dense_opts){.activation = "sigmoid",
                                                    .name = "gender"}),
                    x)};
  lm_model *m = lm_model_new(ctx, 1, &posts, 3, outs, NULL);
  assert_non_null(m);
  assert_int_equal(lm_model_count_params(m, 0), 500 * 256 + 1346316 - 0);
  const char *losses[3] = {"mse", "categorical_crossentropy",
                           "binary_crossentropy"};
  const float lw[3] = {0.25f, 1.0f, 10.0f};
  const char *met = "acc";
  lm_compile_opts co = {.optimizer_name = "rmsprop",
                        .n_losses = 3,
                        .losses = losses,
                        .n_loss_weights = 3,
                        .loss_weights = lw,
                        .n_metrics = 1,
                        .metrics = &met};
  assert_int_equal(lm_model_compile(m, &co), LM_OK);
  lm_tensor *p = lm_tensor_new(ctx, LM_INT32, 2, (int64_t[]){N, L});
  lm_tensor *age = lm_tensor_new(ctx, LM_FLOAT32, 2, (int64_t[]){N, 1});
  lm_tensor *inc = lm_tensor_new(ctx, LM_FLOAT32, 2, (int64_t[]){N, 10});
  lm_tensor *gen = lm_tensor_new(ctx, LM_FLOAT32, 2, (int64_t[]){N, 1});
  for (int64_t i = 0; i < N * L; i++)
    lm_tensor_i32(p)[i] = (int32_t)(1 + (i * 7919) % (VOCAB - 1));
  for (int i = 0; i < N; i++) {
    lm_tensor_f32(age)[i] = 2.0f + 0.1f * (float)i;
    lm_tensor_f32(inc)[i * 10 + i % 10] = 1.0f;
    lm_tensor_f32(gen)[i] = (float)(i % 2);
  }
  lm_tensor *ys[3] = {age, inc, gen};
  lm_data dx = {1, &p, NULL}, dy = {3, ys, NULL};
  lm_fit_opts fo = LM_FIT_DEFAULTS;
  fo.epochs = 1, fo.batch_size = 4, fo.verbose = 0;
  lm_history *h = lm_model_fit(m, &dx, &dy, &fo);
  assert_non_null(h);
  static const char *const keys[] = {"loss",        "age_loss", "income_loss",
                                     "gender_loss", "age_acc",  "income_acc",
                                     "gender_acc"};
  for (int k = 0; k < 7; k++)
    assert_string_equal(lm_history_key(h, k), keys[k]);
  double ev[7];
  assert_int_equal(lm_model_evaluate(m, &dx, &dy, 8, 0, ev), LM_OK);
  assert_true(fabs(ev[0] - (0.25 * ev[1] + ev[2] + 10.0 * ev[3])) <
              1e-4 * fabs(ev[0]) + 1e-5);
  lm_tensor *pred[3];
  assert_int_equal(lm_model_predict(m, &dx, 8, pred), LM_OK);
  assert_int_equal(lm_tensor_dim(pred[1], 1), 10);
  for (int k = 0; k < 3; k++)
    lm_tensor_free(pred[k]);
  /* a post shorter than the convolutions accept fails with a shape message */
  lm_tensor *short_p = lm_tensor_new(ctx, LM_INT32, 2, (int64_t[]){N, 40});
  lm_data ds = {1, &short_p, NULL};
  assert_int_not_equal(lm_model_evaluate(m, &ds, &dy, 8, 0, ev), LM_OK);
  lm_ctx_free(ctx);
}

/* LSTM(32) over the 28 rows of 2000 Fashion-MNIST images, 2 epochs: well
 * above chance on 500 test images (examples/fashion_lstm is the full run). */
static void test_fashion_rows_subset(void **state) {
  (void)state;
  const char *dir = tu_shared("data/fashion-mnist");
  if (!dir) {
    print_message("shared/data/fashion-mnist absent: skipped\n");
    skip();
  }
  char p[4][1024];
  const char *names[4] = {
      "train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz",
      "t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"};
  for (int i = 0; i < 4; i++)
    snprintf(p[i], sizeof p[i], "%s/%s", dir, names[i]);
  lm_ctx *ctx = tu_ctx();
  lm_ctx_set_threads(ctx, 1);
  lm_tensor *t[4];
  for (int i = 0; i < 4; i++) {
    t[i] = lm_tensor_load_idx(ctx, p[i], i < 2 ? 2000 : 500);
    if (!t[i])
      fail_msg("%s", lm_errmsg(ctx));
  }
  lm_tensor *img[2];
  for (int k = 0; k < 2; k++) {
    int64_t s3[3] = {lm_tensor_dim(t[2 * k], 0), 28, 28};
    img[k] = lm_tensor_new(ctx, LM_FLOAT32, 3, s3);
    for (int64_t i = 0; i < lm_tensor_size(img[k]); i++)
      lm_tensor_f32(img[k])[i] = lm_tensor_f32(t[2 * k])[i] / 255.0f;
  }
  lm_sym *in = lm_input(ctx, 2, (int64_t[]){28, 28}, LM_FLOAT32, NULL);
  lm_sym *h = lm_layer_call(lm_layer_lstm(ctx, 32, NULL), in);
  lm_sym *out = lm_layer_call(
      lm_layer_dense(ctx, 10, &(lm_dense_opts){.activation = "softmax"}), h);
  lm_model *m = lm_model_new(ctx, 1, &in, 1, &out, NULL);
  const char *loss = "sparse_categorical_crossentropy", *met = "acc";
  lm_compile_opts co = {.optimizer_name = "adam",
                        .n_losses = 1,
                        .losses = &loss,
                        .n_metrics = 1,
                        .metrics = &met};
  assert_int_equal(lm_model_compile(m, &co), LM_OK);
  lm_data dx = {1, &img[0], NULL}, dy = {1, &t[1], NULL};
  lm_fit_opts fo = LM_FIT_DEFAULTS;
  fo.epochs = 2, fo.batch_size = 32, fo.verbose = 0;
  assert_non_null(lm_model_fit(m, &dx, &dy, &fo));
  double ev[2];
  lm_data tx = {1, &img[1], NULL}, ty = {1, &t[3], NULL};
  assert_int_equal(lm_model_evaluate(m, &tx, &ty, 250, 0, ev), LM_OK);
  print_message(
      "fashion rows, LSTM(32), 2000 images x 2 epochs: test acc %.3f\n", ev[1]);
  assert_true(ev[1] > 0.5);
  lm_ctx_free(ctx);
}

/* Save and load a model with every sequence layer: same predictions. */
static void test_save_load(void **state) {
  (void)state;
  lm_ctx *ctx = tu_ctx();
  lm_sym *in = lm_input(ctx, 1, (int64_t[]){12}, LM_INT32, "ids");
  lm_sym *x = lm_layer_call(
      lm_layer_embedding(
          ctx, 20, 6,
          &(lm_embedding_opts){.mask_zero = true, .input_length = 12}),
      in);
  lm_sym *a = lm_layer_call(
      lm_layer_lstm(ctx, 5,
                    &(lm_rnn_opts){.return_sequences = true,
                                   .go_backwards = true,
                                   .recurrent_activation = "sigmoid"}),
      x);
  a = lm_layer_call(lm_layer_conv1d(ctx, 4, 3,
                                    &(lm_conv1d_opts){.padding = "causal",
                                                      .dilation_rate = 2}),
                    a);
  a = lm_layer_call(lm_layer_average_pooling1d(ctx, 3, 2, "same", NULL), a);
  a = lm_layer_call(lm_layer_max_pooling1d(ctx, 2, 0, NULL, NULL), a);
  lm_sym *g1 = lm_layer_call(lm_layer_global_max_pooling1d(ctx, NULL), a);
  lm_sym *g2 = lm_layer_call(lm_layer_global_average_pooling1d(ctx, NULL), a);
  lm_sym *gg[2] = {g1, g2};
  lm_sym *y = lm_concatenate(ctx, 2, gg, -1);
  lm_model *m = lm_model_new(ctx, 1, &in, 1, &y, NULL);
  assert_non_null(m);
  const char *loss = "mse";
  lm_compile_opts co = {
      .optimizer_name = "adam", .n_losses = 1, .losses = &loss};
  assert_int_equal(lm_model_compile(m, &co), LM_OK);
  lm_tensor *ids = lm_tensor_new(ctx, LM_INT32, 2, (int64_t[]){3, 12});
  for (int i = 0; i < 36; i++)
    lm_tensor_i32(ids)[i] = (i * 5) % 20;
  lm_data dx = {1, &ids, NULL};
  lm_tensor *p1, *p2;
  assert_int_equal(lm_model_predict(m, &dx, 3, &p1), LM_OK);
  const char *path = "test_sequence_model.safetensors";
  assert_int_equal(lm_model_save(m, path), LM_OK);
  lm_model *m2 = lm_model_load(ctx, path);
  if (!m2)
    fail_msg("%s", lm_errmsg(ctx));
  assert_int_equal(lm_model_predict(m2, &dx, 3, &p2), LM_OK);
  assert_int_equal(lm_tensor_size(p1), lm_tensor_size(p2));
  assert_memory_equal(lm_tensor_f32(p1), lm_tensor_f32(p2),
                      4 * (size_t)lm_tensor_size(p1));
  remove(path);
  lm_ctx_free(ctx);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_lstm_reference),
      cmocka_unit_test(test_orthogonal),
      cmocka_unit_test(test_simple_rnn_reference),
      cmocka_unit_test(test_params_and_bias),
      cmocka_unit_test(test_embedding_index_message),
      cmocka_unit_test(test_qa_model),
      cmocka_unit_test(test_shared_lstm),
      cmocka_unit_test(test_social_model),
      cmocka_unit_test(test_fashion_rows_subset),
      cmocka_unit_test(test_save_load),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}

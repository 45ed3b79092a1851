/* Activation, Flatten, Reshape, Dropout and the merge layers: names, shapes,
 * Keras error texts, NULL propagation, configs and forward values. */
#include "testutil.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "layers/layer.h"
#include "ops/ops.h"

#define ARRAY_N(a) ((int)(sizeof(a) / sizeof *(a)))

static lm_sym *input(lm_ctx *ctx, int ndim, const int64_t *shape) {
  lm_sym *x = lm_input(ctx, ndim, shape, LM_FLOAT32, NULL);
  assert_non_null(x);
  return x;
}

/* Shape of s as a string "(None, 3, 4)" for compact assertions. */
static const char *sym_shape(const lm_sym *s) {
  static char buf[160];
  int64_t d[LM_MAX_DIMS];
  int nd = lm_sym_ndim(s);
  for (int i = 0; i < nd; i++) d[i] = lm_sym_dim(s, i);
  lm_shape_str(nd, d, buf, sizeof buf);
  return buf;
}

static void assert_err_has(lm_ctx *ctx, const char *part) {
  const char *msg = lm_errmsg(ctx);
  if (!strstr(msg, part)) fail_msg("error \"%s\" lacks \"%s\"", msg, part);
}

/* ---- names ---- */

static void test_auto_names(void **state) {
  lm_ctx *ctx = tu_ctx();
  int64_t s4[] = {4};
  lm_sym *a = input(ctx, 1, s4), *b = input(ctx, 1, s4);
  lm_sym *ab[] = {a, b};
  lm_sym *sum = lm_add(ctx, 2, ab);
  assert_non_null(sum);
  assert_string_equal(lm_layer_name(sum->call->layer), "add_1");
  assert_string_equal(lm_sym_name(sum), "add_1[0][0]");
  lm_sym *cat = lm_concatenate(ctx, 2, ab, -1);
  assert_string_equal(lm_layer_name(cat->call->layer), "concatenate_1");
  assert_string_equal(lm_layer_name(lm_add(ctx, 2, ab)->call->layer), "add_2");
  assert_string_equal(lm_layer_name(lm_layer_add(ctx, NULL)), "add_3");

  assert_string_equal(lm_layer_name(lm_layer_dense(ctx, 3, NULL)), "dense_1");
  assert_string_equal(lm_layer_name(lm_layer_dense(ctx, 3, NULL)), "dense_2");
  lm_dense_opts named = {.name = "head"};
  assert_string_equal(lm_layer_name(lm_layer_dense(ctx, 3, &named)), "head");
  assert_string_equal(lm_layer_name(lm_layer_dense(ctx, 3, NULL)), "dense_3");
  assert_string_equal(lm_layer_name(lm_layer_add(ctx, "res")), "res");
  assert_string_equal(lm_layer_name(lm_layer_add(ctx, NULL)), "add_4");

  int64_t ts[] = {2, 2};
  struct {
    lm_layer *l;
    const char *name, *cls;
  } cases[] = {
      {lm_layer_activation(ctx, "relu", NULL), "activation_1", "Activation"},
      {lm_layer_flatten(ctx, NULL), "flatten_1", "Flatten"},
      {lm_layer_reshape(ctx, 2, ts, NULL), "reshape_1", "Reshape"},
      {lm_layer_dropout(ctx, 0.5f, NULL), "dropout_1", "Dropout"},
      {lm_layer_subtract(ctx, NULL), "subtract_1", "Subtract"},
      {lm_layer_multiply(ctx, NULL), "multiply_1", "Multiply"},
      {lm_layer_average(ctx, NULL), "average_1", "Average"},
      {lm_layer_maximum(ctx, NULL), "maximum_1", "Maximum"},
      {lm_layer_concatenate(ctx, 1, NULL), "concatenate_2", "Concatenate"},
      {lm_layer_activation(ctx, NULL, NULL), "activation_2", "Activation"},
  };
  for (int i = 0; i < ARRAY_N(cases); i++) {
    assert_non_null(cases[i].l);
    assert_string_equal(lm_layer_name(cases[i].l), cases[i].name);
    assert_string_equal(lm_layer_class(cases[i].l), cases[i].cls);
    assert_ptr_equal(lml_find_class(cases[i].cls), cases[i].l->cls);
  }
  lm_ctx_reset_names(ctx);
  assert_string_equal(lm_layer_name(lm_layer_add(ctx, NULL)), "add_1");
  lm_ctx_free(ctx);
}

/* ---- output shapes ---- */

static void test_single_input_shapes(void **state) {
  lm_ctx *ctx = tu_ctx();
  int64_t s234[] = {2, 3, 4}, s12[] = {12}, sn3[] = {LM_NONE, 3};
  lm_sym *x = input(ctx, 3, s234);
  lm_sym *y = lm_layer_call(lm_layer_activation(ctx, "softmax", NULL), x);
  assert_string_equal(sym_shape(y), "(None, 2, 3, 4)");
  y = lm_layer_call(lm_layer_flatten(ctx, NULL), x);
  assert_string_equal(sym_shape(y), "(None, 24)");
  y = lm_layer_call(lm_layer_dropout(ctx, 0.3f, NULL), x);
  assert_string_equal(sym_shape(y), "(None, 2, 3, 4)");

  int64_t t1[] = {3, -1}, t2[] = {2, 2, 3}, t3[] = {-1}, t4[] = {-1, 3};
  lm_sym *v = input(ctx, 1, s12);
  assert_string_equal(sym_shape(lm_layer_call(lm_layer_reshape(ctx, 2, t1, NULL), v)),
                      "(None, 3, 4)");
  assert_string_equal(sym_shape(lm_layer_call(lm_layer_reshape(ctx, 3, t2, NULL), v)),
                      "(None, 2, 2, 3)");
  assert_string_equal(sym_shape(lm_layer_call(lm_layer_reshape(ctx, 1, t3, NULL), x)),
                      "(None, 24)");
  /* an unknown input dim: Keras leaves the -1 as None */
  lm_sym *u = input(ctx, 2, sn3);
  assert_string_equal(sym_shape(lm_layer_call(lm_layer_reshape(ctx, 2, t4, NULL), u)),
                      "(None, None, 3)");
  assert_int_equal(lm_errcode(ctx), LM_OK);
  lm_ctx_free(ctx);
}

static void test_merge_shapes(void **state) {
  lm_ctx *ctx = tu_ctx();
  int64_t s4[] = {4}, s14[] = {1, 4}, s31[] = {3, 1}, s34[] = {3, 4}, sn4[] = {LM_NONE, 4};
  lm_sym *a = input(ctx, 1, s4), *b = input(ctx, 1, s4), *c = input(ctx, 1, s4);
  lm_sym *abc[] = {a, b, c};
  assert_string_equal(sym_shape(lm_add(ctx, 3, abc)), "(None, 4)");
  assert_string_equal(sym_shape(lm_subtract(ctx, 2, abc)), "(None, 4)");
  assert_string_equal(sym_shape(lm_multiply(ctx, 3, abc)), "(None, 4)");
  assert_string_equal(sym_shape(lm_average(ctx, 3, abc)), "(None, 4)");
  assert_string_equal(sym_shape(lm_maximum(ctx, 3, abc)), "(None, 4)");

  /* size-1 dims broadcast; lower rank aligns right; None stays None */
  lm_sym *p = input(ctx, 2, s14), *q = input(ctx, 2, s31), *r = input(ctx, 2, s34);
  lm_sym *pq[] = {p, q}, *ra[] = {r, a}, *ar[] = {a, r};
  assert_string_equal(sym_shape(lm_add(ctx, 2, pq)), "(None, 3, 4)");
  assert_string_equal(sym_shape(lm_maximum(ctx, 2, ra)), "(None, 3, 4)");
  assert_string_equal(sym_shape(lm_multiply(ctx, 2, ar)), "(None, 3, 4)");
  lm_sym *n = input(ctx, 2, sn4), *np[] = {n, p};
  assert_string_equal(sym_shape(lm_add(ctx, 2, np)), "(None, None, 4)");

  int64_t f1[] = {4, 4, 8}, f2[] = {4, 4, 3}, g1[] = {2, 3}, g2[] = {5, 3};
  lm_sym *x1 = input(ctx, 3, f1), *x2 = input(ctx, 3, f2), *x3 = input(ctx, 3, f1);
  lm_sym *x123[] = {x1, x2, x3};
  assert_string_equal(sym_shape(lm_concatenate(ctx, 3, x123, -1)), "(None, 4, 4, 19)");
  assert_string_equal(sym_shape(lm_concatenate(ctx, 2, x123, 3)), "(None, 4, 4, 11)");
  lm_sym *y1 = input(ctx, 2, g1), *y2 = input(ctx, 2, g2), *y12[] = {y1, y2};
  assert_string_equal(sym_shape(lm_concatenate(ctx, 2, y12, 1)), "(None, 7, 3)");
  assert_string_equal(sym_shape(lm_concatenate(ctx, 2, y12, -2)), "(None, 7, 3)");
  int64_t h1[] = {LM_NONE, 3};
  lm_sym *z = input(ctx, 2, h1), *zy[] = {z, y1};
  assert_string_equal(sym_shape(lm_concatenate(ctx, 2, zy, 1)), "(None, None, 3)");
  assert_int_equal(lm_errcode(ctx), LM_OK);

  /* parameter counts */
  assert_int_equal(lm_layer_count_params(lm_add(ctx, 2, pq)->call->layer), 0);
  assert_int_equal(lm_layer_count_params(lm_concatenate(ctx, 2, y12, 1)->call->layer), 0);
  assert_int_equal(lm_layer_n_weights(lm_concatenate(ctx, 2, y12, 1)->call->layer), 0);
  lm_ctx_free(ctx);
}

static void test_no_params(void **state) {
  lm_ctx *ctx = tu_ctx();
  int64_t s[] = {2, 3}, t[] = {6};
  lm_sym *x = input(ctx, 2, s);
  lm_layer *ls[] = {lm_layer_activation(ctx, "tanh", NULL), lm_layer_flatten(ctx, NULL),
                    lm_layer_reshape(ctx, 1, t, NULL), lm_layer_dropout(ctx, 0.2f, NULL)};
  for (int i = 0; i < ARRAY_N(ls); i++) {
    assert_non_null(lm_layer_call(ls[i], x));
    assert_int_equal(lm_layer_count_params(ls[i]), 0);
    assert_int_equal(lm_layer_n_weights(ls[i]), 0);
  }
  lm_ctx_free(ctx);
}

/* ---- errors ---- */

static void test_errors_single(void **state) {
  lm_ctx *ctx = tu_ctx();
  assert_null(lm_layer_activation(ctx, "relux", NULL));
  assert_string_equal(lm_errmsg(ctx), "Unknown activation function: relux");
  lm_clear_error(ctx);

  int64_t sn3[] = {LM_NONE, 3};
  lm_sym *u = input(ctx, 2, sn3);
  assert_null(lm_layer_call(lm_layer_flatten(ctx, NULL), u));
  assert_int_equal(lm_errcode(ctx), LM_ERR_SHAPE);
  assert_err_has(ctx,
                 "The shape of the input to \"Flatten\" is not fully defined "
                 "(got (None, None, 3)). Make sure to pass a complete \"input_shape\" or "
                 "\"batch_input_shape\" argument to the first layer in your model.");
  assert_err_has(ctx, "flatten_1");
  lm_clear_error(ctx);

  int64_t s12[] = {12}, t5[] = {5, -1}, t5b[] = {5}, t2[] = {-1, -1};
  lm_sym *v = input(ctx, 1, s12);
  assert_null(lm_layer_call(lm_layer_reshape(ctx, 2, t5, "rs"), v));
  assert_err_has(ctx, "total size of new array must be unchanged");
  assert_err_has(ctx, "rs");
  assert_err_has(ctx, "(None, 12)");
  assert_err_has(ctx, "(5, -1)");
  lm_clear_error(ctx);
  assert_null(lm_layer_call(lm_layer_reshape(ctx, 1, t5b, NULL), v));
  assert_err_has(ctx, "total size of new array must be unchanged");
  assert_err_has(ctx, "reshape_1");
  assert_err_has(ctx, "(5,)");
  lm_clear_error(ctx);
  assert_null(lm_layer_reshape(ctx, 2, t2, NULL));
  assert_string_equal(lm_errmsg(ctx), "Can only specify one unknown dimension.");
  lm_clear_error(ctx);
  int64_t t0[] = {0, 3};
  assert_null(lm_layer_reshape(ctx, 2, t0, NULL));
  assert_int_equal(lm_errcode(ctx), LM_ERR_ARG);
  lm_clear_error(ctx);

  /* a single-input layer called on two tensors */
  lm_sym *vv[] = {v, v};
  assert_null(lm_layer_call_n(lm_layer_dropout(ctx, 0.1f, NULL), 2, vv));
  assert_err_has(ctx, "dropout_1");
  assert_err_has(ctx, "expects 1 input");
  lm_ctx_free(ctx);
}

static void test_errors_merge(void **state) {
  lm_ctx *ctx = tu_ctx();
  int64_t s32[] = {32}, s16[] = {16};
  lm_sym *a = input(ctx, 1, s32), *b = input(ctx, 1, s16), *ab[] = {a, b}, *aab[] = {a, a, b};
  assert_null(lm_add(ctx, 2, ab));
  assert_int_equal(lm_errcode(ctx), LM_ERR_SHAPE);
  assert_err_has(ctx, "Operands could not be broadcast together with shapes (None, 32) (None, 16)");
  assert_err_has(ctx, "add_1");
  lm_clear_error(ctx);
  /* the message shows the shape accumulated so far, as Keras' fold does */
  assert_null(lm_layer_call_n(lm_layer_maximum(ctx, "mx"), 3, aab));
  assert_err_has(ctx, "Operands could not be broadcast together with shapes (None, 32) (None, 16)");
  assert_err_has(ctx, "mx");
  lm_clear_error(ctx);

  lm_sym *aaa[] = {a, a, a};
  assert_null(lm_subtract(ctx, 3, aaa));
  assert_err_has(ctx, "A `Subtract` layer should be called on exactly 2 inputs");
  assert_err_has(ctx, "subtract_1");
  lm_clear_error(ctx);
  assert_null(lm_add(ctx, 1, aaa));
  assert_err_has(ctx, "should be called on a list of at least 2 inputs. Got 1 inputs");
  assert_err_has(ctx, "add_2");
  lm_clear_error(ctx);
  assert_null(lm_subtract(ctx, 1, aaa));
  assert_err_has(ctx, "at least 2 inputs");
  lm_clear_error(ctx);

  int64_t c1[] = {4, 4, 8}, c2[] = {5, 5, 8};
  lm_sym *x = input(ctx, 3, c1), *y = input(ctx, 3, c2), *xy[] = {x, y};
  assert_null(lm_concatenate(ctx, 2, xy, -1));
  assert_int_equal(lm_errcode(ctx), LM_ERR_SHAPE);
  assert_err_has(ctx,
                 "A `Concatenate` layer requires inputs with matching shapes except for the "
                 "concat axis. Got inputs shapes: [(None, 4, 4, 8), (None, 5, 5, 8)]");
  assert_err_has(ctx, "concatenate_1");
  lm_clear_error(ctx);
  /* ranks differ */
  lm_sym *xa[] = {x, a};
  assert_null(lm_concatenate(ctx, 2, xa, -1));
  assert_err_has(ctx, "[(None, 4, 4, 8), (None, 32)]");
  lm_clear_error(ctx);
  lm_sym *xx[] = {x, x};
  assert_null(lm_concatenate(ctx, 2, xx, 4));
  assert_err_has(ctx, "out of range");
  assert_err_has(ctx, "concatenate_3");
  lm_clear_error(ctx);
  assert_null(lm_concatenate(ctx, 2, xx, -5));
  assert_err_has(ctx, "out of range");
  lm_clear_error(ctx);
  assert_null(lm_concatenate(ctx, 2, xx, -4));
  assert_err_has(ctx, "batch axis");
  lm_clear_error(ctx);
  assert_null(lm_concatenate(ctx, 2, xx, 0));
  assert_err_has(ctx, "batch axis");
  lm_clear_error(ctx);

  /* concrete batch sizes that differ */
  lm_shape p = {.ndim = 2, .d = {2, 3}, .dtype = LM_FLOAT32};
  lm_shape q = {.ndim = 2, .d = {4, 3}, .dtype = LM_FLOAT32};
  lm_sym *pq[] = {lml_input_batch_shape(ctx, &p, NULL), lml_input_batch_shape(ctx, &q, NULL)};
  assert_null(lm_add(ctx, 2, pq));
  assert_err_has(ctx, "Can not merge tensors with different batch sizes");
  assert_err_has(ctx, "[(2, 3), (4, 3)]");
  lm_clear_error(ctx);
  pq[1] = lml_input_batch_shape(ctx, &p, NULL);
  lm_sym *s = lm_add(ctx, 2, pq);
  assert_string_equal(sym_shape(s), "(2, 3)");
  lm_ctx_free(ctx);
}

/* ---- NULL propagation ---- */

static void test_null_propagation(void **state) {
  lm_ctx *ctx = tu_ctx();
  int64_t s4[] = {4};
  lm_sym *a = input(ctx, 1, s4);
  lm_sym *an[] = {a, NULL};
  assert_null(lm_layer_call(lm_layer_flatten(ctx, NULL), NULL));
  assert_null(lm_layer_call(lm_layer_activation(ctx, "relu", NULL), NULL));
  int64_t t[] = {2, 2};
  assert_null(lm_layer_call(lm_layer_reshape(ctx, 2, t, NULL), NULL));
  assert_null(lm_layer_call(lm_layer_dropout(ctx, 0.5f, NULL), NULL));
  assert_null(lm_layer_call_n(lm_layer_concatenate(ctx, -1, NULL), 2, an));
  assert_null(lm_add(ctx, 2, an));
  assert_null(lm_subtract(ctx, 2, an));
  assert_null(lm_multiply(ctx, 2, an));
  assert_null(lm_average(ctx, 2, an));
  assert_null(lm_maximum(ctx, 2, an));
  assert_null(lm_concatenate(ctx, 2, an, -1));
  assert_int_equal(lm_errcode(ctx), LM_OK);
  assert_null(lm_layer_call(NULL, a));
  assert_null(lm_layer_activation(NULL, "relu", NULL));
  assert_null(lm_layer_flatten(NULL, NULL));
  assert_null(lm_layer_reshape(NULL, 2, t, NULL));
  assert_null(lm_layer_dropout(NULL, 0.5f, NULL));
  assert_null(lm_layer_add(NULL, NULL));
  assert_null(lm_layer_concatenate(NULL, 1, NULL));
  assert_null(lm_add(NULL, 1, &a));
  assert_null(lm_concatenate(NULL, 1, &a, -1));
  /* helpers given NULL inputs made no layer: the counter is untouched */
  assert_string_equal(lm_layer_name(lm_layer_add(ctx, NULL)), "add_1");

  /* the first failure's message survives a chain */
  int64_t sn3[] = {LM_NONE, 3};
  lm_sym *u = input(ctx, 2, sn3);
  lm_sym *y = lm_layer_call(lm_layer_flatten(ctx, "flat"), u);
  lm_sym *z = lm_layer_call(lm_layer_dropout(ctx, 0.5f, NULL), y);
  lm_sym *zz[] = {z, a};
  lm_sym *w = lm_add(ctx, 2, zz);
  assert_null(w);
  assert_err_has(ctx, "\"Flatten\" is not fully defined");
  assert_err_has(ctx, "flat");
  lm_ctx_free(ctx);
}

/* ---- configs ---- */

static char *config_text(lm_ctx *ctx, const lm_layer *l) {
  lm_buf b;
  lm_buf_init(&b, ctx);
  lm_buf_puts(&b, "{\"name\": \"x\"");
  if (l->cls->config) l->cls->config(l, &b);
  lm_buf_puts(&b, "}");
  assert_false(b.oom);
  char *s = malloc(b.len + 1);
  assert_non_null(s);
  memcpy(s, b.data, b.len + 1);
  lm_buf_free(&b);
  return s;
}

static lm_layer *round_trip(lm_ctx *ctx, const lm_layer *l, const char *want) {
  char *text = config_text(ctx, l);
  if (strcmp(text, want) != 0) fail_msg("config %s, want %s", text, want);
  lmj_value *v = lmj_parse(ctx, text, strlen(text), "config");
  free(text);
  assert_non_null(v);
  lm_layer *r = l->cls->from_config(ctx, v, "copy");
  lmj_free(ctx, v);
  assert_non_null(r);
  assert_ptr_equal(r->cls, l->cls);
  assert_string_equal(lm_layer_name(r), "copy");
  text = config_text(ctx, r);
  assert_string_equal(text, want);
  free(text);
  return r;
}

static void test_configs(void **state) {
  lm_ctx *ctx = tu_ctx();
  int64_t t[] = {3, -1};
  round_trip(ctx, lm_layer_activation(ctx, "relu", NULL),
             "{\"name\": \"x\", \"activation\": \"relu\"}");
  round_trip(ctx, lm_layer_activation(ctx, NULL, NULL),
             "{\"name\": \"x\", \"activation\": \"linear\"}");
  round_trip(ctx, lm_layer_flatten(ctx, NULL), "{\"name\": \"x\"}");
  round_trip(ctx, lm_layer_reshape(ctx, 2, t, NULL),
             "{\"name\": \"x\", \"target_shape\": [3, -1]}");
  round_trip(ctx, lm_layer_dropout(ctx, 0.1f, NULL), "{\"name\": \"x\", \"rate\": 0.1}");
  round_trip(ctx, lm_layer_dropout(ctx, 0.25f, NULL), "{\"name\": \"x\", \"rate\": 0.25}");
  /* rate is clamped to [0, 1] */
  round_trip(ctx, lm_layer_dropout(ctx, 1.5f, NULL), "{\"name\": \"x\", \"rate\": 1}");
  round_trip(ctx, lm_layer_dropout(ctx, -0.5f, NULL), "{\"name\": \"x\", \"rate\": 0}");
  round_trip(ctx, lm_layer_dropout(ctx, NAN, NULL), "{\"name\": \"x\", \"rate\": 0}");
  round_trip(ctx, lm_layer_concatenate(ctx, -1, NULL), "{\"name\": \"x\", \"axis\": -1}");
  round_trip(ctx, lm_layer_concatenate(ctx, 2, NULL), "{\"name\": \"x\", \"axis\": 2}");
  lm_layer *merges[] = {lm_layer_add(ctx, NULL), lm_layer_subtract(ctx, NULL),
                        lm_layer_multiply(ctx, NULL), lm_layer_average(ctx, NULL),
                        lm_layer_maximum(ctx, NULL)};
  for (int i = 0; i < ARRAY_N(merges); i++) round_trip(ctx, merges[i], "{\"name\": \"x\"}");

  /* bad configs */
  const char *bad = "{\"activation\": \"nope\"}";
  lmj_value *v = lmj_parse(ctx, bad, strlen(bad), "config");
  assert_null(lml_activation_class.from_config(ctx, v, "a"));
  assert_string_equal(lm_errmsg(ctx), "Unknown activation function: nope");
  assert_null(lml_dropout_class.from_config(ctx, v, "d"));
  assert_int_equal(lm_errcode(ctx), LM_ERR_FORMAT);
  assert_null(lml_reshape_class.from_config(ctx, v, "r"));
  assert_int_equal(lm_errcode(ctx), LM_ERR_FORMAT);
  lmj_free(ctx, v);
  lm_ctx_free(ctx);
}

/* ---- forward values: a hand-built op graph around one emit ---- */

typedef struct run {
  lm_ctx *ctx;
  lmg_graph g;
  int out;
} run;

/* Emits l on n inputs with the given shapes (batch first; the inputs are
 * made with a None batch, as a model's are) and values, plans for that
 * batch, runs forward. */
static void run_layer(run *r, lm_layer *l, int n, const int *ndims, const int64_t (*shapes)[4],
                      const float *const *vals, bool training) {
  r->ctx = l->ctx;
  assert_int_equal(lmg_init(&r->g, r->ctx), LM_OK);
  int ids[8];
  for (int i = 0; i < n; i++) {
    int64_t sym[4];
    memcpy(sym, shapes[i], sizeof sym);
    sym[0] = LM_NONE;
    ids[i] = lmg_input(&r->g, LM_FLOAT32, ndims[i], sym);
    assert_true(ids[i] >= 0);
  }
  lm_status st = l->cls->emit(l, &r->g, n, ids, &r->out);
  if (st != LM_OK) fail_msg("emit failed: %s", lm_errmsg(r->ctx));
  r->g.training = training;
  st = lmg_plan(&r->g, shapes[0][0], false);
  if (st != LM_OK) fail_msg("plan failed: %s", lm_errmsg(r->ctx));
  for (int i = 0; i < n; i++) {
    lmg_node *in = lmg_at(&r->g, ids[i]);
    memcpy(in->val, vals[i], sizeof(float) * (size_t)in->size);
  }
  lmg_forward(&r->g, NULL);
}

static const lmg_node *run_out(run *r) { return lmg_at(&r->g, r->out); }

static void expect_vals(run *r, int ndim, const int64_t *shape, const float *want) {
  const lmg_node *o = run_out(r);
  assert_int_equal(o->ndim, ndim);
  for (int i = 0; i < ndim; i++) assert_int_equal(o->shape[i], shape[i]);
  for (int64_t k = 0; k < o->size; k++)
    if (fabsf(o->val[k] - want[k]) > 1e-5f)
      fail_msg("value %lld: got %g, want %g", (long long)k, (double)o->val[k], (double)want[k]);
  lmg_release(&r->g);
}

static void test_forward_activation(void **state) {
  lm_ctx *ctx = tu_ctx();
  int nd[] = {2};
  const int64_t sh[][4] = {{2, 3}};
  const float x[] = {-1, 0, 2, 1, 2, 3};
  const float *xs[] = {x};
  run r;
  run_layer(&r, lm_layer_activation(ctx, "relu", NULL), 1, nd, sh, xs, false);
  expect_vals(&r, 2, sh[0], (const float[]){0, 0, 2, 1, 2, 3});
  run_layer(&r, lm_layer_activation(ctx, "linear", NULL), 1, nd, sh, xs, false);
  expect_vals(&r, 2, sh[0], x);
  float e1 = expf(1), e2 = expf(2), e3 = expf(3), e0 = 1, em = expf(-1);
  float s0 = em + e0 + e2, s1 = e1 + e2 + e3;
  run_layer(&r, lm_layer_activation(ctx, "softmax", NULL), 1, nd, sh, xs, false);
  expect_vals(&r, 2, sh[0], (const float[]){em / s0, e0 / s0, e2 / s0, e1 / s1, e2 / s1, e3 / s1});
  run_layer(&r, lm_layer_activation(ctx, "hard_sigmoid", NULL), 1, nd, sh, xs, false);
  expect_vals(&r, 2, sh[0], (const float[]){0.3f, 0.5f, 0.9f, 0.7f, 0.9f, 1.0f});
  run_layer(&r, lm_layer_activation(ctx, "elu", NULL), 1, nd, sh, xs, false);
  expect_vals(&r, 2, sh[0], (const float[]){em - 1, 0, 2, 1, 2, 3});
  lm_ctx_free(ctx);
}

static void test_forward_flatten_reshape(void **state) {
  lm_ctx *ctx = tu_ctx();
  int nd[] = {4};
  const int64_t sh[][4] = {{2, 2, 1, 2}};
  const float x[] = {1, 2, 3, 4, 5, 6, 7, 8};
  const float *xs[] = {x};
  run r;
  run_layer(&r, lm_layer_flatten(ctx, NULL), 1, nd, sh, xs, false);
  expect_vals(&r, 2, (const int64_t[]){2, 4}, x);
  int64_t t[] = {-1, 1};
  run_layer(&r, lm_layer_reshape(ctx, 2, t, NULL), 1, nd, sh, xs, false);
  expect_vals(&r, 3, (const int64_t[]){2, 4, 1}, x);
  int64_t t2[] = {4};
  run_layer(&r, lm_layer_reshape(ctx, 1, t2, NULL), 1, nd, sh, xs, false);
  expect_vals(&r, 2, (const int64_t[]){2, 4}, x);
  lm_ctx_free(ctx);
}

static void test_forward_dropout(void **state) {
  lm_ctx *ctx = tu_ctx();
  enum { N = 20000 };
  float *x = malloc(sizeof(float) * N);
  for (int i = 0; i < N; i++) x[i] = 1.0f + (float)(i % 7);
  int nd[] = {2};
  const int64_t sh[][4] = {{100, N / 100}};
  const float *xs[] = {x};
  run r;
  /* training: kept units scaled by 1/(1-rate), about rate of them zero */
  const float rates[] = {0.25f, 0.5f};
  for (int k = 0; k < 2; k++) {
    float rate = rates[k];
    run_layer(&r, lm_layer_dropout(ctx, rate, NULL), 1, nd, sh, xs, true);
    const lmg_node *o = run_out(&r);
    int zeros = 0;
    for (int i = 0; i < N; i++) {
      if (o->val[i] == 0.0f)
        zeros++;
      else if (fabsf(o->val[i] - x[i] / (1.0f - rate)) > 1e-4f)
        fail_msg("kept unit %d: got %g, want %g", i, (double)o->val[i],
                 (double)(x[i] / (1.0f - rate)));
    }
    double frac = (double)zeros / N;
    if (fabs(frac - rate) > 0.02) fail_msg("dropped fraction %g for rate %g", frac, (double)rate);
    lmg_release(&r.g);
  }
  /* inference: identity; rate 0 or 1: identity even in training */
  run_layer(&r, lm_layer_dropout(ctx, 0.5f, NULL), 1, nd, sh, xs, false);
  expect_vals(&r, 2, sh[0], x);
  run_layer(&r, lm_layer_dropout(ctx, 0.0f, NULL), 1, nd, sh, xs, true);
  expect_vals(&r, 2, sh[0], x);
  run_layer(&r, lm_layer_dropout(ctx, 1.0f, NULL), 1, nd, sh, xs, true);
  expect_vals(&r, 2, sh[0], x);
  free(x);
  lm_ctx_free(ctx);
}

static void test_forward_merges(void **state) {
  lm_ctx *ctx = tu_ctx();
  int nd[] = {2, 2, 2};
  const int64_t sh[][4] = {{2, 2}, {2, 2}, {2, 2}};
  const float a[] = {1, -2, 3, 4}, b[] = {10, 20, -30, 40}, c[] = {100, 0, 0.5f, 1};
  const float *abc[] = {a, b, c};
  run r;
  run_layer(&r, lm_layer_add(ctx, NULL), 3, nd, sh, abc, false);
  expect_vals(&r, 2, sh[0], (const float[]){111, 18, -26.5f, 45});
  run_layer(&r, lm_layer_subtract(ctx, NULL), 2, nd, sh, abc, false);
  expect_vals(&r, 2, sh[0], (const float[]){-9, -22, 33, -36});
  run_layer(&r, lm_layer_multiply(ctx, NULL), 3, nd, sh, abc, false);
  expect_vals(&r, 2, sh[0], (const float[]){1000, 0, -45, 160});
  run_layer(&r, lm_layer_average(ctx, NULL), 3, nd, sh, abc, false);
  expect_vals(&r, 2, sh[0], (const float[]){37, 6, -26.5f / 3, 15});
  run_layer(&r, lm_layer_average(ctx, NULL), 2, nd, sh, abc, false);
  expect_vals(&r, 2, sh[0], (const float[]){5.5f, 9, -13.5f, 22});
  run_layer(&r, lm_layer_maximum(ctx, NULL), 3, nd, sh, abc, false);
  expect_vals(&r, 2, sh[0], (const float[]){100, 20, 3, 40});

  /* broadcast (1, 1, 3) + (1, 2, 1) and rank-2 (1, 3) + rank-3 (1, 2, 3) */
  int nd2[] = {3, 3};
  const int64_t sh2[][4] = {{1, 1, 3}, {1, 2, 1}};
  const float p[] = {1, 2, 3}, q[] = {10, 20};
  const float *pq[] = {p, q};
  run_layer(&r, lm_layer_add(ctx, NULL), 2, nd2, sh2, pq, false);
  expect_vals(&r, 3, (const int64_t[]){1, 2, 3}, (const float[]){11, 12, 13, 21, 22, 23});
  int nd3[] = {2, 3};
  const int64_t sh3[][4] = {{1, 3}, {1, 2, 3}};
  const float m[] = {6, 5, 4, 3, 2, 1};
  const float *pm[] = {p, m};
  run_layer(&r, lm_layer_subtract(ctx, NULL), 2, nd3, sh3, pm, false);
  expect_vals(&r, 3, (const int64_t[]){1, 2, 3}, (const float[]){-5, -3, -1, -2, 0, 2});
  lm_ctx_free(ctx);
}

static void test_forward_concatenate(void **state) {
  lm_ctx *ctx = tu_ctx();
  int nd[] = {2, 2};
  const int64_t sh[][4] = {{2, 2}, {2, 1}};
  const float a[] = {1, 2, 3, 4}, b[] = {5, 6};
  const float *ab[] = {a, b};
  run r;
  run_layer(&r, lm_layer_concatenate(ctx, -1, NULL), 2, nd, sh, ab, false);
  expect_vals(&r, 2, (const int64_t[]){2, 3}, (const float[]){1, 2, 5, 3, 4, 6});
  run_layer(&r, lm_layer_concatenate(ctx, 1, NULL), 2, nd, sh, ab, false);
  expect_vals(&r, 2, (const int64_t[]){2, 3}, (const float[]){1, 2, 5, 3, 4, 6});
  /* axis 1 of rank 3: (1, 2, 2) + (1, 1, 2) -> (1, 3, 2) */
  int nd3[] = {3, 3, 3};
  const int64_t sh3[][4] = {{1, 2, 2}, {1, 1, 2}, {1, 1, 2}};
  const float c[] = {7, 8}, d[] = {9, 10};
  const float *acd[] = {a, c, d};
  run_layer(&r, lm_layer_concatenate(ctx, 1, NULL), 3, nd3, sh3, acd, false);
  expect_vals(&r, 3, (const int64_t[]){1, 4, 2}, (const float[]){1, 2, 3, 4, 7, 8, 9, 10});
  run_layer(&r, lm_layer_concatenate(ctx, -2, NULL), 2, nd3, sh3, acd, false);
  expect_vals(&r, 3, (const int64_t[]){1, 3, 2}, (const float[]){1, 2, 3, 4, 7, 8});
  lm_ctx_free(ctx);
}

/* ---- allocation failures: every path frees what it took ---- */

static void build_some(lm_ctx *ctx) {
  int64_t s[] = {2, 3}, t[] = {3, -1};
  lm_sym *x = lm_input(ctx, 2, s, LM_FLOAT32, NULL);
  lm_sym *y = lm_layer_call(lm_layer_activation(ctx, "relu", NULL), x);
  y = lm_layer_call(lm_layer_dropout(ctx, 0.5f, NULL), y);
  lm_sym *f = lm_layer_call(lm_layer_flatten(ctx, NULL), y);
  lm_sym *z = lm_layer_call(lm_layer_reshape(ctx, 2, t, NULL), f);
  lm_sym *xz[] = {x, z};
  lm_sym *a = lm_add(ctx, 2, xz);
  lm_sym *ax[] = {a, x, x};
  lm_sym *c = lm_concatenate(ctx, 3, ax, -1);
  lm_sym *ca[] = {c, c};
  (void)lm_average(ctx, 2, ca);
}

static void test_alloc_failures(void **state) {
  long n_ok = -1;
  for (long fail_at = 0; fail_at < 2000; fail_at++) {
    tu_failalloc fa = {.countdown = fail_at};
    lm_ctx *ctx = lm_ctx_new(tu_failalloc_fn, &fa);
    if (ctx) {
      lm_ctx_set_log(ctx, NULL, NULL);
      build_some(ctx);
      lm_ctx_free(ctx);
    }
    assert_int_equal(fa.live, 0);
    if (!fa.failed) {
      n_ok = fail_at;
      break;
    }
  }
  assert_true(n_ok > 0);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_auto_names),          cmocka_unit_test(test_single_input_shapes),
      cmocka_unit_test(test_merge_shapes),        cmocka_unit_test(test_no_params),
      cmocka_unit_test(test_errors_single),       cmocka_unit_test(test_errors_merge),
      cmocka_unit_test(test_null_propagation),    cmocka_unit_test(test_configs),
      cmocka_unit_test(test_forward_activation),  cmocka_unit_test(test_forward_flatten_reshape),
      cmocka_unit_test(test_forward_dropout),     cmocka_unit_test(test_forward_merges),
      cmocka_unit_test(test_forward_concatenate), cmocka_unit_test(test_alloc_failures),
  };
  return cmocka_run_group_tests_name("layers_core", tests, NULL, NULL);
}

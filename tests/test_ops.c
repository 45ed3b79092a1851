/* Op forward values against hand-computed numbers, symbolic shape inference,
 * error messages that name the shapes, and the large (parallel) paths of the
 * broadcast, reduce, softmax and transpose ops against naive references,
 * including run-to-run and thread-count determinism. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/core.h"
#include "graph/graph.h"
#include "ops/ops.h"
#include "testutil.h"

typedef struct fx {
  lm_ctx *ctx;
  lmg_graph g;
} fx;

static int setup(void **state) {
  fx *f = calloc(1, sizeof *f);
  if (!f) return -1;
  f->ctx = tu_ctx();
  if (!f->ctx || lmg_init(&f->g, f->ctx) != LM_OK) return -1;
  *state = f;
  return 0;
}

static int teardown(void **state) {
  fx *f = *state;
  lmg_release(&f->g);
  lm_ctx_free(f->ctx);
  free(f);
  return 0;
}

/* A constant leaf holding data (float32 or int32). */
static int cst(lmg_graph *g, lm_dtype dt, int ndim, const int64_t *shape, const void *data) {
  lm_tensor *t = lmt_new(g->ctx, dt, ndim, shape);
  assert_non_null(t);
  memcpy(t->data, data, (size_t)t->size * 4);
  int id = lmg_const(g, t);
  assert_true(id >= 0);
  return id;
}
#define CST(g, data, ...) \
  cst(g, LM_FLOAT32, (int)(sizeof((int64_t[]){__VA_ARGS__}) / 8), (int64_t[]){__VA_ARGS__}, data)

static void run(lmg_graph *g, int out) {
  assert_true(out >= 0);
  for (int i = 0; i < g->n_nodes; i++) lmg_keep(g, i); /* the tests read every value */
  if (lmg_plan(g, 1, false) != LM_OK) fail_msg("plan: %s", lm_errmsg(g->ctx));
  lmg_forward(g, NULL);
}

static void expect_shape(lmg_graph *g, int id, int ndim, const int64_t *shape) {
  const lmg_node *n = lmg_at(g, id);
  assert_int_equal(n->ndim, ndim);
  for (int i = 0; i < ndim; i++) assert_int_equal(n->shape[i], shape[i]);
}
#define SHAPE_IS(g, id, ...) \
  expect_shape(g, id, (int)(sizeof((int64_t[]){__VA_ARGS__}) / 8), (int64_t[]){__VA_ARGS__})

static void expect_vals(lmg_graph *g, int id, int n, const float *want, float tol) {
  const lmg_node *y = lmg_at(g, id);
  assert_int_equal(y->size, n);
  for (int i = 0; i < n; i++)
    if (!(fabsf(y->val[i] - want[i]) <= tol * (1.0f + fabsf(want[i]))))
      fail_msg("element %d: got %.7g, want %.7g", i, y->val[i], want[i]);
}
#define VALS_ARE(g, id, ...)                                                \
  expect_vals(g, id, (int)(sizeof((float[]){__VA_ARGS__}) / sizeof(float)), \
              (float[]){__VA_ARGS__}, 1e-6f)

static void expect_err(lm_ctx *ctx, int id, const char *a, const char *b) {
  assert_int_equal(id, -1);
  const char *msg = lm_errmsg(ctx);
  if (!strstr(msg, a) || (b && !strstr(msg, b)))
    fail_msg("message \"%s\" should name %s and %s", msg, a, b ? b : "");
  lm_clear_error(ctx);
}

/* ---- binary ---- */

static void test_binary_broadcast_values(void **state) {
  fx *f = *state;
  lmg_graph *g = &f->g;
  const float a6[] = {1, 2, 3, 4, 5, 6}, b3[] = {10, 20, 30}, c2[] = {2, 4}, s1[] = {2};
  int a = CST(g, a6, 2, 3), b = CST(g, b3, 3), c = CST(g, c2, 2, 1),
      s = cst(g, LM_FLOAT32, 0, NULL, s1);
  assert_int_equal(lmg_at(g, s)->ndim, 0);
  int add = lmo_binary(g, LMO_ADD, a, b);                  /* trailing vector */
  int outer = lmo_binary(g, LMO_MUL, c, CST(g, b3, 1, 3)); /* (2,1) x (1,3) */
  int sub = lmo_binary(g, LMO_SUB, a, s);                  /* scalar */
  int div = lmo_binary(g, LMO_DIV, a, c);                  /* column */
  int rdiv = lmo_binary(g, LMO_DIV, s, a);                 /* scalar first */
  int c3 = CST(g, a6, 2, 1, 3);
  int both = lmo_binary(g, LMO_ADD, c3, c); /* (2,1,3) + (2,1) -> (2,2,3) */
  const float m6[] = {0, 5, 3, 7, 1, 6};
  int mx = lmo_binary(g, LMO_MAXIMUM, a, CST(g, m6, 2, 3));
  int mn = lmo_binary(g, LMO_MINIMUM, a, CST(g, c2, 2, 1));
  run(g, mn);
  SHAPE_IS(g, add, 2, 3);
  VALS_ARE(g, add, 11, 22, 33, 14, 25, 36);
  SHAPE_IS(g, outer, 2, 3);
  VALS_ARE(g, outer, 20, 40, 60, 40, 80, 120);
  VALS_ARE(g, sub, -1, 0, 1, 2, 3, 4);
  VALS_ARE(g, div, 0.5f, 1, 1.5f, 1, 1.25f, 1.5f);
  VALS_ARE(g, rdiv, 2, 1, 2.0f / 3, 0.5f, 0.4f, 2.0f / 6);
  SHAPE_IS(g, both, 2, 2, 3);
  VALS_ARE(g, both, 3, 4, 5, 5, 6, 7, 6, 7, 8, 8, 9, 10);
  VALS_ARE(g, mx, 1, 5, 3, 7, 5, 6);
  VALS_ARE(g, mn, 1, 2, 2, 4, 4, 4);
}

static void test_binary_symbolic_and_errors(void **state) {
  fx *f = *state;
  lmg_graph *g = &f->g;
  int x3 = lmg_input(g, LM_FLOAT32, 2, (int64_t[]){LM_NONE, 3});
  int x4 = lmg_input(g, LM_FLOAT32, 2, (int64_t[]){LM_NONE, 4});
  int col = lmg_input(g, LM_FLOAT32, 2, (int64_t[]){LM_NONE, 1});
  int v4 = CST(g, ((float[]){1, 2, 3, 4}), 4);
  SHAPE_IS(g, lmo_binary(g, LMO_ADD, col, v4), LM_NONE, 4);
  SHAPE_IS(g, lmo_binary(g, LMO_MUL, x3, col), LM_NONE, 3);
  expect_err(f->ctx, lmo_binary(g, LMO_ADD, x3, x4), "(None, 3)", "(None, 4)");
  expect_err(f->ctx, lmo_binary(g, LMO_SUB, x3, v4), "(None, 3)", "(4,)");
  assert_string_equal(lm_errmsg(f->ctx), "");
  int n_before = g->n_nodes;
  assert_int_equal(lmo_binary(g, LMO_ADD, x3, -1), -1); /* -1 propagates, no new node */
  assert_int_equal(g->n_nodes, n_before);
  expect_err(f->ctx, lmo_binary(g, 99, x3, x3), "binary", NULL);
  int idx = lmg_input(g, LM_INT32, 1, (int64_t[]){LM_NONE});
  expect_err(f->ctx, lmo_binary(g, LMO_ADD, idx, idx), "float32", "int32");
}

/* The broadcast error found only at plan time names the concrete shapes. */
static void test_binary_plan_error(void **state) {
  fx *f = *state;
  lmg_graph *g = &f->g;
  int a = lmg_input(g, LM_FLOAT32, 2, (int64_t[]){LM_NONE, 3});
  int b = lmg_input(g, LM_FLOAT32, 2, (int64_t[]){LM_NONE, 3});
  int y = lmo_binary(g, LMO_ADD, a, b);
  assert_true(y >= 0);
  assert_int_equal(lmg_set_input_shape(g, a, 2, (int64_t[]){4, 3}), LM_OK);
  assert_int_equal(lmg_set_input_shape(g, b, 2, (int64_t[]){5, 3}), LM_OK);
  assert_int_equal(lmg_plan(g, 4, false), LM_ERR_SHAPE);
  assert_non_null(strstr(lm_errmsg(f->ctx), "(4, 3) (5, 3)"));
}

/* ---- unary, clip, affine, activations ---- */

static void test_unary_values(void **state) {
  fx *f = *state;
  lmg_graph *g = &f->g;
  int x = CST(g, ((float[]){-2, 0.25f, 1, 4}), 4);
  int ex = lmo_unary(g, LMO_EXP, x), lg = lmo_unary(g, LMO_LOG, lmo_unary(g, LMO_ABS, x));
  int sq = lmo_unary(g, LMO_SQUARE, x), ab = lmo_unary(g, LMO_ABS, x);
  int ng = lmo_unary(g, LMO_NEG, x), rt = lmo_unary(g, LMO_SQRT, ab);
  int cl = lmo_clip(g, x, -1, 2), af = lmo_affine(g, x, 2, -1);
  run(g, af);
  VALS_ARE(g, ex, expf(-2), expf(0.25f), expf(1), expf(4));
  VALS_ARE(g, lg, logf(2), logf(0.25f), 0, logf(4));
  VALS_ARE(g, sq, 4, 0.0625f, 1, 16);
  VALS_ARE(g, ab, 2, 0.25f, 1, 4);
  VALS_ARE(g, ng, 2, -0.25f, -1, -4);
  VALS_ARE(g, rt, sqrtf(2), 0.5f, 1, 2);
  VALS_ARE(g, cl, -1, 0.25f, 1, 2);
  VALS_ARE(g, af, -5, -0.5f, 1, 7);
  expect_err(f->ctx, lmo_clip(g, x, 1, -1), "clip", NULL);
  expect_err(f->ctx, lmo_unary(g, 42, x), "unary", NULL);
}

static void test_activation_values(void **state) {
  fx *f = *state;
  lmg_graph *g = &f->g;
  int x = CST(g, ((float[]){-1, 0, 1, 3}), 4);
  int ids[LMO_N_ACT];
  for (int k = 0; k < LMO_N_ACT; k++) ids[k] = lmo_activation(g, k, x, 0.0f);
  int elu5 = lmo_activation(g, LMO_ELU, x, 0.5f), lr1 = lmo_activation(g, LMO_LEAKY_RELU, x, 0.1f);
  int big = CST(g, ((float[]){-100, 100}), 2);
  int sp_big = lmo_activation(g, LMO_SOFTPLUS, big, 0),
      sg_big = lmo_activation(g, LMO_SIGMOID, big, 0);
  run(g, sg_big);
  const float sa = 1.6732632423543772f, ss = 1.0507009873554805f, em1 = expf(-1) - 1;
  VALS_ARE(g, ids[LMO_LINEAR], -1, 0, 1, 3);
  VALS_ARE(g, ids[LMO_RELU], 0, 0, 1, 3);
  VALS_ARE(g, ids[LMO_SIGMOID], 1 / (1 + expf(1)), 0.5f, 1 / (1 + expf(-1)), 1 / (1 + expf(-3)));
  VALS_ARE(g, ids[LMO_HARD_SIGMOID], 0.3f, 0.5f, 0.7f, 1);
  VALS_ARE(g, ids[LMO_TANH], tanhf(-1), 0, tanhf(1), tanhf(3));
  VALS_ARE(g, ids[LMO_ELU], em1, 0, 1, 3);
  VALS_ARE(g, ids[LMO_SELU], ss * sa * em1, 0, ss, 3 * ss);
  VALS_ARE(g, ids[LMO_SOFTPLUS], logf(1 + expf(-1)), logf(2), logf(1 + expf(1)), logf(1 + expf(3)));
  VALS_ARE(g, ids[LMO_SOFTSIGN], -0.5f, 0, 0.5f, 0.75f);
  VALS_ARE(g, ids[LMO_LEAKY_RELU], -0.3f, 0, 1, 3); /* Keras' LeakyReLU default alpha */
  VALS_ARE(g, elu5, 0.5f * em1, 0, 1, 3);
  VALS_ARE(g, lr1, -0.1f, 0, 1, 3);
  VALS_ARE(g, sp_big, 0, 100);
  VALS_ARE(g, sg_big, 0, 1);
  /* softmax as an activation is the softmax op over the last axis */
  assert_ptr_equal(lmg_at(g, ids[LMO_SOFTMAX])->op, &lmo_op_softmax);
  float e[4], s = 0;
  for (int i = 0; i < 4; i++) s += e[i] = expf((float[]){-1, 0, 1, 3}[i]);
  VALS_ARE(g, ids[LMO_SOFTMAX], e[0] / s, e[1] / s, e[2] / s, e[3] / s);
}

static void test_activation_names(void **state) {
  (void)state;
  const char *names[] = {"linear", "relu", "sigmoid",  "hard_sigmoid", "tanh",      "softmax",
                         "elu",    "selu", "softplus", "softsign",     "leaky_relu"};
  assert_int_equal(sizeof names / sizeof names[0], LMO_N_ACT);
  for (int k = 0; k < LMO_N_ACT; k++) {
    assert_int_equal(lmo_act_parse(names[k]), k);
    assert_string_equal(lmo_act_name(k), names[k]);
  }
  assert_int_equal(lmo_act_parse(NULL), LMO_LINEAR);
  assert_int_equal(lmo_act_parse("relu6"), -1);
  assert_int_equal(lmo_act_parse("ReLU"), -1); /* Keras names are case-sensitive */
  assert_int_equal(lmo_act_parse(""), -1);
  assert_null(lmo_act_name(-1));
  assert_null(lmo_act_name(LMO_N_ACT));
}

/* ---- softmax ---- */

static void test_softmax(void **state) {
  fx *f = *state;
  lmg_graph *g = &f->g;
  int x = CST(g, ((float[]){1000, 1001, 1002, -1000, -1001, -1002}), 2, 3);
  int y = lmo_softmax(g, x, 1);
  float x12[12];
  for (int i = 0; i < 12; i++) x12[i] = (float)((i * 7) % 5) - 2.0f;
  int x3 = CST(g, x12, 2, 3, 2);
  int mid = lmo_softmax(g, x3, 1), first = lmo_softmax(g, x3, 0);
  run(g, first);
  float s = 1 + expf(1) + expf(2);
  VALS_ARE(g, y, 1 / s, expf(1) / s, expf(2) / s, expf(2) / s, expf(1) / s, 1 / s);
  const float *m = lmg_at(g, mid)->val, *fs = lmg_at(g, first)->val;
  for (int o = 0; o < 2; o++)
    for (int j = 0; j < 2; j++) {
      float sum = 0, ref = 0;
      for (int a = 0; a < 3; a++) ref += expf(x12[o * 6 + a * 2 + j]);
      for (int a = 0; a < 3; a++) {
        int i = o * 6 + a * 2 + j;
        assert_float_equal(m[i], expf(x12[i]) / ref, 1e-6);
        sum += m[i];
      }
      assert_float_equal(sum, 1.0f, 1e-6);
    }
  for (int i = 0; i < 6; i++) assert_float_equal(fs[i] + fs[i + 6], 1.0f, 1e-6);
  expect_err(f->ctx, lmo_softmax(g, x, 2), "(2, 3)", NULL);
}

/* ---- reduce ---- */

static void test_reduce(void **state) {
  fx *f = *state;
  lmg_graph *g = &f->g;
  int x = CST(g, ((float[]){1, 2, 3, 4, 5, 6}), 2, 3);
  int s1 = lmo_reduce(g, LMO_SUM, x, 2, false), s1k = lmo_reduce(g, LMO_SUM, x, 2, true);
  int m0 = lmo_reduce(g, LMO_MEAN, x, 1, false), m0k = lmo_reduce(g, LMO_MEAN, x, 1, true);
  int mx = lmo_reduce(g, LMO_MAX, x, 0, false), mxk = lmo_reduce(g, LMO_MAX, x, 0, true);
  int mx1 = lmo_reduce(g, LMO_MAX, x, 2, true), sa = lmo_reduce(g, LMO_SUM, x, 3, false);
  float x12[12];
  for (int i = 0; i < 12; i++) x12[i] = (float)i;
  int x3 = CST(g, x12, 2, 3, 2);
  int s02 = lmo_reduce(g, LMO_SUM, x3, 5, false), m02k = lmo_reduce(g, LMO_MEAN, x3, 5, true);
  int s12 = lmo_reduce(g, LMO_SUM, x3, 6, false);
  run(g, s12);
  SHAPE_IS(g, s1, 2);
  VALS_ARE(g, s1, 6, 15);
  SHAPE_IS(g, s1k, 2, 1);
  VALS_ARE(g, s1k, 6, 15);
  SHAPE_IS(g, m0, 3);
  VALS_ARE(g, m0, 2.5f, 3.5f, 4.5f);
  SHAPE_IS(g, m0k, 1, 3);
  assert_int_equal(lmg_at(g, mx)->ndim, 0);
  VALS_ARE(g, mx, 6);
  SHAPE_IS(g, mxk, 1, 1);
  VALS_ARE(g, mx1, 3, 6);
  assert_int_equal(lmg_at(g, sa)->ndim, 0);
  VALS_ARE(g, sa, 21);
  SHAPE_IS(g, s02, 3);
  VALS_ARE(g, s02, 0 + 1 + 6 + 7, 2 + 3 + 8 + 9, 4 + 5 + 10 + 11);
  SHAPE_IS(g, m02k, 1, 3, 1);
  VALS_ARE(g, m02k, 3.5f, 5.5f, 7.5f);
  VALS_ARE(g, s12, 15, 51);
  int sym = lmg_input(g, LM_FLOAT32, 3, (int64_t[]){LM_NONE, 4, 5});
  SHAPE_IS(g, lmo_reduce(g, LMO_MEAN, sym, 4, true), LM_NONE, 4, 1);
  SHAPE_IS(g, lmo_reduce(g, LMO_SUM, sym, 6, false), LM_NONE);
  expect_err(f->ctx, lmo_reduce(g, LMO_SUM, x, 4, false), "axis 2", "(2, 3)");
  expect_err(f->ctx, lmo_reduce(g, 7, x, 1, false), "reduce", NULL);
}

/* ---- shape ops ---- */

static void test_concat(void **state) {
  fx *f = *state;
  lmg_graph *g = &f->g;
  int a = CST(g, ((float[]){1, 2, 3, 4}), 2, 2), b = CST(g, ((float[]){5, 6}), 1, 2);
  int c = CST(g, ((float[]){7, 8}), 2, 1);
  int c0 = lmo_concat(g, 2, (int[]){a, b}, 0), c1 = lmo_concat(g, 2, (int[]){a, c}, 1);
  int c3 = lmo_concat(g, 3, (int[]){a, c, a}, 1);
  float x12[12];
  for (int i = 0; i < 12; i++) x12[i] = (float)i;
  int x = CST(g, x12, 2, 3, 2), y = CST(g, ((float[]){-1, -2, -3, -4, -5, -6}), 2, 3, 1);
  int c2 = lmo_concat(g, 2, (int[]){x, y}, 2);
  run(g, c2);
  SHAPE_IS(g, c0, 3, 2);
  VALS_ARE(g, c0, 1, 2, 3, 4, 5, 6);
  SHAPE_IS(g, c1, 2, 3);
  VALS_ARE(g, c1, 1, 2, 7, 3, 4, 8);
  VALS_ARE(g, c3, 1, 2, 7, 1, 2, 3, 4, 8, 3, 4);
  SHAPE_IS(g, c2, 2, 3, 3);
  VALS_ARE(g, c2, 0, 1, -1, 2, 3, -2, 4, 5, -3, 6, 7, -4, 8, 9, -5, 10, 11, -6);
  int s1 = lmg_input(g, LM_FLOAT32, 2, (int64_t[]){LM_NONE, 3});
  int s2 = lmg_input(g, LM_FLOAT32, 3, (int64_t[]){LM_NONE, 4, 5});
  SHAPE_IS(g, lmo_concat(g, 2, (int[]){s1, s1}, 1), LM_NONE, 6);
  SHAPE_IS(g, lmo_concat(g, 2, (int[]){s1, s1}, 0), LM_NONE, 3);
  expect_err(f->ctx, lmo_concat(g, 2, (int[]){s1, s2}, 1), "(None, 3)", "(None, 4, 5)");
  expect_err(f->ctx, lmo_concat(g, 2, (int[]){a, c}, 0), "(2, 2)", "(2, 1)");
  expect_err(f->ctx, lmo_concat(g, 1, (int[]){a}, 2), "(2, 2)", NULL);
}

static void test_transpose_reshape_slice(void **state) {
  fx *f = *state;
  lmg_graph *g = &f->g;
  float x24[24];
  for (int i = 0; i < 24; i++) x24[i] = (float)i;
  int x = CST(g, x24, 2, 3, 4);
  int t = lmo_transpose(g, x, (int[]){2, 0, 1});
  int t2 = lmo_transpose(g, CST(g, x24, 2, 3), (int[]){1, 0});
  int r = lmo_reshape(g, x, 2, (int64_t[]){-1, 2});
  int r0 = lmo_reshape(g, x, 1, (int64_t[]){12});
  int s = lmo_slice(g, x, 2, 1, 2), s0 = lmo_slice(g, x, 1, 2, 1);
  int i32 = cst(g, LM_INT32, 2, (int64_t[]){2, 3}, (int32_t[]){1, 2, 3, 4, 5, 6});
  int ti = lmo_transpose(g, i32, (int[]){1, 0});
  run(g, ti);
  SHAPE_IS(g, t, 4, 2, 3);
  const float *tv = lmg_at(g, t)->val;
  for (int k = 0; k < 4; k++)
    for (int i = 0; i < 2; i++)
      for (int j = 0; j < 3; j++) assert_true(tv[k * 6 + i * 3 + j] == x24[i * 12 + j * 4 + k]);
  SHAPE_IS(g, t2, 3, 2);
  VALS_ARE(g, t2, 0, 3, 1, 4, 2, 5);
  SHAPE_IS(g, r, 2, 6, 2);
  SHAPE_IS(g, r0, 2, 12);
  expect_vals(g, r, 24, x24, 0);
  SHAPE_IS(g, s, 2, 3, 2);
  VALS_ARE(g, s, 1, 2, 5, 6, 9, 10, 13, 14, 17, 18, 21, 22);
  SHAPE_IS(g, s0, 2, 1, 4);
  VALS_ARE(g, s0, 8, 9, 10, 11, 20, 21, 22, 23);
  assert_int_equal(lmg_at(g, ti)->dtype, LM_INT32);
  const int32_t *iv = (const int32_t *)lmg_at(g, ti)->val;
  const int32_t want[] = {1, 4, 2, 5, 3, 6};
  for (int i = 0; i < 6; i++) assert_int_equal(iv[i], want[i]);

  int sym = lmg_input(g, LM_FLOAT32, 2, (int64_t[]){LM_NONE, 12});
  SHAPE_IS(g, lmo_reshape(g, sym, 2, (int64_t[]){-1, 4}), LM_NONE, 3, 4);
  SHAPE_IS(g, lmo_slice(g, sym, 1, 2, 5), LM_NONE, 5);
  SHAPE_IS(g, lmo_transpose(g, sym, (int[]){1, 0}), 12, LM_NONE);
  expect_err(f->ctx, lmo_reshape(g, sym, 2, (int64_t[]){5, -1}), "(None, 12)", "(None, 5, -1)");
  expect_err(f->ctx, lmo_reshape(g, sym, 1, (int64_t[]){13}), "(None, 12)", "(None, 13)");
  expect_err(f->ctx, lmo_reshape(g, sym, 2, (int64_t[]){-1, -1}), "unknown dimension", NULL);
  expect_err(f->ctx, lmo_slice(g, sym, 1, 10, 3), "(None, 12)", NULL);
  expect_err(f->ctx, lmo_slice(g, sym, 2, 0, 1), "(None, 12)", NULL);
  expect_err(f->ctx, lmo_transpose(g, sym, (int[]){0, 0}), "(None, 12)", NULL);
  expect_err(f->ctx, lmo_transpose(g, sym, (int[]){0, 2}), "(None, 12)", NULL);
}

/* ---- matmul, take, dropout, custom ---- */

static void test_matmul(void **state) {
  fx *f = *state;
  lmg_graph *g = &f->g;
  int x = CST(g, ((float[]){1, 2, 3, 4, 5, 6}), 2, 3);
  int w = CST(g, ((float[]){1, 0, 0, 1, 1, 1}), 3, 2), b = CST(g, ((float[]){10, 20}), 2);
  int y = lmo_matmul(g, x, w, b), y0 = lmo_matmul(g, x, w, -1);
  int x3 = CST(g, ((float[]){1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12}), 2, 2, 3);
  int y3 = lmo_matmul(g, x3, w, -1);
  run(g, y3);
  SHAPE_IS(g, y, 2, 2);
  VALS_ARE(g, y, 14, 25, 20, 31);
  VALS_ARE(g, y0, 4, 5, 10, 11);
  SHAPE_IS(g, y3, 2, 2, 2);
  VALS_ARE(g, y3, 4, 5, 10, 11, 16, 17, 22, 23);
  int sym = lmg_input(g, LM_FLOAT32, 2, (int64_t[]){LM_NONE, 4});
  expect_err(f->ctx, lmo_matmul(g, sym, w, -1), "(None, 4)", "(3, 2)");
  expect_err(f->ctx, lmo_matmul(g, x, w, CST(g, ((float[]){1, 2, 3}), 3)), "(3,)", "(3, 2)");
}

static void test_take(void **state) {
  fx *f = *state;
  lmg_graph *g = &f->g;
  int x = CST(g, ((float[]){1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12}), 4, 3);
  int fi = CST(g, ((float[]){2, 0, 1, 2}), 4, 1);
  int ii = cst(g, LM_INT32, 1, (int64_t[]){4}, (int32_t[]){1, -5, 7, 0}); /* clamped */
  int ff = CST(g, ((float[]){-1, 2.0f, 99, NAN}), 4);
  int y1 = lmo_take(g, x, fi), y2 = lmo_take(g, x, ii), y3 = lmo_take(g, x, ff);
  run(g, y3);
  SHAPE_IS(g, y1, 4);
  VALS_ARE(g, y1, 3, 4, 8, 12);
  VALS_ARE(g, y2, 2, 4, 9, 10);
  VALS_ARE(g, y3, 1, 6, 9, 10);
  int bad = CST(g, ((float[]){0, 1, 2}), 3);
  expect_err(f->ctx, lmo_take(g, x, bad), "(4, 3)", "(3,)");
  expect_err(f->ctx, lmo_take(g, x, x), "(4, 3)", NULL);
}

static void test_dropout(void **state) {
  fx *f = *state;
  lmg_graph *g = &f->g;
  int x = lmg_input(g, LM_FLOAT32, 2, (int64_t[]){LM_NONE, 1000});
  int d = lmo_dropout(g, x, 0.25f), d0 = lmo_dropout(g, x, 0.0f), d1 = lmo_dropout(g, x, 1.0f);
  assert_true(d1 >= 0);
  assert_int_equal(lmg_plan(g, 10, false), LM_OK);
  lmg_node *xn = lmg_at(g, x);
  for (int64_t i = 0; i < xn->size; i++) xn->val[i] = (float)(i % 13) + 1.0f;
  /* inference: identity */
  lmg_forward(g, NULL);
  expect_vals(g, d, (int)xn->size, xn->val, 0);
  /* training: about a quarter dropped, the rest scaled by 4/3; same seed, same mask */
  g->training = true;
  lm_ctx_set_seed(f->ctx, 5);
  lmg_forward(g, NULL);
  const float *y = lmg_at(g, d)->val;
  float *first = malloc(sizeof(float) * (size_t)xn->size);
  assert_non_null(first);
  memcpy(first, y, sizeof(float) * (size_t)xn->size);
  int dropped = 0;
  for (int64_t i = 0; i < xn->size; i++) {
    if (y[i] == 0.0f)
      dropped++;
    else
      assert_float_equal(y[i], xn->val[i] / 0.75f, 1e-5);
  }
  assert_true(dropped > 2250 && dropped < 2750);
  expect_vals(g, d0, (int)xn->size, xn->val, 0);
  expect_vals(g, d1, (int)xn->size, xn->val, 0);
  lm_ctx_set_seed(f->ctx, 5);
  lmg_forward(g, NULL);
  assert_memory_equal(first, y, sizeof(float) * (size_t)xn->size);
  lmg_forward(g, NULL); /* the RNG moved on: a new mask */
  assert_memory_not_equal(first, y, sizeof(float) * (size_t)xn->size);
  free(first);
  expect_err(f->ctx, lmo_dropout(g, x, -0.5f), "dropout", NULL);
}

static lm_status twice_infer(void *ud, lmg_graph *g, lmg_node *n) {
  (*(int *)ud)++;
  const lmg_node *x = lmg_in(g, n, 0);
  n->ndim = x->ndim;
  memcpy(n->shape, x->shape, sizeof n->shape);
  return LM_OK;
}
static void twice_forward(void *ud, lmg_graph *g, lmg_node *n) {
  (void)ud;
  for (int64_t i = 0; i < n->size; i++) n->val[i] = 2.0f * lmg_in(g, n, 0)->val[i];
}
static lm_status failing_infer(void *ud, lmg_graph *g, lmg_node *n) {
  (void)ud;
  (void)n;
  return lm_fail(g->ctx, LM_ERR_SHAPE, "custom says no");
}

static void test_custom(void **state) {
  fx *f = *state;
  lmg_graph *g = &f->g;
  int calls = 0;
  lmo_custom_def def = {"twice", twice_infer, twice_forward, NULL, NULL};
  int x = CST(g, ((float[]){1, -2, 3}), 3);
  int y = lmo_custom(g, 1, &x, &def, &calls);
  def.forward = NULL; /* the graph keeps its own copy of the definition */
  run(g, y);
  VALS_ARE(g, y, 2, -4, 6);
  assert_int_equal(calls, 2); /* build and plan */
  lmo_custom_def bad = {"bad", failing_infer, twice_forward, NULL, NULL};
  expect_err(f->ctx, lmo_custom(g, 1, &x, &bad, NULL), "custom says no", NULL);
  expect_err(f->ctx, lmo_custom(g, 1, &x, &def, NULL), "twice", NULL);
  assert_int_equal(lmo_custom(g, 1, (int[]){-1}, &def, NULL), -1);
}

/* ---- large sizes: the parallel paths against naive references ---- */

static float frand(uint64_t rng[4]) { return (float)(2.0 * lm_rng_uniform(rng) - 1.0); }

/* Offset in an operand of shape (nd_k, dk) right-aligned to out, for out index o. */
static int64_t bcast_off(int nd, const int64_t *out, int nk, const int64_t *dk, int64_t o) {
  int64_t off = 0, st = 1;
  for (int i = nd - 1; i >= 0; i--) {
    int64_t idx = o % out[i];
    o /= out[i];
    int j = i - (nd - nk);
    if (j < 0) continue;
    if (dk[j] != 1) off += idx * st;
    st *= dk[j];
  }
  return off;
}

typedef struct big_case {
  int kind;
  int na, nb;
  int64_t a[4], b[4];
} big_case;

/* Forward and backward (dy = 1 through a weighted sum) of large broadcasts;
 * and identical bits with 1 and 3 threads. */
static void run_big_binary(const big_case *bc, int threads, float **out, float **ga, float **gb) {
  lm_ctx *ctx = tu_ctx();
  lmg_graph g;
  lmg_init(&g, ctx);
  g.threads = threads;
  int a = lmg_input(&g, LM_FLOAT32, bc->na, bc->a), b = lmg_input(&g, LM_FLOAT32, bc->nb, bc->b);
  lmg_at(&g, a)->want_grad = lmg_at(&g, b)->want_grad = true;
  int y = lmo_binary(&g, bc->kind, a, b);
  assert_true(y >= 0);
  assert_int_equal(lmg_plan(&g, bc->a[0], true), LM_OK);
  uint64_t rng[4];
  lm_rng_seed(rng, 99);
  lmg_node *an = lmg_at(&g, a), *bn = lmg_at(&g, b), *yn = lmg_at(&g, y);
  for (int64_t i = 0; i < an->size; i++) an->val[i] = frand(rng);
  for (int64_t i = 0; i < bn->size; i++) bn->val[i] = 1.5f + frand(rng);
  lmg_forward(&g, NULL);
  lmg_backward(&g, y, NULL);
  *out = malloc(sizeof(float) * (size_t)yn->size);
  *ga = malloc(sizeof(float) * (size_t)an->size);
  *gb = malloc(sizeof(float) * (size_t)bn->size);
  memcpy(*out, yn->val, sizeof(float) * (size_t)yn->size);
  memcpy(*ga, an->grad, sizeof(float) * (size_t)an->size);
  memcpy(*gb, bn->grad, sizeof(float) * (size_t)bn->size);
  /* reference in double */
  int nd;
  int64_t os[LM_MAX_DIMS];
  assert_int_equal(lmo_broadcast_shape(ctx, bc->na, bc->a, bc->nb, bc->b, &nd, os), LM_OK);
  double *ra = calloc((size_t)an->size, sizeof(double)),
         *rb = calloc((size_t)bn->size, sizeof(double));
  for (int64_t o = 0; o < yn->size; o++) {
    int64_t ia = bcast_off(nd, os, bc->na, bc->a, o), ib = bcast_off(nd, os, bc->nb, bc->b, o);
    double x = an->val[ia], z = bn->val[ib], want;
    switch (bc->kind) {
      case LMO_ADD: want = x + z, ra[ia] += 1, rb[ib] += 1; break;
      case LMO_MUL: want = x * z, ra[ia] += z, rb[ib] += x; break;
      default: want = x / z, ra[ia] += 1 / z, rb[ib] -= x / (z * z); break;
    }
    if (fabs(yn->val[o] - want) > 1e-5 * (1 + fabs(want))) fail_msg("y[%lld]", (long long)o);
  }
  for (int64_t i = 0; i < an->size; i++)
    if (fabs(an->grad[i] - ra[i]) > 1e-3 * (1 + fabs(ra[i])))
      fail_msg("da[%lld]: %g vs %g", (long long)i, an->grad[i], ra[i]);
  for (int64_t i = 0; i < bn->size; i++)
    if (fabs(bn->grad[i] - rb[i]) > 1e-3 * (1 + fabs(rb[i])))
      fail_msg("db[%lld]: %g vs %g", (long long)i, bn->grad[i], rb[i]);
  free(ra);
  free(rb);
  lmg_release(&g);
  lm_ctx_free(ctx);
}

static void test_big_binary(void **state) {
  (void)state;
  const big_case cases[] = {
      {LMO_ADD, 2, 1, {300, 257}, {257}},          /* bias-like */
      {LMO_MUL, 2, 2, {300, 257}, {300, 1}},       /* column */
      {LMO_DIV, 2, 2, {300, 257}, {300, 257}},     /* same shape */
      {LMO_MUL, 3, 2, {40, 1, 33}, {30, 33}},      /* both sides */
      {LMO_ADD, 3, 3, {1, 200, 300}, {7, 200, 1}}, /* both sides, first small */
      {LMO_MUL, 2, 0, {400, 100}, {0}},            /* scalar */
  };
  for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
    float *y1, *a1, *b1, *y3, *a3, *b3;
    run_big_binary(&cases[k], 1, &y1, &a1, &b1);
    run_big_binary(&cases[k], 3, &y3, &a3, &b3);
    int64_t ny = 1, na = 1, nb = 1;
    int nd;
    int64_t os[LM_MAX_DIMS];
    lmo_broadcast_shape(NULL, cases[k].na, cases[k].a, cases[k].nb, cases[k].b, &nd, os);
    ny = lmg_numel(nd, os);
    na = lmg_numel(cases[k].na, cases[k].a);
    nb = lmg_numel(cases[k].nb, cases[k].b);
    assert_memory_equal(y1, y3, sizeof(float) * (size_t)ny);
    assert_memory_equal(a1, a3, sizeof(float) * (size_t)na);
    assert_memory_equal(b1, b3, sizeof(float) * (size_t)nb);
    free(y1), free(a1), free(b1), free(y3), free(a3), free(b3);
  }
}

/* Reduce, softmax and transpose on (60, 70, 80): values, gradients, and the
 * same bits with 1 and 4 threads. */
static void run_big_others(int threads, float **vals, int64_t *n_vals) {
  lm_ctx *ctx = tu_ctx();
  lmg_graph g;
  lmg_init(&g, ctx);
  g.threads = threads;
  const int64_t D0 = 60, D1 = 70, D2 = 80;
  int x = lmg_input(&g, LM_FLOAT32, 3, (int64_t[]){LM_NONE, D1, D2});
  lmg_at(&g, x)->want_grad = true;
  int outs[] = {
      lmo_reduce(&g, LMO_SUM, x, 1, false),
      lmo_reduce(&g, LMO_MEAN, x, 4, true),
      lmo_reduce(&g, LMO_MAX, x, 2, false),
      lmo_reduce(&g, LMO_SUM, x, 0, false),
      lmo_reduce(&g, LMO_MAX, x, 5, false),
      lmo_reduce(&g, LMO_MEAN, x, 3, true),
      lmo_softmax(&g, x, 1),
      lmo_softmax(&g, x, 2),
      lmo_transpose(&g, x, (int[]){2, 0, 1}),
  };
  enum { N_OUT = sizeof outs / sizeof outs[0] };
  /* one scalar loss: sum_k sum(w_k * out_k) with w_k = k + 1 */
  int loss = -1;
  for (int k = 0; k < N_OUT; k++) {
    int t = lmo_reduce(&g, LMO_SUM, lmo_affine(&g, outs[k], (float)(k + 1), 0), 0, false);
    loss = loss < 0 ? t : lmo_binary(&g, LMO_ADD, loss, t);
  }
  assert_true(loss >= 0);
  assert_int_equal(lmg_plan(&g, D0, true), LM_OK);
  lmg_node *xn = lmg_at(&g, x);
  uint64_t rng[4];
  lm_rng_seed(rng, 7);
  for (int64_t i = 0; i < xn->size; i++) xn->val[i] = frand(rng);
  lmg_forward(&g, NULL);
  lmg_backward(&g, loss, NULL);
  const float *X = xn->val;
#define XAT(i, j, k) X[((i)*D1 + (j)) * D2 + (k)]
  const float *o[N_OUT];
  for (int k = 0; k < N_OUT; k++) o[k] = lmg_at(&g, outs[k])->val;
  double all = 0;
  for (int64_t i = 0; i < xn->size; i++) all += X[i];
  assert_float_equal(o[3][0], all, 1e-3);
  for (int64_t i = 0; i < D0; i += 7)
    for (int64_t j = 0; j < D1; j += 9)
      for (int64_t k = 0; k < D2; k += 11) {
        double s0 = 0, s2 = 0, e1 = 0, e2 = 0, s01 = 0;
        float mx1 = -INFINITY, mx02 = -INFINITY;
        for (int64_t a = 0; a < D0; a++) s0 += XAT(a, j, k);
        for (int64_t a = 0; a < D1; a++) {
          e1 += exp(XAT(i, a, k));
          mx1 = fmaxf(mx1, XAT(i, a, k));
        }
        for (int64_t a = 0; a < D2; a++) {
          s2 += XAT(i, j, a);
          e2 += exp(XAT(i, j, a));
        }
        for (int64_t a = 0; a < D0; a++) {
          for (int64_t b = 0; b < D2; b++) mx02 = fmaxf(mx02, XAT(a, j, b));
          for (int64_t b = 0; b < D1; b++) s01 += XAT(a, b, k);
        }
        assert_float_equal(o[0][j * D2 + k], s0, 1e-4);
        assert_float_equal(o[1][i * D1 + j], s2 / D2, 1e-6);
        assert_true(o[2][i * D2 + k] == mx1);
        assert_true(o[4][j] == mx02);
        assert_float_equal(o[5][k], s01 / (D0 * D1), 1e-6);
        assert_float_equal(o[6][(i * D1 + j) * D2 + k], exp(XAT(i, j, k)) / e1, 1e-6);
        assert_float_equal(o[7][(i * D1 + j) * D2 + k], exp(XAT(i, j, k)) / e2, 1e-6);
        assert_true(o[8][(k * D0 + i) * D1 + j] == XAT(i, j, k));
        /* d loss / dx: sum, mean, sum-all, mean and transpose terms are
         * constants; each max adds its weight at the maxima; softmax under
         * a constant gradient adds (about) nothing */
        double want = 1 + 2.0 / D2 + 4 + 6.0 / (D0 * D1) + 9;
        if (XAT(i, j, k) == mx1) want += 3;
        if (XAT(i, j, k) == mx02) want += 5;
        assert_float_equal(xn->grad[((i * D1) + j) * D2 + k], want, 1e-4);
      }
#undef XAT
  /* keep every output and the input gradient for the determinism check */
  int64_t total = xn->size;
  for (int k = 0; k < N_OUT; k++) total += lmg_at(&g, outs[k])->size;
  float *v = malloc(sizeof(float) * (size_t)total);
  assert_non_null(v);
  int64_t off = 0;
  for (int k = 0; k < N_OUT; k++) {
    const lmg_node *o = lmg_at(&g, outs[k]);
    memcpy(v + off, o->val, sizeof(float) * (size_t)o->size);
    off += o->size;
  }
  memcpy(v + off, xn->grad, sizeof(float) * (size_t)xn->size);
  *vals = v;
  *n_vals = total;
  lmg_release(&g);
  lm_ctx_free(ctx);
}

static void test_big_determinism(void **state) {
  (void)state;
  float *v1, *v4;
  int64_t n1, n4;
  run_big_others(1, &v1, &n1);
  run_big_others(4, &v4, &n4);
  assert_int_equal(n1, n4);
  assert_memory_equal(v1, v4, sizeof(float) * (size_t)n1);
  free(v1);
  free(v4);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_binary_broadcast_values, setup, teardown),
      cmocka_unit_test_setup_teardown(test_binary_symbolic_and_errors, setup, teardown),
      cmocka_unit_test_setup_teardown(test_binary_plan_error, setup, teardown),
      cmocka_unit_test_setup_teardown(test_unary_values, setup, teardown),
      cmocka_unit_test_setup_teardown(test_activation_values, setup, teardown),
      cmocka_unit_test(test_activation_names),
      cmocka_unit_test_setup_teardown(test_softmax, setup, teardown),
      cmocka_unit_test_setup_teardown(test_reduce, setup, teardown),
      cmocka_unit_test_setup_teardown(test_concat, setup, teardown),
      cmocka_unit_test_setup_teardown(test_transpose_reshape_slice, setup, teardown),
      cmocka_unit_test_setup_teardown(test_matmul, setup, teardown),
      cmocka_unit_test_setup_teardown(test_take, setup, teardown),
      cmocka_unit_test_setup_teardown(test_dropout, setup, teardown),
      cmocka_unit_test_setup_teardown(test_custom, setup, teardown),
      cmocka_unit_test(test_big_binary),
      cmocka_unit_test(test_big_determinism),
  };
  return cmocka_run_group_tests_name("ops", tests, NULL, NULL);
}

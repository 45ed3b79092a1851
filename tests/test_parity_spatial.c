/* Parity with PyTorch autograd for DepthwiseConv2D, SeparableConv2D,
 * Conv2DTranspose, ZeroPadding2D, Cropping2D, UpSampling2D, LeakyReLU, ReLU
 * and Softmax (tests/fixtures/torch_spatial/<case>.npz, written by
 * tests/fixtures/gen_torch_spatial.py; index.txt lists the cases). Each case
 * builds the layer from the case's args through the public constructors,
 * calls it on a symbolic input, loads the weights, emits its ops into a
 * graph with loss sum(y * dy) and compares y, dx and every weight gradient.
 * Tolerance: |got - want| <= max(1e-4 |want|, 1e-5) (2e-5 floor for sums
 * over many terms). */
#include "testutil.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "core/npy.h"
#include "graph/graph.h"
#include "layers/layer.h"
#include "ops/ops.h"

#define REL_TOL 1e-4
#define ABS_TOL 2e-5

enum { K_DW, K_SEP, K_PAD, K_CROP, K_UP, K_LEAKY, K_RELU, K_SOFTMAX, K_TRANSPOSE };

typedef struct pcase {
  int n;
  char **names;
  lm_tensor **arrays;
} pcase;

static lm_tensor *member(const pcase *c, const char *name) {
  for (int i = 0; i < c->n; i++)
    if (strcmp(c->names[i], name) == 0) return c->arrays[i];
  return NULL;
}

static int compare(const char *what, const lmg_node *n, const float *got, const lm_tensor *ref) {
  if (!got) {
    print_message("%s: no buffer (gradient not computed)\n", what);
    return 1;
  }
  int64_t size = lm_tensor_size(ref);
  bool same = n->ndim == lm_tensor_ndim(ref);
  for (int i = 0; same && i < n->ndim; i++) same = n->shape[i] == lm_tensor_shape(ref)[i];
  if (!same) {
    char a[128], b[128];
    lm_shape_str(n->ndim, n->shape, a, sizeof a);
    lm_shape_str(lm_tensor_ndim(ref), lm_tensor_shape(ref), b, sizeof b);
    print_message("%s: shape %s, reference %s\n", what, a, b);
    return 1;
  }
  const float *want = lm_tensor_data(ref);
  int bad = 0;
  for (int64_t i = 0; i < size; i++) {
    double w = want[i], g = got[i], err = fabs(g - w);
    if (!(err <= fmax(REL_TOL * fabs(w), ABS_TOL))) {
      if (bad < 4) print_message("%s[%lld]: got %.9g, want %.9g\n", what, (long long)i, g, w);
      bad++;
    }
  }
  if (bad) print_message("%s: %d of %lld elements out of tolerance\n", what, bad, (long long)size);
  return bad;
}

static lm_layer *make_layer(lm_ctx *ctx, const float *a) {
  int kind = (int)a[0], kh = (int)a[1], kw = (int)a[2];
  lm_separable_opts so = {.strides = {(int)a[3], (int)a[4]},
                          .padding = a[7] != 0 ? "same" : "valid",
                          .dilation_rate = {(int)a[5], (int)a[6]},
                          .depth_multiplier = (int)a[8],
                          .no_bias = a[10] == 0};
  switch (kind) {
    case K_DW:
      return lm_layer_depthwise_conv2d(ctx, kh, kw, &so);
    case K_SEP:
      return lm_layer_separable_conv2d(ctx, (int)a[9], kh, kw, &so);
    case K_TRANSPOSE: {
      lm_conv2d_transpose_opts to = {.strides = {(int)a[3], (int)a[4]},
                                     .padding = so.padding,
                                     .dilation_rate = {(int)a[5], (int)a[6]},
                                     .no_bias = a[10] == 0};
      return lm_layer_conv2d_transpose(ctx, (int)a[9], kh, kw, &to);
    }
    case K_PAD:
      return lm_layer_zero_padding2d(ctx, (int)a[11], (int)a[12], (int)a[13], (int)a[14], NULL);
    case K_CROP:
      return lm_layer_cropping2d(ctx, (int)a[11], (int)a[12], (int)a[13], (int)a[14], NULL);
    case K_UP:
      return lm_layer_upsampling2d(ctx, (int)a[11], (int)a[12], NULL);
    case K_LEAKY:
      return lm_layer_leaky_relu(ctx, a[11], NULL);
    case K_RELU: {
      lm_relu_opts ro = {.has_max_value = a[11] != 0,
                         .max_value = a[12],
                         .negative_slope = a[13],
                         .threshold = a[14]};
      return lm_layer_relu(ctx, &ro);
    }
    case K_SOFTMAX:
      return lm_layer_softmax(ctx, (int)a[11], NULL);
    default:
      return NULL;
  }
}

static int run_case(const char *name) {
  lm_ctx *ctx = tu_ctx();
  char rel[256];
  snprintf(rel, sizeof rel, "torch_spatial/%s.npz", name);
  pcase c = {0};
  if (lm_npz_load(ctx, tu_fixture(rel), &c.n, &c.names, &c.arrays) != LM_OK)
    fail_msg("cannot load %s: %s (regenerate with tests/fixtures/gen_torch_spatial.py)", rel,
             lm_errmsg(ctx));
  lm_tensor *args = member(&c, "args"), *x = member(&c, "x"), *dy = member(&c, "dy");
  lm_tensor *ry = member(&c, "y"), *rdx = member(&c, "dx");
  if (!args || !x || !dy || !ry || !rdx) fail_msg("%s: missing members", rel);
  lm_layer *l = make_layer(ctx, lm_tensor_data(args));
  if (!l) fail_msg("%s: layer: %s", name, lm_errmsg(ctx));
  int xnd = lm_tensor_ndim(x);
  const int64_t *xs = lm_tensor_shape(x);
  lm_sym *in = lm_input(ctx, xnd - 1, xs + 1, LM_FLOAT32, NULL);
  if (!lm_layer_call(l, in)) fail_msg("%s: call: %s", name, lm_errmsg(ctx));
  int nw = lm_layer_n_weights(l);
  for (int i = 0; i < nw; i++) {
    char wn[16];
    snprintf(wn, sizeof wn, "w%d", i);
    lm_tensor *ref = member(&c, wn), *w = lm_layer_weight(l, i);
    if (!ref || lm_tensor_size(ref) != lm_tensor_size(w))
      fail_msg("%s: weight %s (%s) does not match the fixture", name, wn,
               lm_layer_weight_name(l, i));
    memcpy(lm_tensor_f32(w), lm_tensor_data(ref), sizeof(float) * (size_t)lm_tensor_size(w));
  }
  if (member(&c, nw == 0 ? "w0" : nw == 1 ? "w1" : nw == 2 ? "w2" : "w3"))
    fail_msg("%s: the fixture has more weights than the layer (%d)", name, nw);

  lmg_graph g;
  assert_int_equal(lmg_init(&g, ctx), LM_OK);
  int xn = lmg_input(&g, LM_FLOAT32, xnd, xs);
  lmg_at(&g, xn)->want_grad = true;
  int yn = -1;
  if (l->cls->emit(l, &g, 1, &xn, &yn) != LM_OK || yn < 0)
    fail_msg("%s: emit: %s", name, lm_errmsg(ctx));
  int dyn = lmg_const(&g, lm_tensor_copy(dy));
  int loss = lmo_reduce(&g, LMO_SUM, lmo_binary(&g, LMO_MUL, yn, dyn), 0, false);
  assert_true(loss >= 0);
  int wnodes[4];
  for (int i = 0; i < nw; i++) wnodes[i] = lmg_param(&g, lm_layer_weight(l, i), true);
  if (lmg_plan(&g, xs[0], true) != LM_OK) fail_msg("%s: plan: %s", name, lm_errmsg(ctx));
  memcpy(lmg_at(&g, xn)->val, lm_tensor_data(x), sizeof(float) * (size_t)lm_tensor_size(x));
  lmg_forward(&g, NULL);
  char what[300];
  int bad = 0;
  snprintf(what, sizeof what, "%s: y", name);
  bad += compare(what, lmg_at(&g, yn), lmg_at(&g, yn)->val, ry);
  lmg_backward(&g, loss, NULL);
  snprintf(what, sizeof what, "%s: dx", name);
  bad += compare(what, lmg_at(&g, xn), lmg_at(&g, xn)->grad, rdx);
  for (int i = 0; i < nw; i++) {
    char dn[16];
    snprintf(dn, sizeof dn, "dw%d", i);
    snprintf(what, sizeof what, "%s: d %s", name, lm_layer_weight_name(l, i));
    bad += compare(what, lmg_at(&g, wnodes[i]), lmg_at(&g, wnodes[i])->grad, member(&c, dn));
  }
  lmg_release(&g);
  lm_npz_free(ctx, c.n, c.names, c.arrays);
  lm_ctx_free(ctx);
  return bad;
}

/* Runs every case in index.txt whose name starts with prefix. */
static void run_prefix(const char *prefix, int want_min) {
  char *index = tu_read_text(tu_fixture("torch_spatial/index.txt"));
  if (!index) fail_msg("no tests/fixtures/torch_spatial/index.txt");
  int n = 0, failed = 0;
  for (char *line = strtok(index, "\n"); line; line = strtok(NULL, "\n")) {
    if (strncmp(line, prefix, strlen(prefix)) != 0) continue;
    n++;
    if (run_case(line)) failed++;
  }
  free(index);
  if (n < want_min) fail_msg("only %d %s cases in index.txt (want >= %d)", n, prefix, want_min);
  if (failed) fail_msg("%d of %d %s cases differ from PyTorch", failed, n, prefix);
}

static void test_depthwise(void **state) { run_prefix("depthwise_", 10); }
static void test_separable(void **state) { run_prefix("separable_", 5); }
static void test_conv2d_transpose(void **state) { run_prefix("conv2d_transpose_", 8); }
static void test_padding_cropping_upsampling(void **state) {
  run_prefix("zero_padding_", 2);
  run_prefix("cropping_", 2);
  run_prefix("upsampling_", 3);
}
static void test_relu_family(void **state) {
  run_prefix("leaky_relu_", 2);
  run_prefix("relu_", 4);
  run_prefix("softmax_", 3);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_depthwise),        cmocka_unit_test(test_separable),
      cmocka_unit_test(test_conv2d_transpose), cmocka_unit_test(test_padding_cropping_upsampling),
      cmocka_unit_test(test_relu_family),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}

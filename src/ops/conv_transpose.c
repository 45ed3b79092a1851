/* conv2d_transpose: Keras Conv2DTranspose as the adjoint of the NHWC conv2d
 * kernels (src/kernels/conv.c). The forward convolution it transposes maps
 * the output (N, O1, O2, filters) to the input (N, H, W, Cin) with the
 * kernel (kh, kw, filters, Cin), which is exactly Keras' transposed kernel
 * layout, so: forward = conv2d backward-data (gemm + col2im), input gradient
 * = conv2d forward (im2col + gemm), kernel gradient = conv2d backward-filter
 * with the roles of x and dy swapped. Output size (Keras deconv_length):
 * valid H*s + max(dk - s, 0), same H*s; the cropped pads are TF's 'same'
 * pads of that forward convolution (extra pixel at the bottom/right). */
#include <limits.h>
#include <string.h>

#include "kernels/conv.h"
#include "kernels/conv_shape.h"
#include "kernels/depthwise.h"
#include "ops/spatial.h"

static int64_t deconv_len(int64_t n, int k, int s, int d, bool same) {
  if (n < 0) return LM_NONE;
  int64_t dk = (int64_t)k + (int64_t)(k - 1) * (d - 1);
  return same ? n * s : n * s + (dk > s ? dk - s : 0);
}

static lm_status ct_infer(lmg_graph *g, lmg_node *n) {
  if (lmo_check_f32(g, n)) return g->ctx->err;
  const lmg_node *x = lmg_in(g, n, 0), *k = lmg_in(g, n, 1);
  char sx[128], sk[128];
  lm_shape_str(x->ndim, x->shape, sx, sizeof sx);
  lm_shape_str(k->ndim, k->shape, sk, sizeof sk);
  if (x->ndim != 4 || k->ndim != 4)
    return lm_fail(g->ctx, LM_ERR_SHAPE,
                   "conv2d_transpose expects x (N, H, W, Cin) and a kernel (kh, kw, filters, "
                   "Cin), got shapes %s and %s",
                   sx, sk);
  if (x->shape[3] != LM_NONE && x->shape[3] != k->shape[3])
    return lm_fail(g->ctx, LM_ERR_SHAPE,
                   "conv2d_transpose: the input has %lld channels but the kernel %s expects "
                   "%lld (input shape %s)",
                   (long long)x->shape[3], sk, (long long)k->shape[3], sx);
  if (n->n_in == 3) {
    const lmg_node *b = lmg_in(g, n, 2);
    if (b->ndim != 1 || b->shape[0] != k->shape[2])
      return lm_fail(g->ctx, LM_ERR_SHAPE, "conv2d_transpose: the bias must have shape (%lld,)",
                     (long long)k->shape[2]);
  }
  n->dtype = LM_FLOAT32;
  n->ndim = 4;
  n->shape[0] = x->shape[0];
  for (int a = 1; a <= 2; a++)
    n->shape[a] = deconv_len(x->shape[a], (int)k->shape[a - 1], n->iarg[a - 1], n->iarg[a + 1],
                             n->iarg[4] != 0);
  n->shape[3] = k->shape[2];
  return LM_OK;
}

/* The forward convolution: input = this node's output, output = x. */
static lmk_conv_geom ct_geom(const lmg_graph *g, const lmg_node *n) {
  const lmg_node *x = &g->nodes[n->in[0]], *k = &g->nodes[n->in[1]];
  lmk_conv_geom p = {.threads = g->threads};
  p.n = (int)x->shape[0];
  p.oh = (int)x->shape[1];
  p.ow = (int)x->shape[2];
  p.oc = (int)x->shape[3];
  p.ih = (int)n->shape[1];
  p.iw = (int)n->shape[2];
  p.ic = (int)n->shape[3];
  p.kh = (int)k->shape[0];
  p.kw = (int)k->shape[1];
  p.sh = n->iarg[0];
  p.sw = n->iarg[1];
  p.dh = n->iarg[2];
  p.dw = n->iarg[3];
  int64_t before, after;
  lmk_conv_pads(p.ih, p.kh, p.sh, p.dh, n->iarg[4] != 0, &before, &after);
  p.pad_top = (int)before;
  lmk_conv_pads(p.iw, p.kw, p.sw, p.dw, n->iarg[4] != 0, &before, &after);
  p.pad_left = (int)before;
  return p;
}

/* Scratch: the col buffer, then room for the input gradient before it is added. */
static size_t ct_workspace(const lmg_graph *g, const lmg_node *n) {
  lmk_conv_geom p = ct_geom(g, n);
  return sizeof(float) * (size_t)(lmk_conv2d_scratch(&p) + g->nodes[n->in[0]].size);
}

static void ct_forward(lmg_graph *g, lmg_node *n) {
  lmk_conv_geom p = ct_geom(g, n);
  const int64_t F = n->shape[3], rows = n->size / (F ? F : 1);
  float *y = n->val;
  if (n->n_in == 3) {
    const float *b = lmg_in(g, n, 2)->val;
    LMO_PAR_FOR(g->threads, n->size > LMO_PAR_MIN)
    for (int64_t r = 0; r < rows; r++)
      for (int64_t j = 0; j < F; j++) y[r * F + j] = b[j];
  } else {
    memset(y, 0, sizeof(float) * (size_t)n->size);
  }
  lmk_conv2d_bwd(&p, NULL, lmg_in(g, n, 1)->val, lmg_in(g, n, 0)->val, y, NULL, NULL, n->ws,
                 g->threads);
}

static void ct_backward(lmg_graph *g, lmg_node *n) {
  lmk_conv_geom p = ct_geom(g, n);
  lmg_node *x = lmg_in(g, n, 0), *k = lmg_in(g, n, 1);
  float *col = n->ws, *tmp = col + lmk_conv2d_scratch(&p);
  if (x->grad) {
    lmk_conv2d_fwd(&p, n->grad, k->val, NULL, tmp, col, g->threads);
    float *restrict dx = x->grad;
    LMO_MAP(g->threads, x->size, dx[i] += tmp[i]);
  }
  if (k->grad) lmk_conv2d_bwd(&p, n->grad, NULL, x->val, NULL, k->grad, NULL, col, g->threads);
  if (n->n_in == 3 && lmg_in(g, n, 2)->grad)
    lmk_bias_grad_rows(n->grad, n->size / n->shape[3], (int)n->shape[3], lmg_in(g, n, 2)->grad,
                       g->threads);
}

const lm_op lmo_op_conv2d_transpose = {"conv2d_transpose", ct_infer, ct_forward, ct_backward,
                                       ct_workspace};

int lmo_conv2d_transpose(lmg_graph *g, int x, int k, int b, int sh, int sw, int dh, int dw,
                         bool same) {
  if (sh < 1 || sw < 1 || dh < 1 || dw < 1) {
    lm_fail(g->ctx, LM_ERR_ARG,
            "conv2d_transpose: strides (%d, %d) and dilations (%d, %d) must be >= 1", sh, sw, dh,
            dw);
    return -1;
  }
  lmg_node init = {0};
  init.iarg[0] = sh;
  init.iarg[1] = sw;
  init.iarg[2] = dh;
  init.iarg[3] = dw;
  init.iarg[4] = same;
  int in[3] = {x, k, b};
  return lmg_op(g, &lmo_op_conv2d_transpose, b < 0 ? 2 : 3, in, &init);
}

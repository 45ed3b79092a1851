/* conv2d: NHWC convolution with a Keras (kh, kw, Cin, Cout) kernel, through
 * the im2col + sgemm kernels. iarg: sh, sw, dh, dw, same, relu.
 *
 * relu (lmo_conv2d_relu): the node's value is relu(conv), applied in the
 * convolution's output loop; the backward first turns the incoming gradient
 * into the pre-activation one in place (dy where y > 0, as the relu op), so
 * Conv2D(activation='relu') needs no activation node, pass or tensor. */
#include <string.h>

#include "kernels/conv.h"
#include "kernels/conv_shape.h"
#include "ops/conv_ops.h"

static lm_status conv2d_infer(lmg_graph *g, lmg_node *n) {
  if (lmo_check_f32(g, n)) return g->ctx->err;
  const lmg_node *x = lmg_in(g, n, 0), *w = lmg_in(g, n, 1);
  const char *who = n->label ? n->label : "conv2d";
  char sx[128], sw[128];
  lm_shape_str(x->ndim, x->shape, sx, sizeof sx);
  lm_shape_str(w->ndim, w->shape, sw, sizeof sw);
  if (x->ndim != 4 || w->ndim != 4)
    return lm_fail(g->ctx, LM_ERR_SHAPE,
                   "%s: conv2d expects an input of rank 4 (batch, rows, cols, channels) and a "
                   "rank-4 kernel, got shapes %s and %s",
                   who, sx, sw);
  if (x->shape[3] != LM_NONE && x->shape[3] != w->shape[2])
    return lm_fail(g->ctx, LM_ERR_SHAPE,
                   "%s: the input has %lld channels but the kernel of shape %s expects %lld "
                   "(input shape %s)",
                   who, (long long)x->shape[3], sw, (long long)w->shape[2], sx);
  if (n->n_in == 3) {
    const lmg_node *b = lmg_in(g, n, 2);
    if (b->ndim != 1 || b->shape[0] != w->shape[3])
      return lm_fail(g->ctx, LM_ERR_SHAPE, "%s: conv2d bias does not fit the kernel of shape %s",
                     who, sw);
  }
  bool same = n->iarg[4] != 0;
  int64_t oh = lmk_conv_out(x->shape[1], (int)w->shape[0], n->iarg[0], n->iarg[2], same);
  int64_t ow = lmk_conv_out(x->shape[2], (int)w->shape[1], n->iarg[1], n->iarg[3], same);
  if (oh == 0 || ow == 0)
    return lm_fail(g->ctx, LM_ERR_SHAPE,
                   "Negative dimension size caused by subtracting the kernel %s (dilation "
                   "(%d, %d)) from the input %s in %s with padding 'valid'",
                   sw, n->iarg[2], n->iarg[3], sx, who);
  n->dtype = LM_FLOAT32;
  n->ndim = 4;
  n->shape[0] = x->shape[0];
  n->shape[1] = oh;
  n->shape[2] = ow;
  n->shape[3] = w->shape[3];
  return LM_OK;
}

static void conv2d_geom(lmg_graph *g, const lmg_node *n, lmk_conv_geom *p) {
  const lmg_node *x = lmg_in(g, n, 0), *w = lmg_in(g, n, 1);
  int64_t pt, pb, pl, pr;
  bool same = n->iarg[4] != 0;
  memset(p, 0, sizeof *p);
  p->n = (int)x->shape[0];
  p->ih = (int)x->shape[1];
  p->iw = (int)x->shape[2];
  p->ic = (int)x->shape[3];
  p->kh = (int)w->shape[0];
  p->kw = (int)w->shape[1];
  p->oc = (int)w->shape[3];
  p->sh = n->iarg[0];
  p->sw = n->iarg[1];
  p->dh = n->iarg[2];
  p->dw = n->iarg[3];
  lmk_conv_pads(p->ih, p->kh, p->sh, p->dh, same, &pt, &pb);
  lmk_conv_pads(p->iw, p->kw, p->sw, p->dw, same, &pl, &pr);
  p->pad_top = (int)pt;
  p->pad_left = (int)pl;
  p->oh = (int)n->shape[1];
  p->ow = (int)n->shape[2];
  p->threads = g->threads;
}

static size_t conv2d_workspace(const lmg_graph *g, const lmg_node *n) {
  lmk_conv_geom p;
  conv2d_geom((lmg_graph *)g, n, &p);
  return (size_t)lmk_conv2d_scratch(&p) * sizeof(float);
}

void lmo_conv2d_run(lmg_graph *g, lmg_node *n, const float *w, const float *b, float *y) {
  lmk_conv_geom p;
  conv2d_geom(g, n, &p);
  lmk_conv2d_fwd_act(&p, lmg_in(g, n, 0)->val, w, b, n->iarg[5] != 0, y, n->ws, g->threads);
}

static void conv2d_forward(lmg_graph *g, lmg_node *n) {
  const float *b = n->n_in == 3 ? lmg_in(g, n, 2)->val : NULL;
  lmo_conv2d_run(g, n, lmg_in(g, n, 1)->val, b, n->val);
}

static void conv2d_backward(lmg_graph *g, lmg_node *n) {
  lmk_conv_geom p;
  conv2d_geom(g, n, &p);
  lmg_node *x = lmg_in(g, n, 0), *w = lmg_in(g, n, 1);
  float *db = n->n_in == 3 ? lmg_in(g, n, 2)->grad : NULL;
  if (n->iarg[5]) lmk_relu_mask_grad(n->val, n->grad, n->size, g->threads);
  lmk_conv2d_bwd(&p, x->val, w->val, n->grad, x->grad, w->grad, db, n->ws, g->threads);
}

const lm_op lmo_op_conv2d = {"conv2d", conv2d_infer, conv2d_forward, conv2d_backward,
                             conv2d_workspace};

int lmo_conv2d(lmg_graph *g, int x, int w, int b, int sh, int sw, int dh, int dw, bool same) {
  return lmo_conv2d_relu(g, x, w, b, sh, sw, dh, dw, same, false);
}

int lmo_conv2d_relu(lmg_graph *g, int x, int w, int b, int sh, int sw, int dh, int dw, bool same,
                    bool relu) {
  lmg_node init = {0};
  init.iarg[5] = relu;
  init.iarg[0] = sh;
  init.iarg[1] = sw;
  init.iarg[2] = dh;
  init.iarg[3] = dw;
  init.iarg[4] = same;
  int in[3] = {x, w, b};
  return lmg_op(g, &lmo_op_conv2d, b < 0 ? 2 : 3, in, &init);
}

/* pool2d (max/average windows, TF padding rules) and global_pool (max/mean
 * over the middle axes). Max pooling keeps the index of each window's
 * maximum in the workspace for backward. pool2d iarg: kind, ph, pw, sh, sw,
 * same; global_pool iarg: kind. */
#include <string.h>

#include "kernels/conv.h"
#include "kernels/conv_shape.h"
#include "ops/conv_ops.h"

static const char *pool_name(int kind) { return kind == LMO_POOL_MAX ? "max" : "average"; }

static lm_status pool2d_infer(lmg_graph *g, lmg_node *n) {
  if (lmo_check_f32(g, n)) return g->ctx->err;
  const lmg_node *x = lmg_in(g, n, 0);
  const char *who = n->label ? n->label : "pool2d";
  char sx[128];
  lm_shape_str(x->ndim, x->shape, sx, sizeof sx);
  if (n->iarg[0] != LMO_POOL_MAX && n->iarg[0] != LMO_POOL_AVG)
    return lm_fail(g->ctx, LM_ERR_ARG, "%s: unknown pooling kind %d", who, n->iarg[0]);
  if (x->ndim != 4)
    return lm_fail(g->ctx, LM_ERR_SHAPE,
                   "%s: 2-D %s pooling expects an input of rank 4 (batch, rows, cols, channels), "
                   "got shape %s",
                   who, pool_name(n->iarg[0]), sx);
  bool same = n->iarg[5] != 0;
  int64_t oh = lmk_conv_out(x->shape[1], n->iarg[1], n->iarg[3], 1, same);
  int64_t ow = lmk_conv_out(x->shape[2], n->iarg[2], n->iarg[4], 1, same);
  if (oh == 0 || ow == 0)
    return lm_fail(g->ctx, LM_ERR_SHAPE,
                   "Negative dimension size caused by subtracting the pool size (%d, %d) from "
                   "the input %s in %s with padding 'valid'",
                   n->iarg[1], n->iarg[2], sx, who);
  n->dtype = LM_FLOAT32;
  n->ndim = 4;
  n->shape[0] = x->shape[0];
  n->shape[1] = oh;
  n->shape[2] = ow;
  n->shape[3] = x->shape[3];
  return LM_OK;
}

static void pool2d_geom(lmg_graph *g, const lmg_node *n, lmk_conv_geom *p) {
  const lmg_node *x = lmg_in(g, n, 0);
  int64_t pt, pb, pl, pr;
  bool same = n->iarg[5] != 0;
  memset(p, 0, sizeof *p);
  p->n = (int)x->shape[0];
  p->ih = (int)x->shape[1];
  p->iw = (int)x->shape[2];
  p->ic = p->oc = (int)x->shape[3];
  p->kh = n->iarg[1];
  p->kw = n->iarg[2];
  p->sh = n->iarg[3];
  p->sw = n->iarg[4];
  p->dh = p->dw = 1;
  lmk_conv_pads(p->ih, p->kh, p->sh, 1, same, &pt, &pb);
  lmk_conv_pads(p->iw, p->kw, p->sw, 1, same, &pl, &pr);
  p->pad_top = (int)pt;
  p->pad_left = (int)pl;
  p->oh = (int)n->shape[1];
  p->ow = (int)n->shape[2];
}

static size_t pool2d_workspace(const lmg_graph *g, const lmg_node *n) {
  (void)g;
  return n->iarg[0] == LMO_POOL_MAX ? (size_t)n->size * sizeof(int32_t) : 0;
}

static void pool2d_forward(lmg_graph *g, lmg_node *n) {
  lmk_conv_geom p;
  pool2d_geom(g, n, &p);
  const float *x = lmg_in(g, n, 0)->val;
  if (n->iarg[0] == LMO_POOL_MAX)
    lmk_maxpool_fwd(&p, x, n->val, g->plan_grads ? n->ws : NULL, g->threads); /* argmax: backward's */
  else
    lmk_avgpool_fwd(&p, x, n->val, g->threads);
}

static void pool2d_backward(lmg_graph *g, lmg_node *n) {
  float *dx = lmg_in(g, n, 0)->grad;
  if (!dx) return;
  lmk_conv_geom p;
  pool2d_geom(g, n, &p);
  if (n->iarg[0] == LMO_POOL_MAX)
    lmk_maxpool_bwd(&p, n->grad, n->ws, dx, g->threads);
  else
    lmk_avgpool_bwd(&p, n->grad, dx, g->threads);
}

const lm_op lmo_op_pool2d = {"pool2d", pool2d_infer, pool2d_forward, pool2d_backward,
                             pool2d_workspace};

int lmo_pool2d(lmg_graph *g, int kind, int x, int ph, int pw, int sh, int sw, bool same) {
  lmg_node init = {0};
  init.iarg[0] = kind;
  init.iarg[1] = ph;
  init.iarg[2] = pw;
  init.iarg[3] = sh;
  init.iarg[4] = sw;
  init.iarg[5] = same;
  return lmg_op(g, &lmo_op_pool2d, 1, &x, &init);
}

/* ---- global pooling ---- */

static lm_status global_infer(lmg_graph *g, lmg_node *n) {
  if (lmo_check_f32(g, n)) return g->ctx->err;
  const lmg_node *x = lmg_in(g, n, 0);
  if (n->iarg[0] != LMO_POOL_MAX && n->iarg[0] != LMO_POOL_AVG)
    return lm_fail(g->ctx, LM_ERR_ARG, "unknown global pooling kind %d", n->iarg[0]);
  if (x->ndim < 3) {
    char sx[128];
    lm_shape_str(x->ndim, x->shape, sx, sizeof sx);
    return lm_fail(g->ctx, LM_ERR_SHAPE,
                   "%s: global %s pooling expects an input of rank >= 3 (batch, ..., "
                   "channels), got shape %s",
                   n->label ? n->label : "global_pool", pool_name(n->iarg[0]), sx);
  }
  n->dtype = LM_FLOAT32;
  n->ndim = 2;
  n->shape[0] = x->shape[0];
  n->shape[1] = x->shape[x->ndim - 1];
  return LM_OK;
}

static int64_t global_positions(const lmg_node *x) {
  return lmg_numel(x->ndim - 2, x->shape + 1);
}

static size_t global_workspace(const lmg_graph *g, const lmg_node *n) {
  (void)g;
  return n->iarg[0] == LMO_POOL_MAX ? (size_t)n->size * sizeof(int32_t) : 0;
}

static void global_forward(lmg_graph *g, lmg_node *n) {
  const lmg_node *x = lmg_in(g, n, 0);
  int64_t s = global_positions(x);
  if (n->iarg[0] == LMO_POOL_MAX)
    lmk_global_max_fwd(n->shape[0], s, n->shape[1], x->val, n->val, n->ws, g->threads);
  else
    lmk_global_avg_fwd(n->shape[0], s, n->shape[1], x->val, n->val, g->threads);
}

static void global_backward(lmg_graph *g, lmg_node *n) {
  lmg_node *x = lmg_in(g, n, 0);
  if (!x->grad) return;
  int64_t s = global_positions(x);
  if (n->iarg[0] == LMO_POOL_MAX)
    lmk_global_max_bwd(n->shape[0], n->shape[1], n->grad, n->ws, x->grad, s, g->threads);
  else
    lmk_global_avg_bwd(n->shape[0], s, n->shape[1], n->grad, x->grad, g->threads);
}

const lm_op lmo_op_global_pool = {"global_pool", global_infer, global_forward, global_backward,
                                  global_workspace};

int lmo_global_pool(lmg_graph *g, int kind, int x) {
  lmg_node init = {0};
  init.iarg[0] = kind;
  return lmg_op(g, &lmo_op_global_pool, 1, &x, &init);
}

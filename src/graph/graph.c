/* The executable op graph: building, buffer planning, forward and backward. */
#include "graph/graph.h"

#include <stdlib.h>
#include <string.h>

#include "kernels/kernels.h"

lm_status lmg_init(lmg_graph *g, lm_ctx *ctx) {
  memset(g, 0, sizeof *g);
  g->ctx = ctx;
  lm_arena_init(&g->arena, ctx);
  g->threads = ctx->threads > 0 ? ctx->threads : 1;
  g->plan_batch = -1;
  const char *p = getenv("LAMINA_PROFILE");
  g->profile = p && *p && strcmp(p, "0") != 0;
  return LM_OK;
}

void lmg_release(lmg_graph *g) {
  if (!g->ctx) return;
  for (int i = 0; i < g->n_nodes; i++) lmt_free(g->nodes[i].cval);
  lm_dealloc(g->ctx, g->nodes);
  lm_dealloc(g->ctx, g->slab);
  lm_dealloc(g->ctx, g->prof_fwd);
  lm_dealloc(g->ctx, g->prof_bwd);
  lm_arena_free(&g->arena);
  memset(g, 0, sizeof *g);
}

int64_t lmg_numel(int ndim, const int64_t *shape) {
  int64_t n = 1;
  for (int i = 0; i < ndim; i++) n *= shape[i];
  return n;
}

static int new_node(lmg_graph *g, int kind) {
  if (lm_grow(g->ctx, (void **)&g->nodes, &g->cap_nodes, g->n_nodes + 1, sizeof *g->nodes))
    return -1;
  lmg_node *n = &g->nodes[g->n_nodes];
  memset(n, 0, sizeof *n);
  n->kind = kind;
  if (g->label) { /* copied: layers may be freed before the graph */
    const lmg_node *prev = g->n_nodes ? &g->nodes[g->n_nodes - 1] : NULL;
    if (prev && prev->label && strcmp(prev->label, g->label) == 0)
      n->label = prev->label;
    else if (!(n->label = lm_arena_strdup(&g->arena, g->label)))
      return -1;
  }
  g->planned = false;
  g->plan_batch = -1;
  return g->n_nodes++;
}

int lmg_input(lmg_graph *g, lm_dtype dtype, int ndim, const int64_t *shape) {
  if (ndim < 0 || ndim > LM_MAX_DIMS) {
    lm_fail(g->ctx, LM_ERR_ARG, "input rank %d is outside [0, %d]", ndim, LM_MAX_DIMS);
    return -1;
  }
  int id = new_node(g, LMG_INPUT);
  if (id < 0) return -1;
  lmg_node *n = &g->nodes[id];
  n->dtype = dtype;
  n->ndim = n->sym_ndim = ndim;
  for (int i = 0; i < ndim; i++) n->shape[i] = n->sym_shape[i] = shape[i];
  return id;
}

int lmg_param(lmg_graph *g, lm_tensor *w, bool trainable) {
  for (int i = 0; i < g->n_nodes; i++)
    if (g->nodes[i].kind == LMG_PARAM && g->nodes[i].param == w) return i;
  int id = new_node(g, LMG_PARAM);
  if (id < 0) return -1;
  lmg_node *n = &g->nodes[id];
  n->param = w;
  n->trainable = trainable;
  n->dtype = w->dtype;
  n->ndim = w->ndim;
  memcpy(n->shape, w->shape, sizeof n->shape);
  n->size = w->size;
  return id;
}

int lmg_const(lmg_graph *g, lm_tensor *value) {
  if (!value) return -1;
  int id = new_node(g, LMG_CONST);
  if (id < 0) {
    lmt_free(value);
    return -1;
  }
  lmg_node *n = &g->nodes[id];
  n->cval = value;
  n->dtype = value->dtype;
  n->ndim = value->ndim;
  memcpy(n->shape, value->shape, sizeof n->shape);
  n->size = value->size;
  return id;
}

int lmg_scalar(lmg_graph *g, float v) {
  lm_tensor *t = lmt_new(g->ctx, LM_FLOAT32, 0, NULL);
  if (!t) return -1;
  *(float *)t->data = v;
  return lmg_const(g, t);
}

int lmg_op(lmg_graph *g, const lm_op *op, int n_in, const int *in, const lmg_node *init) {
  for (int i = 0; i < n_in; i++)
    if (in[i] < 0 || in[i] >= g->n_nodes) return -1;
  int *ins = NULL;
  if (n_in > 0) {
    ins = lm_arena_alloc(&g->arena, sizeof(int) * (size_t)n_in);
    if (!ins) return -1;
    memcpy(ins, in, sizeof(int) * (size_t)n_in);
  }
  int id = new_node(g, LMG_OP);
  if (id < 0) return -1;
  lmg_node *n = &g->nodes[id];
  if (init) {
    memcpy(n->iarg, init->iarg, sizeof n->iarg);
    memcpy(n->farg, init->farg, sizeof n->farg);
    n->parg = init->parg;
    n->parg2 = init->parg2;
  }
  n->op = op;
  n->n_in = n_in;
  n->in = ins;
  n->dtype = LM_FLOAT32;
  if (op->infer(g, n) != LM_OK) {
    g->n_nodes--; /* drop the half-made node */
    return -1;
  }
  return id;
}

lm_status lmg_set_input_shape(lmg_graph *g, int id, int ndim, const int64_t *shape) {
  lmg_node *n = &g->nodes[id];
  if (n->kind != LMG_INPUT) return lm_fail(g->ctx, LM_ERR_ARG, "node %d is not an input", id);
  if (ndim != n->sym_ndim)
    return lm_fail(g->ctx, LM_ERR_SHAPE, "input node %d expects rank %d, got %d", id,
                   n->sym_ndim, ndim);
  bool same = n->input_set && n->ndim == ndim;
  for (int i = 0; i < ndim; i++) {
    if (n->sym_shape[i] != LM_NONE && n->sym_shape[i] != shape[i]) {
      char a[128], b[128];
      lm_shape_str(n->sym_ndim, n->sym_shape, a, sizeof a);
      lm_shape_str(ndim, shape, b, sizeof b);
      return lm_fail(g->ctx, LM_ERR_SHAPE, "expected shape %s but got %s", a, b);
    }
    if (n->shape[i] != shape[i]) same = false;
  }
  if (!same) g->plan_batch = -1;
  n->ndim = ndim;
  memcpy(n->shape, shape, sizeof(int64_t) * (size_t)ndim);
  n->input_set = true;
  return LM_OK;
}

#define LMG_ALIGN 64
static size_t align_up(size_t x) { return (x + LMG_ALIGN - 1) & ~(size_t)(LMG_ALIGN - 1); }

lm_status lmg_plan(lmg_graph *g, int64_t batch, bool with_grads) {
  return lmg_plan_masked(g, batch, with_grads, NULL);
}

lm_status lmg_plan_masked(lmg_graph *g, int64_t batch, bool with_grads, const bool *mask) {
  if (g->planned && g->plan_batch == batch && g->plan_grads == with_grads &&
      g->plan_mask == mask)
    return LM_OK;
  lm_ctx *ctx = g->ctx;
  g->planned = false; /* until every shape is inferred again */
  g->threads = ctx->threads > 0 ? ctx->threads : 1;
  size_t val_bytes = 0, grad_bytes = 0, ws_bytes = 0;
  for (int i = 0; i < g->n_nodes; i++) {
    lmg_node *n = &g->nodes[i];
    if (mask && !mask[i]) {
      n->size = 0;
      n->needs_grad = false;
      n->ws_bytes = 0;
      continue;
    }
    if (n->kind == LMG_INPUT) {
      if (!n->input_set) {
        n->ndim = n->sym_ndim;
        for (int d = 0; d < n->ndim; d++)
          n->shape[d] = n->sym_shape[d] == LM_NONE ? batch : n->sym_shape[d];
      }
    } else if (n->kind == LMG_OP) {
      if (n->op->infer(g, n) != LM_OK) return ctx->err;
    }
    for (int d = 0; d < n->ndim; d++)
      if (n->shape[d] < 0)
        return lm_fail(ctx, LM_ERR_SHAPE, "node %d (%s) has an unknown dimension at plan time",
                       i, n->op ? n->op->name : "leaf");
    n->size = lmg_numel(n->ndim, n->shape);
    n->needs_grad = false;
    if (with_grads) {
      if (n->kind == LMG_PARAM) n->needs_grad = n->trainable;
      if (n->want_grad) n->needs_grad = true;
      if (n->kind == LMG_OP && n->op->backward)
        for (int k = 0; k < n->n_in; k++)
          if (g->nodes[n->in[k]].needs_grad) n->needs_grad = true;
    }
    size_t bytes = align_up((size_t)n->size * 4);
    if (n->kind == LMG_OP || n->kind == LMG_INPUT) val_bytes += bytes;
    if (n->needs_grad) grad_bytes += bytes;
    n->ws_bytes = n->kind == LMG_OP && n->op->workspace ? align_up(n->op->workspace(g, n)) : 0;
    ws_bytes += n->ws_bytes;
  }
  size_t total = val_bytes + grad_bytes + ws_bytes + LMG_ALIGN;
  if (total > g->slab_cap) {
    lm_dealloc(ctx, g->slab);
    g->slab = lm_alloc(ctx, total);
    g->slab_cap = g->slab ? total : 0;
    if (!g->slab) return LM_ERR_NOMEM;
  }
  char *base = (char *)(((uintptr_t)g->slab + LMG_ALIGN - 1) & ~(uintptr_t)(LMG_ALIGN - 1));
  size_t off = 0;
  for (int i = 0; i < g->n_nodes; i++) {
    lmg_node *n = &g->nodes[i];
    if (n->kind == LMG_PARAM)
      n->val = n->param->data;
    else if (n->kind == LMG_CONST)
      n->val = n->cval->data;
    else {
      n->val = (float *)(base + off);
      off += align_up((size_t)n->size * 4);
    }
  }
  g->grad_off = (size_t)(base - g->slab) + off;
  g->grad_bytes = grad_bytes;
  for (int i = 0; i < g->n_nodes; i++) {
    lmg_node *n = &g->nodes[i];
    n->grad = NULL;
    if (n->needs_grad) {
      n->grad = (float *)(base + off);
      off += align_up((size_t)n->size * 4);
    }
  }
  for (int i = 0; i < g->n_nodes; i++) {
    lmg_node *n = &g->nodes[i];
    n->ws = n->ws_bytes ? base + off : NULL;
    off += n->ws_bytes;
  }
  if (g->profile && !g->prof_fwd) {
    g->prof_fwd = lm_alloc(ctx, sizeof(double) * (size_t)g->n_nodes);
    g->prof_bwd = lm_alloc(ctx, sizeof(double) * (size_t)g->n_nodes);
    if (!g->prof_fwd || !g->prof_bwd) return LM_ERR_NOMEM;
  }
  g->planned = true;
  g->plan_batch = batch;
  g->plan_grads = with_grads;
  g->plan_mask = mask;
  return LM_OK;
}

void lmg_mark(const lmg_graph *g, int n_targets, const int *targets, bool *mask) {
  memset(mask, 0, sizeof(bool) * (size_t)g->n_nodes);
  for (int i = 0; i < n_targets; i++)
    if (targets[i] >= 0) mask[targets[i]] = true;
  for (int i = g->n_nodes - 1; i >= 0; i--)
    if (mask[i])
      for (int k = 0; k < g->nodes[i].n_in; k++) mask[g->nodes[i].in[k]] = true;
}

void lmg_forward(lmg_graph *g, const bool *mask) {
  g->fwd_err = LM_OK;
  g->fwd_err_row = -1;
  for (int i = 0; i < g->n_nodes; i++) {
    lmg_node *n = &g->nodes[i];
    if (n->kind != LMG_OP || (mask && !mask[i])) continue;
    if (g->profile && g->prof_fwd) {
      double t0 = lmk_now();
      n->op->forward(g, n);
      g->prof_fwd[i] += lmk_now() - t0;
    } else {
      n->op->forward(g, n);
    }
  }
  if (g->profile) g->prof_steps++;
}

void lmg_backward(lmg_graph *g, int loss, const bool *mask) {
  if (g->grad_bytes) memset(g->slab + g->grad_off, 0, g->grad_bytes);
  lmg_node *l = &g->nodes[loss];
  if (!l->grad) return;
  for (int64_t k = 0; k < l->size; k++) l->grad[k] = 1.0f;
  for (int i = loss; i >= 0; i--) {
    lmg_node *n = &g->nodes[i];
    if (n->kind != LMG_OP || !n->grad || !n->op->backward || (mask && !mask[i])) continue;
    if (g->profile && g->prof_bwd) {
      double t0 = lmk_now();
      n->op->backward(g, n);
      g->prof_bwd[i] += lmk_now() - t0;
    } else {
      n->op->backward(g, n);
    }
  }
}

void lmg_profile_report(lmg_graph *g) {
  if (!g->profile || !g->prof_fwd || !g->prof_steps) return;
  double total = 0;
  for (int i = 0; i < g->n_nodes; i++) total += g->prof_fwd[i] + g->prof_bwd[i];
  lm_log(g->ctx, "lamina profile: %lld steps, %.3f ms per step\n", (long long)g->prof_steps,
         1e3 * total / (double)g->prof_steps);
  lm_log(g->ctx, "%-5s %-14s %-24s %10s %10s %6s\n", "node", "op", "layer", "fwd us", "bwd us",
         "share");
  for (int i = 0; i < g->n_nodes; i++) {
    lmg_node *n = &g->nodes[i];
    if (n->kind != LMG_OP) continue;
    double f = g->prof_fwd[i], b = g->prof_bwd[i];
    lm_log(g->ctx, "%-5d %-14s %-24s %10.2f %10.2f %5.1f%%\n", i, n->op->name,
           n->label ? n->label : "-", 1e6 * f / (double)g->prof_steps,
           1e6 * b / (double)g->prof_steps, total > 0 ? 100.0 * (f + b) / total : 0.0);
  }
}

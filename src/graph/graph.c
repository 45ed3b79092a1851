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
  const char *f = getenv("LAMINA_FOLD");
  g->no_fold = f && strcmp(f, "0") == 0;
  return LM_OK;
}

void lmg_release(lmg_graph *g) {
  if (!g->ctx) return;
  for (int i = 0; i < g->n_nodes; i++) lmt_free(g->nodes[i].cval);
  lm_dealloc(g->ctx, g->nodes);
  lm_dealloc(g->ctx, g->slab);
  lm_dealloc(g->ctx, g->pl_tmp);
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

void lmg_keep(lmg_graph *g, int id) {
  if (id < 0 || id >= g->n_nodes || g->nodes[id].keep) return;
  g->nodes[id].keep = true;
  g->planned = false;
}

lm_status lmg_plan(lmg_graph *g, int64_t batch, bool with_grads) {
  return lmg_plan_masked(g, batch, with_grads, NULL);
}

/* ---- liveness-based buffer planning ----
 *
 * A step runs on one timeline: inputs are written at time 0, node i's
 * forward runs at i + 1, backward starts (seeds, zeroes) at N + 1 and node
 * i's backward runs at 2N + 1 - i; 2N + 2 stands for "after the step". Every
 * buffer gets the closed interval of times it is live:
 *  - a value from its forward to its last reader: the last forward consumer
 *    and, in a plan with gradients, the backward of every consumer whose
 *    backward runs (it may read its inputs) and its own backward (it may read
 *    its output). Inputs, kept nodes and nodes nothing consumes live on.
 *  - a gradient from the first backward that adds into it (it is zeroed just
 *    before) to its own backward; parameters' and requested gradients live on
 *    (the optimizer reads them).
 *  - a workspace kept for backward from the forward to the backward; scratch
 *    workspaces share one region sized to the largest.
 * Buffers are then placed greedily, largest first, at the offset of the
 * smallest gap free over their whole interval (best fit), a pure function of
 * the graph, so plans and results are deterministic. */
typedef struct pl_buf {
  size_t size, off;
  int start, end;
  int node, what; /* what: 0 value, 1 gradient, 2 kept workspace, 3 fold, 4 scratch */
} pl_buf;

static bool runs_backward(const lmg_node *n) {
  return n->kind == LMG_OP && n->needs_grad && n->op->backward;
}

static int cmp_buf(const void *a, const void *b) {
  const pl_buf *x = a, *y = b;
  if (x->size != y->size) return x->size > y->size ? -1 : 1;
  if (x->start != y->start) return x->start < y->start ? -1 : 1;
  if (x->node != y->node) return x->node < y->node ? -1 : 1;
  return (x->what > y->what) - (x->what < y->what);
}

/* Best-fit placement of bufs[0..nb) (sorted); placed[] is scratch for nb
 * indices kept in offset order. Returns the bytes used. */
static size_t place(pl_buf *bufs, int nb, int *placed) {
  int np = 0;
  size_t total = 0;
  for (int b = 0; b < nb; b++) {
    pl_buf *x = &bufs[b];
    size_t cur = 0, best = SIZE_MAX, best_gap = SIZE_MAX;
    for (int k = 0; k < np; k++) {
      const pl_buf *y = &bufs[placed[k]];
      if (y->end < x->start || y->start > x->end) continue; /* not live together */
      if (y->off >= cur + x->size && y->off - cur < best_gap) {
        best = cur;
        best_gap = y->off - cur;
      }
      if (y->off + y->size > cur) cur = y->off + y->size;
    }
    x->off = best != SIZE_MAX ? best : cur;
    if (x->off + x->size > total) total = x->off + x->size;
    int k = np++;
    while (k > 0 && bufs[placed[k - 1]].off > x->off) {
      placed[k] = placed[k - 1];
      k--;
    }
    placed[k] = b;
  }
  return total;
}

lm_status lmg_plan_masked(lmg_graph *g, int64_t batch, bool with_grads, const bool *mask) {
  if (g->planned && g->plan_batch == batch && g->plan_grads == with_grads &&
      g->plan_mask == mask)
    return LM_OK;
  lm_ctx *ctx = g->ctx;
  g->planned = false; /* until every shape is inferred again */
  g->threads = ctx->threads > 0 ? ctx->threads : 1;
  const int N = g->n_nodes;
  for (int i = 0; i < N; i++) {
    lmg_node *n = &g->nodes[i];
    n->grad_zero_at = -1;
    n->fold_with = -1;
    n->fold_buf = NULL;
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
    n->ws_bytes = n->kind == LMG_OP && n->op->workspace ? align_up(n->op->workspace(g, n)) : 0;
  }

  /* planner scratch: per node fwd_last, bwd_first, bwd_last, n_cons; buffers */
  const int max_bufs = 4 * N + 1;
  size_t need = sizeof(int) * 4 * (size_t)N + (sizeof(pl_buf) + sizeof(int)) * (size_t)max_bufs;
  if (need > g->pl_tmp_cap) {
    lm_dealloc(ctx, g->pl_tmp);
    g->pl_tmp = lm_alloc(ctx, need);
    g->pl_tmp_cap = g->pl_tmp ? need : 0;
    if (!g->pl_tmp) return LM_ERR_NOMEM;
  }
  pl_buf *bufs = g->pl_tmp;
  int *placed = (int *)(bufs + max_bufs);
  int *fwd_last = placed + max_bufs, *bwd_first = fwd_last + N, *bwd_last = bwd_first + N,
      *n_cons = bwd_last + N;
  for (int i = 0; i < N; i++) {
    fwd_last[i] = bwd_first[i] = bwd_last[i] = -1;
    n_cons[i] = 0;
  }
  for (int c = 0; c < N; c++) {
    const lmg_node *n = &g->nodes[c];
    if (n->kind != LMG_OP || (mask && !mask[c])) continue;
    bool bw = runs_backward(n);
    for (int k = 0; k < n->n_in; k++) {
      int x = n->in[k];
      fwd_last[x] = c;
      n_cons[x]++;
      if (bw) {
        bwd_first[x] = c; /* consumers come in id order: the last seen runs first backward */
        if (bwd_last[x] < 0) bwd_last[x] = c;
      }
    }
  }

  /* fold batchnorm into the convolution before it (inference plans) */
  g->plan_folds = 0;
  if (!with_grads && !g->no_fold) {
    for (int b = 0; b < N; b++) {
      lmg_node *bn = &g->nodes[b];
      if (bn->kind != LMG_OP || (mask && !mask[b]) || bn->n_in < 1) continue;
      int c = bn->in[0];
      lmg_node *conv = &g->nodes[c];
      if (conv->kind != LMG_OP || conv->keep || n_cons[c] != 1 || conv->fold_with >= 0 ||
          !lmo_fold_match(g, conv, bn))
        continue;
      conv->fold_with = b;
      bn->fold_with = c;
      g->plan_folds++;
    }
  }

  const int INF = 2 * N + 2, B0 = N + 1;
#define BWD_T(i) (2 * N + 1 - (i))
  int nb = 0;
  size_t naive = 0, scratch = 0;
  for (int i = 0; i < N; i++) {
    lmg_node *n = &g->nodes[i];
    if (mask && !mask[i]) continue;
    size_t bytes = align_up((size_t)n->size * 4);
    if (n->fold_with > i) naive += bytes; /* a folded conv shares its batchnorm's value */
    else if ((n->kind == LMG_OP || n->kind == LMG_INPUT) && bytes) {
      pl_buf *v = &bufs[nb++];
      *v = (pl_buf){.size = bytes, .node = i, .what = 0};
      v->start = n->kind == LMG_INPUT ? 0 : i + 1;
      if (n->fold_with >= 0 && n->fold_with < i) v->start = n->fold_with + 1; /* conv writes it */
      if (n->kind == LMG_INPUT || n->keep || n_cons[i] == 0) {
        v->end = INF;
      } else {
        v->end = fwd_last[i] + 1;
        if (bwd_last[i] >= 0 && BWD_T(bwd_last[i]) > v->end) v->end = BWD_T(bwd_last[i]);
        if (runs_backward(n) && BWD_T(i) > v->end) v->end = BWD_T(i);
      }
      naive += bytes;
    }
    if (n->needs_grad && bytes) {
      pl_buf *v = &bufs[nb++];
      *v = (pl_buf){.size = bytes, .node = i, .what = 1, .start = B0, .end = INF};
      if (n->kind == LMG_OP && !n->want_grad) {
        if (bwd_first[i] >= 0) {
          v->start = BWD_T(bwd_first[i]);
          n->grad_zero_at = bwd_first[i];
        }
        v->end = BWD_T(i);
      }
      naive += bytes;
    }
    if (n->ws_bytes) {
      naive += n->ws_bytes;
      if (!with_grads || lmo_ws_scratch(n->op)) {
        if (n->ws_bytes > scratch) scratch = n->ws_bytes;
      } else {
        bufs[nb++] = (pl_buf){.size = n->ws_bytes, .node = i, .what = 2, .start = i + 1,
                              .end = runs_backward(n) ? BWD_T(i) : i + 1};
      }
    }
    if (n->fold_with > i) {
      size_t fb = align_up(lmo_fold_floats(g, n) * sizeof(float));
      /* kept for the plan's life: recomputed only when a weight changed */
      bufs[nb++] = (pl_buf){.size = fb, .node = i, .what = 3, .start = 0, .end = INF};
    }
  }
#undef BWD_T
  if (scratch) bufs[nb++] = (pl_buf){.size = scratch, .node = -1, .what = 4, .end = INF};
  if (g->no_reuse) { /* one buffer each, all zeroed at the start of backward (tests) */
    for (int b = 0; b < nb; b++) bufs[b].start = 0, bufs[b].end = INF;
    for (int i = 0; i < N; i++) g->nodes[i].grad_zero_at = -1;
  }
  qsort(bufs, (size_t)nb, sizeof *bufs, cmp_buf);
  size_t used = place(bufs, nb, placed);

  size_t total = used + LMG_ALIGN;
  if (total > g->slab_cap) {
    lm_dealloc(ctx, g->slab);
    g->slab = lm_alloc(ctx, total);
    g->slab_cap = g->slab ? total : 0;
    if (!g->slab) return LM_ERR_NOMEM;
  }
  char *base = (char *)(((uintptr_t)g->slab + LMG_ALIGN - 1) & ~(uintptr_t)(LMG_ALIGN - 1));
  char *scratch_at = NULL;
  for (int i = 0; i < N; i++) {
    lmg_node *n = &g->nodes[i];
    n->grad = NULL;
    n->ws = NULL;
    if (n->kind == LMG_PARAM)
      n->val = n->param->data;
    else if (n->kind == LMG_CONST)
      n->val = n->cval->data;
    else
      n->val = (float *)base; /* empty values (size 0, masked out) */
  }
  for (int b = 0; b < nb; b++) {
    const pl_buf *x = &bufs[b];
    char *at = base + x->off;
    if (x->what == 4) {
      scratch_at = at;
      continue;
    }
    lmg_node *n = &g->nodes[x->node];
    if (x->what == 0) n->val = (float *)at;
    else if (x->what == 1) n->grad = (float *)at;
    else if (x->what == 2) n->ws = at;
    else n->fold_buf = (float *)at;
  }
  for (int i = 0; i < N; i++) {
    lmg_node *n = &g->nodes[i];
    if (n->ws_bytes && !n->ws) n->ws = scratch_at;
    /* Run unfolded (g->training set after planning), the conv writes the
     * batchnorm's buffer and the batchnorm works in place. */
    if (n->fold_with > i) n->val = g->nodes[n->fold_with].val;
    n->fold_gen = 0;
  }
  g->plan_bytes = used;
  g->plan_naive_bytes = naive;
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
  if (g->training) /* batchnorm's moving statistics, and anything else a training forward updates */
    for (int i = 0; i < g->n_nodes; i++)
      if (g->nodes[i].kind == LMG_PARAM) g->nodes[i].param->version++;
  g->fwd_err = LM_OK;
  g->fwd_err_row = -1;
  for (int i = 0; i < g->n_nodes; i++) {
    lmg_node *n = &g->nodes[i];
    if (n->kind != LMG_OP || (mask && !mask[i])) continue;
    bool fold = n->fold_with >= 0 && !g->training;
    if (fold && n->fold_with < i) continue; /* a batchnorm its convolution computed */
    double t0 = g->profile && g->prof_fwd ? lmk_now() : 0.0;
    if (fold)
      lmo_fold_forward(g, n, &g->nodes[n->fold_with]);
    else
      n->op->forward(g, n);
    if (g->profile && g->prof_fwd) g->prof_fwd[i] += lmk_now() - t0;
  }
  if (g->profile) g->prof_steps++;
}

static void zero_grad(lmg_node *n) { memset(n->grad, 0, sizeof(float) * (size_t)n->size); }

void lmg_backward(lmg_graph *g, int loss, const bool *mask) {
  lmg_node *l = &g->nodes[loss];
  /* Gradient buffers share memory with values and other gradients, so each
   * is zeroed when it becomes live: at the start, or just before the first
   * backward that adds into it (the plan's grad_zero_at). Parameters' are
   * zeroed even when the loss does not depend on them. */
  for (int i = 0; i < g->n_nodes; i++)
    if (g->nodes[i].grad && g->nodes[i].grad_zero_at < 0) zero_grad(&g->nodes[i]);
  if (!l->grad) return;
  for (int i = g->n_nodes - 1; i >= 0; i--) {
    lmg_node *n = &g->nodes[i];
    bool bw = runs_backward(n); /* as the plan saw it */
    if (bw)
      for (int k = 0; k < n->n_in; k++) {
        lmg_node *x = &g->nodes[n->in[k]];
        if (x->grad && x->grad_zero_at == i) zero_grad(x);
      }
    if (i == loss)
      for (int64_t k = 0; k < l->size; k++) l->grad[k] = 1.0f;
    if (!bw || !n->grad || i > loss || (mask && !mask[i])) continue;
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
  lm_log(g->ctx, "lamina buffers: last plan %.1f MB (%.1f MB without reuse), %d batchnorm(s) folded\n",
         (double)g->plan_bytes / 1e6, (double)g->plan_naive_bytes / 1e6, g->plan_folds);
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

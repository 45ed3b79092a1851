/* Floor 3: the executable op graph.
 *
 * Nodes are appended in creation order, which is a topological order: a node
 * can only name nodes that already exist. Shapes are symbolic while building
 * (LM_NONE for the batch and other unknown sizes) and concrete after
 * lmg_plan(), which re-runs every op's infer with the real input shapes and
 * lays out the value, gradient and workspace buffers in one slab (grow only).
 * Buffers whose lifetimes do not overlap share memory (see lmg_plan_masked in
 * graph.c): after lmg_forward only the values of inputs, kept nodes
 * (lmg_keep) and nodes nothing consumes are sure to be intact, and after
 * lmg_backward only the gradients of parameters and of want_grad nodes. */
#ifndef LM_GRAPH_H
#define LM_GRAPH_H

#include "core/core.h"

typedef struct lmg_graph lmg_graph;
typedef struct lmg_node lmg_node;

typedef struct lm_op {
  const char *name;
  /* Set n->ndim, n->shape and n->dtype from the inputs; dims may be LM_NONE
   * while building. Errors go through lm_fail(g->ctx, ...). */
  lm_status (*infer)(lmg_graph *g, lmg_node *n);
  void (*forward)(lmg_graph *g, lmg_node *n);
  /* Adds (+=) into the gradients of the inputs whose grad is not NULL.
   * NULL: the op passes no gradient. */
  void (*backward)(lmg_graph *g, lmg_node *n);
  /* Bytes of per-node scratch kept from forward to backward (NULL = none). */
  size_t (*workspace)(const lmg_graph *g, const lmg_node *n);
} lm_op;

enum { LMG_INPUT, LMG_PARAM, LMG_CONST, LMG_OP };

struct lmg_node {
  int kind;
  const lm_op *op;
  int n_in;
  int *in; /* node ids */
  lm_dtype dtype;
  int ndim;
  int64_t shape[LM_MAX_DIMS];
  int64_t size; /* elements, after planning */
  /* op arguments */
  int iarg[8];
  float farg[4];
  const void *parg;
  void *parg2;
  /* PARAM: the weight tensor itself (val points into it) */
  lm_tensor *param;
  bool trainable;
  /* CONST: owned value */
  lm_tensor *cval;
  /* buffers, valid after lmg_plan */
  float *val; /* int32 nodes: read as (int32_t *)val */
  float *grad; /* NULL when no gradient is needed */
  void *ws;
  size_t ws_bytes;
  bool needs_grad;
  bool input_set; /* INPUT: concrete shape given for this plan */
  bool want_grad; /* force a gradient buffer (tests: gradients w.r.t. inputs) */
  int sym_ndim;   /* INPUT: the symbolic shape given at creation */
  int64_t sym_shape[LM_MAX_DIMS];
  const char *label; /* layer that emitted it (profiling, messages) */
  bool keep;         /* value read after lmg_forward: never reused (lmg_keep) */
  /* set by the plan: */
  int grad_zero_at;  /* backward zeroes grad just before this node's backward (-1: at start) */
  int fold_with;     /* conv <-> batchnorm folded pair in an inference plan (-1: none) */
  float *fold_buf;   /* conv of a folded pair: derived kernel, then bias */
  uint64_t fold_gen; /* 1 + its sources' summed versions when fold_buf was made (0: stale) */
};

struct lmg_graph {
  lm_ctx *ctx;
  lm_arena arena;
  lmg_node *nodes;
  int n_nodes, cap_nodes;
  bool training;
  int threads;
  /* buffer plan (liveness based: a value, gradient or workspace shares
   * memory with others whose lifetimes do not overlap) */
  char *slab;
  size_t slab_cap;
  bool planned;
  int64_t plan_batch; /* the batch of the last plan (-1: none) */
  bool plan_grads;
  const bool *plan_mask;
  size_t plan_bytes;       /* slab bytes the last plan uses */
  size_t plan_naive_bytes; /* what one buffer per value/gradient/workspace would take */
  int plan_folds;          /* batchnorms folded into their convolution */
  bool no_fold;            /* never fold (tests; LAMINA_FOLD=0) */
  bool no_reuse;           /* one buffer per value/gradient/workspace (tests) */
  void *pl_tmp;            /* planner scratch (grow only) */
  size_t pl_tmp_cap;
  const char *label; /* current label for new nodes */
  /* Bad data met by a forward (an index outside an embedding table): the
   * first op that meets it sets fwd_err, the message (lm_fail) and the batch
   * row; lmg_forward clears them first. Callers check after lmg_forward. */
  lm_status fwd_err;
  int64_t fwd_err_row;
  /* profiling (LAMINA_PROFILE=1) */
  bool profile;
  double *prof_fwd, *prof_bwd; /* per node, seconds */
  int64_t prof_steps;
};

lm_status lmg_init(lmg_graph *g, lm_ctx *ctx);
void lmg_release(lmg_graph *g);

static inline lmg_node *lmg_at(lmg_graph *g, int id) { return &g->nodes[id]; }
static inline lmg_node *lmg_in(lmg_graph *g, const lmg_node *n, int i) {
  return &g->nodes[n->in[i]];
}

/* Leaves. shape includes the batch axis (LM_NONE while unknown). */
int lmg_input(lmg_graph *g, lm_dtype dtype, int ndim, const int64_t *shape);
int lmg_param(lmg_graph *g, lm_tensor *w, bool trainable); /* one node per tensor */
int lmg_const(lmg_graph *g, lm_tensor *value);             /* graph takes ownership */
int lmg_scalar(lmg_graph *g, float v);

/* Append an op node (runs infer). Any input id < 0 propagates: returns -1.
 * Node fields set by the builder (iarg, farg, ...) come through init. */
int lmg_op(lmg_graph *g, const lm_op *op, int n_in, const int *in, const lmg_node *init);

/* The value of node id is read after lmg_forward: its buffer is never
 * reused for another node. Nodes no op consumes are kept anyway. */
void lmg_keep(lmg_graph *g, int id);

/* Concrete input shape for the next plan (INPUT nodes only). */
lm_status lmg_set_input_shape(lmg_graph *g, int id, int ndim, const int64_t *shape);
/* Re-infer shapes and lay out buffers. Inputs not set get their symbolic
 * shape with LM_NONE replaced by batch. grads: which nodes need gradients
 * (trainable params and what depends on them). */
lm_status lmg_plan(lmg_graph *g, int64_t batch, bool with_grads);
/* The same over the nodes in mask only (others get no buffers). */
lm_status lmg_plan_masked(lmg_graph *g, int64_t batch, bool with_grads, const bool *mask);

/* Ops whose workspace is pure scratch (forward and backward each start
 * afresh): they all share one region sized to the largest. In plans without
 * gradients every workspace is scratch. Provided by src/ops/fold.c. */
bool lmo_ws_scratch(const lm_op *op);

/* Plans without gradients fold a batchnorm (inference, last axis) into the
 * convolution before it when the batchnorm is the convolution's only
 * consumer: the convolution then runs with a derived kernel and bias
 * (recomputed from the current weights on every forward) and writes the
 * batchnorm's value. Provided by src/ops/fold.c. */
bool lmo_fold_match(const lmg_graph *g, const lmg_node *conv, const lmg_node *bn);
size_t lmo_fold_floats(const lmg_graph *g, const lmg_node *conv);
void lmo_fold_forward(lmg_graph *g, lmg_node *conv, lmg_node *bn);

/* Run forward over the nodes needed for targets (mask computed by lmg_mark). */
void lmg_mark(const lmg_graph *g, int n_targets, const int *targets, bool *mask);
void lmg_forward(lmg_graph *g, const bool *mask);
/* Zero gradients, seed d(loss)=1, run backward over masked nodes. */
void lmg_backward(lmg_graph *g, int loss, const bool *mask);

/* Elements of the concrete shape. */
int64_t lmg_numel(int ndim, const int64_t *shape);
/* Profile report through the log hook (LAMINA_PROFILE=1). */
void lmg_profile_report(lmg_graph *g);

/* Every op kind the library registers (the gradient table must cover them). */
extern const lm_op *const lmo_registry[];
extern const int lmo_registry_n;

#endif

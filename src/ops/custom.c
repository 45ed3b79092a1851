/* custom: an op written by hand through callbacks (losses such as YOLO's).
 * parg holds a copy of the definition (in the graph's arena), parg2 the
 * caller's user data. */
#include "ops/ops.h"

static const lmo_custom_def *def_of(const lmg_node *n) { return n->parg; }

static lm_status custom_infer(lmg_graph *g, lmg_node *n) {
  const lmo_custom_def *d = def_of(n);
  return d->infer(n->parg2, g, n);
}

static void custom_forward(lmg_graph *g, lmg_node *n) { def_of(n)->forward(n->parg2, g, n); }

static void custom_backward(lmg_graph *g, lmg_node *n) {
  const lmo_custom_def *d = def_of(n);
  if (d->backward) d->backward(n->parg2, g, n);
}

static size_t custom_workspace(const lmg_graph *g, const lmg_node *n) {
  const lmo_custom_def *d = def_of(n);
  return d->workspace ? d->workspace(n->parg2, g, n) : 0;
}

const lm_op lmo_op_custom = {"custom", custom_infer, custom_forward, custom_backward,
                             custom_workspace};

int lmo_custom(lmg_graph *g, int n, const int *xs, const lmo_custom_def *def, void *ud) {
  for (int i = 0; i < n; i++)
    if (xs[i] < 0) return -1;
  if (!def || !def->infer || !def->forward) {
    lm_fail(g->ctx, LM_ERR_ARG, "custom op %s needs infer and forward callbacks",
            def && def->name ? def->name : "(unnamed)");
    return -1;
  }
  lmo_custom_def *copy = lm_arena_alloc(&g->arena, sizeof *copy);
  if (!copy) return -1;
  *copy = *def;
  lmg_node init = {0};
  init.parg = copy;
  init.parg2 = ud;
  return lmg_op(g, &lmo_op_custom, n, xs, &init);
}

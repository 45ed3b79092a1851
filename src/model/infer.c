/* The inference plan behind predict: the model's ops alone, owned by the
 * model, independent of compile (see lmm_infer in model/model.h). */
#include "model/model.h"

void lmm_infer_free(lm_model *m) {
  lmm_infer *p = m->infer;
  if (!p) return;
  lm_ctx *ctx = m->ctx;
  /* LAMINA_PROFILE=1: predict's table when the model never trained (the
   * training graph prints its own, and tools read one table per run) */
  const lmg_graph *tg = lmm_train_graph(m);
  if (!tg || !tg->prof_steps) {
    lmg_profile_report(&p->g);
  } else if (p->g.profile && p->g.prof_fwd && p->g.prof_steps) {
    double total = 0;
    for (int i = 0; i < p->g.n_nodes; i++) total += p->g.prof_fwd[i];
    lm_log(ctx, "lamina predict: %lld batches, %.3f ms per batch in the ops (plan %.1f MB)\n",
           (long long)p->g.prof_steps, 1e3 * total / (double)p->g.prof_steps,
           (double)p->g.plan_bytes / 1e6);
  }
  lmg_release(&p->g);
  lm_dealloc(ctx, p->in_nodes);
  lm_dealloc(ctx, p->out_nodes);
  lm_dealloc(ctx, p->mask);
  lm_dealloc(ctx, p->rows);
  lm_dealloc(ctx, p);
  m->infer = NULL;
}

lmm_infer *lmm_infer_get(lm_model *m) {
  if (m->infer) return m->infer;
  lm_ctx *ctx = m->ctx;
  if (!m->built || m->n_outputs == 0) {
    lm_fail(ctx, LM_ERR_STATE,
            "This model has not yet been built: add layers (with an input_shape on the first "
            "one) before predict.");
    return NULL;
  }
  lmm_infer *p = lm_alloc(ctx, sizeof *p);
  if (!p) return NULL;
  m->infer = p; /* lmm_infer_free cleans up a partial build */
  lm_status st = lmg_init(&p->g, ctx);
  p->in_nodes = lm_alloc(ctx, sizeof(int) * (size_t)m->n_inputs);
  p->out_nodes = lm_alloc(ctx, sizeof(int) * (size_t)m->n_outputs);
  if (!st && (!p->in_nodes || !p->out_nodes)) st = LM_ERR_NOMEM;
  if (!st) st = lmm_emit(m, &p->g, NULL, p->in_nodes, p->out_nodes);
  if (!st) {
    /* read after forward: their buffers are never reused */
    for (int i = 0; i < m->n_outputs; i++) lmg_keep(&p->g, p->out_nodes[i]);
    p->mask = lm_alloc(ctx, sizeof(bool) * (size_t)(p->g.n_nodes ? p->g.n_nodes : 1));
    if (!p->mask) st = LM_ERR_NOMEM;
  }
  if (!st) lmg_mark(&p->g, m->n_outputs, p->out_nodes, p->mask);
  if (st) {
    if (!ctx->err) lm_fail(ctx, st, "predict: could not build the inference graph");
    lmm_infer_free(m);
    return NULL;
  }
  return p;
}

/* Keras wrappers: Bidirectional(layer, merge_mode) and TimeDistributed(layer).
 *
 * A wrapper owns the weights of the layers it wraps: after an inner layer's
 * build its weights move into the wrapper's list under Keras' names
 * ("bidirectional_1/forward_lstm_1/kernel:0", "time_distributed_1/kernel:0"),
 * so summary, parameter counts, save/load and the optimizer see one layer.
 * For out_shape and emit the inner layer borrows its slice of that list
 * (lend/take_back); it never owns it. The wrapper never calls an inner layer
 * through lml_call, so it appears in no model through the wrapper.
 *
 * Bidirectional follows Keras 2.2.4 for an inner layer with return_state (outputs
 * [merged output, forward states, backward states]; merge_mode None: both outputs first)
 * and for initial_state (the call's inputs [x, forward states, backward states]). */
#include <string.h>

#include "layers/layer.h"
#include "ops/ops.h"

enum { MERGE_CONCAT, MERGE_SUM, MERGE_MUL, MERGE_AVE, MERGE_NONE };
/* MERGE_NONE (Keras' merge_mode=None; "none" in C): the two outputs, forward first. */
static const char *const merge_names[] = {"concat", "sum", "mul", "ave", "none"};

typedef struct wrap_cfg {
  lm_layer *fwd, *bwd; /* TimeDistributed: fwd only */
  int n_fwd;           /* fwd's weights come first in the wrapper's list */
  int merge;
  char inner_name[128]; /* the wrapped layer's own name (config) */
} wrap_cfg;

/* ---- lending weights ---- */

/* What the inner layer had before a loan: nothing, unless the user called it directly
 * after wrapping it (then it built weights of its own, as Keras' original layer would). */
typedef struct own_weights {
  lml_weight *w;
  int n, cap;
  bool trainable;
} own_weights;

static own_weights lend(lm_layer *w, lm_layer *in, int first, int n) {
  own_weights o = {in->weights, in->n_weights, in->cap_weights, in->trainable};
  in->weights = w->weights + first;
  in->n_weights = n;
  in->cap_weights = n;
  in->trainable = w->trainable;
  return o;
}

static void take_back(lm_layer *in, own_weights o) {
  in->weights = o.w;
  in->n_weights = o.n;
  in->cap_weights = o.cap;
  in->trainable = o.trainable;
}

/* Build inner on shape s, then move its weights to w's list, named
 * "<w>/<inner weight name>" (strip: drop the inner layer's own prefix). */
static lm_status build_and_adopt(lm_layer *w, lm_layer *in, const lm_shape *s, bool strip) {
  lm_ctx *ctx = w->ctx;
  if (in->cls->build && in->cls->build(in, 1, s) != LM_OK) return ctx->err;
  in->built = true;
  if (lm_grow(ctx, (void **)&w->weights, &w->cap_weights, w->n_weights + in->n_weights,
              sizeof *w->weights))
    return LM_ERR_NOMEM;
  for (int i = 0; i < in->n_weights; i++) {
    const char *src = in->weights[i].name, *slash = strchr(src, '/');
    if (strip && slash) src = slash + 1;
    size_t n = strlen(w->name) + strlen(src) + 2;
    char *full = lm_alloc(ctx, n);
    if (!full) return LM_ERR_NOMEM; /* the rest stays with (and is freed by) in */
    snprintf(full, n, "%s/%s", w->name, src);
    lml_weight *dst = &w->weights[w->n_weights++];
    *dst = in->weights[i];
    dst->name = full;
    lm_dealloc(ctx, in->weights[i].name);
    in->weights[i].name = NULL;
    in->weights[i].t = NULL;
  }
  lm_dealloc(ctx, in->weights);
  in->weights = NULL;
  in->n_weights = in->cap_weights = 0;
  in->built = false; /* a direct call later builds its own weights, never these */
  return LM_OK;
}

static void inner_config(const lm_layer *in, const char *name, lm_buf *b) {
  lm_buf_printf(b, ", \"layer\": {\"class_name\": \"%s\", \"config\": {\"name\": ",
                in->cls->class_name);
  lmj_write_str(b, name);
  lm_buf_printf(b, ", \"trainable\": %s", in->trainable ? "true" : "false");
  if (in->cls->config) in->cls->config(in, b);
  lm_buf_puts(b, "}}");
}

/* The wrapped layer from a saved wrapper config. */
static lm_layer *inner_from_config(lm_ctx *ctx, const lmj_value *cfg, const char *wname) {
  const lmj_value *lj = lmj_get(cfg, "layer");
  const lmj_value *lc = lj ? lmj_get(lj, "config") : NULL;
  const lml_class *cls = lj ? lml_find_class(lmj_get_str(lj, "class_name", "")) : NULL;
  const char *name = lc ? lmj_get_str(lc, "name", NULL) : NULL;
  if (!cls || !cls->from_config || !name) {
    lm_fail(ctx, LM_ERR_FORMAT, "%s: the wrapped layer's config is missing or unknown", wname);
    return NULL;
  }
  lm_layer *in = cls->from_config(ctx, lc, name);
  if (in) in->trainable = lmj_get_bool(lc, "trainable", true);
  return in;
}

static lm_status rename_layer(lm_layer *l, const char *prefix) {
  size_t n = strlen(prefix) + strlen(l->name) + 1;
  char *s = lm_alloc(l->ctx, n);
  if (!s) return LM_ERR_NOMEM;
  snprintf(s, n, "%s%s", prefix, l->name);
  lm_dealloc(l->ctx, l->name);
  l->name = s;
  return LM_OK;
}

static bool is_recurrent(const lml_class *k) {
  return k == &lml_lstm_class || k == &lml_gru_class || k == &lml_simple_rnn_class;
}

/* multi: the wrapper takes an inner layer of several outputs (Bidirectional). */
static lm_status check_inner(lm_ctx *ctx, const char *wrapper, lm_layer *in, bool multi) {
  if (in->n_calls > 0 || in->built || in->n_weights > 0)
    return lm_fail(ctx, LM_ERR_ARG,
                   "%s: layer %s has already been called or built; wrap a new layer", wrapper,
                   in->name);
  if (in->cls->min_inputs > 1 || (in->cls->max_inputs != 1 && !is_recurrent(in->cls)) ||
      !in->cls->emit || in->cls == &lml_input_class)
    return lm_fail(ctx, LM_ERR_ARG, "%s cannot wrap layer %s (%s): it must take one input",
                   wrapper, in->name, in->cls->class_name);
  if (!multi && lml_n_outputs(in) != 1)
    return lm_fail(ctx, LM_ERR_ARG,
                   "%s cannot wrap layer %s (%s): it has %d outputs (return_state); Keras' "
                   "%s takes a layer of one output",
                   wrapper, in->name, in->cls->class_name, lml_n_outputs(in), wrapper);
  return LM_OK;
}

/* ---- Bidirectional ---- */

/* Keras 2.2.4's Bidirectional(layer)(x, initial_state=[...]): inputs 1 .. n_in-1 are
 * the initial states, the first half for the forward layer, the second half for the
 * backward one. */
static lm_status bidi_check_states(lm_layer *l, int n_in) {
  if ((n_in - 1) % 2 == 0) return LM_OK;
  return lm_fail(l->ctx, LM_ERR_ARG,
                 "When passing `initial_state` to a Bidirectional RNN, the state should be a "
                 "list containing the states of the underlying RNNs. Found: %d states (layer %s)",
                 n_in - 1, l->name);
}

static lm_status bidi_build(lm_layer *l, int n_in, const lm_shape *in) {
  wrap_cfg *c = l->cfg;
  if (bidi_check_states(l, n_in)) return l->ctx->err;
  if (build_and_adopt(l, c->fwd, &in[0], false)) return l->ctx->err;
  c->n_fwd = l->n_weights;
  return build_and_adopt(l, c->bwd, &in[0], false);
}

static int bidi_n_outputs(const lm_layer *l) {
  const wrap_cfg *c = l->cfg;
  return (c->merge == MERGE_NONE ? 2 : 1) + 2 * (lml_n_outputs(c->fwd) - 1);
}

/* The inputs of one direction: x, then its half of the initial states. */
static int half_inputs(int n_in, bool backward, int *idx) {
  int half = (n_in - 1) / 2, k = 0;
  idx[k++] = 0;
  for (int j = 0; j < half; j++) idx[k++] = 1 + (backward ? half : 0) + j;
  return k;
}

static lm_status bidi_out_shape(lm_layer *l, int n_in, const lm_shape *in, lm_shape *out) {
  wrap_cfg *c = l->cfg;
  if (bidi_check_states(l, n_in)) return l->ctx->err;
  int idx[LML_MAX_OUTPUTS + 1], k = lml_n_outputs(c->fwd) - 1; /* k states per direction */
  lm_shape io[LML_MAX_OUTPUTS + 1], fo[LML_MAX_OUTPUTS], bo[LML_MAX_OUTPUTS];
  if (n_in > 2 * LML_MAX_OUTPUTS + 1)
    return lm_fail(l->ctx, LM_ERR_ARG, "Bidirectional %s: too many initial states (%d)",
                   l->name, n_in - 1);
  lm_status st = LM_OK;
  for (int dir = 0; dir < 2 && !st; dir++) {
    lm_layer *in_l = dir ? c->bwd : c->fwd;
    int m = half_inputs(n_in, dir, idx);
    for (int j = 0; j < m; j++) io[j] = in[idx[j]];
    own_weights o = dir ? lend(l, c->bwd, c->n_fwd, l->n_weights - c->n_fwd)
                        : lend(l, c->fwd, 0, c->n_fwd);
    st = in_l->cls->out_shape(in_l, m, io, dir ? bo : fo);
    take_back(in_l, o);
  }
  if (st) return st;
  int p = 0;
  out[p] = fo[0];
  if (c->merge == MERGE_CONCAT) out[p].d[out[p].ndim - 1] *= 2;
  p++;
  if (c->merge == MERGE_NONE) out[p++] = bo[0];
  for (int j = 0; j < k; j++) out[p++] = fo[1 + j];
  for (int j = 0; j < k; j++) out[p++] = bo[1 + j];
  return LM_OK;
}

static lm_status bidi_emit(lm_layer *l, lmg_graph *g, int n_in, const int *in, int *out) {
  wrap_cfg *c = l->cfg;
  int idx[LML_MAX_OUTPUTS + 1], xs[LML_MAX_OUTPUTS + 1], yf[LML_MAX_OUTPUTS],
      ybk[LML_MAX_OUTPUTS];
  int k = lml_n_outputs(c->fwd) - 1;
  if (n_in > 2 * LML_MAX_OUTPUTS + 1)
    return lm_fail(g->ctx, LM_ERR_ARG, "Bidirectional %s: too many initial states (%d)",
                   l->name, n_in - 1);
  for (int dir = 0; dir < 2; dir++) {
    lm_layer *in_l = dir ? c->bwd : c->fwd;
    int m = half_inputs(n_in, dir, idx);
    for (int j = 0; j < m; j++) xs[j] = in[idx[j]];
    own_weights o = dir ? lend(l, c->bwd, c->n_fwd, l->n_weights - c->n_fwd)
                        : lend(l, c->fwd, 0, c->n_fwd);
    lm_status st = in_l->cls->emit(in_l, g, m, xs, dir ? ybk : yf);
    take_back(in_l, o);
    if (st) return st;
  }
  int y = yf[0], yb = ybk[0];
  if (lmg_at(g, yb)->ndim == 3) yb = lmo_reverse_time(g, yb); /* return_sequences */
  const lmg_node *yn = lmg_at(g, y);
  int pair[2] = {y, yb}, p = 1;
  switch (c->merge) {
  case MERGE_NONE: out[0] = y; out[1] = yb; p = 2; break;
  case MERGE_CONCAT: *out = lmo_concat(g, 2, pair, yn->ndim - 1); break;
  case MERGE_SUM: *out = lmo_binary(g, LMO_ADD, y, yb); break;
  case MERGE_MUL: *out = lmo_binary(g, LMO_MUL, y, yb); break;
  default: *out = lmo_affine(g, lmo_binary(g, LMO_ADD, y, yb), 0.5f, 0.0f);
  }
  for (int j = 0; j < k; j++) out[p + j] = yf[1 + j]; /* forward states, then backward */
  for (int j = 0; j < k; j++) out[p + k + j] = ybk[1 + j];
  for (int j = 0; j < p + 2 * k; j++)
    if (out[j] < 0) return g->ctx->err;
  return LM_OK;
}

static void bidi_config(const lm_layer *l, lm_buf *b) {
  const wrap_cfg *c = l->cfg;
  inner_config(c->fwd, c->inner_name, b);
  if (c->merge == MERGE_NONE)
    lm_buf_printf(b, ", \"merge_mode\": null");
  else
    lm_buf_printf(b, ", \"merge_mode\": \"%s\"", merge_names[c->merge]);
}

static lm_layer *bidi_from_config(lm_ctx *ctx, const lmj_value *cfg, const char *name) {
  lm_layer *in = inner_from_config(ctx, cfg, name);
  const lmj_value *mm = lmj_get(cfg, "merge_mode");
  const char *mode = mm && mm->type == LMJ_NULL ? "none" : lmj_get_str(cfg, "merge_mode", "concat");
  return in ? lm_layer_bidirectional(ctx, in, mode, name) : NULL;
}

const lml_class lml_bidirectional_class = {
    .class_name = "Bidirectional",
    .prefix = "bidirectional",
    .min_inputs = 1,
    .max_inputs = 0, /* x, then Keras' initial_state (bidi_check_states) */
    .build = bidi_build,
    .out_shape = bidi_out_shape,
    .emit = bidi_emit,
    .n_outputs = bidi_n_outputs,
    .config = bidi_config,
    .from_config = bidi_from_config,
};

/* The backward copy: the inner layer's config with go_backwards flipped. */
static lm_layer *backward_copy(lm_layer *in) {
  lm_ctx *ctx = in->ctx;
  lm_buf b;
  lm_buf_init(&b, ctx);
  lm_buf_puts(&b, "{\"name\": ");
  lmj_write_str(&b, in->name);
  if (in->cls->config) in->cls->config(in, &b);
  lm_buf_puts(&b, "}");
  lmj_value *cfg = b.oom ? NULL : lmj_parse(ctx, b.data, b.len, "Bidirectional");
  lm_buf_free(&b);
  if (!cfg) return NULL;
  lm_layer *copy = NULL;
  for (int i = 0; i < cfg->n; i++)
    if (strcmp(cfg->keys[i], "go_backwards") == 0 && cfg->items[i].type == LMJ_BOOL) {
      cfg->items[i].b = !cfg->items[i].b;
      size_t n = strlen(in->name) + 10;
      char *name = lm_alloc(ctx, n);
      if (name) {
        snprintf(name, n, "backward_%s", in->name);
        copy = in->cls->from_config(ctx, cfg, name);
        lm_dealloc(ctx, name);
      }
    }
  lmj_free(ctx, cfg);
  if (copy) copy->trainable = in->trainable;
  return copy;
}

lm_layer *lm_layer_bidirectional(lm_ctx *ctx, lm_layer *layer, const char *merge_mode,
                                 const char *name) {
  if (!ctx || !layer) return NULL;
  int merge = -1;
  for (int i = 0; i < 5; i++)
    if (!merge_mode || strcmp(merge_mode, merge_names[i]) == 0) {
      merge = merge_mode ? i : MERGE_CONCAT;
      break;
    }
  if (merge < 0) {
    lm_fail(ctx, LM_ERR_ARG,
            "Invalid merge mode. Merge mode should be one of {\"sum\", \"mul\", \"ave\", "
            "\"concat\", None} (got '%s'; None is \"none\" in C)",
            merge_mode);
    return NULL;
  }
  if (check_inner(ctx, "Bidirectional", layer, true)) return NULL;
  const lml_class *k = layer->cls;
  if (!is_recurrent(k)) {
    lm_fail(ctx, LM_ERR_ARG, "Bidirectional wraps an LSTM, GRU or SimpleRNN, not %s (%s)",
            layer->name, k->class_name);
    return NULL;
  }
  if (strlen(layer->name) >= sizeof ((wrap_cfg *)0)->inner_name) {
    lm_fail(ctx, LM_ERR_ARG, "Bidirectional: layer name %s is too long", layer->name);
    return NULL;
  }
  lm_layer *bwd = backward_copy(layer);
  if (!bwd) return NULL;
  lm_layer *l = lml_new(ctx, &lml_bidirectional_class, name, sizeof(wrap_cfg));
  if (!l) return NULL;
  wrap_cfg *c = l->cfg;
  strcpy(c->inner_name, layer->name);
  if (rename_layer(layer, "forward_")) return NULL;
  c->fwd = layer;
  c->bwd = bwd;
  c->merge = merge;
  return l;
}

/* ---- TimeDistributed ---- */

static lm_status td_check(lm_layer *l, const lm_shape *in, lm_shape *child) {
  if (in->ndim < 3) {
    char s[128];
    lml_shape_str(in, s, sizeof s);
    return lm_fail(l->ctx, LM_ERR_SHAPE,
                   "`TimeDistributed` Layer should be passed an `input_shape ` with at least 3 "
                   "dimensions, received: %s (layer %s)",
                   s, l->name);
  }
  *child = *in;
  child->ndim = in->ndim - 1;
  child->d[0] = LM_NONE;
  for (int i = 2; i < in->ndim; i++) child->d[i - 1] = in->d[i];
  return LM_OK;
}

static lm_status td_build(lm_layer *l, int n_in, const lm_shape *in) {
  (void)n_in;
  lm_shape child;
  if (td_check(l, &in[0], &child)) return l->ctx->err;
  wrap_cfg *c = l->cfg;
  if (build_and_adopt(l, c->fwd, &child, true)) return l->ctx->err;
  c->n_fwd = l->n_weights;
  return LM_OK;
}

static lm_status td_out_shape(lm_layer *l, int n_in, const lm_shape *in, lm_shape *out) {
  (void)n_in;
  wrap_cfg *c = l->cfg;
  lm_shape child, co;
  if (td_check(l, &in[0], &child)) return l->ctx->err;
  own_weights o = lend(l, c->fwd, 0, c->n_fwd);
  lm_status st = c->fwd->cls->out_shape(c->fwd, 1, &child, &co);
  take_back(c->fwd, o);
  if (st) return st;
  if (co.ndim + 1 > LM_MAX_DIMS || co.ndim < 1)
    return lm_fail(l->ctx, LM_ERR_SHAPE, "TimeDistributed %s: output of rank %d is too large",
                   l->name, co.ndim + 1);
  *out = co;
  out->ndim = co.ndim + 1;
  out->d[0] = in[0].d[0];
  out->d[1] = in[0].d[1];
  for (int i = 1; i < co.ndim; i++) out->d[i + 1] = co.d[i];
  return LM_OK;
}

static lm_status td_emit(lm_layer *l, lmg_graph *g, int n_in, const int *in, int *out) {
  (void)n_in;
  wrap_cfg *c = l->cfg;
  int folded = lmo_fold_time(g, in[0]), y = -1;
  if (folded < 0) return g->ctx->err;
  own_weights o = lend(l, c->fwd, 0, c->n_fwd);
  lm_status st = c->fwd->cls->emit(c->fwd, g, 1, &folded, &y);
  take_back(c->fwd, o);
  if (st) return st;
  *out = lmo_unfold_time(g, y, in[0]);
  return *out < 0 ? g->ctx->err : LM_OK;
}

static void td_config(const lm_layer *l, lm_buf *b) {
  const wrap_cfg *c = l->cfg;
  inner_config(c->fwd, c->fwd->name, b);
}

static lm_layer *td_from_config(lm_ctx *ctx, const lmj_value *cfg, const char *name) {
  lm_layer *in = inner_from_config(ctx, cfg, name);
  return in ? lm_layer_time_distributed(ctx, in, name) : NULL;
}

const lml_class lml_time_distributed_class = {
    .class_name = "TimeDistributed",
    .prefix = "time_distributed",
    .min_inputs = 1,
    .max_inputs = 1,
    .build = td_build,
    .out_shape = td_out_shape,
    .emit = td_emit,
    .config = td_config,
    .from_config = td_from_config,
};

lm_layer *lm_layer_time_distributed(lm_ctx *ctx, lm_layer *layer, const char *name) {
  if (!ctx || !layer) return NULL;
  if (check_inner(ctx, "TimeDistributed", layer, false)) return NULL;
  lm_layer *l = lml_new(ctx, &lml_time_distributed_class, name, sizeof(wrap_cfg));
  if (!l) return NULL;
  ((wrap_cfg *)l->cfg)->fwd = layer;
  return l;
}

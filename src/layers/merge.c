/* Merge layers (keras/layers/merge.py, 2.2.4): Add, Subtract, Multiply,
 * Average, Maximum, Concatenate and the lowercase helpers.
 *
 * The element-wise merges follow Keras' _Merge: non-batch dims are aligned
 * from the right, size-1 dims stretch, and an input of lower rank gets
 * size-1 axes inserted right after the batch axis (K.expand_dims(x, 1)). */
#include <stdio.h>
#include <string.h>

#include "layers/layer.h"
#include "ops/ops.h"

/* ---- shapes ---- */

/* "[(None, 4), (None, 5)]", as Python prints a list of shape tuples. */
static void shape_list_str(int n, const lm_shape *in, char *out, size_t len) {
  size_t k = (size_t)snprintf(out, len, "[");
  for (int i = 0; i < n && k < len; i++) {
    char s[160];
    lml_shape_str(&in[i], s, sizeof s);
    k += (size_t)snprintf(out + k, len - k, "%s%s", i ? ", " : "", s);
  }
  if (k < len) snprintf(out + k, len - k, "]");
}

/* Keras' _compute_elemwise_op_output_shape on the non-batch dims of a and b. */
static lm_status elemwise_shape(lm_layer *l, const lm_shape *a, const lm_shape *b, lm_shape *out) {
  const lm_shape *hi = a->ndim >= b->ndim ? a : b, *lo = a->ndim >= b->ndim ? b : a;
  lm_shape r = *hi;
  int off = hi->ndim - lo->ndim;
  for (int i = 1; i < lo->ndim; i++) {
    int64_t p = hi->d[off + i], q = lo->d[i];
    if (p == LM_NONE || q == LM_NONE)
      r.d[off + i] = LM_NONE;
    else if (p == 1)
      r.d[off + i] = q;
    else if (q != 1 && p != q) {
      char sa[160], sb[160];
      lml_shape_str(a, sa, sizeof sa);
      lml_shape_str(b, sb, sizeof sb);
      return lm_fail(l->ctx, LM_ERR_SHAPE,
                     "Operands could not be broadcast together with shapes %s %s (layer %s)", sa,
                     sb, l->name);
    }
  }
  *out = r;
  return LM_OK;
}

/* The batch size all inputs agree on, LM_NONE if unknown; error if two differ. */
static lm_status merge_batch(lm_layer *l, int n_in, const lm_shape *in, int64_t *batch) {
  *batch = LM_NONE;
  for (int i = 0; i < n_in; i++) {
    if (in[i].ndim < 1 || in[i].d[0] == LM_NONE) continue;
    if (*batch != LM_NONE && *batch != in[i].d[0]) {
      char s[1024];
      shape_list_str(n_in, in, s, sizeof s);
      return lm_fail(l->ctx, LM_ERR_SHAPE,
                     "Can not merge tensors with different batch sizes. Got tensors with "
                     "shapes : %s (layer %s)",
                     s, l->name);
    }
    *batch = in[i].d[0];
  }
  return LM_OK;
}

static lm_status elemwise_out_shape(lm_layer *l, int n_in, const lm_shape *in, lm_shape *out) {
  int64_t batch;
  if (merge_batch(l, n_in, in, &batch)) return l->ctx->err;
  lm_shape acc = in[0];
  acc.d[0] = LM_NONE;
  for (int i = 1; i < n_in; i++) {
    lm_shape x = in[i];
    x.d[0] = LM_NONE;
    if (elemwise_shape(l, &acc, &x, &acc)) return l->ctx->err;
  }
  acc.d[0] = batch;
  acc.dtype = in[0].dtype;
  *out = acc;
  return LM_OK;
}

static lm_status subtract_out_shape(lm_layer *l, int n_in, const lm_shape *in, lm_shape *out) {
  if (n_in != 2)
    return lm_fail(l->ctx, LM_ERR_ARG,
                   "A `Subtract` layer should be called on exactly 2 inputs (layer %s)", l->name);
  return elemwise_out_shape(l, n_in, in, out);
}

/* ---- emit ---- */

/* x with size-1 axes inserted after the batch so that it has rank ndim. */
static int expand_to(const lm_layer *l, lmg_graph *g, int x, int ndim) {
  if (x < 0) return -1; /* an earlier op failed */
  const lmg_node *n = lmg_at(g, x);
  int add = ndim - n->ndim;
  if (add <= 0) return x;
  int64_t shape[LM_MAX_DIMS];
  int n_unknown = 0;
  for (int i = 0; i < add; i++) shape[i] = 1;
  for (int i = 1; i < n->ndim; i++) {
    int64_t d = n->shape[i];
    if (d == LM_NONE) n_unknown++;
    shape[add + i - 1] = d == LM_NONE ? -1 : d;
  }
  if (n_unknown > 1) {
    lm_fail(g->ctx, LM_ERR_SHAPE,
            "Layer %s: an input of lower rank may have at most one unknown dimension", l->name);
    return -1;
  }
  return lmo_reshape(g, x, ndim - 1, shape);
}

/* Fold the inputs left to right with one binary op kind. */
static int fold(const lm_layer *l, lmg_graph *g, int kind, int n_in, const int *in) {
  int max_nd = 0;
  for (int i = 0; i < n_in; i++)
    if (in[i] >= 0 && lmg_at(g, in[i])->ndim > max_nd) max_nd = lmg_at(g, in[i])->ndim;
  int acc = expand_to(l, g, in[0], max_nd);
  for (int i = 1; i < n_in && acc >= 0; i++)
    acc = lmo_binary(g, kind, acc, expand_to(l, g, in[i], max_nd));
  return acc;
}

static lm_status done(lmg_graph *g, int y, int *out) {
  *out = y;
  return y < 0 ? g->ctx->err : LM_OK;
}

static lm_status add_emit(lm_layer *l, lmg_graph *g, int n_in, const int *in, int *out) {
  return done(g, fold(l, g, LMO_ADD, n_in, in), out);
}
static lm_status subtract_emit(lm_layer *l, lmg_graph *g, int n_in, const int *in, int *out) {
  return done(g, fold(l, g, LMO_SUB, n_in, in), out);
}
static lm_status multiply_emit(lm_layer *l, lmg_graph *g, int n_in, const int *in, int *out) {
  return done(g, fold(l, g, LMO_MUL, n_in, in), out);
}
static lm_status maximum_emit(lm_layer *l, lmg_graph *g, int n_in, const int *in, int *out) {
  return done(g, fold(l, g, LMO_MAXIMUM, n_in, in), out);
}
static lm_status average_emit(lm_layer *l, lmg_graph *g, int n_in, const int *in, int *out) {
  int sum = fold(l, g, LMO_ADD, n_in, in);
  return done(g, sum < 0 ? -1 : lmo_affine(g, sum, 1.0f / (float)n_in, 0.0f), out);
}

/* ---- classes ---- */

#define MERGE_CLASS(var, cname, pfx, max_in, shape_fn, emit_fn)                             \
  static lm_layer *var##_from_config(lm_ctx *ctx, const lmj_value *cfg, const char *name);  \
  const lml_class var = {                                                                   \
      .class_name = cname,                                                                  \
      .prefix = pfx,                                                                        \
      .min_inputs = 2,                                                                      \
      .max_inputs = max_in,                                                                 \
      .out_shape = shape_fn,                                                                \
      .emit = emit_fn,                                                                      \
      .from_config = var##_from_config,                                                     \
  };                                                                                        \
  static lm_layer *var##_from_config(lm_ctx *ctx, const lmj_value *cfg, const char *name) { \
    return lml_new(ctx, &var, name, 0);                                                     \
  }

/* Subtract takes no maximum here so that 3 inputs get Keras' own message. */
MERGE_CLASS(lml_add_class, "Add", "add", 0, elemwise_out_shape, add_emit)
MERGE_CLASS(lml_subtract_class, "Subtract", "subtract", 0, subtract_out_shape, subtract_emit)
MERGE_CLASS(lml_multiply_class, "Multiply", "multiply", 0, elemwise_out_shape, multiply_emit)
MERGE_CLASS(lml_average_class, "Average", "average", 0, elemwise_out_shape, average_emit)
MERGE_CLASS(lml_maximum_class, "Maximum", "maximum", 0, elemwise_out_shape, maximum_emit)

static lm_layer *merge_new(lm_ctx *ctx, const lml_class *cls, const char *name) {
  if (!ctx) return NULL;
  return lml_new(ctx, cls, name, 0);
}

lm_layer *lm_layer_add(lm_ctx *ctx, const char *name) {
  return merge_new(ctx, &lml_add_class, name);
}
lm_layer *lm_layer_subtract(lm_ctx *ctx, const char *name) {
  return merge_new(ctx, &lml_subtract_class, name);
}
lm_layer *lm_layer_multiply(lm_ctx *ctx, const char *name) {
  return merge_new(ctx, &lml_multiply_class, name);
}
lm_layer *lm_layer_average(lm_ctx *ctx, const char *name) {
  return merge_new(ctx, &lml_average_class, name);
}
lm_layer *lm_layer_maximum(lm_ctx *ctx, const char *name) {
  return merge_new(ctx, &lml_maximum_class, name);
}

/* ---- Concatenate ---- */

typedef struct concat_cfg {
  int axis; /* as given: negative counts from the end, the batch axis is 0 */
} concat_cfg;

static lm_status concat_out_shape(lm_layer *l, int n_in, const lm_shape *in, lm_shape *out) {
  int nd = in[0].ndim, axis = ((const concat_cfg *)l->cfg)->axis;
  int ax = axis < 0 ? axis + nd : axis;
  if (ax < 1 || ax >= nd) {
    char s[160];
    lml_shape_str(&in[0], s, sizeof s);
    return lm_fail(l->ctx, LM_ERR_ARG,
                   ax == 0 ? "Layer %s: cannot concatenate along the batch axis (axis %d, "
                             "input shape %s)"
                           : "Layer %s: axis %d is out of range for inputs of shape %s",
                   l->name, axis, s);
  }
  bool match = true;
  for (int i = 1; i < n_in && match; i++) {
    if (in[i].ndim != nd) match = false;
    for (int k = 0; k < nd && match; k++)
      if (k != ax && in[i].d[k] != in[0].d[k]) match = false;
  }
  if (!match) {
    char s[1024];
    shape_list_str(n_in, in, s, sizeof s);
    return lm_fail(l->ctx, LM_ERR_SHAPE,
                   "A `Concatenate` layer requires inputs with matching shapes except for the "
                   "concat axis. Got inputs shapes: %s (layer %s)",
                   s, l->name);
  }
  *out = in[0];
  for (int i = 1; i < n_in; i++) {
    if (out->d[ax] == LM_NONE || in[i].d[ax] == LM_NONE) {
      out->d[ax] = LM_NONE;
      break;
    }
    out->d[ax] += in[i].d[ax];
  }
  return LM_OK;
}

static lm_status concat_emit(lm_layer *l, lmg_graph *g, int n_in, const int *in, int *out) {
  int axis = ((const concat_cfg *)l->cfg)->axis;
  if (axis < 0 && in[0] >= 0) axis += lmg_at(g, in[0])->ndim;
  return done(g, lmo_concat(g, n_in, in, axis), out);
}

static void concat_config(const lm_layer *l, lm_buf *b) {
  lm_buf_printf(b, ", \"axis\": %d", ((const concat_cfg *)l->cfg)->axis);
}

static lm_layer *concat_from_config(lm_ctx *ctx, const lmj_value *cfg, const char *name) {
  return lm_layer_concatenate(ctx, (int)lmj_get_num(cfg, "axis", -1), name);
}

const lml_class lml_concatenate_class = {
    .class_name = "Concatenate",
    .prefix = "concatenate",
    .min_inputs = 2,
    .max_inputs = 0,
    .out_shape = concat_out_shape,
    .emit = concat_emit,
    .config = concat_config,
    .from_config = concat_from_config,
};

lm_layer *lm_layer_concatenate(lm_ctx *ctx, int axis, const char *name) {
  if (!ctx) return NULL;
  lm_layer *l = lml_new(ctx, &lml_concatenate_class, name, sizeof(concat_cfg));
  if (!l) return NULL;
  ((concat_cfg *)l->cfg)->axis = axis;
  return l;
}

/* ---- lowercase helpers: make the layer, call it ---- */

/* NULL inputs (an earlier failure) return NULL before a layer is made, so
 * the first error message stands and no name is used up. */
static bool inputs_pending(int n, lm_sym *const *xs) {
  for (int i = 0; xs && i < n; i++)
    if (!xs[i]) return true;
  return false;
}

static lm_sym *merge_call(lm_ctx *ctx, lm_layer *(*make)(lm_ctx *, const char *), int n,
                          lm_sym *const *xs) {
  if (!ctx || inputs_pending(n, xs)) return NULL;
  return lml_call(make(ctx, NULL), n, xs);
}

lm_sym *lm_add(lm_ctx *ctx, int n, lm_sym *const *xs) {
  return merge_call(ctx, lm_layer_add, n, xs);
}
lm_sym *lm_subtract(lm_ctx *ctx, int n, lm_sym *const *xs) {
  return merge_call(ctx, lm_layer_subtract, n, xs);
}
lm_sym *lm_multiply(lm_ctx *ctx, int n, lm_sym *const *xs) {
  return merge_call(ctx, lm_layer_multiply, n, xs);
}
lm_sym *lm_average(lm_ctx *ctx, int n, lm_sym *const *xs) {
  return merge_call(ctx, lm_layer_average, n, xs);
}
lm_sym *lm_maximum(lm_ctx *ctx, int n, lm_sym *const *xs) {
  return merge_call(ctx, lm_layer_maximum, n, xs);
}
lm_sym *lm_concatenate(lm_ctx *ctx, int n, lm_sym *const *xs, int axis) {
  if (!ctx || inputs_pending(n, xs)) return NULL;
  return lml_call(lm_layer_concatenate(ctx, axis, NULL), n, xs);
}

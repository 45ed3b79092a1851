/* reshape, concat, slice, transpose. They move 4-byte elements, so they also
 * carry int32 tensors; gradients flow for float32 ones. */
#include <limits.h>
#include <stdio.h>
#include <string.h>

#include "ops/ops.h"

/* ---- reshape (axis 0 kept) ---- */

static lm_status reshape_fail(lmg_graph *g, const lmg_node *x, const lmg_node *n, const char *why) {
  char sx[128], st[160];
  const int64_t *ts = n->parg;
  lm_shape_str(x->ndim, x->shape, sx, sizeof sx);
  /* the target as given: the batch, then the dims with -1 kept as -1 */
  int64_t batch = x->ndim > 0 ? x->shape[0] : LM_NONE;
  size_t k = batch == LM_NONE ? (size_t)snprintf(st, sizeof st, "(None")
                              : (size_t)snprintf(st, sizeof st, "(%lld", (long long)batch);
  for (int i = 0; i < n->iarg[0] && k < sizeof st; i++)
    k += (size_t)snprintf(st + k, sizeof st - k, ", %lld", (long long)ts[i]);
  if (k < sizeof st) snprintf(st + k, sizeof st - k, "%s", n->iarg[0] == 0 ? ",)" : ")");
  return lm_fail(g->ctx, LM_ERR_SHAPE, "Cannot reshape a tensor of shape %s into shape %s: %s", sx,
                 st, why);
}

static lm_status reshape_infer(lmg_graph *g, lmg_node *n) {
  const lmg_node *x = lmg_in(g, n, 0);
  const int64_t *ts = n->parg;
  int nt = n->iarg[0];
  if (x->ndim < 1) return reshape_fail(g, x, n, "the input has no batch axis");
  int64_t have = 1, prod = 1;
  int unknown = -1;
  for (int i = 1; i < x->ndim; i++) {
    if (x->shape[i] == LM_NONE) {
      have = -1; /* not known until the plan */
      break;
    }
    have *= x->shape[i];
  }
  for (int i = 0; i < nt; i++) {
    if (ts[i] == -1) {
      if (unknown >= 0) return reshape_fail(g, x, n, "can only specify one unknown dimension");
      unknown = i;
    } else if (ts[i] < 0) {
      return reshape_fail(g, x, n, "dimensions must be non-negative or -1");
    } else {
      prod *= ts[i];
    }
  }
  n->dtype = x->dtype;
  n->ndim = nt + 1;
  n->shape[0] = x->shape[0];
  for (int i = 0; i < nt; i++) n->shape[i + 1] = ts[i];
  if (unknown >= 0) {
    if (have < 0)
      n->shape[unknown + 1] = LM_NONE;
    else if (prod == 0 || have % prod != 0)
      return reshape_fail(g, x, n, "total size of new array must be unchanged");
    else
      n->shape[unknown + 1] = have / prod;
  } else if (have >= 0 && have != prod) {
    return reshape_fail(g, x, n, "total size of new array must be unchanged");
  }
  return LM_OK;
}

static void reshape_forward(lmg_graph *g, lmg_node *n) {
  memcpy(n->val, lmg_in(g, n, 0)->val, (size_t)n->size * 4);
}

static void reshape_backward(lmg_graph *g, lmg_node *n) {
  float *dx = lmg_in(g, n, 0)->grad;
  const float *dy = n->grad;
  if (dx) LMO_MAP(g->threads, n->size, dx[i] += dy[i]);
}

const lm_op lmo_op_reshape = {"reshape", reshape_infer, reshape_forward, reshape_backward, NULL};

int lmo_reshape(lmg_graph *g, int x, int ndim, const int64_t *shape) {
  if (x < 0) return -1;
  if (ndim < 0 || ndim > LM_MAX_DIMS - 1) {
    lm_fail(g->ctx, LM_ERR_SHAPE, "reshape: target rank %d is outside [0, %d]", ndim,
            LM_MAX_DIMS - 1);
    return -1;
  }
  int64_t *s = lm_arena_alloc(&g->arena, sizeof(int64_t) * (size_t)(ndim ? ndim : 1));
  if (!s) return -1;
  if (ndim) memcpy(s, shape, sizeof(int64_t) * (size_t)ndim);
  lmg_node init = {0};
  init.iarg[0] = ndim;
  init.parg = s;
  return lmg_op(g, &lmo_op_reshape, 1, &x, &init);
}

/* ---- concat ---- */

static lm_status concat_fail(lmg_graph *g, const lmg_node *n) {
  char list[1024], s[128];
  size_t k = 0;
  list[0] = 0;
  for (int i = 0; i < n->n_in && k < sizeof list; i++) {
    const lmg_node *x = lmg_in(g, n, i);
    lm_shape_str(x->ndim, x->shape, s, sizeof s);
    int w = snprintf(list + k, sizeof list - k, "%s%s", i ? ", " : "", s);
    if (w < 0) break;
    k += (size_t)w;
  }
  return lm_fail(g->ctx, LM_ERR_SHAPE,
                 "concat requires inputs with matching shapes except for the concat axis %d. "
                 "Got inputs shapes: [%s]",
                 n->iarg[0], list);
}

static lm_status concat_infer(lmg_graph *g, lmg_node *n) {
  int axis = n->iarg[0];
  if (n->n_in < 1) return lm_fail(g->ctx, LM_ERR_ARG, "concat needs at least one input");
  const lmg_node *x0 = lmg_in(g, n, 0);
  if (axis < 0 || axis >= x0->ndim) return concat_fail(g, n);
  n->dtype = x0->dtype;
  n->ndim = x0->ndim;
  memcpy(n->shape, x0->shape, sizeof n->shape);
  for (int i = 1; i < n->n_in; i++) {
    const lmg_node *x = lmg_in(g, n, i);
    if (x->ndim != n->ndim || x->dtype != n->dtype) return concat_fail(g, n);
    for (int d = 0; d < n->ndim; d++) {
      int64_t a = n->shape[d], b = x->shape[d];
      if (d == axis)
        n->shape[d] = a == LM_NONE || b == LM_NONE ? LM_NONE : a + b;
      else if (a == LM_NONE)
        n->shape[d] = b;
      else if (b != LM_NONE && a != b)
        return concat_fail(g, n);
    }
  }
  return LM_OK;
}

static void concat_forward(lmg_graph *g, lmg_node *n) {
  int64_t outer = lmg_numel(n->iarg[0], n->shape);
  if (outer == 0) return;
  int64_t row = n->size / outer;
  LMO_PAR_FOR(g->threads, n->size > LMO_PAR_MIN)
  for (int64_t o = 0; o < outer; o++) {
    int64_t off = 0;
    for (int i = 0; i < n->n_in; i++) {
      const lmg_node *x = lmg_in(g, n, i);
      int64_t w = x->size / outer;
      memcpy(n->val + o * row + off, x->val + o * w, (size_t)w * 4);
      off += w;
    }
  }
}

static void concat_backward(lmg_graph *g, lmg_node *n) {
  int64_t outer = lmg_numel(n->iarg[0], n->shape);
  if (outer == 0) return;
  int64_t row = n->size / outer;
  const float *dy = n->grad;
  LMO_PAR_FOR(g->threads, n->size > LMO_PAR_MIN)
  for (int64_t o = 0; o < outer; o++) {
    int64_t off = 0;
    for (int i = 0; i < n->n_in; i++) {
      lmg_node *x = lmg_in(g, n, i);
      int64_t w = x->size / outer;
      if (x->grad)
        for (int64_t j = 0; j < w; j++) x->grad[o * w + j] += dy[o * row + off + j];
      off += w;
    }
  }
}

const lm_op lmo_op_concat = {"concat", concat_infer, concat_forward, concat_backward, NULL};

int lmo_concat(lmg_graph *g, int n, const int *xs, int axis) {
  lmg_node init = {0};
  init.iarg[0] = axis;
  return lmg_op(g, &lmo_op_concat, n, xs, &init);
}

/* ---- slice [start, start + len) of one axis ---- */

static lm_status slice_infer(lmg_graph *g, lmg_node *n) {
  const lmg_node *x = lmg_in(g, n, 0);
  int axis = n->iarg[0], start = n->iarg[1], len = n->iarg[2];
  char s[128];
  lm_shape_str(x->ndim, x->shape, s, sizeof s);
  if (axis < 0 || axis >= x->ndim)
    return lm_fail(g->ctx, LM_ERR_SHAPE, "slice: axis %d is out of range for input shape %s", axis,
                   s);
  int64_t d = x->shape[axis];
  if (start < 0 || len < 0 || (d != LM_NONE && (int64_t)start + len > d))
    return lm_fail(g->ctx, LM_ERR_SHAPE,
                   "slice [%d, %lld) of axis %d is outside the input shape %s", start,
                   (long long)start + len, axis, s);
  n->dtype = x->dtype;
  n->ndim = x->ndim;
  memcpy(n->shape, x->shape, sizeof n->shape);
  n->shape[axis] = len;
  return LM_OK;
}

/* outer rows; each input row has d * inner elements, the slice len * inner. */
static void slice_dims(lmg_graph *g, const lmg_node *n, int64_t *outer, int64_t *in_row,
                       int64_t *out_row, int64_t *skip) {
  const lmg_node *x = lmg_in(g, n, 0);
  int axis = n->iarg[0];
  int64_t inner = lmg_numel(x->ndim - axis - 1, x->shape + axis + 1);
  *outer = lmg_numel(axis, x->shape);
  *in_row = x->shape[axis] * inner;
  *out_row = (int64_t)n->iarg[2] * inner;
  *skip = (int64_t)n->iarg[1] * inner;
}

static void slice_forward(lmg_graph *g, lmg_node *n) {
  int64_t outer, in_row, out_row, skip;
  slice_dims(g, n, &outer, &in_row, &out_row, &skip);
  const float *x = lmg_in(g, n, 0)->val;
  LMO_PAR_FOR(g->threads, n->size > LMO_PAR_MIN)
  for (int64_t o = 0; o < outer; o++)
    memcpy(n->val + o * out_row, x + o * in_row + skip, (size_t)out_row * 4);
}

static void slice_backward(lmg_graph *g, lmg_node *n) {
  float *dx = lmg_in(g, n, 0)->grad;
  if (!dx) return;
  int64_t outer, in_row, out_row, skip;
  slice_dims(g, n, &outer, &in_row, &out_row, &skip);
  const float *dy = n->grad;
  LMO_PAR_FOR(g->threads, n->size > LMO_PAR_MIN)
  for (int64_t o = 0; o < outer; o++)
    for (int64_t j = 0; j < out_row; j++) dx[o * in_row + skip + j] += dy[o * out_row + j];
}

const lm_op lmo_op_slice = {"slice", slice_infer, slice_forward, slice_backward, NULL};

int lmo_slice(lmg_graph *g, int x, int axis, int64_t start, int64_t len) {
  if (x < 0) return -1;
  if (start < 0 || len < 0 || start > INT_MAX || len > INT_MAX) {
    lm_fail(g->ctx, LM_ERR_SHAPE, "slice: start %lld and length %lld must be in [0, %d]",
            (long long)start, (long long)len, INT_MAX);
    return -1;
  }
  lmg_node init = {0};
  init.iarg[0] = axis;
  init.iarg[1] = (int)start;
  init.iarg[2] = (int)len;
  return lmg_op(g, &lmo_op_slice, 1, &x, &init);
}

/* ---- transpose: y.shape[i] = x.shape[perm[i]] ---- */

static lm_status transpose_infer(lmg_graph *g, lmg_node *n) {
  const lmg_node *x = lmg_in(g, n, 0);
  unsigned seen = 0;
  for (int i = 0; i < x->ndim; i++) {
    int p = n->iarg[i];
    if (p < 0 || p >= x->ndim || ((seen >> p) & 1u)) {
      char s[128];
      lm_shape_str(x->ndim, x->shape, s, sizeof s);
      return lm_fail(g->ctx, LM_ERR_SHAPE,
                     "transpose: the permutation is not one of the axes of input shape %s", s);
    }
    seen |= 1u << p;
    n->shape[i] = x->shape[p];
  }
  n->dtype = x->dtype;
  n->ndim = x->ndim;
  return LM_OK;
}

/* Input strides in output axis order. */
static void transpose_strides(lmg_graph *g, const lmg_node *n, int64_t *xs) {
  const lmg_node *x = lmg_in(g, n, 0);
  int64_t st[LM_MAX_DIMS], run = 1;
  for (int i = x->ndim - 1; i >= 0; i--) {
    st[i] = run;
    run *= x->shape[i];
  }
  for (int i = 0; i < n->ndim; i++) xs[i] = st[n->iarg[i]];
}

static int64_t transpose_row(const lmg_node *n, const int64_t *xs, int64_t r) {
  int64_t off = 0;
  for (int d = n->ndim - 2; d >= 0; d--) {
    off += (r % n->shape[d]) * xs[d];
    r /= n->shape[d];
  }
  return off;
}

static void transpose_forward(lmg_graph *g, lmg_node *n) {
  if (n->ndim == 0) {
    memcpy(n->val, lmg_in(g, n, 0)->val, 4);
    return;
  }
  int64_t xs[LM_MAX_DIMS], inner = n->shape[n->ndim - 1];
  transpose_strides(g, n, xs);
  if (inner == 0) return;
  int64_t rows = n->size / inner, s = xs[n->ndim - 1];
  const uint32_t *x = (const uint32_t *)lmg_in(g, n, 0)->val;
  uint32_t *y = (uint32_t *)n->val;
  LMO_PAR_FOR(g->threads, n->size > LMO_PAR_MIN)
  for (int64_t r = 0; r < rows; r++) {
    const uint32_t *xr = x + transpose_row(n, xs, r);
    for (int64_t j = 0; j < inner; j++) y[r * inner + j] = xr[j * s];
  }
}

static void transpose_backward(lmg_graph *g, lmg_node *n) {
  float *dx = lmg_in(g, n, 0)->grad;
  if (!dx) return;
  const float *dy = n->grad;
  if (n->ndim == 0) {
    dx[0] += dy[0];
    return;
  }
  int64_t xs[LM_MAX_DIMS], inner = n->shape[n->ndim - 1];
  transpose_strides(g, n, xs);
  if (inner == 0) return;
  int64_t rows = n->size / inner, s = xs[n->ndim - 1];
  LMO_PAR_FOR(g->threads, n->size > LMO_PAR_MIN)
  for (int64_t r = 0; r < rows; r++) {
    float *dr = dx + transpose_row(n, xs, r);
    for (int64_t j = 0; j < inner; j++) dr[j * s] += dy[r * inner + j];
  }
}

const lm_op lmo_op_transpose = {"transpose", transpose_infer, transpose_forward, transpose_backward,
                                NULL};

int lmo_transpose(lmg_graph *g, int x, const int *perm) {
  if (x < 0 || x >= g->n_nodes) return -1;
  lmg_node init = {0};
  int nd = lmg_at(g, x)->ndim;
  for (int i = 0; i < nd; i++) init.iarg[i] = perm[i];
  return lmg_op(g, &lmo_op_transpose, 1, &x, &init);
}

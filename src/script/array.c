/* Arrays in scripts (lm_tensor, float32 or int32) and the numpy subset:
 * attributes, reshape/astype, scalar arithmetic, first-axis indexing, and the
 * np.* functions of the registry. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "data/csv.h"
#include "core/npy.h"
#include "script/interp.h"

#define MAX_ELEMS ((int64_t)1 << 32)
#define SANDBOX_ELEMS ((int64_t)1 << 16) /* lms_opts.sandbox (fuzzing): small arrays, fast inputs */

static double get(lm_tensor *t, int64_t i) {
  return lm_tensor_dtype(t) == LM_FLOAT32 ? (double)lm_tensor_f32(t)[i] : (double)lm_tensor_i32(t)[i];
}

static lm_dtype dtype_of(lms_interp *I, const char *s, const lms_node *at) {
  if (strcmp(s, "float32") == 0 || strcmp(s, "float64") == 0 || strcmp(s, "float16") == 0 ||
      strcmp(s, "float") == 0 || strcmp(s, "f") == 0)
    return LM_FLOAT32;
  if (strcmp(s, "int32") == 0 || strcmp(s, "int64") == 0 || strcmp(s, "int") == 0 ||
      strcmp(s, "uint8") == 0 || strcmp(s, "int8") == 0 || strcmp(s, "int16") == 0 ||
      strcmp(s, "uint16") == 0 || strcmp(s, "l") == 0 || strcmp(s, "bool_") == 0 || strcmp(s, "bool") == 0)
    return LM_INT32;
  lms_fail(I, at, "unsupported dtype '%s' (lamina arrays are float32 or int32)", s);
}

static lm_tensor *new_tensor(lms_interp *I, lm_dtype dt, int nd, const int64_t *shape, const lms_node *at) {
  int64_t n = 1;
  for (int i = 0; i < nd; i++) {
    if (shape[i] < 0) lms_fail(I, at, "negative dimensions are not allowed");
    int64_t cap = I->opts.sandbox ? SANDBOX_ELEMS : MAX_ELEMS;
    if (shape[i] > 0 && n > cap / shape[i]) lms_fail(I, at, "array is too big");
    n *= shape[i];
  }
  lm_tensor *t = lm_tensor_new(I->ctx, dt, nd, shape);
  if (!t) lms_fail_lib(I, at);
  return t;
}

static lms_value *scalar_of(lms_interp *I, lm_tensor *t, int64_t i) {
  if (lm_tensor_dtype(t) == LM_INT32) return lms_int(I, lm_tensor_i32(t)[i]);
  return lms_float(I, lm_tensor_f32(t)[i]);
}

/* ---- methods --------------------------------------------------------------------- */

static lms_value *a_reshape(lms_interp *I, lms_value *self, lms_args *a) {
  lm_tensor *t = self->u.arr;
  if (a->n_kw) lms_fail(I, a->kw_nodes[0], "reshape(): keyword arguments are not supported");
  int64_t dims[LM_MAX_DIMS];
  int nd = 0;
  lms_value **items = a->pos;
  int n = a->n_pos;
  if (n == 1 && (a->pos[0]->kind == V_TUPLE || a->pos[0]->kind == V_LIST)) {
    items = a->pos[0]->u.seq.items;
    n = a->pos[0]->u.seq.n;
  }
  if (n > LM_MAX_DIMS) lms_fail(I, a->call, "reshape(): at most %d dimensions", LM_MAX_DIMS);
  int unknown = -1;
  int64_t known = 1;
  for (int i = 0; i < n; i++) {
    if (items[i]->kind != V_INT) lms_fail(I, a->call, "reshape(): dimensions must be ints, not %s", lms_type_name(items[i]));
    int64_t d = items[i]->u.i;
    if (d == -1) {
      if (unknown >= 0) lms_fail(I, a->call, "can only specify one unknown dimension");
      unknown = i;
    } else if (d < 0) {
      lms_fail(I, a->call, "negative dimensions not allowed");
    } else {
      if (d > 0 && known > MAX_ELEMS / d) lms_fail(I, a->call, "reshape(): shape too big");
      known *= d;
    }
    dims[nd++] = d;
  }
  int64_t size = lm_tensor_size(t);
  if (unknown >= 0) {
    if (known == 0 || size % known != 0) goto bad;
    dims[unknown] = size / known;
  } else if (known != size) {
    goto bad;
  }
  lm_tensor *r = new_tensor(I, lm_tensor_dtype(t), nd, dims, a->call);
  memcpy((void *)lm_tensor_data(r), lm_tensor_data(t), (size_t)size * 4);
  return lms_array(I, r, a->call);
bad:;
  char s1[256];
  size_t k = 0;
  s1[k++] = '(';
  for (int i = 0; i < nd; i++)
    k += (size_t)snprintf(s1 + k, sizeof s1 - k, i ? ", %lld" : "%lld", (long long)items[i]->u.i);
  snprintf(s1 + k, sizeof s1 - k, nd == 1 ? ",)" : ")");
  lms_fail(I, a->call, "cannot reshape array of size %lld into shape %s", (long long)size, s1);
}

static lms_value *a_astype(lms_interp *I, lms_value *self, lms_args *a) {
  lm_tensor *t = self->u.arr;
  lm_dtype dt = dtype_of(I, lms_arg_str(a, 0, "float32"), lms_arg_node(a, 0));
  lm_tensor *r = new_tensor(I, dt, lm_tensor_ndim(t), lm_tensor_shape(t), a->call);
  int64_t n = lm_tensor_size(t);
  if (dt == lm_tensor_dtype(t)) {
    memcpy((void *)lm_tensor_data(r), lm_tensor_data(t), (size_t)n * 4);
  } else if (dt == LM_FLOAT32) {
    for (int64_t i = 0; i < n; i++) lm_tensor_f32(r)[i] = (float)lm_tensor_i32(t)[i];
  } else {
    for (int64_t i = 0; i < n; i++) {
      float x = lm_tensor_f32(t)[i];
      lm_tensor_i32(r)[i] = isfinite(x) && fabsf(x) < 2147483648.0f ? (int32_t)x : INT32_MIN;
    }
  }
  return lms_array(I, r, a->call);
}

static lms_value *a_copy(lms_interp *I, lms_value *self, lms_args *a) {
  return lms_array(I, lm_tensor_copy(self->u.arr), a->call);
}

static lms_value *a_flatten(lms_interp *I, lms_value *self, lms_args *a) {
  int64_t n = lm_tensor_size(self->u.arr);
  lm_tensor *r = new_tensor(I, lm_tensor_dtype(self->u.arr), 1, &n, a->call);
  memcpy((void *)lm_tensor_data(r), lm_tensor_data(self->u.arr), (size_t)n * 4);
  return lms_array(I, r, a->call);
}

static lms_value *reduce(lms_interp *I, lm_tensor *t, const char *what, const lms_node *at) {
  int64_t n = lm_tensor_size(t);
  if (n == 0 && strcmp(what, "sum") != 0)
    lms_fail(I, at, "zero-size array to reduction operation %s", what);
  double acc = strcmp(what, "sum") == 0 || strcmp(what, "mean") == 0 ? 0 : get(t, 0);
  for (int64_t i = 0; i < n; i++) {
    double x = get(t, i);
    if (what[0] == 's' || what[1] == 'e') acc += x;
    else if (strcmp(what, "max") == 0) acc = x > acc || isnan(x) ? x : acc;
    else acc = x < acc || isnan(x) ? x : acc;
  }
  if (strcmp(what, "mean") == 0) return lms_float(I, acc / (double)n);
  if (lm_tensor_dtype(t) == LM_INT32) return lms_int(I, (int64_t)acc);
  return lms_float(I, acc);
}

static lms_value *argmax(lms_interp *I, lm_tensor *t, lms_value *axis, const lms_node *at) {
  int nd = lm_tensor_ndim(t);
  int64_t n = lm_tensor_size(t);
  if (!axis) {
    if (n == 0) lms_fail(I, at, "attempt to get argmax of an empty sequence");
    int64_t best = 0;
    for (int64_t i = 1; i < n; i++)
      if (get(t, i) > get(t, best)) best = i;
    return lms_int(I, best);
  }
  int64_t ax = axis->u.i < 0 ? axis->u.i + nd : axis->u.i;
  if (ax != nd - 1 || nd < 1) lms_fail(I, at, "argmax: only axis=-1 (the last axis) is supported");
  int64_t k = lm_tensor_dim(t, nd - 1), rows = k ? n / k : 0;
  if (k == 0) lms_fail(I, at, "attempt to get argmax of an empty sequence");
  lm_tensor *r = new_tensor(I, LM_INT32, nd - 1, lm_tensor_shape(t), at);
  for (int64_t i = 0; i < rows; i++) {
    int64_t best = 0;
    for (int64_t j = 1; j < k; j++)
      if (get(t, i * k + j) > get(t, i * k + best)) best = j;
    lm_tensor_i32(r)[i] = (int32_t)best;
  }
  return lms_array(I, r, at);
}

static lms_value *a_reduce(lms_interp *I, lms_value *self, lms_args *a) {
  return reduce(I, self->u.arr, a->callee->name, a->call);
}
static lms_value *a_argmax(lms_interp *I, lms_value *self, lms_args *a) {
  return argmax(I, self->u.arr, lms_arg(a, 0), a->call);
}

static const lms_builtin array_methods[] = {
    {"reshape", a_reshape, NULL, NULL},
    {"astype", a_astype, "dtype:s", NULL},
    {"copy", a_copy, "", NULL},
    {"flatten", a_flatten, "", NULL},
    {"sum", a_reduce, "", NULL},
    {"mean", a_reduce, "", NULL},
    {"max", a_reduce, "", NULL},
    {"min", a_reduce, "", NULL},
    {"argmax", a_argmax, "axis:i?=", NULL},
};

lms_value *lms_array_attr(lms_interp *I, lms_value *arr, const char *name, const lms_node *at) {
  lm_tensor *t = arr->u.arr;
  if (strcmp(name, "shape") == 0) {
    int nd = lm_tensor_ndim(t);
    lms_value *v = lms_seq(I, V_TUPLE, nd);
    for (int i = 0; i < nd; i++) v->u.seq.items[i] = lms_int(I, lm_tensor_dim(t, i));
    return v;
  }
  if (strcmp(name, "ndim") == 0) return lms_int(I, lm_tensor_ndim(t));
  if (strcmp(name, "size") == 0) return lms_int(I, lm_tensor_size(t));
  if (strcmp(name, "dtype") == 0) return lms_cstr(I, lm_tensor_dtype(t) == LM_FLOAT32 ? "float32" : "int32");
  for (size_t i = 0; i < sizeof array_methods / sizeof *array_methods; i++)
    if (strcmp(array_methods[i].name, name) == 0) return lms_builtin_value(I, &array_methods[i], arr);
  lms_fail(I, at, "'ndarray' object has no attribute '%s'", name);
}

/* ---- arithmetic ------------------------------------------------------------------- */

static double apply(int op, double x, double y, bool ints, bool *zero_div) {
  switch (op) {
  case OP_ADD: return x + y;
  case OP_SUB: return x - y;
  case OP_MUL: return x * y;
  case OP_DIV: return x / y;
  case OP_FLOORDIV:
    if (ints && y == 0) {
      *zero_div = true;
      return 0;
    }
    return floor(x / y);
  case OP_MOD: {
    if (y == 0) {
      if (ints) *zero_div = true;
      return ints ? 0 : NAN;
    }
    double m = fmod(x, y);
    if (m != 0 && ((m < 0) != (y < 0))) m += y;
    return m;
  }
  case OP_POW: return pow(x, y);
  default: return 0;
  }
}

lms_value *lms_array_binop(lms_interp *I, int op, lms_value *a, lms_value *b, const lms_node *at) {
  if (op == OP_MATMUL) lms_fail(I, at, "matrix multiplication ('@') of arrays is not supported");
  lm_tensor *ta = a->kind == V_ARRAY ? a->u.arr : NULL, *tb = b->kind == V_ARRAY ? b->u.arr : NULL;
  if ((!ta && !lms_is_number(a)) || (!tb && !lms_is_number(b)))
    lms_fail(I, at, "unsupported operand types for array arithmetic: '%s' and '%s'", lms_type_name(a),
             lms_type_name(b));
  if (ta && tb) {
    bool same = lm_tensor_ndim(ta) == lm_tensor_ndim(tb);
    for (int i = 0; same && i < lm_tensor_ndim(ta); i++) same = lm_tensor_dim(ta, i) == lm_tensor_dim(tb, i);
    if (!same) {
      char s1[160], s2[160];
      lm_shape_str(lm_tensor_ndim(ta), lm_tensor_shape(ta), s1, sizeof s1);
      lm_shape_str(lm_tensor_ndim(tb), lm_tensor_shape(tb), s2, sizeof s2);
      lms_fail(I, at, "operands could not be broadcast together with shapes %s %s (lamina arrays combine with a scalar or an array of the same shape)", s1, s2);
    }
  }
  lm_tensor *shape_src = ta ? ta : tb;
  bool a_int = ta ? lm_tensor_dtype(ta) == LM_INT32 : a->kind != V_FLOAT;
  bool b_int = tb ? lm_tensor_dtype(tb) == LM_INT32 : b->kind != V_FLOAT;
  bool ints = a_int && b_int && op != OP_DIV;
  if (ints && op == OP_POW) {
    /* numpy: integers to negative integer powers are an error */
    if (!tb && lms_num(b) < 0) lms_fail(I, at, "Integers to negative integer powers are not allowed.");
  }
  lm_tensor *r = new_tensor(I, ints ? LM_INT32 : LM_FLOAT32, lm_tensor_ndim(shape_src),
                            lm_tensor_shape(shape_src), at);
  int64_t n = lm_tensor_size(r);
  double sa = ta ? 0 : lms_num(a), sb = tb ? 0 : lms_num(b);
  bool zero_div = false;
  if (!ints) {
    float *o = lm_tensor_f32(r);
    /* the common case x / 255.0 in float32, as numpy computes it */
    if (ta && !tb && lm_tensor_dtype(ta) == LM_FLOAT32 && op <= OP_DIV && op != OP_MOD) {
      const float *x = lm_tensor_f32(ta);
      float y = (float)sb;
      for (int64_t i = 0; i < n; i++)
        o[i] = op == OP_ADD ? x[i] + y : op == OP_SUB ? x[i] - y : op == OP_MUL ? x[i] * y : x[i] / y;
    } else {
      for (int64_t i = 0; i < n; i++)
        o[i] = (float)apply(op, ta ? get(ta, i) : sa, tb ? get(tb, i) : sb, false, &zero_div);
    }
  } else {
    int32_t *o = lm_tensor_i32(r);
    for (int64_t i = 0; i < n; i++) {
      double v = apply(op, ta ? get(ta, i) : sa, tb ? get(tb, i) : sb, true, &zero_div);
      o[i] = isfinite(v) && fabs(v) < 2147483648.0 ? (int32_t)v : (int32_t)(int64_t)fmod(v, 4294967296.0);
    }
  }
  (void)zero_div; /* numpy warns and yields 0 */
  return lms_array(I, r, at);
}

lms_value *lms_array_neg(lms_interp *I, lms_value *a, const lms_node *at) {
  lms_value *zero = lms_int(I, 0);
  return lms_array_binop(I, OP_SUB, zero, a, at);
}

/* ---- indexing ---------------------------------------------------------------------- */

lms_value *lms_array_index(lms_interp *I, lms_value *arr, lms_value *idx, const lms_node *at) {
  lm_tensor *t = arr->u.arr;
  int nd = lm_tensor_ndim(t);
  if (nd == 0) lms_fail(I, at, "too many indices for array: array is 0-dimensional");
  int64_t rows = lm_tensor_dim(t, 0), row = rows ? lm_tensor_size(t) / rows : 0;
  if (idx == I->slice_marker) {
    /* a slice (start, stop, step) made by the evaluator */
    int64_t step = 1, lo, hi;
    lms_value *st = idx->u.seq.items[2];
    if (st->kind != V_NONE) {
      if (st->kind != V_INT) lms_fail(I, at, "slice indices must be integers or None");
      step = st->u.i;
      if (step == 0) lms_fail(I, at, "slice step cannot be zero");
    }
    int64_t v[2] = {step > 0 ? 0 : rows - 1, step > 0 ? rows : -1};
    for (int k = 0; k < 2; k++) {
      lms_value *b = idx->u.seq.items[k];
      if (b->kind == V_NONE) continue;
      if (b->kind != V_INT) lms_fail(I, at, "slice indices must be integers or None");
      int64_t x = b->u.i;
      if (x < 0) x += rows;
      if (step > 0) x = x < 0 ? 0 : x > rows ? rows : x;
      else x = x < -1 ? -1 : x > rows - 1 ? rows - 1 : x;
      v[k] = x;
    }
    lo = v[0];
    hi = v[1];
    int64_t count = 0;
    for (int64_t i = lo; step > 0 ? i < hi : i > hi; i += step) count++;
    int64_t shape[LM_MAX_DIMS];
    memcpy(shape, lm_tensor_shape(t), (size_t)nd * sizeof *shape);
    shape[0] = count;
    lm_tensor *r = new_tensor(I, lm_tensor_dtype(t), nd, shape, at);
    char *dst = (char *)lm_tensor_data(r);
    const char *src = lm_tensor_data(t);
    int64_t k = 0;
    for (int64_t i = lo; step > 0 ? i < hi : i > hi; i += step, k++)
      memcpy(dst + (size_t)(k * row) * 4, src + (size_t)(i * row) * 4, (size_t)row * 4);
    return lms_array(I, r, at);
  }
  if (idx->kind != V_INT && idx->kind != V_BOOL)
    lms_fail(I, at, "array indices must be integers or slices (first axis only), not %s", lms_type_name(idx));
  int64_t i = idx->kind == V_INT ? idx->u.i : idx->u.b;
  if (i < 0) i += rows;
  if (i < 0 || i >= rows)
    lms_fail(I, at, "index %lld is out of bounds for axis 0 with size %lld",
             (long long)(idx->kind == V_INT ? idx->u.i : idx->u.b), (long long)rows);
  if (nd == 1) return scalar_of(I, t, i);
  lm_tensor *r = new_tensor(I, lm_tensor_dtype(t), nd - 1, lm_tensor_shape(t) + 1, at);
  memcpy((void *)lm_tensor_data(r), (const char *)lm_tensor_data(t) + (size_t)(i * row) * 4, (size_t)row * 4);
  return lms_array(I, r, at);
}

/* ---- nested lists -> arrays ------------------------------------------------------------ */

static void list_shape(lms_interp *I, lms_value *v, int depth, int64_t *dims, int *nd, bool *has_float,
                       const lms_node *at) {
  if (v->kind == V_LIST || v->kind == V_TUPLE) {
    if (depth >= LM_MAX_DIMS) lms_fail(I, at, "np.array: too many dimensions");
    if (depth == *nd) {
      dims[depth] = v->u.seq.n;
      *nd = depth + 1;
    } else if (depth > *nd || dims[depth] != v->u.seq.n) {
      lms_fail(I, at, "np.array: nested lists must be rectangular");
    }
    for (int i = 0; i < v->u.seq.n; i++) list_shape(I, v->u.seq.items[i], depth + 1, dims, nd, has_float, at);
    return;
  }
  if (v->kind == V_ARRAY) lms_fail(I, at, "np.array: lists of arrays are not supported");
  if (!lms_is_number(v)) lms_fail(I, at, "np.array: expected numbers, got %s", lms_type_name(v));
  if (depth != *nd) lms_fail(I, at, "np.array: nested lists must be rectangular");
  if (v->kind == V_FLOAT) *has_float = true;
}

static void list_fill(lms_value *v, lm_tensor *t, int64_t *k) {
  if (v->kind == V_LIST || v->kind == V_TUPLE) {
    for (int i = 0; i < v->u.seq.n; i++) list_fill(v->u.seq.items[i], t, k);
    return;
  }
  if (lm_tensor_dtype(t) == LM_FLOAT32) lm_tensor_f32(t)[(*k)++] = (float)lms_num(v);
  else lm_tensor_i32(t)[(*k)++] = (int32_t)lms_num(v);
}

lm_tensor *lms_to_tensor(lms_interp *I, lms_value *v, const lms_node *at, int want_dtype) {
  if (v->kind == V_ARRAY) return v->u.arr;
  int64_t dims[LM_MAX_DIMS];
  int nd = 0;
  bool has_float = false;
  /* mark the leaf depth on the first pass: numbers must all sit at the same depth */
  lms_value *probe = v;
  while (probe->kind == V_LIST || probe->kind == V_TUPLE) {
    if (nd >= LM_MAX_DIMS) lms_fail(I, at, "np.array: too many dimensions");
    dims[nd++] = probe->u.seq.n;
    if (probe->u.seq.n == 0) break;
    probe = probe->u.seq.items[0];
  }
  int nd2 = 0;
  int64_t dims2[LM_MAX_DIMS];
  if (nd > 0 && dims[nd - 1] == 0) {
    nd2 = nd;
    memcpy(dims2, dims, sizeof dims);
  } else {
    list_shape(I, v, 0, dims2, &nd2, &has_float, at);
    /* numbers at another depth than the first one's ([1, [2]]) */
    if (nd2 != nd) lms_fail(I, at, "np.array: nested lists must be rectangular");
  }
  lm_dtype dt = want_dtype >= 0 ? (lm_dtype)want_dtype : has_float ? LM_FLOAT32 : LM_INT32;
  lm_tensor *t = new_tensor(I, dt, nd2, dims2, at);
  int64_t k = 0;
  list_fill(v, t, &k);
  return t;
}

/* ---- numpy functions -------------------------------------------------------------------- */

static int size_arg(lms_interp *I, lms_args *a, int slot, int64_t *dims) {
  lms_value *v = lms_arg(a, slot);
  if (!v) return -1;
  return lms_shape_of(I, v, lms_arg_node(a, slot), dims, false);
}

/* np.random.rand(2, 3) style: dims as positional ints */
static int dims_args(lms_interp *I, lms_args *a, int64_t *dims) {
  if (a->n_kw) lms_fail(I, a->kw_nodes[0], "%s() takes no keyword arguments", a->callee->name);
  if (a->n_pos > LM_MAX_DIMS) lms_fail(I, a->call, "too many dimensions");
  for (int i = 0; i < a->n_pos; i++) {
    if (a->pos[i]->kind != V_INT || a->pos[i]->u.i < 0)
      lms_fail(I, a->pos_nodes[i], "%s(): dimensions must be non-negative ints", a->callee->name);
    dims[i] = a->pos[i]->u.i;
  }
  return a->n_pos;
}

static uint64_t *rng(lms_interp *I) { return I->ctx->rng; }

static lms_value *random_fill(lms_interp *I, lms_args *a, int nd, const int64_t *dims, char kind,
                              double p1, double p2) {
  if (nd < 0) {
    double x = kind == 'n' ? p1 + p2 * lm_rng_normal(rng(I)) : p1 + (p2 - p1) * lm_rng_uniform(rng(I));
    return lms_float(I, x);
  }
  lm_tensor *t = new_tensor(I, LM_FLOAT32, nd, dims, a->call);
  float *o = lm_tensor_f32(t);
  for (int64_t i = 0; i < lm_tensor_size(t); i++)
    o[i] = (float)(kind == 'n' ? p1 + p2 * lm_rng_normal(rng(I)) : p1 + (p2 - p1) * lm_rng_uniform(rng(I)));
  return lms_array(I, t, a->call);
}

static lms_value *np_randint(lms_interp *I, lms_args *a) {
  int64_t lo = lms_arg_int(a, 0, 0), hi;
  if (lms_arg(a, 1)) {
    hi = lms_arg_int(a, 1, 0);
  } else {
    hi = lo;
    lo = 0;
  }
  if (hi <= lo) lms_fail(I, a->call, "low >= high");
  if (lo < INT32_MIN || hi - 1 > INT32_MAX) lms_fail(I, a->call, "randint: bounds outside int32");
  uint64_t span = (uint64_t)(hi - lo);
  int64_t dims[LM_MAX_DIMS];
  int nd = size_arg(I, a, 2, dims);
  if (nd < 0) return lms_int(I, lo + (int64_t)(lm_rng_next(rng(I)) % span));
  lm_tensor *t = new_tensor(I, LM_INT32, nd, dims, a->call);
  for (int64_t i = 0; i < lm_tensor_size(t); i++)
    lm_tensor_i32(t)[i] = (int32_t)(lo + (int64_t)(lm_rng_next(rng(I)) % span));
  return lms_array(I, t, a->call);
}

static lms_value *np_shuffle(lms_interp *I, lms_args *a) {
  lms_value *v = a->slot[0];
  if (v->kind == V_LIST) {
    for (int i = v->u.seq.n - 1; i > 0; i--) {
      int j = (int)(lm_rng_next(rng(I)) % (uint64_t)(i + 1));
      lms_value *tmp = v->u.seq.items[i];
      v->u.seq.items[i] = v->u.seq.items[j];
      v->u.seq.items[j] = tmp;
    }
    return lms_none(I);
  }
  if (v->kind != V_ARRAY || lm_tensor_ndim(v->u.arr) == 0)
    lms_fail(I, a->slot_node[0], "np.random.shuffle expects an array or a list");
  lm_tensor *t = v->u.arr;
  int64_t rows = lm_tensor_dim(t, 0), row = rows ? lm_tensor_size(t) / rows : 0;
  char *d = (char *)lm_tensor_data(t);
  char *tmp = lms_alloc(I, (size_t)row * 4);
  for (int64_t i = rows - 1; i > 0; i--) {
    int64_t j = (int64_t)(lm_rng_next(rng(I)) % (uint64_t)(i + 1));
    memcpy(tmp, d + (size_t)(i * row) * 4, (size_t)row * 4);
    memcpy(d + (size_t)(i * row) * 4, d + (size_t)(j * row) * 4, (size_t)row * 4);
    memcpy(d + (size_t)(j * row) * 4, tmp, (size_t)row * 4);
  }
  return lms_none(I);
}

static lms_value *np_fill(lms_interp *I, lms_args *a, double value) {
  int64_t dims[LM_MAX_DIMS];
  int nd = size_arg(I, a, 0, dims);
  int ds = lms_slot(a, "dtype");
  lm_dtype dt = dtype_of(I, lms_arg_str(a, ds, "float32"), lms_arg_node(a, ds));
  lm_tensor *t = new_tensor(I, dt, nd, dims, a->call);
  for (int64_t i = 0; i < lm_tensor_size(t); i++) {
    if (dt == LM_FLOAT32) lm_tensor_f32(t)[i] = (float)value;
    else lm_tensor_i32(t)[i] = (int32_t)value;
  }
  return lms_array(I, t, a->call);
}

static lms_value *np_arange(lms_interp *I, lms_args *a) {
  double start = 0, stop, step = lms_arg_float(a, 2, 1);
  bool is_float = false;
  for (int s = 0; s < 3; s++)
    if (lms_arg(a, s) && lms_arg(a, s)->kind == V_FLOAT) is_float = true;
  if (lms_arg(a, 1)) {
    start = lms_arg_float(a, 0, 0);
    stop = lms_arg_float(a, 1, 0);
  } else {
    stop = lms_arg_float(a, 0, 0);
  }
  if (step == 0) lms_fail(I, a->call, "np.arange: step must not be zero");
  double count = ceil((stop - start) / step);
  if (!(count >= 0)) count = 0;
  if (count > 1e9) lms_fail(I, a->call, "np.arange: too many values");
  lm_dtype dt = lms_arg(a, 3) ? dtype_of(I, lms_arg_str(a, 3, ""), lms_arg_node(a, 3))
                              : is_float ? LM_FLOAT32 : LM_INT32;
  int64_t n = (int64_t)count;
  lm_tensor *t = new_tensor(I, dt, 1, &n, a->call);
  for (int64_t i = 0; i < n; i++) {
    double x = start + (double)i * step;
    if (dt == LM_FLOAT32) lm_tensor_f32(t)[i] = (float)x;
    else lm_tensor_i32(t)[i] = (int32_t)x;
  }
  return lms_array(I, t, a->call);
}

static bool ends_with(const char *s, const char *suf) {
  size_t n = strlen(s), m = strlen(suf);
  return n >= m && strcmp(s + n - m, suf) == 0;
}

static lms_value *np_load(lms_interp *I, lms_args *a) {
  const char *path = lms_arg_str(a, 0, "");
  if (ends_with(path, ".npz")) {
    int n = 0;
    char **names = NULL;
    lm_tensor **arrays = NULL;
    if (lm_npz_load(I->ctx, path, &n, &names, &arrays) != LM_OK) lms_fail_lib(I, a->call);
    lms_value *d = lms_dict(I);
    for (int i = 0; i < n; i++) {
      lms_dict_set(I, d, lms_cstr(I, names[i]), lms_array(I, arrays[i], a->call));
      arrays[i] = NULL; /* the script owns the tensors now (they stay on the context) */
    }
    lm_npz_free(I->ctx, n, names, arrays);
    return d;
  }
  return lms_array(I, lm_tensor_load_npy(I->ctx, path), a->call);
}

static lms_value *np_save(lms_interp *I, lms_args *a) {
  const char *path = lms_arg_str(a, 0, "");
  lm_tensor *t = lms_to_tensor(I, a->slot[1], a->slot_node[1], -1);
  char *full = NULL;
  if (!ends_with(path, ".npy")) {
    size_t n = strlen(path);
    full = lms_alloc(I, n + 5);
    memcpy(full, path, n);
    memcpy(full + n, ".npy", 5);
    path = full;
  }
  if (lm_tensor_save_npy(t, path) != LM_OK) lms_fail_lib(I, a->call);
  return lms_none(I);
}

static lms_value *np_loadtxt(lms_interp *I, lms_args *a) {
  const char *delim = lms_arg_str(a, 3, NULL);
  if (delim && strlen(delim) != 1) lms_fail(I, lms_arg_node(a, 3), "np.loadtxt: the delimiter must be one character");
  const char *comments = lms_arg_str(a, 2, "#");
  (void)comments;
  int64_t skip = lms_arg_int(a, 4, 0);
  if (skip < 0 || skip > INT32_MAX) lms_fail(I, lms_arg_node(a, 4), "np.loadtxt: skiprows must be non-negative");
  lm_tensor *t = lmd_load_csv(I->ctx, lms_arg_str(a, 0, ""), delim ? delim[0] : ' ', (int)skip);
  if (!t) lms_fail_lib(I, a->call);
  lm_dtype dt = dtype_of(I, lms_arg_str(a, 1, "float32"), lms_arg_node(a, 1));
  if (dt == LM_INT32) {
    lm_tensor *r = new_tensor(I, LM_INT32, lm_tensor_ndim(t), lm_tensor_shape(t), a->call);
    for (int64_t i = 0; i < lm_tensor_size(t); i++) lm_tensor_i32(r)[i] = (int32_t)lm_tensor_f32(t)[i];
    lm_tensor_free(t);
    t = r;
  }
  return lms_array(I, t, a->call);
}

lms_value *lms_np_fn(lms_interp *I, lms_value *self, lms_args *a) {
  (void)self;
  const char *k = a->callee->data;
  int64_t dims[LM_MAX_DIMS];
  if (strcmp(k, "seed") == 0) {
    int64_t seed = lms_arg_int(a, 0, 0);
    if (seed < 0 || seed > 4294967295LL) /* numpy's RandomState range */
      lms_fail(I, lms_arg_node(a, 0), "Seed must be between 0 and 2**32 - 1");
    lm_ctx_set_seed(I->ctx, (uint64_t)seed);
    return lms_none(I);
  }
  if (strcmp(k, "random") == 0) {
    int nd = size_arg(I, a, 0, dims);
    return random_fill(I, a, nd, dims, 'u', 0, 1);
  }
  if (strcmp(k, "rand") == 0 || strcmp(k, "randn") == 0) {
    int nd = dims_args(I, a, dims);
    return random_fill(I, a, nd == 0 ? -1 : nd, dims, k[4] == 'n' ? 'n' : 'u', 0, 1);
  }
  if (strcmp(k, "uniform") == 0) {
    int nd = size_arg(I, a, 2, dims);
    return random_fill(I, a, nd, dims, 'u', lms_arg_float(a, 0, 0), lms_arg_float(a, 1, 1));
  }
  if (strcmp(k, "normal") == 0) {
    int nd = size_arg(I, a, 2, dims);
    return random_fill(I, a, nd, dims, 'n', lms_arg_float(a, 0, 0), lms_arg_float(a, 1, 1));
  }
  if (strcmp(k, "randint") == 0) return np_randint(I, a);
  if (strcmp(k, "shuffle") == 0) return np_shuffle(I, a);
  if (strcmp(k, "zeros") == 0) return np_fill(I, a, 0);
  if (strcmp(k, "ones") == 0) return np_fill(I, a, 1);
  if (strcmp(k, "full") == 0) return np_fill(I, a, lms_arg_float(a, 1, 0));
  if (strcmp(k, "arange") == 0) return np_arange(I, a);
  if (strcmp(k, "array") == 0) {
    int want = lms_arg(a, 1) ? (int)dtype_of(I, lms_arg_str(a, 1, ""), lms_arg_node(a, 1)) : -1;
    lms_value *v = a->slot[0];
    if (v->kind == V_ARRAY) {
      lm_tensor *t = v->u.arr;
      if (want >= 0 && (lm_dtype)want != lm_tensor_dtype(t)) {
        lms_args aa = *a;
        aa.n_slots = 1;
        aa.slot[0] = lms_cstr(I, want == LM_FLOAT32 ? "float32" : "int32");
        return a_astype(I, v, &aa);
      }
      return lms_array(I, lm_tensor_copy(t), a->call);
    }
    if (lms_is_number(v)) lms_fail(I, a->slot_node[0], "np.array of a scalar is not supported; use the number");
    return lms_array(I, lms_to_tensor(I, v, a->slot_node[0], want), a->call);
  }
  if (strcmp(k, "load") == 0) return np_load(I, a);
  if (strcmp(k, "save") == 0) return np_save(I, a);
  if (strcmp(k, "loadtxt") == 0) return np_loadtxt(I, a);
  lm_tensor *t = lms_to_tensor(I, a->slot[0], a->slot_node[0], -1);
  if (strcmp(k, "argmax") == 0) return argmax(I, t, lms_arg(a, 1), a->call);
  return reduce(I, t, k, a->call);
}

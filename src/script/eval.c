/* The evaluator: statements, expressions, names, operators, calls. */
#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "script/interp.h"

#define MAX_DEPTH 64

/* Text buffers live in the arena and are registered, so that an error that
 * unwinds past their function still frees their data (lms_run_source). */
static lm_buf *buf_open(lms_interp *I) {
  if (I->n_bufs == (int)(sizeof I->bufs / sizeof *I->bufs)) lms_fail_rt(I, NULL, "text buffers nested too deeply");
  lm_buf *b = lms_alloc(I, sizeof *b);
  lm_buf_init(b, I->ctx);
  I->bufs[I->n_bufs++] = b;
  return b;
}

static void buf_close(lms_interp *I, lm_buf *b) {
  lm_buf_free(b);
  for (int i = I->n_bufs - 1; i >= 0; i--)
    if (I->bufs[i] == b) {
      I->bufs[i] = I->bufs[--I->n_bufs];
      break;
    }
}

_Noreturn void lms_fail_rt(lms_interp *I, const lms_node *at, const char *fmt, ...);

/* The text of b as a string value; b is closed. A buffer that ran out of
 * memory is an error, never a shorter string. */
static lms_value *buf_value(lms_interp *I, lm_buf *b, const lms_node *at) {
  if (b->oom) {
    buf_close(I, b);
    lms_fail_rt(I, at, "out of memory");
  }
  lms_value *r = lms_str(I, b->data ? b->data : "", b->len);
  buf_close(I, b);
  return r;
}

lm_buf *lms_buf_open(lms_interp *I) { return buf_open(I); }
void lms_buf_close(lms_interp *I, lm_buf *b) { buf_close(I, b); }
lms_value *lms_buf_value(lms_interp *I, lm_buf *b, const lms_node *at) { return buf_value(I, b, at); }

/* ---- errors ------------------------------------------------------------------ */

static _Noreturn void vfail(lms_interp *I, int status, const lms_node *at, const char *fmt,
                            va_list ap) {
  vsnprintf(I->msg, sizeof I->msg, fmt, ap);
  if (!at) at = I->cur;
  I->err_line = at ? at->line : 0;
  I->err_col = at ? at->col : 0;
  I->status = status;
  longjmp(I->jmp, 1);
}

_Noreturn void lms_fail(lms_interp *I, const lms_node *at, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vfail(I, LMS_SCRIPT_ERROR, at, fmt, ap);
}

_Noreturn void lms_fail_rt(lms_interp *I, const lms_node *at, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vfail(I, LMS_RUNTIME, at, fmt, ap);
}

_Noreturn void lms_fail_lib(lms_interp *I, const lms_node *at) {
  lm_status st = lm_errcode(I->ctx);
  const char *m = lm_errmsg(I->ctx);
  if (!m || !*m) m = "operation failed";
  /* usage errors (bad argument, shapes, state) are script errors; the rest are
   * runtime failures (files, memory, data) */
  if (st == LM_ERR_IO || st == LM_ERR_NOMEM || st == LM_ERR_FORMAT || st == LM_ERR_VALUE)
    lms_fail_rt(I, at, "%s", m);
  lms_fail(I, at, "%s", m);
}

/* ---- variables ------------------------------------------------------------- */

static lms_value *lookup(lms_interp *I, const char *name) {
  for (int i = I->n_locals - 1; i >= 0; i--)
    if (strcmp(I->locals[i].name, name) == 0) return I->locals[i].v;
  for (int i = 0; i < I->n_vars; i++)
    if (strcmp(I->vars[i].name, name) == 0) return I->vars[i].v;
  return NULL;
}

static void set_var(lms_interp *I, const char *name, lms_value *v) {
  for (int i = 0; i < I->n_vars; i++)
    if (strcmp(I->vars[i].name, name) == 0) {
      I->vars[i].v = v;
      return;
    }
  if (I->n_vars == I->cap_vars) {
    int cap = I->cap_vars ? I->cap_vars * 2 : 32;
    lms_var *nv = lms_alloc(I, (size_t)cap * sizeof *nv);
    if (I->n_vars) memcpy(nv, I->vars, (size_t)I->n_vars * sizeof *nv);
    I->vars = nv;
    I->cap_vars = cap;
  }
  I->vars[I->n_vars].name = name;
  I->vars[I->n_vars++].v = v;
}

/* ---- builtins ---------------------------------------------------------------- */

static void out(lms_interp *I, const char *text) {
  if (I->opts.mode == LMS_MODE_SUMMARY) return; /* summary prints models only */
  if (I->opts.out) {
    I->opts.out(I->opts.out_ud, text);
  } else {
    fputs(text, stdout);
  }
}

static const char *to_cstr(lms_interp *I, const lms_value *v, bool repr) {
  lm_buf *b = buf_open(I);
  lms_to_str(I, b, v, repr);
  if (b->oom) {
    buf_close(I, b);
    lms_fail_rt(I, NULL, "out of memory");
  }
  char *s = lms_strndup(I, b->data ? b->data : "", b->len);
  buf_close(I, b);
  return s;
}

static lms_value *bi_print(lms_interp *I, lms_value *self, lms_args *a) {
  const char *sep = " ", *end = "\n";
  for (int k = 0; k < a->n_kw; k++) {
    lms_value *v = a->kw[k];
    bool is_sep = strcmp(a->kw_names[k], "sep") == 0, is_end = strcmp(a->kw_names[k], "end") == 0;
    if (!is_sep && !is_end && strcmp(a->kw_names[k], "flush") != 0)
      lms_fail(I, a->kw_nodes[k], "print() got an unexpected keyword argument '%s'", a->kw_names[k]);
    if ((is_sep || is_end) && v->kind != V_STR && v->kind != V_NONE)
      lms_fail(I, a->kw_nodes[k], "print() argument '%s' must be a string, not %s", a->kw_names[k],
               lms_type_name(v));
    if (is_sep && v->kind == V_STR) sep = v->u.str.s;
    if (is_end && v->kind == V_STR) end = v->u.str.s;
  }
  lm_buf *b = buf_open(I);
  for (int i = 0; i < a->n_pos; i++) {
    if (i) lm_buf_puts(b, sep);
    lms_to_str(I, b, a->pos[i], false);
  }
  lm_buf_puts(b, end);
  if (b->oom) {
    buf_close(I, b);
    lms_fail_rt(I, a->call, "out of memory");
  }
  char *s = lms_strndup(I, b->data, b->len);
  buf_close(I, b);
  out(I, s);
  (void)self;
  return lms_none(I);
}

static lms_value *bi_len(lms_interp *I, lms_value *self, lms_args *a) {
  lms_bind(I, a, "len", "obj");
  lms_value *v = a->slot[0];
  switch (v->kind) {
  case V_STR: return lms_int(I, (int64_t)v->u.str.len);
  case V_TUPLE:
  case V_LIST: return lms_int(I, v->u.seq.n);
  case V_DICT: return lms_int(I, v->u.dict.n);
  case V_ARRAY:
    if (lm_tensor_ndim(v->u.arr) == 0) lms_fail(I, a->call, "len() of unsized object");
    return lms_int(I, lm_tensor_dim(v->u.arr, 0));
  case V_MODEL: return lms_int(I, lm_model_n_layers(v->u.model.m));
  default: lms_fail(I, a->slot_node[0], "object of type '%s' has no len()", lms_type_name(v));
  }
  (void)self;
}

static lms_value *bi_range(lms_interp *I, lms_value *self, lms_args *a) {
  lms_bind(I, a, "range", "start:i, stop:i=, step:i=");
  int64_t start = 0, stop, step = 1;
  if (a->slot[1]) {
    start = lms_arg_int(a, 0, 0);
    stop = lms_arg_int(a, 1, 0);
    step = lms_arg_int(a, 2, 1);
  } else {
    stop = lms_arg_int(a, 0, 0);
  }
  if (step == 0) lms_fail(I, a->slot_node[2], "range() arg 3 must not be zero");
  double count = ceil(((double)stop - (double)start) / (double)step);
  if (count > 10000000) lms_fail(I, a->call, "range() too long for a list (10,000,000 at most)");
  lms_value *l = lms_seq(I, V_LIST, 0);
  for (int64_t i = start; step > 0 ? i < stop : i > stop; i += step) lms_list_append(I, l, lms_int(I, i));
  (void)self;
  return l;
}

static lms_value *bi_int(lms_interp *I, lms_value *self, lms_args *a) {
  lms_bind(I, a, "int", "x:x=");
  lms_value *v = a->slot[0];
  (void)self;
  if (!v) return lms_int(I, 0);
  if (v->kind == V_INT) return v;
  if (v->kind == V_BOOL) return lms_int(I, v->u.b);
  if (v->kind == V_FLOAT) {
    if (!isfinite(v->u.f) || fabs(v->u.f) >= 9.2e18)
      lms_fail(I, a->slot_node[0], "cannot convert float %g to integer", v->u.f);
    return lms_int(I, (int64_t)v->u.f);
  }
  if (v->kind == V_STR) {
    char *end;
    long long x = strtoll(v->u.str.s, &end, 10);
    while (*end == ' ') end++;
    if (end == v->u.str.s || *end)
      lms_fail(I, a->slot_node[0], "invalid literal for int(): %s", to_cstr(I, v, true));
    return lms_int(I, x);
  }
  if (v->kind == V_ARRAY && lm_tensor_size(v->u.arr) == 1)
    return lms_int(I, lm_tensor_dtype(v->u.arr) == LM_INT32 ? lm_tensor_i32(v->u.arr)[0]
                                                            : (int64_t)lm_tensor_f32(v->u.arr)[0]);
  lms_fail(I, a->slot_node[0], "int() argument must be a number or string, not %s", lms_type_name(v));
}

static lms_value *bi_float(lms_interp *I, lms_value *self, lms_args *a) {
  lms_bind(I, a, "float", "x:x=");
  lms_value *v = a->slot[0];
  (void)self;
  if (!v) return lms_float(I, 0);
  if (lms_is_number(v)) return lms_float(I, lms_num(v));
  if (v->kind == V_STR) {
    char *end;
    double x = strtod(v->u.str.s, &end);
    while (*end == ' ') end++;
    if (end == v->u.str.s || *end)
      lms_fail(I, a->slot_node[0], "could not convert string to float: %s", to_cstr(I, v, true));
    return lms_float(I, x);
  }
  if (v->kind == V_ARRAY && lm_tensor_size(v->u.arr) == 1)
    return lms_float(I, lm_tensor_dtype(v->u.arr) == LM_INT32 ? lm_tensor_i32(v->u.arr)[0]
                                                              : lm_tensor_f32(v->u.arr)[0]);
  lms_fail(I, a->slot_node[0], "float() argument must be a number or string, not %s",
           lms_type_name(v));
}

static lms_value *bi_str(lms_interp *I, lms_value *self, lms_args *a) {
  lms_bind(I, a, "str", "x:x=");
  (void)self;
  if (!a->slot[0]) return lms_cstr(I, "");
  return lms_cstr(I, to_cstr(I, a->slot[0], false));
}

static lms_value *bi_repr(lms_interp *I, lms_value *self, lms_args *a) {
  lms_bind(I, a, "repr", "x:x");
  (void)self;
  return lms_cstr(I, to_cstr(I, a->slot[0], true));
}

static lms_value *bi_bool(lms_interp *I, lms_value *self, lms_args *a) {
  lms_bind(I, a, "bool", "x:x=");
  (void)self;
  return lms_bool(I, a->slot[0] ? lms_truthy(a->slot[0]) : false);
}

static lms_value *bi_abs(lms_interp *I, lms_value *self, lms_args *a) {
  lms_bind(I, a, "abs", "x:f");
  lms_value *v = a->slot[0];
  (void)self;
  if (v->kind == V_FLOAT) return lms_float(I, fabs(v->u.f));
  int64_t x = v->kind == V_BOOL ? v->u.b : v->u.i;
  if (x == INT64_MIN) lms_fail(I, a->call, "integer overflow");
  return lms_int(I, x < 0 ? -x : x);
}

static lms_value *iterable_items(lms_interp *I, lms_value *v, const lms_node *at, int *n) {
  if (v->kind == V_TUPLE || v->kind == V_LIST) {
    *n = v->u.seq.n;
    return v;
  }
  if (v->kind == V_DICT) {
    lms_value *l = lms_seq(I, V_LIST, v->u.dict.n);
    for (int i = 0; i < v->u.dict.n; i++) l->u.seq.items[i] = v->u.dict.keys[i];
    *n = v->u.dict.n;
    return l;
  }
  if (v->kind == V_STR) {
    lms_value *l = lms_seq(I, V_LIST, (int)v->u.str.len);
    for (size_t i = 0; i < v->u.str.len; i++) l->u.seq.items[i] = lms_str(I, v->u.str.s + i, 1);
    *n = (int)v->u.str.len;
    return l;
  }
  lms_fail(I, at, "'%s' object is not iterable", lms_type_name(v));
}

static int compare(lms_interp *I, lms_value *a, lms_value *b, const lms_node *at);

static lms_value *minmax(lms_interp *I, lms_args *a, bool want_max) {
  const char *nm = want_max ? "max" : "min";
  if (a->n_kw) lms_fail(I, a->kw_nodes[0], "%s() keyword arguments are not supported", nm);
  if (a->n_pos == 0) lms_fail(I, a->call, "%s expected at least 1 argument, got 0", nm);
  lms_value **items = a->pos;
  int n = a->n_pos;
  if (n == 1) {
    lms_value *seq = iterable_items(I, a->pos[0], a->pos_nodes[0], &n);
    items = seq->u.seq.items;
    if (n == 0) lms_fail(I, a->pos_nodes[0], "%s() arg is an empty sequence", nm);
  }
  lms_value *best = items[0];
  for (int i = 1; i < n; i++) {
    int c = compare(I, items[i], best, a->call);
    if (want_max ? c > 0 : c < 0) best = items[i];
  }
  return best;
}
static lms_value *bi_max(lms_interp *I, lms_value *self, lms_args *a) {
  (void)self;
  return minmax(I, a, true);
}
static lms_value *bi_min(lms_interp *I, lms_value *self, lms_args *a) {
  (void)self;
  return minmax(I, a, false);
}

static lms_value *bi_sum(lms_interp *I, lms_value *self, lms_args *a) {
  lms_bind(I, a, "sum", "iterable:l, start:f=");
  (void)self;
  lms_value *seq = a->slot[0];
  bool is_float = a->slot[1] && a->slot[1]->kind == V_FLOAT;
  double fs = lms_arg_float(a, 1, 0);
  int64_t is = (int64_t)fs;
  for (int i = 0; i < seq->u.seq.n; i++) {
    lms_value *v = seq->u.seq.items[i];
    if (!lms_is_number(v))
      lms_fail(I, a->slot_node[0], "sum() of a sequence holding %s", lms_type_name(v));
    if (v->kind == V_FLOAT) is_float = true;
    fs += lms_num(v);
    if (v->kind != V_FLOAT && __builtin_add_overflow(is, (int64_t)lms_num(v), &is))
      lms_fail(I, a->call, "integer overflow (lamina integers are 64-bit)");
  }
  return is_float ? lms_float(I, fs) : lms_int(I, is);
}

static lms_value *bi_round(lms_interp *I, lms_value *self, lms_args *a) {
  lms_bind(I, a, "round", "number:f, ndigits:i?=");
  (void)self;
  double x = lms_num(a->slot[0]);
  if (!lms_arg(a, 1)) {
    double r = nearbyint(x); /* ties to even, as Python */
    if (!isfinite(r) || fabs(r) >= 9.2e18) lms_fail(I, a->call, "cannot round %g to an integer", x);
    return lms_int(I, (int64_t)r);
  }
  int64_t nd = lms_arg_int(a, 1, 0);
  if (nd > 300 || nd < -300) return lms_float(I, x);
  double m = pow(10.0, (double)nd);
  return lms_float(I, nearbyint(x * m) / m);
}

static lms_value *to_seq(lms_interp *I, lms_args *a, lms_kind k, const char *name) {
  lms_bind(I, a, name, "iterable:x=");
  lms_value *out = lms_seq(I, k, 0);
  if (!a->slot[0]) return out;
  lms_value *v = a->slot[0];
  if (v->kind == V_ARRAY) {
    lm_tensor *t = v->u.arr;
    if (lm_tensor_ndim(t) != 1)
      lms_fail(I, a->slot_node[0], "%s() of an array needs a 1-D array", name);
    for (int64_t i = 0; i < lm_tensor_size(t); i++)
      lms_list_append(I, out, lm_tensor_dtype(t) == LM_INT32 ? lms_int(I, lm_tensor_i32(t)[i])
                                                            : lms_float(I, lm_tensor_f32(t)[i]));
    return out;
  }
  int n;
  lms_value *items = iterable_items(I, v, a->slot_node[0], &n);
  for (int i = 0; i < n; i++) lms_list_append(I, out, items->u.seq.items[i]);
  return out;
}
static lms_value *bi_list(lms_interp *I, lms_value *self, lms_args *a) {
  (void)self;
  return to_seq(I, a, V_LIST, "list");
}
static lms_value *bi_tuple(lms_interp *I, lms_value *self, lms_args *a) {
  (void)self;
  return to_seq(I, a, V_TUPLE, "tuple");
}

static lms_value *bi_dict(lms_interp *I, lms_value *self, lms_args *a) {
  (void)self;
  if (a->n_pos) lms_fail(I, a->pos_nodes[0], "dict() takes keyword arguments only here");
  lms_value *d = lms_dict(I);
  for (int k = 0; k < a->n_kw; k++) lms_dict_set(I, d, lms_cstr(I, a->kw_names[k]), a->kw[k]);
  return d;
}

static lms_value *bi_isinstance(lms_interp *I, lms_value *self, lms_args *a) {
  (void)self;
  (void)a;
  lms_fail(I, a->call, "isinstance() is not supported in lamina scripts");
}

/* format(value, spec=''): Python's format-spec mini-language (format.c) */
static lms_value *bi_format(lms_interp *I, lms_value *self, lms_args *a) {
  (void)self;
  lms_bind(I, a, "format", "value:x, format_spec:s=");
  const char *spec = lms_arg_str(a, 1, "");
  lm_buf *b = buf_open(I);
  lms_format_value(I, b, a->slot[0], spec, strlen(spec), a->call);
  return buf_value(I, b, a->call);
}

static const lms_builtin builtins[] = {
    {"print", bi_print, NULL, NULL}, {"len", bi_len, NULL, NULL},
    {"range", bi_range, NULL, NULL}, {"int", bi_int, NULL, NULL},
    {"float", bi_float, NULL, NULL}, {"str", bi_str, NULL, NULL},
    {"repr", bi_repr, NULL, NULL},   {"bool", bi_bool, NULL, NULL},
    {"abs", bi_abs, NULL, NULL},     {"min", bi_min, NULL, NULL},
    {"max", bi_max, NULL, NULL},     {"sum", bi_sum, NULL, NULL},
    {"round", bi_round, NULL, NULL}, {"list", bi_list, NULL, NULL},
    {"tuple", bi_tuple, NULL, NULL}, {"dict", bi_dict, NULL, NULL},
    {"isinstance", bi_isinstance, NULL, NULL}, {"format", bi_format, NULL, NULL},
};

static const lms_builtin *find_py_builtin(const char *name) {
  for (size_t i = 0; i < sizeof builtins / sizeof *builtins; i++)
    if (strcmp(builtins[i].name, name) == 0) return &builtins[i];
  return NULL;
}

/* ---- string formatting -------------------------------------------------------- */

/* '{}'.format(x), '{:.4f}', '{0}', '{name}', '{!r}', '{:{width}}': the
 * replacement fields of str.format; the spec language is format.c's. */
static lms_value *format_arg(lms_interp *I, lms_args *a, const char *field, size_t fl, int *auto_idx,
                             int *numbering) {
  bool is_auto = fl == 0, is_manual = fl > 0 && isdigit((unsigned char)field[0]);
  if ((is_auto && *numbering == 2) || (is_manual && *numbering == 1))
    lms_fail(I, a->call, "cannot switch from %s to %s",
             is_auto ? "manual field specification" : "automatic field numbering",
             is_auto ? "automatic field numbering" : "manual field specification");
  if (is_auto) *numbering = 1;
  if (is_manual) *numbering = 2;
  if (is_auto) {
    if (*auto_idx < a->n_pos) return a->pos[(*auto_idx)++];
  } else if (is_manual) {
    long k = 0;
    size_t i = 0;
    while (i < fl && isdigit((unsigned char)field[i]) && k < 100000) k = k * 10 + (field[i++] - '0');
    if (i == fl && k < a->n_pos) return a->pos[k];
  } else {
    for (int k = 0; k < a->n_kw; k++)
      if (strlen(a->kw_names[k]) == fl && strncmp(a->kw_names[k], field, fl) == 0) return a->kw[k];
  }
  lms_fail(I, a->call, "format(): no argument for field '{%.*s}'", (int)(fl < 60 ? fl : 60), field);
}

static lms_value *str_format(lms_interp *I, lms_value *self, lms_args *a) {
  lm_buf *b = buf_open(I);
  const char *s = self->u.str.s, *e = s + self->u.str.len;
  int auto_idx = 0, numbering = 0; /* 1 automatic '{}', 2 manual '{0}' */
  while (s < e) {
    if (*s == '{' && s + 1 < e && s[1] == '{') {
      lm_buf_puts(b, "{");
      s += 2;
      continue;
    }
    if (*s == '}') {
      if (s + 1 < e && s[1] == '}') {
        lm_buf_puts(b, "}");
        s += 2;
        continue;
      }
      lms_fail(I, a->call, "Single '}' encountered in format string");
    }
    if (*s != '{') {
      lm_buf_putn(b, s++, 1);
      continue;
    }
    /* the field runs to its matching '}' (one level of nested {} in the spec) */
    const char *close = s + 1;
    int depth = 1;
    while (close < e && depth) {
      if (*close == '{') depth++;
      if (*close == '}' && --depth == 0) break;
      close++;
    }
    if (close >= e) lms_fail(I, a->call, close == s + 1 ? "Single '{' encountered in format string" : "expected '}' before end of string");
    const char *fs = s + 1, *colon = memchr(fs, ':', (size_t)(close - fs)), *bang = memchr(fs, '!', (size_t)(close - fs));
    if (bang && colon && bang > colon) bang = NULL;
    const char *fend = bang ? bang : colon ? colon : close;
    if (memchr(fs, '[', (size_t)(fend - fs)) || memchr(fs, '.', (size_t)(fend - fs)))
      lms_fail(I, a->call, "format(): attribute and index lookups in fields ('{%.*s}') are not supported",
               (int)(fend - fs < 60 ? fend - fs : 60), fs);
    lms_value *v = format_arg(I, a, fs, (size_t)(fend - fs), &auto_idx, &numbering);
    char conv = 0;
    if (bang) {
      const char *ce = colon ? colon : close;
      if (ce - bang != 2 || !strchr("rsa", bang[1]))
        lms_fail(I, a->call, ce - bang == 1 ? "end of string while looking for conversion specifier"
                                            : "Unknown conversion specifier %.*s", (int)(ce - bang - 1), bang + 1);
      conv = bang[1];
    }
    /* the spec, with nested replacement fields replaced by their str() */
    lm_buf *spec = buf_open(I);
    if (colon) {
      for (const char *c = colon + 1; c < close; c++) {
        if (*c != '{') {
          lm_buf_putn(spec, c, 1);
          continue;
        }
        const char *ne = memchr(c, '}', (size_t)(close - c));
        if (!ne || memchr(c + 1, '{', (size_t)(ne - c - 1))) lms_fail(I, a->call, "Max string recursion exceeded");
        lms_value *nv = format_arg(I, a, c + 1, (size_t)(ne - c - 1), &auto_idx, &numbering);
        lms_to_str(I, spec, nv, false);
        c = ne;
      }
    }
    if (spec->oom) lms_fail_rt(I, a->call, "out of memory");
    if (conv) { /* !r !s !a: format the str() or repr() of the value */
      const char *t = to_cstr(I, v, conv != 's');
      v = lms_str(I, t, strlen(t));
    }
    lms_format_value(I, b, v, spec->data ? spec->data : "", spec->len, a->call);
    buf_close(I, spec);
    s = close + 1;
  }
  return buf_value(I, b, a->call);
}

static lms_value *str_join(lms_interp *I, lms_value *self, lms_args *a) {
  lms_bind(I, a, "join", "iterable:l");
  lm_buf *b = buf_open(I);
  lms_value *seq = a->slot[0];
  for (int i = 0; i < seq->u.seq.n; i++) {
    if (seq->u.seq.items[i]->kind != V_STR) {
      buf_close(I, b);
      lms_fail(I, a->slot_node[0], "sequence item %d: expected str, %s found", i,
               lms_type_name(seq->u.seq.items[i]));
    }
    if (i) lm_buf_putn(b, self->u.str.s, self->u.str.len);
    lm_buf_putn(b, seq->u.seq.items[i]->u.str.s, seq->u.seq.items[i]->u.str.len);
  }
  return buf_value(I, b, a->call);
}

static lms_value *str_case(lms_interp *I, lms_value *self, lms_args *a, bool upper) {
  lms_bind(I, a, upper ? "upper" : "lower", "");
  lms_value *r = lms_str(I, self->u.str.s, self->u.str.len);
  char *s = (char *)r->u.str.s;
  for (size_t i = 0; i < r->u.str.len; i++)
    if (upper ? (s[i] >= 'a' && s[i] <= 'z') : (s[i] >= 'A' && s[i] <= 'Z')) s[i] ^= 0x20;
  return r;
}
static lms_value *str_upper(lms_interp *I, lms_value *self, lms_args *a) { return str_case(I, self, a, true); }
static lms_value *str_lower(lms_interp *I, lms_value *self, lms_args *a) { return str_case(I, self, a, false); }

static lms_value *list_append(lms_interp *I, lms_value *self, lms_args *a) {
  lms_bind(I, a, "append", "object:x");
  lms_list_append(I, self, a->slot[0]);
  return lms_none(I);
}

static lms_value *dict_keys(lms_interp *I, lms_value *self, lms_args *a) {
  lms_bind(I, a, "keys", "");
  lms_value *l = lms_seq(I, V_LIST, self->u.dict.n);
  for (int i = 0; i < self->u.dict.n; i++) l->u.seq.items[i] = self->u.dict.keys[i];
  return l;
}
static lms_value *dict_values(lms_interp *I, lms_value *self, lms_args *a) {
  lms_bind(I, a, "values", "");
  lms_value *l = lms_seq(I, V_LIST, self->u.dict.n);
  for (int i = 0; i < self->u.dict.n; i++) l->u.seq.items[i] = self->u.dict.vals[i];
  return l;
}
static lms_value *dict_items(lms_interp *I, lms_value *self, lms_args *a) {
  lms_bind(I, a, "items", "");
  lms_value *l = lms_seq(I, V_LIST, self->u.dict.n);
  for (int i = 0; i < self->u.dict.n; i++) {
    lms_value *t = lms_seq(I, V_TUPLE, 2);
    t->u.seq.items[0] = self->u.dict.keys[i];
    t->u.seq.items[1] = self->u.dict.vals[i];
    l->u.seq.items[i] = t;
  }
  return l;
}
static lms_value *dict_get(lms_interp *I, lms_value *self, lms_args *a) {
  lms_bind(I, a, "get", "key:x, default:x=");
  lms_value *v = lms_dict_get(self, a->slot[0]);
  return v ? v : a->slot[1] ? a->slot[1] : lms_none(I);
}

static const lms_builtin str_methods[] = {
    {"format", str_format, NULL, NULL}, {"join", str_join, NULL, NULL},
    {"upper", str_upper, NULL, NULL},   {"lower", str_lower, NULL, NULL},
};
static const lms_builtin list_methods[] = {{"append", list_append, NULL, NULL}};
static const lms_builtin dict_methods[] = {
    {"keys", dict_keys, NULL, NULL}, {"values", dict_values, NULL, NULL},
    {"items", dict_items, NULL, NULL}, {"get", dict_get, NULL, NULL}};

static lms_value *method(lms_interp *I, lms_value *self, const lms_builtin *tab, size_t n,
                         const char *name) {
  for (size_t i = 0; i < n; i++)
    if (strcmp(tab[i].name, name) == 0) return lms_builtin_value(I, &tab[i], self);
  return NULL;
}

lms_value *lms_getattr(lms_interp *I, lms_value *obj, const char *name, const lms_node *at) {
  lms_value *r = NULL;
  switch (obj->kind) {
  case V_MODULE: return lms_module_attr(I, obj->u.module, name, at);
  case V_ARRAY: return lms_array_attr(I, obj, name, at);
  case V_MODEL: return lms_model_attr(I, obj, name, at);
  case V_LAYER: return lms_layer_attr(I, obj, name, at);
  case V_HISTORY: return lms_history_attr(I, obj, name, at);
  case V_OPTIMIZER: return lms_optimizer_attr(I, obj, name, at);
  case V_SYM:
    if (strcmp(name, "shape") == 0) {
      int nd = lm_sym_ndim(obj->u.sym);
      lms_value *t = lms_seq(I, V_TUPLE, nd);
      for (int i = 0; i < nd; i++) {
        int64_t d = lm_sym_dim(obj->u.sym, i);
        t->u.seq.items[i] = d == LM_NONE ? lms_none(I) : lms_int(I, d);
      }
      return t;
    }
    if (strcmp(name, "name") == 0) return lms_cstr(I, lm_sym_name(obj->u.sym));
    break;
  case V_STR: r = method(I, obj, str_methods, sizeof str_methods / sizeof *str_methods, name); break;
  case V_LIST: r = method(I, obj, list_methods, 1, name); break;
  case V_DICT: r = method(I, obj, dict_methods, sizeof dict_methods / sizeof *dict_methods, name); break;
  case V_CALLBACK: {
    lms_value *v = lms_dict_gets(obj->u.cb.cfg, name);
    if (v) return v;
    break;
  }
  default: break;
  }
  if (r) return r;
  lms_fail(I, at, "'%s' object has no attribute '%s'", lms_type_name(obj), name);
}

/* ---- operators ----------------------------------------------------------------- */

static const char *op_text(int op) {
  switch (op) {
  case OP_ADD: return "+";
  case OP_SUB: return "-";
  case OP_MUL: return "*";
  case OP_DIV: return "/";
  case OP_FLOORDIV: return "//";
  case OP_MOD: return "%";
  case OP_POW: return "**";
  case OP_MATMUL: return "@";
  case OP_LT: return "<";
  case OP_LE: return "<=";
  case OP_GT: return ">";
  case OP_GE: return ">=";
  default: return "?";
  }
}

static _Noreturn void bad_operands(lms_interp *I, int op, lms_value *a, lms_value *b, const lms_node *at) {
  lms_fail(I, at, "unsupported operand types for %s: '%s' and '%s'", op_text(op), lms_type_name(a),
           lms_type_name(b));
}

static lms_value *concat_seq(lms_interp *I, lms_value *a, lms_value *b) {
  lms_value *r = lms_seq(I, a->kind, 0);
  for (int i = 0; i < a->u.seq.n; i++) lms_list_append(I, r, a->u.seq.items[i]);
  for (int i = 0; i < b->u.seq.n; i++) lms_list_append(I, r, b->u.seq.items[i]);
  return r;
}

static lms_value *repeat(lms_interp *I, lms_value *s, int64_t k, const lms_node *at) {
  if (k < 0) k = 0;
  if (s->kind == V_STR) {
    if (k > 0 && s->u.str.len > (size_t)(64 << 20) / (size_t)k)
      lms_fail(I, at, "string too long (64 MiB at most)");
    size_t n = s->u.str.len * (size_t)k;
    char *buf = lms_alloc(I, n + 1);
    for (int64_t i = 0; i < k; i++) memcpy(buf + (size_t)i * s->u.str.len, s->u.str.s, s->u.str.len);
    lms_value *r = lms_new(I, V_STR);
    r->u.str.s = buf;
    r->u.str.len = n;
    return r;
  }
  if (k > 0 && (int64_t)s->u.seq.n * k > 10000000) lms_fail(I, at, "list too long (10,000,000 items at most)");
  lms_value *r = lms_seq(I, s->kind, 0);
  for (int64_t i = 0; i < k; i++)
    for (int j = 0; j < s->u.seq.n; j++) lms_list_append(I, r, s->u.seq.items[j]);
  return r;
}

static lms_value *int_binop(lms_interp *I, int op, int64_t x, int64_t y, const lms_node *at) {
  int64_t r = 0;
  bool ovf = false;
  switch (op) {
  case OP_ADD: ovf = __builtin_add_overflow(x, y, &r); break;
  case OP_SUB: ovf = __builtin_sub_overflow(x, y, &r); break;
  case OP_MUL: ovf = __builtin_mul_overflow(x, y, &r); break;
  case OP_DIV:
    if (y == 0) lms_fail(I, at, "division by zero");
    return lms_float(I, (double)x / (double)y);
  case OP_FLOORDIV:
  case OP_MOD:
    if (y == 0) lms_fail(I, at, "integer division or modulo by zero");
    if (x == INT64_MIN && y == -1) {
      ovf = op == OP_FLOORDIV;
      r = 0;
      break;
    }
    r = op == OP_FLOORDIV ? x / y : x % y;
    if ((x % y != 0) && ((x < 0) != (y < 0))) r = op == OP_FLOORDIV ? r - 1 : r + y;
    break;
  case OP_POW:
    if (y < 0) return lms_float(I, pow((double)x, (double)y));
    r = 1;
    for (int64_t base = x; y > 0 && !ovf; y >>= 1) {
      if (y & 1) ovf = __builtin_mul_overflow(r, base, &r);
      if (y > 1 && !ovf) ovf = __builtin_mul_overflow(base, base, &base);
    }
    break;
  default: return NULL;
  }
  if (ovf) lms_fail(I, at, "integer overflow (lamina integers are 64-bit)");
  return lms_int(I, r);
}

static lms_value *binop(lms_interp *I, int op, lms_value *a, lms_value *b, const lms_node *at) {
  if (a->kind == V_ARRAY || b->kind == V_ARRAY) return lms_array_binop(I, op, a, b, at);
  if (lms_is_number(a) && lms_is_number(b)) {
    if (a->kind != V_FLOAT && b->kind != V_FLOAT) {
      lms_value *r = int_binop(I, op, a->kind == V_INT ? a->u.i : a->u.b,
                               b->kind == V_INT ? b->u.i : b->u.b, at);
      if (r) return r;
      bad_operands(I, op, a, b, at);
    }
    double x = lms_num(a), y = lms_num(b);
    switch (op) {
    case OP_ADD: return lms_float(I, x + y);
    case OP_SUB: return lms_float(I, x - y);
    case OP_MUL: return lms_float(I, x * y);
    case OP_DIV:
      if (y == 0) lms_fail(I, at, "float division by zero");
      return lms_float(I, x / y);
    case OP_FLOORDIV:
      if (y == 0) lms_fail(I, at, "float divmod()");
      return lms_float(I, floor(x / y));
    case OP_MOD: {
      if (y == 0) lms_fail(I, at, "float modulo");
      double m = fmod(x, y);
      if (m != 0 && ((m < 0) != (y < 0))) m += y;
      return lms_float(I, m);
    }
    case OP_POW:
      if (x == 0 && y < 0) lms_fail(I, at, "0.0 cannot be raised to a negative power");
      if (x < 0 && y != floor(y)) lms_fail(I, at, "complex results are not supported");
      return lms_float(I, pow(x, y));
    default: bad_operands(I, op, a, b, at);
    }
  }
  if (op == OP_ADD && a->kind == V_STR && b->kind == V_STR) {
    lms_value *r = lms_new(I, V_STR);
    char *s = lms_alloc(I, a->u.str.len + b->u.str.len + 1);
    memcpy(s, a->u.str.s, a->u.str.len);
    memcpy(s + a->u.str.len, b->u.str.s, b->u.str.len);
    r->u.str.s = s;
    r->u.str.len = a->u.str.len + b->u.str.len;
    return r;
  }
  if (op == OP_ADD && a->kind == b->kind && (a->kind == V_LIST || a->kind == V_TUPLE))
    return concat_seq(I, a, b);
  if (op == OP_MUL && (a->kind == V_STR || a->kind == V_LIST || a->kind == V_TUPLE) &&
      (b->kind == V_INT || b->kind == V_BOOL))
    return repeat(I, a, b->kind == V_INT ? b->u.i : b->u.b, at);
  if (op == OP_MUL && (b->kind == V_STR || b->kind == V_LIST || b->kind == V_TUPLE) &&
      (a->kind == V_INT || a->kind == V_BOOL))
    return repeat(I, b, a->kind == V_INT ? a->u.i : a->u.b, at);
  if (op == OP_MOD && a->kind == V_STR) return lms_percent_format(I, a, b, at);
  if (a->kind == V_SYM || b->kind == V_SYM)
    lms_fail(I, at,
             "arithmetic on symbolic tensors is not supported; use layers.add, "
             "layers.subtract or layers.multiply");
  bad_operands(I, op, a, b, at);
}

static int compare(lms_interp *I, lms_value *a, lms_value *b, const lms_node *at) {
  if (lms_is_number(a) && lms_is_number(b)) {
    if (a->kind != V_FLOAT && b->kind != V_FLOAT) {
      int64_t x = a->kind == V_INT ? a->u.i : a->u.b, y = b->kind == V_INT ? b->u.i : b->u.b;
      return x < y ? -1 : x > y;
    }
    double x = lms_num(a), y = lms_num(b);
    return x < y ? -1 : x > y ? 1 : 0;
  }
  if (a->kind == V_STR && b->kind == V_STR) {
    size_t n = a->u.str.len < b->u.str.len ? a->u.str.len : b->u.str.len;
    int c = memcmp(a->u.str.s, b->u.str.s, n);
    if (c) return c < 0 ? -1 : 1;
    return a->u.str.len < b->u.str.len ? -1 : a->u.str.len > b->u.str.len;
  }
  if (a->kind == b->kind && (a->kind == V_LIST || a->kind == V_TUPLE)) {
    for (int i = 0; i < a->u.seq.n && i < b->u.seq.n; i++) {
      if (lms_equal(a->u.seq.items[i], b->u.seq.items[i])) continue;
      return compare(I, a->u.seq.items[i], b->u.seq.items[i], at);
    }
    return a->u.seq.n < b->u.seq.n ? -1 : a->u.seq.n > b->u.seq.n;
  }
  lms_fail(I, at, "'<' not supported between instances of '%s' and '%s'", lms_type_name(a),
           lms_type_name(b));
}

static bool contains(lms_interp *I, lms_value *container, lms_value *x, const lms_node *at) {
  switch (container->kind) {
  case V_LIST:
  case V_TUPLE:
    for (int i = 0; i < container->u.seq.n; i++)
      if (lms_equal(container->u.seq.items[i], x)) return true;
    return false;
  case V_DICT: return lms_dict_get(container, x) != NULL;
  case V_STR:
    if (x->kind != V_STR) lms_fail(I, at, "'in <string>' requires string as left operand, not %s", lms_type_name(x));
    if (x->u.str.len == 0) return true;
    for (size_t i = 0; i + x->u.str.len <= container->u.str.len; i++)
      if (memcmp(container->u.str.s + i, x->u.str.s, x->u.str.len) == 0) return true;
    return false;
  default: lms_fail(I, at, "argument of type '%s' is not iterable", lms_type_name(container));
  }
}

static bool cmp_one(lms_interp *I, int op, lms_value *a, lms_value *b, const lms_node *at) {
  switch (op) {
  case OP_EQ: return lms_equal(a, b);
  case OP_NE: return !lms_equal(a, b);
  case OP_IS:
  case OP_ISNOT: {
    bool same = a == b || (a->kind == V_NONE && b->kind == V_NONE) ||
                (a->kind == V_BOOL && b->kind == V_BOOL && a->u.b == b->u.b) ||
                (a->kind == b->kind && a->kind >= V_ARRAY && lms_equal(a, b));
    return op == OP_IS ? same : !same;
  }
  case OP_IN: return contains(I, b, a, at);
  case OP_NOTIN: return !contains(I, b, a, at);
  default: {
    if (a->kind == V_ARRAY || b->kind == V_ARRAY)
      lms_fail(I, at, "comparisons of arrays are not supported");
    int c = compare(I, a, b, at);
    return op == OP_LT ? c < 0 : op == OP_LE ? c <= 0 : op == OP_GT ? c > 0 : c >= 0;
  }
  }
}

/* ---- subscripts ------------------------------------------------------------------ */

static int64_t norm_index(lms_interp *I, lms_value *idx, int64_t n, const lms_node *at, const char *what) {
  if (idx->kind != V_INT && idx->kind != V_BOOL)
    lms_fail(I, at, "%s indices must be integers or slices, not %s", what, lms_type_name(idx));
  int64_t i = idx->kind == V_INT ? idx->u.i : idx->u.b;
  if (i < 0) i += n;
  if (i < 0 || i >= n) lms_fail(I, at, "%s index out of range", what);
  return i;
}

/* Python slice bounds for a sequence of length n (step 1 only). */
static void slice_bounds(lms_interp *I, lms_value *lo, lms_value *hi, lms_value *st, int64_t n,
                         int64_t *start, int64_t *stop, int64_t *step, const lms_node *at) {
  *step = 1;
  if (st && st->kind != V_NONE) {
    if (st->kind != V_INT) lms_fail(I, at, "slice indices must be integers or None");
    *step = st->u.i;
    if (*step == 0) lms_fail(I, at, "slice step cannot be zero");
  }
  int64_t def_lo = *step > 0 ? 0 : n - 1, def_hi = *step > 0 ? n : -1;
  int64_t v[2] = {def_lo, def_hi};
  lms_value *b[2] = {lo, hi};
  for (int k = 0; k < 2; k++) {
    if (!b[k] || b[k]->kind == V_NONE) continue;
    if (b[k]->kind != V_INT) lms_fail(I, at, "slice indices must be integers or None");
    int64_t x = b[k]->u.i;
    if (x < 0) x += n;
    if (*step > 0) x = x < 0 ? 0 : x > n ? n : x;
    else x = x < -1 ? -1 : x > n - 1 ? n - 1 : x;
    v[k] = x;
  }
  *start = v[0];
  *stop = v[1];
}

static lms_value *subscript(lms_interp *I, lms_value *obj, const lms_node *sn, const lms_node *at) {
  if (obj->kind == V_ARRAY) {
    lms_value *idx;
    if (sn->kind == N_SLICE) {
      idx = lms_seq(I, V_TUPLE, 3);
      idx->u.seq.items[0] = sn->a ? lms_eval(I, sn->a) : lms_none(I);
      idx->u.seq.items[1] = sn->b ? lms_eval(I, sn->b) : lms_none(I);
      idx->u.seq.items[2] = sn->c ? lms_eval(I, sn->c) : lms_none(I);
      I->slice_marker = idx; /* marks a slice for array.c */
    } else if (sn->kind == N_TUPLE) {
      lms_fail(I, sn, "multi-axis indexing is not supported; index or slice the first axis only");
    } else {
      idx = lms_eval(I, sn);
    }
    return lms_array_index(I, obj, idx, at);
  }
  if (sn->kind == N_SLICE) {
    lms_value *lo = sn->a ? lms_eval(I, sn->a) : NULL, *hi = sn->b ? lms_eval(I, sn->b) : NULL,
              *st = sn->c ? lms_eval(I, sn->c) : NULL;
    if (obj->kind != V_LIST && obj->kind != V_TUPLE && obj->kind != V_STR)
      lms_fail(I, at, "'%s' object is not subscriptable with a slice", lms_type_name(obj));
    int64_t n = obj->kind == V_STR ? (int64_t)obj->u.str.len : obj->u.seq.n;
    int64_t start, stop, step;
    slice_bounds(I, lo, hi, st, n, &start, &stop, &step, sn);
    if (obj->kind == V_STR) {
      lm_buf *b = buf_open(I);
      for (int64_t i = start; step > 0 ? i < stop : i > stop; i += step) lm_buf_putn(b, obj->u.str.s + i, 1);
      return buf_value(I, b, at);
    }
    lms_value *r = lms_seq(I, obj->kind, 0);
    for (int64_t i = start; step > 0 ? i < stop : i > stop; i += step)
      lms_list_append(I, r, obj->u.seq.items[i]);
    return r;
  }
  if (sn->kind == N_TUPLE && obj->kind != V_DICT)
    lms_fail(I, sn, "multi-axis indexing is not supported; index or slice the first axis only");
  lms_value *idx = lms_eval(I, sn);
  switch (obj->kind) {
  case V_LIST:
  case V_TUPLE: return obj->u.seq.items[norm_index(I, idx, obj->u.seq.n, sn, obj->kind == V_LIST ? "list" : "tuple")];
  case V_STR: {
    int64_t i = norm_index(I, idx, (int64_t)obj->u.str.len, sn, "string");
    return lms_str(I, obj->u.str.s + i, 1);
  }
  case V_DICT: {
    lms_value *v = lms_dict_get(obj, idx);
    if (!v) lms_fail(I, sn, "KeyError: %s", to_cstr(I, idx, true));
    return v;
  }
  case V_MODEL:
  case V_LAYER:
  default: lms_fail(I, at, "'%s' object is not subscriptable", lms_type_name(obj));
  }
}

/* ---- calls --------------------------------------------------------------------- */

static lms_value *call_lambda(lms_interp *I, lms_value *f, lms_args *a) {
  const lms_node *ln = f->u.lambda.node;
  if (a->n_kw) lms_fail(I, a->kw_nodes[0], "keyword arguments to a lambda are not supported");
  if (a->n_pos != ln->n_names)
    lms_fail(I, a->call, "<lambda>() takes %d positional argument%s but %d were given", ln->n_names,
             ln->n_names == 1 ? "" : "s", a->n_pos);
  if (I->depth >= MAX_DEPTH) lms_fail(I, a->call, "maximum recursion depth exceeded");
  lms_var *saved = I->locals;
  int saved_n = I->n_locals;
  lms_var *loc = lms_alloc(I, (size_t)(saved_n + ln->n_names + 1) * sizeof *loc);
  if (saved_n) memcpy(loc, saved, (size_t)saved_n * sizeof *loc);
  for (int i = 0; i < ln->n_names; i++) {
    loc[saved_n + i].name = ln->names[i];
    loc[saved_n + i].v = a->pos[i];
  }
  I->locals = loc;
  I->n_locals = saved_n + ln->n_names;
  I->depth++;
  lms_value *r = lms_eval(I, ln->a);
  I->depth--;
  I->locals = saved;
  I->n_locals = saved_n;
  return r;
}

/* Builtins that read or write files (refused under opts.sandbox). */
static bool touches_files(const char *name) {
  static const char *const names[] = {"np.load", "np.save", "np.loadtxt", "load_model", "save", "save_weights",
                                      "load_weights", "CSVLogger", "ModelCheckpoint", "fashion_mnist.load_data",
                                      "mnist.load_data", "load_digits", NULL};
  for (int i = 0; names[i]; i++)
    if (strcmp(name, names[i]) == 0) return true;
  return false;
}

lms_value *lms_call(lms_interp *I, lms_value *f, lms_args *a) {
  switch (f->kind) {
  case V_BUILTIN: {
    const lms_builtin *b = f->u.fn.b;
    a->callee = b;
    if (I->opts.sandbox && touches_files(b->name))
      lms_fail(I, a->call, "%s() is not available in the sandbox (it reads or writes files)", b->name);
    if (b->spec) lms_bind(I, a, b->name, b->spec);
    return b->fn(I, f->u.fn.self, a);
  }
  case V_LAMBDA: return call_lambda(I, f, a);
  case V_LAYER: return lms_call_layer(I, f, a);
  case V_MODEL: lms_fail(I, a->call, "calling a model on tensors (nested models) is not supported yet");
  default: lms_fail(I, a->call, "'%s' object is not callable", lms_type_name(f));
  }
}

static lms_value *eval_call(lms_interp *I, const lms_node *n) {
  lms_value *f = lms_eval(I, n->a);
  lms_args a = {0};
  a.call = n;
  a.pos = lms_alloc(I, (size_t)(n->n_kids + 1) * sizeof *a.pos);
  a.pos_nodes = lms_alloc(I, (size_t)(n->n_kids + 1) * sizeof *a.pos_nodes);
  a.kw = lms_alloc(I, (size_t)(n->n_kids + 1) * sizeof *a.kw);
  a.kw_nodes = lms_alloc(I, (size_t)(n->n_kids + 1) * sizeof *a.kw_nodes);
  a.kw_names = lms_alloc(I, (size_t)(n->n_kids + 1) * sizeof *a.kw_names);
  for (int i = 0; i < n->n_kids; i++) {
    lms_value *v = lms_eval(I, n->kids[i]);
    if (n->names[i]) {
      a.kw_names[a.n_kw] = n->names[i];
      a.kw_nodes[a.n_kw] = n->kw_at[i];
      a.kw[a.n_kw++] = v;
    } else {
      a.pos_nodes[a.n_pos] = n->kids[i];
      a.pos[a.n_pos++] = v;
    }
  }
  return lms_call(I, f, &a);
}

/* ---- expressions --------------------------------------------------------------- */

static lms_value *eval_name(lms_interp *I, const lms_node *n) {
  lms_value *v = lookup(I, n->str);
  if (v) return v;
  const lms_builtin *b = find_py_builtin(n->str);
  if (b) return lms_builtin_value(I, b, NULL);
  if (strcmp(n->str, "np") == 0 || strcmp(n->str, "keras") == 0 || strcmp(n->str, "layers") == 0)
    lms_fail(I, n, "name '%s' is not defined (missing import?)", n->str);
  lms_fail(I, n, "name '%s' is not defined", n->str);
}

lms_value *lms_eval(lms_interp *I, const lms_node *n) {
  switch (n->kind) {
  case N_NAME: return eval_name(I, n);
  case N_INT: return lms_int(I, n->i);
  case N_FLOAT: return lms_float(I, n->f);
  case N_STR: {
    lms_value *v = lms_new(I, V_STR);
    v->u.str.s = n->str;
    v->u.str.len = n->slen;
    return v;
  }
  case N_NONE: return lms_none(I);
  case N_TRUE: return lms_bool(I, true);
  case N_FALSE: return lms_bool(I, false);
  case N_TUPLE:
  case N_LIST: {
    lms_value *v = lms_seq(I, n->kind == N_TUPLE ? V_TUPLE : V_LIST, n->n_kids);
    for (int i = 0; i < n->n_kids; i++) v->u.seq.items[i] = lms_eval(I, n->kids[i]);
    return v;
  }
  case N_DICT: {
    lms_value *d = lms_dict(I);
    for (int i = 0; i + 1 < n->n_kids; i += 2) {
      lms_value *k = lms_eval(I, n->kids[i]);
      if (k->kind != V_STR && k->kind != V_INT && k->kind != V_FLOAT && k->kind != V_BOOL &&
          k->kind != V_NONE && k->kind != V_TUPLE)
        lms_fail(I, n->kids[i], "unhashable type: '%s'", lms_type_name(k));
      lms_dict_set(I, d, k, lms_eval(I, n->kids[i + 1]));
    }
    return d;
  }
  case N_BINOP: {
    lms_value *a = lms_eval(I, n->a);
    lms_value *b = lms_eval(I, n->b);
    return binop(I, n->op, a, b, n);
  }
  case N_UNARY: {
    lms_value *a = lms_eval(I, n->a);
    if (a->kind == V_ARRAY) {
      if (n->op == OP_POS) return a;
      return lms_array_neg(I, a, n);
    }
    if (!lms_is_number(a))
      lms_fail(I, n, "bad operand type for unary %s: '%s'", n->op == OP_NEG ? "-" : "+", lms_type_name(a));
    if (a->kind == V_FLOAT) return lms_float(I, n->op == OP_NEG ? -a->u.f : a->u.f);
    int64_t x = a->kind == V_INT ? a->u.i : a->u.b;
    if (n->op == OP_NEG && x == INT64_MIN) lms_fail(I, n, "integer overflow");
    return lms_int(I, n->op == OP_NEG ? -x : x);
  }
  case N_CMP: {
    lms_value *left = lms_eval(I, n->kids[0]);
    for (int i = 1; i < n->n_kids; i++) {
      lms_value *right = lms_eval(I, n->kids[i]);
      if (!cmp_one(I, n->ops[i - 1], left, right, n)) return lms_bool(I, false);
      left = right;
    }
    return lms_bool(I, true);
  }
  case N_AND: {
    lms_value *a = lms_eval(I, n->a);
    return lms_truthy(a) ? lms_eval(I, n->b) : a;
  }
  case N_OR: {
    lms_value *a = lms_eval(I, n->a);
    return lms_truthy(a) ? a : lms_eval(I, n->b);
  }
  case N_NOT: return lms_bool(I, !lms_truthy(lms_eval(I, n->a)));
  case N_IFEXP: return lms_truthy(lms_eval(I, n->b)) ? lms_eval(I, n->a) : lms_eval(I, n->c);
  case N_LAMBDA: {
    lms_value *v = lms_new(I, V_LAMBDA);
    v->u.lambda.node = n;
    return v;
  }
  case N_CALL: return eval_call(I, n);
  case N_ATTR: return lms_getattr(I, lms_eval(I, n->a), n->str, n);
  case N_SUBSCRIPT: return subscript(I, lms_eval(I, n->a), n->b, n);
  case N_SLICE: lms_fail(I, n, "a slice is only valid inside [ ]");
  default: lms_fail(I, n, "statement used as an expression");
  }
}

/* ---- statements ------------------------------------------------------------------ */

static void assign(lms_interp *I, const lms_node *t, lms_value *v) {
  switch (t->kind) {
  case N_NAME: set_var(I, t->str, v); return;
  case N_TUPLE:
  case N_LIST: {
    int n;
    lms_value *items;
    if (v->kind == V_ARRAY) lms_fail(I, t, "unpacking an array is not supported");
    items = iterable_items(I, v, t, &n);
    if (n != t->n_kids) {
      if (n > t->n_kids) lms_fail(I, t, "too many values to unpack (expected %d)", t->n_kids);
      lms_fail(I, t, "not enough values to unpack (expected %d, got %d)", t->n_kids, n);
    }
    for (int i = 0; i < n; i++) assign(I, t->kids[i], items->u.seq.items[i]);
    return;
  }
  case N_ATTR: {
    lms_value *obj = lms_eval(I, t->a);
    if (obj->kind == V_LAYER) {
      lms_set_layer_attr(I, obj, t->str, v, t);
      return;
    }
    if (obj->kind == V_MODEL && strcmp(t->str, "trainable") == 0) {
      lm_model *m = obj->u.model.m;
      for (int i = 0; i < lm_model_n_layers(m); i++) lm_layer_set_trainable(lm_model_layer(m, i), lms_truthy(v));
      return;
    }
    if (obj->kind == V_OPTIMIZER && (strcmp(t->str, "lr") == 0 || strcmp(t->str, "learning_rate") == 0)) {
      if (!lms_is_number(v)) lms_fail(I, t, "the learning rate must be a number, not %s", lms_type_name(v));
      lm_optimizer_set_lr(obj->u.opt, (float)lms_num(v));
      return;
    }
    lms_fail(I, t, "cannot set attribute '%s' of '%s' object", t->str, lms_type_name(obj));
  }
  case N_SUBSCRIPT: {
    lms_value *obj = lms_eval(I, t->a);
    if (t->b->kind == N_SLICE) lms_fail(I, t->b, "slice assignment is not supported");
    lms_value *idx = lms_eval(I, t->b);
    if (obj->kind == V_DICT) {
      lms_dict_set(I, obj, idx, v);
      return;
    }
    if (obj->kind == V_LIST) {
      obj->u.seq.items[norm_index(I, idx, obj->u.seq.n, t->b, "list")] = v;
      return;
    }
    lms_fail(I, t, "'%s' object does not support item assignment", lms_type_name(obj));
  }
  default: lms_fail(I, t, "cannot assign to this expression");
  }
}

static void bind_import(lms_interp *I, const lms_node *s, const char *module, const char *alias) {
  const char *canon = lms_canonical_module(I, module);
  if (!canon) {
    const char *root = module;
    if (strncmp(module, "keras", 5) == 0 || strncmp(module, "numpy", 5) == 0 ||
        strncmp(module, "tensorflow", 10) == 0)
      lms_fail(I, s, "module '%s' is not available in lamina scripts", module);
    lms_fail(I, s,
             "import of '%s' is not supported: lamina scripts can import keras, numpy (and "
             "sys) names only",
             root);
  }
  lms_value *m = lms_new(I, V_MODULE);
  if (alias) {
    m->u.module = canon;
    set_var(I, alias, m);
    return;
  }
  /* import a.b binds a */
  const char *dot = strchr(module, '.');
  const char *top = dot ? lms_strndup(I, module, (size_t)(dot - module)) : module;
  m->u.module = lms_canonical_module(I, top);
  set_var(I, top, m);
}

static void exec_stmt(lms_interp *I, const lms_node *s) {
  I->cur = s;
  switch (s->kind) {
  case N_EXPR: lms_eval(I, s->a); return;
  case N_ASSIGN: {
    lms_value *v = lms_eval(I, s->a);
    for (int i = 0; i < s->n_kids; i++) assign(I, s->kids[i], v);
    return;
  }
  case N_AUGASSIGN: {
    lms_value *cur = lms_eval(I, s->a);
    lms_value *rhs = lms_eval(I, s->b);
    if (cur->kind == V_LIST && s->op == OP_ADD) {
      int n;
      lms_value *items = iterable_items(I, rhs, s->b, &n);
      for (int i = 0; i < n; i++) lms_list_append(I, cur, items->u.seq.items[i]);
      return;
    }
    assign(I, s->a, binop(I, s->op, cur, rhs, s));
    return;
  }
  case N_IMPORT:
    for (int i = 0; i + 1 < s->n_names; i += 2) bind_import(I, s, s->names[i], s->names[i + 1]);
    return;
  case N_FROM: {
    const char *canon = lms_canonical_module(I, s->str);
    if (!canon) {
      bind_import(I, s, s->str, "_"); /* reports the error */
      return;
    }
    for (int i = 0; i + 1 < s->n_names; i += 2) {
      const char *name = s->names[i];
      const char *alias = s->names[i + 1] ? s->names[i + 1] : name;
      set_var(I, alias, lms_module_attr(I, canon, name, s));
    }
    return;
  }
  case N_PASS: return;
  default: lms_fail(I, s, "unsupported statement");
  }
}

/* ---- running ------------------------------------------------------------------------ */

static void report(lms_interp *I) {
  lm_buf bb, *b = &bb; /* not registered: report runs after the unwinding */
  lm_buf_init(b, I->ctx);
  if (I->err_line > 0) {
    lm_buf_printf(b, "%s:%d:%d: error: %s\n", I->src.name, I->err_line, I->err_col, I->msg);
    /* the source line and a caret under the column */
    const char *s = I->src.text, *e = s + I->src.len;
    for (int line = 1; s < e && line < I->err_line; s++)
      if (*s == '\n') line++;
    const char *le = s;
    while (le < e && *le != '\n' && *le != '\r') le++;
    if (s < e || le > s) {
      lm_buf_puts(b, "    ");
      lm_buf_putn(b, s, (size_t)(le - s));
      lm_buf_puts(b, "\n    ");
      for (int c = 1; c < I->err_col && s + c - 1 < le; c++) lm_buf_puts(b, s[c - 1] == '\t' ? "\t" : " ");
      lm_buf_puts(b, "^\n");
    }
  } else {
    lm_buf_printf(b, "%s: error: %s\n", I->src.name, I->msg);
  }
  const char *text = b->oom || !b->data ? "lamina: error (out of memory while reporting it)\n" : b->data;
  if (I->opts.err) {
    I->opts.err(I->opts.err_ud, text);
  } else {
    fflush(stdout);
    fputs(text, stderr);
  }
  lm_buf_free(b);
}

static void print_summaries(lms_interp *I) {
  for (int i = 0; i < I->n_models; i++) {
    lm_model *m = I->models[i]->u.model.m;
    if (i) {
      if (I->opts.out) I->opts.out(I->opts.out_ud, "\n");
      else fputs("\n", stdout);
    }
    if (lm_model_summary(m, I->opts.out, I->opts.out_ud) != LM_OK) lms_fail_lib(I, NULL);
  }
}

static void stdout_log(void *ud, const char *text) {
  (void)ud;
  fputs(text, stdout);
}

int lms_run_source(lm_ctx *ctx, const char *name, const char *src, size_t len, const lms_opts *opts) {
  if (!ctx) return LMS_RUNTIME;
  lms_interp *I = lm_alloc(ctx, sizeof *I);
  if (!I) {
    char m[600];
    snprintf(m, sizeof m, "%s: error: out of memory\n", name ? name : "<script>");
    if (opts && opts->err) opts->err(opts->err_ud, m);
    else fputs(m, stderr);
    return LMS_RUNTIME;
  }
  I->ctx = ctx;
  lm_arena_init(&I->arena, ctx);
  I->src.name = name ? name : "<script>";
  I->src.text = src ? src : "";
  I->src.len = src ? len : 0;
  if (opts) I->opts = *opts;
  int status = LMS_OK;
  if (setjmp(I->jmp) == 0) {
    lms_program prog;
    lms_parse(I, &prog);
    if (I->opts.mode != LMS_MODE_PARSE) {
      if (I->opts.mode == LMS_MODE_SUMMARY || I->opts.out) {
        /* the library's own printing (summary, progress) follows print() */
        lm_ctx_set_log(ctx, I->opts.mode == LMS_MODE_SUMMARY ? NULL : I->opts.out, I->opts.out_ud);
      }
      for (int i = 0; i < prog.n; i++) exec_stmt(I, prog.stmts[i]);
      I->cur = NULL;
      if (I->opts.mode == LMS_MODE_SUMMARY) {
        if (!I->opts.out) lm_ctx_set_log(ctx, stdout_log, NULL);
        print_summaries(I);
      }
      if (I->opts.mode == LMS_MODE_RUN && I->opts.resume && I->n_fits == 0) {
        /* lamina run --resume on a script that trains nothing: say so */
        char w[600];
        snprintf(w, sizeof w, "%s: warning: the script called no fit(), so --resume %s was not used\n",
                 I->src.name, I->opts.resume);
        if (I->opts.err) I->opts.err(I->opts.err_ud, w);
        else {
          fflush(stdout);
          fputs(w, stderr);
        }
      }
    }
  } else {
    status = I->status ? I->status : LMS_SCRIPT_ERROR;
    for (int i = 0; i < I->n_bufs; i++) lm_buf_free(I->bufs[i]);
    I->n_bufs = 0;
    report(I);
  }
  fflush(stdout);
  lm_arena_free(&I->arena);
  lm_dealloc(ctx, I);
  return status;
}

int lms_run_file(lm_ctx *ctx, const char *path, const lms_opts *opts) {
  char *data = NULL;
  size_t len = 0;
  if (lm_read_file(ctx, path, &data, &len) != LM_OK) {
    fprintf(stderr, "lamina: %s\n", lm_errmsg(ctx));
    return LMS_SCRIPT_ERROR;
  }
  int st = lms_run_source(ctx, path, data, len, opts);
  lm_dealloc(ctx, data);
  return st;
}

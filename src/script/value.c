/* Values of the script language, printing, and argument binding. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "script/interp.h"

void *lms_alloc(lms_interp *I, size_t n) {
  void *p = lm_arena_alloc(&I->arena, n ? n : 1);
  if (!p) lms_fail_rt(I, NULL, "out of memory");
  return p;
}

char *lms_strndup(lms_interp *I, const char *s, size_t n) {
  char *d = lms_alloc(I, n + 1);
  memcpy(d, s, n);
  d[n] = 0;
  return d;
}

lms_value *lms_new(lms_interp *I, lms_kind k) {
  lms_value *v = lms_alloc(I, sizeof *v);
  v->kind = k;
  return v;
}

lms_value *lms_none(lms_interp *I) {
  static lms_value none = {.kind = V_NONE};
  (void)I;
  return &none;
}
lms_value *lms_bool(lms_interp *I, bool b) {
  static lms_value t = {.kind = V_BOOL, .u.b = true}, f = {.kind = V_BOOL, .u.b = false};
  (void)I;
  return b ? &t : &f;
}
lms_value *lms_int(lms_interp *I, int64_t i) {
  lms_value *v = lms_new(I, V_INT);
  v->u.i = i;
  return v;
}
lms_value *lms_float(lms_interp *I, double f) {
  lms_value *v = lms_new(I, V_FLOAT);
  v->u.f = f;
  return v;
}
lms_value *lms_str(lms_interp *I, const char *s, size_t len) {
  lms_value *v = lms_new(I, V_STR);
  v->u.str.s = lms_strndup(I, s, len);
  v->u.str.len = len;
  return v;
}
lms_value *lms_cstr(lms_interp *I, const char *s) { return lms_str(I, s, strlen(s)); }

lms_value *lms_seq(lms_interp *I, lms_kind k, int n) {
  lms_value *v = lms_new(I, k);
  v->u.seq.n = n;
  v->u.seq.cap = n > 4 ? n : 4;
  v->u.seq.items = lms_alloc(I, (size_t)v->u.seq.cap * sizeof(lms_value *));
  return v;
}

void lms_list_append(lms_interp *I, lms_value *l, lms_value *x) {
  if (l->u.seq.n == l->u.seq.cap) {
    if (l->u.seq.cap > (1 << 26)) lms_fail_rt(I, NULL, "list too long");
    int cap = l->u.seq.cap * 2;
    lms_value **items = lms_alloc(I, (size_t)cap * sizeof *items);
    memcpy(items, l->u.seq.items, (size_t)l->u.seq.n * sizeof *items);
    l->u.seq.items = items;
    l->u.seq.cap = cap;
  }
  l->u.seq.items[l->u.seq.n++] = x;
}

lms_value *lms_dict(lms_interp *I) {
  lms_value *d = lms_new(I, V_DICT);
  d->u.dict.cap = 4;
  d->u.dict.keys = lms_alloc(I, 4 * sizeof(lms_value *));
  d->u.dict.vals = lms_alloc(I, 4 * sizeof(lms_value *));
  return d;
}

void lms_dict_set(lms_interp *I, lms_value *d, lms_value *k, lms_value *v) {
  for (int i = 0; i < d->u.dict.n; i++)
    if (lms_equal(d->u.dict.keys[i], k)) {
      d->u.dict.vals[i] = v;
      return;
    }
  if (d->u.dict.n == d->u.dict.cap) {
    int cap = d->u.dict.cap * 2;
    lms_value **keys = lms_alloc(I, (size_t)cap * sizeof *keys);
    lms_value **vals = lms_alloc(I, (size_t)cap * sizeof *vals);
    memcpy(keys, d->u.dict.keys, (size_t)d->u.dict.n * sizeof *keys);
    memcpy(vals, d->u.dict.vals, (size_t)d->u.dict.n * sizeof *vals);
    d->u.dict.keys = keys;
    d->u.dict.vals = vals;
    d->u.dict.cap = cap;
  }
  d->u.dict.keys[d->u.dict.n] = k;
  d->u.dict.vals[d->u.dict.n++] = v;
}

lms_value *lms_dict_get(lms_value *d, lms_value *k) {
  for (int i = 0; i < d->u.dict.n; i++)
    if (lms_equal(d->u.dict.keys[i], k)) return d->u.dict.vals[i];
  return NULL;
}

lms_value *lms_dict_gets(lms_value *d, const char *k) {
  size_t n = strlen(k);
  for (int i = 0; i < d->u.dict.n; i++) {
    lms_value *key = d->u.dict.keys[i];
    if (key->kind == V_STR && key->u.str.len == n && memcmp(key->u.str.s, k, n) == 0)
      return d->u.dict.vals[i];
  }
  return NULL;
}

lms_value *lms_array(lms_interp *I, lm_tensor *t, const lms_node *at) {
  if (!t) lms_fail_lib(I, at);
  lms_value *v = lms_new(I, V_ARRAY);
  v->u.arr = t;
  return v;
}

lms_value *lms_builtin_value(lms_interp *I, const lms_builtin *b, lms_value *self) {
  lms_value *v = lms_new(I, V_BUILTIN);
  v->u.fn.b = b;
  v->u.fn.self = self;
  return v;
}

const char *lms_type_name(const lms_value *v) {
  switch (v->kind) {
  case V_NONE: return "NoneType";
  case V_BOOL: return "bool";
  case V_INT: return "int";
  case V_FLOAT: return "float";
  case V_STR: return "str";
  case V_TUPLE: return "tuple";
  case V_LIST: return "list";
  case V_DICT: return "dict";
  case V_ARRAY: return "ndarray";
  case V_LAYER: return lm_layer_class(v->u.layer.l);
  case V_SYM: return "Tensor";
  case V_MODEL: return v->u.model.sequential ? "Sequential" : "Model";
  case V_OPTIMIZER: return "Optimizer";
  case V_HISTORY: return "History";
  case V_CALLBACK: return v->u.cb.cls;
  case V_MODULE: return "module";
  case V_BUILTIN: return v->u.fn.self ? "method" : "function";
  case V_LAMBDA: return "function";
  }
  return "object";
}

bool lms_is_number(const lms_value *v) {
  return v->kind == V_INT || v->kind == V_FLOAT || v->kind == V_BOOL;
}

double lms_num(const lms_value *v) {
  return v->kind == V_FLOAT ? v->u.f : v->kind == V_INT ? (double)v->u.i : v->u.b ? 1.0 : 0.0;
}

bool lms_truthy(const lms_value *v) {
  switch (v->kind) {
  case V_NONE: return false;
  case V_BOOL: return v->u.b;
  case V_INT: return v->u.i != 0;
  case V_FLOAT: return v->u.f != 0;
  case V_STR: return v->u.str.len > 0;
  case V_TUPLE:
  case V_LIST: return v->u.seq.n > 0;
  case V_DICT: return v->u.dict.n > 0;
  default: return true;
  }
}

bool lms_equal(const lms_value *a, const lms_value *b) {
  if (lms_is_number(a) && lms_is_number(b)) {
    if (a->kind != V_FLOAT && b->kind != V_FLOAT)
      return (a->kind == V_INT ? a->u.i : a->u.b) == (b->kind == V_INT ? b->u.i : b->u.b);
    return lms_num(a) == lms_num(b);
  }
  if (a->kind != b->kind) return false;
  switch (a->kind) {
  case V_NONE: return true;
  case V_STR: return a->u.str.len == b->u.str.len && memcmp(a->u.str.s, b->u.str.s, a->u.str.len) == 0;
  case V_TUPLE:
  case V_LIST:
    if (a->u.seq.n != b->u.seq.n) return false;
    for (int i = 0; i < a->u.seq.n; i++)
      if (!lms_equal(a->u.seq.items[i], b->u.seq.items[i])) return false;
    return true;
  case V_DICT:
    if (a->u.dict.n != b->u.dict.n) return false;
    for (int i = 0; i < a->u.dict.n; i++) {
      lms_value *o = lms_dict_get((lms_value *)b, a->u.dict.keys[i]);
      if (!o || !lms_equal(a->u.dict.vals[i], o)) return false;
    }
    return true;
  case V_ARRAY: return a->u.arr == b->u.arr;
  case V_LAYER: return a->u.layer.l == b->u.layer.l;
  case V_SYM: return a->u.sym == b->u.sym;
  case V_MODEL: return a->u.model.m == b->u.model.m;
  case V_MODULE: return strcmp(a->u.module, b->u.module) == 0;
  default: return a == b;
  }
}

/* Python's repr of a float: the shortest form that reads back the same. */
static void put_float(lm_buf *b, double f) {
  if (isnan(f)) {
    lm_buf_puts(b, "nan");
    return;
  }
  if (isinf(f)) {
    lm_buf_puts(b, f < 0 ? "-inf" : "inf");
    return;
  }
  char s[64];
  int prec = 0;
  for (; prec < 17; prec++) {
    snprintf(s, sizeof s, "%.*e", prec, f);
    if (strtod(s, NULL) == f) break;
  }
  int ex = atoi(strchr(s, 'e') + 1);
  if (ex >= -4 && ex < 16) {
    int places = prec - ex > 0 ? prec - ex : 0;
    snprintf(s, sizeof s, "%.*f", places, f);
    lm_buf_puts(b, s);
    if (places == 0) lm_buf_puts(b, ".0");
    return;
  }
  lm_buf_puts(b, s); /* C's %e matches Python: 1e+16, 1.5e-05 */
}

static void put_repr_str(lm_buf *b, const char *s, size_t n) {
  bool dq = memchr(s, '\'', n) && !memchr(s, '"', n);
  char q = dq ? '"' : '\'';
  lm_buf_putn(b, &q, 1);
  for (size_t i = 0; i < n; i++) {
    unsigned char c = (unsigned char)s[i];
    if (c == '\\') lm_buf_puts(b, "\\\\");
    else if (c == '\n') lm_buf_puts(b, "\\n");
    else if (c == '\t') lm_buf_puts(b, "\\t");
    else if (c == '\r') lm_buf_puts(b, "\\r");
    else if (c == (unsigned char)q) lm_buf_printf(b, "\\%c", q);
    else if (c < 32 || c == 127) lm_buf_printf(b, "\\x%02x", c);
    else lm_buf_putn(b, (const char *)&c, 1);
  }
  lm_buf_putn(b, &q, 1);
}

static void put_array(lms_interp *I, lm_buf *b, lm_tensor *t) {
  int nd = lm_tensor_ndim(t);
  int64_t size = lm_tensor_size(t);
  char shape[160];
  lm_shape_str(nd, lm_tensor_shape(t), shape, sizeof shape);
  const char *dt = lm_tensor_dtype(t) == LM_FLOAT32 ? "float32" : "int32";
  if (nd > 1 || size > 20) {
    lm_buf_printf(b, "array(shape=%s, dtype=%s)", shape, dt);
    return;
  }
  lm_buf_puts(b, nd == 0 ? "array(" : "array([");
  for (int64_t i = 0; i < size; i++) {
    if (i) lm_buf_puts(b, ", ");
    if (lm_tensor_dtype(t) == LM_FLOAT32) {
      lm_buf_printf(b, "%.8g", (double)lm_tensor_f32(t)[i]);
    } else {
      lm_buf_printf(b, "%d", lm_tensor_i32(t)[i]);
    }
  }
  lm_buf_printf(b, nd == 0 ? ", dtype=%s)" : "], dtype=%s)", dt);
  (void)I;
}

void lms_to_str(lms_interp *I, lm_buf *b, const lms_value *v, bool repr) {
  switch (v->kind) {
  case V_NONE: lm_buf_puts(b, "None"); break;
  case V_BOOL: lm_buf_puts(b, v->u.b ? "True" : "False"); break;
  case V_INT: lm_buf_printf(b, "%lld", (long long)v->u.i); break;
  case V_FLOAT: put_float(b, v->u.f); break;
  case V_STR:
    if (repr) put_repr_str(b, v->u.str.s, v->u.str.len);
    else lm_buf_putn(b, v->u.str.s, v->u.str.len);
    break;
  case V_TUPLE:
  case V_LIST:
    lm_buf_puts(b, v->kind == V_LIST ? "[" : "(");
    for (int i = 0; i < v->u.seq.n; i++) {
      if (i) lm_buf_puts(b, ", ");
      lms_to_str(I, b, v->u.seq.items[i], true);
    }
    if (v->kind == V_TUPLE && v->u.seq.n == 1) lm_buf_puts(b, ",");
    lm_buf_puts(b, v->kind == V_LIST ? "]" : ")");
    break;
  case V_DICT:
    lm_buf_puts(b, "{");
    for (int i = 0; i < v->u.dict.n; i++) {
      if (i) lm_buf_puts(b, ", ");
      lms_to_str(I, b, v->u.dict.keys[i], true);
      lm_buf_puts(b, ": ");
      lms_to_str(I, b, v->u.dict.vals[i], true);
    }
    lm_buf_puts(b, "}");
    break;
  case V_ARRAY: put_array(I, b, v->u.arr); break;
  case V_LAYER:
    lm_buf_printf(b, "<%s layer '%s'>", lm_layer_class(v->u.layer.l), lm_layer_name(v->u.layer.l));
    break;
  case V_SYM: {
    int64_t dims[LM_MAX_DIMS];
    int nd = lm_sym_ndim(v->u.sym);
    for (int i = 0; i < nd && i < LM_MAX_DIMS; i++) dims[i] = lm_sym_dim(v->u.sym, i);
    char shape[160];
    lm_shape_str(nd, dims, shape, sizeof shape);
    lm_buf_printf(b, "<tensor '%s' shape=%s>", lm_sym_name(v->u.sym), shape);
    break;
  }
  case V_MODEL:
    lm_buf_printf(b, "<%s '%s'>", v->u.model.sequential ? "Sequential" : "Model",
                  lm_model_name(v->u.model.m));
    break;
  case V_OPTIMIZER: lm_buf_puts(b, "<optimizer>"); break;
  case V_HISTORY: lm_buf_puts(b, "<History>"); break;
  case V_CALLBACK: lm_buf_printf(b, "<callback %s>", v->u.cb.cls); break;
  case V_MODULE: lm_buf_printf(b, "<module '%s'>", v->u.module); break;
  case V_BUILTIN: lm_buf_printf(b, "<built-in function %s>", v->u.fn.b->name); break;
  case V_LAMBDA: lm_buf_puts(b, "<function <lambda>>"); break;
  }
}

/* ---- argument binding ------------------------------------------------------- */

typedef struct spec_param {
  char name[48];
  char type;
  bool none_ok, required, kwonly;
} spec_param;

static int parse_spec(const char *spec, spec_param *out, int max) {
  int n = 0;
  bool kwonly = false;
  const char *s = spec;
  while (*s && n < max) {
    while (*s == ' ' || *s == ',') s++;
    if (!*s) break;
    if (*s == '*') {
      kwonly = true;
      s++;
      continue;
    }
    spec_param *p = &out[n];
    memset(p, 0, sizeof *p);
    size_t k = 0;
    while (*s && *s != ':' && *s != ',' && k + 1 < sizeof p->name) p->name[k++] = *s++;
    p->name[k] = 0;
    p->type = 'x';
    p->required = true;
    if (*s == ':') {
      s++;
      p->type = *s ? *s++ : 'x';
      while (*s == '?' || *s == '=') {
        if (*s == '?') p->none_ok = true;
        p->required = false;
        s++;
      }
    }
    while (*s && *s != ',') s++;
    p->kwonly = kwonly;
    n++;
  }
  return n;
}

static const char *type_word(char t) {
  switch (t) {
  case 'i': return "an int";
  case 'f': return "a number";
  case 'b': return "a bool";
  case 's': return "a string";
  case 'S': return "a shape (an int or a tuple of ints)";
  case 'P': return "an int or a tuple of 2 ints";
  case 'l': return "a list or tuple";
  default: return "a value";
  }
}

static bool type_ok(const lms_value *v, char t) {
  switch (t) {
  case 'i': return v->kind == V_INT || v->kind == V_BOOL;
  case 'f': return lms_is_number(v);
  case 'b': return v->kind == V_BOOL || v->kind == V_INT;
  case 's': return v->kind == V_STR;
  case 'S': {
    if (v->kind == V_INT) return true;
    if (v->kind != V_TUPLE && v->kind != V_LIST) return false;
    for (int i = 0; i < v->u.seq.n; i++)
      if (v->u.seq.items[i]->kind != V_INT && v->u.seq.items[i]->kind != V_NONE) return false;
    return true;
  }
  case 'l': return v->kind == V_LIST || v->kind == V_TUPLE;
  case 'P': {
    if (v->kind == V_INT) return true;
    if ((v->kind != V_TUPLE && v->kind != V_LIST) || v->u.seq.n != 2) return false;
    for (int i = 0; i < 2; i++)
      if (v->u.seq.items[i]->kind != V_INT && v->u.seq.items[i]->kind != V_TUPLE) return false;
    return true;
  }
  default: return true;
  }
}

void lms_bind(lms_interp *I, lms_args *a, const char *fname, const char *spec) {
  spec_param ps[24];
  int n = parse_spec(spec, ps, 24);
  a->fname = fname;
  a->n_slots = n;
  for (int i = 0; i < n; i++) {
    a->slot[i] = NULL;
    a->slot_node[i] = a->call;
    size_t nl = strlen(ps[i].name);
    if (nl >= sizeof a->slot_names[i]) nl = sizeof a->slot_names[i] - 1;
    memcpy(a->slot_names[i], ps[i].name, nl);
    a->slot_names[i][nl] = 0;
  }
  int max_pos = 0;
  while (max_pos < n && !ps[max_pos].kwonly) max_pos++;
  if (a->n_pos > max_pos) {
    const lms_node *at = a->pos_nodes[max_pos];
    if (max_pos == 0) lms_fail(I, at, "%s() takes no positional arguments", fname);
    lms_fail(I, at, "%s() takes at most %d positional argument%s (%d given)", fname, max_pos,
             max_pos == 1 ? "" : "s", a->n_pos);
  }
  for (int i = 0; i < a->n_pos; i++) {
    a->slot[i] = a->pos[i];
    a->slot_node[i] = a->pos_nodes[i];
  }
  for (int k = 0; k < a->n_kw; k++) {
    int j = 0;
    while (j < n && strcmp(ps[j].name, a->kw_names[k]) != 0) j++;
    if (j == n)
      lms_fail(I, a->kw_nodes[k], "%s() got an unexpected keyword argument '%s'", fname,
               a->kw_names[k]);
    if (a->slot[j])
      lms_fail(I, a->kw_nodes[k], "%s() got multiple values for argument '%s'", fname,
               a->kw_names[k]);
    a->slot[j] = a->kw[k];
    a->slot_node[j] = a->kw_nodes[k];
  }
  for (int j = 0; j < n; j++) {
    lms_value *v = a->slot[j];
    if (!v) {
      if (ps[j].required)
        lms_fail(I, a->call, "%s() missing required argument '%s'", fname, ps[j].name);
      continue;
    }
    if (v->kind == V_NONE && ps[j].none_ok) continue;
    if (!type_ok(v, ps[j].type)) {
      /* a tuple or list of the wrong items: name the item's type */
      const lms_value *bad = NULL;
      if ((ps[j].type == 'S' || ps[j].type == 'P') && (v->kind == V_TUPLE || v->kind == V_LIST))
        for (int i = 0; i < v->u.seq.n && !bad; i++)
          if (v->u.seq.items[i]->kind != V_INT && v->u.seq.items[i]->kind != V_NONE)
            bad = v->u.seq.items[i];
      if (bad)
        lms_fail(I, a->slot_node[j], "%s() argument '%s' must be %s, not a %s holding %s", fname,
                 ps[j].name, type_word(ps[j].type), lms_type_name(v), lms_type_name(bad));
      lms_fail(I, a->slot_node[j], "%s() argument '%s' must be %s, not %s", fname, ps[j].name,
               type_word(ps[j].type), lms_type_name(v));
    }
  }
}

int lms_slot(const lms_args *a, const char *name) {
  for (int i = 0; i < a->n_slots; i++)
    if (strcmp(a->slot_names[i], name) == 0) return i;
  return -1;
}

lms_value *lms_arg(lms_args *a, int slot) {
  if (slot < 0 || slot >= a->n_slots) return NULL;
  lms_value *v = a->slot[slot];
  return v && v->kind != V_NONE ? v : NULL;
}
int64_t lms_arg_int(lms_args *a, int slot, int64_t def) {
  lms_value *v = lms_arg(a, slot);
  return v ? (v->kind == V_BOOL ? v->u.b : v->u.i) : def;
}
double lms_arg_float(lms_args *a, int slot, double def) {
  lms_value *v = lms_arg(a, slot);
  return v ? lms_num(v) : def;
}
bool lms_arg_bool(lms_args *a, int slot, bool def) {
  lms_value *v = lms_arg(a, slot);
  return v ? lms_truthy(v) : def;
}
const char *lms_arg_str(lms_args *a, int slot, const char *def) {
  lms_value *v = lms_arg(a, slot);
  return v ? v->u.str.s : def;
}
const lms_node *lms_arg_node(lms_args *a, int slot) {
  return slot >= 0 && slot < a->n_slots ? a->slot_node[slot] : a->call;
}

int lms_shape_of(lms_interp *I, lms_value *v, const lms_node *at, int64_t *dims, bool allow_none) {
  if (v->kind == V_INT) {
    if (v->u.i < 0) lms_fail(I, at, "negative dimension %lld in a shape", (long long)v->u.i);
    dims[0] = v->u.i;
    return 1;
  }
  if (v->kind != V_TUPLE && v->kind != V_LIST)
    lms_fail(I, at, "expected a shape (an int or a tuple of ints), not %s", lms_type_name(v));
  if (v->u.seq.n > LM_MAX_DIMS) lms_fail(I, at, "shapes have at most %d dimensions", LM_MAX_DIMS);
  for (int i = 0; i < v->u.seq.n; i++) {
    lms_value *d = v->u.seq.items[i];
    if (d->kind == V_NONE && allow_none) {
      dims[i] = LM_NONE;
    } else if (d->kind == V_INT && d->u.i >= 0 && d->u.i <= INT32_MAX) {
      dims[i] = d->u.i;
    } else if (d->kind == V_INT) {
      lms_fail(I, at, "invalid dimension %lld in a shape", (long long)d->u.i);
    } else {
      lms_fail(I, at, "a shape holds ints%s, not %s", allow_none ? " or None" : "",
               lms_type_name(d));
    }
  }
  return v->u.seq.n;
}

int lms_arg_shape(lms_interp *I, lms_args *a, int slot, int64_t *dims) {
  lms_value *v = lms_arg(a, slot);
  if (!v) return -1;
  return lms_shape_of(I, v, lms_arg_node(a, slot), dims, true);
}

/* hp.* (Hyperopt's spelling) in model scripts, the fit hook that reports each
 * epoch's objective to a trial, and the few helpers tuning scripts need:
 * math.log/exp (np.log/np.exp of numbers) for Hyperopt's log-space bounds and
 * sklearn.datasets.load_digits (the digits that Debian's python3-sklearn
 * ships). See src/script/hp.h and docs/tuning.md. */
#include "script/hp.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "data/csv.h"
#include "script/interp.h"
#include "tune/tune.h"

typedef struct hp_rec {
  char *label;
  lmh_kind kind;
  double low, high, q;
  bool as_int;      /* quantised with whole numbers: the script gets an int */
  int n_opt;
  char **opts;      /* choice option labels */
  int parent, popt; /* enclosing choice (record index) and its option */
  const lms_value *v; /* what the call returned (nesting is found by identity) */
} hp_rec;

struct lms_hp {
  lm_ctx *ctx; /* the owner of recs (not the script's context) */
  bool discover;
  bool in_call; /* an error inside hp.* itself ends the search */
  hp_rec *recs;
  int n, cap;
  /* a trial */
  lm_trial *t;
  const lm_space *space;
  const char *objective;
  lm_callback cb;
  int epochs;
  double last;
  bool pruned;
};

/* ---- the hp.* functions ---- */

static bool label_ok(const char *s) {
  if (!*s) return false;
  for (; *s; s++)
    if (*s == ':' || *s == ';' || *s == '|' || *s == '=' || *s == ' ' || *s == '\n') return false;
  return true;
}

/* Option text shown in tables and stored in the study: a number or a string
 * as itself; a dict by its first string value ({'type': 'adam', ...} ->
 * adam); anything else option<i>. Characters the study file reserves go. */
static char *option_label(lms_interp *I, const lms_value *v, int i) {
  /* registered (in the arena, not on this stack frame) so that an error
   * unwinding from lms_strndup below frees its data */
  lm_buf *bp = lms_alloc(I, sizeof *bp);
  lm_buf_init(bp, I->ctx);
  I->bufs[I->n_bufs++] = bp;
  const lms_value *shown = NULL;
  if (v->kind == V_STR || v->kind == V_INT || v->kind == V_FLOAT || v->kind == V_BOOL ||
      v->kind == V_NONE)
    shown = v;
  else if (v->kind == V_DICT)
    for (int k = 0; k < v->u.dict.n && !shown; k++)
      if (v->u.dict.vals[k]->kind == V_STR) shown = v->u.dict.vals[k];
  if (shown) lms_to_str(I, bp, shown, false);
  else lm_buf_printf(bp, "option%d", i);
  char *out = bp->data && !bp->oom ? lms_strndup(I, bp->data, bp->len) : NULL;
  I->n_bufs--;
  lm_buf_free(bp);
  if (!out) lms_fail_rt(I, NULL, "out of memory");
  for (char *c = out; *c; c++)
    if (*c == ':' || *c == ';' || *c == '|' || *c == ' ' || *c == '\n') *c = '_';
  if (!*out) return lms_strndup(I, "_", 1);
  return out;
}

static lms_hp *hp_of(lms_interp *I, const lms_node *at, const char *fname) {
  lms_hp *hp = I->opts.hp;
  if (!hp)
    lms_fail(I, at, "%s: hp.* defines a search space; run the script with `lamina tune` "
             "(docs/tuning.md)", fname);
  return hp;
}

static int find_rec(const lms_hp *hp, const char *label) {
  for (int i = 0; i < hp->n; i++)
    if (strcmp(hp->recs[i].label, label) == 0) return i;
  return -1;
}

/* A copy, so each hp.* result is a distinct object. */
static lms_value *fresh(lms_interp *I, const lms_value *v) {
  lms_value *c = lms_new(I, v->kind);
  c->u = v->u;
  return c;
}

/* Marks the hp.* results found in an option (not below them) as its children. */
static void adopt(lms_hp *hp, const lms_value *v, int parent, int opt, int depth) {
  if (!v || depth > 32) return;
  for (int i = 0; i < hp->n; i++)
    if (hp->recs[i].v == v && i != parent) {
      if (hp->recs[i].parent < 0) {
        hp->recs[i].parent = parent;
        hp->recs[i].popt = opt;
      }
      return;
    }
  if (v->kind == V_LIST || v->kind == V_TUPLE)
    for (int k = 0; k < v->u.seq.n; k++) adopt(hp, v->u.seq.items[k], parent, opt, depth + 1);
  else if (v->kind == V_DICT)
    for (int k = 0; k < v->u.dict.n; k++) adopt(hp, v->u.dict.vals[k], parent, opt, depth + 1);
}

static lms_value *number(lms_interp *I, double v, bool as_int) {
  return as_int ? lms_int(I, (int64_t)llround(v)) : lms_float(I, v);
}

static bool whole(double v) { return isfinite(v) && v == floor(v) && fabs(v) < 1e15; }

/* What a call gives when the study has no value for it: while the space is
 * collected, and in a trial where its choice took another option (options are
 * all evaluated, so SGD(lr=hp.loguniform(...)) must still get a number). */
static lms_value *stand_in(lms_interp *I, const hp_rec *r, lms_value *options) {
  if (r->kind == LMH_CHOICE) return fresh(I, options->u.seq.items[0]);
  if (r->kind == LMH_NORMAL) return lms_float(I, r->low);
  double mid = r->kind == LMH_LOGUNIFORM || r->kind == LMH_QLOGUNIFORM ? sqrt(r->low * r->high)
                                                                       : 0.5 * (r->low + r->high);
  if (r->kind == LMH_RANDINT) mid = floor(mid);
  else if (r->q > 0) mid = round(mid / r->q) * r->q;
  return number(I, mid, r->as_int);
}

static lms_value *hp_value(lms_interp *I, lms_hp *hp, lms_args *a, const char *k,
                           const char *fname);

static lms_value *hp_fn(lms_interp *I, lms_value *self, lms_args *a) {
  (void)self;
  const char *k = a->callee->data, *fname = a->callee->name;
  lms_hp *hp = hp_of(I, a->call, fname);
  hp->in_call = true;
  lms_value *out = hp_value(I, hp, a, k, fname);
  hp->in_call = false;
  return out;
}

static lms_value *hp_value(lms_interp *I, lms_hp *hp, lms_args *a, const char *k,
                           const char *fname) {
  const char *label = lms_arg_str(a, 0, "");
  if (!label_ok(label))
    lms_fail(I, lms_arg_node(a, 0), "%s: the label '%s' must be a non-empty name without "
             "spaces, ':', ';', '|' or '='", fname, label);
  hp_rec r = {.parent = -1, .popt = -1};
  lms_value *options = NULL;
  if (strcmp(k, "choice") == 0) {
    options = a->slot[1];
    if ((options->kind != V_LIST && options->kind != V_TUPLE) || options->u.seq.n < 1)
      lms_fail(I, lms_arg_node(a, 1), "%s: options must be a non-empty list", fname);
    if (options->u.seq.n > 256)
      lms_fail(I, lms_arg_node(a, 1), "%s: at most 256 options", fname);
    r.kind = LMH_CHOICE;
    r.n_opt = options->u.seq.n;
  } else if (strcmp(k, "randint") == 0) { /* randint(label, upper) or (label, low, high) */
    int64_t lo = lms_arg(a, 2) ? lms_arg_int(a, 1, 0) : 0;
    int64_t hi = lms_arg(a, 2) ? lms_arg_int(a, 2, 0) : lms_arg_int(a, 1, 0);
    r.kind = LMH_RANDINT;
    r.low = (double)lo;
    r.high = (double)hi;
    r.as_int = true;
  } else {
    double lo = lms_arg_float(a, 1, 0), hi = lms_arg_float(a, 2, 0);
    double q = lms_arg(a, 3) ? lms_arg_float(a, 3, 1) : 1;
    bool logb = strcmp(k, "loguniform") == 0 || strcmp(k, "qloguniform") == 0;
    if (logb) { /* Hyperopt's bounds are logs: hp.loguniform('lr', np.log(1e-5), 0) */
      lo = exp(lo);
      hi = exp(hi);
    }
    r.low = lo;
    r.high = hi;
    if (strcmp(k, "uniform") == 0) r.kind = LMH_UNIFORM;
    else if (strcmp(k, "loguniform") == 0) r.kind = LMH_LOGUNIFORM;
    else if (strcmp(k, "normal") == 0) r.kind = LMH_NORMAL;
    else {
      r.kind = logb ? LMH_QLOGUNIFORM : LMH_QUNIFORM;
      r.q = q;
      r.as_int = whole(q) && (logb || (whole(lo) && whole(hi)));
      if (strcmp(k, "uniformint") == 0) r.as_int = true;
      if (logb) { /* whole-number value bounds after exp(): round them back */
        r.low = r.as_int ? round(lo) : lo;
        r.high = r.as_int ? round(hi) : hi;
        if (!(r.low > 0)) r.low = lo;
      }
    }
  }
  if (hp->discover) {
    if (find_rec(hp, label) >= 0)
      lms_fail(I, lms_arg_node(a, 0), "%s: the label '%s' is used twice", fname, label);
    if (lm_grow(hp->ctx, (void **)&hp->recs, &hp->cap, hp->n + 1, sizeof *hp->recs))
      lms_fail_lib(I, a->call);
    r.label = lm_strdup(hp->ctx, label);
    if (!r.label) lms_fail_lib(I, a->call);
    hp->recs[hp->n++] = r;
    hp_rec *rr = &hp->recs[hp->n - 1];
    lms_value *v;
    if (r.kind == LMH_CHOICE) {
      rr->opts = lm_alloc(hp->ctx, sizeof(char *) * (size_t)r.n_opt);
      if (!rr->opts) lms_fail_lib(I, a->call);
      for (int j = 0; j < r.n_opt; j++) {
        char *lab = option_label(I, options->u.seq.items[j], j);
        for (int d = 0; d < j; d++) /* the study needs distinct option texts */
          if (strcmp(rr->opts[d], lab) == 0) {
            char tmp[32];
            snprintf(tmp, sizeof tmp, "option%d", j);
            lab = lms_strndup(I, tmp, strlen(tmp));
            break;
          }
        rr->opts[j] = lm_strdup(hp->ctx, lab);
        if (!rr->opts[j]) lms_fail_lib(I, a->call);
      }
      for (int j = 0; j < r.n_opt; j++) adopt(hp, options->u.seq.items[j], hp->n - 1, j, 0);
    }
    v = stand_in(I, &r, options);
    rr->v = v;
    return v;
  }
  /* a trial: the value the study chose */
  const lm_space *sp = hp->space;
  int id = -1;
  for (int i = 0; i < sp->n && id < 0; i++)
    if (strcmp(sp->p[i].name, label) == 0) id = i;
  if (id < 0)
    lms_fail(I, lms_arg_node(a, 0), "%s: '%s' is not in the study's search space (the script "
             "changed since the study began?)", fname, label);
  if (!lm_trial_active(hp->t, label)) return stand_in(I, &r, options); /* unused option */
  if (r.kind == LMH_CHOICE) {
    const char *opt = lm_trial_str(hp->t, label);
    const lmh_param *p = &sp->p[id];
    if (p->kind != LMH_CHOICE || p->n_opt != r.n_opt)
      lms_fail(I, lms_arg_node(a, 1), "%s: '%s' has %d options in the study, %d here", fname,
               label, p->n_opt, r.n_opt);
    for (int j = 0; j < p->n_opt; j++)
      if (opt && strcmp(p->opts[j], opt) == 0) return options->u.seq.items[j];
    lms_fail(I, a->call, "%s: no option of '%s' matches the trial's '%s'", fname, label,
             opt ? opt : "?");
  }
  return number(I, lm_trial_float(hp->t, label), r.as_int);
}

static const lms_builtin hp_fns[] = {
    {"hp.choice", hp_fn, "label:s, options:x", "choice"},
    {"hp.uniform", hp_fn, "label:s, low:f, high:f", "uniform"},
    {"hp.quniform", hp_fn, "label:s, low:f, high:f, q:f", "quniform"},
    {"hp.loguniform", hp_fn, "label:s, low:f, high:f", "loguniform"},
    {"hp.qloguniform", hp_fn, "label:s, low:f, high:f, q:f", "qloguniform"},
    {"hp.normal", hp_fn, "label:s, mu:f, sigma:f", "normal"},
    {"hp.randint", hp_fn, "label:s, low:i, high:i?=", "randint"},
    {"hp.uniformint", hp_fn, "label:s, low:f, high:f, q:f=", "uniformint"},
};

/* ---- math.log / math.exp (np.log / np.exp of a number) ---- */

static lms_value *math_fn(lms_interp *I, lms_value *self, lms_args *a) {
  (void)self;
  const char *k = a->callee->data;
  lms_value *x = a->slot[0];
  if (!lms_is_number(x))
    lms_fail(I, lms_arg_node(a, 0), "%s: lamina supports numbers here, not %s", a->callee->name,
             lms_type_name(x));
  double v = lms_num(x);
  if (strcmp(k, "exp") == 0) return lms_float(I, exp(v));
  if (!(v > 0)) lms_fail(I, lms_arg_node(a, 0), "%s: math domain error", a->callee->name);
  return lms_float(I, strcmp(k, "log10") == 0 ? log10(v) : log(v));
}

static const lms_builtin math_fns[] = {
    {"math.log", math_fn, "x:x", "log"}, {"math.exp", math_fn, "x:x", "exp"},
    {"math.log10", math_fn, "x:x", "log10"}, {"np.log", math_fn, "x:x", "log"},
    {"np.exp", math_fn, "x:x", "exp"}, {"np.log10", math_fn, "x:x", "log10"},
};

/* ---- sklearn.datasets.load_digits ---- */

static const char *digits_path(void) {
  static const char *const candidates[] = {
      "/usr/lib/python3/dist-packages/sklearn/datasets/data/digits.csv.gz",
      "../shared/data/digits/digits.csv.gz", "../../shared/data/digits/digits.csv.gz"};
  const char *env = getenv("LAMINA_DIGITS");
  if (env) return env;
  for (size_t i = 0; i < sizeof candidates / sizeof *candidates; i++)
    if (access(candidates[i], R_OK) == 0) return candidates[i];
  return NULL;
}

/* load_digits(return_X_y=True): (x (1797, 64) float32 in 0..16, y (1797,) int32);
 * return_X_y=False is a dict with 'data' and 'target'. */
static lms_value *load_digits(lms_interp *I, lms_value *self, lms_args *a) {
  (void)self;
  int64_t n_class = lms_arg_int(a, 0, 10);
  const char *path = digits_path();
  if (!path)
    lms_fail_rt(I, a->call, "load_digits: digits.csv.gz not found: install Debian's "
                "python3-sklearn (apt-get install python3-sklearn) or set LAMINA_DIGITS");
  lm_tensor *t = lmd_load_csv(I->ctx, path, ',', 0);
  if (!t) lms_fail_lib(I, a->call);
  int64_t n = lm_tensor_dim(t, 0), m = 0;
  if (lm_tensor_dim(t, 1) != 65) {
    lm_tensor_free(t);
    lms_fail_rt(I, a->call, "load_digits: %s: expected 65 columns (64 pixels and a label)", path);
  }
  const float *src = lm_tensor_f32(t);
  for (int64_t i = 0; i < n; i++) m += src[i * 65 + 64] < (float)n_class;
  int64_t xs[2] = {m, 64}, ys[1] = {m};
  lm_tensor *x = lm_tensor_new(I->ctx, LM_FLOAT32, 2, xs), *y = lm_tensor_new(I->ctx, LM_INT32, 1, ys);
  if (!x || !y) {
    lm_tensor_free(t);
    lm_tensor_free(x);
    lm_tensor_free(y);
    lms_fail_lib(I, a->call);
  }
  for (int64_t i = 0, r = 0; i < n; i++) {
    if (!(src[i * 65 + 64] < (float)n_class)) continue;
    memcpy(lm_tensor_f32(x) + r * 64, src + i * 65, 64 * sizeof(float));
    lm_tensor_i32(y)[r++] = (int32_t)src[i * 65 + 64];
  }
  lm_tensor_free(t);
  lms_value *xv = lms_array(I, x, a->call), *yv = lms_array(I, y, a->call);
  if (lms_arg_bool(a, 1, false)) {
    lms_value *tup = lms_seq(I, V_TUPLE, 2);
    tup->u.seq.items[0] = xv;
    tup->u.seq.items[1] = yv;
    return tup;
  }
  lms_value *d = lms_dict(I);
  lms_dict_set(I, d, lms_cstr(I, "data"), xv);
  lms_dict_set(I, d, lms_cstr(I, "target"), yv);
  return d;
}

static const lms_builtin load_digits_fn = {"load_digits", load_digits,
                                           "n_class:i=, *, return_X_y:b=, as_frame:b=", NULL};

lms_value *lms_hp_module_attr(lms_interp *I, const char *module, const char *name,
                              const lms_node *at) {
  (void)at;
  const lms_builtin *tab = NULL;
  size_t n = 0;
  if (strcmp(module, "lamina.hp") == 0) tab = hp_fns, n = sizeof hp_fns / sizeof *hp_fns;
  else if (strcmp(module, "math") == 0 || strcmp(module, "numpy") == 0)
    tab = math_fns, n = sizeof math_fns / sizeof *math_fns;
  else if (strcmp(module, "sklearn.datasets") == 0 && strcmp(name, "load_digits") == 0)
    return lms_builtin_value(I, &load_digits_fn, NULL);
  for (size_t i = 0; i < n; i++) {
    const char *dot = strchr(tab[i].name, '.');
    bool np = strncmp(tab[i].name, "np.", 3) == 0;
    if (np != (strcmp(module, "numpy") == 0)) continue;
    if (strcmp(dot + 1, name) == 0) return lms_builtin_value(I, &tab[i], NULL);
  }
  return NULL;
}

/* ---- the fit hook ---- */

static lm_status hp_epoch_end(lm_callback *cb, int epoch, lm_logs *logs) {
  (void)epoch;
  lms_hp *hp = cb->ud;
  double v;
  const char *key = hp->objective;
  bool found = lm_logs_get(logs, key, &v);
  if (!found && strcmp(key, "val_acc") == 0) found = lm_logs_get(logs, "val_accuracy", &v);
  if (!found && strcmp(key, "val_accuracy") == 0) found = lm_logs_get(logs, "val_acc", &v);
  if (!found) {
    char keys[256] = "";
    for (int i = 0; i < lm_logs_n(logs); i++) {
      size_t l = strlen(keys);
      snprintf(keys + l, sizeof keys - l, "%s%s", i ? ", " : "", lm_logs_key(logs, i));
    }
    return lm_fail(hp->ctx, LM_ERR_ARG, "lamina tune: fit's logs have no '%s' (they have: %s); "
                   "give fit validation data or pick another --objective", key, keys);
  }
  hp->last = v;
  hp->epochs++;
  if (lm_trial_report(hp->t, hp->epochs, v)) {
    hp->pruned = true;
    if (cb->model) lm_model_stop_training(cb->model);
  }
  return LM_OK;
}

static const lm_callback_vt hp_vt = {.name = "TrialReport", .on_epoch_end = hp_epoch_end};

void lms_hp_fit_hook(lms_interp *I, lm_fit_opts *fo) {
  lms_hp *hp = I->opts.hp;
  if (!hp || hp->discover || !hp->t) return;
  if (hp->pruned) { /* a later fit of a pruned trial does not train */
    fo->epochs = fo->initial_epoch;
    return;
  }
  lm_callback **list = lms_alloc(I, sizeof *list * (size_t)(fo->n_callbacks + 1));
  for (int i = 0; i < fo->n_callbacks; i++) list[i] = fo->callbacks[i];
  hp->cb.vt = &hp_vt;
  hp->cb.ud = hp;
  list[fo->n_callbacks] = &hp->cb;
  fo->callbacks = list;
  fo->n_callbacks++;
}

/* ---- driving a script ---- */

typedef struct err_sink {
  char *buf;
  size_t len;
} err_sink;

static void to_err(void *ud, const char *text) {
  err_sink *e = ud;
  if (!e->buf || !e->len) return;
  size_t have = strlen(e->buf);
  snprintf(e->buf + have, e->len - have, "%s", text);
}

static void quiet(void *ud, const char *text) {
  (void)ud;
  (void)text;
}

static void free_recs(lms_hp *hp) {
  for (int i = 0; i < hp->n; i++) {
    lm_dealloc(hp->ctx, hp->recs[i].label);
    for (int j = 0; j < hp->recs[i].n_opt && hp->recs[i].opts; j++)
      lm_dealloc(hp->ctx, hp->recs[i].opts[j]);
    lm_dealloc(hp->ctx, hp->recs[i].opts);
  }
  lm_dealloc(hp->ctx, hp->recs);
}

/* Declares record i, then the parameters that depend on it. */
static lm_status emit(lms_hp *hp, lm_space *s, int i, int *id) {
  const hp_rec *r = &hp->recs[i];
  int k;
  switch (r->kind) {
  case LMH_CHOICE: k = lm_space_choice(s, r->label, r->n_opt, (const char *const *)r->opts); break;
  case LMH_UNIFORM: k = lm_space_uniform(s, r->label, r->low, r->high); break;
  case LMH_QUNIFORM: k = lm_space_quniform(s, r->label, r->low, r->high, r->q); break;
  case LMH_LOGUNIFORM: k = lm_space_loguniform(s, r->label, r->low, r->high); break;
  case LMH_QLOGUNIFORM: k = lm_space_qloguniform(s, r->label, r->low, r->high, r->q); break;
  case LMH_NORMAL: k = lm_space_normal(s, r->label, r->low, r->high); break;
  default: k = lm_space_randint(s, r->label, (int64_t)r->low, (int64_t)r->high); break;
  }
  if (k < 0) return lm_errcode(hp->ctx);
  id[i] = k;
  if (r->parent >= 0 && lm_space_only_if(s, k, id[r->parent], r->popt)) return lm_errcode(hp->ctx);
  for (int j = 0; j < hp->n; j++)
    if (hp->recs[j].parent == i && emit(hp, s, j, id)) return lm_errcode(hp->ctx);
  return LM_OK;
}

lm_space *lms_hp_space(lm_ctx *ctx, const char *name, const char *src, size_t len,
                       const lms_opts *opts, char *err, size_t err_len) {
  if (err && err_len) err[0] = 0;
  lms_hp hp = {.ctx = ctx, .discover = true};
  err_sink es = {err, err_len};
  lms_opts o = opts ? *opts : (lms_opts){0};
  o.mode = LMS_MODE_SUMMARY; /* no training; summaries go nowhere */
  o.out = quiet;
  o.err = to_err;
  o.err_ud = &es;
  o.hp = &hp;
  /* the script's objects (and its log settings) on a context of its own */
  lm_ctx *run = lm_ctx_new(NULL, NULL);
  int st = run ? lms_run_source(run, name, src, len, &o) : LMS_RUNTIME;
  lm_ctx_free(run);
  lm_space *s = NULL;
  /* Without training, code after fit may fail (history values are empty):
   * the space is what the hp.* calls before that defined. */
  if (hp.in_call) { /* an error in hp.* itself: err has the report */
    lm_fail(ctx, LM_ERR_ARG, "%s: a wrong hp.* call", name);
    goto done;
  }
  if (hp.n == 0) {
    if (st == LMS_OK) lm_fail(ctx, LM_ERR_ARG, "%s: the script has no hp.* values to tune", name);
    else lm_fail(ctx, LM_ERR_ARG, "%s: the script failed before any hp.* value", name);
    goto done;
  }
  if (err && err_len) err[0] = 0;
  s = lm_space_new(ctx);
  int *id = lm_alloc(ctx, sizeof(int) * (size_t)hp.n);
  if (!s || !id) goto fail;
  for (int i = 0; i < hp.n; i++)
    if (hp.recs[i].parent < 0 && emit(&hp, s, i, id)) goto fail;
  lm_dealloc(ctx, id);
  goto done;
fail:
  lm_dealloc(ctx, id);
  lm_space_free(s);
  s = NULL;
done:
  free_recs(&hp);
  return s;
}

lms_hp_result lms_hp_trial(lm_ctx *ctx, const char *name, const char *src, size_t len,
                           const lms_opts *opts, lm_trial *t, const lm_space *space,
                           const char *objective) {
  lms_hp hp = {.ctx = ctx, .t = t, .space = space, .objective = objective ? objective : "val_acc",
               .last = NAN};
  lms_opts o = opts ? *opts : (lms_opts){0};
  o.mode = LMS_MODE_RUN;
  o.hp = &hp;
  lms_hp_result r = {.status = lms_run_source(ctx, name, src, len, &o)};
  r.value = hp.last;
  r.epochs = hp.epochs;
  r.pruned = hp.pruned;
  return r;
}

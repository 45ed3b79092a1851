/* Keras 2.2.4 callbacks (keras/callbacks.py): EarlyStopping,
 * ReduceLROnPlateau, LearningRateScheduler, CSVLogger, TerminateOnNaN,
 * ModelCheckpoint; the logs they read and write; Python's float repr and
 * str.format subset that their messages and file names need. */
#include <math.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "train/callbacks.h"

/* ---- logs ---- */

void lmt_logs_clear(lm_logs *l) { l->n = 0; }
int lm_logs_n(const lm_logs *l) { return l ? l->n : 0; }
const char *lm_logs_key(const lm_logs *l, int i) {
  return l && i >= 0 && i < l->n ? l->keys[i] : NULL;
}
double lm_logs_value(const lm_logs *l, int i) { return l && i >= 0 && i < l->n ? l->vals[i] : NAN; }

bool lm_logs_get(const lm_logs *l, const char *key, double *value) {
  for (int i = 0; l && key && i < l->n; i++)
    if (strcmp(l->keys[i], key) == 0) {
      if (value) *value = l->vals[i];
      return true;
    }
  return false;
}

lm_status lm_logs_set(lm_logs *l, const char *key, double value) {
  if (!l || !key || strlen(key) >= sizeof l->keys[0]) return LM_ERR_ARG;
  for (int i = 0; i < l->n; i++)
    if (strcmp(l->keys[i], key) == 0) {
      l->vals[i] = value;
      return LM_OK;
    }
  if (l->n == LMT_MAX_LOGS) return LM_ERR_ARG;
  snprintf(l->keys[l->n], sizeof l->keys[0], "%s", key);
  l->vals[l->n++] = value;
  return LM_OK;
}

static void logs_keys_str(const lm_logs *l, const char *sep, char *out, size_t len) {
  size_t at = 0;
  out[0] = '\0';
  for (int i = 0; i < l->n && at < len; i++) {
    int w = snprintf(out + at, len - at, "%s%s", i ? sep : "", l->keys[i]);
    if (w < 0) break;
    at += (size_t)w;
  }
}

/* ---- Python float formatting ---- */

static void repr_digits(const char *sci, char *out, size_t len) {
  /* sci is "[-]d.ddde[+-]xx" from %.*e: rebuild Python's repr layout */
  char digits[40];
  int nd = 0;
  bool neg = *sci == '-';
  const char *p = sci + neg;
  for (; *p && *p != 'e' && nd < 39; p++)
    if (*p >= '0' && *p <= '9') digits[nd++] = *p;
  int exp10 = *p == 'e' ? atoi(p + 1) : 0;
  while (nd > 1 && digits[nd - 1] == '0') nd--;
  digits[nd] = '\0';
  int decpt = exp10 + 1;
  char buf[64];
  size_t at = 0;
  if (neg) buf[at++] = '-';
  if (decpt > -4 && decpt <= 16) {
    if (decpt <= 0) {
      buf[at++] = '0';
      buf[at++] = '.';
      for (int i = 0; i < -decpt; i++) buf[at++] = '0';
      for (int i = 0; i < nd; i++) buf[at++] = digits[i];
    } else if (decpt >= nd) {
      for (int i = 0; i < nd; i++) buf[at++] = digits[i];
      for (int i = nd; i < decpt; i++) buf[at++] = '0';
      buf[at++] = '.';
      buf[at++] = '0';
    } else {
      for (int i = 0; i < nd; i++) {
        if (i == decpt) buf[at++] = '.';
        buf[at++] = digits[i];
      }
    }
    buf[at] = '\0';
  } else {
    buf[at++] = digits[0];
    if (nd > 1) {
      buf[at++] = '.';
      for (int i = 1; i < nd; i++) buf[at++] = digits[i];
    }
    snprintf(buf + at, sizeof buf - at, "e%c%02d", exp10 < 0 ? '-' : '+', abs(exp10));
  }
  snprintf(out, len, "%s", buf);
}

static bool special(double v, char *out, size_t len) {
  if (isnan(v))
    snprintf(out, len, "nan");
  else if (isinf(v))
    snprintf(out, len, "%s", v < 0 ? "-inf" : "inf");
  else if (v == 0)
    snprintf(out, len, "%s", signbit(v) ? "-0.0" : "0.0");
  else
    return false;
  return true;
}

void lmt_py_repr(double v, char *out, size_t len) {
  if (special(v, out, len)) return;
  char sci[48];
  for (int prec = 0; prec < 17; prec++) {
    snprintf(sci, sizeof sci, "%.*e", prec, v);
    if (strtod(sci, NULL) == v) break;
  }
  repr_digits(sci, out, len);
}

void lmt_py_repr_f32(float v, char *out, size_t len) {
  if (special(v, out, len)) return;
  char sci[48];
  for (int prec = 0; prec < 9; prec++) {
    snprintf(sci, sizeof sci, "%.*e", prec, (double)v);
    if (strtof(sci, NULL) == v) break;
  }
  repr_digits(sci, out, len);
}

/* ---- ModelCheckpoint file names: str.format(epoch=..., **logs) ---- */

static lm_status format_field(lm_ctx *ctx, const char *tmpl, const char *key, const char *spec,
                              bool is_int, double v, lm_buf *b) {
  /* spec: [+][0][width][.precision][type] */
  const char *s = spec;
  bool plus = false, zero = false;
  if (*s == '+') plus = true, s++;
  if (*s == '0') zero = true, s++;
  int width = 0, prec = -1;
  while (*s >= '0' && *s <= '9') width = width * 10 + (*s++ - '0');
  if (*s == '.') {
    s++;
    prec = 0;
    if (!(*s >= '0' && *s <= '9'))
      return lm_fail(
          ctx, LM_ERR_ARG,
          "ModelCheckpoint: filepath \"%s\": Format specifier missing precision in {%s:%s}", tmpl,
          key, spec);
    while (*s >= '0' && *s <= '9') prec = prec * 10 + (*s++ - '0');
  }
  char type = *s ? *s++ : '\0';
  if (*s || width > 200 || prec > 60 || (type && !strchr("dfFeEgGs", type)))
    return lm_fail(ctx, LM_ERR_ARG,
                   "ModelCheckpoint: filepath \"%s\": unsupported format spec '%s' for key '%s' "
                   "(supported: [+][0][width][.precision][d|f|e|g|E|G|s])",
                   tmpl, spec, key);
  if (type == 'd' && !is_int)
    return lm_fail(ctx, LM_ERR_ARG,
                   "ModelCheckpoint: filepath \"%s\": Unknown format code 'd' for object of type "
                   "'float' (key '%s'; use :f, :e or :g)",
                   tmpl, key);
  if (type == 's' && is_int)
    return lm_fail(ctx, LM_ERR_ARG,
                   "ModelCheckpoint: filepath \"%s\": Unknown format code 's' for object of type "
                   "'int' (key '%s')",
                   tmpl, key);
  char body[128], fmt[32];
  if (is_int && (type == 'd' || !type)) {
    snprintf(fmt, sizeof fmt, "%%%s%s%dlld", plus ? "+" : "", zero ? "0" : "", width);
    snprintf(body, sizeof body, fmt, (long long)v);
  } else if (type && type != 's') {
    snprintf(fmt, sizeof fmt, "%%%s%s%d.%d%c", plus ? "+" : "", zero ? "0" : "", width,
             prec < 0 ? 6 : prec, type);
    snprintf(body, sizeof body, fmt, v);
  } else if (prec >= 0) { /* no type, a precision: like g */
    snprintf(fmt, sizeof fmt, "%%%s%s%d.%dg", plus ? "+" : "", zero ? "0" : "", width, prec);
    snprintf(body, sizeof body, fmt, v);
  } else {
    char r[64];
    lmt_py_repr(v, r, sizeof r);
    snprintf(body, sizeof body, "%s%*s", plus && v >= 0 ? "+" : "", width, r);
  }
  lm_buf_puts(b, body);
  return LM_OK;
}

lm_status lmt_format_path(lm_ctx *ctx, const char *tmpl, int epoch, const lm_logs *logs, char *out,
                          size_t out_len) {
  lm_buf b;
  lm_buf_init(&b, ctx);
  lm_status st = LM_OK;
  for (const char *p = tmpl; *p && !st; p++) {
    if ((*p == '{' && p[1] == '{') || (*p == '}' && p[1] == '}')) {
      lm_buf_putn(&b, p++, 1);
      continue;
    }
    if (*p == '}') {
      st = lm_fail(ctx, LM_ERR_ARG,
                   "ModelCheckpoint: filepath \"%s\": Single '}' encountered in format string",
                   tmpl);
      break;
    }
    if (*p != '{') {
      lm_buf_putn(&b, p, 1);
      continue;
    }
    const char *end = strchr(p, '}');
    if (!end || end - p > 150) {
      st = lm_fail(ctx, LM_ERR_ARG,
                   "ModelCheckpoint: filepath \"%s\": Single '{' encountered in format string",
                   tmpl);
      break;
    }
    char field[160], *spec;
    snprintf(field, sizeof field, "%.*s", (int)(end - p - 1), p + 1);
    spec = strchr(field, ':');
    if (spec) *spec++ = '\0';
    double v = 0;
    bool is_int = strcmp(field, "epoch") == 0;
    if (is_int) {
      v = epoch;
    } else if (!lm_logs_get(logs, field, &v)) {
      char keys[1024];
      logs_keys_str(logs, ", ", keys, sizeof keys);
      st = lm_fail(ctx, LM_ERR_ARG,
                   "ModelCheckpoint: cannot format the filepath \"%s\": no key '%s' in this "
                   "epoch's logs (KeyError: '%s'); available keys: epoch%s%s",
                   tmpl, field, field, logs->n ? ", " : "", keys);
      break;
    }
    st = format_field(ctx, tmpl, field, spec ? spec : "", is_int, v, &b);
    p = end;
  }
  if (!st && (b.oom || !b.data)) st = b.oom ? LM_ERR_NOMEM : LM_OK;
  if (!st) {
    const char *s = b.data ? b.data : "";
    if (strlen(s) >= out_len)
      st = lm_fail(ctx, LM_ERR_ARG,
                   "ModelCheckpoint: the formatted filepath is too long (%zu bytes)", strlen(s));
    else
      snprintf(out, out_len, "%s", s);
  }
  lm_buf_free(&b);
  return st;
}

/* ---- the built-in callback header ---- */

typedef struct builtin {
  lm_callback cb; /* first: lm_callback * <-> builtin * */
  lm_obj obj;
  lm_ctx *ctx;
} builtin;

static void builtin_destroy_obj(lm_obj *o) {
  builtin *b = (builtin *)((char *)o - offsetof(builtin, obj));
  b->cb.vt->destroy(&b->cb);
}

static void *builtin_new(lm_ctx *ctx, size_t size, const lm_callback_vt *vt) {
  if (!ctx) return NULL;
  builtin *b = lm_alloc(ctx, size);
  if (!b) return NULL;
  b->cb.vt = vt;
  b->ctx = ctx;
  lm_obj_attach(ctx, &b->obj, builtin_destroy_obj);
  return b;
}

/* Plain destroy for built-ins without resources. */
static void plain_destroy(lm_callback *cb) {
  builtin *b = (builtin *)cb;
  lm_obj_detach(&b->obj);
  lm_dealloc(b->ctx, b);
}

void lm_callback_free(lm_callback *cb) {
  if (cb && cb->vt && cb->vt->destroy) cb->vt->destroy(cb);
}

void lm_model_stop_training(lm_model *m) {
  if (m && m->train) m->train->stop_training = true;
}

static void warn(lm_ctx *ctx, const char *fmt, const char *a, const char *b) {
  char msg[2048];
  snprintf(msg, sizeof msg, fmt, a, b);
  lm_log(ctx, "RuntimeWarning: %s\n", msg);
}

/* mode "min" -> less (-1), "max" -> greater (+1), "auto" -> by the monitor name. */
static int parse_mode(lm_ctx *ctx, const char *cls, const char *mode, const char *monitor,
                      bool fmeasure) {
  if (mode && strcmp(mode, "min") == 0) return -1;
  if (mode && strcmp(mode, "max") == 0) return 1;
  if (mode && strcmp(mode, "auto") != 0) {
    char m[64];
    snprintf(m, sizeof m, "%s", mode);
    lm_log(ctx, "RuntimeWarning: %s mode %s is unknown, fallback to auto mode.\n", cls, m);
  }
  if (strstr(monitor, "acc") || (fmeasure && strncmp(monitor, "fmeasure", 8) == 0)) return 1;
  return -1;
}

static lm_status monitor_name(lm_ctx *ctx, const char *monitor, char *out) {
  if (!monitor) monitor = "val_loss";
  if (strlen(monitor) >= 96) return lm_fail(ctx, LM_ERR_ARG, "callback monitor name too long");
  snprintf(out, 96, "%s", monitor);
  return LM_OK;
}

/* Weights of a model, all of them in layer order, as one float copy. */
static float *get_weights(lm_model *m, float *into) {
  int64_t total = 0;
  for (int i = 0; i < m->n_layers; i++)
    for (int j = 0; j < m->layers[i]->n_weights; j++) total += m->layers[i]->weights[j].t->size;
  if (!into) into = lm_alloc(m->ctx, sizeof(float) * (size_t)(total + 1));
  if (!into) return NULL;
  int64_t at = 0;
  for (int i = 0; i < m->n_layers; i++)
    for (int j = 0; j < m->layers[i]->n_weights; j++) {
      lm_tensor *t = m->layers[i]->weights[j].t;
      memcpy(into + at, t->data, sizeof(float) * (size_t)t->size);
      at += t->size;
    }
  return into;
}

static void set_weights(lm_model *m, const float *from) {
  int64_t at = 0;
  for (int i = 0; i < m->n_layers; i++)
    for (int j = 0; j < m->layers[i]->n_weights; j++) {
      lm_tensor *t = m->layers[i]->weights[j].t;
      memcpy(t->data, from + at, sizeof(float) * (size_t)t->size);
      t->version++;
      at += t->size;
    }
}

/* ---- EarlyStopping ---- */

typedef struct early_stopping {
  builtin h;
  char monitor[96];
  double min_delta, baseline, best;
  bool has_baseline, restore;
  int patience, verbose, op, wait, stopped_epoch;
  float *best_weights;
} early_stopping;

static bool improves(int op, double a, double b) { return op > 0 ? a > b : a < b; }

static lm_status es_train_begin(lm_callback *cb, lm_logs *logs) {
  (void)logs;
  early_stopping *e = (early_stopping *)cb;
  e->wait = 0;
  e->stopped_epoch = 0;
  e->best = e->has_baseline ? e->baseline : (e->op > 0 ? -INFINITY : INFINITY);
  return LM_OK;
}

static lm_status es_epoch_end(lm_callback *cb, int epoch, lm_logs *logs) {
  early_stopping *e = (early_stopping *)cb;
  lm_ctx *ctx = e->h.ctx;
  double current;
  if (!lm_logs_get(logs, e->monitor, &current)) {
    char keys[1024];
    logs_keys_str(logs, ",", keys, sizeof keys);
    warn(ctx,
         "Early stopping conditioned on metric `%s` which is not available. Available metrics are: "
         "%s",
         e->monitor, keys);
    return LM_OK;
  }
  if (improves(e->op, current - e->min_delta, e->best)) {
    e->best = current;
    e->wait = 0;
    if (e->restore && cb->model) {
      e->best_weights = get_weights(cb->model, e->best_weights);
      if (!e->best_weights) return LM_ERR_NOMEM;
    }
  } else {
    e->wait++;
    if (e->wait >= e->patience) {
      e->stopped_epoch = epoch;
      lm_model_stop_training(cb->model);
      /* Keras 2.2.4 crashes here when the baseline was never beaten; we keep
       * the current weights instead. */
      if (e->restore && e->best_weights && cb->model) {
        if (e->verbose > 0) lm_log(ctx, "Restoring model weights from the end of the best epoch\n");
        set_weights(cb->model, e->best_weights);
      }
    }
  }
  return LM_OK;
}

static lm_status es_train_end(lm_callback *cb, lm_logs *logs) {
  (void)logs;
  early_stopping *e = (early_stopping *)cb;
  if (e->stopped_epoch > 0 && e->verbose > 0)
    lm_log(e->h.ctx, "Epoch %05d: early stopping\n", e->stopped_epoch + 1);
  return LM_OK;
}

static int es_get_state(const lm_callback *cb, double *out, int cap) {
  const early_stopping *e = (const early_stopping *)cb;
  if (cap < 3) return 0;
  out[0] = e->best;
  out[1] = e->wait;
  out[2] = e->stopped_epoch;
  return 3;
}

static lm_status es_set_state(lm_callback *cb, const double *v, int n) {
  early_stopping *e = (early_stopping *)cb;
  if (n != 3) return LM_ERR_FORMAT;
  e->best = v[0];
  e->wait = (int)v[1];
  e->stopped_epoch = (int)v[2];
  return LM_OK;
}

static int64_t n_weight_values(const lm_model *m) {
  int64_t total = 0;
  for (int i = 0; i < m->n_layers; i++)
    for (int j = 0; j < m->layers[i]->n_weights; j++) total += m->layers[i]->weights[j].t->size;
  return total;
}

static const lm_callback_vt es_vt;

float *lmt_es_best_weights(const lm_callback *cb, int64_t *n) {
  if (!cb || cb->vt != &es_vt || !cb->model) return NULL;
  const early_stopping *e = (const early_stopping *)cb;
  if (!e->restore || !e->best_weights) return NULL;
  *n = n_weight_values(cb->model);
  return e->best_weights;
}

bool lmt_es_wants_best_weights(const lm_callback *cb) {
  return cb && cb->vt == &es_vt && ((const early_stopping *)cb)->restore;
}

lm_status lmt_es_set_best_weights(lm_callback *cb, const float *w, int64_t n) {
  if (!lmt_es_wants_best_weights(cb) || !cb->model) return LM_OK;
  early_stopping *e = (early_stopping *)cb;
  if (n != n_weight_values(cb->model)) return LM_ERR_FORMAT;
  if (!e->best_weights) e->best_weights = lm_alloc(e->h.ctx, sizeof(float) * (size_t)(n + 1));
  if (!e->best_weights) return LM_ERR_NOMEM;
  memcpy(e->best_weights, w, sizeof(float) * (size_t)n);
  return LM_OK;
}

static void es_destroy(lm_callback *cb) {
  early_stopping *e = (early_stopping *)cb;
  lm_dealloc(e->h.ctx, e->best_weights);
  plain_destroy(cb);
}

static const lm_callback_vt es_vt = {.name = "EarlyStopping",
                                     .on_train_begin = es_train_begin,
                                     .on_train_end = es_train_end,
                                     .on_epoch_end = es_epoch_end,
                                     .get_state = es_get_state,
                                     .set_state = es_set_state,
                                     .destroy = es_destroy};

lm_callback *lm_callback_early_stopping(lm_ctx *ctx, const lm_early_stopping_opts *opts) {
  if (!ctx) return NULL;
  lm_early_stopping_opts o = {0};
  if (opts) o = *opts;
  char monitor[96];
  if (monitor_name(ctx, o.monitor, monitor)) return NULL;
  if (o.patience < 0 || !isfinite(o.min_delta)) {
    lm_fail(ctx, LM_ERR_ARG, "EarlyStopping: patience must be >= 0 and min_delta finite");
    return NULL;
  }
  early_stopping *e = builtin_new(ctx, sizeof *e, &es_vt);
  if (!e) return NULL;
  memcpy(e->monitor, monitor, sizeof monitor);
  e->op = parse_mode(ctx, "EarlyStopping", o.mode, monitor, false);
  e->min_delta = e->op > 0 ? fabs(o.min_delta) : -fabs(o.min_delta);
  e->patience = o.patience;
  e->verbose = o.verbose;
  e->has_baseline = o.has_baseline;
  e->baseline = o.baseline;
  e->restore = o.restore_best_weights;
  e->best = e->op > 0 ? -INFINITY : INFINITY;
  return &e->h.cb;
}

/* ---- ReduceLROnPlateau ---- */

typedef struct reduce_lr {
  builtin h;
  char monitor[96];
  double factor, min_delta, min_lr, best;
  int patience, verbose, cooldown, op, wait, cooldown_counter;
} reduce_lr;

static lm_status rl_reset(reduce_lr *r) {
  r->best = r->op > 0 ? -INFINITY : INFINITY;
  r->cooldown_counter = 0;
  r->wait = 0;
  return LM_OK;
}

static lm_status rl_train_begin(lm_callback *cb, lm_logs *logs) {
  (void)logs;
  return rl_reset((reduce_lr *)cb);
}

static lm_status rl_epoch_end(lm_callback *cb, int epoch, lm_logs *logs) {
  reduce_lr *r = (reduce_lr *)cb;
  lm_ctx *ctx = r->h.ctx;
  lm_optimizer *opt = lm_model_optimizer(cb->model);
  if (!opt) return lm_fail(ctx, LM_ERR_STATE, "ReduceLROnPlateau: the model has no optimizer");
  if (lm_logs_set(logs, "lr", (double)lm_optimizer_lr(opt)))
    return lm_fail(ctx, LM_ERR_ARG, "too many log keys");
  double current;
  if (!lm_logs_get(logs, r->monitor, &current)) {
    char keys[1024];
    logs_keys_str(logs, ",", keys, sizeof keys);
    warn(ctx,
         "Reduce LR on plateau conditioned on metric `%s` which is not available. Available "
         "metrics are: %s",
         r->monitor, keys);
    return LM_OK;
  }
  if (r->cooldown_counter > 0) {
    r->cooldown_counter--;
    r->wait = 0;
  }
  bool better = r->op > 0 ? current > r->best + r->min_delta : current < r->best - r->min_delta;
  if (better) {
    r->best = current;
    r->wait = 0;
  } else if (r->cooldown_counter <= 0) {
    r->wait++;
    if (r->wait >= r->patience) {
      double old_lr = (double)lm_optimizer_lr(opt);
      if (old_lr > r->min_lr) {
        double new_lr = old_lr * r->factor;
        if (new_lr < r->min_lr) new_lr = r->min_lr;
        lm_optimizer_set_lr(opt, (float)new_lr);
        if (r->verbose > 0) {
          char s[64];
          lmt_py_repr(new_lr, s, sizeof s);
          lm_log(ctx, "\nEpoch %05d: ReduceLROnPlateau reducing learning rate to %s.\n", epoch + 1,
                 s);
        }
        r->cooldown_counter = r->cooldown;
        r->wait = 0;
      }
    }
  }
  return LM_OK;
}

static int rl_get_state(const lm_callback *cb, double *out, int cap) {
  const reduce_lr *r = (const reduce_lr *)cb;
  if (cap < 3) return 0;
  out[0] = r->best;
  out[1] = r->wait;
  out[2] = r->cooldown_counter;
  return 3;
}

static lm_status rl_set_state(lm_callback *cb, const double *v, int n) {
  reduce_lr *r = (reduce_lr *)cb;
  if (n != 3) return LM_ERR_FORMAT;
  r->best = v[0];
  r->wait = (int)v[1];
  r->cooldown_counter = (int)v[2];
  return LM_OK;
}

static const lm_callback_vt rl_vt = {.name = "ReduceLROnPlateau",
                                     .on_train_begin = rl_train_begin,
                                     .on_epoch_end = rl_epoch_end,
                                     .get_state = rl_get_state,
                                     .set_state = rl_set_state,
                                     .destroy = plain_destroy};

lm_callback *lm_callback_reduce_lr_on_plateau(lm_ctx *ctx, const lm_reduce_lr_opts *opts) {
  if (!ctx) return NULL;
  lm_reduce_lr_opts o = {0};
  if (opts) o = *opts;
  if (!opts) o.patience = 10; /* with opts, patience is taken as given (0 allowed) */
  if (o.factor == 0) o.factor = 0.1;
  if (o.min_delta == 0 && !o.no_min_delta) o.min_delta = 1e-4;
  char monitor[96];
  if (monitor_name(ctx, o.monitor, monitor)) return NULL;
  if (o.factor >= 1.0) {
    lm_fail(ctx, LM_ERR_ARG, "ReduceLROnPlateau does not support a factor >= 1.0.");
    return NULL;
  }
  if (o.factor < 0 || o.patience < 0 || o.cooldown < 0 || o.min_lr < 0) {
    lm_fail(ctx, LM_ERR_ARG,
            "ReduceLROnPlateau: factor, patience, cooldown and min_lr must be >= 0");
    return NULL;
  }
  reduce_lr *r = builtin_new(ctx, sizeof *r, &rl_vt);
  if (!r) return NULL;
  memcpy(r->monitor, monitor, sizeof monitor);
  r->factor = o.factor;
  r->patience = o.patience;
  r->verbose = o.verbose;
  r->min_delta = o.min_delta;
  r->cooldown = o.cooldown;
  r->min_lr = o.min_lr;
  r->op = strcmp(o.mode ? o.mode : "auto", "min") == 0
              ? -1
              : parse_mode(ctx, "Learning Rate Plateau Reducing", o.mode, monitor, false);
  rl_reset(r);
  return &r->h.cb;
}

/* ---- LearningRateScheduler ---- */

typedef struct lr_sched {
  builtin h;
  lm_lr_schedule_fn fn;
  void *ud;
  int verbose;
} lr_sched;

static lm_status ls_epoch_begin(lm_callback *cb, int epoch, lm_logs *logs) {
  (void)logs;
  lr_sched *s = (lr_sched *)cb;
  lm_optimizer *opt = lm_model_optimizer(cb->model);
  if (!opt) return lm_fail(s->h.ctx, LM_ERR_STATE, "Optimizer must have a \"lr\" attribute.");
  double lr = s->fn(epoch, (double)lm_optimizer_lr(opt), s->ud);
  if (!isfinite(lr) || lr < 0)
    return lm_fail(s->h.ctx, LM_ERR_VALUE,
                   "The output of the \"schedule\" function should be float (a finite learning "
                   "rate >= 0); got %g at epoch %d.",
                   lr, epoch);
  lm_optimizer_set_lr(opt, (float)lr);
  if (s->verbose > 0) {
    char r[64];
    lmt_py_repr(lr, r, sizeof r);
    lm_log(s->h.ctx, "\nEpoch %05d: LearningRateScheduler setting learning rate to %s.\n",
           epoch + 1, r);
  }
  return LM_OK;
}

static lm_status ls_epoch_end(lm_callback *cb, int epoch, lm_logs *logs) {
  (void)epoch;
  lm_optimizer *opt = lm_model_optimizer(cb->model);
  if (opt && lm_logs_set(logs, "lr", (double)lm_optimizer_lr(opt)))
    return lm_fail(((lr_sched *)cb)->h.ctx, LM_ERR_ARG, "too many log keys");
  return LM_OK;
}

static const lm_callback_vt ls_vt = {.name = "LearningRateScheduler",
                                     .on_epoch_begin = ls_epoch_begin,
                                     .on_epoch_end = ls_epoch_end,
                                     .destroy = plain_destroy};

lm_callback *lm_callback_lr_scheduler(lm_ctx *ctx, lm_lr_schedule_fn fn, void *ud, int verbose) {
  if (!ctx) return NULL;
  if (!fn) {
    lm_fail(ctx, LM_ERR_ARG, "LearningRateScheduler: no schedule function given");
    return NULL;
  }
  lr_sched *s = builtin_new(ctx, sizeof *s, &ls_vt);
  if (!s) return NULL;
  s->fn = fn;
  s->ud = ud;
  s->verbose = verbose;
  return &s->h.cb;
}

/* ---- CSVLogger ---- */

typedef struct csv_logger {
  builtin h;
  char *filename, *sep;
  bool append, append_header;
  FILE *f;
  int n_keys; /* -1 until the first epoch end */
  char (*keys)[96];
} csv_logger;

static void csv_close(csv_logger *c) {
  if (c->f) fclose(c->f);
  c->f = NULL;
}

static lm_status csv_train_begin(lm_callback *cb, lm_logs *logs) {
  (void)logs;
  csv_logger *c = (csv_logger *)cb;
  csv_close(c);
  c->append_header = true;
  if (c->append) {
    FILE *r = fopen(c->filename, "rb");
    if (r) {
      c->append_header = fgetc(r) == EOF;
      fclose(r);
    }
  }
  c->f = fopen(c->filename, c->append ? "ab" : "wb");
  if (!c->f)
    return lm_fail(c->h.ctx, LM_ERR_IO, "CSVLogger: cannot open '%s' for writing", c->filename);
  c->n_keys = -1;
  return LM_OK;
}

static int cmp_keys(const void *a, const void *b) {
  return strcmp((const char *)a, (const char *)b);
}

static lm_status csv_epoch_end(lm_callback *cb, int epoch, lm_logs *logs) {
  csv_logger *c = (csv_logger *)cb;
  lm_ctx *ctx = c->h.ctx;
  if (!c->f) return LM_OK;
  if (c->n_keys < 0) {
    lm_dealloc(ctx, c->keys);
    c->keys = lm_alloc(ctx, sizeof *c->keys * (size_t)(logs->n + 1));
    if (!c->keys) return LM_ERR_NOMEM;
    for (int i = 0; i < logs->n; i++) memcpy(c->keys[i], logs->keys[i], sizeof c->keys[i]);
    qsort(c->keys, (size_t)logs->n, sizeof *c->keys, cmp_keys);
    c->n_keys = logs->n;
    if (c->append_header) {
      fputs("epoch", c->f);
      for (int i = 0; i < c->n_keys; i++) fprintf(c->f, "%s%s", c->sep, c->keys[i]);
      fputs("\r\n", c->f);
    }
  }
  fprintf(c->f, "%d", epoch);
  for (int i = 0; i < c->n_keys; i++) {
    double v;
    char s[64] = "NA"; /* Keras writes NA for keys missing after stop_training */
    if (lm_logs_get(logs, c->keys[i], &v)) {
      if (strcmp(c->keys[i], "lr") == 0)
        lmt_py_repr_f32((float)v, s, sizeof s); /* numpy float32 */
      else
        lmt_py_repr(v, s, sizeof s);
    }
    fprintf(c->f, "%s%s", c->sep, s);
  }
  fputs("\r\n", c->f);
  if (fflush(c->f) != 0)
    return lm_fail(ctx, LM_ERR_IO, "CSVLogger: cannot write '%s'", c->filename);
  return LM_OK;
}

static lm_status csv_train_end(lm_callback *cb, lm_logs *logs) {
  (void)logs;
  csv_close((csv_logger *)cb);
  return LM_OK;
}

static void csv_destroy(lm_callback *cb) {
  csv_logger *c = (csv_logger *)cb;
  csv_close(c);
  lm_dealloc(c->h.ctx, c->filename);
  lm_dealloc(c->h.ctx, c->sep);
  lm_dealloc(c->h.ctx, c->keys);
  plain_destroy(cb);
}

static const lm_callback_vt csv_vt = {.name = "CSVLogger",
                                      .on_train_begin = csv_train_begin,
                                      .on_epoch_end = csv_epoch_end,
                                      .on_train_end = csv_train_end,
                                      .destroy = csv_destroy};

lm_callback *lm_callback_csv_logger(lm_ctx *ctx, const char *filename, const char *separator,
                                    bool append) {
  if (!ctx) return NULL;
  if (!filename || !*filename) {
    lm_fail(ctx, LM_ERR_ARG, "CSVLogger: no filename given");
    return NULL;
  }
  csv_logger *c = builtin_new(ctx, sizeof *c, &csv_vt);
  if (!c) return NULL;
  c->filename = lm_strdup(ctx, filename);
  c->sep = lm_strdup(ctx, separator ? separator : ",");
  c->append = append;
  c->n_keys = -1;
  if (!c->filename || !c->sep) {
    csv_destroy(&c->h.cb);
    return NULL;
  }
  return &c->h.cb;
}

/* ---- TerminateOnNaN ---- */

static lm_status tn_batch_end(lm_callback *cb, int batch, lm_logs *logs) {
  double loss;
  if (lm_logs_get(logs, "loss", &loss) && !isfinite(loss)) {
    lm_log(((builtin *)cb)->ctx, "Batch %d: Invalid loss, terminating training\n", batch);
    lm_model_stop_training(cb->model);
  }
  return LM_OK;
}

static const lm_callback_vt tn_vt = {
    .name = "TerminateOnNaN", .on_batch_end = tn_batch_end, .destroy = plain_destroy};

lm_callback *lm_callback_terminate_on_nan(lm_ctx *ctx) {
  builtin *b = builtin_new(ctx, sizeof *b, &tn_vt);
  return b ? &b->cb : NULL;
}

bool lmt_is_terminate_on_nan(const lm_callback *cb) { return cb && cb->vt == &tn_vt; }

/* ---- ModelCheckpoint ---- */

typedef struct model_ckpt {
  builtin h;
  char *filepath;
  char monitor[96];
  int verbose, period, op, since_save;
  bool best_only, weights_only;
  double best;
} model_ckpt;

static lm_status mc_save(model_ckpt *c, const char *path) {
  return c->weights_only ? lm_model_save_weights(c->h.cb.model, path)
                         : lm_model_save(c->h.cb.model, path);
}

static lm_status mc_epoch_end(lm_callback *cb, int epoch, lm_logs *logs) {
  model_ckpt *c = (model_ckpt *)cb;
  lm_ctx *ctx = c->h.ctx;
  if (++c->since_save < c->period) return LM_OK;
  c->since_save = 0;
  char path[4096];
  lm_status st = lmt_format_path(ctx, c->filepath, epoch + 1, logs, path, sizeof path);
  if (st) return st;
  if (!c->best_only) {
    if (c->verbose > 0) lm_log(ctx, "\nEpoch %05d: saving model to %s\n", epoch + 1, path);
    return mc_save(c, path);
  }
  double current;
  if (!lm_logs_get(logs, c->monitor, &current)) {
    warn(ctx, "Can save best model only with %s available, skipping.%s", c->monitor, "");
    return LM_OK;
  }
  if (improves(c->op, current, c->best)) {
    if (c->verbose > 0)
      lm_log(ctx, "\nEpoch %05d: %s improved from %0.5f to %0.5f, saving model to %s\n", epoch + 1,
             c->monitor, c->best, current, path);
    c->best = current;
    return mc_save(c, path);
  }
  if (c->verbose > 0)
    lm_log(ctx, "\nEpoch %05d: %s did not improve from %0.5f\n", epoch + 1, c->monitor, c->best);
  return LM_OK;
}

static int mc_get_state(const lm_callback *cb, double *out, int cap) {
  const model_ckpt *c = (const model_ckpt *)cb;
  if (cap < 2) return 0;
  out[0] = c->best;
  out[1] = c->since_save;
  return 2;
}

static lm_status mc_set_state(lm_callback *cb, const double *v, int n) {
  model_ckpt *c = (model_ckpt *)cb;
  if (n != 2) return LM_ERR_FORMAT;
  c->best = v[0];
  c->since_save = (int)v[1];
  return LM_OK;
}

static void mc_destroy(lm_callback *cb) {
  model_ckpt *c = (model_ckpt *)cb;
  lm_dealloc(c->h.ctx, c->filepath);
  plain_destroy(cb);
}

static const lm_callback_vt mc_vt = {.name = "ModelCheckpoint",
                                     .on_epoch_end = mc_epoch_end,
                                     .get_state = mc_get_state,
                                     .set_state = mc_set_state,
                                     .destroy = mc_destroy};

lm_callback *lm_callback_model_checkpoint(lm_ctx *ctx, const char *filepath,
                                          const lm_model_checkpoint_opts *opts) {
  if (!ctx) return NULL;
  lm_model_checkpoint_opts o = {0};
  if (opts) o = *opts;
  if (!filepath || !*filepath) {
    lm_fail(ctx, LM_ERR_ARG, "ModelCheckpoint: no filepath given");
    return NULL;
  }
  if (o.period < 0) {
    lm_fail(ctx, LM_ERR_ARG, "ModelCheckpoint: period must be >= 1");
    return NULL;
  }
  char monitor[96];
  if (monitor_name(ctx, o.monitor, monitor)) return NULL;
  model_ckpt *c = builtin_new(ctx, sizeof *c, &mc_vt);
  if (!c) return NULL;
  c->filepath = lm_strdup(ctx, filepath);
  if (!c->filepath) {
    mc_destroy(&c->h.cb);
    return NULL;
  }
  memcpy(c->monitor, monitor, sizeof monitor);
  c->verbose = o.verbose;
  c->period = o.period ? o.period : 1;
  c->best_only = o.save_best_only;
  c->weights_only = o.save_weights_only;
  c->op = parse_mode(ctx, "ModelCheckpoint", o.mode, monitor, true);
  c->best = c->op > 0 ? -INFINITY : INFINITY;
  return &c->h.cb;
}

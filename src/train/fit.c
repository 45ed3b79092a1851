/* fit / evaluate / predict / train_on_batch (keras/engine/training_arrays.py). */
#include <math.h>
#include <stdint.h>
#include <string.h>

#include "train/callbacks.h"
#include "train/fit.h"

enum { MODE_TRAIN, MODE_EVAL };

/* ---- checking the arrays a user feeds ---- */

static void dims_str(int ndim, const int64_t *d, char *out, size_t len) {
  lm_shape_str(ndim, d, out, len);
}

/* Resolve a list or name-keyed lm_data into one array per slot, in model order. */
static lm_status resolve(lm_model *m, const lm_data *d, bool targets, lm_tensor **out) {
  lm_ctx *ctx = m->ctx;
  lmt_train *t = m->train;
  int n_slots = targets ? m->n_outputs : m->n_inputs;
  const char *what = targets ? "target" : "model input";
  int needed = 0;
  for (int i = 0; i < n_slots; i++) {
    out[i] = NULL;
    if (!targets || t->loss_kind[i] >= 0) needed++;
  }
  if (!d || d->n <= 0 || !d->arrays)
    return lm_fail(ctx, LM_ERR_ARG, "Error when checking %s: no arrays given; expected %d",
                   what, needed);
  if (d->names) {
    for (int k = 0; k < d->n; k++) {
      int i = 0;
      while (i < n_slots &&
             strcmp(targets ? lm_model_output_name(m, i) : lm_model_input_name(m, i),
                    d->names[k]) != 0)
        i++;
      if (i == n_slots)
        return lm_fail(ctx, LM_ERR_ARG, "Error when checking %s: unknown name \"%s\"", what,
                       d->names[k]);
      out[i] = d->arrays[k];
    }
    for (int i = 0; i < n_slots; i++) {
      if (out[i] || (targets && t->loss_kind[i] < 0)) continue;
      lm_buf b;
      lm_buf_init(&b, ctx);
      for (int k = 0; k < n_slots; k++)
        lm_buf_printf(&b, "%s'%s'", k ? ", " : "",
                      targets ? lm_model_output_name(m, k) : lm_model_input_name(m, k));
      lm_status st = lm_fail(ctx, LM_ERR_ARG,
                             "No data provided for \"%s\". Need data for each key in: [%s]",
                             targets ? lm_model_output_name(m, i) : lm_model_input_name(m, i),
                             b.data ? b.data : "");
      lm_buf_free(&b);
      return st;
    }
  } else {
    if (d->n != needed)
      return lm_fail(ctx, LM_ERR_ARG,
                     "Error when checking %s: the list of arrays that you are passing to your "
                     "model is not the size the model expected. Expected to see %d array(s), "
                     "but instead got %d array(s).",
                     what, needed, d->n);
    int k = 0;
    for (int i = 0; i < n_slots; i++)
      if (!targets || t->loss_kind[i] >= 0) out[i] = d->arrays[k++];
  }
  for (int i = 0; i < n_slots; i++)
    if ((!targets || t->loss_kind[i] >= 0) && !out[i])
      return lm_fail(ctx, LM_ERR_ARG, "Error when checking %s: array %d is NULL", what, i);
  return LM_OK;
}

/* Shape, NaN/Inf and label checks for one array against its graph node. */
static lm_status check_array(lm_model *m, const lm_tensor *a, const lmg_node *node,
                             const char *name, bool target, int loss_kind) {
  lm_ctx *ctx = m->ctx;
  const char *what = target ? "target" : "input";
  int ndim = a->ndim;
  int64_t shape[LM_MAX_DIMS];
  memcpy(shape, a->shape, sizeof shape);
  if (ndim == 1 && node->sym_ndim == 2) { /* (N,) -> (N, 1) */
    ndim = 2;
    shape[1] = 1;
  }
  char got[160], want[160];
  dims_str(a->ndim, a->shape, got, sizeof got);
  if (ndim != node->sym_ndim)
    return lm_fail(ctx, LM_ERR_SHAPE,
                   "Error when checking %s: expected %s to have %d dimensions, but got array "
                   "with shape %s",
                   what, name, node->sym_ndim, got);
  if (target && loss_kind == LMT_CCE && shape[ndim - 1] == 1 && node->sym_shape[ndim - 1] != 1)
    return lm_fail(ctx, LM_ERR_SHAPE,
                   "You are passing a target array of shape %s while using as loss "
                   "`categorical_crossentropy`. `categorical_crossentropy` expects targets to be "
                   "binary matrices (1s and 0s) of shape (samples, classes). If your targets are "
                   "integer classes, you can convert them to the expected format via `to_categorical`, "
                   "or use `sparse_categorical_crossentropy` (output \"%s\").",
                   got, name);
  for (int i = 1; i < ndim; i++)
    if (node->sym_shape[i] != LM_NONE && node->sym_shape[i] != shape[i]) {
      dims_str(node->sym_ndim - 1, node->sym_shape + 1, want, sizeof want);
      char got1[160];
      dims_str(ndim - 1, shape + 1, got1, sizeof got1);
      return lm_fail(ctx, LM_ERR_SHAPE,
                     "Error when checking %s: expected %s to have shape %s but got array with "
                     "shape %s",
                     what, name, want, got1);
    }
  int64_t row = a->shape[0] ? a->size / a->shape[0] : 0;
  if (a->dtype == LM_FLOAT32) {
    const float *v = a->data;
    for (int64_t i = 0; i < a->size; i++)
      if (!isfinite(v[i]))
        return lm_fail(ctx, LM_ERR_VALUE,
                       "Error when checking %s: array for %s contains %s at sample %lld", what,
                       name, isnan(v[i]) ? "NaN" : "Inf", (long long)(row ? i / row : 0));
  }
  return LM_OK;
}

static lm_status check_labels(lm_model *m, int out, const lm_tensor *a) {
  lmt_train *t = m->train;
  if (t->loss_kind[out] != LMT_SCCE) return LM_OK;
  const lmg_node *pred = lmg_at(&t->g, t->out_nodes[out]);
  int64_t classes = pred->shape[pred->ndim - 1];
  int64_t row = a->shape[0] ? a->size / a->shape[0] : 1;
  for (int64_t i = 0; i < a->size; i++) {
    double v = a->dtype == LM_INT32 ? (double)((const int32_t *)a->data)[i]
                                    : (double)((const float *)a->data)[i];
    if (v != floor(v) || v < 0 || v >= (double)classes)
      return lm_fail(m->ctx, LM_ERR_VALUE,
                     "Error when checking target: label %g at sample %lld is out of range [0, "
                     "%lld) for output \"%s\" (sparse_categorical_crossentropy)",
                     v, (long long)(i / row), (long long)classes, lm_model_output_name(m, out));
  }
  return LM_OK;
}

typedef struct feed {
  lm_tensor **x; /* per model input */
  lm_tensor **y; /* per model output (NULL: none) */
  int64_t n;
} feed;

/* g, in_nodes: the graph whose input nodes give the expected shapes (the
 * training graph, or predict's inference plan); targets need the former. */
static lm_status check_feed(lm_model *m, lmg_graph *g, const int *in_nodes, const lm_data *x,
                            const lm_data *y, feed *f, bool need_targets) {
  lm_ctx *ctx = m->ctx;
  lmt_train *t = m->train;
  lm_status st = resolve(m, x, false, f->x);
  if (!st && need_targets) st = resolve(m, y, true, f->y);
  if (st) return st;
  f->n = f->x[0]->ndim ? f->x[0]->shape[0] : 0;
  for (int i = 0; i < m->n_inputs && !st; i++) {
    const lm_tensor *a = f->x[i];
    if (a->ndim < 1 || a->shape[0] != f->n) {
      lm_buf b;
      lm_buf_init(&b, ctx);
      for (int k = 0; k < m->n_inputs; k++) {
        char s[160];
        dims_str(f->x[k]->ndim, f->x[k]->shape, s, sizeof s);
        lm_buf_printf(&b, "%s%s", k ? ", " : "", s);
      }
      st = lm_fail(ctx, LM_ERR_SHAPE,
                   "All input arrays (x) should have the same number of samples. Got array "
                   "shapes: [%s]",
                   b.data ? b.data : "");
      lm_buf_free(&b);
      return st;
    }
    st = check_array(m, a, lmg_at(g, in_nodes[i]), lm_model_input_name(m, i), false, -1);
  }
  for (int i = 0; need_targets && i < m->n_outputs && !st; i++) {
    const lm_tensor *a = f->y[i];
    if (!a) continue;
    if (a->ndim < 1 || a->shape[0] != f->n)
      return lm_fail(ctx, LM_ERR_SHAPE,
                     "Input arrays should have the same number of samples as target arrays. "
                     "Found %lld input samples and %lld target samples.",
                     (long long)f->n, (long long)(a->ndim ? a->shape[0] : 0));
    st = check_array(m, a, lmg_at(&t->g, t->target_nodes[i]), lm_model_output_name(m, i), true,
                     t->loss_kind[i]);
    if (!st) st = check_labels(m, i, a);
  }
  return st;
}

/* ---- one batch ---- */

static void copy_rows(lmg_node *node, const lm_tensor *a, const int64_t *rows, int64_t bs) {
  int64_t row = a->shape[0] ? a->size / a->shape[0] : 0;
  for (int64_t r = 0; r < bs; r++) {
    int64_t src = rows[r] * row;
    if (node->dtype == a->dtype) {
      memcpy((char *)node->val + (size_t)(r * row) * 4, (const char *)a->data + (size_t)src * 4,
             (size_t)row * 4);
    } else if (node->dtype == LM_FLOAT32) {
      const int32_t *s = (const int32_t *)a->data + src;
      float *d = node->val + r * row;
      for (int64_t k = 0; k < row; k++) d[k] = (float)s[k];
    } else {
      const float *s = (const float *)a->data + src;
      int32_t *d = (int32_t *)node->val + r * row;
      for (int64_t k = 0; k < row; k++) d[k] = (int32_t)s[k];
    }
  }
}

static lm_status set_shape(lmg_graph *g, int node, const lm_tensor *a, int64_t bs) {
  lmg_node *n = lmg_at(g, node);
  int64_t shape[LM_MAX_DIMS];
  memcpy(shape, a->shape, sizeof shape);
  shape[0] = bs;
  if (a->ndim == 1 && n->sym_ndim == 2) shape[1] = 1;
  return lmg_set_input_shape(g, node, n->sym_ndim, shape);
}

/* Bad data met by an op in lmg_forward: name the sample (dataset index). */
static lm_status forward_error(lm_model *m, const lmg_graph *g, const int64_t *rows, int64_t bs) {
  char msg[sizeof m->ctx->errmsg];
  snprintf(msg, sizeof msg, "%s", m->ctx->errmsg);
  int64_t r = g->fwd_err_row;
  if (r < 0 || r >= bs) return lm_fail(m->ctx, g->fwd_err, "%s", msg);
  return lm_fail(m->ctx, g->fwd_err, "%s, in sample %lld", msg, (long long)rows[r]);
}

/* Runs one batch; logs (n_names values) computed before any update. */
static lm_status run_batch(lm_model *m, const feed *f, const int64_t *rows, int64_t bs, int mode,
                           double *logs) {
  lmt_train *t = m->train;
  lmg_graph *g = &t->g;
  lm_status st = LM_OK;
  for (int i = 0; i < m->n_inputs && !st; i++) st = set_shape(g, t->in_nodes[i], f->x[i], bs);
  for (int i = 0; i < m->n_outputs && !st; i++)
    if (t->target_nodes[i] >= 0) st = set_shape(g, t->target_nodes[i], f->y[i], bs);
  const bool *mask = mode == MODE_TRAIN ? t->mask_train : t->mask_eval;
  if (!st) st = lmg_plan_masked(g, bs, mode == MODE_TRAIN, mask);
  if (st) return st;
  g->training = mode == MODE_TRAIN;
  for (int i = 0; i < m->n_inputs; i++) copy_rows(lmg_at(g, t->in_nodes[i]), f->x[i], rows, bs);
  for (int i = 0; i < m->n_outputs; i++)
    if (t->target_nodes[i] >= 0) copy_rows(lmg_at(g, t->target_nodes[i]), f->y[i], rows, bs);
  lmg_forward(g, mask);
  if (g->fwd_err) return forward_error(m, g, rows, bs);
  if (logs) {
    int k = 0;
    logs[k++] = lmg_at(g, t->total_loss)->val[0];
    for (int i = 0; m->n_outputs > 1 && i < m->n_outputs; i++)
      if (t->loss_nodes[i] >= 0) logs[k++] = lmg_at(g, t->loss_nodes[i])->val[0];
    for (int i = 0; i < m->n_outputs; i++)
      for (int j = 0; j < t->n_metrics_per_out; j++) {
        int kind = t->metric_kind[i * t->n_metrics_per_out + j];
        if (kind < 0) continue;
        const lmg_node *p = lmg_at(g, t->out_nodes[i]), *y = lmg_at(g, t->target_nodes[i]);
        logs[k++] = lmt_metric_value(kind, y->val, p->val, p->size, p->shape[p->ndim - 1],
                                     y->shape[y->ndim - 1]);
      }
  }
  if (mode == MODE_TRAIN) {
    float loss = lmg_at(g, t->total_loss)->val[0];
    t->loss_nonfinite = !isfinite(loss);
    if (!isfinite(loss)) /* stop before the update: the weights stay finite */
      return lm_fail(m->ctx, LM_ERR_VALUE,
                     "the loss is %s; training stopped before this batch's update, so the "
                     "weights are those of the last finite step (lower the learning rate or "
                     "check the data)",
                     isnan(loss) ? "NaN" : "Inf");
    lmg_backward(g, t->total_loss, mask);
    for (int i = 0; i < t->n_params; i++) t->grads[i] = lmg_at(g, t->param_nodes[i])->grad;
    lmt_opt_step(t->opt, t->n_params, t->params, t->grads);
  }
  return LM_OK;
}

static lm_status ensure_rows(lm_model *m, int64_t n) {
  lmt_train *t = m->train;
  if (t->cap_rows >= n) return LM_OK;
  int64_t *r = lm_realloc(m->ctx, t->rows, sizeof(int64_t) * (size_t)(n + 1));
  if (!r) return LM_ERR_NOMEM;
  t->rows = r;
  t->cap_rows = n;
  return LM_OK;
}

/* fit, evaluate and train_on_batch need the loss (predict does not). */
static lm_status need_compiled(lm_model *m) {
  if (!m) return LM_ERR_ARG;
  if (!m->train)
    return lm_fail(m->ctx, LM_ERR_STATE,
                   "You must compile a model before training/testing. Use "
                   "`model.compile(optimizer, loss)`.");
  return LM_OK;
}

/* Loop over rows[0..n) in batches; accumulate sample-weighted means into sums. */
static lm_status test_loop(lm_model *m, const feed *f, const int64_t *rows, int64_t n,
                           int64_t batch_size, double *out) {
  lmt_train *t = m->train;
  double logs[256];
  for (int k = 0; k < t->n_names; k++) out[k] = 0;
  for (int64_t b0 = 0; b0 < n; b0 += batch_size) {
    int64_t bs = n - b0 < batch_size ? n - b0 : batch_size;
    lm_status st = run_batch(m, f, rows + b0, bs, MODE_EVAL, logs);
    if (st) return st;
    for (int k = 0; k < t->n_names; k++) out[k] += logs[k] * (double)bs;
  }
  for (int k = 0; k < t->n_names; k++) out[k] /= (double)(n ? n : 1);
  return LM_OK;
}

static void shuffle(lm_ctx *ctx, int64_t *idx, int64_t n) {
  for (int64_t i = n - 1; i > 0; i--) {
    int64_t j = (int64_t)(lm_rng_next(ctx->rng) % (uint64_t)(i + 1));
    int64_t tmp = idx[i];
    idx[i] = idx[j];
    idx[j] = tmp;
  }
}

typedef struct fit_state {
  feed tr, va;
  lm_tensor *arr[4 * 64];
  int64_t n_train, n_val, val_offset;
} fit_state;

/* Fire one hook on every callback, in list order. */
#define FIRE(hook, ...)                                                      \
  do {                                                                       \
    for (int ci_ = 0; ci_ < o.n_callbacks && !st; ci_++) {                   \
      lm_callback *cb_ = o.callbacks[ci_];                                   \
      if (cb_->vt->hook) st = cb_->vt->hook(cb_, __VA_ARGS__);               \
      if (st && lm_errcode(ctx) != st) /* a user hook failed without a message */ \
        lm_fail(ctx, st, "callback %s: " #hook " failed (status %d)",         \
                cb_->vt->name ? cb_->vt->name : "(unnamed)", (int)st);       \
    }                                                                        \
  } while (0)

typedef struct fit_logs {
  lm_logs batch, epoch;
  double logs[256], sums[256], vals[256], vvals[256];
  const char *metrics[512];
} fit_logs;

static lm_status check_callbacks(lm_ctx *ctx, const lm_fit_opts *o) {
  if (o->n_callbacks < 0 || (o->n_callbacks > 0 && !o->callbacks))
    return lm_fail(ctx, LM_ERR_ARG, "fit: n_callbacks is %d but callbacks is NULL", o->n_callbacks);
  for (int i = 0; i < o->n_callbacks; i++)
    if (!o->callbacks[i] || !o->callbacks[i]->vt)
      return lm_fail(ctx, LM_ERR_ARG, "fit: callback %d is NULL or has no vtable", i);
  return LM_OK;
}

static bool has_terminate_on_nan(const lm_fit_opts *o) {
  for (int i = 0; i < o->n_callbacks; i++)
    if (lmt_is_terminate_on_nan(o->callbacks[i])) return true;
  return false;
}

static lm_status put_logs(lm_ctx *ctx, lm_logs *l, int n, char *const *keys, const char *prefix,
                          const double *vals) {
  for (int k = 0; k < n; k++) {
    char key[96];
    snprintf(key, sizeof key, "%s%s", prefix, keys[k]);
    if (lm_logs_set(l, key, vals[k]))
      return lm_fail(ctx, LM_ERR_ARG, "fit: too many log keys (at most %d)", LMT_MAX_LOGS);
  }
  return LM_OK;
}

lm_history *lm_model_fit(lm_model *m, const lm_data *x, const lm_data *y, const lm_fit_opts *opts) {
  if (need_compiled(m)) return NULL;
  lm_ctx *ctx = m->ctx;
  lmt_train *t = m->train;
  lm_fit_opts o = LM_FIT_DEFAULTS;
  if (opts) o = *opts;
  if (o.batch_size <= 0) o.batch_size = 32;
  if (o.epochs < 0 || o.initial_epoch < 0 || o.verbose < 0 || o.verbose > 2 ||
      o.validation_split < 0 || o.validation_split >= 1 || !(o.validation_split == o.validation_split)) {
    lm_fail(ctx, LM_ERR_ARG,
            "fit: epochs and initial_epoch must be >= 0, verbose 0, 1 or 2, validation_split in "
            "[0, 1)");
    return NULL;
  }
  if (m->n_inputs > 64 || m->n_outputs > 64 || t->n_names > 256) {
    lm_fail(ctx, LM_ERR_ARG, "fit: too many inputs or outputs");
    return NULL;
  }
  if (check_callbacks(ctx, &o)) return NULL;
  fit_state s;
  memset(&s, 0, sizeof s);
  s.tr.x = s.arr;
  s.tr.y = s.arr + 64;
  s.va.x = s.arr + 128;
  s.va.y = s.arr + 192;
  if (check_feed(m, &t->g, t->in_nodes, x, y, &s.tr, true)) return NULL;
  bool do_val = false;
  s.n_train = s.tr.n;
  if (o.val_x || o.val_y) {
    if (check_feed(m, &t->g, t->in_nodes, o.val_x, o.val_y, &s.va, true)) return NULL;
    s.n_val = s.va.n;
    do_val = true;
  } else if (o.validation_split > 0) {
    int64_t split_at = (int64_t)((double)s.tr.n * (1.0 - (double)o.validation_split));
    s.n_train = split_at;
    s.n_val = s.tr.n - split_at;
    s.va = s.tr;
    s.val_offset = split_at;
    if (s.n_train == 0 || s.n_val == 0) {
      lm_fail(ctx, LM_ERR_ARG,
              "validation_split=%g leaves %lld training and %lld validation samples; both must "
              "be non-empty",
              (double)o.validation_split, (long long)s.n_train, (long long)s.n_val);
      return NULL;
    }
    do_val = true;
  }
  if (s.n_train == 0) {
    lm_fail(ctx, LM_ERR_ARG, "fit: no training samples");
    return NULL;
  }
  int64_t total_rows = s.n_train + (do_val ? s.n_val : 0);
  if (ensure_rows(m, total_rows) || lmt_opt_ready(t->opt)) return NULL;
  lm_history *h = lmt_history_new(ctx, t->n_names, t->names, "val_", do_val ? t->n_names : 0,
                                  t->names);
  if (!h) return NULL;
  fit_logs *L = lm_alloc(ctx, sizeof *L);
  if (!L) {
    lm_history_free(h);
    return NULL;
  }
  int64_t *idx = t->rows, *vidx = t->rows + s.n_train;
  for (int64_t i = 0; i < s.n_train; i++) idx[i] = i;
  for (int64_t i = 0; i < s.n_val; i++) vidx[i] = s.val_offset + i;
  /* set_model / set_params: params.metrics are the History keys (loss ..., val_*) */
  lmt_fit_run run;
  memset(&run, 0, sizeof run);
  run.params = (lm_fit_params){.batch_size = o.batch_size, .epochs = o.epochs, .verbose = o.verbose,
                               .samples = s.n_train, .do_validation = do_val,
                               .n_metrics = h->n_keys, .metrics = L->metrics};
  for (int i = 0; i < h->n_keys; i++) L->metrics[i] = h->keys[i]; /* History may grow later */
  run.n_sums = t->n_names;
  run.sums = L->sums;
  run.idx = idx;
  run.n_train = s.n_train;
  run.cbs = o.callbacks;
  run.n_cbs = o.n_callbacks;
  for (int i = 0; i < o.n_callbacks; i++) {
    o.callbacks[i]->model = m;
    o.callbacks[i]->params = &run.params;
  }
  bool nan_stops = has_terminate_on_nan(&o);
  lm_status st = LM_OK;
  if (o.verbose && do_val)
    lm_log(ctx, "Train on %lld samples, validate on %lld samples\n", (long long)s.n_train,
           (long long)s.n_val);
  t->run = &run;
  lmt_logs_clear(&L->epoch);
  FIRE(on_train_begin, &L->epoch);
  t->stop_training = false;
  int start_epoch = o.initial_epoch;
  bool resumed_mid_epoch = false;
  if (!st && o.resume_from) {
    st = lmt_checkpoint_resume(m, o.resume_from, &run, &start_epoch);
    resumed_mid_epoch = !st && run.next_b0 > 0;
    /* written after a callback (EarlyStopping) stopped training: nothing is left to run */
    if (!st && run.resume_stopped) start_epoch = o.epochs;
  }
  for (int epoch = start_epoch; !st && epoch < o.epochs; epoch++) {
    run.epoch = epoch;
    run.epoch_done = false;
    lmt_logs_clear(&L->epoch);
    if (o.verbose) lm_log(ctx, "Epoch %d/%d\n", epoch + 1, o.epochs); /* ProgbarLogger */
    FIRE(on_epoch_begin, epoch, &L->epoch);
    if (st) break;
    lmt_progbar bar;
    lmt_progbar_init(&bar, ctx, s.n_train, o.verbose);
    int64_t b_first = 0;
    if (resumed_mid_epoch) { /* the order and the sums of this epoch come from the checkpoint */
      b_first = run.next_b0;
      /* the lr in effect at that point, whatever on_epoch_begin (a scheduler) just set */
      lm_optimizer_set_lr(t->opt, run.resume_lr);
      resumed_mid_epoch = false;
    } else {
      if (o.shuffle) shuffle(ctx, idx, s.n_train);
      for (int k = 0; k < t->n_names; k++) L->sums[k] = 0;
      run.seen = 0;
    }
    for (int64_t b0 = b_first; b0 < s.n_train && !st; b0 += o.batch_size) {
      int64_t bs = s.n_train - b0 < o.batch_size ? s.n_train - b0 : o.batch_size;
      int batch = (int)(b0 / o.batch_size);
      lmt_logs_clear(&L->batch);
      lm_logs_set(&L->batch, "batch", batch);
      lm_logs_set(&L->batch, "size", (double)bs);
      FIRE(on_batch_begin, batch, &L->batch);
      if (st) break;
      t->loss_nonfinite = false;
      st = run_batch(m, &s.tr, idx + b0, bs, MODE_TRAIN, L->logs);
      if (st == LM_ERR_VALUE && t->loss_nonfinite && nan_stops) {
        lm_clear_error(ctx); /* TerminateOnNaN reports it and stops (update skipped) */
        st = LM_OK;
      } else if (st) {
        if (ctx->err == LM_ERR_VALUE) {
          char msg[sizeof ctx->errmsg];
          snprintf(msg, sizeof msg, "%s", ctx->errmsg);
          lm_fail(ctx, LM_ERR_VALUE, "Epoch %d, batch %d: %s", epoch + 1, batch, msg);
        }
        break;
      }
      for (int k = 0; k < t->n_names; k++) L->sums[k] += L->logs[k] * (double)bs;
      run.seen += bs;
      run.next_b0 = b0 + bs;
      st = put_logs(ctx, &L->batch, t->n_names, t->names, "", L->logs);
      if (!st && o.verbose) {
        lmt_progbar_add(&bar, run.seen, t->n_names, t->names, L->logs, NULL);
        if (run.seen < s.n_train) lmt_progbar_show(&bar, run.seen);
      }
      FIRE(on_batch_end, batch, &L->batch);
      if (t->stop_training) break;
    }
    if (st) break;
    /* fit_loop puts val_* into epoch_logs first; BaseLogger then adds the means */
    if (do_val && !t->stop_training) {
      st = test_loop(m, &s.va, vidx, s.n_val, o.batch_size, L->vvals);
      if (!st) st = put_logs(ctx, &L->epoch, t->n_names, t->names, "val_", L->vvals);
      if (st) break;
    }
    for (int k = 0; k < t->n_names; k++)
      L->vals[k] = L->sums[k] / (double)(run.seen ? run.seen : 1);
    if (run.seen) st = put_logs(ctx, &L->epoch, t->n_names, t->names, "", L->vals);
    if (st) break;
    if (o.verbose) {
      /* ProgbarLogger.on_epoch_end: the epoch's logs join the last batch's values */
      lmt_progbar_add(&bar, run.seen, t->n_names, t->names, L->vals, NULL);
      if (do_val && !t->stop_training)
        lmt_progbar_add(&bar, run.seen, t->n_names, t->names, L->vvals, "val_");
      lmt_progbar_show(&bar, run.seen);
    }
    run.epoch_done = true;
    run.next_b0 = 0;
    FIRE(on_epoch_end, epoch, &L->epoch);
    if (!st) st = lmt_history_append_logs(h, &L->epoch);
    if (t->stop_training) break;
  }
  if (!st) {
    lmt_logs_clear(&L->epoch);
    FIRE(on_train_end, &L->epoch);
  }
  t->run = NULL;
  lm_dealloc(ctx, L);
  for (int i = 0; i < o.n_callbacks; i++) o.callbacks[i]->params = NULL;
  if (st) {
    lm_history_free(h);
    return NULL;
  }
  return h;
}

lm_status lm_model_evaluate(lm_model *m, const lm_data *x, const lm_data *y, int batch_size,
                            int verbose, double *out) {
  lm_status st = need_compiled(m);
  if (st) return st;
  if (m->n_inputs > 64 || m->n_outputs > 64) return lm_fail(m->ctx, LM_ERR_ARG, "too many inputs");
  lm_tensor *arr[128];
  feed f = {.x = arr, .y = arr + 64};
  st = check_feed(m, &m->train->g, m->train->in_nodes, x, y, &f, true);
  if (!st) st = ensure_rows(m, f.n);
  if (st) return st;
  for (int64_t i = 0; i < f.n; i++) m->train->rows[i] = i;
  st = test_loop(m, &f, m->train->rows, f.n, batch_size > 0 ? batch_size : 32, out);
  if (!st && verbose) {
    lm_ctx *ctx = m->ctx;
    lmt_progbar bar;
    lmt_progbar_init(&bar, ctx, f.n, 1);
    lmt_progbar_add(&bar, f.n, m->train->n_names, m->train->names, out, NULL);
    lmt_progbar_show(&bar, f.n);
  }
  return st;
}

lm_status lm_model_train_on_batch(lm_model *m, const lm_data *x, const lm_data *y, double *logs) {
  lm_status st = need_compiled(m);
  if (st) return st;
  if (m->n_inputs > 64 || m->n_outputs > 64) return lm_fail(m->ctx, LM_ERR_ARG, "too many inputs");
  lm_tensor *arr[128];
  feed f = {.x = arr, .y = arr + 64};
  st = check_feed(m, &m->train->g, m->train->in_nodes, x, y, &f, true);
  if (!st) st = ensure_rows(m, f.n);
  if (st) return st;
  if (f.n == 0) return lm_fail(m->ctx, LM_ERR_ARG, "train_on_batch: empty batch");
  st = lmt_opt_ready(m->train->opt);
  if (st) return st;
  for (int64_t i = 0; i < f.n; i++) m->train->rows[i] = i;
  double tmp[256];
  return run_batch(m, &f, m->train->rows, f.n, MODE_TRAIN, logs ? logs : tmp);
}

/* ---- predict: the model's own inference plan, compiled or not ---- */

static lm_status run_pred(lm_model *m, lmm_infer *p, const feed *f, const int64_t *rows,
                          int64_t bs) {
  lmg_graph *g = &p->g;
  lm_status st = LM_OK;
  /* the plan is kept across calls: plan again if the thread count changed since */
  if (g->threads != (m->ctx->threads > 0 ? m->ctx->threads : 1)) g->planned = false;
  for (int i = 0; i < m->n_inputs && !st; i++) st = set_shape(g, p->in_nodes[i], f->x[i], bs);
  if (!st) st = lmg_plan_masked(g, bs, false, p->mask);
  if (st) return st;
  g->training = false;
  for (int i = 0; i < m->n_inputs; i++) copy_rows(lmg_at(g, p->in_nodes[i]), f->x[i], rows, bs);
  lmg_forward(g, p->mask);
  return g->fwd_err ? forward_error(m, g, rows, bs) : LM_OK;
}

lm_status lm_model_predict(lm_model *m, const lm_data *x, int batch_size, lm_tensor **outs) {
  if (!m) return LM_ERR_ARG;
  lm_ctx *ctx = m->ctx;
  if (!outs) return lm_fail(ctx, LM_ERR_ARG, "predict: outs is NULL");
  if (m->n_inputs > 64) return lm_fail(ctx, LM_ERR_ARG, "too many inputs");
  for (int i = 0; i < m->n_outputs; i++) outs[i] = NULL;
  lmm_infer *p = lmm_infer_get(m);
  if (!p) return ctx->err ? ctx->err : LM_ERR_NOMEM;
  lm_tensor *arr[128];
  feed f = {.x = arr, .y = arr + 64};
  lm_status st = check_feed(m, &p->g, p->in_nodes, x, NULL, &f, false);
  if (st) return st;
  if (batch_size <= 0) batch_size = 32;
  int64_t cap = f.n < batch_size ? f.n : batch_size;
  if (p->cap_rows < cap) {
    int64_t *r = lm_realloc(ctx, p->rows, sizeof(int64_t) * (size_t)(cap + 1));
    if (!r) return LM_ERR_NOMEM;
    p->rows = r;
    p->cap_rows = cap;
  }
  for (int64_t b0 = 0; b0 < f.n; b0 += batch_size) {
    int64_t bs = f.n - b0 < batch_size ? f.n - b0 : batch_size;
    for (int64_t r = 0; r < bs; r++) p->rows[r] = b0 + r;
    st = run_pred(m, p, &f, p->rows, bs);
    if (st) goto fail;
    for (int i = 0; i < m->n_outputs; i++) {
      const lmg_node *o = lmg_at(&p->g, p->out_nodes[i]);
      if (!outs[i]) {
        int64_t shape[LM_MAX_DIMS];
        memcpy(shape, o->shape, sizeof shape);
        shape[0] = f.n;
        outs[i] = lm_tensor_new(ctx, o->dtype, o->ndim, shape);
        if (!outs[i]) {
          st = LM_ERR_NOMEM;
          goto fail;
        }
      }
      int64_t row = o->size / (bs ? bs : 1);
      memcpy((float *)outs[i]->data + b0 * row, o->val, (size_t)o->size * 4);
    }
  }
  return LM_OK;
fail:
  for (int i = 0; i < m->n_outputs; i++) {
    lm_tensor_free(outs[i]);
    outs[i] = NULL;
  }
  return st;
}

lm_status lm_model_predict_on_batch(lm_model *m, const lm_data *x, lm_tensor **outs) {
  if (!m) return LM_ERR_ARG;
  if (!x || x->n <= 0 || !x->arrays || !x->arrays[0] || x->arrays[0]->ndim < 1)
    return lm_model_predict(m, x, 32, outs); /* reports what is wrong with x */
  int64_t n = x->arrays[0]->shape[0];
  return lm_model_predict(m, x, n > 0 && n <= INT32_MAX ? (int)n : 32, outs);
}

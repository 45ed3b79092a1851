/* Training checkpoints: everything fit needs to continue exactly where it
 * stopped, in one safetensors file written atomically (tmp + fsync + rename).
 *
 * Tensors: the model's weights (Keras names), "optimizer/<param>/<slot>"
 * (moments, velocities), "fit/order" (the shuffled training order, int32)
 * and "callbacks/EarlyStopping/<k>/best_weights" (the best epoch's weights of
 * the k-th EarlyStopping(restore_best_weights=True), once it has them).
 * Metadata: format "lamina-checkpoint", epoch and batch position, the epoch's
 * running sums, optimizer iterations and lr, the RNG state, each callback's
 * state, "stopped" ("1" when a callback had stopped training: a resumed fit
 * then runs no further epoch), and "crc32": a CRC-32 over every tensor (name and bytes, in name
 * order) and every other metadata value, with "data_bytes", the size of the
 * tensor data. A file that does not parse, is short, or fails the CRC is
 * refused before anything in the model changes. */
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "core/json.h"
#include "core/safetensors.h"
#include "train/callbacks.h"

#define CKPT_FORMAT "lamina-checkpoint"
#define MAX_STATE 16
#define NAME_LEN 64 /* tensor names this file makes: optimizer/<i>/<s>, callbacks/.../best_weights */

static const char *const meta_keys[] = {"format",     "lamina_version", "epoch", "batch_start",
                                        "seen",       "n_train",        "sums",  "iterations",
                                        "lr",         "optimizer",      "rng",   "callbacks",
                                        "stopped",    "data_bytes",     "crc32"};
enum { N_META = sizeof meta_keys / sizeof *meta_keys, N_CRC_META = N_META - 1 };
enum { K_STOPPED = 12, K_BYTES = 13, K_CRC = 14 };
/* Keys a checkpoint may lack (written by an earlier lamina): read as "0". */
static bool optional_key(int k) { return k == K_STOPPED; }

typedef struct named {
  const char *name;
  const lm_tensor *t;
} named;

static int cmp_named(const void *a, const void *b) {
  return strcmp(((const named *)a)->name, ((const named *)b)->name);
}

/* CRC over tensors (sorted by name) and the metadata values before "crc32". */
static uint32_t checksum(named *ts, int n, const char *const *vals, uint64_t *bytes) {
  qsort(ts, (size_t)n, sizeof *ts, cmp_named);
  uLong crc = crc32(0L, Z_NULL, 0);
  uint64_t total = 0;
  for (int i = 0; i < n; i++) {
    crc = crc32(crc, (const Bytef *)ts[i].name, (uInt)strlen(ts[i].name) + 1);
    size_t len = (size_t)ts[i].t->size * lm_dtype_size(ts[i].t->dtype);
    const unsigned char *p = ts[i].t->data;
    for (size_t at = 0; at < len;) { /* crc32 takes uInt lengths */
      size_t chunk = len - at > (1u << 30) ? (1u << 30) : len - at;
      crc = crc32(crc, p + at, (uInt)chunk);
      at += chunk;
    }
    total += len;
  }
  for (int k = 0; vals && k < N_CRC_META; k++)
    if (k != K_BYTES && vals[k]) /* an absent optional key is not part of the CRC */
      crc = crc32(crc, (const Bytef *)vals[k], (uInt)strlen(vals[k]) + 1);
  *bytes = total;
  return (uint32_t)crc;
}

static int n_weights(const lm_model *m) {
  int n = 0;
  for (int i = 0; i < m->n_layers; i++) n += m->layers[i]->n_weights;
  return n;
}

static void put_state(lm_buf *b, const lmt_fit_run *run) {
  lm_buf_puts(b, "[");
  for (int i = 0; i < run->n_cbs; i++) {
    const lm_callback *cb = run->cbs[i];
    double st[MAX_STATE];
    int n = cb->vt->get_state ? cb->vt->get_state(cb, st, MAX_STATE) : 0;
    lm_buf_puts(b, i ? ", {\"name\": " : "{\"name\": ");
    lmj_write_str(b, cb->vt->name ? cb->vt->name : "");
    lm_buf_puts(b, ", \"state\": [");
    for (int k = 0; k < n && k < MAX_STATE; k++)
      lm_buf_printf(b, "%s\"%.17g\"", k ? ", " : "", st[k]);
    lm_buf_puts(b, "]}");
  }
  lm_buf_puts(b, "]");
}

lm_status lmt_checkpoint_write(lm_model *m, const char *path) {
  lm_ctx *ctx = m->ctx;
  lmt_train *t = m->train;
  const lmt_fit_run *run = t ? t->run : NULL;
  if (!run)
    return lm_fail(ctx, LM_ERR_STATE, "checkpoint: a training checkpoint is written during fit");
  lm_optimizer *opt = t->opt;
  int nw = n_weights(m), n_slots = 0, n_best = 0;
  for (int i = 0; i < opt->n_params * 3; i++) n_slots += opt->slots[i] != NULL;
  for (int i = 0; i < run->n_cbs; i++) {
    int64_t nb;
    n_best += lmt_es_best_weights(run->cbs[i], &nb) != NULL;
  }
  n_slots += n_best; /* the views and their names are shared with the slots' */
  int n = nw + n_slots + 1;
  named *ts = lm_alloc(ctx, sizeof *ts * (size_t)n);
  lm_tensor *views = lm_alloc(ctx, sizeof *views * (size_t)(n_slots + 1));
  char *slot_names = lm_alloc(ctx, (size_t)(n_slots + 1) * NAME_LEN);
  lm_tensor *order = lmt_new(ctx, LM_INT32, 1, &run->n_train);
  const char **names = lm_alloc(ctx, sizeof *names * (size_t)n);
  lm_tensor **tensors = lm_alloc(ctx, sizeof *tensors * (size_t)n);
  lm_buf vals[N_META];
  for (int k = 0; k < N_META; k++) lm_buf_init(&vals[k], ctx);
  lm_status st = LM_OK;
  if (!ts || !views || !slot_names || !order || !names || !tensors) {
    st = LM_ERR_NOMEM;
    goto done;
  }
  int k = 0, v = 0;
  for (int i = 0; i < m->n_layers; i++)
    for (int j = 0; j < m->layers[i]->n_weights; j++)
      ts[k++] = (named){m->layers[i]->weights[j].name, m->layers[i]->weights[j].t};
  for (int i = 0; i < opt->n_params; i++)
    for (int s = 0; s < 3; s++) {
      if (!opt->slots[3 * i + s]) continue;
      char *nm = slot_names + (size_t)v * NAME_LEN;
      snprintf(nm, NAME_LEN, "optimizer/%d/%d", i, s);
      lm_tensor *view = &views[v++];
      view->dtype = LM_FLOAT32;
      view->ndim = 1;
      view->shape[0] = view->size = opt->sizes[i];
      view->data = opt->slots[3 * i + s];
      ts[k++] = (named){nm, view};
    }
  for (int i = 0, rank = 0; i < run->n_cbs; i++) {
    int64_t nb = 0;
    float *best = lmt_es_best_weights(run->cbs[i], &nb);
    rank += lmt_es_wants_best_weights(run->cbs[i]) ? 1 : 0;
    if (!best) continue;
    char *nm = slot_names + (size_t)v * NAME_LEN;
    snprintf(nm, NAME_LEN, "callbacks/EarlyStopping/%d/best_weights", rank - 1);
    lm_tensor *view = &views[v++];
    view->dtype = LM_FLOAT32;
    view->ndim = 1;
    view->shape[0] = view->size = nb;
    view->data = best;
    ts[k++] = (named){nm, view};
  }
  int32_t *o = order->data;
  for (int64_t i = 0; i < run->n_train; i++) o[i] = (int32_t)run->idx[i];
  ts[k++] = (named){"fit/order", order};
  bool done_epoch = run->epoch_done;
  lm_buf_puts(&vals[0], CKPT_FORMAT);
  lm_buf_puts(&vals[1], LAMINA_VERSION);
  lm_buf_printf(&vals[2], "%d", done_epoch ? run->epoch + 1 : run->epoch);
  lm_buf_printf(&vals[3], "%lld", (long long)(done_epoch ? 0 : run->next_b0));
  lm_buf_printf(&vals[4], "%lld", (long long)(done_epoch ? 0 : run->seen));
  lm_buf_printf(&vals[5], "%lld", (long long)run->n_train);
  lm_buf_puts(&vals[6], "[");
  for (int i = 0; i < run->n_sums; i++)
    lm_buf_printf(&vals[6], "%s\"%.17g\"", i ? ", " : "", done_epoch ? 0.0 : run->sums[i]);
  lm_buf_puts(&vals[6], "]");
  lm_buf_printf(&vals[7], "%lld", (long long)opt->iterations);
  lm_buf_printf(&vals[8], "%.9g", (double)opt->lr);
  lm_buf_printf(&vals[9], "%d %d", opt->kind, opt->n_params);
  lm_buf_printf(&vals[10], "%016llx %016llx %016llx %016llx", (unsigned long long)ctx->rng[0],
                (unsigned long long)ctx->rng[1], (unsigned long long)ctx->rng[2],
                (unsigned long long)ctx->rng[3]);
  put_state(&vals[11], run);
  lm_buf_puts(&vals[K_STOPPED], t->stop_training ? "1" : "0");
  const char *cv[N_META];
  for (int i = 0; i < N_CRC_META; i++) cv[i] = vals[i].data ? vals[i].data : "";
  uint64_t bytes;
  uint32_t crc = checksum(ts, n, cv, &bytes);
  lm_buf_printf(&vals[K_BYTES], "%llu", (unsigned long long)bytes);
  lm_buf_printf(&vals[K_CRC], "%08x", (unsigned)crc);
  for (int i = 0; i < N_META; i++)
    if (vals[i].oom) st = LM_ERR_NOMEM;
  if (st) goto done;
  for (int i = 0; i < N_META; i++) cv[i] = vals[i].data;
  for (int i = 0; i < n; i++) {
    names[i] = ts[i].name;
    tensors[i] = (lm_tensor *)ts[i].t;
  }
  st = lms_write(ctx, path, n, names, tensors, N_META, meta_keys, cv);
done:
  for (int i = 0; i < N_META; i++) lm_buf_free(&vals[i]);
  lm_dealloc(ctx, ts);
  lm_dealloc(ctx, views);
  lm_dealloc(ctx, slot_names);
  lmt_free(order);
  lm_dealloc(ctx, names);
  lm_dealloc(ctx, tensors);
  return st;
}

/* Read and check a checkpoint: parse, format, size and CRC. */
static lms_file *read_checked(lm_ctx *ctx, const char *path) {
  lms_file *f = lms_read(ctx, path);
  if (!f) {
    if (lm_errcode(ctx) == LM_ERR_FORMAT) {
      char msg[sizeof ctx->errmsg];
      snprintf(msg, sizeof msg, "%s", lm_errmsg(ctx));
      lm_fail(ctx, LM_ERR_FORMAT, "checkpoint '%s' is truncated or corrupt and was not loaded: %s",
              path, msg);
    }
    return NULL;
  }
  const char *fmt = lms_meta(f, "format");
  const char *vals[N_META];
  bool all = true;
  for (int k = 0; k < N_META; k++)
    all = ((vals[k] = lms_meta(f, meta_keys[k])) != NULL || optional_key(k)) && all;
  if (!fmt || strcmp(fmt, CKPT_FORMAT) != 0 || !all) {
    lm_fail(ctx, LM_ERR_FORMAT,
            "'%s' is not a lamina training checkpoint (metadata format \"%s\" or keys missing); "
            "a saved model is loaded with lm_model_load",
            path, fmt ? fmt : "(none)");
    lms_free(ctx, f);
    return NULL;
  }
  named *ts = lm_alloc(ctx, sizeof *ts * (size_t)(f->n + 1));
  if (!ts) {
    lms_free(ctx, f);
    return NULL;
  }
  for (int i = 0; i < f->n; i++) ts[i] = (named){f->names[i], f->tensors[i]};
  uint64_t bytes;
  uint32_t crc = checksum(ts, f->n, vals, &bytes);
  lm_dealloc(ctx, ts);
  char want_crc[16], want_bytes[32];
  snprintf(want_crc, sizeof want_crc, "%08x", (unsigned)crc);
  snprintf(want_bytes, sizeof want_bytes, "%llu", (unsigned long long)bytes);
  if (strcmp(want_bytes, vals[K_BYTES]) != 0 || strcmp(want_crc, vals[K_CRC]) != 0) {
    lm_fail(ctx, LM_ERR_FORMAT,
            "checkpoint '%s' is corrupt and was not loaded: its data has %s bytes with CRC-32 %s "
            "but the metadata says %s bytes with CRC-32 %s",
            path, want_bytes, want_crc, vals[K_BYTES], vals[K_CRC]);
    lms_free(ctx, f);
    return NULL;
  }
  return f;
}

lm_status lm_checkpoint_verify(lm_ctx *ctx, const char *path) {
  if (!ctx) return LM_ERR_ARG;
  if (!path) return lm_fail(ctx, LM_ERR_ARG, "checkpoint: no path given");
  lms_file *f = read_checked(ctx, path);
  if (!f) return lm_errcode(ctx) ? lm_errcode(ctx) : LM_ERR_FORMAT;
  lms_free(ctx, f);
  return LM_OK;
}

static bool same_shape(const lm_tensor *a, const lm_tensor *b) {
  return a && b && a->dtype == b->dtype && a->size == b->size;
}

/* Every check before anything is changed. */
static lm_status check_fits(lm_model *m, const lms_file *f, const char *path,
                            const lmt_fit_run *run) {
  lm_ctx *ctx = m->ctx;
  lm_optimizer *opt = m->train->opt;
  for (int i = 0; i < m->n_layers; i++)
    for (int j = 0; j < m->layers[i]->n_weights; j++) {
      const lm_tensor *w = m->layers[i]->weights[j].t,
                      *s = lms_get(f, m->layers[i]->weights[j].name);
      if (!s || s->ndim != w->ndim || !same_shape(s, w) ||
          memcmp(s->shape, w->shape, sizeof(int64_t) * (size_t)w->ndim) != 0)
        return lm_fail(ctx, LM_ERR_SHAPE,
                       "cannot resume from '%s': weight \"%s\" is missing or has another shape "
                       "(was it written by another model?)",
                       path, m->layers[i]->weights[j].name);
    }
  int kind = -1, n_params = -1;
  if (sscanf(lms_meta(f, "optimizer"), "%d %d", &kind, &n_params) != 2 || kind != opt->kind ||
      n_params != opt->n_params)
    return lm_fail(ctx, LM_ERR_ARG,
                   "cannot resume from '%s': it holds the state of another optimizer (%s) than "
                   "the model's",
                   path, lms_meta(f, "optimizer"));
  for (int i = 0; i < opt->n_params; i++)
    for (int s = 0; s < 3; s++) {
      char nm[48];
      snprintf(nm, sizeof nm, "optimizer/%d/%d", i, s);
      const lm_tensor *src = lms_get(f, nm);
      if ((opt->slots[3 * i + s] != NULL) != (src != NULL) || (src && src->size != opt->sizes[i]))
        return lm_fail(ctx, LM_ERR_ARG, "cannot resume from '%s': optimizer slot %s does not fit",
                       path, nm);
    }
  long long n_train = atoll(lms_meta(f, "n_train"));
  const lm_tensor *order = lms_get(f, "fit/order");
  if (n_train != run->n_train || !order || order->dtype != LM_INT32 || order->size != run->n_train)
    return lm_fail(ctx, LM_ERR_ARG,
                   "cannot resume from '%s': it was written for %lld training samples but fit "
                   "has %lld",
                   path, n_train, (long long)run->n_train);
  const int32_t *o = order->data;
  for (int64_t i = 0; i < order->size; i++)
    if (o[i] < 0 || o[i] >= run->n_train)
      return lm_fail(ctx, LM_ERR_FORMAT, "checkpoint '%s': training order out of range", path);
  long long b0 = atoll(lms_meta(f, "batch_start"));
  int epoch = atoi(lms_meta(f, "epoch"));
  if (b0 < 0 || b0 > run->n_train || epoch < 0)
    return lm_fail(ctx, LM_ERR_FORMAT, "checkpoint '%s': bad epoch or batch position", path);
  for (int i = 0, rank = 0; i < run->n_cbs; i++) {
    if (!lmt_es_wants_best_weights(run->cbs[i])) continue;
    char nm[64];
    snprintf(nm, sizeof nm, "callbacks/EarlyStopping/%d/best_weights", rank++);
    const lm_tensor *bw = lms_get(f, nm);
    int64_t total = 0;
    for (int l = 0; l < m->n_layers; l++)
      for (int j = 0; j < m->layers[l]->n_weights; j++) total += m->layers[l]->weights[j].t->size;
    if (bw && (bw->dtype != LM_FLOAT32 || bw->size != total))
      return lm_fail(ctx, LM_ERR_FORMAT,
                     "cannot resume from '%s': tensor %s has %lld values but the model has %lld "
                     "weights",
                     path, nm, (long long)bw->size, (long long)total);
  }
  if (b0 > 0 && b0 % run->params.batch_size != 0 && b0 != run->n_train)
    return lm_fail(ctx, LM_ERR_ARG,
                   "cannot resume from '%s': it stopped at sample %lld of an epoch, which is not a "
                   "batch boundary for batch_size %d",
                   path, b0, run->params.batch_size);
  return LM_OK;
}

static lm_status parse_doubles(lm_ctx *ctx, const lmj_value *arr, double *out, int cap, int *n) {
  if (!arr || arr->type != LMJ_ARR || arr->n > cap) return LM_ERR_FORMAT;
  for (int i = 0; i < arr->n; i++) {
    if (arr->items[i].type != LMJ_STR) return LM_ERR_FORMAT;
    out[i] = strtod(arr->items[i].str, NULL);
  }
  *n = arr->n;
  (void)ctx;
  return LM_OK;
}

/* k-th callback named N gets the k-th saved state named N. */
static lm_status restore_callbacks(lm_ctx *ctx, const lmj_value *saved, lmt_fit_run *run,
                                   const char *path) {
  if (!saved || saved->type != LMJ_ARR)
    return lm_fail(ctx, LM_ERR_FORMAT, "checkpoint '%s': bad callbacks metadata", path);
  for (int i = 0; i < run->n_cbs; i++) {
    lm_callback *cb = run->cbs[i];
    if (!cb->vt->set_state || !cb->vt->name) continue;
    int rank = 0;
    for (int j = 0; j < i; j++)
      rank += run->cbs[j]->vt->name && strcmp(run->cbs[j]->vt->name, cb->vt->name) == 0;
    for (int k = 0; k < saved->n; k++) {
      const char *nm = lmj_get_str(&saved->items[k], "name", "");
      if (strcmp(nm, cb->vt->name) != 0 || rank-- > 0) continue;
      double st[MAX_STATE];
      int n = 0;
      if (parse_doubles(ctx, lmj_get(&saved->items[k], "state"), st, MAX_STATE, &n) ||
          cb->vt->set_state(cb, st, n))
        return lm_fail(ctx, LM_ERR_FORMAT, "checkpoint '%s': bad state for callback %s", path, nm);
      break;
    }
  }
  return LM_OK;
}

lm_status lmt_checkpoint_resume(lm_model *m, const char *path, lmt_fit_run *run, int *epoch) {
  lm_ctx *ctx = m->ctx;
  lms_file *f = read_checked(ctx, path);
  if (!f) return lm_errcode(ctx) ? lm_errcode(ctx) : LM_ERR_FORMAT;
  lm_status st = check_fits(m, f, path, run);
  double sums[256];
  int n_sums = 0;
  unsigned long long rng[4];
  const char *cbs = lms_meta(f, "callbacks");
  lmj_value *saved = NULL;
  if (!st) {
    const char *s = lms_meta(f, "sums");
    lmj_value *sv = lmj_parse(ctx, s, strlen(s), path);
    if (!sv)
      st = lm_errcode(ctx) ? lm_errcode(ctx) : LM_ERR_FORMAT;
    else if (parse_doubles(ctx, sv, sums, 256, &n_sums) || n_sums != run->n_sums)
      st = lm_fail(ctx, LM_ERR_ARG,
                   "cannot resume from '%s': it was written for a model with other metrics", path);
    lmj_free(ctx, sv);
  }
  if (!st &&
      sscanf(lms_meta(f, "rng"), "%llx %llx %llx %llx", &rng[0], &rng[1], &rng[2], &rng[3]) != 4)
    st = lm_fail(ctx, LM_ERR_FORMAT, "checkpoint '%s': bad RNG state", path);
  if (!st && !(saved = lmj_parse(ctx, cbs, strlen(cbs), path)))
    st = lm_errcode(ctx) ? lm_errcode(ctx) : LM_ERR_FORMAT;
  if (!st) {
    for (int i = 0; i < m->n_layers; i++)
      for (int j = 0; j < m->layers[i]->n_weights; j++) {
        lm_tensor *w = m->layers[i]->weights[j].t;
        memcpy(w->data, lms_get(f, m->layers[i]->weights[j].name)->data, (size_t)w->size * 4);
        w->version++;
      }
    lm_optimizer *opt = m->train->opt;
    for (int i = 0; i < opt->n_params; i++)
      for (int s = 0; s < 3; s++) {
        char nm[48];
        snprintf(nm, sizeof nm, "optimizer/%d/%d", i, s);
        if (opt->slots[3 * i + s])
          memcpy(opt->slots[3 * i + s], lms_get(f, nm)->data,
                 sizeof(float) * (size_t)opt->sizes[i]);
      }
    opt->iterations = atoll(lms_meta(f, "iterations"));
    opt->lr = run->resume_lr = strtof(lms_meta(f, "lr"), NULL);
    for (int i = 0; i < 4; i++) ctx->rng[i] = (uint64_t)rng[i];
    const int32_t *o = lms_get(f, "fit/order")->data;
    for (int64_t i = 0; i < run->n_train; i++) run->idx[i] = o[i];
    for (int i = 0; i < n_sums; i++) run->sums[i] = sums[i];
    run->next_b0 = atoll(lms_meta(f, "batch_start"));
    run->seen = atoll(lms_meta(f, "seen"));
    *epoch = atoi(lms_meta(f, "epoch"));
    const char *stopped = lms_meta(f, "stopped");
    run->resume_stopped = stopped && strcmp(stopped, "1") == 0;
    st = restore_callbacks(ctx, saved, run, path);
    for (int i = 0, rank = 0; !st && i < run->n_cbs; i++) {
      if (!lmt_es_wants_best_weights(run->cbs[i])) continue;
      char nm[64];
      snprintf(nm, sizeof nm, "callbacks/EarlyStopping/%d/best_weights", rank++);
      const lm_tensor *bw = lms_get(f, nm);
      if (bw) st = lmt_es_set_best_weights(run->cbs[i], bw->data, bw->size);
    }
  }
  lmj_free(ctx, saved);
  lms_free(ctx, f);
  return st;
}

/* ---- the callback that writes them ---- */

typedef struct ckpt_cb {
  lm_callback cb;
  lm_obj obj;
  lm_ctx *ctx;
  char *path;
  int every;
  int64_t batches;
} ckpt_cb;

static lm_status ck_batch_end(lm_callback *cb, int batch, lm_logs *logs) {
  (void)batch;
  (void)logs;
  ckpt_cb *c = (ckpt_cb *)cb;
  if (c->every <= 0 || ++c->batches % c->every != 0) return LM_OK;
  return lmt_checkpoint_write(cb->model, c->path);
}

static lm_status ck_epoch_end(lm_callback *cb, int epoch, lm_logs *logs) {
  (void)epoch;
  (void)logs;
  return lmt_checkpoint_write(cb->model, ((ckpt_cb *)cb)->path);
}

static void ck_destroy(lm_callback *cb) {
  ckpt_cb *c = (ckpt_cb *)cb;
  lm_obj_detach(&c->obj);
  lm_dealloc(c->ctx, c->path);
  lm_dealloc(c->ctx, c);
}

static void ck_destroy_obj(lm_obj *o) {
  ck_destroy((lm_callback *)((char *)o - offsetof(ckpt_cb, obj)));
}

static const lm_callback_vt ck_vt = {.name = "TrainingCheckpoint",
                                     .on_batch_end = ck_batch_end,
                                     .on_epoch_end = ck_epoch_end,
                                     .destroy = ck_destroy};

lm_callback *lm_callback_checkpoint(lm_ctx *ctx, const char *path, int every_n_batches) {
  if (!ctx) return NULL;
  if (!path || !*path || every_n_batches < 0) {
    lm_fail(ctx, LM_ERR_ARG, "checkpoint: a path and every_n_batches >= 0 are needed");
    return NULL;
  }
  ckpt_cb *c = lm_alloc(ctx, sizeof *c);
  if (!c) return NULL;
  c->cb.vt = &ck_vt;
  c->ctx = ctx;
  c->every = every_n_batches;
  lm_obj_attach(ctx, &c->obj, ck_destroy_obj);
  c->path = lm_strdup(ctx, path);
  if (!c->path) {
    ck_destroy(&c->cb);
    return NULL;
  }
  return &c->cb;
}

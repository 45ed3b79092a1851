/* History: per-epoch values of every log key. */
#include <math.h>
#include <string.h>

#include "train/callbacks.h"
#include "train/fit.h"

static void history_destroy(lm_obj *o) {
  lm_history *h = (lm_history *)o;
  for (int i = 0; i < h->n_keys; i++) {
    lm_dealloc(h->ctx, h->keys[i]);
    lm_dealloc(h->ctx, h->vals[i]);
  }
  lm_dealloc(h->ctx, h->keys);
  lm_dealloc(h->ctx, h->vals);
  lm_dealloc(h->ctx, h);
}

lm_history *lmt_history_new(lm_ctx *ctx, int n_keys, char *const *keys, const char *prefix2,
                            int n_keys2, char *const *keys2) {
  lm_history *h = lm_alloc(ctx, sizeof *h);
  if (!h) return NULL;
  h->ctx = ctx;
  int n = n_keys + n_keys2;
  h->keys = lm_alloc(ctx, sizeof(char *) * (size_t)(n + 1));
  h->vals = lm_alloc(ctx, sizeof(double *) * (size_t)(n + 1));
  lm_obj_attach(ctx, &h->obj, history_destroy);
  if (!h->keys || !h->vals) goto fail;
  for (int i = 0; i < n; i++) {
    char buf[320];
    if (i < n_keys)
      snprintf(buf, sizeof buf, "%s", keys[i]);
    else
      snprintf(buf, sizeof buf, "%s%s", prefix2, keys2[i - n_keys]);
    h->keys[i] = lm_strdup(ctx, buf);
    if (!h->keys[i]) goto fail;
    h->n_keys++;
  }
  return h;
fail:
  lm_history_free(h);
  return NULL;
}

lm_status lmt_history_append(lm_history *h, const double *values) {
  if (h->n_epochs == h->cap) {
    int cap = h->cap ? h->cap * 2 : 16;
    for (int i = 0; i < h->n_keys; i++) {
      double *p = lm_realloc(h->ctx, h->vals[i], sizeof(double) * (size_t)cap);
      if (!p) return LM_ERR_NOMEM;
      h->vals[i] = p;
    }
    h->cap = cap;
  }
  for (int i = 0; i < h->n_keys; i++) h->vals[i][h->n_epochs] = values[i];
  h->n_epochs++;
  return LM_OK;
}

int lm_history_n_epochs(const lm_history *h) { return h ? h->n_epochs : 0; }
int lm_history_n_keys(const lm_history *h) { return h ? h->n_keys : 0; }
const char *lm_history_key(const lm_history *h, int i) {
  return h && i >= 0 && i < h->n_keys ? h->keys[i] : NULL;
}
const double *lm_history_get(const lm_history *h, const char *key) {
  for (int i = 0; h && key && i < h->n_keys; i++)
    if (strcmp(h->keys[i], key) == 0) return h->vals[i];
  return NULL;
}
void lm_history_free(lm_history *h) {
  if (!h) return;
  lm_obj_detach(&h->obj);
  history_destroy(&h->obj);
}

/* [issue 6] History.on_epoch_end: one value per key of the epoch logs; a key
 * first seen later (such as lr) gets NaN for the earlier epochs, a key absent
 * this epoch (val_* after stop_training) gets NaN. */
lm_status lmt_history_append_logs(lm_history *h, const lm_logs *logs) {
  for (int i = 0; i < logs->n; i++) {
    int k = 0;
    while (k < h->n_keys && strcmp(h->keys[k], logs->keys[i]) != 0) k++;
    if (k < h->n_keys) continue;
    char **keys = lm_realloc(h->ctx, h->keys, sizeof(char *) * (size_t)(h->n_keys + 2));
    if (!keys) return LM_ERR_NOMEM;
    h->keys = keys;
    double **vals = lm_realloc(h->ctx, h->vals, sizeof(double *) * (size_t)(h->n_keys + 2));
    if (!vals) return LM_ERR_NOMEM;
    h->vals = vals;
    char *key = lm_strdup(h->ctx, logs->keys[i]);
    double *v = h->cap ? lm_alloc(h->ctx, sizeof(double) * (size_t)h->cap) : NULL;
    if (!key || (h->cap && !v)) {
      lm_dealloc(h->ctx, key);
      lm_dealloc(h->ctx, v);
      return LM_ERR_NOMEM;
    }
    for (int e = 0; e < h->n_epochs; e++) v[e] = NAN;
    h->keys[h->n_keys] = key;
    h->vals[h->n_keys++] = v;
  }
  double *row = lm_alloc(h->ctx, sizeof(double) * (size_t)(h->n_keys + 1));
  if (!row) return LM_ERR_NOMEM;
  for (int i = 0; i < h->n_keys; i++) {
    row[i] = NAN;
    lm_logs_get(logs, h->keys[i], &row[i]);
  }
  lm_status st = lmt_history_append(h, row);
  lm_dealloc(h->ctx, row);
  return st;
}

/* History: per-epoch values of every log key. */
#include <string.h>

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

/* Keras 2.2.4 Progbar (keras/utils/generic_utils.py), samples mode. On a
 * terminal the bar is redrawn in place; elsewhere only the final line of
 * each epoch is printed. */
#include <math.h>
#include <string.h>

#include "kernels/kernels.h"
#include "train/fit.h"

void lmt_progbar_init(lmt_progbar *p, lm_ctx *ctx, int64_t target, int verbose) {
  memset(p, 0, sizeof *p);
  p->ctx = ctx;
  p->target = target;
  p->verbose = verbose;
  p->dynamic = lm_log_tty(ctx);
  p->start = lmk_now();
  p->last_update = 0;
}

void lmt_progbar_add(lmt_progbar *p, int64_t current, int n, char *const *keys,
                     const double *values, const char *prefix) {
  double w = (double)(current - p->seen_so_far);
  for (int i = 0; i < n; i++) {
    char key[96];
    snprintf(key, sizeof key, "%s%s", prefix ? prefix : "", keys[i]);
    int k = 0;
    while (k < p->n_keys && strcmp(p->keys[k], key) != 0) k++;
    if (k == p->n_keys) {
      if (p->n_keys == LMT_PROGBAR_MAX_KEYS) continue;
      snprintf(p->keys[k], sizeof p->keys[k], "%s", key);
      p->sum[k] = p->count[k] = 0;
      p->n_keys++;
    }
    p->sum[k] += values[i] * w;
    p->count[k] += w;
  }
}

static void append_values(const lmt_progbar *p, lm_buf *b) {
  for (int k = 0; k < p->n_keys; k++) {
    double avg = p->sum[k] / (p->count[k] > 1 ? p->count[k] : 1);
    if (fabs(avg) > 1e-3)
      lm_buf_printf(b, " - %s: %.4f", p->keys[k], avg);
    else
      lm_buf_printf(b, " - %s: %.4e", p->keys[k], avg);
  }
}

void lmt_progbar_show(lmt_progbar *p, int64_t current) {
  double now = lmk_now();
  lm_ctx *ctx = p->ctx;
  bool final = current >= p->target;
  if (p->verbose == 1 && !final && (!p->dynamic || now - p->last_update < 0.05)) {
    p->seen_so_far = current;
    return;
  }
  if (p->verbose == 2 && !final) {
    p->seen_so_far = current;
    return;
  }
  lm_buf b;
  lm_buf_init(&b, ctx);
  if (p->verbose == 1) {
    int prev = p->total_width;
    if (p->dynamic) {
      for (int i = 0; i < prev; i++) lm_buf_puts(&b, "\b");
      lm_buf_puts(&b, "\r");
    }
    int digits = (int)floor(log10((double)(p->target > 0 ? p->target : 1))) + 1;
    size_t bar_start = b.len;
    lm_buf_printf(&b, "%*lld/%lld [", digits, (long long)current, (long long)p->target);
    int prog_width = (int)(30.0 * (double)current / (double)(p->target > 0 ? p->target : 1));
    if (prog_width > 0) {
      for (int i = 0; i < prog_width - 1; i++) lm_buf_puts(&b, "=");
      lm_buf_puts(&b, final ? "=" : ">");
    }
    for (int i = prog_width; i < 30; i++) lm_buf_puts(&b, ".");
    lm_buf_puts(&b, "]");
    p->total_width = (int)(b.len - bar_start);
    size_t info_start = b.len;
    double per = current ? (now - p->start) / (double)current : 0.0;
    if (!final) {
      double eta = per * (double)(p->target - current);
      if (eta > 3600)
        lm_buf_printf(&b, " - ETA: %d:%02d:%02d", (int)(eta / 3600), (int)fmod(eta, 3600) / 60,
                      (int)fmod(eta, 60));
      else if (eta > 60)
        lm_buf_printf(&b, " - ETA: %d:%02d", (int)(eta / 60), (int)fmod(eta, 60));
      else
        lm_buf_printf(&b, " - ETA: %ds", (int)eta);
    } else {
      lm_buf_printf(&b, " - %.0fs", now - p->start);
      if (per >= 1)
        lm_buf_printf(&b, " %.0fs/step", per);
      else if (per >= 1e-3)
        lm_buf_printf(&b, " %.0fms/step", per * 1e3);
      else
        lm_buf_printf(&b, " %.0fus/step", per * 1e6);
    }
    append_values(p, &b);
    p->total_width += (int)(b.len - info_start);
    if (p->dynamic)
      for (int i = p->total_width; i < prev; i++) lm_buf_puts(&b, " ");
    if (final) lm_buf_puts(&b, "\n");
  } else if (p->verbose == 2) {
    lm_buf_printf(&b, " - %.0fs", now - p->start);
    append_values(p, &b);
    lm_buf_puts(&b, "\n");
  }
  if (!b.oom && b.data && ctx->log) ctx->log(ctx->log_ud, b.data);
  lm_buf_free(&b);
  p->last_update = now;
  p->seen_so_far = current;
}

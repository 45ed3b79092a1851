/* model.summary(): the Keras 2.2.4 text (keras/utils/layer_utils.py::print_summary). */
#include <string.h>

#include "model/model.h"

typedef struct row_writer {
  lm_buf *b;
  const int *pos;
  int n;
} row_writer;

/* line = line[:-1] + ' ' before each later field; truncate and pad to pos[i]. */
static void print_row(row_writer *w, const char *const *fields) {
  char line[512];
  size_t len = 0;
  for (int i = 0; i < w->n; i++) {
    if (i > 0 && len > 0) line[len - 1] = ' ';
    size_t fl = strlen(fields[i]);
    size_t room = (size_t)w->pos[i] > len ? (size_t)w->pos[i] - len : 0;
    if (fl > room) fl = room;
    memcpy(line + len, fields[i], fl);
    len += fl;
    if (len > (size_t)w->pos[i]) len = (size_t)w->pos[i];
    while (len < (size_t)w->pos[i]) line[len++] = ' ';
  }
  line[len] = 0;
  lm_buf_puts(w->b, line);
  lm_buf_puts(w->b, "\n");
}

static void rule(lm_buf *b, char c, int n) {
  char line[256];
  memset(line, c, (size_t)n);
  line[n] = '\n';
  line[n + 1] = 0;
  lm_buf_puts(b, line);
}

/* Keras' "sequential_like" test. */
static bool sequential_like(const lm_model *m) {
  if (m->sequential) return true;
  int max_depth = 0;
  for (int i = 0; i < m->n_calls; i++)
    if (m->call_depth[i] > max_depth) max_depth = m->call_depth[i];
  for (int d = 0; d <= max_depth; d++) {
    int count = 0;
    for (int i = 0; i < m->n_calls; i++)
      if (m->call_depth[i] == d) {
        count++;
        if (m->calls[i]->n_in > 1) return false;
      }
    if (count > 1) return false;
  }
  for (int i = 0; i < m->n_layers; i++) {
    int owned = 0;
    for (int k = 0; k < m->layers[i]->n_calls; k++)
      if (lmm_owns_call(m, m->layers[i]->calls[k])) owned++;
    if (owned > 1) return false;
  }
  return true;
}

static bool same_shape(const lm_shape *a, const lm_shape *b) {
  return a->ndim == b->ndim && memcmp(a->d, b->d, sizeof(int64_t) * (size_t)a->ndim) == 0;
}

/* Keras' layer.output_shape: one tuple, a list of tuples for several
 * outputs, "multiple" when the calls differ. */
static void output_shape_str(const lm_layer *l, char *out, size_t len) {
  if (l->n_calls == 0) {
    snprintf(out, len, "multiple");
    return;
  }
  const lm_call *c0 = l->calls[0];
  for (int k = 1; k < l->n_calls; k++) {
    bool same = l->calls[k]->n_out == c0->n_out;
    for (int j = 0; same && j < c0->n_out; j++)
      same = same_shape(&l->calls[k]->outs[j]->shape, &c0->outs[j]->shape);
    if (!same) {
      snprintf(out, len, "multiple");
      return;
    }
  }
  if (c0->n_out == 1) {
    lml_shape_str(&c0->out->shape, out, len);
    return;
  }
  size_t used = (size_t)snprintf(out, len, "[");
  for (int j = 0; j < c0->n_out && used < len; j++) {
    char one[128];
    lml_shape_str(&c0->outs[j]->shape, one, sizeof one);
    used += (size_t)snprintf(out + used, len - used, "%s%s", j ? ", " : "", one);
  }
  if (used < len) snprintf(out + used, len - used, "]");
}

lm_status lm_model_summary(lm_model *m, lm_log_fn fn, void *ud) {
  if (!m) return LM_ERR_ARG;
  lm_ctx *ctx = m->ctx;
  if (!m->built || m->n_layers == 0)
    return lm_fail(ctx, LM_ERR_STATE,
                   "This model has not yet been built. Build the model first by calling "
                   "build() or calling fit() with some data, or specify an `input_shape` "
                   "argument in the first layer(s) for automatic build.");
  bool seq = sequential_like(m);
  static const int pos3[] = {29, 55, 65};
  static const int pos4[] = {32, 53, 65, 98};
  row_writer w = {.pos = seq ? pos3 : pos4, .n = seq ? 3 : 4};
  int width = seq ? 65 : 98;
  lm_buf b;
  lm_buf_init(&b, ctx);
  w.b = &b;
  rule(&b, '_', width);
  const char *hdr[] = {"Layer (type)", "Output Shape", "Param #", "Connected to"};
  print_row(&w, hdr);
  rule(&b, '=', width);
  int first = m->sequential && m->layers[0]->cls == &lml_input_class ? 1 : 0;
  for (int i = first; i < m->n_layers; i++) {
    const lm_layer *l = m->layers[i];
    char name[300], shape[200], params[32];
    snprintf(name, sizeof name, "%s (%s)", l->name, l->cls->class_name);
    output_shape_str(l, shape, sizeof shape);
    snprintf(params, sizeof params, "%lld", (long long)lm_layer_count_params(l));
    if (seq) {
      const char *f[] = {name, shape, params};
      print_row(&w, f);
    } else {
      int printed = 0;
      for (int k = 0; k < l->n_calls; k++) {
        const lm_call *c = l->calls[k];
        if (!lmm_owns_call(m, c)) continue;
        for (int j = 0; j < c->n_in; j++) {
          const char *conn = c->in[j]->label;
          if (printed == 0) {
            const char *f[] = {name, shape, params, conn};
            print_row(&w, f);
          } else {
            const char *f[] = {"", "", "", conn};
            print_row(&w, f);
          }
          printed++;
        }
      }
      if (printed == 0) {
        const char *f[] = {name, shape, params, ""};
        print_row(&w, f);
      }
    }
    rule(&b, i == m->n_layers - 1 ? '=' : '_', width);
  }
  char t[3][64];
  int64_t counts[3] = {lm_model_count_params(m, 0), lm_model_count_params(m, 1),
                       lm_model_count_params(m, 2)};
  for (int k = 0; k < 3; k++) {
    /* {:,} formatting */
    char digits[32];
    snprintf(digits, sizeof digits, "%lld", (long long)counts[k]);
    size_t nd = strlen(digits), o = 0;
    for (size_t d = 0; d < nd; d++) {
      if (d > 0 && (nd - d) % 3 == 0) t[k][o++] = ',';
      t[k][o++] = digits[d];
    }
    t[k][o] = 0;
  }
  lm_buf_printf(&b, "Total params: %s\nTrainable params: %s\nNon-trainable params: %s\n", t[0],
                t[1], t[2]);
  rule(&b, '_', width);
  lm_status st = LM_OK;
  if (b.oom) {
    st = LM_ERR_NOMEM;
  } else if (fn) {
    fn(ud, b.data);
  } else if (ctx->log) {
    ctx->log(ctx->log_ud, b.data);
  }
  lm_buf_free(&b);
  return st;
}

/* Search spaces: parameter kinds, prior sampling, conditions, grid points. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "tune/tune.h"

static const char *const kind_names[] = {"choice",      "uniform",     "quniform", "loguniform",
                                         "qloguniform", "normal",      "randint"};

const char *lmh_kind_name(lmh_kind k) { return kind_names[k]; }

lm_space *lm_space_new(lm_ctx *ctx) {
  if (!ctx) return NULL;
  lm_space *s = lm_alloc(ctx, sizeof *s);
  if (s) s->ctx = ctx;
  return s;
}

void lm_space_free(lm_space *s) {
  if (!s) return;
  for (int i = 0; i < s->n; i++) {
    lm_dealloc(s->ctx, s->p[i].name);
    for (int j = 0; j < s->p[i].n_opt; j++) lm_dealloc(s->ctx, s->p[i].opts[j]);
    lm_dealloc(s->ctx, s->p[i].opts);
  }
  lm_dealloc(s->ctx, s->p);
  lm_dealloc(s->ctx, s);
}

int lm_space_n_params(const lm_space *s) { return s ? s->n : 0; }

static int add_param(lm_space *s, const char *name, lmh_kind kind, double low, double high,
                     double q) {
  if (!s) return -1;
  if (!name || !*name) {
    lm_fail(s->ctx, LM_ERR_ARG, "a hyperparameter needs a name");
    return -1;
  }
  for (int i = 0; i < s->n; i++)
    if (strcmp(s->p[i].name, name) == 0) {
      lm_fail(s->ctx, LM_ERR_ARG, "hyperparameter '%s' is defined twice", name);
      return -1;
    }
  if (!isfinite(low) || !isfinite(high) || !isfinite(q)) {
    lm_fail(s->ctx, LM_ERR_ARG, "hyperparameter '%s': bounds must be finite", name);
    return -1;
  }
  if (kind == LMH_NORMAL ? !(high > 0) : !(low < high)) {
    lm_fail(s->ctx, LM_ERR_ARG,
            kind == LMH_NORMAL ? "hyperparameter '%s': sigma must be > 0"
                               : "hyperparameter '%s': low must be below high",
            name);
    return -1;
  }
  if ((kind == LMH_LOGUNIFORM || kind == LMH_QLOGUNIFORM) && !(low > 0)) {
    lm_fail(s->ctx, LM_ERR_ARG, "hyperparameter '%s': %s needs low > 0 (bounds are values, "
            "not logs)", name, kind_names[kind]);
    return -1;
  }
  if ((kind == LMH_QUNIFORM || kind == LMH_QLOGUNIFORM) && !(q > 0)) {
    lm_fail(s->ctx, LM_ERR_ARG, "hyperparameter '%s': q must be > 0", name);
    return -1;
  }
  if (lm_grow(s->ctx, (void **)&s->p, &s->cap, s->n + 1, sizeof *s->p)) return -1;
  lmh_param *p = &s->p[s->n];
  memset(p, 0, sizeof *p);
  p->name = lm_strdup(s->ctx, name);
  if (!p->name) return -1;
  p->kind = kind;
  p->low = low;
  p->high = high;
  p->q = q;
  p->parent = p->parent_opt = -1;
  return s->n++;
}

int lm_space_choice(lm_space *s, const char *name, int n_options, const char *const *options) {
  if (!s) return -1;
  if (n_options < 1 || !options) {
    lm_fail(s->ctx, LM_ERR_ARG, "choice '%s' needs at least one option", name ? name : "?");
    return -1;
  }
  for (int j = 0; j < n_options; j++)
    if (!options[j]) {
      lm_fail(s->ctx, LM_ERR_ARG, "choice '%s': option %d is NULL", name ? name : "?", j);
      return -1;
    }
  int id = add_param(s, name, LMH_CHOICE, 0, n_options, 0);
  if (id < 0) return -1;
  lmh_param *p = &s->p[id];
  p->opts = lm_alloc(s->ctx, sizeof(char *) * (size_t)n_options);
  if (!p->opts) goto fail;
  for (int j = 0; j < n_options; j++) {
    p->opts[j] = lm_strdup(s->ctx, options[j]);
    if (!p->opts[j]) goto fail;
    p->n_opt = j + 1;
  }
  return id;
fail:
  for (int j = 0; j < p->n_opt; j++) lm_dealloc(s->ctx, p->opts[j]);
  lm_dealloc(s->ctx, p->opts);
  lm_dealloc(s->ctx, p->name);
  s->n--;
  return -1;
}

int lm_space_uniform(lm_space *s, const char *name, double low, double high) {
  return add_param(s, name, LMH_UNIFORM, low, high, 0);
}
int lm_space_quniform(lm_space *s, const char *name, double low, double high, double q) {
  return add_param(s, name, LMH_QUNIFORM, low, high, q);
}
int lm_space_loguniform(lm_space *s, const char *name, double low, double high) {
  return add_param(s, name, LMH_LOGUNIFORM, low, high, 0);
}
int lm_space_qloguniform(lm_space *s, const char *name, double low, double high, double q) {
  return add_param(s, name, LMH_QLOGUNIFORM, low, high, q);
}
int lm_space_normal(lm_space *s, const char *name, double mu, double sigma) {
  return add_param(s, name, LMH_NORMAL, mu, sigma, 0);
}
int lm_space_randint(lm_space *s, const char *name, int64_t low, int64_t high) {
  return add_param(s, name, LMH_RANDINT, (double)low, (double)high, 0);
}

lm_status lm_space_only_if(lm_space *s, int param, int parent, int option) {
  if (!s) return LM_ERR_ARG;
  if (param < 0 || param >= s->n || parent < 0 || parent >= param)
    return lm_fail(s->ctx, LM_ERR_ARG, "only_if: the parent must be a parameter declared "
                   "before the one it controls");
  if (s->p[parent].kind != LMH_CHOICE)
    return lm_fail(s->ctx, LM_ERR_ARG, "only_if: parent '%s' is not a choice", s->p[parent].name);
  if (option < 0 || option >= s->p[parent].n_opt)
    return lm_fail(s->ctx, LM_ERR_ARG, "only_if: choice '%s' has no option %d",
                   s->p[parent].name, option);
  s->p[param].parent = parent;
  s->p[param].parent_opt = option;
  return LM_OK;
}

bool lmh_active(const lm_space *s, const double *x, int i) {
  const lmh_param *p = &s->p[i];
  if (p->parent < 0) return true;
  double v = x[p->parent];
  return !isnan(v) && (int)v == p->parent_opt;
}

void lmh_mask(const lm_space *s, double *x) {
  for (int i = 0; i < s->n; i++)
    if (!lmh_active(s, x, i)) x[i] = NAN;
}

static double quantise(double v, double q) { return round(v / q) * q; }

double lmh_sample_param(const lmh_param *p, uint64_t rng[4]) {
  double u = lm_rng_uniform(rng);
  switch (p->kind) {
  case LMH_CHOICE: return floor(u * p->n_opt);
  case LMH_UNIFORM: return p->low + u * (p->high - p->low);
  case LMH_QUNIFORM: return quantise(p->low + u * (p->high - p->low), p->q);
  case LMH_LOGUNIFORM: return exp(log(p->low) + u * (log(p->high) - log(p->low)));
  case LMH_QLOGUNIFORM: return quantise(exp(log(p->low) + u * (log(p->high) - log(p->low))), p->q);
  case LMH_NORMAL: return p->low + p->high * lm_rng_normal(rng);
  case LMH_RANDINT: return p->low + floor(u * (p->high - p->low));
  }
  return NAN;
}

void lmh_sample_prior(const lm_space *s, uint64_t rng[4], double *x) {
  for (int i = 0; i < s->n; i++) {
    /* always draw, so a parameter's stream does not depend on its parents */
    double v = lmh_sample_param(&s->p[i], rng);
    x[i] = lmh_active(s, x, i) ? v : NAN;
  }
}

/* Inverse of the standard normal CDF by bisection (grid points only). */
static double probit(double p) {
  double lo = -10, hi = 10;
  for (int it = 0; it < 100; it++) {
    double mid = 0.5 * (lo + hi);
    if (0.5 * erfc(-mid / sqrt(2.0)) < p) lo = mid;
    else hi = mid;
  }
  return 0.5 * (lo + hi);
}

#define LMH_GRID_ALL_MAX 100 /* enumerate every value of a discrete axis up to this many */

int lmh_grid_values(const lmh_param *p, int points, double *out, int cap) {
  int n = 0;
  if (points < 1) points = 1;
  double span_q = 0;
  switch (p->kind) {
  case LMH_CHOICE:
    for (int j = 0; j < p->n_opt && n < cap; j++) out[n++] = j;
    return n;
  case LMH_RANDINT:
    if (p->high - p->low <= LMH_GRID_ALL_MAX) {
      for (double v = p->low; v < p->high && n < cap; v += 1) out[n++] = v;
      return n;
    }
    for (int j = 0; j < points && n < cap; j++)
      out[n++] = floor(p->low + (j + 0.5) / points * (p->high - p->low));
    return n;
  case LMH_QUNIFORM:
    span_q = floor(p->high / p->q) - ceil(p->low / p->q) + 1;
    if (span_q <= LMH_GRID_ALL_MAX) {
      for (double k = ceil(p->low / p->q); k <= floor(p->high / p->q) && n < cap; k += 1)
        out[n++] = k * p->q;
      return n;
    }
    break;
  default: break;
  }
  for (int j = 0; j < points && n < cap; j++) {
    double c = (j + 0.5) / points, v;
    switch (p->kind) {
    case LMH_LOGUNIFORM:
    case LMH_QLOGUNIFORM: v = exp(log(p->low) + c * (log(p->high) - log(p->low))); break;
    case LMH_NORMAL: v = p->low + p->high * probit(c); break;
    default: v = p->low + c * (p->high - p->low); break;
    }
    if (p->q > 0) v = quantise(v, p->q);
    if (n > 0 && out[n - 1] == v) continue; /* quantising merged two cells */
    out[n++] = v;
  }
  return n;
}

#define LMH_GRID_MAX 1000000

typedef struct grid_walk {
  const lm_space *s;
  int points;
  double *row;
  double *pts;
  int n, cap;
  bool fail;
} grid_walk;

static void grid_rec(grid_walk *g, int i) {
  if (g->fail) return;
  const lm_space *s = g->s;
  if (i == s->n) {
    if (g->n >= LMH_GRID_MAX) {
      lm_fail(s->ctx, LM_ERR_ARG, "the grid has more than %d points", LMH_GRID_MAX);
      g->fail = true;
      return;
    }
    if (lm_grow(s->ctx, (void **)&g->pts, &g->cap, (g->n + 1) * s->n, sizeof(double))) {
      g->fail = true;
      return;
    }
    memcpy(g->pts + (size_t)g->n * s->n, g->row, sizeof(double) * (size_t)s->n);
    g->n++;
    return;
  }
  if (!lmh_active(s, g->row, i)) {
    g->row[i] = NAN;
    grid_rec(g, i + 1);
    return;
  }
  double vals[LMH_GRID_ALL_MAX + 1];
  int k = lmh_grid_values(&s->p[i], g->points, vals, LMH_GRID_ALL_MAX + 1);
  for (int j = 0; j < k && !g->fail; j++) {
    g->row[i] = vals[j];
    grid_rec(g, i + 1);
  }
}

int lmh_grid_all(const lm_space *s, int points, double **pts) {
  *pts = NULL;
  if (s->n == 0) return 0;
  if (points > LMH_GRID_ALL_MAX) points = LMH_GRID_ALL_MAX;
  grid_walk g = {.s = s, .points = points};
  g.row = lm_alloc(s->ctx, sizeof(double) * (size_t)s->n);
  if (!g.row) return -1;
  grid_rec(&g, 0);
  lm_dealloc(s->ctx, g.row);
  if (g.fail) {
    lm_dealloc(s->ctx, g.pts);
    return -1;
  }
  *pts = g.pts;
  return g.n;
}

void lmh_format(const lm_space *s, const double *x, char *out, size_t len) {
  size_t at = 0;
  if (len) out[0] = 0;
  for (int i = 0; i < s->n && at < len; i++) {
    if (isnan(x[i])) continue;
    const lmh_param *p = &s->p[i];
    int w;
    if (p->kind == LMH_CHOICE)
      w = snprintf(out + at, len - at, "%s%s=%s", at ? " " : "", p->name, p->opts[(int)x[i]]);
    else
      w = snprintf(out + at, len - at, "%s%s=%.6g", at ? " " : "", p->name, x[i]);
    if (w < 0) break;
    at += (size_t)w;
  }
}

char *lmh_signature(const lm_space *s) {
  lm_buf b;
  lm_buf_init(&b, s->ctx);
  for (int i = 0; i < s->n; i++) {
    const lmh_param *p = &s->p[i];
    lm_buf_printf(&b, "%s:%s:%.17g:%.17g:%.17g:%d:%d", p->name, kind_names[p->kind], p->low,
                  p->high, p->q, p->parent, p->parent_opt);
    for (int j = 0; j < p->n_opt; j++) lm_buf_printf(&b, "%s%s", j ? "|" : ":", p->opts[j]);
    lm_buf_puts(&b, ";");
  }
  if (b.oom || !b.data) {
    lm_buf_free(&b);
    if (!b.oom) return lm_strdup(s->ctx, "");
    lm_fail(s->ctx, LM_ERR_NOMEM, "out of memory");
    return NULL;
  }
  return b.data; /* owned by the caller (lm_dealloc) */
}

/* Inverse of lmh_signature: "name:kind:low:high:q:parent:parent_opt[:o1|o2];..." */
static lm_status parse_entry(lm_space *s, char *e) {
  char *f[8] = {0};
  int nf = 0;
  for (char *p = e; nf < 8;) {
    f[nf++] = p;
    char *c = strchr(p, ':');
    if (!c) break;
    *c = 0;
    p = c + 1;
  }
  if (nf < 7) return lm_fail(s->ctx, LM_ERR_FORMAT, "bad space entry '%s'", e);
  int kind = -1;
  for (int k = 0; k <= LMH_RANDINT; k++)
    if (strcmp(f[1], kind_names[k]) == 0) kind = k;
  double lo = strtod(f[2], NULL), hi = strtod(f[3], NULL), q = strtod(f[4], NULL);
  int parent = atoi(f[5]), popt = atoi(f[6]), id = -1;
  if (kind == LMH_CHOICE) {
    if (nf < 8) return lm_fail(s->ctx, LM_ERR_FORMAT, "choice '%s' without options", f[0]);
    const char *opts[256];
    int n = 0;
    for (char *p = f[7]; p && n < 256; n++) {
      opts[n] = p;
      p = strchr(p, '|');
      if (p) *p++ = 0;
    }
    id = lm_space_choice(s, f[0], n, opts);
  } else if (kind >= 0) {
    id = add_param(s, f[0], (lmh_kind)kind, lo, hi, q);
  } else {
    return lm_fail(s->ctx, LM_ERR_FORMAT, "unknown parameter kind '%s'", f[1]);
  }
  if (id < 0) return lm_errcode(s->ctx);
  return parent >= 0 ? lm_space_only_if(s, id, parent, popt) : LM_OK;
}

lm_space *lmh_space_parse(lm_ctx *ctx, const char *sig) {
  lm_space *s = lm_space_new(ctx);
  char *copy = lm_strdup(ctx, sig);
  if (!s || !copy) goto fail;
  for (char *p = copy; *p;) {
    char *end = strchr(p, ';');
    if (!end) break;
    *end = 0;
    if (parse_entry(s, p)) goto fail;
    p = end + 1;
  }
  lm_dealloc(ctx, copy);
  return s;
fail:
  lm_dealloc(ctx, copy);
  lm_space_free(s);
  return NULL;
}

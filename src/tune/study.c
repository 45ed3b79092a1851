/* Studies: ask a sampler for a trial, run the objective, tell the store. */
#include <errno.h>
#include <math.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tune/tune.h"

struct lm_study {
  lm_ctx *ctx;
  const lm_space *space;
  lm_space *own_space; /* lm_study_load */
  lm_tune_opts o;
  lmh_store *db;
  lmh_rec *recs;
  int n_recs, cap;
  double *grid;
  int n_grid;
  bool header_done;
};

struct lm_trial {
  lm_study *st;
  int number;
  double *x;
  double *iv; /* losses by step */
  int n_iv;
  int rung;
  bool pruned;
  double t_start;
};

const char *lm_trial_status_name(lm_trial_status s) {
  static const char *const names[] = {"running", "complete", "pruned", "failed", "abandoned"};
  return (unsigned)s <= LM_TRIAL_ABANDONED ? names[s] : "?";
}

void lm_tune_opts_optuna(lm_tune_opts *o) {
  if (!o) return;
  o->tpe_startup = 10;
  o->tpe_candidates = 24;
  o->tpe_gamma = 0.1;
  o->tpe_gamma_linear = true;
  o->tpe_optuna_parzen = true;
  o->tpe_prior_weight = 1.0;
  o->tpe_lf = 25;
}

static lm_status check_opts(lm_ctx *ctx, const lm_tune_opts *o) {
  if ((unsigned)o->algo > LM_TUNE_GA) return lm_fail(ctx, LM_ERR_ARG, "unknown tuning algorithm");
  if ((unsigned)o->prune > LM_PRUNE_SHA) return lm_fail(ctx, LM_ERR_ARG, "unknown pruner");
  if (o->tpe_candidates < 1 || o->tpe_startup < 0 || !(o->tpe_gamma > 0) ||
      !(o->tpe_prior_weight > 0))
    return lm_fail(ctx, LM_ERR_ARG, "TPE needs candidates >= 1, startup >= 0, gamma > 0 and "
                   "prior_weight > 0");
  if (o->grid_points < 1) return lm_fail(ctx, LM_ERR_ARG, "grid_points must be >= 1");
  if (o->ga_population < 2 || o->ga_tournament < 1)
    return lm_fail(ctx, LM_ERR_ARG, "the GA needs population >= 2 and tournament >= 1");
  if (o->sha_eta < 2 || o->sha_min_resource < 1)
    return lm_fail(ctx, LM_ERR_ARG, "successive halving needs eta >= 2 and min_resource >= 1");
  return LM_OK;
}

/* Visit the grid in a seeded random order (as Optuna's GridSampler does), so
 * a study cut short still covers every axis. */
static void shuffle_grid(lm_study *st) {
  uint64_t rng[4];
  int d = st->space->n;
  lm_rng_seed(rng, st->o.seed);
  for (int i = st->n_grid - 1; i > 0; i--) {
    int j = (int)(lm_rng_uniform(rng) * (i + 1));
    for (int c = 0; c < d; c++) {
      double t = st->grid[(size_t)i * d + c];
      st->grid[(size_t)i * d + c] = st->grid[(size_t)j * d + c];
      st->grid[(size_t)j * d + c] = t;
    }
  }
}

lm_study *lm_study_open(lm_ctx *ctx, const lm_space *space, const char *path,
                        const lm_tune_opts *opts) {
  if (!ctx) return NULL;
  if (!space) {
    lm_fail(ctx, LM_ERR_ARG, "lm_study_open: no search space");
    return NULL;
  }
  lm_tune_opts o = LM_TUNE_DEFAULTS;
  if (opts) o = *opts;
  if (check_opts(ctx, &o)) return NULL;
  lm_study *st = lm_alloc(ctx, sizeof *st);
  if (!st) return NULL;
  st->ctx = ctx;
  st->space = space;
  st->o = o;
  char *sig = lmh_signature(space);
  if (!sig) goto fail;
  lm_buf b;
  lm_buf_init(&b, ctx);
  lm_buf_printf(&b, "%s%s", o.maximize ? "maximize;" : "minimize;", sig);
  lm_dealloc(ctx, sig);
  if (b.oom) {
    lm_buf_free(&b);
    lm_fail(ctx, LM_ERR_NOMEM, "out of memory");
    goto fail;
  }
  st->db = lmh_store_open(ctx, path, b.data);
  lm_buf_free(&b);
  if (!st->db) goto fail;
  if (o.algo == LM_TUNE_GRID) {
    st->n_grid = lmh_grid_all(space, o.grid_points, &st->grid);
    if (st->n_grid < 0) goto fail;
    shuffle_grid(st);
  }
  return st;
fail:
  lm_study_free(st);
  return NULL;
}

void lm_study_free(lm_study *st) {
  if (!st) return;
  lmh_store_close(st->db);
  lm_space_free(st->own_space);
  lmh_recs_free(st->ctx, st->recs, st->n_recs);
  lm_dealloc(st->ctx, st->grid);
  lm_dealloc(st->ctx, st);
}

/* Reload every trial; values become losses (lower is better). */
static lm_status reload(lm_study *st) {
  lm_status s = lmh_store_load(st->db, st->space->n, &st->recs, &st->n_recs, &st->cap);
  if (s || !st->o.maximize) return s;
  for (int i = 0; i < st->n_recs; i++) {
    st->recs[i].loss = -st->recs[i].loss;
    for (int j = 0; j < st->recs[i].n_iv; j++) st->recs[i].iv[j] = -st->recs[i].iv[j];
  }
  return LM_OK;
}

/* A running trial whose process is gone was cut off by a crash. */
static lm_status mark_abandoned(lm_study *st) {
  long me = (long)getpid();
  for (int i = 0; i < st->n_recs; i++) {
    lmh_rec *r = &st->recs[i];
    if (r->status != LM_TRIAL_RUNNING || r->pid == me || r->pid <= 0) continue;
    if (kill((pid_t)r->pid, 0) == 0 || errno != ESRCH) continue;
    lm_status s = lmh_store_set_status(st->db, r->number, LM_TRIAL_ABANDONED);
    if (s) return s;
    r->status = LM_TRIAL_ABANDONED;
  }
  return LM_OK;
}

static bool same_point(const double *a, const double *b, int n) {
  for (int i = 0; i < n; i++)
    if (!(a[i] == b[i] || (isnan(a[i]) && isnan(b[i])))) return false;
  return true;
}

/* First grid point no live trial holds; -1 when the grid is done. */
static int next_grid(const lm_study *st) {
  for (int g = 0; g < st->n_grid; g++) {
    const double *pt = st->grid + (size_t)g * st->space->n;
    bool used = false;
    for (int i = 0; i < st->n_recs && !used; i++)
      used = st->recs[i].status != LM_TRIAL_ABANDONED && same_point(pt, st->recs[i].x, st->space->n);
    if (!used) return g;
  }
  return -1;
}

static void trial_free(lm_trial *t) {
  if (!t) return;
  lm_ctx *ctx = t->st->ctx;
  lm_dealloc(ctx, t->x);
  lm_dealloc(ctx, t->iv);
  lm_dealloc(ctx, t);
}

static lm_status suggest(lm_study *st, int k, int number, double *x) {
  uint64_t rng[4];
  lm_rng_seed(rng, st->o.seed ^ ((uint64_t)(number + 1) * 0x9E3779B97F4A7C15ULL));
  switch (st->o.algo) {
  case LM_TUNE_RANDOM: lmh_sample_prior(st->space, rng, x); return LM_OK;
  case LM_TUNE_TPE: return lmh_tpe_suggest(st->space, &st->o, st->recs, st->n_recs, rng, x);
  case LM_TUNE_GA: return lmh_ga_suggest(st->space, &st->o, st->recs, st->n_recs, k, rng, x);
  case LM_TUNE_GRID: break;
  }
  return LM_OK;
}

lm_trial *lm_study_ask(lm_study *st, int n_trials) {
  if (!st) return NULL;
  lm_trial *t = NULL;
  if (lmh_store_begin(st->db)) return NULL;
  if (reload(st) || mark_abandoned(st)) goto fail;
  int k = 0, number = 0;
  for (int i = 0; i < st->n_recs; i++) {
    k += st->recs[i].status != LM_TRIAL_ABANDONED;
    if (st->recs[i].number >= number) number = st->recs[i].number + 1;
  }
  int g = st->o.algo == LM_TUNE_GRID ? next_grid(st) : 0;
  if (k >= n_trials || g < 0) {
    if (lmh_store_commit(st->db)) goto fail;
    lm_clear_error(st->ctx);
    return NULL;
  }
  t = lm_alloc(st->ctx, sizeof *t);
  if (!t) goto fail;
  t->st = st;
  t->number = number;
  t->x = lm_alloc(st->ctx, sizeof(double) * (size_t)(st->space->n ? st->space->n : 1));
  if (!t->x) goto fail;
  if (st->o.algo == LM_TUNE_GRID)
    memcpy(t->x, st->grid + (size_t)g * st->space->n, sizeof(double) * (size_t)st->space->n);
  else if (suggest(st, k, number, t->x))
    goto fail;
  t->t_start = lmh_now();
  if (lmh_store_insert(st->db, number, t->x, st->space->n, (long)getpid(), t->t_start) ||
      lmh_store_commit(st->db))
    goto fail;
  return t;
fail:
  if (!lm_errcode(st->ctx)) lm_fail(st->ctx, LM_ERR_NOMEM, "out of memory");
  lmh_store_rollback(st->db);
  trial_free(t);
  return NULL;
}

static void log_row(lm_study *st, const lm_trial *t, lm_trial_status status, double value) {
  if (!st->o.verbose) return;
  if (!st->header_done) {
    lm_log(st->ctx, "%6s  %-9s %12s %12s %8s  %s\n", "trial", "status", "value", "best",
           "time", "params");
    st->header_done = true;
  }
  double best = NAN;
  int best_n = -1;
  for (int i = 0; i < st->n_recs; i++) {
    const lmh_rec *r = &st->recs[i];
    if (r->status == LM_TRIAL_COMPLETE && r->number != t->number && (best_n < 0 || r->loss < best))
      best = r->loss, best_n = r->number;
  }
  double loss = st->o.maximize ? -value : value;
  if (status == LM_TRIAL_COMPLETE && (best_n < 0 || loss < best)) best = loss, best_n = t->number;
  char params[512];
  lmh_format(st->space, t->x, params, sizeof params);
  lm_log(st->ctx, "%6d  %-9s %12.6g %12.6g %7.1fs  %s\n", t->number,
         lm_trial_status_name(status), value, st->o.maximize ? -best : best,
         lmh_now() - t->t_start, params);
}

lm_status lm_study_tell(lm_study *st, lm_trial *t, lm_trial_status status, double value) {
  if (!st || !t || t->st != st) {
    trial_free(t);
    return st ? lm_fail(st->ctx, LM_ERR_ARG, "lm_study_tell: trial from another study")
              : LM_ERR_ARG;
  }
  if (status == LM_TRIAL_COMPLETE && !isfinite(value)) status = LM_TRIAL_FAILED;
  if (status == LM_TRIAL_FAILED) value = NAN;
  lm_status s = lmh_store_begin(st->db);
  if (!s) s = lmh_store_finish(st->db, t->number, status, value, lmh_now());
  if (!s) s = lmh_store_commit(st->db);
  else lmh_store_rollback(st->db);
  if (!s) log_row(st, t, status, value);
  if (!s) { /* keep the mirror current for the next row's best */
    for (int i = 0; i < st->n_recs; i++)
      if (st->recs[i].number == t->number) {
        st->recs[i].status = status;
        st->recs[i].loss = st->o.maximize ? -value : value;
      }
  }
  trial_free(t);
  return s;
}

lm_status lm_study_optimize(lm_study *st, int n_trials, lm_objective_fn fn, void *ud) {
  if (!st) return LM_ERR_ARG;
  if (!fn) return lm_fail(st->ctx, LM_ERR_ARG, "lm_study_optimize: no objective");
  for (;;) {
    lm_trial *t = lm_study_ask(st, n_trials);
    if (!t) return lm_errcode(st->ctx);
    double v = NAN;
    lm_status rs = fn(t, ud, &v);
    lm_trial_status status = rs ? LM_TRIAL_FAILED
                                : t->pruned ? LM_TRIAL_PRUNED : LM_TRIAL_COMPLETE;
    if (rs) {
      if (st->o.verbose) lm_log(st->ctx, "trial %d failed: %s\n", t->number, lm_errmsg(st->ctx));
      lm_clear_error(st->ctx);
    }
    lm_status s = lm_study_tell(st, t, status, v);
    if (s) return s;
  }
}

bool lm_trial_report(lm_trial *t, int step, double value) {
  if (!t || step < 0 || step > 10000000) return false;
  lm_study *st = t->st;
  if (lmh_store_step(st->db, t->number, step, value)) return false;
  if (step >= t->n_iv) {
    int cap = step + 1 > 2 * t->n_iv ? step + 1 : 2 * t->n_iv;
    double *iv = lm_realloc(st->ctx, t->iv, sizeof(double) * (size_t)cap);
    if (!iv) return false;
    for (int j = t->n_iv; j < cap; j++) iv[j] = NAN;
    t->iv = iv;
    t->n_iv = cap;
  }
  t->iv[step] = st->o.maximize ? -value : value;
  if (st->o.prune == LM_PRUNE_NONE || !isfinite(value)) return t->pruned = !isfinite(value);
  if (reload(st)) return false;
  bool stop = st->o.prune == LM_PRUNE_MEDIAN
                  ? lmh_median_prune(st->ctx, st->recs, st->n_recs, t->iv, step, st->o.prune_startup,
                                     st->o.prune_warmup)
                  : lmh_sha_prune(st->ctx, st->recs, st->n_recs, t->number, t->iv, step,
                                  st->o.sha_min_resource, st->o.sha_eta, &t->rung);
  if (stop) t->pruned = true;
  return stop;
}

int lm_trial_number(const lm_trial *t) { return t ? t->number : -1; }

static int find_param(const lm_trial *t, const char *name) {
  if (!t || !name) return -1;
  for (int i = 0; i < t->st->space->n; i++)
    if (strcmp(t->st->space->p[i].name, name) == 0) return i;
  lm_fail(t->st->ctx, LM_ERR_ARG, "no hyperparameter named '%s'", name);
  return -1;
}

bool lm_trial_active(const lm_trial *t, const char *name) {
  int i = find_param(t, name);
  return i >= 0 && !isnan(t->x[i]);
}

double lm_trial_float(const lm_trial *t, const char *name) {
  int i = find_param(t, name);
  if (i < 0 || isnan(t->x[i])) return NAN;
  const lmh_param *p = &t->st->space->p[i];
  if (p->kind != LMH_CHOICE) return t->x[i];
  const char *opt = p->opts[(int)t->x[i]];
  char *end;
  double v = strtod(opt, &end);
  return end != opt && *end == 0 ? v : t->x[i];
}

int64_t lm_trial_int(const lm_trial *t, const char *name) {
  double v = lm_trial_float(t, name);
  return isfinite(v) && fabs(v) < 9e18 ? (int64_t)llround(v) : 0;
}

const char *lm_trial_str(const lm_trial *t, const char *name) {
  int i = find_param(t, name);
  if (i < 0 || isnan(t->x[i]) || t->st->space->p[i].kind != LMH_CHOICE) return NULL;
  return t->st->space->p[i].opts[(int)t->x[i]];
}

int lm_study_n_trials(lm_study *st) {
  if (!st || reload(st)) return -1;
  return st->n_recs;
}

lm_status lm_study_trial(lm_study *st, int i, int *number, lm_trial_status *status,
                         double *value, char *params, size_t params_len) {
  if (!st) return LM_ERR_ARG;
  if (i < 0 || i >= st->n_recs)
    return lm_fail(st->ctx, LM_ERR_ARG, "trial index %d out of range (%d loaded)", i, st->n_recs);
  const lmh_rec *r = &st->recs[i];
  if (number) *number = r->number;
  if (status) *status = r->status;
  if (value) *value = st->o.maximize ? -r->loss : r->loss;
  if (params && params_len) lmh_format(st->space, r->x, params, params_len);
  return LM_OK;
}

int lm_study_best(lm_study *st, double *value, char *params, size_t params_len) {
  if (!st || reload(st)) return -1;
  int best = -1;
  for (int i = 0; i < st->n_recs; i++)
    if (st->recs[i].status == LM_TRIAL_COMPLETE && !isnan(st->recs[i].loss) &&
        (best < 0 || st->recs[i].loss < st->recs[best].loss))
      best = i;
  if (best < 0) return -1;
  if (value) *value = st->o.maximize ? -st->recs[best].loss : st->recs[best].loss;
  if (params && params_len) lmh_format(st->space, st->recs[best].x, params, params_len);
  return st->recs[best].number;
}

lm_study *lm_study_load(lm_ctx *ctx, const char *path) {
  if (!ctx) return NULL;
  if (!path) {
    lm_fail(ctx, LM_ERR_ARG, "lm_study_load: no file");
    return NULL;
  }
  char *sig = lmh_store_signature(ctx, path);
  if (!sig) return NULL;
  lm_tune_opts o = LM_TUNE_DEFAULTS;
  o.algo = LM_TUNE_RANDOM;
  o.maximize = strncmp(sig, "maximize;", 9) == 0;
  const char *body = strchr(sig, ';');
  lm_space *s = body ? lmh_space_parse(ctx, body + 1) : NULL;
  if (!body) lm_fail(ctx, LM_ERR_FORMAT, "%s: malformed study header", path);
  lm_dealloc(ctx, sig);
  if (!s) return NULL;
  lm_study *st = lm_study_open(ctx, s, path, &o);
  if (!st) {
    lm_space_free(s);
    return NULL;
  }
  st->own_space = s;
  return st;
}

const lm_space *lm_study_space(const lm_study *st) { return st ? st->space : NULL; }
bool lm_study_maximize(const lm_study *st) { return st && st->o.maximize; }

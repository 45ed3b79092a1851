/* Genetic algorithm: generations of ga_population trials; parents by
 * tournament from the previous generation plus the best trial so far (elitism
 * without re-evaluation), uniform crossover, per-gene Gaussian mutation
 * (0.1 * range, in log space for log parameters) or resampling. */
#include <math.h>
#include <string.h>

#include "tune/tune.h"

static int tournament(const lmh_rec *const *pool, int n, int t, uint64_t rng[4]) {
  int best = -1;
  for (int i = 0; i < t; i++) {
    int j = (int)(lm_rng_uniform(rng) * n);
    if (best < 0 || pool[j]->loss < pool[best]->loss) best = j;
  }
  return best;
}

static double mutate(const lmh_param *p, double v, uint64_t rng[4]) {
  double lo = p->low, hi = p->high, z = v;
  switch (p->kind) {
  case LMH_CHOICE:
  case LMH_RANDINT: return lmh_sample_param(p, rng);
  case LMH_NORMAL: return v + 0.4 * p->high * lm_rng_normal(rng);
  case LMH_LOGUNIFORM:
  case LMH_QLOGUNIFORM:
    lo = log(lo);
    hi = log(hi);
    z = log(fmax(v, p->low));
    break;
  default: break;
  }
  z = fmin(fmax(z + 0.1 * (hi - lo) * lm_rng_normal(rng), lo), hi);
  if (p->kind == LMH_LOGUNIFORM || p->kind == LMH_QLOGUNIFORM) z = exp(z);
  if (p->q > 0) z = round(z / p->q) * p->q;
  return z;
}

lm_status lmh_ga_suggest(const lm_space *s, const lm_tune_opts *o, const lmh_rec *recs,
                         int n_recs, int k, uint64_t rng[4], double *x) {
  int P = o->ga_population > 1 ? o->ga_population : 2, g = k / P;
  if (g == 0 || s->n == 0) {
    lmh_sample_prior(s, rng, x);
    return LM_OK;
  }
  const lmh_rec **pool = lm_alloc(s->ctx, sizeof *pool * (size_t)(P + 1));
  if (!pool) return LM_ERR_NOMEM;
  int n = 0, idx = 0;
  const lmh_rec *elite = NULL;
  for (int i = 0; i < n_recs; i++) {
    const lmh_rec *r = &recs[i];
    if (r->status == LM_TRIAL_ABANDONED) continue;
    int ki = idx++;
    if (r->status != LM_TRIAL_COMPLETE && r->status != LM_TRIAL_PRUNED) continue;
    if (ki >= g * P) continue;
    if (ki >= (g - 1) * P && n < P) pool[n++] = r;
    else if (!elite || r->loss < elite->loss) elite = r;
  }
  if (elite) pool[n++] = elite;
  if (n == 0) {
    lm_dealloc(s->ctx, pool);
    lmh_sample_prior(s, rng, x);
    return LM_OK;
  }
  int t = o->ga_tournament > 0 ? o->ga_tournament : 3;
  const lmh_rec *a = pool[tournament(pool, n, t, rng)], *b = pool[tournament(pool, n, t, rng)];
  bool cross = lm_rng_uniform(rng) < o->ga_crossover;
  double pm = o->ga_mutation > 0 ? o->ga_mutation : 1.0 / s->n;
  for (int i = 0; i < s->n; i++) {
    x[i] = cross && lm_rng_uniform(rng) < 0.5 ? b->x[i] : a->x[i];
    if (!isnan(x[i]) && lm_rng_uniform(rng) < pm) x[i] = mutate(&s->p[i], x[i], rng);
  }
  for (int i = 0; i < s->n; i++) { /* repair conditions after crossover */
    if (!lmh_active(s, x, i)) x[i] = NAN;
    else if (isnan(x[i])) x[i] = lmh_sample_param(&s->p[i], rng);
  }
  lm_dealloc(s->ctx, pool);
  return LM_OK;
}

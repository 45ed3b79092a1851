/* TPE, two faithful flavours.
 *
 * Hyperopt's tpe.suggest (hyperopt/tpe.py), the default: split by the sqrt
 * rule, one adaptive Parzen estimator per parameter over the trials where it
 * was active, the prior kernel inserted among the sorted observations, the
 * mixture truncated as a whole, 24 candidates from l(x) scored by
 * log l(x) - log g(x); failed trials rank last.
 *
 * Optuna 3.1's TPESampler (lm_tune_opts.tpe_optuna_parzen, preset
 * lm_tune_opts_optuna): observations are complete and pruned trials only
 * (pruned ranked by (-last step, last value)), split by ceil(0.1 N) capped at
 * 25, each kernel truncated to the bounds on its own, bandwidths from the
 * sorted observations plus the prior mean with the bounds as outer
 * neighbours, stepped and integer ranges widened by half a step, categorical
 * kernels one-hot plus prior_weight / (n + 1) smoothing. Its truncnorm.logpdf
 * leaves out the -log(sigma) term of each kernel; the scores reproduce that. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "tune/tune.h"

int lmh_tpe_n_below(int n, double gamma, bool linear, int cap) {
  int k = (int)ceil(linear ? gamma * n : gamma * sqrt((double)n));
  if (cap > 0 && k > cap) k = cap;
  return k < 0 ? 0 : k;
}

void lmh_lf_weights(int n, int lf, double *w) {
  for (int i = 0; i < n; i++) w[i] = 1.0;
  if (lf <= 0 || n <= lf) return;
  int m = n - lf; /* np.linspace(1/n, 1, m) */
  for (int i = 0; i < m; i++)
    w[i] = m == 1 ? 1.0 / n : 1.0 / n + (1.0 - 1.0 / n) * (double)i / (double)(m - 1);
}

typedef struct idx_val {
  double v;
  int i;
} idx_val;

static int cmp_idx_val(const void *a, const void *b) {
  const idx_val *x = a, *y = b;
  if (x->v < y->v) return -1;
  if (x->v > y->v) return 1;
  return (x->i > y->i) - (x->i < y->i);
}

int lmh_parzen(lm_ctx *ctx, const double *obs, int n, double prior_weight, double prior_mu,
               double prior_sigma, int lf, double *w, double *mu, double *sigma) {
  int k = n + 1, prior_pos;
  if (n == 0) {
    w[0] = 1.0;
    mu[0] = prior_mu;
    sigma[0] = prior_sigma;
    return 1;
  }
  if (n == 1) { /* Hyperopt's special case: the observation gets half the prior width */
    prior_pos = prior_mu < obs[0] ? 0 : 1;
    mu[prior_pos] = prior_mu;
    sigma[prior_pos] = prior_sigma;
    mu[1 - prior_pos] = obs[0];
    sigma[1 - prior_pos] = 0.5 * prior_sigma;
    w[0] = w[1] = 1.0;
    w[prior_pos] = prior_weight;
  } else {
    idx_val *ord = lm_alloc(ctx, sizeof *ord * (size_t)n);
    double *lw = lm_alloc(ctx, sizeof *lw * (size_t)n);
    if (!ord || !lw) {
      lm_dealloc(ctx, ord);
      lm_dealloc(ctx, lw);
      return -1;
    }
    for (int i = 0; i < n; i++) ord[i] = (idx_val){obs[i], i};
    qsort(ord, (size_t)n, sizeof *ord, cmp_idx_val);
    lmh_lf_weights(n, lf, lw);
    /* np.searchsorted(sorted, prior_mu), side left */
    prior_pos = 0;
    while (prior_pos < n && ord[prior_pos].v < prior_mu) prior_pos++;
    for (int j = 0, src = 0; j < k; j++) {
      if (j == prior_pos) {
        mu[j] = prior_mu;
        w[j] = prior_weight;
      } else {
        mu[j] = ord[src].v;
        w[j] = lw[ord[src].i];
        src++;
      }
    }
    lm_dealloc(ctx, ord);
    lm_dealloc(ctx, lw);
    for (int j = 1; j < k - 1; j++) sigma[j] = fmax(mu[j] - mu[j - 1], mu[j + 1] - mu[j]);
    sigma[0] = mu[1] - mu[0];
    sigma[k - 1] = mu[k - 1] - mu[k - 2];
  }
  double maxs = prior_sigma, mins = prior_sigma / fmin(100.0, 1.0 + k), sum = 0;
  for (int j = 0; j < k; j++) {
    sigma[j] = fmin(fmax(sigma[j], mins), maxs);
    sum += w[j];
  }
  sigma[prior_pos] = prior_sigma;
  for (int j = 0; j < k; j++) w[j] /= sum;
  return k;
}

/* _ParzenEstimator._calculate_numerical_params with consider_prior,
 * consider_magic_clip and consider_endpoints=False. */
int lmh_parzen_optuna(lm_ctx *ctx, const double *obs, int n, double prior_weight, double low,
                      double high, int lf, double *w, double *mu, double *sigma) {
  int k = n + 1;
  double range = high - low, sum = 0;
  idx_val *ord = lm_alloc(ctx, sizeof *ord * (size_t)k);
  if (!ord) return -1;
  for (int i = 0; i < n; i++) mu[i] = obs[i];
  mu[n] = 0.5 * (low + high); /* the prior kernel, appended */
  for (int i = 0; i < k; i++) ord[i] = (idx_val){mu[i], i};
  qsort(ord, (size_t)k, sizeof *ord, cmp_idx_val);
  for (int j = 0; j < k; j++) { /* sorted means with the bounds as outer neighbours */
    double left = j ? ord[j - 1].v : low, right = j + 1 < k ? ord[j + 1].v : high;
    double sg = fmax(ord[j].v - left, right - ord[j].v);
    if (k >= 2 && j == 0) sg = ord[1].v - ord[0].v; /* consider_endpoints=False */
    if (k >= 2 && j == k - 1) sg = ord[k - 1].v - ord[k - 2].v;
    sigma[ord[j].i] = sg;
  }
  lm_dealloc(ctx, ord);
  lmh_lf_weights(n, lf, w); /* default_weights: the same 25-trial ramp */
  w[n] = prior_weight;
  double mins = range / fmin(100.0, 1.0 + k);
  for (int j = 0; j < k; j++) {
    sigma[j] = fmin(fmax(sigma[j], mins), range);
    sum += w[j];
  }
  sigma[n] = range;
  for (int j = 0; j < k; j++) w[j] /= sum;
  return k;
}

void lmh_cat_optuna(const int *obs, int n, int n_cat, double prior_weight, int lf,
                    double *w_scratch, double *p) {
  double *w = w_scratch, sum = 0;
  lmh_lf_weights(n, lf, w);
  w[n] = prior_weight;
  for (int i = 0; i <= n; i++) sum += w[i];
  /* each observation's kernel: one-hot + prior_weight / (n + 1), normalised;
   * the prior kernel is uniform */
  double v = prior_weight / (n + 1), row = 1.0 + n_cat * v, base = w[n] / sum / n_cat;
  for (int i = 0; i < n; i++) base += w[i] / sum * v / row;
  for (int c = 0; c < n_cat; c++) p[c] = base;
  for (int i = 0; i < n; i++) p[obs[i]] += w[i] / sum / row;
}

static double norm_cdf(double x, double mu, double s) {
  return 0.5 * erfc(-(x - mu) / (s * sqrt(2.0)));
}

#define LOG_SQRT_2PI 0.91893853320467274178

/* log of the standard normal mass on [a, b], robust in both tails (Optuna's
 * _log_gauss_mass). */
double lmh_log_gauss_mass(double a, double b) {
  if (!(a < b)) return -INFINITY;
  if (b <= 0) return lmh_log_gauss_mass(-b, -a);
  double m;
  if (a >= 0) m = 0.5 * (erfc(a / sqrt(2.0)) - erfc(b / sqrt(2.0)));
  else return log1p(-0.5 * erfc(-a / sqrt(2.0)) - 0.5 * erfc(b / sqrt(2.0)));
  if (m > 1e-300) return log(m);
  /* far right tail: Mills' ratio, Q(x) ~ phi(x) / x */
  double r = isfinite(b) ? (a / b) * exp(-0.5 * (b * b - a * a)) : 0.0;
  return -0.5 * a * a - LOG_SQRT_2PI - log(a) + log1p(-fmin(r, 1.0 - 1e-16));
}

static double logsumexp_add(double *best, double *acc, double t) {
  if (t > *best) {
    *acc = *acc * exp(*best - t) + 1.0;
    *best = t;
  } else {
    *acc += exp(t - *best);
  }
  return *best + log(*acc);
}

double lmh_optuna_lpdf(double z, const double *w, const double *mu, const double *sigma, int k,
                       double low, double high, double q) {
  if (z < low || z > high) return -INFINITY;
  double best = -INFINITY, acc = 0, r = -INFINITY;
  for (int j = 0; j < k; j++) {
    double a = (low - mu[j]) / sigma[j], b = (high - mu[j]) / sigma[j], t;
    if (q > 0) {
      double lb = fmax(z - 0.5 * q, low), ub = fmin(z + 0.5 * q, high);
      t = lmh_log_gauss_mass((lb - mu[j]) / sigma[j], (ub - mu[j]) / sigma[j]);
    } else { /* _truncnorm.logpdf: no -log(sigma) */
      double u = (z - mu[j]) / sigma[j];
      t = -0.5 * u * u - LOG_SQRT_2PI;
    }
    t += log(w[j]) - lmh_log_gauss_mass(a, b);
    if (t > -INFINITY) r = logsumexp_add(&best, &acc, t);
  }
  return r;
}

/* Hyperopt's GMM1: the mixture truncated as a whole. */
double lmh_gmm_lpdf(double x, const double *w, const double *mu, const double *sigma, int k,
                    double low, double high, double q, bool logspace) {
  double p_accept = 0;
  for (int j = 0; j < k; j++)
    p_accept += w[j] * (norm_cdf(high, mu[j], sigma[j]) - norm_cdf(low, mu[j], sigma[j]));
  if (!(p_accept > 0)) p_accept = 1e-300;
  double z = logspace ? log(x) : x, ub = x + q / 2, lb = x - q / 2;
  if (q > 0) {
    if (logspace) {
      ub = log(fmin(ub, exp(high)));
      lb = log(fmax(lb, exp(low)));
    } else {
      ub = fmin(ub, high);
      lb = fmax(lb, low);
    }
  }
  double best = -INFINITY, acc = 0, r = -INFINITY;
  for (int j = 0; j < k; j++) {
    double t;
    if (q > 0) {
      double m = norm_cdf(ub, mu[j], sigma[j]) - norm_cdf(lb, mu[j], sigma[j]);
      t = log(fmax(w[j] * m, 1e-300));
    } else {
      t = log(w[j]) - 0.5 * ((z - mu[j]) / sigma[j]) * ((z - mu[j]) / sigma[j]) -
          log(sigma[j] * 2.5066282746310002);
    }
    r = logsumexp_add(&best, &acc, t);
  }
  r -= log(p_accept);
  return q > 0 ? r : r - (logspace ? z : 0.0);
}

/* One draw from the mixture restricted to [low, high]: Hyperopt redraws the
 * kernel after a rejection (whole-mixture truncation), Optuna keeps it (each
 * kernel truncated on its own). */
static double gmm_sample(const double *w, const double *mu, const double *sigma, int k,
                         double low, double high, bool per_comp, uint64_t rng[4]) {
  int j = 0;
  for (int tries = 0; tries < 1000; tries++) {
    if (tries == 0 || !per_comp) {
      double u = lm_rng_uniform(rng), c = 0;
      for (j = 0; j < k - 1; j++) {
        c += w[j];
        if (u < c) break;
      }
    }
    double v = mu[j] + sigma[j] * lm_rng_normal(rng);
    if (v >= low && v <= high) return v;
  }
  return fmin(fmax(mu[j], low), high);
}

/* ---- Hyperopt ---- */

/* Model-space description of a numeric parameter. */
typedef struct numeric_model {
  double low, high, q, prior_mu, prior_sigma;
  bool logspace;
} numeric_model;

static numeric_model numeric_of(const lmh_param *p) {
  numeric_model m = {p->low, p->high, p->q, 0, 0, false};
  switch (p->kind) {
  case LMH_LOGUNIFORM:
  case LMH_QLOGUNIFORM:
    m.logspace = true;
    m.low = log(p->low);
    m.high = log(p->high);
    break;
  case LMH_NORMAL:
    m.low = -INFINITY;
    m.high = INFINITY;
    m.prior_mu = p->low;
    m.prior_sigma = p->high;
    return m;
  default: break;
  }
  m.prior_mu = 0.5 * (m.low + m.high);
  m.prior_sigma = m.high - m.low;
  return m;
}

static double to_model(const numeric_model *m, double v) {
  return m->logspace ? log(fmax(v, exp(m->low))) : v;
}

static lm_status suggest_numeric(lm_ctx *ctx, const lmh_param *p, const lm_tune_opts *o,
                                 const double *below, int nb, const double *above, int na,
                                 uint64_t rng[4], double *out) {
  numeric_model m = numeric_of(p);
  int cap = (nb > na ? nb : na) + 1;
  double *buf = lm_alloc(ctx, sizeof(double) * (size_t)(6 * cap + nb + na));
  if (!buf) return LM_ERR_NOMEM;
  double *lw = buf, *lm = lw + cap, *ls = lm + cap, *gw = ls + cap, *gm = gw + cap,
         *gs = gm + cap, *ob = gs + cap, *oa = ob + nb;
  for (int i = 0; i < nb; i++) ob[i] = to_model(&m, below[i]);
  for (int i = 0; i < na; i++) oa[i] = to_model(&m, above[i]);
  int kl = lmh_parzen(ctx, ob, nb, o->tpe_prior_weight, m.prior_mu, m.prior_sigma, o->tpe_lf, lw,
                      lm, ls);
  int kg = lmh_parzen(ctx, oa, na, o->tpe_prior_weight, m.prior_mu, m.prior_sigma, o->tpe_lf, gw,
                      gm, gs);
  if (kl < 0 || kg < 0) {
    lm_dealloc(ctx, buf);
    return LM_ERR_NOMEM;
  }
  double best = NAN, best_score = -INFINITY;
  for (int c = 0; c < o->tpe_candidates; c++) {
    double z = gmm_sample(lw, lm, ls, kl, m.low, m.high, false, rng);
    double v = m.logspace ? exp(z) : z;
    if (m.q > 0) v = round(v / m.q) * m.q;
    double score = lmh_gmm_lpdf(v, lw, lm, ls, kl, m.low, m.high, m.q, m.logspace) -
                   lmh_gmm_lpdf(v, gw, gm, gs, kg, m.low, m.high, m.q, m.logspace);
    if (c == 0 || score > best_score) {
      best_score = score;
      best = v;
    }
  }
  lm_dealloc(ctx, buf);
  *out = best;
  return LM_OK;
}

static lm_status suggest_categorical(lm_ctx *ctx, const lmh_param *p, const lm_tune_opts *o,
                                     const double *below, int nb, const double *above, int na,
                                     uint64_t rng[4], double *out) {
  int n_cat = p->kind == LMH_CHOICE ? p->n_opt : (int)(p->high - p->low);
  double offset = p->kind == LMH_CHOICE ? 0 : p->low;
  int nmax = nb > na ? nb : na;
  double *pl = lm_alloc(ctx, sizeof(double) * (size_t)(2 * n_cat + nmax));
  if (!pl) return LM_ERR_NOMEM;
  double *pg = pl + n_cat, *lw = pg + n_cat, sl = 0, sg = 0;
  lmh_lf_weights(nb, o->tpe_lf, lw);
  for (int i = 0; i < nb; i++) pl[(int)(below[i] - offset)] += lw[i];
  lmh_lf_weights(na, o->tpe_lf, lw);
  for (int i = 0; i < na; i++) pg[(int)(above[i] - offset)] += lw[i];
  for (int j = 0; j < n_cat; j++) { /* uniform p: n * prior_weight * (1/n) per option */
    pl[j] += o->tpe_prior_weight;
    pg[j] += o->tpe_prior_weight;
    sl += pl[j];
    sg += pg[j];
  }
  int best = 0;
  double best_score = -INFINITY;
  for (int c = 0; c < o->tpe_candidates; c++) {
    double u = lm_rng_uniform(rng) * sl, acc = 0;
    int j = 0;
    for (; j < n_cat - 1; j++) {
      acc += pl[j];
      if (u < acc) break;
    }
    double score = log(pl[j] / sl) - log(pg[j] / sg);
    if (c == 0 || score > best_score) {
      best_score = score;
      best = j;
    }
  }
  lm_dealloc(ctx, pl);
  *out = best + offset;
  return LM_OK;
}

/* ---- Optuna 3.1 ---- */

/* How Optuna would declare the parameter: suggest_float(low, high, log, step),
 * suggest_int(low, high - 1) for randint, suggest_categorical for choice.
 * Normal has no Optuna counterpart and keeps Hyperopt's model. */
typedef struct optuna_model {
  double vlow, vhigh, q; /* value range and step (0: none) */
  double low, high;      /* Parzen bounds in model space */
  bool logspace, round_log;
} optuna_model;

static optuna_model optuna_of(const lmh_param *p) {
  optuna_model m = {p->low, p->high, 0, p->low, p->high, false, false};
  switch (p->kind) {
  case LMH_QUNIFORM: m.q = p->q; break;
  case LMH_RANDINT:
    m.vhigh = p->high - 1;
    m.q = 1;
    break;
  case LMH_LOGUNIFORM:
    m.logspace = true;
    m.low = log(p->low);
    m.high = log(p->high);
    return m;
  case LMH_QLOGUNIFORM: /* suggest_int(log=True), generalised to a step q */
    m.logspace = m.round_log = true;
    m.q = p->q;
    m.low = log(p->low - 0.5 * p->q > 0 ? p->low - 0.5 * p->q : p->low);
    m.high = log(p->high + 0.5 * p->q);
    return m;
  default: return m;
  }
  m.low = m.vlow - 0.5 * m.q; /* stepped ranges widen by half a step */
  m.high = m.vhigh + 0.5 * m.q;
  return m;
}

static double optuna_from_model(const optuna_model *m, double z) {
  if (m->logspace) {
    double v = exp(z);
    return m->round_log ? fmin(fmax(round(v / m->q) * m->q, m->vlow), m->vhigh) : v;
  }
  if (m->q > 0) return fmin(fmax(round((z - m->vlow) / m->q) * m->q + m->vlow, m->vlow), m->vhigh);
  return z;
}

/* A prior draw as Optuna's RandomSampler makes it (uniform over a step's grid). */
static double optuna_prior(const lmh_param *p, uint64_t rng[4]) {
  optuna_model m = optuna_of(p);
  if (p->kind == LMH_CHOICE || p->kind == LMH_NORMAL || p->kind == LMH_LOGUNIFORM)
    return lmh_sample_param(p, rng);
  double u = lm_rng_uniform(rng);
  if (m.logspace) return optuna_from_model(&m, m.low + u * (m.high - m.low));
  if (m.q > 0) return optuna_from_model(&m, m.low + u * (m.high - m.low));
  return m.vlow + u * (m.vhigh - m.vlow);
}

static lm_status suggest_optuna_numeric(lm_ctx *ctx, const lmh_param *p, const lm_tune_opts *o,
                                        const double *below, int nb, const double *above,
                                        int na, uint64_t rng[4], double *out) {
  optuna_model m = optuna_of(p);
  int cap = (nb > na ? nb : na) + 1;
  double *buf = lm_alloc(ctx, sizeof(double) * (size_t)(6 * cap + nb + na));
  if (!buf) return LM_ERR_NOMEM;
  double *lw = buf, *lm = lw + cap, *ls = lm + cap, *gw = ls + cap, *gm = gw + cap,
         *gs = gm + cap, *ob = gs + cap, *oa = ob + nb;
  for (int i = 0; i < nb; i++) ob[i] = m.logspace ? log(below[i]) : below[i];
  for (int i = 0; i < na; i++) oa[i] = m.logspace ? log(above[i]) : above[i];
  int kl = lmh_parzen_optuna(ctx, ob, nb, o->tpe_prior_weight, m.low, m.high, o->tpe_lf, lw, lm,
                             ls);
  int kg = lmh_parzen_optuna(ctx, oa, na, o->tpe_prior_weight, m.low, m.high, o->tpe_lf, gw, gm,
                             gs);
  if (kl < 0 || kg < 0) {
    lm_dealloc(ctx, buf);
    return LM_ERR_NOMEM;
  }
  /* a step is scored by the mass of its cell; a log-int by the density at
   * log of the rounded value */
  double qm = m.logspace ? 0 : m.q, best = NAN, best_score = -INFINITY;
  for (int c = 0; c < o->tpe_candidates; c++) {
    double v = optuna_from_model(&m, gmm_sample(lw, lm, ls, kl, m.low, m.high, true, rng));
    double z = m.logspace ? log(v) : v;
    double score = lmh_optuna_lpdf(z, lw, lm, ls, kl, m.low, m.high, qm) -
                   lmh_optuna_lpdf(z, gw, gm, gs, kg, m.low, m.high, qm);
    if (c == 0 || score > best_score) { /* np.argmax: the first of equal scores */
      best_score = score;
      best = v;
    }
  }
  lm_dealloc(ctx, buf);
  *out = best;
  return LM_OK;
}

static lm_status suggest_optuna_categorical(lm_ctx *ctx, const lmh_param *p,
                                            const lm_tune_opts *o, const double *below, int nb,
                                            const double *above, int na, uint64_t rng[4],
                                            double *out) {
  int n_cat = p->n_opt, nmax = nb > na ? nb : na;
  double *pl = lm_alloc(ctx, sizeof(double) * (size_t)(2 * n_cat + nmax + 1));
  int *ix = lm_alloc(ctx, sizeof(int) * (size_t)(nmax + 1));
  if (!pl || !ix) {
    lm_dealloc(ctx, pl);
    lm_dealloc(ctx, ix);
    return LM_ERR_NOMEM;
  }
  double *pg = pl + n_cat, *scratch = pg + n_cat;
  for (int i = 0; i < nb; i++) ix[i] = (int)below[i];
  lmh_cat_optuna(ix, nb, n_cat, o->tpe_prior_weight, o->tpe_lf, scratch, pl);
  for (int i = 0; i < na; i++) ix[i] = (int)above[i];
  lmh_cat_optuna(ix, na, n_cat, o->tpe_prior_weight, o->tpe_lf, scratch, pg);
  int best = 0;
  double best_score = -INFINITY;
  for (int c = 0; c < o->tpe_candidates; c++) {
    double u = lm_rng_uniform(rng), acc = 0;
    int j = 0;
    for (; j < n_cat - 1; j++) { /* sum(cumsum < u) */
      acc += pl[j];
      if (!(acc < u)) break;
    }
    double score = log(pl[j]) - log(pg[j]);
    if (c == 0 || score > best_score) {
      best_score = score;
      best = j;
    }
  }
  lm_dealloc(ctx, pl);
  lm_dealloc(ctx, ix);
  *out = best;
  return LM_OK;
}

/* ---- the split and the per-parameter loop ---- */

static bool finished(const lmh_rec *r, bool optuna) {
  if (optuna) return r->status == LM_TRIAL_COMPLETE || r->status == LM_TRIAL_PRUNED;
  return r->status == LM_TRIAL_COMPLETE || r->status == LM_TRIAL_PRUNED ||
         r->status == LM_TRIAL_FAILED;
}

/* Optuna ranks a pruned trial by (-last step, last intermediate value) after
 * every complete trial; one that reported nothing goes last. */
typedef struct rank_key {
  double step, v;
  int i;
} rank_key;

static int cmp_rank(const void *a, const void *b) {
  const rank_key *x = a, *y = b;
  if (x->step != y->step) return x->step < y->step ? -1 : 1;
  if (x->v < y->v) return -1;
  if (x->v > y->v) return 1;
  return (x->i > y->i) - (x->i < y->i);
}

static rank_key rank_of(const lmh_rec *r, int i, bool optuna) {
  double loss = isnan(r->loss) ? INFINITY : r->loss;
  if (!optuna || r->status == LM_TRIAL_COMPLETE) return (rank_key){-INFINITY, loss, i};
  for (int s = r->n_iv - 1; s >= 0; s--)
    if (!isnan(r->iv[s])) return (rank_key){-(double)s, r->iv[s], i};
  return (rank_key){1, 0, i};
}

lm_status lmh_tpe_suggest(const lm_space *s, const lm_tune_opts *o, const lmh_rec *recs,
                          int n_recs, uint64_t rng[4], double *x) {
  lm_ctx *ctx = s->ctx;
  bool optuna = o->tpe_optuna_parzen;
  int n = 0;
  for (int i = 0; i < n_recs; i++) n += finished(&recs[i], optuna);
  if (n < o->tpe_startup || n == 0) {
    if (!optuna) {
      lmh_sample_prior(s, rng, x);
      return LM_OK;
    }
    for (int i = 0; i < s->n; i++) { /* always draw: streams do not depend on parents */
      double v = optuna_prior(&s->p[i], rng);
      x[i] = lmh_active(s, x, i) ? v : NAN;
    }
    return LM_OK;
  }
  rank_key *ord = lm_alloc(ctx, sizeof *ord * (size_t)n);
  char *is_below = lm_alloc(ctx, (size_t)n_recs);
  double *below = lm_alloc(ctx, sizeof(double) * (size_t)n);
  double *above = lm_alloc(ctx, sizeof(double) * (size_t)n);
  lm_status st = LM_OK;
  if (!ord || !is_below || !below || !above) {
    st = LM_ERR_NOMEM;
    goto done;
  }
  for (int i = 0, j = 0; i < n_recs; i++)
    if (finished(&recs[i], optuna)) ord[j++] = rank_of(&recs[i], i, optuna);
  qsort(ord, (size_t)n, sizeof *ord, cmp_rank);
  int n_below = lmh_tpe_n_below(n, o->tpe_gamma, o->tpe_gamma_linear, o->tpe_lf);
  for (int j = 0; j < n_below && j < n; j++) is_below[ord[j].i] = 1;
  for (int p = 0; p < s->n && !st; p++) {
    int nb = 0, na = 0;
    for (int i = 0; i < n_recs; i++) { /* recs are in trial order: forgetting needs it */
      if (!finished(&recs[i], optuna) || isnan(recs[i].x[p])) continue;
      if (is_below[i]) below[nb++] = recs[i].x[p];
      else above[na++] = recs[i].x[p];
    }
    const lmh_param *pp = &s->p[p];
    bool cat = pp->kind == LMH_CHOICE || (!optuna && pp->kind == LMH_RANDINT);
    if (optuna && pp->kind != LMH_NORMAL)
      st = cat ? suggest_optuna_categorical(ctx, pp, o, below, nb, above, na, rng, &x[p])
               : suggest_optuna_numeric(ctx, pp, o, below, nb, above, na, rng, &x[p]);
    else
      st = cat ? suggest_categorical(ctx, pp, o, below, nb, above, na, rng, &x[p])
               : suggest_numeric(ctx, pp, o, below, nb, above, na, rng, &x[p]);
  }
  lmh_mask(s, x);
done:
  if (st) lm_fail(ctx, st, "TPE: out of memory");
  lm_dealloc(ctx, ord);
  lm_dealloc(ctx, is_below);
  lm_dealloc(ctx, below);
  lm_dealloc(ctx, above);
  return st;
}

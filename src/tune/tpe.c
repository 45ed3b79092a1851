/* TPE as Hyperopt codes it (hyperopt/tpe.py): split by sqrt rule, one
 * adaptive Parzen estimator per parameter over the trials where it was active,
 * 24 candidates from l(x) scored by log l(x) - log g(x). */
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

int lmh_parzen(const double *obs, int n, double prior_weight, double prior_mu,
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
    idx_val *ord = malloc(sizeof *ord * (size_t)n);
    double *lw = malloc(sizeof *lw * (size_t)n);
    if (!ord || !lw) {
      free(ord);
      free(lw);
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
    free(ord);
    free(lw);
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

int lmh_parzen_optuna(const double *obs, int n, double prior_weight, double low, double high,
                      int lf, double *w, double *mu, double *sigma) {
  double range = high - low, sum = 0;
  if (n > 0) {
    idx_val *ord = malloc(sizeof *ord * (size_t)n);
    if (!ord) return -1;
    for (int i = 0; i < n; i++) ord[i] = (idx_val){obs[i], i};
    qsort(ord, (size_t)n, sizeof *ord, cmp_idx_val);
    for (int j = 0; j < n; j++) { /* bounds stand in as the outer neighbours */
      double left = j ? ord[j - 1].v : low, right = j + 1 < n ? ord[j + 1].v : high;
      double sg = fmax(ord[j].v - left, right - ord[j].v);
      if (n >= 2 && j == 0) sg = ord[1].v - ord[0].v; /* consider_endpoints=False */
      if (n >= 2 && j == n - 1) sg = ord[n - 1].v - ord[n - 2].v;
      sigma[ord[j].i] = sg;
    }
    free(ord);
    lmh_lf_weights(n, lf, w);
    for (int i = 0; i < n; i++) mu[i] = obs[i];
  }
  mu[n] = 0.5 * (low + high); /* the prior kernel, appended */
  sigma[n] = range;
  w[n] = prior_weight;
  double mins = range / fmin(100.0, 1.0 + (n + 1));
  for (int j = 0; j <= n; j++) {
    sigma[j] = fmin(fmax(sigma[j], mins), range);
    sum += w[j];
  }
  for (int j = 0; j <= n; j++) w[j] /= sum;
  return n + 1;
}

static double norm_cdf(double x, double mu, double s) {
  return 0.5 * erfc(-(x - mu) / (s * sqrt(2.0)));
}

/* per_comp: each kernel truncated to [low, high] on its own (Optuna 3.1);
 * otherwise the mixture is truncated as a whole (Hyperopt's GMM1). */
static double gmm_lpdf(double x, const double *w, const double *mu, const double *sigma, int k,
                       double low, double high, double q, bool logspace, bool per_comp) {
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
  double best = -INFINITY, acc = 0;
  for (int j = 0; j < k; j++) {
    double t;
    if (q > 0) {
      double m = norm_cdf(ub, mu[j], sigma[j]) - norm_cdf(lb, mu[j], sigma[j]);
      t = log(fmax(w[j] * m, 1e-300));
    } else {
      t = log(w[j]) - 0.5 * ((z - mu[j]) / sigma[j]) * ((z - mu[j]) / sigma[j]) -
          log(sigma[j] * 2.5066282746310002);
    }
    if (per_comp) {
      double pa = norm_cdf(high, mu[j], sigma[j]) - norm_cdf(low, mu[j], sigma[j]);
      t -= log(fmax(pa, 1e-300));
    }
    if (t > best) {
      acc = acc * exp(best - t) + 1.0;
      best = t;
    } else {
      acc += exp(t - best);
    }
  }
  double r = best + log(acc) - (per_comp ? 0.0 : log(p_accept));
  return q > 0 ? r : r - (logspace ? z : 0.0);
}

double lmh_gmm_lpdf(double x, const double *w, const double *mu, const double *sigma, int k,
                    double low, double high, double q, bool logspace) {
  return gmm_lpdf(x, w, mu, sigma, k, low, high, q, logspace, false);
}

static double gmm_sample(const double *w, const double *mu, const double *sigma, int k,
                         double low, double high, bool per_comp, uint64_t rng[4]) {
  int j = 0;
  for (int tries = 0; tries < 1000; tries++) {
    if (tries == 0 || !per_comp) { /* Hyperopt redraws the kernel; Optuna keeps it */
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

static lm_status suggest_numeric(const lmh_param *p, const lm_tune_opts *o, const double *below,
                                 int nb, const double *above, int na, uint64_t rng[4],
                                 double *out) {
  numeric_model m = numeric_of(p);
  int cap = (nb > na ? nb : na) + 1;
  double *buf = malloc(sizeof(double) * (size_t)(6 * cap + nb + na));
  if (!buf) return LM_ERR_NOMEM;
  double *lw = buf, *lm = lw + cap, *ls = lm + cap, *gw = ls + cap, *gm = gw + cap,
         *gs = gm + cap, *ob = gs + cap, *oa = ob + nb;
  for (int i = 0; i < nb; i++) ob[i] = to_model(&m, below[i]);
  for (int i = 0; i < na; i++) oa[i] = to_model(&m, above[i]);
  int kl, kg;
  if (o->tpe_optuna_parzen && isfinite(m.low)) {
    /* Optuna widens a stepped range by half a step on each side */
    double lo = m.low, hi = m.high;
    if (m.q > 0 && !m.logspace) lo -= 0.5 * m.q, hi += 0.5 * m.q;
    kl = lmh_parzen_optuna(ob, nb, o->tpe_prior_weight, lo, hi, o->tpe_lf, lw, lm, ls);
    kg = lmh_parzen_optuna(oa, na, o->tpe_prior_weight, lo, hi, o->tpe_lf, gw, gm, gs);
  } else {
    kl = lmh_parzen(ob, nb, o->tpe_prior_weight, m.prior_mu, m.prior_sigma, o->tpe_lf, lw, lm, ls);
    kg = lmh_parzen(oa, na, o->tpe_prior_weight, m.prior_mu, m.prior_sigma, o->tpe_lf, gw, gm, gs);
  }
  if (kl < 0 || kg < 0) {
    free(buf);
    return LM_ERR_NOMEM;
  }
  double best = NAN, best_score = -INFINITY;
  for (int c = 0; c < o->tpe_candidates; c++) {
    bool pc = o->tpe_optuna_parzen && isfinite(m.low);
    double z = gmm_sample(lw, lm, ls, kl, m.low, m.high, pc, rng);
    double v = m.logspace ? exp(z) : z;
    if (m.q > 0) v = round(v / m.q) * m.q;
    double score = gmm_lpdf(v, lw, lm, ls, kl, m.low, m.high, m.q, m.logspace, pc) -
                   gmm_lpdf(v, gw, gm, gs, kg, m.low, m.high, m.q, m.logspace, pc);
    if (c == 0 || score > best_score) {
      best_score = score;
      best = v;
    }
  }
  free(buf);
  *out = best;
  return LM_OK;
}

static lm_status suggest_categorical(const lmh_param *p, const lm_tune_opts *o,
                                     const double *below, int nb, const double *above, int na,
                                     uint64_t rng[4], double *out) {
  int n_cat = p->kind == LMH_CHOICE ? p->n_opt : (int)(p->high - p->low);
  double offset = p->kind == LMH_CHOICE ? 0 : p->low;
  int nmax = nb > na ? nb : na;
  double *pl = calloc((size_t)(2 * n_cat + nmax), sizeof(double));
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
  free(pl);
  *out = best + offset;
  return LM_OK;
}

static bool finished(const lmh_rec *r) {
  return r->status == LM_TRIAL_COMPLETE || r->status == LM_TRIAL_PRUNED ||
         r->status == LM_TRIAL_FAILED;
}

lm_status lmh_tpe_suggest(const lm_space *s, const lm_tune_opts *o, const lmh_rec *recs,
                          int n_recs, uint64_t rng[4], double *x) {
  int n = 0;
  for (int i = 0; i < n_recs; i++) n += finished(&recs[i]);
  if (n < o->tpe_startup || n == 0) {
    lmh_sample_prior(s, rng, x);
    return LM_OK;
  }
  idx_val *ord = malloc(sizeof *ord * (size_t)n);
  char *is_below = calloc((size_t)n_recs, 1);
  double *below = malloc(sizeof(double) * (size_t)n), *above = malloc(sizeof(double) * (size_t)n);
  lm_status st = LM_OK;
  if (!ord || !is_below || !below || !above) {
    st = lm_fail(s->ctx, LM_ERR_NOMEM, "out of memory");
    goto done;
  }
  for (int i = 0, j = 0; i < n_recs; i++)
    if (finished(&recs[i]))
      ord[j++] = (idx_val){isnan(recs[i].loss) ? INFINITY : recs[i].loss, i};
  qsort(ord, (size_t)n, sizeof *ord, cmp_idx_val);
  int n_below = lmh_tpe_n_below(n, o->tpe_gamma, o->tpe_gamma_linear, o->tpe_lf);
  for (int j = 0; j < n_below && j < n; j++) is_below[ord[j].i] = 1;
  for (int p = 0; p < s->n && !st; p++) {
    int nb = 0, na = 0;
    for (int i = 0; i < n_recs; i++) { /* recs are in trial order: forgetting needs it */
      if (!finished(&recs[i]) || isnan(recs[i].x[p])) continue;
      if (is_below[i]) below[nb++] = recs[i].x[p];
      else above[na++] = recs[i].x[p];
    }
    const lmh_param *pp = &s->p[p];
    if (pp->kind == LMH_CHOICE || pp->kind == LMH_RANDINT)
      st = suggest_categorical(pp, o, below, nb, above, na, rng, &x[p]);
    else
      st = suggest_numeric(pp, o, below, nb, above, na, rng, &x[p]);
    if (st) lm_fail(s->ctx, st, "out of memory");
  }
  lmh_mask(s, x);
done:
  free(ord);
  free(is_below);
  free(below);
  free(above);
  return st;
}

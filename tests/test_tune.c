/* Hyperparameter tuning: space sampling (statistics with fixed seeds), grid
 * enumeration, TPE's split, Parzen estimators and candidate scoring on
 * hand-computed cases, GA, pruning decisions, study behaviour. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "testutil.h"
#include "tune/tune.h"

#define N_DRAWS 20000

static int cmp_d(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

/* Kolmogorov-Smirnov distance between the draws and the uniform CDF on [lo, hi]. */
static double ks_uniform(double *v, int n, double lo, double hi) {
  qsort(v, (size_t)n, sizeof *v, cmp_d);
  double d = 0;
  for (int i = 0; i < n; i++) {
    double F = (v[i] - lo) / (hi - lo);
    d = fmax(d, fmax(fabs(F - (double)i / n), fabs(F - (double)(i + 1) / n)));
  }
  return d;
}

static void draw(const lmh_param *p, uint64_t seed, double *v, int n) {
  uint64_t rng[4];
  lm_rng_seed(rng, seed);
  for (int i = 0; i < n; i++) v[i] = lmh_sample_param(p, rng);
}

static void test_continuous_sampling(void **state) {
  lm_ctx *ctx = tu_ctx();
  lm_space *s = lm_space_new(ctx);
  int u = lm_space_uniform(s, "u", 2, 5), lu = lm_space_loguniform(s, "lu", 1e-4, 1),
      nm = lm_space_normal(s, "n", 3, 2);
  assert_true(u == 0 && lu == 1 && nm == 2);
  double *v = malloc(sizeof(double) * N_DRAWS);
  /* KS critical value at 1 %: 1.63 / sqrt(n) = 0.0115 */
  draw(&s->p[u], 1, v, N_DRAWS);
  for (int i = 0; i < N_DRAWS; i++) assert_true(v[i] >= 2 && v[i] < 5);
  assert_true(ks_uniform(v, N_DRAWS, 2, 5) < 0.0115);
  draw(&s->p[lu], 2, v, N_DRAWS);
  for (int i = 0; i < N_DRAWS; i++) v[i] = log10(v[i]);
  assert_true(ks_uniform(v, N_DRAWS, -4, 0) < 0.0115);
  draw(&s->p[nm], 3, v, N_DRAWS);
  double m = 0, m2 = 0;
  for (int i = 0; i < N_DRAWS; i++) m += v[i] / N_DRAWS;
  for (int i = 0; i < N_DRAWS; i++) m2 += (v[i] - m) * (v[i] - m) / (N_DRAWS - 1);
  assert_true(fabs(m - 3) < 4 * 2 / sqrt(N_DRAWS)); /* 4 standard errors */
  assert_true(fabs(sqrt(m2) - 2) < 0.05);
  free(v);
  lm_space_free(s);
  lm_ctx_free(ctx);
}

/* Chi-square of counts against expected probabilities; df <= 5 here. */
static double chi2(const int *count, const double *p, int k, int n) {
  double c = 0;
  for (int j = 0; j < k; j++) c += (count[j] - n * p[j]) * (count[j] - n * p[j]) / (n * p[j]);
  return c;
}

static void test_discrete_sampling(void **state) {
  lm_ctx *ctx = tu_ctx();
  lm_space *s = lm_space_new(ctx);
  const char *opts[3] = {"a", "b", "c"};
  int c = lm_space_choice(s, "c", 3, opts), r = lm_space_randint(s, "r", 3, 7),
      q = lm_space_quniform(s, "q", 0, 10, 2.5), ql = lm_space_qloguniform(s, "ql", 1, 100, 1);
  double *v = malloc(sizeof(double) * N_DRAWS);
  int count[8] = {0};
  /* chi-square critical values at 0.1 %: df 2: 13.8, df 3: 16.3, df 4: 18.5 */
  draw(&s->p[c], 4, v, N_DRAWS);
  for (int i = 0; i < N_DRAWS; i++) count[(int)v[i]]++;
  const double p3[3] = {1 / 3., 1 / 3., 1 / 3.};
  assert_true(chi2(count, p3, 3, N_DRAWS) < 13.8);
  memset(count, 0, sizeof count);
  draw(&s->p[r], 5, v, N_DRAWS);
  for (int i = 0; i < N_DRAWS; i++) {
    assert_true(v[i] == floor(v[i]) && v[i] >= 3 && v[i] <= 6);
    count[(int)v[i] - 3]++;
  }
  const double p4[4] = {.25, .25, .25, .25};
  assert_true(chi2(count, p4, 4, N_DRAWS) < 16.3);
  /* quniform(0, 10, 2.5) = round(U/2.5)*2.5: the ends get half a cell */
  memset(count, 0, sizeof count);
  draw(&s->p[q], 6, v, N_DRAWS);
  for (int i = 0; i < N_DRAWS; i++) {
    assert_true(fmod(v[i], 2.5) == 0);
    count[(int)(v[i] / 2.5)]++;
  }
  const double p5[5] = {.125, .25, .25, .25, .125};
  assert_true(chi2(count, p5, 5, N_DRAWS) < 18.5);
  draw(&s->p[ql], 7, v, N_DRAWS);
  int small = 0;
  for (int i = 0; i < N_DRAWS; i++) {
    assert_true(v[i] == floor(v[i]) && v[i] >= 1 && v[i] <= 100);
    small += v[i] <= 10; /* log-uniform: P(x < 10.5) = log(10.5)/log(100) = 0.5106 */
  }
  assert_true(fabs((double)small / N_DRAWS - 0.5106) < 0.015);
  free(v);
  lm_space_free(s);
  lm_ctx_free(ctx);
}

static void test_conditional(void **state) {
  lm_ctx *ctx = tu_ctx();
  lm_space *s = lm_space_new(ctx);
  const char *opts[3] = {"sgd", "momentum", "adam"};
  int o = lm_space_choice(s, "opt", 3, opts), b = lm_space_uniform(s, "beta", 0, 0.99);
  int d = lm_space_uniform(s, "decay", 0, 1);
  assert_int_equal(lm_space_only_if(s, b, o, 1), LM_OK);
  assert_int_equal(lm_space_only_if(s, d, b, 0), LM_ERR_ARG); /* parent not a choice */
  assert_non_null(strstr(lm_errmsg(ctx), "not a choice"));
  assert_int_equal(lm_space_only_if(s, o, b, 0), LM_ERR_ARG); /* parent declared later */
  uint64_t rng[4];
  lm_rng_seed(rng, 9);
  int active = 0;
  for (int i = 0; i < 3000; i++) {
    double x[3];
    lmh_sample_prior(s, rng, x);
    assert_true(isnan(x[1]) == ((int)x[0] != 1));
    assert_false(isnan(x[2]));
    active += !isnan(x[1]);
  }
  assert_true(abs(active - 1000) < 100);
  lm_space_free(s);
  lm_ctx_free(ctx);
}

static void test_space_errors(void **state) {
  lm_ctx *ctx = tu_ctx();
  lm_space *s = lm_space_new(ctx);
  assert_int_equal(lm_space_loguniform(s, "lr", 0, 1), -1);
  assert_non_null(strstr(lm_errmsg(ctx), "low > 0"));
  assert_int_equal(lm_space_uniform(s, "x", 1, 1), -1);
  assert_int_equal(lm_space_quniform(s, "x", 0, 1, 0), -1);
  assert_int_equal(lm_space_normal(s, "x", 0, -1), -1);
  assert_int_equal(lm_space_choice(s, "c", 0, NULL), -1);
  assert_int_equal(lm_space_uniform(s, "x", 0, 1), 0);
  assert_int_equal(lm_space_uniform(s, "x", 0, 1), -1);
  assert_non_null(strstr(lm_errmsg(ctx), "defined twice"));
  assert_int_equal(lm_space_n_params(s), 1);
  lm_space_free(s);
  lm_ctx_free(ctx);
}

static void test_grid(void **state) {
  lm_ctx *ctx = tu_ctx();
  lm_space *s = lm_space_new(ctx);
  const char *opts[3] = {"a", "b", "c"};
  int c = lm_space_choice(s, "c", 3, opts);
  int u = lm_space_uniform(s, "u", 0, 1);
  lm_space_only_if(s, u, c, 2);
  lm_space_quniform(s, "q", 0, 1, 0.25);
  double vals[8];
  assert_int_equal(lmh_grid_values(&s->p[u], 4, vals, 8), 4);
  assert_true(vals[0] == 0.125 && vals[1] == 0.375 && vals[2] == 0.625 && vals[3] == 0.875);
  assert_int_equal(lmh_grid_values(&s->p[2], 4, vals, 8), 5); /* every quantised value */
  assert_true(vals[0] == 0 && vals[4] == 1);
  double *pts;
  int n = lmh_grid_all(s, 4, &pts);
  assert_int_equal(n, 5 + 5 + 4 * 5); /* a: 5, b: 5, c: 4 x 5 */
  for (int i = 0; i < n; i++) {
    assert_true(isnan(pts[i * 3 + 1]) == (pts[i * 3] != 2));
    for (int j = 0; j < i; j++) {
      bool same = true;
      for (int k = 0; k < 3; k++) {
        double a = pts[i * 3 + k], b = pts[j * 3 + k];
        same = same && (a == b || (isnan(a) && isnan(b)));
      }
      assert_false(same);
    }
  }
  lm_dealloc(ctx, pts);
  lm_space_free(s);
  lm_ctx_free(ctx);
}

static void test_tpe_split_and_weights(void **state) {
  assert_int_equal(lmh_tpe_n_below(1, 0.25, false, 25), 1);
  assert_int_equal(lmh_tpe_n_below(16, 0.25, false, 25), 1);
  assert_int_equal(lmh_tpe_n_below(17, 0.25, false, 25), 2); /* ceil(0.25 * 4.12) */
  assert_int_equal(lmh_tpe_n_below(100, 0.25, false, 25), 3);
  assert_int_equal(lmh_tpe_n_below(100, 0.1, true, 25), 10);
  assert_int_equal(lmh_tpe_n_below(1000, 0.1, true, 25), 25);
  double w[30];
  lmh_lf_weights(27, 25, w); /* linspace(1/27, 1, 2) then 25 ones */
  assert_float_equal(w[0], 1.0 / 27, 1e-12);
  assert_float_equal(w[1], 1.0, 1e-12);
  assert_float_equal(w[26], 1.0, 1e-12);
  lmh_lf_weights(29, 25, w); /* linspace(1/29, 1, 4) */
  assert_float_equal(w[1], 1.0 / 29 + (1 - 1.0 / 29) / 3, 1e-12);
}

static void test_parzen_hand(void **state) {
  lm_ctx *ctx = tu_ctx();
  /* obs 0.2, 0.9, 0.4, prior N(0.5, 1) on [0, 1]: sorted 0.2 0.4 0.5 0.9;
   * sigmas 0.2, max(.2,.1), prior 1, 0.4; clip to [1/5, 1]. */
  double obs[3] = {0.2, 0.9, 0.4}, w[4], mu[4], sg[4];
  assert_int_equal(lmh_parzen(ctx, obs, 3, 1.0, 0.5, 1.0, 25, w, mu, sg), 4);
  const double emu[4] = {0.2, 0.4, 0.5, 0.9}, esg[4] = {0.2, 0.2, 1.0, 0.4};
  for (int i = 0; i < 4; i++) {
    assert_float_equal(w[i], 0.25, 1e-12);
    assert_float_equal(mu[i], emu[i], 1e-12);
    assert_float_equal(sg[i], esg[i], 1e-12);
  }
  /* truncated mixture density at 0.45 (computed by hand in Python) */
  assert_float_equal(lmh_gmm_lpdf(0.45, w, mu, sg, 4, 0, 1, 0, false), 0.30349728817350896, 1e-10);
  /* one observation: half the prior width (Hyperopt's special case) */
  double one = 0.3;
  assert_int_equal(lmh_parzen(ctx, &one, 1, 1.0, 0.5, 1.0, 25, w, mu, sg), 2);
  assert_float_equal(mu[0], 0.3, 1e-12);
  assert_float_equal(sg[0], 0.5, 1e-12);
  assert_float_equal(mu[1], 0.5, 1e-12);
  assert_float_equal(sg[1], 1.0, 1e-12);
  /* quantised mass: N(0, 1) on [-0.5, 0.5] = 0.38292492254802624 */
  double w1 = 1, m1 = 0, s1 = 1;
  assert_float_equal(lmh_gmm_lpdf(0, &w1, &m1, &s1, 1, -40, 40, 1, false),
                     log(0.38292492254802624), 1e-9);
  /* Optuna 3.1's bandwidths for 0.2 0.9 0.4 in [0, 1] (printed by its
   * _ParzenEstimator): sorted with the prior mean 0.2 0.4 0.5 0.9, ends take
   * the inner gap, 0.4 -> max(0.2, 0.1), prior kernel last with sigma 1 */
  assert_int_equal(lmh_parzen_optuna(ctx, obs, 3, 1.0, 0, 1, 25, w, mu, sg), 4);
  const double osg[4] = {0.2, 0.4, 0.2, 1.0}, omu[4] = {0.2, 0.9, 0.4, 0.5};
  for (int i = 0; i < 4; i++) {
    assert_float_equal(w[i], 0.25, 1e-12);
    assert_float_equal(mu[i], omu[i], 1e-12);
    assert_float_equal(sg[i], osg[i], 1e-12);
  }
  /* its log_pdf at 0.45 (kernels truncated one by one, no -log(sigma)) */
  assert_float_equal(lmh_optuna_lpdf(0.45, w, mu, sg, 4, 0, 1, 0), -0.6856197513845884, 1e-10);
  lm_ctx_free(ctx);
}

/* Optuna 3.1's _ParzenEstimator on more cases; the expected numbers were
 * printed by Debian's python3-optuna 3.1.0 (its log_pdf). */
static void test_optuna_estimators(void **state) {
  lm_ctx *ctx = tu_ctx();
  double w[32], mu[32], sg[32], scratch[8], p[3];
  /* categorical: [0, 2, 2] over 3 options */
  const int cat[3] = {0, 2, 2};
  lmh_cat_optuna(cat, 3, 3, 1.0, 25, scratch, p);
  assert_float_equal(p[0], 0.33333333, 1e-8);
  assert_float_equal(p[1], 0.19047619, 1e-8);
  assert_float_equal(p[2], 0.47619048, 1e-8);
  /* suggest_int(8, 256, step=8): bounds widened to [4, 260], mass of a cell */
  const double iv[3] = {96, 104, 8}, emu[4] = {96, 104, 8, 132}, esg[4] = {88, 51.2, 88, 256};
  assert_int_equal(lmh_parzen_optuna(ctx, iv, 3, 1.0, 4, 260, 25, w, mu, sg), 4);
  for (int i = 0; i < 4; i++) {
    assert_float_equal(mu[i], emu[i], 1e-9);
    assert_float_equal(sg[i], esg[i], 1e-9);
  }
  assert_float_equal(lmh_optuna_lpdf(96, w, mu, sg, 4, 4, 260, 8), -3.08881518, 1e-7);
  assert_float_equal(lmh_optuna_lpdf(256, w, mu, sg, 4, 4, 260, 8), -4.61686997, 1e-7);
  /* suggest_float(1e-5, 1, log=True): in log space */
  const double lv[2] = {log(1e-3), log(1e-2)};
  assert_int_equal(lmh_parzen_optuna(ctx, lv, 2, 1.0, log(1e-5), 0, 25, w, mu, sg), 3);
  assert_float_equal(sg[0], 2.87823137, 1e-7);
  assert_float_equal(sg[1], 2.87823137, 1e-7);
  assert_float_equal(sg[2], 11.51292546, 1e-7);
  assert_float_equal(lmh_optuna_lpdf(log(3e-3), w, mu, sg, 3, log(1e-5), 0, 0), -0.49551728, 1e-7);
  /* 30 observations: the 25-trial ramp, prior weight 1, normalised */
  double many[30];
  for (int i = 0; i < 30; i++) many[i] = i / 29.0;
  assert_int_equal(lmh_parzen_optuna(ctx, many, 30, 1.0, 0, 1, 25, w, mu, sg), 31);
  assert_float_equal(w[0], 0.00116618, 1e-8);
  assert_float_equal(w[1], 0.00962099, 1e-8);
  assert_float_equal(w[4], 0.03498542, 1e-8);
  assert_float_equal(w[30], 0.03498542, 1e-8);
  /* far tails stay finite */
  assert_true(isfinite(lmh_log_gauss_mass(40, 41)));
  assert_true(lmh_log_gauss_mass(40, 41) < -800);
  assert_float_equal(lmh_log_gauss_mass(-1, 1), log(0.6826894921370859), 1e-12);
  lm_ctx_free(ctx);
}

static lmh_rec rec_of(double *x, double loss, int number) {
  return (lmh_rec){.number = number, .status = LM_TRIAL_COMPLETE, .loss = loss, .x = x};
}

static void test_tpe_categorical_scoring(void **state) {
  /* 4 finished trials: n_below = ceil(0.25 * 2) = 1, the loss-0.1 trial.
   * l = (counts below + 1) / 4 = [2,1,1]/4; g = ([0,2,1] + 1) / 6 = [1,3,2]/6.
   * log l - log g: option 0: log 3, option 1: log 0.5, option 2: log 0.75. */
  lm_ctx *ctx = tu_ctx();
  lm_space *s = lm_space_new(ctx);
  const char *opts[3] = {"a", "b", "c"};
  lm_space_choice(s, "c", 3, opts);
  double x[4] = {0, 1, 1, 2};
  lmh_rec recs[4] = {rec_of(&x[0], 0.1, 0), rec_of(&x[1], 0.5, 1), rec_of(&x[2], 0.7, 2),
                     rec_of(&x[3], 0.9, 3)};
  lm_tune_opts o = LM_TUNE_DEFAULTS;
  o.tpe_startup = 0;
  for (uint64_t seed = 0; seed < 20; seed++) {
    uint64_t rng[4];
    double out;
    lm_rng_seed(rng, seed);
    assert_int_equal(lmh_tpe_suggest(s, &o, recs, 4, rng, &out), LM_OK);
    assert_true(out == 0);
  }
  /* numeric: below at 0.1, above near 0.9: the suggestion lands low */
  lm_space *s2 = lm_space_new(ctx);
  lm_space_uniform(s2, "x", 0, 1);
  double y[5] = {0.1, 0.85, 0.9, 0.95, 0.8};
  lmh_rec r2[5];
  for (int i = 0; i < 5; i++) r2[i] = rec_of(&y[i], i == 0 ? 0.0 : 1.0 + i, i);
  for (uint64_t seed = 0; seed < 20; seed++) {
    uint64_t rng[4];
    double out;
    lm_rng_seed(rng, seed);
    assert_int_equal(lmh_tpe_suggest(s2, &o, r2, 5, rng, &out), LM_OK);
    assert_true(out < 0.5);
  }
  /* Optuna's split: failed trials are no observations; a pruned one ranks
   * after every complete one whatever its value. n = 3, below = ceil(0.3) = 1:
   * the loss-0.5 trial (option 1). l = [.267 .467 .267], g = [.389 .222 .389]. */
  double z[4] = {1, 2, 0, 0}, iv[3] = {NAN, NAN, -100};
  lmh_rec r3[4] = {rec_of(&z[0], 0.5, 0), rec_of(&z[1], 0.9, 1), rec_of(&z[2], -100, 2),
                   rec_of(&z[3], NAN, 3)};
  r3[2].status = LM_TRIAL_PRUNED;
  r3[2].iv = iv;
  r3[2].n_iv = 3;
  r3[3].status = LM_TRIAL_FAILED;
  lm_tune_opts oo = LM_TUNE_DEFAULTS;
  lm_tune_opts_optuna(&oo);
  oo.tpe_startup = 0;
  for (uint64_t seed = 0; seed < 20; seed++) {
    uint64_t rng[4];
    double out;
    lm_rng_seed(rng, seed);
    assert_int_equal(lmh_tpe_suggest(s, &oo, r3, 4, rng, &out), LM_OK);
    assert_true(out == 1);
  }
  lm_space_free(s2);
  lm_space_free(s);
  lm_ctx_free(ctx);
}

static lm_status quad(lm_trial *t, void *ud, double *v) {
  double x = lm_trial_float(t, "x"), y = lm_trial_float(t, "y");
  *v = (x - 0.3) * (x - 0.3) + (y - 2) * (y - 2);
  return LM_OK;
}

static double run_quad(lm_tune_algo algo, uint64_t seed, int n, bool maximize) {
  lm_ctx *ctx = tu_ctx();
  lm_space *s = lm_space_new(ctx);
  lm_space_uniform(s, "x", 0, 1);
  lm_space_uniform(s, "y", -5, 5);
  lm_tune_opts o = LM_TUNE_DEFAULTS;
  o.algo = algo;
  o.seed = seed;
  o.maximize = maximize;
  lm_study *st = lm_study_open(ctx, s, NULL, &o);
  assert_non_null(st);
  assert_int_equal(lm_study_optimize(st, n, quad, NULL), LM_OK);
  assert_int_equal(lm_study_n_trials(st), n);
  double best;
  char params[128];
  assert_true(lm_study_best(st, &best, params, sizeof params) >= 0);
  lm_study_free(st);
  lm_space_free(s);
  lm_ctx_free(ctx);
  return best;
}

static void test_algorithms_seeded(void **state) {
  for (int a = LM_TUNE_RANDOM; a <= LM_TUNE_GA; a++) {
    if (a == LM_TUNE_GRID) continue;
    double b1 = run_quad(a, 5, 60, false), b2 = run_quad(a, 5, 60, false),
           b3 = run_quad(a, 6, 60, false);
    assert_true(b1 == b2); /* same seed, same run */
    assert_true(b1 != b3);
  }
  /* TPE beats random on the quadratic over 10 seeds (median) */
  double r[10], t[10];
  for (int s = 0; s < 10; s++) {
    r[s] = run_quad(LM_TUNE_RANDOM, (uint64_t)s, 80, false);
    t[s] = run_quad(LM_TUNE_TPE, (uint64_t)s, 80, false);
  }
  qsort(r, 10, sizeof *r, cmp_d);
  qsort(t, 10, sizeof *t, cmp_d);
  assert_true(t[5] < r[5]);
  /* maximize: the best is the largest value */
  assert_true(run_quad(LM_TUNE_RANDOM, 1, 30, true) > 10);
}

static lm_status failing(lm_trial *t, void *ud, double *v) {
  int *calls = ud;
  (*calls)++;
  double x = lm_trial_float(t, "x");
  if (x > 0.8) return LM_ERR_VALUE;
  *v = (x - 0.3) * (x - 0.3);
  return LM_OK;
}

static void test_grid_study_and_failures(void **state) {
  lm_ctx *ctx = tu_ctx();
  lm_space *s = lm_space_new(ctx);
  const char *opts[2] = {"16", "32"};
  lm_space_choice(s, "units", 2, opts);
  lm_space_uniform(s, "x", 0, 1);
  lm_tune_opts o = LM_TUNE_DEFAULTS;
  o.algo = LM_TUNE_GRID;
  o.grid_points = 5;
  lm_study *st = lm_study_open(ctx, s, NULL, &o);
  int calls = 0;
  assert_int_equal(lm_study_optimize(st, 100, failing, &calls), LM_OK);
  assert_int_equal(calls, 10); /* the grid ends the study */
  int failed = 0;
  for (int i = 0; i < lm_study_n_trials(st); i++) {
    lm_trial_status status;
    assert_int_equal(lm_study_trial(st, i, NULL, &status, NULL, NULL, 0), LM_OK);
    failed += status == LM_TRIAL_FAILED;
  }
  assert_int_equal(failed, 2); /* x = 0.9 for both unit counts */
  double best;
  char params[64];
  assert_true(lm_study_best(st, &best, params, sizeof params) >= 0);
  assert_float_equal(best, 0.0, 1e-12);
  assert_true(strstr(params, "x=0.3") != NULL);
  lm_study_free(st);
  lm_space_free(s);
  lm_ctx_free(ctx);
}

static void test_trial_values(void **state) {
  lm_ctx *ctx = tu_ctx();
  lm_space *s = lm_space_new(ctx);
  const char *units[2] = {"32", "64"}, *opt[2] = {"sgd", "adam"};
  lm_space_choice(s, "units", 2, units);
  lm_space_choice(s, "opt", 2, opt);
  lm_space_quniform(s, "k", 1, 9, 1);
  lm_study *st = lm_study_open(ctx, s, NULL, NULL);
  lm_trial *t = lm_study_ask(st, 1);
  assert_non_null(t);
  int64_t u = lm_trial_int(t, "units");
  assert_true(u == 32 || u == 64); /* the option, not its index */
  const char *o = lm_trial_str(t, "opt");
  assert_true(strcmp(o, "sgd") == 0 || strcmp(o, "adam") == 0);
  assert_true(lm_trial_float(t, "opt") == 0 || lm_trial_float(t, "opt") == 1);
  int64_t k = lm_trial_int(t, "k");
  assert_true(k >= 1 && k <= 9);
  assert_true(isnan(lm_trial_float(t, "nope")));
  assert_non_null(strstr(lm_errmsg(ctx), "no hyperparameter named 'nope'"));
  assert_int_equal(lm_study_tell(st, t, LM_TRIAL_COMPLETE, 1.0), LM_OK);
  assert_null(lm_study_ask(st, 1)); /* full */
  assert_int_equal(lm_errcode(ctx), LM_OK);
  lm_study_free(st);
  lm_space_free(s);
  lm_ctx_free(ctx);
}

static lmh_rec rec_iv(double *iv, int n_iv, int number, lm_trial_status st) {
  return (lmh_rec){.number = number, .status = st, .iv = iv, .n_iv = n_iv};
}

static void test_median_pruner(void **state) {
  lm_ctx *ctx = tu_ctx();
  double iv[5][2];
  lmh_rec recs[5];
  for (int i = 0; i < 5; i++) {
    iv[i][0] = NAN;
    iv[i][1] = i + 1; /* step 1: 1 2 3 4 5, median 3 */
    recs[i] = rec_iv(iv[i], 2, i, LM_TRIAL_COMPLETE);
  }
  double own[3] = {NAN, 3.5, NAN};
  assert_true(lmh_median_prune(ctx, recs, 5, own, 1, 5, 0));
  own[1] = 2.5;
  assert_false(lmh_median_prune(ctx, recs, 5, own, 1, 5, 0));
  own[1] = 3.5;
  assert_false(lmh_median_prune(ctx, recs, 5, own, 1, 6, 0)); /* startup: 6 complete needed */
  assert_false(lmh_median_prune(ctx, recs, 5, own, 1, 5, 2)); /* warmup */
  recs[4].status = LM_TRIAL_RUNNING; /* only complete trials count: 1 2 3 4 -> 2.5 */
  own[1] = 2.8;
  assert_true(lmh_median_prune(ctx, recs, 5, own, 1, 4, 0));
  /* the best value so far decides: 2.0 at step 1 beats the median at step 2 */
  own[1] = 2.0;
  own[2] = 9.0;
  assert_false(lmh_median_prune(ctx, recs, 5, own, 2, 4, 0)); /* no values at step 2: keep */
  lm_ctx_free(ctx);
}

static void test_sha_pruner(void **state) {
  lm_ctx *ctx = tu_ctx();
  double iv[8][2];
  lmh_rec recs[8];
  for (int i = 0; i < 8; i++) {
    iv[i][0] = NAN;
    iv[i][1] = i + 1;
    recs[i] = rec_iv(iv[i], 2, i, LM_TRIAL_COMPLETE);
  }
  /* 9 values at rung 0 (step 1), eta 3: keep the best 9/3 = 3 */
  double own[2] = {NAN, 2.5};
  int rung = 0;
  assert_false(lmh_sha_prune(ctx, recs, 8, 99, own, 1, 1, 3, &rung));
  assert_int_equal(rung, 1); /* next rung at step 3 */
  own[1] = 3.5;
  rung = 0;
  assert_true(lmh_sha_prune(ctx, recs, 8, 99, own, 1, 1, 3, &rung));
  /* with fewer than eta values a trial goes on only if it is the best */
  rung = 0;
  own[1] = 0.5;
  assert_false(lmh_sha_prune(ctx, recs, 1, 99, own, 1, 1, 3, &rung));
  rung = 0;
  own[1] = 1.5;
  assert_true(lmh_sha_prune(ctx, recs, 1, 99, own, 1, 1, 3, &rung));
  /* between rungs nothing happens */
  rung = 1;
  assert_false(lmh_sha_prune(ctx, recs, 8, 99, own, 1, 1, 3, &rung));
  lm_ctx_free(ctx);
}

typedef struct curve_ud {
  int steps_run;
} curve_ud;

/* A learning curve: value(step) = f(x) + 1 / step; 10 steps. */
static lm_status curve(lm_trial *t, void *ud, double *v) {
  curve_ud *c = ud;
  double x = lm_trial_float(t, "x"), f = (x - 0.3) * (x - 0.3);
  for (int step = 1; step <= 10; step++) {
    *v = f + 1.0 / step;
    c->steps_run++;
    if (lm_trial_report(t, step, *v)) break;
  }
  return LM_OK;
}

static void test_pruning_study(void **state) {
  for (int kind = LM_PRUNE_MEDIAN; kind <= LM_PRUNE_SHA; kind++) {
    lm_ctx *ctx = tu_ctx();
    lm_space *s = lm_space_new(ctx);
    lm_space_uniform(s, "x", 0, 1);
    lm_tune_opts o = LM_TUNE_DEFAULTS;
    o.algo = LM_TUNE_RANDOM;
    o.prune = (lm_prune_kind)kind;
    lm_study *st = lm_study_open(ctx, s, NULL, &o);
    curve_ud c = {0};
    assert_int_equal(lm_study_optimize(st, 30, curve, &c), LM_OK);
    int pruned = 0, complete = 0;
    for (int i = 0; i < lm_study_n_trials(st); i++) {
      lm_trial_status status;
      lm_study_trial(st, i, NULL, &status, NULL, NULL, 0);
      pruned += status == LM_TRIAL_PRUNED;
      complete += status == LM_TRIAL_COMPLETE;
    }
    print_message("%s: %d pruned, %d complete, %d of 300 steps run\n",
                  kind == LM_PRUNE_MEDIAN ? "median" : "sha", pruned, complete, c.steps_run);
    assert_true(pruned >= 5 && complete >= 1 && pruned + complete == 30);
    assert_true(c.steps_run < 300 * 3 / 4);
    double best;
    assert_true(lm_study_best(st, &best, NULL, 0) >= 0);
    assert_true(best < 0.1 + 0.1); /* a good trial ran to the end */
    lm_study_free(st);
    lm_space_free(s);
    lm_ctx_free(ctx);
  }
}

static int sweep_once(lm_ctx *ctx) {
  lm_space *s = lm_space_new(ctx);
  if (!s) return 0;
  const char *opts[3] = {"sgd", "momentum", "adam"};
  int o = lm_space_choice(s, "opt", 3, opts), b = lm_space_uniform(s, "beta", 0, 1);
  int ok = o >= 0 && b >= 0 && lm_space_uniform(s, "x", 0, 1) >= 0 &&
           lm_space_uniform(s, "y", -5, 5) >= 0 && lm_space_only_if(s, b, o, 1) == LM_OK;
  if (ok) {
    lm_tune_opts to = LM_TUNE_DEFAULTS;
    to.tpe_startup = 3;
    lm_study *st = lm_study_open(ctx, s, NULL, &to);
    ok = st && lm_study_optimize(st, 6, quad, NULL) == LM_OK;
    lm_study_free(st);
  }
  for (int pr = LM_PRUNE_MEDIAN; ok && pr <= LM_PRUNE_SHA; pr++) { /* Optuna preset, pruners */
    lm_tune_opts to = LM_TUNE_DEFAULTS;
    lm_tune_opts_optuna(&to);
    to.tpe_startup = 3;
    to.prune = (lm_prune_kind)pr;
    to.prune_startup = 1;
    curve_ud c = {0};
    lm_study *st = lm_study_open(ctx, s, NULL, &to);
    ok = st && lm_study_optimize(st, 6, curve, &c) == LM_OK && !lm_errcode(ctx);
    lm_study_free(st);
  }
  lm_space_free(s);
  return ok;
}

static void test_alloc_sweep(void **state) {
  int ok = 0;
  long n;
  for (n = 0; n < 100000 && !ok; n++) {
    tu_failalloc fa = {.countdown = n};
    lm_ctx *ctx = lm_ctx_new(tu_failalloc_fn, &fa);
    if (!ctx) continue;
    lm_ctx_set_log(ctx, NULL, NULL);
    ok = sweep_once(ctx);
    if (!ok) assert_int_equal(lm_errcode(ctx), LM_ERR_NOMEM);
    lm_ctx_free(ctx);
    assert_int_equal(fa.live, 0);
  }
  assert_true(ok);
  print_message("tune allocation sweep: %ld failure points\n", n - 1);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_continuous_sampling), cmocka_unit_test(test_discrete_sampling),
      cmocka_unit_test(test_conditional),         cmocka_unit_test(test_space_errors),
      cmocka_unit_test(test_grid),                cmocka_unit_test(test_tpe_split_and_weights),
      cmocka_unit_test(test_parzen_hand),         cmocka_unit_test(test_tpe_categorical_scoring),
      cmocka_unit_test(test_algorithms_seeded),   cmocka_unit_test(test_grid_study_and_failures),
      cmocka_unit_test(test_trial_values),        cmocka_unit_test(test_median_pruner),
      cmocka_unit_test(test_sha_pruner),          cmocka_unit_test(test_pruning_study),
      cmocka_unit_test(test_alloc_sweep),         cmocka_unit_test(test_optuna_estimators),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}

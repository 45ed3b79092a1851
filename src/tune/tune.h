/* Floor 7: hyperparameter tuning internals (spaces, samplers, pruners, store). */
#ifndef LM_TUNE_H
#define LM_TUNE_H

#include "core/core.h"

typedef enum lmh_kind {
  LMH_CHOICE = 0, LMH_UNIFORM, LMH_QUNIFORM, LMH_LOGUNIFORM, LMH_QLOGUNIFORM, LMH_NORMAL,
  LMH_RANDINT
} lmh_kind;

typedef struct lmh_param {
  char *name;
  lmh_kind kind;
  double low, high, q; /* normal: low = mu, high = sigma; randint: [low, high) */
  int n_opt;
  char **opts;
  int parent, parent_opt; /* -1: always active */
} lmh_param;

struct lm_space {
  lm_ctx *ctx;
  lmh_param *p;
  int n, cap;
};

/* One recorded trial. x[i] is NaN when parameter i is inactive; a choice
 * holds the option index, randint the integer. iv[s] is the value reported
 * at step s (NaN if none), s < n_iv. loss is the value to minimise. */
typedef struct lmh_rec {
  int number;
  lm_trial_status status;
  double loss;
  double *x;
  double *iv;
  int n_iv;
  double t_start, t_end;
  long pid;
} lmh_rec;

/* ---- space.c ---- */
const char *lmh_kind_name(lmh_kind k);
bool lmh_active(const lm_space *s, const double *x, int i);
/* Draws every parameter from its prior (inactive ones NaN). */
void lmh_sample_prior(const lm_space *s, uint64_t rng[4], double *x);
double lmh_sample_param(const lmh_param *p, uint64_t rng[4]);
/* Sets inactive parameters to NaN, in declaration order. */
void lmh_mask(const lm_space *s, double *x);
/* Values a grid visits for parameter i; returns the count (<= cap). */
int lmh_grid_values(const lmh_param *p, int points, double *out, int cap);
/* Every grid point (rows of s->n doubles) into *pts; returns the count or -1. */
int lmh_grid_all(const lm_space *s, int points, double **pts);
/* "units=64 lr=0.001" */
void lmh_format(const lm_space *s, const double *x, char *out, size_t len);
/* A text that identifies the space's definition (stored in the study file). */
char *lmh_signature(const lm_space *s);

/* ---- tpe.c ---- */
/* Hyperopt's ap_split_trials: size of the below set for n finished losses. */
int lmh_tpe_n_below(int n, double gamma, bool linear, int cap);
/* Hyperopt's linear_forgetting_weights(n, lf) into w[n]. */
void lmh_lf_weights(int n, int lf, double *w);
/* adaptive_parzen_normal: obs (n, in trial order) -> mixture of n + 1
 * components (weights, means, sigmas, sorted by mean). Returns the count, -1
 * when out of memory. */
int lmh_parzen(lm_ctx *ctx, const double *obs, int n, double prior_weight, double prior_mu,
               double prior_sigma, int lf, double *w, double *mu, double *sigma);
/* Optuna 3.1's _ParzenEstimator for one numeric parameter (consider_prior,
 * magic clip, no endpoints): n observation kernels in the given order, then
 * the prior kernel; bandwidths from the sorted means including the prior's. */
int lmh_parzen_optuna(lm_ctx *ctx, const double *obs, int n, double prior_weight, double low,
                      double high, int lf, double *w, double *mu, double *sigma);
/* Optuna 3.1's categorical estimator: option probabilities p[n_cat] of the
 * mixture of one-hot (+ prior_weight / (n + 1)) kernels and a uniform prior
 * kernel. w_scratch holds n + 1 doubles. */
void lmh_cat_optuna(const int *obs, int n, int n_cat, double prior_weight, int lf,
                    double *w_scratch, double *p);
/* log of the standard normal mass on [a, b]. */
double lmh_log_gauss_mass(double a, double b);
/* Optuna 3.1's score of z (model space) under a mixture of kernels each
 * truncated to [low, high]: the mass of [z - q/2, z + q/2] for q > 0, else its
 * truncnorm.logpdf, which leaves out -log(sigma) (kept here on purpose). */
double lmh_optuna_lpdf(double z, const double *w, const double *mu, const double *sigma, int k,
                       double low, double high, double q);
/* Hyperopt's log density (mass for quantised) of the truncated mixture at x,
 * in the parameter's model space (log for log kinds). q 0 = continuous. */
double lmh_gmm_lpdf(double x, const double *w, const double *mu, const double *sigma, int k,
                    double low, double high, double q, bool logspace);
/* Suggest x (s->n) given finished records. */
lm_status lmh_tpe_suggest(const lm_space *s, const lm_tune_opts *o, const lmh_rec *recs,
                          int n_recs, uint64_t rng[4], double *x);

/* ---- ga.c ---- */
lm_status lmh_ga_suggest(const lm_space *s, const lm_tune_opts *o, const lmh_rec *recs,
                         int n_recs, int k, uint64_t rng[4], double *x);

/* ---- prune.c: pure decisions (loss convention: lower is better); out of
 * memory leaves the trial running and the error in ctx ---- */
/* Median: prune when the trial's best value so far is worse than the median of
 * complete trials' values at this step. */
bool lmh_median_prune(lm_ctx *ctx, const lmh_rec *recs, int n_recs, const double *own_iv,
                      int step, int n_startup, int n_warmup);
/* Asynchronous successive halving: rungs at min_res * eta^r; *rung is the next
 * rung this trial has to pass (updated). */
bool lmh_sha_prune(lm_ctx *ctx, const lmh_rec *recs, int n_recs, int self_number,
                   const double *own_iv, int step, int min_res, int eta, int *rung);

/* ---- store.c: SQLite ---- */
typedef struct lmh_store lmh_store;
lmh_store *lmh_store_open(lm_ctx *ctx, const char *path, const char *signature);
void lmh_store_close(lmh_store *db);
lm_status lmh_store_begin(lmh_store *db); /* BEGIN IMMEDIATE */
lm_status lmh_store_commit(lmh_store *db);
void lmh_store_rollback(lmh_store *db);
/* Reads every trial (steps included) into *recs (replacing it). */
lm_status lmh_store_load(lmh_store *db, int n_params, lmh_rec **recs, int *n_recs, int *cap);
void lmh_recs_free(lm_ctx *ctx, lmh_rec *recs, int n);
lm_status lmh_store_insert(lmh_store *db, int number, const double *x, int n_params, long pid,
                           double t_start);
lm_status lmh_store_finish(lmh_store *db, int number, lm_trial_status st, double loss,
                           double t_end);
lm_status lmh_store_set_status(lmh_store *db, int number, lm_trial_status st);
lm_status lmh_store_step(lmh_store *db, int number, int step, double value);

/* The stored "minimize;<space signature>" of an existing study file. */
char *lmh_store_signature(lm_ctx *ctx, const char *path);
/* Rebuilds a space from lmh_signature's text; NULL + error if malformed. */
lm_space *lmh_space_parse(lm_ctx *ctx, const char *sig);

double lmh_now(void);

#endif

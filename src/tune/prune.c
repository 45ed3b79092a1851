/* Pruning decisions, as Optuna's MedianPruner and SuccessiveHalvingPruner
 * (asynchronous SHA) take them. Values are losses: lower is better. */
#include <math.h>
#include <stdlib.h>

#include "tune/tune.h"

static int cmp_double(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

static double value_at(const lmh_rec *r, int step) {
  return step < r->n_iv ? r->iv[step] : NAN;
}

bool lmh_median_prune(lm_ctx *ctx, const lmh_rec *recs, int n_recs, const double *own_iv,
                      int step, int n_startup, int n_warmup) {
  if (step < n_warmup || isnan(own_iv[step])) return false;
  int n_complete = 0, n = 0;
  for (int i = 0; i < n_recs; i++) n_complete += recs[i].status == LM_TRIAL_COMPLETE;
  if (n_complete < n_startup || n_complete == 0) return false;
  double *v = lm_alloc(ctx, sizeof(double) * (size_t)n_complete);
  if (!v) return false;
  for (int i = 0; i < n_recs; i++) {
    if (recs[i].status != LM_TRIAL_COMPLETE) continue;
    double a = value_at(&recs[i], step);
    if (!isnan(a)) v[n++] = a;
  }
  if (n == 0) {
    lm_dealloc(ctx, v);
    return false;
  }
  qsort(v, (size_t)n, sizeof *v, cmp_double);
  double median = n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
  lm_dealloc(ctx, v);
  double best = INFINITY;
  for (int s = 0; s <= step; s++)
    if (!isnan(own_iv[s]) && own_iv[s] < best) best = own_iv[s];
  return best > median;
}

bool lmh_sha_prune(lm_ctx *ctx, const lmh_rec *recs, int n_recs, int self_number,
                   const double *own_iv, int step, int min_res, int eta, int *rung) {
  if (min_res < 1) min_res = 1;
  if (eta < 2) eta = 2;
  double value = own_iv[step];
  if (isnan(value)) return false;
  for (;;) {
    long promo = min_res;
    for (int r = 0; r < *rung; r++) promo *= eta;
    if (step < promo || promo > 1000000) return false;
    /* competitors: every other trial that reported at this rung's step */
    double *v = lm_alloc(ctx, sizeof(double) * (size_t)(n_recs + 1));
    if (!v) return false;
    int n = 0;
    for (int i = 0; i < n_recs; i++) {
      if (recs[i].number == self_number || recs[i].status == LM_TRIAL_ABANDONED) continue;
      double a = value_at(&recs[i], (int)promo);
      if (!isnan(a)) v[n++] = a;
    }
    v[n++] = value;
    qsort(v, (size_t)n, sizeof *v, cmp_double);
    int k = n / eta - 1;
    if (k < 0) k = 0; /* the first eta-1 arrivals go on only if best */
    bool keep = value <= v[k];
    lm_dealloc(ctx, v);
    if (!keep) return true;
    (*rung)++;
  }
}

/* Tune the digits MLP with TPE and with random search, 30 trials each, over
 * several seeds, and compare: units {16..256}, learning rate loguniform
 * [1e-5, 1], optimiser {sgd, rmsprop, adam}; 10 epochs; val_acc on a 60/20/20
 * split picks the parameters, the test split reports them.
 *
 *   tune_digits [n_seeds=5] [n_trials=30] [digits.csv.gz]
 *
 * Uses the C API of docs/tuning.md: a space, a study, an objective callback
 * that reports every epoch (median pruning is one option away). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "data/csv.h"
#include "tune/digits.h"
#include "lamina.h"


static int cmp_d(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

/* One search: returns the best val_acc and writes the test accuracy of the
 * best trial's model (retrained) into *test_acc. */
static double search(lmtu_digits *d, lm_tune_algo algo, uint64_t seed, int n_trials, double *test_acc) {
  lm_space *space = lmtu_digits_space(d->ctx);
  lm_tune_opts o = LM_TUNE_DEFAULTS;
  o.algo = algo;
  o.seed = seed;
  o.maximize = true;
  o.tpe_startup = 10; /* of 30 trials; Hyperopt's 20 would leave TPE 10 */
  lm_study *st = space ? lm_study_open(d->ctx, space, NULL, &o) : NULL;
  double best = NAN;
  *test_acc = NAN;
  if (!st || lm_study_optimize(st, n_trials, lmtu_digits_objective, d)) {
    fprintf(stderr, "tune_digits: %s\n", lm_errmsg(d->ctx));
  } else {
    char params[256];
    lm_study_best(st, &best, params, sizeof params);
    int units = 64;
    double lr = 1e-3, val;
    char optim[32] = "adam";
    for (char *p = params; p && *p; p = strchr(p, ' ') ? strchr(p, ' ') + 1 : NULL) {
      if (strncmp(p, "units=", 6) == 0) units = atoi(p + 6);
      else if (strncmp(p, "lr=", 3) == 0) lr = strtod(p + 3, NULL);
      else if (strncmp(p, "optimizer=", 10) == 0) sscanf(p + 10, "%31[a-z]", optim);
    }
    lm_model *m = lmtu_digits_model(d->ctx, units, optim, lr);
    double logs[2];
    lm_data tx = {1, &d->x[2], NULL}, ty = {1, &d->y[2], NULL};
    if (m && !lmtu_digits_fit(d, m, NULL, &val) && !lm_model_evaluate(m, &tx, &ty, 32, 0, logs))
      *test_acc = logs[1];
    lm_model_free(m);
    printf("  %-6s seed %llu: best val_acc %.4f test_acc %.4f  %s\n",
           algo == LM_TUNE_TPE ? "tpe" : "random", (unsigned long long)seed, best, *test_acc,
           params);
    fflush(stdout);
  }
  lm_study_free(st);
  lm_space_free(space);
  return best;
}

int main(int argc, char **argv) {
  int n_seeds = argc > 1 ? atoi(argv[1]) : 5, n_trials = argc > 2 ? atoi(argv[2]) : 30;
  const char *path = lmtu_digits_find(argc > 3 ? argv[3] : NULL);
  if (n_seeds < 1 || n_seeds > 100 || n_trials < 1) {
    fprintf(stderr, "usage: tune_digits [n_seeds] [n_trials] [digits.csv.gz]\n");
    return 2;
  }
  if (!path) {
    fprintf(stderr, "tune_digits: digits.csv.gz not found; install Debian's python3-sklearn "
                    "or pass the file's path\n");
    return 1;
  }
  lm_ctx *ctx = lm_ctx_new(NULL, NULL);
  lm_ctx_set_log(ctx, NULL, NULL);
  lm_ctx_set_threads(ctx, 1); /* small matrices: threads cost more than they give */
  lmtu_digits d = {.ctx = ctx, .epochs = 10};
  if (lmtu_digits_load(&d, path)) {
    fprintf(stderr, "tune_digits: %s\n", lm_errmsg(ctx));
    lm_ctx_free(ctx);
    return 1;
  }
  double val[2][100], test[2][100];
  for (int a = 0; a < 2; a++) {
    printf("%s search, %d trials:\n", a ? "TPE" : "random", n_trials);
    for (int s = 0; s < n_seeds; s++)
      val[a][s] = search(&d, a ? LM_TUNE_TPE : LM_TUNE_RANDOM, (uint64_t)s, n_trials, &test[a][s]);
  }
  for (int a = 0; a < 2; a++) {
    qsort(val[a], (size_t)n_seeds, sizeof(double), cmp_d);
    qsort(test[a], (size_t)n_seeds, sizeof(double), cmp_d);
  }
  double rv = val[0][n_seeds / 2], tv = val[1][n_seeds / 2];
  printf("median best val_acc: random %.4f, TPE %.4f\n", rv, tv);
  printf("median test_acc:     random %.4f, TPE %.4f\n", test[0][n_seeds / 2], test[1][n_seeds / 2]);
  printf("TPE %s the median random search\n", tv > rv ? "beats" : tv == rv ? "ties" : "loses to");
  lm_ctx_free(ctx);
  return tv >= rv ? 0 : 1;
}

/* lamina tune: hyperparameter search over a built-in C objective (the digits
 * MLP), with a SQLite study file shared by worker processes; --report FILE
 * summarises any study. Model scripts join when the script language lands. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cli.h"
#include "data/csv.h"
#include "tune/digits.h"

static void usage(FILE *f) {
  fprintf(f,
          "usage: lamina tune --example digits --study FILE [--trials N] [--algo tpe|random|grid|ga]\n"
          "                   [--workers K] [--prune median|sha] [--seed S] [--epochs E]\n"
          "                   [--best FILE] [--data digits.csv.gz]\n"
          "       lamina tune --report FILE\n\n"
          "Tunes the digits MLP (Dense(units, relu) -> Dense(10, softmax)): units, learning\n"
          "rate and optimiser, maximising val_acc on a 60/20/20 split; prints a row per trial,\n"
          "then the best parameters and their test accuracy. K workers share the study file;\n"
          "running the command again resumes the study up to N trials in all.\n");
}


/* ---- the command ---- */

typedef struct tune_args {
  const char *example, *study, *report, *best, *data;
  int trials, workers, epochs;
  lm_tune_algo algo;
  lm_prune_kind prune;
  uint64_t seed;
} tune_args;

static int parse_int(const char *flag, const char *v, int lo, int hi, int *out) {
  char *end;
  errno = 0;
  long x = v ? strtol(v, &end, 10) : 0;
  if (!v || errno || *end || x < lo || x > hi) {
    fprintf(stderr, "lamina tune: %s needs a whole number in [%d, %d]\n", flag, lo, hi);
    return 2;
  }
  *out = (int)x;
  return 0;
}

static int parse_args(int argc, char **argv, tune_args *a) {
  for (int i = 1; i < argc; i++) {
    const char *f = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
    int seed = 0, rc = 0;
    if (strcmp(f, "--help") == 0 || strcmp(f, "-h") == 0) {
      usage(stdout);
      return -1;
    }
    if (f[0] != '-') {
      fprintf(stderr, "lamina tune: model scripts are not supported yet ('%s'); use --example "
              "digits\n", f);
      return 2;
    }
    if (!v) {
      fprintf(stderr, "lamina tune: %s needs a value\n", f);
      return 2;
    }
    i++;
    if (strcmp(f, "--example") == 0) a->example = v;
    else if (strcmp(f, "--study") == 0) a->study = v;
    else if (strcmp(f, "--report") == 0) a->report = v;
    else if (strcmp(f, "--best") == 0) a->best = v;
    else if (strcmp(f, "--data") == 0) a->data = v;
    else if (strcmp(f, "--trials") == 0) rc = parse_int(f, v, 1, 1000000, &a->trials);
    else if (strcmp(f, "--workers") == 0) rc = parse_int(f, v, 1, 64, &a->workers);
    else if (strcmp(f, "--epochs") == 0) rc = parse_int(f, v, 1, 1000, &a->epochs);
    else if (strcmp(f, "--seed") == 0) {
      rc = parse_int(f, v, 0, 2147483647, &seed);
      a->seed = (uint64_t)seed;
    } else if (strcmp(f, "--algo") == 0) {
      static const char *const names[4] = {"random", "grid", "tpe", "ga"};
      int k = 0;
      while (k < 4 && strcmp(v, names[k]) != 0) k++;
      if (k == 4) {
        fprintf(stderr, "lamina tune: --algo must be tpe, random, grid or ga, not '%s'\n", v);
        return 2;
      }
      a->algo = (lm_tune_algo)k;
    } else if (strcmp(f, "--prune") == 0) {
      if (strcmp(v, "median") == 0) a->prune = LM_PRUNE_MEDIAN;
      else if (strcmp(v, "sha") == 0) a->prune = LM_PRUNE_SHA;
      else if (strcmp(v, "none") == 0) a->prune = LM_PRUNE_NONE;
      else {
        fprintf(stderr, "lamina tune: --prune must be median, sha or none, not '%s'\n", v);
        return 2;
      }
    } else {
      fprintf(stderr, "lamina tune: unknown option '%s'\n", f);
      return 2;
    }
    if (rc) return rc;
  }
  return 0;
}

static int report(const char *path) {
  lm_ctx *ctx = lm_ctx_new(NULL, NULL);
  if (!ctx) return 1;
  lm_study *st = lm_study_load(ctx, path);
  if (!st) {
    fprintf(stderr, "lamina: %s\n", lm_errmsg(ctx));
    lm_ctx_free(ctx);
    return 1;
  }
  int n = lm_study_n_trials(st), counts[LM_TRIAL_ABANDONED + 1] = {0};
  printf("study %s: %d trials (%s)\n%6s  %-9s %12s  %s\n", path, n,
         lm_study_maximize(st) ? "maximise" : "minimise", "trial", "status", "value", "params");
  for (int i = 0; i < n; i++) {
    int number;
    lm_trial_status status;
    double value;
    char params[512];
    if (lm_study_trial(st, i, &number, &status, &value, params, sizeof params)) break;
    counts[status]++;
    printf("%6d  %-9s %12.6g  %s\n", number, lm_trial_status_name(status), value, params);
  }
  printf("complete %d, pruned %d, failed %d, running %d, abandoned %d\n",
         counts[LM_TRIAL_COMPLETE], counts[LM_TRIAL_PRUNED], counts[LM_TRIAL_FAILED],
         counts[LM_TRIAL_RUNNING], counts[LM_TRIAL_ABANDONED]);
  double best;
  char params[512];
  int b = lm_study_best(st, &best, params, sizeof params);
  if (b >= 0) printf("best: trial %d value %.6g  %s\n", b, best, params);
  else printf("best: no complete trial yet\n");
  lm_study_free(st);
  lm_ctx_free(ctx);
  return 0;
}

static lm_study *open_digits_study(lm_ctx *ctx, const tune_args *a, lm_space **space) {
  *space = lmtu_digits_space(ctx);
  if (!*space) return NULL;
  lm_tune_opts o = LM_TUNE_DEFAULTS;
  o.algo = a->algo;
  o.seed = a->seed;
  o.maximize = true;
  o.verbose = 1;
  o.prune = a->prune;
  o.tpe_startup = 10; /* a 30-trial budget: Hyperopt's 20 leaves TPE too few trials */
  o.grid_points = 4;
  return lm_study_open(ctx, *space, a->study, &o);
}

/* One worker: its own context, data and connection to the study. */
static int run_worker(const tune_args *a, const char *data_path) {
  lm_ctx *ctx = lm_ctx_new(NULL, NULL);
  if (!ctx) return 1;
  lm_ctx_set_threads(ctx, 1); /* small matrices; workers share the cores */
  lmtu_digits d = {.ctx = ctx, .epochs = a->epochs};
  lm_space *space = NULL;
  lm_study *st = NULL;
  int rc = 1;
  if (lmtu_digits_load(&d, data_path)) goto done;
  st = open_digits_study(ctx, a, &space);
  if (!st || lm_study_optimize(st, a->trials, lmtu_digits_objective, &d)) goto done;
  rc = 0;
done:
  if (rc) fprintf(stderr, "lamina tune: %s\n", lm_errmsg(ctx));
  lm_study_free(st);
  lm_space_free(space);
  lm_ctx_free(ctx);
  return rc;
}

/* Retrains the best parameters and measures them on the test split. */
static int finish(const tune_args *a, const char *data_path) {
  lm_ctx *ctx = lm_ctx_new(NULL, NULL);
  if (!ctx) return 1;
  lm_ctx_set_log(ctx, NULL, NULL);
  lm_ctx_set_threads(ctx, 1);
  lmtu_digits d = {.ctx = ctx, .epochs = a->epochs};
  lm_space *space = NULL;
  lm_study *st = NULL;
  lm_model *m = NULL;
  int rc = 1;
  if (lmtu_digits_load(&d, data_path)) goto done;
  st = open_digits_study(ctx, a, &space);
  if (!st) goto done;
  double best;
  char params[512];
  int b = lm_study_best(st, &best, params, sizeof params);
  if (b < 0) {
    fprintf(stderr, "lamina tune: no complete trial in %s\n", a->study);
    goto done;
  }
  /* decode "units=64 lr=0.001 optimizer=adam" */
  int units = 64;
  double lr = 0.001, val;
  char optim[32] = "adam";
  for (char *p = params; p && *p; p = strchr(p, ' ') ? strchr(p, ' ') + 1 : NULL) {
    if (strncmp(p, "units=", 6) == 0) units = atoi(p + 6);
    else if (strncmp(p, "lr=", 3) == 0) lr = strtod(p + 3, NULL);
    else if (strncmp(p, "optimizer=", 10) == 0) sscanf(p + 10, "%31[a-z]", optim);
  }
  m = lmtu_digits_model(ctx, units, optim, lr);
  if (!m || lmtu_digits_fit(&d, m, NULL, &val)) goto done;
  lm_data tx = {1, &d.x[2], NULL}, ty = {1, &d.y[2], NULL};
  double logs[2];
  if (lm_model_evaluate(m, &tx, &ty, 32, 0, logs)) goto done;
  printf("best: trial %d val_acc %.4f  %s\ntest_acc %.4f (retrained with the best parameters)\n",
         b, best, params, logs[1]);
  if (a->best) {
    FILE *f = fopen(a->best, "w");
    if (!f || fprintf(f, "%s\n", params) < 0 || fclose(f) != 0) {
      fprintf(stderr, "lamina tune: cannot write %s\n", a->best);
      goto done;
    }
  }
  rc = 0;
done:
  if (rc && lm_errcode(ctx)) fprintf(stderr, "lamina tune: %s\n", lm_errmsg(ctx));
  lm_model_free(m);
  lm_study_free(st);
  lm_space_free(space);
  lm_ctx_free(ctx);
  return rc;
}

int lmc_tune(int argc, char **argv) {
  tune_args a = {.trials = 30, .workers = 1, .epochs = 10, .algo = LM_TUNE_TPE};
  int rc = parse_args(argc, argv, &a);
  if (rc) return rc < 0 ? 0 : rc;
  if (a.report) return report(a.report);
  if (!a.example || strcmp(a.example, "digits") != 0 || !a.study) {
    fprintf(stderr, "lamina tune: needs --example digits and --study FILE (or --report FILE)\n\n");
    usage(stderr);
    return 2;
  }
  const char *data = lmtu_digits_find(a.data);
  if (!data) {
    fprintf(stderr, "lamina tune: digits.csv.gz not found; install Debian's python3-sklearn or "
            "pass --data FILE\n");
    return 1;
  }
  if (a.workers == 1) rc = run_worker(&a, data);
  else { /* fork before any thread pool or database handle exists */
    pid_t pids[64];
    int started = 0;
    fflush(NULL);
    for (int k = 0; k < a.workers; k++) {
      pid_t p = fork();
      if (p == 0) _exit(run_worker(&a, data));
      if (p < 0) {
        fprintf(stderr, "lamina tune: fork: %s\n", strerror(errno));
        rc = 1;
        break;
      }
      pids[started++] = p;
    }
    for (int k = 0; k < started; k++) {
      int status;
      if (waitpid(pids[k], &status, 0) < 0 || !WIFEXITED(status) || WEXITSTATUS(status)) rc = 1;
    }
  }
  if (rc) return rc;
  return finish(&a, data);
}

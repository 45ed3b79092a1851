/* lamina tune: hyperparameter search over a model script whose values are
 * hp.* (Hyperopt's spelling, src/script/hp.c) or over the built-in digits MLP,
 * with a SQLite study file shared by worker processes; --report FILE
 * summarises any study. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cli.h"
#include "data/csv.h"
#include "script/hp.h"
#include "tune/digits.h"

static void usage(FILE *f) {
  fprintf(f,
          "usage: lamina tune SCRIPT.py --study FILE [--trials N] [--algo tpe|random|grid|ga]\n"
          "                   [--workers K] [--prune median|sha] [--objective val_acc|val_loss|KEY]\n"
          "                   [--direction max|min] [--tpe hyperopt|optuna] [--seed S]\n"
          "                   [--best FILE] [--verbose] [-- SCRIPT ARGS]\n"
          "       lamina tune --example digits --study FILE [same options] [--epochs E]\n"
          "                   [--data digits.csv.gz]\n"
          "       lamina tune --report FILE\n\n"
          "SCRIPT's values written hp.choice('units', [32, 64]), hp.loguniform('lr', np.log(1e-4),\n"
          "0), ... (from lamina import hp, or from hyperopt import hp) are the search space; each\n"
          "trial runs the script with one set of values and takes the objective (a key of fit's\n"
          "logs, default val_acc; direction from its name unless given) at the last epoch run.\n"
          "Every epoch's value goes to the pruner. --example digits tunes the built-in digits MLP\n"
          "and retrains the best on its test split. K workers share the study file; running the\n"
          "command again resumes the study up to N trials in all. A row per trial, then the best.\n");
}


/* ---- the command ---- */

typedef struct tune_args {
  const char *example, *study, *report, *best, *data, *script, *objective, *tpe;
  int trials, workers, epochs, direction; /* direction: 0 from the objective's name, 1 max, -1 min */
  bool verbose;
  lm_tune_algo algo;
  lm_prune_kind prune;
  uint64_t seed;
  int script_argc;
  char **script_argv;
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
      if (a->script) {
        fprintf(stderr, "lamina tune: one script at a time ('%s' and '%s')\n", a->script, f);
        return 2;
      }
      a->script = f;
      continue;
    }
    if (strcmp(f, "--") == 0) { /* the rest is the script's sys.argv[1:] */
      a->script_argc = argc - i - 1;
      a->script_argv = argv + i + 1;
      break;
    }
    if (strcmp(f, "--verbose") == 0) {
      a->verbose = true;
      continue;
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
    else if (strcmp(f, "--objective") == 0) a->objective = v;
    else if (strcmp(f, "--direction") == 0) {
      if (strcmp(v, "max") == 0 || strcmp(v, "maximize") == 0) a->direction = 1;
      else if (strcmp(v, "min") == 0 || strcmp(v, "minimize") == 0) a->direction = -1;
      else {
        fprintf(stderr, "lamina tune: --direction must be max or min, not '%s'\n", v);
        return 2;
      }
    } else if (strcmp(f, "--tpe") == 0) {
      if (strcmp(v, "hyperopt") != 0 && strcmp(v, "optuna") != 0) {
        fprintf(stderr, "lamina tune: --tpe must be hyperopt or optuna, not '%s'\n", v);
        return 2;
      }
      a->tpe = v;
    }
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

static lm_tune_opts study_opts(const tune_args *a, bool maximize) {
  lm_tune_opts o = LM_TUNE_DEFAULTS;
  o.algo = a->algo;
  o.seed = a->seed;
  o.maximize = maximize;
  o.verbose = 1;
  o.prune = a->prune;
  o.tpe_startup = 10; /* a 30-trial budget: Hyperopt's 20 leaves TPE too few trials */
  if (a->tpe && strcmp(a->tpe, "optuna") == 0) lm_tune_opts_optuna(&o);
  o.grid_points = 4;
  return o;
}

static lm_study *open_digits_study(lm_ctx *ctx, const tune_args *a, lm_space **space) {
  *space = lmtu_digits_space(ctx);
  if (!*space) return NULL;
  lm_tune_opts o = study_opts(a, true);
  return lm_study_open(ctx, *space, a->study, &o);
}

/* ---- model scripts ---- */

static bool objective_maximize(const tune_args *a) {
  if (a->direction) return a->direction > 0;
  const char *k = a->objective;
  return !(strstr(k, "loss") || strstr(k, "error") || strstr(k, "mse") || strstr(k, "mae"));
}

static void quiet_log(void *ud, const char *text) {
  (void)ud;
  (void)text;
}

typedef struct err_text {
  char buf[2048];
} err_text;

static void keep_err(void *ud, const char *text) {
  err_text *e = ud;
  size_t n = strlen(e->buf);
  snprintf(e->buf + n, sizeof e->buf - n, "%s", text);
}

/* One worker on a script: discover the space, then ask, run, tell. */
static int run_script_worker(const tune_args *a, const char *src, size_t len) {
  lm_ctx *ctx = lm_ctx_new(NULL, NULL);
  if (!ctx) return 1;
  char *argv0[65];
  int argc = 1 + (a->script_argc < 64 ? a->script_argc : 64);
  argv0[0] = (char *)a->script;
  for (int i = 1; i < argc; i++) argv0[i] = a->script_argv[i - 1];
  lms_opts base = {.argc = argc, .argv = argv0};
  char err[4096];
  int rc = 1, failed_in_a_row = 0;
  lm_study *st = NULL;
  lm_space *space = lms_hp_space(ctx, a->script, src, len, &base, err, sizeof err);
  if (!space) {
    fprintf(stderr, "%slamina tune: %s\n", err, lm_errmsg(ctx));
    rc = 2;
    goto out;
  }
  lm_tune_opts o = study_opts(a, objective_maximize(a));
  st = lm_study_open(ctx, space, a->study, &o);
  if (!st) goto done;
  for (;;) {
    lm_trial *t = lm_study_ask(st, a->trials);
    if (!t) {
      if (lm_errcode(ctx)) goto done;
      break;
    }
    lm_ctx *tc = lm_ctx_new(NULL, NULL); /* the trial's models and arrays */
    if (!tc) {
      lm_study_tell(st, t, LM_TRIAL_FAILED, NAN);
      goto done;
    }
    lm_ctx_set_seed(tc, a->seed); /* same initial weights for every trial */
    if (a->workers > 1) lm_ctx_set_threads(tc, 1);
    err_text et = {{0}};
    lms_opts to = base;
    if (!a->verbose) {
      to.out = quiet_log;
      lm_ctx_set_log(tc, quiet_log, NULL);
    }
    to.err = keep_err;
    to.err_ud = &et;
    int number = lm_trial_number(t);
    lms_hp_result r = lms_hp_trial(tc, a->script, src, len, &to, t, space, a->objective);
    lm_ctx_free(tc);
    lm_trial_status status = r.pruned ? LM_TRIAL_PRUNED : LM_TRIAL_COMPLETE;
    if (r.status != LMS_OK || r.epochs == 0) {
      status = LM_TRIAL_FAILED;
      if (r.status == LMS_OK)
        snprintf(et.buf, sizeof et.buf, "%s: the script never ran fit() (an epoch gives the "
                 "objective)\n", a->script);
      fprintf(stderr, "trial %d failed:\n%s", number, et.buf);
    }
    failed_in_a_row = status == LM_TRIAL_FAILED ? failed_in_a_row + 1 : 0;
    if (lm_study_tell(st, t, status, r.value)) goto done;
    if (failed_in_a_row >= 3) {
      fprintf(stderr, "lamina tune: 3 trials in a row failed; stopping this worker\n");
      rc = 1;
      lm_clear_error(ctx);
      goto out;
    }
  }
  rc = 0;
done:
  if (rc && lm_errcode(ctx)) fprintf(stderr, "lamina tune: %s\n", lm_errmsg(ctx));
out:
  lm_study_free(st);
  lm_space_free(space);
  lm_ctx_free(ctx);
  return rc;
}

/* Prints (and writes) the best trial of a script study. */
static int finish_script(const tune_args *a) {
  lm_ctx *ctx = lm_ctx_new(NULL, NULL);
  if (!ctx) return 1;
  lm_study *st = lm_study_load(ctx, a->study);
  int rc = 1;
  double best;
  char params[1024];
  int b = st ? lm_study_best(st, &best, params, sizeof params) : -1;
  if (!st) fprintf(stderr, "lamina tune: %s\n", lm_errmsg(ctx));
  else if (b < 0) fprintf(stderr, "lamina tune: no complete trial in %s\n", a->study);
  else {
    printf("best: trial %d %s %.6g  %s\n", b, a->objective, best, params);
    rc = 0;
    if (a->best) {
      FILE *f = fopen(a->best, "w");
      if (!f || fprintf(f, "%s\n", params) < 0 || fclose(f) != 0) {
        fprintf(stderr, "lamina tune: cannot write %s\n", a->best);
        rc = 1;
      }
    }
  }
  lm_study_free(st);
  lm_ctx_free(ctx);
  return rc;
}

/* Runs fn(a, ud...) in K forked workers (or in this process for one). */
static int run_workers(const tune_args *a, int (*fn)(const tune_args *, const void *, size_t),
                       const void *p, size_t n) {
  if (a->workers == 1) return fn(a, p, n);
  pid_t pids[64]; /* fork before any thread pool or database handle exists */
  int started = 0, rc = 0;
  fflush(NULL);
  for (int k = 0; k < a->workers; k++) {
    pid_t pid = fork();
    if (pid == 0) _exit(fn(a, p, n));
    if (pid < 0) {
      fprintf(stderr, "lamina tune: fork: %s\n", strerror(errno));
      rc = 1;
      break;
    }
    pids[started++] = pid;
  }
  for (int k = 0; k < started; k++) {
    int status;
    if (waitpid(pids[k], &status, 0) < 0 || !WIFEXITED(status)) rc = 1;
    else if (WEXITSTATUS(status) && !rc) rc = WEXITSTATUS(status);
  }
  return rc;
}

static int script_worker_fn(const tune_args *a, const void *p, size_t n) {
  return run_script_worker(a, p, n);
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

static int digits_worker_fn(const tune_args *a, const void *p, size_t n) {
  (void)n;
  return run_worker(a, p);
}

int lmc_tune(int argc, char **argv) {
  tune_args a = {.trials = 30, .workers = 1, .epochs = 10, .algo = LM_TUNE_TPE,
                 .objective = "val_acc"};
  int rc = parse_args(argc, argv, &a);
  if (rc) return rc < 0 ? 0 : rc;
  if (a.report) return report(a.report);
  if (a.script && a.study && !a.example) {
    lm_ctx *ctx = lm_ctx_new(NULL, NULL);
    char *src = NULL;
    size_t len = 0;
    if (!ctx || lm_read_file(ctx, a.script, &src, &len) != LM_OK) {
      fprintf(stderr, "lamina tune: %s\n", ctx ? lm_errmsg(ctx) : "out of memory");
      lm_ctx_free(ctx);
      return 1;
    }
    rc = run_workers(&a, script_worker_fn, src, len);
    lm_dealloc(ctx, src);
    lm_ctx_free(ctx);
    return rc ? rc : finish_script(&a);
  }
  if (!a.example || strcmp(a.example, "digits") != 0 || !a.study || a.script) {
    fprintf(stderr, "lamina tune: needs SCRIPT or --example digits, and --study FILE (or "
            "--report FILE)\n\n");
    usage(stderr);
    return 2;
  }
  const char *data = lmtu_digits_find(a.data);
  if (!data) {
    fprintf(stderr, "lamina tune: digits.csv.gz not found; install Debian's python3-sklearn or "
            "pass --data FILE\n");
    return 1;
  }
  rc = run_workers(&a, digits_worker_fn, data, 0);
  if (rc) return rc;
  return finish(&a, data);
}

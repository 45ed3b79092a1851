/* Regret of lamina's tuners on Branin, Hartmann6 and the mixed conditional
 * toy of ../shared/reference/hyperparameter-optimization.md (section 4).
 *
 *   bench_tune [n_seeds=20] [n_trials=100] [first_seed=0] [--per-seed]
 *
 * Prints a Markdown table: median regret [25 %, 75 %] after 10/20/50/100
 * trials per algorithm, seeds first_seed.. first_seed+n_seeds-1; --per-seed
 * adds one JSON line per row with every seed's regrets (to stderr). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "lamina.h"

#define BRANIN_OPT 0.397887357729738
#define H6_OPT (-3.32236801141551)

static double branin(double x1, double x2) {
  const double pi = 3.14159265358979323846;
  double b = 5.1 / (4 * pi * pi), c = 5 / pi, t = 1 / (8 * pi);
  double u = x2 - b * x1 * x1 + c * x1 - 6;
  return u * u + 10 * (1 - t) * cos(x1) + 10;
}

static double hartmann6(const double *x) {
  static const double al[4] = {1.0, 1.2, 3.0, 3.2};
  static const double A[4][6] = {{10, 3, 17, 3.5, 1.7, 8}, {0.05, 10, 17, 0.1, 8, 14},
                                 {3, 3.5, 1.7, 10, 17, 8}, {17, 8, 0.05, 10, 0.1, 14}};
  static const double P[4][6] = {{1312, 1696, 5569, 124, 8283, 5886},
                                 {2329, 4135, 8307, 3736, 1004, 9991},
                                 {2348, 1451, 3522, 2883, 3047, 6650},
                                 {4047, 8828, 8732, 5743, 1091, 381}};
  double s = 0;
  for (int i = 0; i < 4; i++) {
    double e = 0;
    for (int j = 0; j < 6; j++) e += A[i][j] * (x[j] - 1e-4 * P[i][j]) * (x[j] - 1e-4 * P[i][j]);
    s += al[i] * exp(-e);
  }
  return -s;
}

enum { F_BRANIN, F_H6, F_TOY, N_FUN };
static const char *const fun_names[N_FUN] = {"Branin", "Hartmann6", "Toy"};

static lm_status objective(lm_trial *t, void *ud, double *value) {
  int f = *(int *)ud;
  if (f == F_BRANIN) {
    *value = branin(lm_trial_float(t, "x1"), lm_trial_float(t, "x2"));
  } else if (f == F_H6) {
    double x[6];
    char name[4];
    for (int i = 0; i < 6; i++) {
      snprintf(name, sizeof name, "x%d", i);
      x[i] = lm_trial_float(t, name);
    }
    *value = hartmann6(x);
  } else {
    double lr = lm_trial_float(t, "lr"), units = lm_trial_float(t, "units");
    const char *opt = lm_trial_str(t, "opt");
    double v = (log10(lr) + 2.5) * (log10(lr) + 2.5) + ((units - 96) / 64) * ((units - 96) / 64);
    if (strcmp(opt, "sgd") == 0) v += 0.5;
    else if (strcmp(opt, "momentum") == 0) {
      double beta = lm_trial_float(t, "beta");
      v += 0.2 + (beta - 0.9) * (beta - 0.9);
    }
    *value = v;
  }
  return LM_OK;
}

static lm_space *make_space(lm_ctx *ctx, int f) {
  lm_space *s = lm_space_new(ctx);
  if (f == F_BRANIN) {
    lm_space_uniform(s, "x1", -5, 10);
    lm_space_uniform(s, "x2", 0, 15);
  } else if (f == F_H6) {
    char name[4];
    for (int i = 0; i < 6; i++) {
      snprintf(name, sizeof name, "x%d", i);
      lm_space_uniform(s, name, 0, 1);
    }
  } else {
    static const char *const opts[3] = {"sgd", "momentum", "adam"};
    lm_space_loguniform(s, "lr", 1e-5, 1);
    lm_space_quniform(s, "units", 8, 256, 8);
    int o = lm_space_choice(s, "opt", 3, opts);
    int b = lm_space_uniform(s, "beta", 0, 0.99);
    lm_space_only_if(s, b, o, 1);
  }
  return s;
}

typedef struct algo {
  const char *name;
  lm_tune_algo algo;
  int optuna_like; /* 1: Optuna's startup and split, Hyperopt's model; 2: lm_tune_opts_optuna */
} algo;

static const algo algos[] = {
    {"random", LM_TUNE_RANDOM, 0},
    {"grid", LM_TUNE_GRID, 0},
    {"tpe (Hyperopt defaults)", LM_TUNE_TPE, 0},
    {"tpe (startup 10, gamma 0.1 N)", LM_TUNE_TPE, 1},
    {"tpe (Optuna 3.1 preset)", LM_TUNE_TPE, 2},
    {"ga", LM_TUNE_GA, 0},
};

static int cmp_double(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

static double pct(double *v, int n, double q) {
  qsort(v, (size_t)n, sizeof *v, cmp_double);
  double pos = q * (n - 1);
  int i = (int)pos;
  return i + 1 < n ? v[i] + (pos - i) * (v[i + 1] - v[i]) : v[n - 1];
}

int main(int argc, char **argv) {
  int per_seed = argc > 1 && strcmp(argv[argc - 1], "--per-seed") == 0;
  if (per_seed) argc--;
  int n_seeds = argc > 1 ? atoi(argv[1]) : 20, n_trials = argc > 2 ? atoi(argv[2]) : 100;
  int first_seed = argc > 3 ? atoi(argv[3]) : 0;
  if (n_seeds < 1 || n_trials < 1 || first_seed < 0) {
    fprintf(stderr, "usage: bench_tune [n_seeds] [n_trials] [first_seed] [--per-seed]\n");
    return 2;
  }
  static const int ck[4] = {10, 20, 50, 100};
  const double fopt[N_FUN] = {BRANIN_OPT, H6_OPT, 0.0};
  double *reg = malloc(sizeof(double) * (size_t)n_seeds * 4), col[4][256];
  if (!reg || n_seeds > 256) {
    fprintf(stderr, "bench_tune: at most 256 seeds\n");
    free(reg);
    return 1;
  }
  printf("| function | algorithm | N=10 | N=20 | N=50 | N=100 | s/run |\n|---|---|---|---|---|---|---|\n");
  for (int f = 0; f < N_FUN; f++) {
    for (size_t a = 0; a < sizeof algos / sizeof *algos; a++) {
      clock_t c0 = clock();
      int max_n = 0;
      for (int seed = 0; seed < n_seeds; seed++) {
        lm_ctx *ctx = lm_ctx_new(NULL, NULL);
        lm_space *sp = make_space(ctx, f);
        lm_tune_opts o = LM_TUNE_DEFAULTS;
        o.algo = algos[a].algo;
        o.seed = (uint64_t)(first_seed + seed);
        if (algos[a].optuna_like == 1) {
          o.tpe_startup = 10;
          o.tpe_gamma = 0.1;
          o.tpe_gamma_linear = true;
        } else if (algos[a].optuna_like == 2) {
          lm_tune_opts_optuna(&o);
        }
        /* grids: k^d points (Branin 10x10, Hartmann6 2^6, toy 3 per continuous axis) */
        o.grid_points = f == F_BRANIN ? 10 : f == F_H6 ? 2 : 3;
        lm_study *st = lm_study_open(ctx, sp, NULL, &o);
        int ff = f;
        if (!st || lm_study_optimize(st, n_trials, objective, &ff)) {
          fprintf(stderr, "bench_tune: %s\n", lm_errmsg(ctx));
          lm_ctx_free(ctx);
          free(reg);
          return 1;
        }
        int n = lm_study_n_trials(st);
        double best = INFINITY;
        if (n > max_n) max_n = n;
        for (int i = 0, c = 0; i < n_trials && c < 4; i++) {
          double v = NAN;
          if (i < n) lm_study_trial(st, i, NULL, NULL, &v, NULL, 0);
          if (v < best) best = v;
          while (c < 4 && ck[c] == i + 1) reg[seed * 4 + c++] = best - fopt[f];
        }
        lm_study_free(st);
        lm_space_free(sp);
        lm_ctx_free(ctx);
      }
      double secs = (double)(clock() - c0) / CLOCKS_PER_SEC / n_seeds;
      if (per_seed) {
        fprintf(stderr, "{\"fn\": \"%s\", \"algo\": \"%s\", \"first_seed\": %d, \"regrets\": [",
                fun_names[f], algos[a].name, first_seed);
        for (int sd = 0; sd < n_seeds; sd++) {
          fprintf(stderr, "%s[", sd ? ", " : "");
          for (int c = 0; c < 4; c++) fprintf(stderr, "%s%.17g", c ? ", " : "", reg[sd * 4 + c]);
          fprintf(stderr, "]");
        }
        fprintf(stderr, "]}\n");
      }
      printf("| %s | %s", fun_names[f], algos[a].name);
      for (int c = 0; c < 4; c++) {
        if (ck[c] > n_trials) {
          printf(" | -");
          continue;
        }
        for (int s = 0; s < n_seeds; s++) col[c][s] = reg[s * 4 + c];
        double q1 = pct(col[c], n_seeds, 0.25), q2 = pct(col[c], n_seeds, 0.5),
               q3 = pct(col[c], n_seeds, 0.75);
        if (algos[a].algo == LM_TUNE_GRID && ck[c] > max_n) printf(" | (grid of %d)", max_n);
        else printf(" | %.3g [%.3g, %.3g]", q2, q1, q3);
      }
      printf(" | %.3f |\n", secs);
      fflush(stdout);
    }
  }
  free(reg);
  return 0;
}

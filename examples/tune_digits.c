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
#include "lamina.h"

typedef struct digits {
  lm_ctx *ctx;
  lm_tensor *x[3], *y[3]; /* train, validation, test */
  int epochs;
} digits;

static const char *const units_opts[5] = {"16", "32", "64", "128", "256"};
static const char *const optim_opts[3] = {"sgd", "rmsprop", "adam"};

static lm_space *digits_space(lm_ctx *ctx) {
  lm_space *s = lm_space_new(ctx);
  if (lm_space_choice(s, "units", 5, units_opts) < 0 ||
      lm_space_loguniform(s, "lr", 1e-5, 1.0) < 0 ||
      lm_space_choice(s, "optimizer", 3, optim_opts) < 0) {
    lm_space_free(s);
    return NULL;
  }
  return s;
}

static void shuffle_rows(float *rows, int64_t n, int64_t cols, uint64_t seed) {
  float tmp[256];
  for (int64_t i = n - 1; i > 0; i--) {
    seed = seed * 6364136223846793005ULL + 1442695040888963407ULL;
    int64_t j = (int64_t)((seed >> 33) % (uint64_t)(i + 1));
    memcpy(tmp, rows + i * cols, sizeof(float) * (size_t)cols);
    memcpy(rows + i * cols, rows + j * cols, sizeof(float) * (size_t)cols);
    memcpy(rows + j * cols, tmp, sizeof(float) * (size_t)cols);
  }
}

static const char *find_digits(const char *given) {
  static const char *const candidates[] = {
      "/usr/lib/python3/dist-packages/sklearn/datasets/data/digits.csv.gz",
      "../shared/data/digits/digits.csv.gz", "../../shared/data/digits/digits.csv.gz"};
  if (given) return given;
  const char *env = getenv("LAMINA_DIGITS");
  if (env) return env;
  for (size_t i = 0; i < sizeof candidates / sizeof *candidates; i++)
    if (access(candidates[i], R_OK) == 0) return candidates[i];
  return NULL;
}

static lm_status digits_load(digits *d, const char *path) {
  lm_tensor *t = lmd_load_csv(d->ctx, path, ',', 0);
  if (!t) return lm_errcode(d->ctx);
  int64_t n = lm_tensor_dim(t, 0), cols = lm_tensor_dim(t, 1);
  if (cols != 65 || n < 10) {
    lm_tensor_free(t);
    return lm_fail(d->ctx, LM_ERR_FORMAT, "%s: expected 65 columns (64 pixels and a label)", path);
  }
  shuffle_rows(lm_tensor_f32(t), n, cols, 7);
  int64_t cut[4] = {0, n * 6 / 10, n * 8 / 10, n};
  for (int s = 0; s < 3; s++) {
    int64_t m = cut[s + 1] - cut[s], xs[2] = {m, 64}, ys[1] = {m};
    d->x[s] = lm_tensor_new(d->ctx, LM_FLOAT32, 2, xs);
    d->y[s] = lm_tensor_new(d->ctx, LM_INT32, 1, ys);
    if (!d->x[s] || !d->y[s]) {
      lm_tensor_free(t);
      return lm_errcode(d->ctx);
    }
    for (int64_t i = 0; i < m; i++) {
      const float *row = lm_tensor_f32(t) + (cut[s] + i) * 65;
      for (int j = 0; j < 64; j++) lm_tensor_f32(d->x[s])[i * 64 + j] = row[j] / 16.0f;
      lm_tensor_i32(d->y[s])[i] = (int32_t)row[64];
    }
  }
  lm_tensor_free(t);
  return LM_OK;
}

/* Builds and compiles the MLP; NULL + error in the context. */
static lm_model *digits_model(lm_ctx *ctx, int units, const char *optimizer, double lr) {
  lm_ctx_set_seed(ctx, 42); /* same initial weights for every trial */
  lm_ctx_reset_names(ctx);
  int64_t shape[1] = {64};
  lm_sym *in = lm_input(ctx, 1, shape, LM_FLOAT32, NULL);
  lm_sym *h = lm_layer_call(lm_layer_dense(ctx, units, &(lm_dense_opts){.activation = "relu"}), in);
  lm_sym *out = lm_layer_call(lm_layer_dense(ctx, 10, &(lm_dense_opts){.activation = "softmax"}), h);
  lm_model *m = lm_model_new(ctx, 1, &in, 1, &out, NULL);
  lm_optimizer *opt = m ? lm_optimizer_by_name(ctx, optimizer) : NULL;
  if (!opt) {
    lm_model_free(m);
    return NULL;
  }
  lm_optimizer_set_lr(opt, (float)lr);
  const char *loss = "sparse_categorical_crossentropy", *metric = "acc";
  lm_compile_opts co = {.optimizer = opt, .n_losses = 1, .losses = &loss, .n_metrics = 1,
                        .metrics = &metric};
  if (lm_model_compile(m, &co)) {
    lm_model_free(m);
    return NULL;
  }
  return m;
}

/* Trains epoch by epoch so the pruner sees every val_acc; returns the last. */
static lm_status digits_fit(digits *d, lm_model *m, lm_trial *t, double *val_acc) {
  lm_data dx = {1, &d->x[0], NULL}, dy = {1, &d->y[0], NULL};
  lm_data vx = {1, &d->x[1], NULL}, vy = {1, &d->y[1], NULL};
  for (int e = 0; e < d->epochs; e++) {
    lm_fit_opts fo = LM_FIT_DEFAULTS;
    fo.verbose = 0;
    fo.epochs = e + 1;
    fo.initial_epoch = e;
    fo.val_x = &vx;
    fo.val_y = &vy;
    lm_history *h = lm_model_fit(m, &dx, &dy, &fo);
    if (!h) return lm_errcode(d->ctx);
    const double *acc = lm_history_get(h, "val_acc");
    *val_acc = acc ? acc[lm_history_n_epochs(h) - 1] : NAN;
    lm_history_free(h);
    if (t && lm_trial_report(t, e + 1, *val_acc)) break;
  }
  return LM_OK;
}

static lm_status digits_objective(lm_trial *t, void *ud, double *value) {
  digits *d = ud;
  lm_model *m = digits_model(d->ctx, (int)lm_trial_int(t, "units"), lm_trial_str(t, "optimizer"),
                             lm_trial_float(t, "lr"));
  if (!m) return lm_errcode(d->ctx);
  lm_status s = digits_fit(d, m, t, value);
  lm_model_free(m);
  return s;
}


static int cmp_d(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

/* One search: returns the best val_acc and writes the test accuracy of the
 * best trial's model (retrained) into *test_acc. */
static double search(digits *d, lm_tune_algo algo, uint64_t seed, int n_trials, double *test_acc) {
  lm_space *space = digits_space(d->ctx);
  lm_tune_opts o = LM_TUNE_DEFAULTS;
  o.algo = algo;
  o.seed = seed;
  o.maximize = true;
  o.tpe_startup = 10; /* of 30 trials; Hyperopt's 20 would leave TPE 10 */
  lm_study *st = space ? lm_study_open(d->ctx, space, NULL, &o) : NULL;
  double best = NAN;
  *test_acc = NAN;
  if (!st || lm_study_optimize(st, n_trials, digits_objective, d)) {
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
    lm_model *m = digits_model(d->ctx, units, optim, lr);
    double logs[2];
    lm_data tx = {1, &d->x[2], NULL}, ty = {1, &d->y[2], NULL};
    if (m && !digits_fit(d, m, NULL, &val) && !lm_model_evaluate(m, &tx, &ty, 32, 0, logs))
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
  const char *path = find_digits(argc > 3 ? argv[3] : NULL);
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
  digits d = {.ctx = ctx, .epochs = 10};
  if (digits_load(&d, path)) {
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

/* The digits tuning objective (see digits.h). */
#include "tune/digits.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "data/csv.h"

static const char *const units_opts[5] = {"16", "32", "64", "128", "256"};
static const char *const optim_opts[3] = {"sgd", "rmsprop", "adam"};

lm_space *lmtu_digits_space(lm_ctx *ctx) {
  lm_space *s = lm_space_new(ctx);
  if (lm_space_choice(s, "units", 5, units_opts) < 0 ||
      lm_space_loguniform(s, "lr", 1e-5, 1.0) < 0 ||
      lm_space_choice(s, "optimizer", 3, optim_opts) < 0) {
    lm_space_free(s);
    return NULL;
  }
  return s;
}

void lmtu_shuffle_rows(float *rows, int64_t n, int64_t cols, uint64_t seed) {
  float tmp[256];
  for (int64_t i = n - 1; i > 0; i--) {
    seed = seed * 6364136223846793005ULL + 1442695040888963407ULL;
    int64_t j = (int64_t)((seed >> 33) % (uint64_t)(i + 1));
    memcpy(tmp, rows + i * cols, sizeof(float) * (size_t)cols);
    memcpy(rows + i * cols, rows + j * cols, sizeof(float) * (size_t)cols);
    memcpy(rows + j * cols, tmp, sizeof(float) * (size_t)cols);
  }
}

const char *lmtu_digits_find(const char *given) {
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

lm_status lmtu_digits_load(lmtu_digits *d, const char *path) {
  lm_tensor *t = lmd_load_csv(d->ctx, path, ',', 0);
  if (!t) return lm_errcode(d->ctx);
  int64_t n = lm_tensor_dim(t, 0), cols = lm_tensor_dim(t, 1);
  if (cols != 65 || n < 10) {
    lm_tensor_free(t);
    return lm_fail(d->ctx, LM_ERR_FORMAT, "%s: expected 65 columns (64 pixels and a label)", path);
  }
  lmtu_shuffle_rows(lm_tensor_f32(t), n, cols, 7);
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
lm_model *lmtu_digits_model(lm_ctx *ctx, int units, const char *optimizer, double lr) {
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
lm_status lmtu_digits_fit(lmtu_digits *d, lm_model *m, lm_trial *t, double *val_acc) {
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

lm_status lmtu_digits_objective(lm_trial *t, void *ud, double *value) {
  lmtu_digits *d = ud;
  lm_model *m = lmtu_digits_model(d->ctx, (int)lm_trial_int(t, "units"), lm_trial_str(t, "optimizer"),
                             lm_trial_float(t, "lr"));
  if (!m) return lm_errcode(d->ctx);
  lm_status s = lmtu_digits_fit(d, m, t, value);
  lm_model_free(m);
  return s;
}


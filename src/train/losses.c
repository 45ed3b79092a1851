/* Keras losses (keras/losses.py, TF backend) composed from fine ops, so
 * their gradients follow Keras' clipping exactly; and the metrics. */
#include <math.h>
#include <string.h>

#include "ops/ops.h"
#include "train/train.h"

#define LMT_EPS 1e-7f

static const struct {
  const char *name;
  int kind;
} loss_names[] = {
    {"mse", LMT_MSE},
    {"mean_squared_error", LMT_MSE},
    {"MSE", LMT_MSE},
    {"mae", LMT_MAE},
    {"mean_absolute_error", LMT_MAE},
    {"MAE", LMT_MAE},
    {"categorical_crossentropy", LMT_CCE},
    {"sparse_categorical_crossentropy", LMT_SCCE},
    {"binary_crossentropy", LMT_BCE},
};

int lmt_loss_parse(const char *name) {
  if (!name) return -1;
  for (size_t i = 0; i < sizeof loss_names / sizeof *loss_names; i++)
    if (strcmp(loss_names[i].name, name) == 0) return loss_names[i].kind;
  return -1;
}

const char *lmt_loss_name(int kind) {
  static const char *const n[] = {"mean_squared_error", "mean_absolute_error",
                                  "categorical_crossentropy", "sparse_categorical_crossentropy",
                                  "binary_crossentropy"};
  return kind >= 0 && kind < LMT_N_LOSS ? n[kind] : "?";
}

static unsigned last_axis(lmg_graph *g, int node) {
  return 1u << (lmg_at(g, node)->ndim - 1);
}

int lmt_loss_build(lmg_graph *g, int kind, int y_true, int y_pred) {
  if (y_true < 0 || y_pred < 0) return -1;
  switch (kind) {
  case LMT_MSE: {
    int d = lmo_binary(g, LMO_SUB, y_pred, y_true);
    return lmo_reduce(g, LMO_MEAN, lmo_unary(g, LMO_SQUARE, d), 0, false);
  }
  case LMT_MAE: {
    int d = lmo_binary(g, LMO_SUB, y_pred, y_true);
    return lmo_reduce(g, LMO_MEAN, lmo_unary(g, LMO_ABS, d), 0, false);
  }
  case LMT_CCE: {
    /* p = y_pred / sum(y_pred, -1); clip; -sum(y_true * log p, -1); batch mean */
    unsigned ax = last_axis(g, y_pred);
    int s = lmo_reduce(g, LMO_SUM, y_pred, ax, true);
    int p = lmo_clip(g, lmo_binary(g, LMO_DIV, y_pred, s), LMT_EPS, 1.0f - LMT_EPS);
    int t = lmo_binary(g, LMO_MUL, y_true, lmo_unary(g, LMO_LOG, p));
    int per = lmo_reduce(g, LMO_SUM, t, ax, false);
    return lmo_affine(g, lmo_reduce(g, LMO_MEAN, per, 0, false), -1.0f, 0.0f);
  }
  case LMT_SCCE: {
    /* TF backend: sparse_softmax_cross_entropy_with_logits(log(clip(p))), so
     * the clipped probabilities are renormalised before the pick */
    int p = lmo_clip(g, y_pred, LMT_EPS, 1.0f - LMT_EPS);
    p = lmo_binary(g, LMO_DIV, p, lmo_reduce(g, LMO_SUM, p, last_axis(g, y_pred), true));
    int picked = lmo_take(g, p, y_true);
    int m = lmo_reduce(g, LMO_MEAN, lmo_unary(g, LMO_LOG, picked), 0, false);
    return lmo_affine(g, m, -1.0f, 0.0f);
  }
  case LMT_BCE: {
    /* -(y log p + (1-y) log(1-p)), p clipped; mean over the last axis, then the batch */
    int p = lmo_clip(g, y_pred, LMT_EPS, 1.0f - LMT_EPS);
    int a = lmo_binary(g, LMO_MUL, y_true, lmo_unary(g, LMO_LOG, p));
    int q = lmo_unary(g, LMO_LOG, lmo_affine(g, p, -1.0f, 1.0f));
    int b = lmo_binary(g, LMO_MUL, lmo_affine(g, y_true, -1.0f, 1.0f), q);
    int m = lmo_reduce(g, LMO_MEAN, lmo_binary(g, LMO_ADD, a, b), 0, false);
    return lmo_affine(g, m, -1.0f, 0.0f);
  }
  default:
    lm_fail(g->ctx, LM_ERR_ARG, "unknown loss kind %d", kind);
    return -1;
  }
}

static int64_t argmax(const float *p, int64_t n) {
  int64_t best = 0;
  for (int64_t i = 1; i < n; i++)
    if (p[i] > p[best]) best = i;
  return best;
}

double lmt_metric_value(int kind, const float *y_true, const float *y_pred, int64_t n,
                        int64_t last_dim, int64_t true_last_dim) {
  if (n <= 0) return 0.0;
  int64_t rows = n / (last_dim ? last_dim : 1);
  double acc = 0.0;
  switch (kind) {
  case LMT_BINARY_ACC:
    for (int64_t i = 0; i < n; i++) acc += y_true[i] == rintf(y_pred[i]) ? 1.0 : 0.0;
    return acc / (double)n;
  case LMT_CATEGORICAL_ACC:
    for (int64_t r = 0; r < rows; r++)
      acc += argmax(y_true + r * true_last_dim, true_last_dim) ==
                     argmax(y_pred + r * last_dim, last_dim)
                 ? 1.0
                 : 0.0;
    return acc / (double)rows;
  case LMT_SPARSE_ACC:
    for (int64_t r = 0; r < rows; r++)
      acc += (int64_t)y_true[r * true_last_dim] == argmax(y_pred + r * last_dim, last_dim) ? 1.0
                                                                                           : 0.0;
    return acc / (double)rows;
  case LMT_METRIC_MAE:
    for (int64_t i = 0; i < n; i++) acc += fabs((double)y_pred[i] - (double)y_true[i]);
    return acc / (double)n;
  default:
    for (int64_t i = 0; i < n; i++) {
      double d = (double)y_pred[i] - (double)y_true[i];
      acc += d * d;
    }
    return acc / (double)n;
  }
}

/* Floor 5: compile, losses, metrics, optimizers, the training loop. */
#ifndef LM_TRAIN_H
#define LM_TRAIN_H

#include "model/model.h"

enum lmt_loss_kind { LMT_MSE, LMT_MAE, LMT_CCE, LMT_SCCE, LMT_BCE, LMT_N_LOSS };
enum lmt_metric_kind {
  LMT_BINARY_ACC, LMT_CATEGORICAL_ACC, LMT_SPARSE_ACC, LMT_METRIC_MAE, LMT_METRIC_MSE
};

/* Keras name -> loss kind, -1 if unknown. */
int lmt_loss_parse(const char *name);
const char *lmt_loss_name(int kind);
/* Append the batch-mean loss subgraph; returns the scalar node. */
int lmt_loss_build(lmg_graph *g, int kind, int y_true, int y_pred);
/* Per-batch metric value (mean over the batch) from raw buffers. */
double lmt_metric_value(int kind, const float *y_true, const float *y_pred, int64_t n,
                        int64_t last_dim, int64_t true_last_dim);

/* Optimizer internals. */
struct lm_optimizer {
  lm_obj obj;
  lm_ctx *ctx;
  int kind; /* 0 sgd, 1 rmsprop, 2 adam */
  lm_optimizer_opts o;
  float lr;
  int64_t iterations;
  int n_params;
  int64_t *sizes;
  float **slots; /* n_params * 3: moments / velocities */
  lm_model *owner;
};

lm_status lmt_opt_attach(lm_optimizer *opt, int n, lm_tensor *const *params);
/* Allocate the slots (zeroed) if not yet: before the first step or checkpoint. */
lm_status lmt_opt_ready(lm_optimizer *opt);
void lmt_opt_step(lm_optimizer *opt, int n, lm_tensor *const *params, float *const *grads);

/* The compiled state of a model. */
struct lmt_train {
  lmg_graph g;
  lm_optimizer *opt;
  int n_out;
  int *in_nodes;     /* per model input */
  int *out_nodes;    /* per model output */
  int *target_nodes; /* per output, -1 when the output has no loss */
  int *loss_kind;    /* per output, -1 none */
  float *loss_w;
  int *loss_nodes;   /* per output scalar, -1 none */
  int total_loss;
  int n_metrics_per_out;
  int *metric_kind; /* n_out * n_metrics_per_out */
  int n_names;
  char **names; /* loss, <out>_loss..., metrics */
  bool *mask_train, *mask_eval; /* predict runs on the model's own plan (lmm_infer) */
  int n_params;
  lm_tensor **params;
  int *param_nodes;
  float **grads;
  char *config; /* training config as JSON (saved with the model) */
  int64_t *rows; /* batch index scratch */
  int64_t cap_rows;
  /* [issue 6] callbacks: Keras' model.stop_training, the fit in progress
   * (struct lmt_fit_run, src/train/callbacks.h) and the last train batch's
   * loss being NaN/Inf */
  bool stop_training;
  struct lmt_fit_run *run;
  bool loss_nonfinite;
};

/* Compile from a saved training config (lm_model_load). */
lm_status lmt_compile_from_config(lm_model *m, const char *json, const char *path);

#endif

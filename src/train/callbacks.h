/* Callbacks, training checkpoints and the fit state they read [issue 6]. */
#ifndef LM_CALLBACKS_H
#define LM_CALLBACKS_H

#include "train/train.h"

#define LMT_MAX_LOGS 520 /* 2 x 256 log names (fit), batch, size, lr ... */
struct lm_logs {
  int n;
  char keys[LMT_MAX_LOGS][96];
  double vals[LMT_MAX_LOGS];
};
void lmt_logs_clear(lm_logs *l);

/* The fit in progress, as the checkpoint callback needs to see it. */
typedef struct lmt_fit_run {
  lm_fit_params params;
  int epoch;          /* the epoch running (0-based) */
  bool epoch_done;    /* on_epoch_end: the next batch belongs to epoch + 1 */
  int64_t next_b0;    /* start row (in idx) of the next batch of this epoch */
  int64_t seen;       /* samples of this epoch so far */
  int n_sums;
  double *sums;       /* BaseLogger's running sums */
  int64_t *idx;       /* the training order */
  int64_t n_train;
  lm_callback *const *cbs;
  int n_cbs;
  float resume_lr; /* the optimizer's lr saved in the checkpoint resumed from */
  bool resume_stopped; /* the checkpoint was written after a callback stopped training */
} lmt_fit_run;

/* Write the model's training checkpoint (weights, optimizer, run, RNG, callbacks). */
lm_status lmt_checkpoint_write(lm_model *m, const char *path);
/* Restore everything a checkpoint holds into m and run; *epoch receives the
 * epoch to run next. Refuses a corrupt file before touching anything. */
lm_status lmt_checkpoint_resume(lm_model *m, const char *path, lmt_fit_run *run, int *epoch);

/* Python's repr() of a float (double) and of a numpy float32. */
void lmt_py_repr(double v, char *out, size_t len);
void lmt_py_repr_f32(float v, char *out, size_t len);
/* Python str.format of a ModelCheckpoint filepath with epoch (1-based) and the logs. */
lm_status lmt_format_path(lm_ctx *ctx, const char *tmpl, int epoch, const lm_logs *logs,
                          char *out, size_t out_len);
bool lmt_is_terminate_on_nan(const lm_callback *cb);
/* EarlyStopping(restore_best_weights=True) keeps a copy of the best epoch's
 * weights (all weights in layer order); a training checkpoint carries it.
 * lmt_es_best_weights: that copy (NULL if none yet or not an EarlyStopping
 * that restores) and its length in *n; lmt_es_set_best_weights restores it
 * (LM_ERR_FORMAT when n is not the model's weight count). */
float *lmt_es_best_weights(const lm_callback *cb, int64_t *n);
bool lmt_es_wants_best_weights(const lm_callback *cb);
lm_status lmt_es_set_best_weights(lm_callback *cb, const float *w, int64_t n);

#endif

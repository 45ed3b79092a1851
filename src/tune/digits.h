/* The digits MLP as a tuning objective (Dense(units, relu) -> Dense(10,
 * softmax); units, learning rate, optimiser; val_acc on a 60/20/20 split).
 * Shared by `lamina tune --example digits` and examples/tune_digits.c. */
#ifndef LM_TUNE_DIGITS_H
#define LM_TUNE_DIGITS_H

#include "lamina.h"

typedef struct lmtu_digits {
  lm_ctx *ctx;
  lm_tensor *x[3], *y[3]; /* train, validation, test */
  int epochs;
} lmtu_digits;

lm_space *lmtu_digits_space(lm_ctx *ctx);
void lmtu_shuffle_rows(float *rows, int64_t n, int64_t cols, uint64_t seed);
const char *lmtu_digits_find(const char *given);
lm_status lmtu_digits_load(lmtu_digits *d, const char *path);
lm_model *lmtu_digits_model(lm_ctx *ctx, int units, const char *optimizer, double lr);
lm_status lmtu_digits_fit(lmtu_digits *d, lm_model *m, lm_trial *t, double *val_acc);
lm_status lmtu_digits_objective(lm_trial *t, void *ud, double *value);

#endif

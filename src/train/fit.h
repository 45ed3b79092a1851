/* Internals shared by fit, evaluate, predict, the progress bar and History. */
#ifndef LM_FIT_H
#define LM_FIT_H

#include "train/train.h"

struct lm_history {
  lm_obj obj;
  lm_ctx *ctx;
  int n_keys;
  char **keys;
  double **vals;
  int n_epochs, cap;
};

lm_history *lmt_history_new(lm_ctx *ctx, int n_keys, char *const *keys, const char *prefix2,
                            int n_keys2, char *const *keys2);
lm_status lmt_history_append(lm_history *h, const double *values);
lm_status lmt_history_append_logs(lm_history *h, const lm_logs *logs); /* [issue 6] */

/* Keras 2.2.4 Progbar (samples mode). */
#define LMT_PROGBAR_MAX_KEYS 64
typedef struct lmt_progbar {
  lm_ctx *ctx;
  int64_t target;
  int verbose;
  bool dynamic;
  double start, last_update;
  int64_t seen_so_far;
  int total_width;
  int n_keys;
  char keys[LMT_PROGBAR_MAX_KEYS][96];
  double sum[LMT_PROGBAR_MAX_KEYS], count[LMT_PROGBAR_MAX_KEYS];
} lmt_progbar;

void lmt_progbar_init(lmt_progbar *p, lm_ctx *ctx, int64_t target, int verbose);
/* Accumulate values (weighted by current - seen_so_far), as Progbar.update does. */
void lmt_progbar_add(lmt_progbar *p, int64_t current, int n, char *const *keys,
                     const double *values, const char *prefix);
/* Display (throttled to 50 ms except the final line) and set seen_so_far. */
void lmt_progbar_show(lmt_progbar *p, int64_t current);

#endif

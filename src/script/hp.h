/* hp.* in model scripts, for `lamina tune SCRIPT` (src/script/hp.c).
 *
 * A script spells its search space the Hyperopt way wherever a value stands:
 *     from lamina import hp          # or: from hyperopt import hp
 *     model.add(Dense(hp.choice('units', [32, 64, 128]), activation='relu'))
 *     opt = SGD(lr=hp.loguniform('lr', np.log(1e-4), np.log(1)))
 * lms_hp_space runs the script once without training to collect the space
 * (a choice's options that hold other hp.* values make those conditional);
 * lms_hp_trial runs it with one trial's values, reporting each epoch's
 * objective (a key of fit's logs) to the trial so a pruner can stop fit. */
#ifndef LMS_HP_H
#define LMS_HP_H

#include "script/script.h"

typedef struct lms_hp lms_hp;

/* The space of the script in src (name for messages). NULL with the error
 * report in err (or lm_errmsg(ctx) when err is empty). opts: argv and the
 * error sink; its mode and hp are ignored. */
lm_space *lms_hp_space(lm_ctx *ctx, const char *name, const char *src, size_t len,
                       const lms_opts *opts, char *err, size_t err_len);

typedef struct lms_hp_result {
  int status;     /* LMS_OK, LMS_RUNTIME, LMS_SCRIPT_ERROR */
  double value;   /* the objective at the last epoch run (NaN if fit never ran) */
  int epochs;     /* epochs reported to the trial */
  bool pruned;    /* the pruner stopped fit */
} lms_hp_result;

/* Runs the script with t's values. objective: the fit logs key to report
 * ("val_acc"; "val_accuracy" and "val_acc" stand for each other). The script's
 * models and arrays live on ctx (use a fresh context per trial). */
lms_hp_result lms_hp_trial(lm_ctx *ctx, const char *name, const char *src, size_t len,
                           const lms_opts *opts, lm_trial *t, const lm_space *space,
                           const char *objective);

/* ---- for the interpreter ---- */
struct lms_interp;
struct lms_value;
struct lms_node;
/* fit: adds the trial's reporting callback to fo (no-op outside lamina tune). */
void lms_hp_fit_hook(struct lms_interp *I, lm_fit_opts *fo);
/* Attributes of the modules lamina.hp (hyperopt.hp), math and sklearn.datasets;
 * NULL when module is none of them. */
struct lms_value *lms_hp_module_attr(struct lms_interp *I, const char *module, const char *name,
                                     const struct lms_node *at);

#endif

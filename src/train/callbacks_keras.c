/* keras.callbacks.X(...) by name, with Keras 2.2.4's signatures, positional
 * and keyword arguments and defaults: the bridge for model scripts. */
#include <string.h>

#include "train/callbacks.h"

typedef struct sig {
  const char *cls;
  const char *params[8]; /* Keras' argument order */
} sig;

static const sig sigs[] = {
    {"EarlyStopping",
     {"monitor", "min_delta", "patience", "verbose", "mode", "baseline", "restore_best_weights"}},
    {"ReduceLROnPlateau",
     {"monitor", "factor", "patience", "verbose", "mode", "min_delta", "cooldown", "min_lr"}},
    {"CSVLogger", {"filename", "separator", "append"}},
    {"ModelCheckpoint",
     {"filepath", "monitor", "verbose", "save_best_only", "save_weights_only", "mode", "period"}},
    {"TerminateOnNaN", {NULL}},
};

/* Place every argument at its parameter index; NULL where not given. */
static lm_status bind(lm_ctx *ctx, const sig *s, int n, const lm_kwarg *args,
                      const lm_kwarg **slot) {
  int n_params = 0;
  while (n_params < 8 && s->params[n_params]) n_params++;
  for (int i = 0; i < 8; i++) slot[i] = NULL;
  for (int i = 0; i < n; i++) {
    int k = -1;
    if (!args[i].key) {
      k = i;
      if (k >= n_params)
        return lm_fail(ctx, LM_ERR_ARG, "%s() takes at most %d positional arguments (%d given)",
                       s->cls, n_params, n);
    } else {
      for (int j = 0; j < n_params; j++)
        if (strcmp(s->params[j], args[i].key) == 0) k = j;
      if (k < 0 && strcmp(s->cls, "ReduceLROnPlateau") == 0 && strcmp(args[i].key, "epsilon") == 0)
        k = 5; /* deprecated alias of min_delta */
      if (k < 0)
        return lm_fail(ctx, LM_ERR_ARG, "%s() got an unexpected keyword argument '%s'", s->cls,
                       args[i].key);
      if (slot[k])
        return lm_fail(ctx, LM_ERR_ARG, "%s() got multiple values for argument '%s'", s->cls,
                       s->params[k]);
    }
    slot[k] = &args[i];
  }
  return LM_OK;
}

static lm_status want(lm_ctx *ctx, const sig *s, const lm_kwarg **slot, int k, lm_kwarg_type t) {
  if (!slot[k] || slot[k]->type == t) return LM_OK;
  if (t == LM_KW_NUM && slot[k]->type == LM_KW_BOOL) return LM_OK; /* Python: True == 1 */
  static const char *const names[] = {"None", "a number", "a string", "a bool"};
  return lm_fail(ctx, LM_ERR_ARG, "%s(): %s must be %s, not %s", s->cls, s->params[k], names[t],
                 names[slot[k]->type]);
}

static double num(const lm_kwarg **slot, int k, double dflt) {
  if (!slot[k] || slot[k]->type == LM_KW_NONE) return dflt;
  return slot[k]->type == LM_KW_BOOL ? (double)slot[k]->b : slot[k]->num;
}
static const char *str(const lm_kwarg **slot, int k, const char *dflt) {
  return slot[k] && slot[k]->type == LM_KW_STR ? slot[k]->str : dflt;
}
static bool flag(const lm_kwarg **slot, int k, bool dflt) {
  if (!slot[k] || slot[k]->type == LM_KW_NONE) return dflt;
  return slot[k]->type == LM_KW_BOOL ? slot[k]->b : slot[k]->num != 0;
}

lm_callback *lm_callback_by_name(lm_ctx *ctx, const char *keras_name, int n_args,
                                 const lm_kwarg *args) {
  if (!ctx) return NULL;
  const sig *s = NULL;
  for (size_t i = 0; keras_name && i < sizeof sigs / sizeof *sigs; i++)
    if (strcmp(sigs[i].cls, keras_name) == 0) s = &sigs[i];
  if (!s) {
    lm_fail(ctx, LM_ERR_ARG,
            "keras.callbacks.%s is not available (lamina has EarlyStopping, ReduceLROnPlateau, "
            "CSVLogger, ModelCheckpoint, TerminateOnNaN, LearningRateScheduler and History)",
            keras_name ? keras_name : "(null)");
    return NULL;
  }
  if (n_args < 0 || (n_args > 0 && !args)) {
    lm_fail(ctx, LM_ERR_ARG, "%s(): bad argument list", s->cls);
    return NULL;
  }
  const lm_kwarg *slot[8];
  if (bind(ctx, s, n_args, args, slot)) return NULL;
  /* types: the string parameters, the rest numbers or bools (None allowed where Keras has it) */
  for (int k = 0; k < 8 && s->params[k]; k++) {
    const char *p = s->params[k];
    bool is_str = !strcmp(p, "monitor") || !strcmp(p, "mode") || !strcmp(p, "filename") ||
                  !strcmp(p, "separator") || !strcmp(p, "filepath");
    if (slot[k] && slot[k]->type == LM_KW_NONE && !strcmp(p, "baseline")) continue;
    if (want(ctx, s, slot, k, is_str ? LM_KW_STR : LM_KW_NUM)) return NULL;
  }
  switch (s - sigs) {
    case 0: {
      lm_early_stopping_opts o = {.monitor = str(slot, 0, NULL),
                                  .min_delta = num(slot, 1, 0),
                                  .patience = (int)num(slot, 2, 0),
                                  .verbose = (int)num(slot, 3, 0),
                                  .mode = str(slot, 4, NULL),
                                  .has_baseline = slot[5] && slot[5]->type != LM_KW_NONE,
                                  .baseline = num(slot, 5, 0),
                                  .restore_best_weights = flag(slot, 6, false)};
      return lm_callback_early_stopping(ctx, &o);
    }
    case 1: {
      double min_delta = num(slot, 5, 1e-4);
      lm_reduce_lr_opts o = {.monitor = str(slot, 0, NULL),
                             .factor = num(slot, 1, 0.1),
                             .patience = (int)num(slot, 2, 10),
                             .verbose = (int)num(slot, 3, 0),
                             .mode = str(slot, 4, NULL),
                             .min_delta = min_delta,
                             .no_min_delta = min_delta == 0,
                             .cooldown = (int)num(slot, 6, 0),
                             .min_lr = num(slot, 7, 0)};
      if (slot[1] && o.factor == 0) {
        lm_fail(ctx, LM_ERR_ARG, "ReduceLROnPlateau(): factor must be > 0");
        return NULL;
      }
      return lm_callback_reduce_lr_on_plateau(ctx, &o);
    }
    case 2:
      if (!slot[0]) {
        lm_fail(ctx, LM_ERR_ARG, "CSVLogger() missing 1 required positional argument: 'filename'");
        return NULL;
      }
      return lm_callback_csv_logger(ctx, str(slot, 0, NULL), str(slot, 1, ","),
                                    flag(slot, 2, false));
    case 3: {
      if (!slot[0]) {
        lm_fail(ctx, LM_ERR_ARG,
                "ModelCheckpoint() missing 1 required positional argument: 'filepath'");
        return NULL;
      }
      lm_model_checkpoint_opts o = {.monitor = str(slot, 1, NULL),
                                    .verbose = (int)num(slot, 2, 0),
                                    .save_best_only = flag(slot, 3, false),
                                    .save_weights_only = flag(slot, 4, false),
                                    .mode = str(slot, 5, NULL),
                                    .period = (int)num(slot, 6, 1)};
      return lm_callback_model_checkpoint(ctx, str(slot, 0, NULL), &o);
    }
    default:
      return lm_callback_terminate_on_nan(ctx);
  }
}

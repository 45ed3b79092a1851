/* lamina tune on model scripts: hp.* values define the space (nesting through
 * a choice's options, Hyperopt's log-space bounds), each trial runs the script
 * with the study's values, fit reports every epoch, and a pruner stops fit. */
#define _POSIX_C_SOURCE 200809L /* fork, mkdtemp */
#include <math.h>
#include <sys/wait.h>
#include <string.h>
#include <unistd.h>

#include "testutil.h"
#include "script/hp.h"
#include "tune/tune.h"

static const char *space_src =
    "import numpy as np\n"
    "from hyperopt import hp\n"
    "units = hp.choice('units', [16, 32, 64])\n"
    "lr = hp.loguniform('lr', np.log(1e-4), np.log(1.0))\n"
    "opt = hp.choice('opt', [{'type': 'sgd', 'momentum': hp.uniform('momentum', 0, 0.9)},\n"
    "                        {'type': 'adam'}])\n"
    "n = hp.quniform('n', 2, 10, 2)\n"
    "k = hp.randint('k', 5)\n"
    "h = model.fit(1, 2)\n"; /* fails after the hp.* calls: the space is kept */

static int param(const lm_space *s, const char *name) {
  for (int i = 0; i < s->n; i++)
    if (strcmp(s->p[i].name, name) == 0) return i;
  return -1;
}

static void test_space_from_script(void **state) {
  lm_ctx *ctx = tu_ctx();
  char err[1024];
  lm_space *s = lms_hp_space(ctx, "space.py", space_src, strlen(space_src), NULL, err, sizeof err);
  assert_non_null(s);
  assert_int_equal(s->n, 6);
  int u = param(s, "units"), lr = param(s, "lr"), o = param(s, "opt"), m = param(s, "momentum"),
      n = param(s, "n"), k = param(s, "k");
  assert_true(u >= 0 && lr >= 0 && o >= 0 && m >= 0 && n >= 0 && k >= 0);
  assert_int_equal(s->p[u].kind, LMH_CHOICE);
  assert_int_equal(s->p[u].n_opt, 3);
  assert_string_equal(s->p[u].opts[2], "64");
  assert_int_equal(s->p[lr].kind, LMH_LOGUNIFORM);
  assert_float_equal(s->p[lr].low, 1e-4, 1e-12); /* Hyperopt's log bounds, as values */
  assert_float_equal(s->p[lr].high, 1.0, 1e-12);
  assert_string_equal(s->p[o].opts[0], "sgd"); /* a dict option shows its first string */
  assert_string_equal(s->p[o].opts[1], "adam");
  assert_true(o < m); /* the parent comes first */
  assert_int_equal(s->p[m].parent, o); /* momentum only under sgd */
  assert_int_equal(s->p[m].parent_opt, 0);
  assert_int_equal(s->p[u].parent, -1);
  assert_int_equal(s->p[n].kind, LMH_QUNIFORM);
  assert_float_equal(s->p[n].q, 2, 0);
  assert_int_equal(s->p[k].kind, LMH_RANDINT);
  assert_float_equal(s->p[k].high, 5, 0);
  lm_space_free(s);

  /* errors: a repeated label, a label the study file cannot hold, no hp at all */
  const char *dup = "from lamina import hp\na = hp.uniform('x', 0, 1)\nb = hp.uniform('x', 0, 1)\n";
  assert_null(lms_hp_space(ctx, "dup.py", dup, strlen(dup), NULL, err, sizeof err));
  assert_non_null(strstr(err, "dup.py:3:"));
  assert_non_null(strstr(err, "the label 'x' is used twice"));
  const char *bad = "from lamina import hp\na = hp.uniform('a b', 0, 1)\n";
  assert_null(lms_hp_space(ctx, "bad.py", bad, strlen(bad), NULL, err, sizeof err));
  assert_non_null(strstr(err, "must be a non-empty name"));
  const char *none = "x = 1\n";
  assert_null(lms_hp_space(ctx, "none.py", none, strlen(none), NULL, err, sizeof err));
  assert_non_null(strstr(lm_errmsg(ctx), "no hp.* values"));
  lm_ctx_free(ctx);
}

static void test_hp_outside_tune(void **state) {
  lm_ctx *ctx = tu_ctx();
  tu_capture cap = {0};
  lms_opts o = {.err = tu_capture_fn, .err_ud = &cap, .out = tu_capture_fn, .out_ud = &cap};
  const char *src = "from lamina import hp\nimport math\nprint(math.log(math.exp(2.0)))\n"
                    "u = hp.choice('u', [1, 2])\n";
  assert_int_equal(lms_run_source(ctx, "run.py", src, strlen(src), &o), LMS_SCRIPT_ERROR);
  assert_non_null(strstr(cap.text, "2.0"));
  assert_non_null(strstr(cap.text, "run.py:4:5: error: hp.choice: hp.* defines a search space; "
                                   "run the script with `lamina tune`"));
  tu_capture_reset(&cap);
  lm_ctx_free(ctx);
}

/* y = 2x learnt by Dense(1); 'good' trains with SGD lr 0.1, 'bad' with lr 0
 * (its val_loss never moves), so after a complete 'good' trial the median
 * pruner stops every 'bad' one at its first epoch (and a 'good' one that is
 * worse than the median, which the units can make it). */
static const char *fit_src =
    "import numpy as np\n"
    "from keras.models import Sequential\n"
    "from keras.layers import Dense\n"
    "from keras.optimizers import SGD\n"
    "from lamina import hp\n"
    "np.random.seed(3)\n"
    "x = np.random.rand(64, 1)\n"
    "y = x * 2.0\n"
    "mode = hp.choice('mode', ['good', 'bad'])\n"
    "units = hp.choice('units', [1, 2, 4])\n"
    "print('units', units, 'mode', mode)\n"
    "m = Sequential()\n"
    "m.add(Dense(units, input_shape=(1,)))\n"
    "m.add(Dense(1))\n"
    "m.compile(loss='mse', optimizer=SGD(lr=0.1 if mode == 'good' else 0.0))\n"
    "h = m.fit(x[:48], y[:48], epochs=5, batch_size=16, verbose=0,\n"
    "          validation_data=(x[48:], y[48:]))\n";

static void test_trials_and_pruning(void **state) {
  lm_ctx *ctx = tu_ctx();
  char err[1024];
  lm_space *s = lms_hp_space(ctx, "fit.py", fit_src, strlen(fit_src), NULL, err, sizeof err);
  assert_non_null(s);
  lm_tune_opts o = LM_TUNE_DEFAULTS;
  o.algo = LM_TUNE_RANDOM;
  o.seed = 4;
  o.prune = LM_PRUNE_MEDIAN;
  o.prune_startup = 1;
  lm_study *st = lm_study_open(ctx, s, NULL, &o);
  assert_non_null(st);
  int good_done = 0, bad_pruned = 0, n_trials = 8;
  for (int i = 0; i < n_trials; i++) {
    lm_trial *t = lm_study_ask(st, n_trials);
    assert_non_null(t);
    lm_ctx *tc = tu_ctx();
    tu_capture out = {0};
    lms_opts so = {.out = tu_capture_fn, .out_ud = &out};
    lms_hp_result r = lms_hp_trial(tc, "fit.py", fit_src, strlen(fit_src), &so, t, s, "val_loss");
    assert_int_equal(r.status, LMS_OK);
    /* the script saw the study's values */
    char want[64];
    snprintf(want, sizeof want, "units %lld mode %s", (long long)lm_trial_int(t, "units"),
             lm_trial_str(t, "mode"));
    assert_non_null(strstr(out.text, want));
    bool good = strcmp(lm_trial_str(t, "mode"), "good") == 0;
    print_message("trial %d %s units %d: %g after %d epochs%s\n", i, good ? "good" : "bad",
                  (int)lm_trial_int(t, "units"), r.value, r.epochs, r.pruned ? " (pruned)" : "");
    if (good) { /* a good trial may lose to a better good one (units differ) */
      assert_int_equal(r.epochs, r.pruned ? r.epochs : 5);
      assert_true(r.epochs >= 1 && r.epochs <= 5);
      good_done += !r.pruned;
    } else if (good_done) {
      assert_true(r.pruned); /* worse than the median at step 1 */
      assert_int_equal(r.epochs, 1);
      bad_pruned++;
    }
    assert_true(isfinite(r.value));
    assert_int_equal(lm_study_tell(st, t, r.pruned ? LM_TRIAL_PRUNED : LM_TRIAL_COMPLETE, r.value),
                     LM_OK);
    tu_capture_reset(&out);
    lm_ctx_free(tc);
  }
  assert_true(good_done > 0 && bad_pruned > 0);
  double best;
  char params[128];
  assert_true(lm_study_best(st, &best, params, sizeof params) >= 0);
  assert_non_null(strstr(params, "mode=good"));

  /* an objective fit does not log fails the trial with the keys it has */
  lm_trial *t = lm_study_ask(st, n_trials + 1);
  lm_ctx *tc = tu_ctx();
  tu_capture errs = {0};
  lms_opts so = {.out = tu_capture_fn, .out_ud = &errs, .err = tu_capture_fn, .err_ud = &errs};
  lms_hp_result r = lms_hp_trial(tc, "fit.py", fit_src, strlen(fit_src), &so, t, s, "val_acc");
  assert_int_not_equal(r.status, LMS_OK);
  assert_non_null(strstr(errs.text, "fit's logs have no 'val_acc' (they have: val_loss, loss)"));
  assert_int_equal(lm_study_tell(st, t, LM_TRIAL_FAILED, NAN), LM_OK);
  tu_capture_reset(&errs);
  lm_ctx_free(tc);
  lm_study_free(st);
  lm_space_free(s);
  lm_ctx_free(ctx);
}

/* Two worker processes run the script's trials on one study file: every
 * trial number once, none lost, both workers busy. */
static int script_worker(const char *path, int n) {
  lm_ctx *ctx = tu_ctx();
  char err[1024];
  lm_space *s = lms_hp_space(ctx, "fit.py", fit_src, strlen(fit_src), NULL, err, sizeof err);
  lm_tune_opts o = LM_TUNE_DEFAULTS;
  o.algo = LM_TUNE_TPE;
  o.tpe_startup = 3;
  lm_study *st = s ? lm_study_open(ctx, s, path, &o) : NULL;
  int rc = st ? 0 : 1;
  for (lm_trial *t; st && (t = lm_study_ask(st, n));) {
    lm_ctx *tc = tu_ctx();
    lms_hp_result r = lms_hp_trial(tc, "fit.py", fit_src, strlen(fit_src), NULL, t, s, "val_loss");
    lm_ctx_free(tc);
    if (r.status != LMS_OK) rc = 1;
    if (lm_study_tell(st, t, r.pruned ? LM_TRIAL_PRUNED : LM_TRIAL_COMPLETE, r.value)) rc = 1;
  }
  if (st && lm_errcode(ctx)) rc = 1;
  lm_study_free(st);
  lm_space_free(s);
  lm_ctx_free(ctx);
  return rc;
}

static void test_two_script_workers(void **state) {
  char dir[] = "/tmp/lamina_tune_script_XXXXXX", path[128];
  assert_non_null(mkdtemp(dir));
  snprintf(path, sizeof path, "%s/s.db", dir);
  pid_t pid[2];
  fflush(NULL);
  for (int k = 0; k < 2; k++)
    if ((pid[k] = fork()) == 0) _exit(script_worker(path, 10));
  for (int k = 0; k < 2; k++) {
    int status;
    assert_int_equal(waitpid(pid[k], &status, 0), pid[k]);
    assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
  }
  lm_ctx *ctx = tu_ctx();
  lm_study *st = lm_study_load(ctx, path);
  assert_non_null(st);
  assert_int_equal(lm_study_n_trials(st), 10);
  for (int i = 0; i < 10; i++) {
    int number;
    lm_trial_status status;
    assert_int_equal(lm_study_trial(st, i, &number, &status, NULL, NULL, 0), LM_OK);
    assert_int_equal(number, i);
    assert_int_equal(status, LM_TRIAL_COMPLETE);
  }
  lm_study_free(st);
  lm_ctx_free(ctx);
  unlink(path);
  rmdir(dir);
}

/* examples/tune_digits_mlp.py: its space, and one trial of one epoch when
 * the digits (Debian's python3-sklearn) are installed. */
static void test_example_script(void **state) {
  char path[1024];
  const char *fx = getenv("LAMINA_TEST_DATA"); /* tests/fixtures, set by ctest */
  snprintf(path, sizeof path, "%s/../../examples/tune_digits_mlp.py", fx ? fx : "../../tests/fixtures");
  char *src = tu_read_text(path);
  assert_non_null(src);
  if (access("/usr/lib/python3/dist-packages/sklearn/datasets/data/digits.csv.gz", R_OK) != 0 &&
      !getenv("LAMINA_DIGITS")) {
    free(src);
    skip(); /* load_digits runs while the space is collected */
  }
  lm_ctx *ctx = tu_ctx();
  char err[1024], *argv[2] = {path, "1"};
  lms_opts so = {.argc = 2, .argv = argv};
  lm_space *s = lms_hp_space(ctx, path, src, strlen(src), &so, err, sizeof err);
  assert_non_null(s);
  assert_int_equal(s->n, 4);
  int o = param(s, "optimizer"), m = param(s, "momentum");
  assert_int_equal(s->p[m].parent, o);
  assert_int_equal(s->p[param(s, "units")].n_opt, 5);
  lm_tune_opts opts = LM_TUNE_DEFAULTS;
  opts.maximize = true;
  lm_study *st = lm_study_open(ctx, s, NULL, &opts);
  lm_trial *t = lm_study_ask(st, 1);
  assert_non_null(t);
  lm_ctx *tc = tu_ctx();
  lms_hp_result r = lms_hp_trial(tc, path, src, strlen(src), &so, t, s, "val_acc");
  assert_int_equal(r.status, LMS_OK);
  assert_int_equal(r.epochs, 1);
  assert_true(r.value >= 0 && r.value <= 1);
  assert_int_equal(lm_study_tell(st, t, LM_TRIAL_COMPLETE, r.value), LM_OK);
  lm_ctx_free(tc);
  lm_study_free(st);
  lm_space_free(s);
  lm_ctx_free(ctx);
  free(src);
}

int main(void) {
  const struct CMUnitTest tests[] = {cmocka_unit_test(test_space_from_script),
                                     cmocka_unit_test(test_hp_outside_tune),
                                     cmocka_unit_test(test_trials_and_pruning),
                                     cmocka_unit_test(test_two_script_workers),
                                     cmocka_unit_test(test_example_script)};
  return cmocka_run_group_tests(tests, NULL, NULL);
}

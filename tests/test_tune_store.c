/* The SQLite trial store: two worker processes share one study without
 * losing or duplicating a trial; a study resumes after its worker is killed. */
#define _POSIX_C_SOURCE 200809L /* fork, kill, mkdtemp, nanosleep */
#include <math.h>
#include <signal.h>
#include <time.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "testutil.h"
#include "tune/tune.h"

static char dir[] = "/tmp/lamina_tune_XXXXXX";

static lm_space *make_space(lm_ctx *ctx) {
  lm_space *s = lm_space_new(ctx);
  const char *opts[2] = {"a", "b"};
  lm_space_uniform(s, "x", 0, 1);
  lm_space_choice(s, "c", 2, opts);
  return s;
}

static lm_status slow(lm_trial *t, void *ud, double *v) {
  (void)ud;
  nanosleep(&(struct timespec){0, 3000000}, NULL);
  *v = lm_trial_float(t, "x");
  return LM_OK;
}

static lm_status dies_on_5(lm_trial *t, void *ud, double *v) {
  (void)ud;
  if (lm_trial_number(t) == 5) raise(SIGKILL); /* a crash in the middle of a trial */
  *v = lm_trial_float(t, "x");
  return LM_OK;
}

static int worker(const char *path, lm_tune_algo algo, int n, lm_objective_fn fn) {
  lm_ctx *ctx = lm_ctx_new(NULL, NULL);
  lm_ctx_set_log(ctx, NULL, NULL);
  lm_space *s = make_space(ctx);
  lm_tune_opts o = LM_TUNE_DEFAULTS;
  o.algo = algo;
  o.tpe_startup = 5;
  lm_study *st = lm_study_open(ctx, s, path, &o);
  int rc = st && lm_study_optimize(st, n, fn, NULL) == LM_OK ? 0 : 1;
  if (rc) fprintf(stderr, "worker: %s\n", lm_errmsg(ctx));
  lm_study_free(st);
  lm_space_free(s);
  lm_ctx_free(ctx);
  return rc;
}

static pid_t spawn(const char *path, lm_tune_algo algo, int n, lm_objective_fn fn) {
  fflush(NULL);
  pid_t pid = fork();
  if (pid == 0) _exit(worker(path, algo, n, fn));
  return pid;
}

static void load(const char *path, lmh_rec **recs, int *n) {
  lm_ctx *ctx = tu_ctx();
  lm_space *s = make_space(ctx);
  char *sig = lmh_signature(s);
  char full[512];
  snprintf(full, sizeof full, "minimize;%s", sig);
  lmh_store *db = lmh_store_open(ctx, path, full);
  assert_non_null(db);
  int cap = 0;
  *recs = NULL;
  *n = 0;
  assert_int_equal(lmh_store_load(db, 2, recs, n, &cap), LM_OK);
  /* copy out of the context's allocator */
  lmh_rec *copy = calloc((size_t)*n + 1, sizeof *copy);
  for (int i = 0; i < *n; i++) copy[i] = (lmh_rec){.number = (*recs)[i].number,
                                                    .status = (*recs)[i].status,
                                                    .loss = (*recs)[i].loss,
                                                    .pid = (*recs)[i].pid};
  lmh_recs_free(ctx, *recs, *n);
  *recs = copy;
  lmh_store_close(db);
  lm_dealloc(ctx, sig);
  lm_space_free(s);
  lm_ctx_free(ctx);
}

static void test_two_workers(void **state) {
  char path[600];
  snprintf(path, sizeof path, "%s/two.db", dir);
  for (int algo = LM_TUNE_RANDOM; algo <= LM_TUNE_TPE; algo += LM_TUNE_TPE) {
    unlink(path);
    pid_t a = spawn(path, (lm_tune_algo)algo, 40, slow), b = spawn(path, (lm_tune_algo)algo, 40, slow);
    int sa, sb;
    waitpid(a, &sa, 0);
    waitpid(b, &sb, 0);
    assert_true(WIFEXITED(sa) && WEXITSTATUS(sa) == 0);
    assert_true(WIFEXITED(sb) && WEXITSTATUS(sb) == 0);
    lmh_rec *r;
    int n, by_a = 0, by_b = 0;
    load(path, &r, &n);
    assert_int_equal(n, 40); /* none lost, none extra */
    for (int i = 0; i < n; i++) {
      assert_int_equal(r[i].number, i); /* no duplicate numbers, no gaps */
      assert_int_equal(r[i].status, LM_TRIAL_COMPLETE);
      assert_false(isnan(r[i].loss));
      by_a += r[i].pid == a;
      by_b += r[i].pid == b;
    }
    print_message("%s: worker A ran %d trials, worker B %d\n", algo ? "tpe" : "random", by_a, by_b);
    assert_int_equal(by_a + by_b, 40);
    assert_true(by_a > 0 && by_b > 0);
    free(r);
  }
}

static void test_resume_after_kill(void **state) {
  char path[600];
  snprintf(path, sizeof path, "%s/resume.db", dir);
  unlink(path);
  pid_t a = spawn(path, LM_TUNE_TPE, 10, dies_on_5);
  int sa;
  waitpid(a, &sa, 0);
  assert_true(WIFSIGNALED(sa) && WTERMSIG(sa) == SIGKILL);
  lmh_rec *r;
  int n;
  load(path, &r, &n);
  assert_int_equal(n, 6); /* 0..4 complete, 5 left running */
  assert_int_equal(r[5].status, LM_TRIAL_RUNNING);
  free(r);
  assert_int_equal(worker(path, LM_TUNE_TPE, 10, slow), 0); /* resume */
  load(path, &r, &n);
  assert_int_equal(n, 11);
  int complete = 0;
  for (int i = 0; i < n; i++) complete += r[i].status == LM_TRIAL_COMPLETE;
  assert_int_equal(r[5].status, LM_TRIAL_ABANDONED);
  assert_int_equal(complete, 10);
  free(r);
  /* a report opens the file with the space stored in it */
  lm_ctx *ctx = tu_ctx();
  lm_study *st = lm_study_load(ctx, path);
  assert_non_null(st);
  assert_int_equal(lm_space_n_params(lm_study_space(st)), 2);
  assert_int_equal(lm_study_n_trials(st), 11);
  char params[128];
  double best;
  assert_true(lm_study_best(st, &best, params, sizeof params) >= 0);
  assert_non_null(strstr(params, "c="));
  lm_study_free(st);
  assert_null(lm_study_load(ctx, "/nonexistent.db"));
  assert_non_null(strstr(lm_errmsg(ctx), "/nonexistent.db"));
  /* a different space cannot open the file */
  lm_space *s = lm_space_new(ctx);
  lm_space_uniform(s, "y", 0, 1);
  assert_null(lm_study_open(ctx, s, path, NULL));
  assert_non_null(strstr(lm_errmsg(ctx), "different search space"));
  assert_null(lm_study_open(ctx, s, "/nonexistent/dir/x.db", NULL));
  assert_non_null(strstr(lm_errmsg(ctx), "/nonexistent/dir/x.db"));
  lm_space_free(s);
  lm_ctx_free(ctx);
}

static int setup(void **state) { return mkdtemp(dir) ? 0 : -1; }
static int teardown(void **state) {
  char cmd[600];
  snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
  return system(cmd) == 0 ? 0 : -1;
}

int main(void) {
  const struct CMUnitTest tests[] = {cmocka_unit_test(test_two_workers),
                                     cmocka_unit_test(test_resume_after_kill)};
  return cmocka_run_group_tests(tests, setup, teardown);
}

#define _DEFAULT_SOURCE
/* The lamina command's usage errors, through the real binary (../lamina from
 * the test's working directory build/tests, or $LAMINA_CLI): each bad command
 * line gives its exact first stderr line and exit status (2 usage, 1 runtime).
 * tests/script_error_sites.py counts these messages as tested.
 *
 * CLI messages not tested here: "lamina: out of memory" (cmd_run.c, the
 * context itself failing), "lamina predict: too many outputs" (a model of
 * more than 64 outputs), cmd_tune.c's worker/fork/report-file failures
 * ("fork: %s", "cannot write %s", "no complete trial in %s") which need a
 * failing system or a study file of failed trials (test_tune_store.c drives the study files), and
 * "digits.csv.gz not found" (only on a machine without the digits file). */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "script/script.h"
#include "testutil.h"

static char cli[4096], tmpdir[64];

static char *tmp_path(const char *name) {
  static char buf[32][4200];
  static int k;
  char *p = buf[k++ % 32];
  snprintf(p, sizeof buf[0], "%s/%s", tmpdir, name);
  return p;
}

static int write_text(const char *path, const char *text) {
  FILE *f = fopen(path, "w");
  if (!f) return -1;
  fputs(text, f);
  return fclose(f);
}

/* an uncompiled model (no training config) and matching X/Y arrays, made by a script */
static int setup(void **state) {
  (void)state;
  snprintf(tmpdir, sizeof tmpdir, "/tmp/lamina_cli_XXXXXX");
  if (!mkdtemp(tmpdir)) return -1;
  const char *env = getenv("LAMINA_CLI");
  snprintf(cli, sizeof cli, "%s", env && *env ? env : "../lamina");
  char src[2048];
  snprintf(src, sizeof src,
           "import numpy as np\nimport keras\nfrom keras import layers\n"
           "m = keras.models.Sequential([layers.Dense(2, input_shape=(3,))])\n"
           "m.save('%s')\nnp.save('%s', np.zeros((4, 3)))\nnp.save('%s', np.zeros((4, 2)))\n",
           tmp_path("raw.safetensors"), tmp_path("x.npy"), tmp_path("y.npy"));
  lm_ctx *ctx = tu_ctx();
  int st = lms_run_source(ctx, "setup.py", src, strlen(src), NULL);
  lm_ctx_free(ctx);
  if (st != LMS_OK) return -1;
  return write_text(tmp_path("t.py"), "print(1)\n");
}

static int teardown(void **state) {
  (void)state;
  char cmd[600];
  snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
  return system(cmd) == 0 ? 0 : -1;
}

static bool have_cli(void) {
  if (access(cli, X_OK) == 0) return true;
  print_message("skipped: %s not found (set LAMINA_CLI to the lamina binary)\n", cli);
  return false;
}

/* Runs `lamina ARGS...`; returns the exit status, *err the stderr text. */
static int run_cli(char **err, char *const *args) {
  const char *log = tmp_path("err.log");
  pid_t pid = fork();
  assert_true(pid >= 0);
  if (pid == 0) {
    int fd = open(log, O_WRONLY | O_CREAT | O_TRUNC, 0644), nul = open("/dev/null", O_WRONLY);
    if (fd >= 0) dup2(fd, 2);
    if (nul >= 0) dup2(nul, 1);
    char *argv[24];
    int n = 0;
    argv[n++] = cli;
    for (int i = 0; args[i] && n < 23; i++) argv[n++] = args[i];
    argv[n] = NULL;
    execv(cli, argv);
    _exit(127);
  }
  int status;
  while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  *err = tu_read_text(log);
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

typedef struct cli_case {
  int rc;
  const char *want; /* the first line of stderr */
  char *args[8];
} cli_case;

static void test_usage_errors(void **state) {
  (void)state;
  if (!have_cli()) skip();
  char *t = tmp_path("t.py"), *raw = tmp_path("raw.safetensors"), *x = tmp_path("x.npy"), *y = tmp_path("y.npy");
  char *csv = tmp_path("log.csv");
  const cli_case cases[] = {
      {2, "lamina: unknown command 'nope'", {"nope"}},
      {2, "lamina run: --threads wants a number from 1 to 4096, got '0'", {"run", "--threads", "0", t}},
      {2, "lamina run: --seed wants a non-negative integer, got '-1'", {"run", "--seed", "-1", t}},
      {2, "lamina run: --threads needs a value", {"run", "--threads"}},
      {2, "lamina run: unknown option '--bogus' (try --help)", {"run", "--bogus", t}},
      {2, "usage: lamina run [--threads N] [--seed N] SCRIPT.py [ARGS...]", {"run"}},
      {2, "lamina summary: unexpected argument 'extra'", {"summary", t, "extra"}},
      {2, "lamina predict: -o needs a file name", {"predict", raw, x, "-o"}},
      {2, "lamina predict: --batch-size wants a positive number", {"predict", "--batch-size", "0", raw, x}},
      {2, "lamina predict: unknown option '--bogus' (try --help)", {"predict", "--bogus"}},
      {2, "lamina predict: unexpected argument 'c'", {"predict", "a", "b", "c"}},
      {2, "usage: lamina predict MODEL.safetensors INPUT.npy [-o OUT.npy]", {"predict", raw}},
      {2, "lamina evaluate: --batch-size wants a positive number", {"evaluate", "--batch-size", "x", raw, x, y}},
      {2, "lamina evaluate: unknown option '--bogus' (try --help)", {"evaluate", "--bogus"}},
      {2, "lamina evaluate: unexpected argument 'd'", {"evaluate", "a", "b", "c", "d"}},
      {2, "usage: lamina evaluate MODEL.safetensors X.npy Y.npy", {"evaluate", raw}},
      {1, "lamina evaluate: the model was saved without a training config (compile it before saving)",
       {"evaluate", raw, x, y}},
      {2, "lamina plot: unexpected argument 'b'", {"plot", csv, "b"}},
      {2, "usage: lamina plot LOG.csv -o curves.png", {"plot", csv}},
      {2, "lamina tune: --trials needs a whole number in [1, 1000000]", {"tune", t, "--trials", "0"}},
      {2, "lamina tune: one script at a time ('a.py' and 'b.py')", {"tune", "a.py", "b.py"}},
      {2, "lamina tune: --study needs a value", {"tune", t, "--study"}},
      {2, "lamina tune: --direction must be max or min, not 'up'", {"tune", t, "--direction", "up"}},
      {2, "lamina tune: --tpe must be hyperopt or optuna, not 'x'", {"tune", t, "--tpe", "x"}},
      {2, "lamina tune: --algo must be tpe, random, grid or ga, not 'x'", {"tune", t, "--algo", "x"}},
      {2, "lamina tune: --prune must be median, sha or none, not 'x'", {"tune", t, "--prune", "x"}},
      {2, "lamina tune: unknown option '--bogus'", {"tune", t, "--bogus", "1"}},
      {2, "lamina tune: needs SCRIPT or --example digits, and --study FILE (or --report FILE)", {"tune"}},
  };
  int failed = 0;
  for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
    char *err = NULL;
    int rc = run_cli(&err, cases[i].args);
    const char *e = err ? err : "";
    const char *nl = strchr(e, '\n');
    size_t n = nl ? (size_t)(nl - e) : strlen(e);
    if (rc != cases[i].rc || n != strlen(cases[i].want) || strncmp(e, cases[i].want, n) != 0) {
      fprintf(stderr, "case %zu (lamina %s ...): wanted exit %d and\n%s\ngot exit %d and\n%s\n", i, cases[i].args[0],
              cases[i].rc, cases[i].want, rc, e);
      failed++;
    }
    free(err);
  }
  print_message("%zu command lines, %d failed\n", sizeof cases / sizeof *cases, failed);
  assert_int_equal(failed, 0);
}

/* lamina tune on a script whose every trial fails: each failure is shown
 * with its report, and the worker stops after three in a row (exit 1). */
static void test_tune_failing_trials(void **state) {
  (void)state;
  if (!have_cli()) skip();
  char *f = tmp_path("fail.py");
  assert_int_equal(write_text(f, "from lamina import hp\nu = hp.choice('u', [1, 2])\nx = 1 / 0\n"), 0);
  char *err = NULL;
  int rc = run_cli(&err, (char *[]){"tune", f, "--study", tmp_path("fail.study"), "--trials", "5", "--algo", "random", NULL});
  assert_non_null(err);
  char want[4400];
  snprintf(want, sizeof want, "trial 0 failed:\n%s:3:7: error: division by zero\n", f);
  if (rc != 1 || !strstr(err, want) || !strstr(err, "lamina tune: 3 trials in a row failed; stopping this worker\n") ||
      strstr(err, "trial 3 failed"))
    fail_msg("exit %d, stderr:\n%s", rc, err);
  free(err);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_usage_errors),
      cmocka_unit_test(test_tune_failing_trials),
  };
  return cmocka_run_group_tests(tests, setup, teardown);
}

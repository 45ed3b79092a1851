#define _DEFAULT_SOURCE
/* `lamina run --checkpoint FILE [--checkpoint-every N]` and `lamina run --resume
 * CKPT`, through the real command (../lamina from the test's working directory
 * build/tests, or $LAMINA_CLI):
 *   - a run interrupted after N epochs (its LearningRateScheduler fails at epoch
 *     N, exit status 2) and resumed ends with a model file byte-identical to an
 *     uninterrupted run's with the same --seed and --threads 1, EarlyStopping's
 *     restore_best_weights copy included; resuming from the checkpoint written
 *     when EarlyStopping stopped runs no further epoch;
 *   - a run killed with SIGKILL at a random instant while writing a checkpoint
 *     every batch, then resumed, ends byte-identical too;
 *   - the options' usage errors and a corrupt --resume file are refused with
 *     their messages. */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "testutil.h"

static char tmpdir[256];
static char cli[512];

/* A path under tmpdir; a ring of 256 buffers, so the paths of one test never collide. */
static char *tmp_path(const char *name) {
  static char buf[256][512];
  static int k;
  k = (k + 1) % 256;
  snprintf(buf[k], sizeof buf[k], "%s/%s", tmpdir, name);
  return buf[k];
}

/* Random data from --seed; Dropout (the RNG in training); EarlyStopping that
 * keeps the best weights; a scheduler that fails at epoch argv[3] (the
 * interruption; -1 never). argv: OUT.safetensors EPOCHS STOP_AT PATIENCE */
static const char *script =
    "import sys\n"
    "import numpy as np\n"
    "import keras\n"
    "from keras import layers\n"
    "stop_at = int(sys.argv[3])\n"
    "x = np.random.random((200, 16)).astype('float32')\n"
    "y = keras.utils.to_categorical(np.random.randint(0, 4, (200,)), 4)\n"
    "model = keras.models.Sequential()\n"
    "model.add(layers.Dense(32, activation='relu', input_shape=(16,)))\n"
    "model.add(layers.Dropout(0.3))\n"
    "model.add(layers.Dense(4, activation='softmax'))\n"
    "model.compile(optimizer='rmsprop', loss='categorical_crossentropy', metrics=['acc'])\n"
    "es = keras.callbacks.EarlyStopping(monitor='val_loss', patience=int(sys.argv[4]),\n"
    "                                   restore_best_weights=True)\n"
    "crash = keras.callbacks.LearningRateScheduler(\n"
    "    lambda epoch, lr: lr / 0 if epoch == stop_at else lr)\n"
    "h = model.fit(x, y, batch_size=16, epochs=int(sys.argv[2]), verbose=0,\n"
    "              validation_split=0.2, callbacks=[es, crash])\n"
    "model.save(sys.argv[1])\n"
    "print('epochs run:', len(h.history['loss']))\n";

static int setup(void **state) {
  (void)state;
  snprintf(tmpdir, sizeof tmpdir, "/tmp/lamina_run_resume_XXXXXX");
  if (!mkdtemp(tmpdir)) return -1;
  const char *env = getenv("LAMINA_CLI");
  snprintf(cli, sizeof cli, "%s", env && *env ? env : "../lamina");
  FILE *fp = fopen(tmp_path("train.py"), "w");
  if (!fp) return -1;
  fputs(script, fp);
  fclose(fp);
  return 0;
}

static int teardown(void **state) {
  (void)state;
  char cmd[600];
  snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
  return system(cmd) == 0 ? 0 : -1;
}

/* Starts `lamina run ARGS...` (NULL-terminated), stdout and stderr to log. */
static pid_t start(const char *log, char *const *args) {
  pid_t pid = fork();
  assert_true(pid >= 0);
  if (pid == 0) {
    int fd = open(log, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd >= 0) {
      dup2(fd, 1);
      dup2(fd, 2);
      close(fd);
    }
    char *argv[24];
    int n = 0;
    argv[n++] = cli;
    argv[n++] = "run";
    for (int i = 0; args[i] && n < 23; i++) argv[n++] = args[i];
    argv[n] = NULL;
    execv(cli, argv);
    _exit(127);
  }
  return pid;
}

static int finish(pid_t pid) {
  int status;
  while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

/* Runs it to the end; returns the exit status, *out the log text (caller frees). */
static int run_cli(char **out, char *const *args) {
  const char *log = tmp_path("run.log");
  int rc = finish(start(log, args));
  char *text = tu_read_text(log);
  if (out) *out = text;
  else free(text);
  return rc;
}

/* -1 when the two files are byte-identical, else the first differing offset. */
static long first_difference(const char *a, const char *b) {
  FILE *fa = fopen(a, "rb"), *fb = fopen(b, "rb");
  assert_non_null(fa);
  assert_non_null(fb);
  long n = 0, at = -1;
  for (;;) {
    int ca = fgetc(fa), cb = fgetc(fb);
    if (ca != cb) {
      at = n;
      break;
    }
    if (ca == EOF) break;
    n++;
  }
  fclose(fa);
  fclose(fb);
  assert_true(at >= 0 || n > 1000);
  return at;
}

static void files_equal(const char *a, const char *b) {
  long at = first_difference(a, b);
  if (at >= 0) fail_msg("%s and %s differ at byte %ld", a, b, at);
}

static bool have_cli(void) {
  if (access(cli, X_OK) == 0) return true;
  print_message("skipped: %s not found (set LAMINA_CLI to the lamina binary)\n", cli);
  return false;
}

static void test_interrupted_after_epochs(void **state) {
  (void)state;
  if (!have_cli()) skip();
  char *log = NULL;
  /* uninterrupted: EarlyStopping (patience 2) stops at epoch 6 of 30 and
   * restores the weights of epoch 4 */
  int rc = run_cli(&log, (char *[]){"--seed", "3", "--threads", "1", tmp_path("train.py"),
                                    tmp_path("full.safetensors"), "30", "-1", "2", NULL});
  assert_int_equal(rc, 0);
  assert_non_null(strstr(log, "epochs run: 6\n"));
  free(log);
  /* interrupted when epoch 6 begins: the checkpoint of epoch 5's end holds
   * EarlyStopping's wait counter and its copy of epoch 4's weights */
  char *ck = tmp_path("train.ckpt");
  rc = run_cli(&log, (char *[]){"--seed", "3", "--threads", "1", "--checkpoint", ck,
                                tmp_path("train.py"), tmp_path("x.safetensors"), "30",
                                "5", "2", NULL});
  assert_int_equal(rc, 2);
  assert_non_null(strstr(log, "error: float division by zero"));
  free(log);
  lm_ctx *ctx = tu_ctx();
  assert_int_equal(lm_checkpoint_verify(ctx, ck), LM_OK);
  lm_ctx_free(ctx);
  /* resumed (and still checkpointing): epoch 6 runs, EarlyStopping stops and
   * restores epoch 4's weights from the checkpoint */
  rc = run_cli(&log, (char *[]){"--seed", "3", "--threads", "1", "--checkpoint", ck,
                                "--resume", ck, tmp_path("train.py"),
                                tmp_path("resumed.safetensors"), "30", "-1", "2", NULL});
  assert_int_equal(rc, 0);
  assert_non_null(strstr(log, "epochs run: 1\n"));
  free(log);
  files_equal(tmp_path("full.safetensors"), tmp_path("resumed.safetensors"));
  /* the checkpoint now records that training was stopped: resuming runs nothing */
  rc = run_cli(&log, (char *[]){"--seed", "3", "--threads", "1", "--resume", ck,
                                tmp_path("train.py"), tmp_path("again.safetensors"),
                                "30", "-1", "2", NULL});
  assert_int_equal(rc, 0);
  assert_non_null(strstr(log, "epochs run: 0\n"));
  free(log);
  files_equal(tmp_path("full.safetensors"), tmp_path("again.safetensors"));
  /* a different --seed gives other weights: the comparison can fail */
  rc = run_cli(NULL, (char *[]){"--seed", "4", "--threads", "1", tmp_path("train.py"),
                                tmp_path("other.safetensors"), "3", "-1", "2", NULL});
  assert_int_equal(rc, 0);
  assert_true(first_difference(tmp_path("full.safetensors"), tmp_path("other.safetensors")) >= 0);
}

static void test_sigkill_then_resume(void **state) {
  (void)state;
  if (!have_cli()) skip();
  /* 25 epochs of 10 batches, no early stop (patience 100) */
  int rc = run_cli(NULL, (char *[]){"--seed", "9", "--threads", "1", tmp_path("train.py"),
                                    tmp_path("kfull.safetensors"), "25", "-1", "100",
                                    NULL});
  assert_int_equal(rc, 0);
  char *ck = tmp_path("kill.ckpt");
  unlink(ck);
  pid_t pid = start(tmp_path("kill.log"),
                    (char *[]){"--seed", "9", "--threads", "1", "--checkpoint", ck,
                               "--checkpoint-every", "1", tmp_path("train.py"),
                               tmp_path("kx.safetensors"), "25", "-1", "100", NULL});
  for (int w = 0; w < 20000 && access(ck, F_OK) != 0; w++) { /* its first checkpoint (<= 20 s) */
    struct timespec ms = {0, 1000000L};
    nanosleep(&ms, NULL);
  }
  unsigned seed = (unsigned)time(NULL);
  srand(seed);
  struct timespec ts = {0, (long)(20 + rand() % 150) * 1000000L};
  nanosleep(&ts, NULL);
  kill(pid, SIGKILL);
  rc = finish(pid);
  print_message("killed after the first checkpoint + %ld ms (seed %u): %s\n",
                ts.tv_nsec / 1000000L, seed,
                rc == 128 + SIGKILL ? "killed while training" : "it had already finished");
  lm_ctx *ctx = tu_ctx();
  assert_int_equal(lm_checkpoint_verify(ctx, ck), LM_OK);
  lm_ctx_free(ctx);
  char *log = NULL;
  rc = run_cli(&log, (char *[]){"--seed", "9", "--threads", "1", "--checkpoint", ck,
                                "--checkpoint-every", "1", "--resume", ck,
                                tmp_path("train.py"), tmp_path("kres.safetensors"), "25",
                                "-1", "100", NULL});
  if (rc != 0) fail_msg("resume failed (%d): %s", rc, log ? log : "");
  free(log);
  files_equal(tmp_path("kfull.safetensors"), tmp_path("kres.safetensors"));
}

static void expect_usage(int want_rc, const char *want_msg, char *const *args) {
  char *log = NULL;
  int rc = run_cli(&log, args);
  assert_non_null(log);
  if (rc != want_rc || !strstr(log, want_msg))
    fail_msg("exit %d (want %d), output: %s (want: %s)", rc, want_rc, log, want_msg);
  free(log);
}

static void test_option_errors(void **state) {
  (void)state;
  if (!have_cli()) skip();
  char *py = tmp_path("train.py");
  expect_usage(2, "lamina run: --checkpoint-every needs --checkpoint FILE",
               (char *[]){"--checkpoint-every", "3", py, "o", "1", "-1", "1", NULL});
  expect_usage(2, "lamina run: --checkpoint-every wants a number of batches from 1, got '0'",
               (char *[]){"--checkpoint", "c", "--checkpoint-every=0", py, NULL});
  expect_usage(2, "lamina run: --resume needs a value", (char *[]){"--resume", NULL});
  expect_usage(2, "lamina run: --checkpoint needs a value",
               (char *[]){"--checkpoint=", py, NULL});
  expect_usage(1, "lamina run: --resume: cannot open '", (char *[]){"--resume",
               tmp_path("missing.ckpt"), py, "o", "1", "-1", "1", NULL});
  /* a truncated checkpoint is refused before the script runs */
  char *ck = tmp_path("ok.ckpt"), *bad = tmp_path("cut.ckpt");
  assert_int_equal(run_cli(NULL, (char *[]){"--checkpoint", ck, py,
                                            tmp_path("o.safetensors"), "1", "-1", "1",
                                            NULL}),
                   0);
  FILE *in = fopen(ck, "rb"), *out = fopen(bad, "wb");
  assert_non_null(in);
  assert_non_null(out);
  char buf[4096];
  size_t n = fread(buf, 1, 600, in);
  fwrite(buf, 1, n, out);
  fclose(in);
  fclose(out);
  expect_usage(1, "is truncated or corrupt and was not loaded",
               (char *[]){"--resume", bad, py, "o", "1", "-1", "1", NULL});
  /* a script without fit(): the unused --resume is reported, the run succeeds */
  FILE *nf = fopen(tmp_path("nofit.py"), "w");
  assert_non_null(nf);
  fputs("print('no training')\n", nf);
  fclose(nf);
  char *out_nf = NULL;
  assert_int_equal(run_cli(&out_nf, (char *[]){"--resume", ck, tmp_path("nofit.py"), NULL}), 0);
  assert_non_null(strstr(out_nf, "no training\n"));
  assert_non_null(strstr(out_nf, "nofit.py: warning: the script called no fit(), so --resume "));
  free(out_nf);
  /* --help documents them */
  char *log = NULL;
  char *argv[] = {"--help", NULL};
  assert_int_equal(run_cli(&log, argv), 0);
  assert_non_null(strstr(log, "--checkpoint-every N"));
  assert_non_null(strstr(log, "--resume CKPT"));
  free(log);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_interrupted_after_epochs),
      cmocka_unit_test(test_sigkill_then_resume),
      cmocka_unit_test(test_option_errors),
  };
  return cmocka_run_group_tests(tests, setup, teardown);
}

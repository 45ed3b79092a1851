#define _DEFAULT_SOURCE
/* Training checkpoints: resume is bit-identical (at an epoch end and in the
 * middle of an epoch), corrupt and truncated files are refused, and a
 * process killed with SIGKILL while writing checkpoints always leaves a
 * loadable one. */
#include <dirent.h>
#include <signal.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "testutil.h"

static char tmpdir[256];

static const char *tmp_path(const char *name) {
  static char buf[4][512];
  static int k;
  k = (k + 1) % 4;
  snprintf(buf[k], sizeof buf[k], "%s/%s", tmpdir, name);
  return buf[k];
}

typedef struct run {
  lm_ctx *ctx;
  lm_model *m;
  lm_tensor *x, *y;
} run;

/* Dense(8, relu) -> Dropout(0.25) -> Dense(1, sigmoid), Adam, BCE + acc:
 * uses the RNG (shuffle, dropout) and optimizer slots. */
static run make_run(void) {
  run r;
  r.ctx = tu_ctx();
  lm_ctx_set_threads(r.ctx, 1);
  int64_t s[1] = {3};
  lm_sym *in = lm_input(r.ctx, 1, s, LM_FLOAT32, NULL);
  lm_sym *h = lm_layer_call(lm_layer_dense(r.ctx, 8, &(lm_dense_opts){.activation = "relu"}), in);
  h = lm_layer_call(lm_layer_dropout(r.ctx, 0.25f, NULL), h);
  lm_sym *out =
      lm_layer_call(lm_layer_dense(r.ctx, 1, &(lm_dense_opts){.activation = "sigmoid"}), h);
  r.m = lm_model_new(r.ctx, 1, &in, 1, &out, NULL);
  const char *loss = "binary_crossentropy", *met = "acc";
  lm_compile_opts co = {
      .optimizer_name = "adam", .n_losses = 1, .losses = &loss, .n_metrics = 1, .metrics = &met};
  assert_int_equal(lm_model_compile(r.m, &co), LM_OK);
  int n = 60;
  int64_t xs[2] = {n, 3}, ys[2] = {n, 1};
  r.x = lm_tensor_new(r.ctx, LM_FLOAT32, 2, xs);
  r.y = lm_tensor_new(r.ctx, LM_FLOAT32, 2, ys);
  uint64_t st = 99;
  for (int i = 0; i < n; i++) {
    float sum = 0;
    for (int k = 0; k < 3; k++) {
      st = st * 6364136223846793005ULL + 1442695040888963407ULL;
      float v = (float)((double)(st >> 11) / 9007199254740992.0) * 2 - 1;
      lm_tensor_f32(r.x)[i * 3 + k] = v;
      sum += v;
    }
    lm_tensor_f32(r.y)[i] = sum > 0 ? 1.0f : 0.0f;
  }
  return r;
}

static lm_history *fit_run(run *r, int epochs, lm_callback **cbs, int n_cbs, const char *resume) {
  lm_data dx = {1, &r->x, NULL}, dy = {1, &r->y, NULL};
  lm_fit_opts fo = LM_FIT_DEFAULTS;
  fo.verbose = 0;
  fo.epochs = epochs;
  fo.batch_size = 8;
  fo.validation_split = 0.2f; /* int(60 * (1 - 0.2f)) = 47 train: 6 batches; 13 val */
  fo.callbacks = cbs;
  fo.n_callbacks = n_cbs;
  fo.resume_from = resume;
  return lm_model_fit(r->m, &dx, &dy, &fo);
}

static void weights_equal(lm_model *a, lm_model *b) {
  assert_int_equal(lm_model_n_layers(a), lm_model_n_layers(b));
  for (int i = 0; i < lm_model_n_layers(a); i++) {
    lm_layer *la = lm_model_layer(a, i), *lb = lm_model_layer(b, i);
    for (int j = 0; j < lm_layer_n_weights(la); j++) {
      lm_tensor *ta = lm_layer_weight(la, j), *tb = lm_layer_weight(lb, j);
      assert_int_equal(lm_tensor_size(ta), lm_tensor_size(tb));
      assert_memory_equal(lm_tensor_data(ta), lm_tensor_data(tb), (size_t)lm_tensor_size(ta) * 4);
    }
  }
}

/* A user callback that fails ("crashes") after a given batch of a given epoch. */
typedef struct crasher {
  int epoch, batch, cur;
} crasher;
static lm_status cr_eb(lm_callback *cb, int e, lm_logs *l) {
  ((crasher *)cb->ud)->cur = e;
  return LM_OK;
}
static lm_status cr_be(lm_callback *cb, int b, lm_logs *l) {
  crasher *c = cb->ud;
  if (c->cur == c->epoch && b == c->batch) return LM_ERR_STATE;
  return LM_OK;
}
static const lm_callback_vt cr_vt = {
    .name = "Crasher", .on_epoch_begin = cr_eb, .on_batch_end = cr_be};

static double decay09(int epoch, double lr, void *ud) { return epoch ? lr * 0.9 : lr; }

static void test_resume_bit_identical(void **state) {
  /* the uninterrupted run, with an EarlyStopping whose state must carry over
   * and a scheduler relative to the current lr */
  run a = make_run();
  lm_callback *cbs_a[2] = {
      lm_callback_early_stopping(a.ctx, &(lm_early_stopping_opts){.patience = 100}),
      lm_callback_lr_scheduler(a.ctx, decay09, NULL, 0)};
  assert_non_null(fit_run(&a, 5, cbs_a, 2, NULL));
  double st_a[3];
  cbs_a[0]->vt->get_state(cbs_a[0], st_a, 3);

  /* 2 epochs, checkpoint at each epoch end; then a fresh process resumes to 5 */
  const char *ck = tmp_path("epoch.ckpt");
  run b = make_run();
  lm_callback *cbs_b[3] = {
      lm_callback_early_stopping(b.ctx, &(lm_early_stopping_opts){.patience = 100}),
      lm_callback_lr_scheduler(b.ctx, decay09, NULL, 0), lm_callback_checkpoint(b.ctx, ck, 0)};
  assert_non_null(fit_run(&b, 2, cbs_b, 3, NULL));
  assert_int_equal(lm_checkpoint_verify(b.ctx, ck), LM_OK);
  run c = make_run();
  lm_ctx_set_seed(c.ctx, 777); /* the checkpoint's RNG state wins */
  lm_callback *cbs_c[2] = {
      lm_callback_early_stopping(c.ctx, &(lm_early_stopping_opts){.patience = 100}),
      lm_callback_lr_scheduler(c.ctx, decay09, NULL, 0)};
  lm_history *hc = fit_run(&c, 5, cbs_c, 2, ck);
  assert_non_null(hc);
  assert_int_equal(lm_history_n_epochs(hc), 3);
  weights_equal(a.m, c.m);
  assert_int_equal(lm_optimizer_iterations(lm_model_optimizer(c.m)), 30);
  assert_true(lm_optimizer_lr(lm_model_optimizer(c.m)) == lm_optimizer_lr(lm_model_optimizer(a.m)));
  double st_c[3];
  cbs_c[0]->vt->get_state(cbs_c[0], st_c, 3);
  assert_memory_equal(st_a, st_c, sizeof st_a);

  /* mid-epoch: checkpoint every batch, crash after batch 3 of epoch 1, resume */
  const char *ck2 = tmp_path("batch.ckpt");
  run d = make_run();
  crasher cr = {.epoch = 1, .batch = 3};
  lm_callback user = {.vt = &cr_vt, .ud = &cr};
  lm_callback *cbs_d[3] = {lm_callback_lr_scheduler(d.ctx, decay09, NULL, 0),
                           lm_callback_checkpoint(d.ctx, ck2, 1), &user};
  assert_null(fit_run(&d, 5, cbs_d, 3, NULL));
  assert_string_equal(lm_errmsg(d.ctx), "callback Crasher: on_batch_end failed (status 7)");
  run e = make_run();
  lm_callback *sched_e = lm_callback_lr_scheduler(e.ctx, decay09, NULL, 0);
  assert_non_null(fit_run(&e, 5, &sched_e, 1, ck2));
  weights_equal(a.m, e.m);
  assert_true(lm_optimizer_lr(lm_model_optimizer(e.m)) == lm_optimizer_lr(lm_model_optimizer(a.m)));

  /* a checkpoint for another data size is refused with a message */
  run f = make_run();
  lm_data dx = {1, &f.x, NULL}, dy = {1, &f.y, NULL};
  lm_fit_opts fo = LM_FIT_DEFAULTS;
  fo.verbose = 0;
  fo.epochs = 5;
  fo.batch_size = 8;
  fo.resume_from = ck;
  assert_null(lm_model_fit(f.m, &dx, &dy, &fo));
  assert_non_null(strstr(lm_errmsg(f.ctx), "47 training samples but fit has 60"));
  lm_ctx_free(a.ctx);
  lm_ctx_free(b.ctx);
  lm_ctx_free(c.ctx);
  lm_ctx_free(d.ctx);
  lm_ctx_free(e.ctx);
  lm_ctx_free(f.ctx);
  unlink(ck);
  unlink(ck2);
}

static void write_bytes(const char *path, const char *data, size_t n) {
  FILE *fp = fopen(path, "wb");
  assert_non_null(fp);
  assert_int_equal(fwrite(data, 1, n, fp), n);
  fclose(fp);
}

static void test_corrupt_truncated_refused(void **state) {
  run r = make_run();
  const char *ck = tmp_path("good.ckpt"), *bad = tmp_path("bad.ckpt");
  lm_callback *cb = lm_callback_checkpoint(r.ctx, ck, 0);
  assert_non_null(fit_run(&r, 1, &cb, 1, NULL));
  FILE *fp = fopen(ck, "rb");
  assert_non_null(fp);
  static char data[1 << 16];
  size_t n = fread(data, 1, sizeof data, fp);
  fclose(fp);
  assert_true(n > 100 && n < sizeof data);
  uint64_t hlen = 0;
  for (int i = 7; i >= 0; i--) hlen = hlen << 8 | (unsigned char)data[i];
  /* truncated anywhere */
  size_t cuts[] = {0, 5, 8, 8 + (size_t)hlen / 2, 8 + (size_t)hlen, n - 4, n - 1};
  for (size_t i = 0; i < sizeof cuts / sizeof *cuts; i++) {
    write_bytes(bad, data, cuts[i]);
    assert_int_not_equal(lm_checkpoint_verify(r.ctx, bad), LM_OK);
    assert_non_null(strstr(lm_errmsg(r.ctx), "bad.ckpt"));
  }
  assert_non_null(strstr(lm_errmsg(r.ctx), "truncated or corrupt"));
  /* one flipped byte in the tensor data: the CRC catches it */
  data[n - 3] ^= 0x10;
  write_bytes(bad, data, n);
  assert_int_equal(lm_checkpoint_verify(r.ctx, bad), LM_ERR_FORMAT);
  assert_non_null(strstr(lm_errmsg(r.ctx), "is corrupt and was not loaded"));
  data[n - 3] ^= 0x10;
  /* a changed digit of the epoch in the metadata: the CRC covers it too */
  char *ep = strstr(data + 8, "\"epoch\":\"1\"");
  assert_non_null(ep);
  ep[9] = '7';
  write_bytes(bad, data, n);
  assert_int_equal(lm_checkpoint_verify(r.ctx, bad), LM_ERR_FORMAT);
  /* resume from it: refused, weights untouched */
  float w0 = lm_tensor_f32(lm_layer_weight(lm_model_layer(r.m, 1), 0))[0];
  assert_null(fit_run(&r, 3, NULL, 0, bad));
  assert_true(lm_tensor_f32(lm_layer_weight(lm_model_layer(r.m, 1), 0))[0] == w0);
  /* a saved model is not a checkpoint */
  lm_model_save(r.m, bad);
  assert_int_equal(lm_checkpoint_verify(r.ctx, bad), LM_ERR_FORMAT);
  assert_non_null(strstr(lm_errmsg(r.ctx), "not a lamina training checkpoint"));
  assert_int_equal(lm_checkpoint_verify(r.ctx, ck), LM_OK);
  lm_ctx_free(r.ctx);
  unlink(ck);
  unlink(bad);
}

/* A child trains for ever, checkpointing every batch and resuming from the
 * last checkpoint; it is killed at random instants, over and over. */
static void child_train(const char *ck) {
  run r = make_run();
  lm_callback *cb = lm_callback_checkpoint(r.ctx, ck, 1);
  const char *resume = access(ck, R_OK) == 0 ? ck : NULL;
  fit_run(&r, 1000000, &cb, 1, resume);
  _exit(3);
}

/* Removes the temporary files of killed writers; returns how many there were. */
static int remove_tmp_files(void) {
  int n = 0;
  DIR *d = opendir(tmpdir);
  assert_non_null(d);
  struct dirent *de;
  while ((de = readdir(d)))
    if (strstr(de->d_name, "kill.ckpt.tmp.")) {
      unlink(tmp_path(de->d_name));
      n++;
    }
  closedir(d);
  return n;
}

static void test_sigkill_during_writes(void **state) {
  char ck[512]; /* not tmp_path's rotating buffer: remove_tmp_files uses it */
  snprintf(ck, sizeof ck, "%s", tmp_path("kill.ckpt"));
  unsigned seed = (unsigned)time(NULL);
  srand(seed);
  int found = 0, mid_write = 0;
  for (int i = 0; i < 30; i++) {
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) child_train(ck);
    /* the first child runs until its first checkpoint exists (bounded: 20 s) */
    for (int w = 0; i == 0 && w < 20000 && access(ck, F_OK) != 0; w++) {
      struct timespec ms = {0, 1000000L};
      nanosleep(&ms, NULL);
    }
    struct timespec ts = {0, (long)(5 + rand() % 60) * 1000000L};
    nanosleep(&ts, NULL);
    kill(pid, SIGKILL);
    int status;
    waitpid(pid, &status, 0);
    assert_true(WIFSIGNALED(status)); /* it was still training */
    mid_write += remove_tmp_files() > 0;
    if (access(ck, F_OK) != 0) continue;
    lm_ctx *ctx = tu_ctx();
    lm_status st = lm_checkpoint_verify(ctx, ck);
    if (st) fprintf(stderr, "kill %d (seed %u): %s\n", i, seed, lm_errmsg(ctx));
    assert_int_equal(st, LM_OK);
    lm_ctx_free(ctx);
    found++;
  }
  assert_int_equal(found, 30);
  print_message("30 kills: %d found a checkpoint (all loadable), %d hit a write in progress\n",
                found, mid_write);
  unlink(ck);
}

/* Fail the n-th allocation of a fit with every callback, a checkpoint and a
 * resume: each failure is reported as out of memory and nothing leaks. */
static double halve(int epoch, double lr, void *ud) { return epoch ? lr * 0.5 : lr; }

static int fit_with_everything(lm_ctx *ctx, void *arg) {
  (void)arg;
  lm_ctx_set_log(ctx, NULL, NULL);
  int64_t s[1] = {3};
  lm_sym *in = lm_input(ctx, 1, s, LM_FLOAT32, NULL);
  lm_sym *h = lm_layer_call(lm_layer_dense(ctx, 4, &(lm_dense_opts){.activation = "relu"}), in);
  lm_sym *out = lm_layer_call(lm_layer_dense(ctx, 1, &(lm_dense_opts){.activation = "sigmoid"}), h);
  lm_model *m = lm_model_new(ctx, 1, &in, 1, &out, NULL);
  const char *loss = "binary_crossentropy", *met = "acc";
  lm_compile_opts co = {
      .optimizer_name = "adam", .n_losses = 1, .losses = &loss, .n_metrics = 1, .metrics = &met};
  if (!m || lm_model_compile(m, &co)) return 0;
  int64_t xs[2] = {10, 3}, ys[2] = {10, 1};
  lm_tensor *x = lm_tensor_new(ctx, LM_FLOAT32, 2, xs), *y = lm_tensor_new(ctx, LM_FLOAT32, 2, ys);
  if (!x || !y) return 0;
  for (int i = 0; i < 10; i++)
    lm_tensor_f32(y)[i] = (float)(i % 2), lm_tensor_f32(x)[3 * i] = (float)i;
  lm_callback *cbs[7] = {
      lm_callback_early_stopping(
          ctx, &(lm_early_stopping_opts){.restore_best_weights = true, .patience = 5}),
      lm_callback_reduce_lr_on_plateau(ctx, &(lm_reduce_lr_opts){.patience = 1}),
      lm_callback_lr_scheduler(ctx, halve, NULL, 0),
      lm_callback_csv_logger(ctx, tmp_path("sweep.csv"), NULL, false),
      lm_callback_model_checkpoint(ctx, tmp_path("sweep.{epoch:02d}.safetensors"), NULL),
      lm_callback_terminate_on_nan(ctx),
      lm_callback_checkpoint(ctx, tmp_path("sweep.ckpt"), 0)};
  for (int i = 0; i < 7; i++)
    if (!cbs[i]) return 0;
  lm_data dx = {1, &x, NULL}, dy = {1, &y, NULL};
  lm_fit_opts fo = LM_FIT_DEFAULTS;
  fo.verbose = 0;
  fo.epochs = 1; /* few writes: each is fsynced, and the sweep runs this ~500 times */
  fo.batch_size = 4;
  fo.validation_split = 0.2f;
  fo.callbacks = cbs;
  fo.n_callbacks = 7;
  if (!lm_model_fit(m, &dx, &dy, &fo)) return 0;
  fo.epochs = 2;
  fo.resume_from = tmp_path("sweep.ckpt");
  return lm_model_fit(m, &dx, &dy, &fo) != NULL;
}

static void test_alloc_failures(void **state) {
  (void)state;
  const long n = tu_alloc_sweep(fit_with_everything, NULL);
  print_message("allocation sweep: %ld failure points checked\n", n);
  const char *files[] = {"sweep.csv", "sweep.01.safetensors", "sweep.02.safetensors",
                         "sweep.03.safetensors", "sweep.ckpt"};
  for (int i = 0; i < 5; i++) unlink(tmp_path(files[i]));
}

int main(void) {
  snprintf(tmpdir, sizeof tmpdir, "/tmp/lamina_ckpt_XXXXXX");
  if (!mkdtemp(tmpdir)) return 1;
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_resume_bit_identical),
      cmocka_unit_test(test_corrupt_truncated_refused),
      cmocka_unit_test(test_sigkill_during_writes),
      cmocka_unit_test(test_alloc_failures),
  };
  int rc = cmocka_run_group_tests(tests, NULL, NULL);
  rmdir(tmpdir);
  return rc;
}

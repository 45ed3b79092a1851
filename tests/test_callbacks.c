#define _DEFAULT_SOURCE
/* Callbacks (Keras 2.2.4 keras/callbacks.py): golden hook timelines and
 * messages, EarlyStopping and ReduceLROnPlateau against hand-traced loss
 * sequences, CSVLogger byte for byte, ModelCheckpoint file names,
 * TerminateOnNaN next to fit's own NaN error. */
#include <math.h>
#include <string.h>
#include <unistd.h>

#include "testutil.h"
#include "train/callbacks.h"

static char tmpdir[256];

static const char *tmp_path(const char *name) {
  static char buf[4][512];
  static int k;
  k = (k + 1) % 4;
  snprintf(buf[k], sizeof buf[k], "%s/%s", tmpdir, name);
  return buf[k];
}

/* A compiled one-weight model (Dense(1, no bias), SGD lr 0.1). */
static lm_model *tiny_model(lm_ctx *ctx) {
  int64_t s[1] = {2};
  lm_sym *x = lm_input(ctx, 1, s, LM_FLOAT32, NULL);
  lm_sym *y = lm_layer_call(lm_layer_dense(ctx, 1, &(lm_dense_opts){.no_bias = true}), x);
  lm_model *m = lm_model_new(ctx, 1, &x, 1, &y, NULL);
  const char *loss = "mse";
  lm_compile_opts co = {.optimizer = lm_optimizer_sgd(ctx, &(lm_optimizer_opts){.lr = 0.1f}),
                        .n_losses = 1,
                        .losses = &loss};
  assert_int_equal(lm_model_compile(m, &co), LM_OK);
  return m;
}

static float *tiny_w(lm_model *m) {
  return lm_tensor_f32(lm_layer_weight(lm_model_layer(m, 1), 0));
}

/* Drive on_train_begin, on_epoch_end per value, on_train_end; returns the
 * 0-based epoch at which stop_training was set, -1 if never. */
static int drive(lm_callback *cb, lm_model *m, const char *key, const double *seq, int n,
                 double *lr_logged) {
  static lm_logs logs;
  cb->model = m;
  m->train->stop_training = false;
  lmt_logs_clear(&logs);
  if (cb->vt->on_train_begin) assert_int_equal(cb->vt->on_train_begin(cb, &logs), LM_OK);
  int stopped = -1;
  for (int e = 0; e < n && stopped < 0; e++) {
    lmt_logs_clear(&logs);
    lm_logs_set(&logs, key, seq[e]);
    assert_int_equal(cb->vt->on_epoch_end(cb, e, &logs), LM_OK);
    if (lr_logged) assert_true(lm_logs_get(&logs, "lr", &lr_logged[e]));
    if (m->train->stop_training) stopped = e;
  }
  lmt_logs_clear(&logs);
  if (cb->vt->on_train_end) assert_int_equal(cb->vt->on_train_end(cb, &logs), LM_OK);
  return stopped;
}

static void test_py_repr(void **state) {
  char s[64];
  struct {
    double v;
    const char *want;
  } cases[] = {{0.1, "0.1"},
               {1.0, "1.0"},
               {100.0, "100.0"},
               {1e-05, "1e-05"},
               {1.5e-05, "1.5e-05"},
               {0.0001, "0.0001"},
               {0.00010000000474974513, "0.00010000000474974513"},
               {(double)0.0001f, "9.999999747378752e-05"},
               {1e16, "1e+16"},
               {123456.789, "123456.789"},
               {-2.5, "-2.5"},
               {0.6931471805599453, "0.6931471805599453"}};
  for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
    lmt_py_repr(cases[i].v, s, sizeof s);
    assert_string_equal(s, cases[i].want);
  }
  lmt_py_repr_f32(0.001f, s, sizeof s);
  assert_string_equal(s, "0.001");
  lmt_py_repr_f32(0.0500000007f, s, sizeof s);
  assert_string_equal(s, "0.05");
  lmt_py_repr(NAN, s, sizeof s);
  assert_string_equal(s, "nan");
}

static void test_format_path(void **state) {
  lm_ctx *ctx = tu_ctx();
  static lm_logs logs;
  lmt_logs_clear(&logs);
  lm_logs_set(&logs, "loss", 0.5);
  lm_logs_set(&logs, "val_loss", 0.4123);
  char out[256];
  assert_int_equal(
      lmt_format_path(ctx, "w.{epoch:02d}-{val_loss:.2f}.safetensors", 3, &logs, out, sizeof out),
      LM_OK);
  assert_string_equal(out, "w.03-0.41.safetensors");
  assert_int_equal(lmt_format_path(ctx, "{{x}}-{epoch}-{loss}-{loss:e}-{loss:.3g}-{epoch:+04d}", 7,
                                   &logs, out, sizeof out),
                   LM_OK);
  assert_string_equal(out, "{x}-7-0.5-5.000000e-01-0.5-+007");
  lmt_logs_clear(&logs);
  lm_logs_set(&logs, "loss", 0.5);
  lm_logs_set(&logs, "acc", 0.75);
  assert_int_equal(
      lmt_format_path(ctx, "w.{epoch:02d}-{val_loss:.2f}.h5", 3, &logs, out, sizeof out),
      LM_ERR_ARG);
  assert_non_null(strstr(lm_errmsg(ctx), "KeyError: 'val_loss'"));
  assert_non_null(strstr(lm_errmsg(ctx), "available keys: epoch, loss, acc"));
  assert_int_equal(lmt_format_path(ctx, "{loss:d}", 1, &logs, out, sizeof out), LM_ERR_ARG);
  assert_non_null(strstr(lm_errmsg(ctx), "Unknown format code 'd'"));
  assert_int_equal(lmt_format_path(ctx, "{loss", 1, &logs, out, sizeof out), LM_ERR_ARG);
  assert_int_equal(lmt_format_path(ctx, "{loss:x}", 1, &logs, out, sizeof out), LM_ERR_ARG);
  lm_ctx_free(ctx);
}

static void test_early_stopping_traces(void **state) {
  lm_ctx *ctx = tu_ctx();
  tu_capture cap = {0};
  lm_ctx_set_log(ctx, tu_capture_fn, &cap);
  lm_model *m = tiny_model(ctx);
  /* patience 0: the first epoch that does not improve stops */
  double s1[] = {1.0, 0.9, 0.95, 0.8};
  lm_callback *es = lm_callback_early_stopping(ctx, &(lm_early_stopping_opts){.verbose = 1});
  assert_int_equal(drive(es, m, "val_loss", s1, 4, NULL), 2);
  assert_string_equal(cap.text, "Epoch 00003: early stopping\n");
  tu_capture_reset(&cap);
  /* min_delta 0.05, patience 2: 0.97 is not 0.05 better than 1.0 (wait 1);
   * 0.90 is (best 0.9); 0.88, 0.87 are not: wait 1, 2 -> stop at epoch 4 */
  double s2[] = {1.0, 0.97, 0.90, 0.88, 0.87, 0.5};
  es = lm_callback_early_stopping(
      ctx, &(lm_early_stopping_opts){.monitor = "loss", .min_delta = 0.05, .patience = 2});
  assert_int_equal(drive(es, m, "loss", s2, 6, NULL), 4);
  double st[3];
  assert_int_equal(es->vt->get_state(es, st, 3), 3);
  assert_true(st[0] == 0.90 && st[1] == 2 && st[2] == 4);
  assert_null(cap.text); /* verbose 0 */
  /* a baseline never beaten, patience 1: stops at epoch 0, and Keras prints
   * nothing when stopped_epoch is 0 */
  double s3[] = {0.6, 0.55};
  es = lm_callback_early_stopping(
      ctx, &(lm_early_stopping_opts){
               .has_baseline = true, .baseline = 0.5, .patience = 1, .verbose = 1});
  assert_int_equal(drive(es, m, "val_loss", s3, 2, NULL), 0);
  assert_null(cap.text);
  /* mode auto on val_acc is max */
  double s4[] = {0.5, 0.6, 0.6};
  es = lm_callback_early_stopping(ctx, &(lm_early_stopping_opts){.monitor = "val_acc"});
  assert_int_equal(drive(es, m, "val_acc", s4, 3, NULL), 2);
  /* mode min on an accuracy: stops at once on a rise */
  es = lm_callback_early_stopping(ctx,
                                  &(lm_early_stopping_opts){.monitor = "val_acc", .mode = "min"});
  assert_int_equal(drive(es, m, "val_acc", s4, 3, NULL), 1);
  /* restore_best_weights: weights of the best epoch come back when it stops */
  es = lm_callback_early_stopping(
      ctx, &(lm_early_stopping_opts){.restore_best_weights = true, .verbose = 1});
  es->model = m;
  static lm_logs logs;
  lmt_logs_clear(&logs);
  m->train->stop_training = false;
  es->vt->on_train_begin(es, &logs);
  double s5[] = {1.0, 0.5, 0.7};
  for (int e = 0; e < 3; e++) {
    tiny_w(m)[0] = (float)(e + 1);
    lm_logs_set(&logs, "val_loss", s5[e]);
    es->vt->on_epoch_end(es, e, &logs);
  }
  assert_true(m->train->stop_training);
  assert_true(tiny_w(m)[0] == 2.0f);
  es->vt->on_train_end(es, &logs);
  assert_string_equal(
      cap.text,
      "Restoring model weights from the end of the best epoch\nEpoch 00003: early stopping\n");
  tu_capture_reset(&cap);
  /* a monitor that is not in the logs: Keras' warning, no stop */
  es = lm_callback_early_stopping(ctx, NULL);
  double s6[] = {1.0, 2.0};
  assert_int_equal(drive(es, m, "loss", s6, 2, NULL), -1);
  assert_non_null(strstr(cap.text,
                         "RuntimeWarning: Early stopping conditioned on metric `val_loss` which is "
                         "not available. Available metrics are: loss\n"));
  tu_capture_reset(&cap);
  tu_capture_reset(&cap);
  lm_ctx_free(ctx);
}

static void test_reduce_lr_traces(void **state) {
  lm_ctx *ctx = tu_ctx();
  tu_capture cap = {0};
  lm_ctx_set_log(ctx, tu_capture_fn, &cap);
  lm_model *m = tiny_model(ctx);
  /* factor 0.5, patience 1, cooldown 2, min_delta 0, min_lr 0.02, flat loss:
   * e0 best; e1 wait 1 -> 0.05 (cooldown 2); e2 cooldown 1; e3 cooldown 0,
   * wait 1 -> 0.025; e4 cooldown 1; e5 -> max(0.0125, 0.02) = 0.02; e6; e7
   * lr (float 0.02 < 0.02 double) is not above min_lr: no change */
  lm_callback *rl = lm_callback_reduce_lr_on_plateau(ctx, &(lm_reduce_lr_opts){.factor = 0.5,
                                                                               .patience = 1,
                                                                               .cooldown = 2,
                                                                               .no_min_delta = true,
                                                                               .min_lr = 0.02,
                                                                               .verbose = 1});
  double flat[8] = {1, 1, 1, 1, 1, 1, 1, 1}, lr[12];
  assert_int_equal(drive(rl, m, "val_loss", flat, 8, lr), -1);
  float want[8] = {0.1f, 0.1f, 0.05f, 0.05f, 0.025f, 0.025f, 0.02f, 0.02f};
  for (int e = 0; e < 8; e++) assert_true(lr[e] == (double)want[e]);
  assert_true(lm_optimizer_lr(lm_model_optimizer(m)) == 0.02f);
  assert_string_equal(
      cap.text,
      "\nEpoch 00002: ReduceLROnPlateau reducing learning rate to 0.05000000074505806.\n"
      "\nEpoch 00004: ReduceLROnPlateau reducing learning rate to 0.02500000037252903.\n"
      "\nEpoch 00006: ReduceLROnPlateau reducing learning rate to 0.02.\n");
  tu_capture_reset(&cap);
  /* default min_delta 1e-4 is absolute: 0.99995 is no improvement on 1.0 */
  lm_optimizer_set_lr(lm_model_optimizer(m), 0.1f);
  rl = lm_callback_reduce_lr_on_plateau(ctx, &(lm_reduce_lr_opts){.patience = 0});
  double s2[] = {1.0, 0.99995, 0.9, 0.89995};
  drive(rl, m, "val_loss", s2, 4, lr);
  assert_true(lr[1] == (double)0.1f && fabs(lr[2] - 0.01) < 1e-9 && lr[3] == lr[2]);
  assert_true(fabsf(lm_optimizer_lr(lm_model_optimizer(m)) - 0.001f) < 1e-9f);
  /* Keras' defaults (opts NULL): patience 10 */
  lm_optimizer_set_lr(lm_model_optimizer(m), 0.1f);
  rl = lm_callback_reduce_lr_on_plateau(ctx, NULL);
  double s3[12];
  for (int i = 0; i < 12; i++) s3[i] = 1.0;
  drive(rl, m, "val_loss", s3, 12, lr);
  assert_true(lr[10] == (double)0.1f && lr[11] == (double)0.01f);
  assert_null(lm_callback_reduce_lr_on_plateau(ctx, &(lm_reduce_lr_opts){.factor = 1.0}));
  assert_non_null(strstr(lm_errmsg(ctx), "factor >= 1.0"));
  tu_capture_reset(&cap);
  lm_ctx_free(ctx);
}

static void test_csv_logger_bytes(void **state) {
  lm_ctx *ctx = tu_ctx();
  lm_model *m = tiny_model(ctx);
  const char *path = tmp_path("log.csv");
  static lm_logs logs;
  for (int round = 0; round < 2; round++) {
    lm_callback *c = lm_callback_csv_logger(ctx, path, NULL, round == 1);
    c->model = m;
    m->train->stop_training = false;
    lmt_logs_clear(&logs);
    assert_int_equal(c->vt->on_train_begin(c, &logs), LM_OK);
    for (int e = 0; e < 2; e++) {
      lmt_logs_clear(&logs);
      lm_logs_set(&logs, "val_loss", 0.5 / (e + 1));
      lm_logs_set(&logs, "val_acc", 0.75);
      lm_logs_set(&logs, "loss", 0.25);
      lm_logs_set(&logs, "acc", 1.0);
      lm_logs_set(&logs, "lr", (double)0.001f);
      if (round == 1 && e == 1) { /* stopped: val_* absent -> NA */
        lmt_logs_clear(&logs);
        lm_logs_set(&logs, "loss", 1e-05);
        m->train->stop_training = true;
      }
      assert_int_equal(c->vt->on_epoch_end(c, e, &logs), LM_OK);
    }
    c->vt->on_train_end(c, &logs);
  }
  char *text = tu_read_text(path);
  assert_string_equal(text,
                      "epoch,acc,loss,lr,val_acc,val_loss\r\n"
                      "0,1.0,0.25,0.001,0.75,0.5\r\n"
                      "1,1.0,0.25,0.001,0.75,0.25\r\n"
                      "0,1.0,0.25,0.001,0.75,0.5\r\n"
                      "1,NA,1e-05,NA,NA,NA\r\n");
  free(text);
  /* separator; append to a missing file writes the header */
  unlink(path);
  lm_callback *c = lm_callback_csv_logger(ctx, path, ";", true);
  c->model = m;
  c->vt->on_train_begin(c, &logs);
  lmt_logs_clear(&logs);
  lm_logs_set(&logs, "loss", 2.0);
  c->vt->on_epoch_end(c, 4, &logs);
  lm_callback_free(c); /* closes the file */
  text = tu_read_text(path);
  assert_string_equal(text, "epoch;loss\r\n4;2.0\r\n");
  free(text);
  unlink(path);
  lm_ctx_free(ctx);
}

/* ---- timelines through fit ---- */

typedef struct recorder {
  lm_callback cb;
  char log[8192];
  int stop_epoch, stop_batch; /* -1: never */
} recorder;

static void rec_add(recorder *r, const char *ev, int i, const lm_logs *logs) {
  size_t at = strlen(r->log);
  at += (size_t)snprintf(r->log + at, sizeof r->log - at, "%s%s", at ? "|" : "", ev);
  if (i >= 0) at += (size_t)snprintf(r->log + at, sizeof r->log - at, " %d", i);
  for (int k = 0; k < lm_logs_n(logs); k++)
    at += (size_t)snprintf(r->log + at, sizeof r->log - at, "%s%s", k ? "," : " ",
                           lm_logs_key(logs, k));
}

static lm_status rec_tb(lm_callback *cb, lm_logs *l) {
  rec_add(cb->ud, "TB", -1, l);
  return LM_OK;
}
static lm_status rec_te(lm_callback *cb, lm_logs *l) {
  rec_add(cb->ud, "TE", -1, l);
  return LM_OK;
}
static lm_status rec_eb(lm_callback *cb, int e, lm_logs *l) {
  rec_add(cb->ud, "EB", e, l);
  return LM_OK;
}
static lm_status rec_ee(lm_callback *cb, int e, lm_logs *l) {
  rec_add(cb->ud, "EE", e, l);
  return LM_OK;
}
static lm_status rec_bb(lm_callback *cb, int b, lm_logs *l) {
  rec_add(cb->ud, "BB", b, l);
  return LM_OK;
}
static lm_status rec_be(lm_callback *cb, int b, lm_logs *l) {
  recorder *r = cb->ud;
  rec_add(r, "BE", b, l);
  double bs;
  assert_true(lm_logs_get(l, "size", &bs));
  if (r->stop_batch == b && r->stop_epoch-- == 0) lm_model_stop_training(cb->model);
  return LM_OK;
}
static const lm_callback_vt rec_vt = {.name = "Recorder",
                                      .on_train_begin = rec_tb,
                                      .on_train_end = rec_te,
                                      .on_epoch_begin = rec_eb,
                                      .on_epoch_end = rec_ee,
                                      .on_batch_begin = rec_bb,
                                      .on_batch_end = rec_be};

static void blob_data(lm_ctx *ctx, int n, lm_tensor **x, lm_tensor **y) {
  int64_t xs[2] = {n, 2}, ys[2] = {n, 1};
  *x = lm_tensor_new(ctx, LM_FLOAT32, 2, xs);
  *y = lm_tensor_new(ctx, LM_FLOAT32, 2, ys);
  for (int i = 0; i < n; i++) {
    lm_tensor_f32(*x)[2 * i] = (float)(i % 7) / 7.0f;
    lm_tensor_f32(*x)[2 * i + 1] = (float)(i % 3) / 3.0f;
    lm_tensor_f32(*y)[i] = (float)(i % 2);
  }
}

static void test_fit_timeline(void **state) {
  lm_ctx *ctx = tu_ctx();
  lm_model *m = tiny_model(ctx);
  lm_tensor *x, *y;
  blob_data(ctx, 10, &x, &y);
  lm_data dx = {1, &x, NULL}, dy = {1, &y, NULL};
  recorder r = {.cb = {.vt = &rec_vt}, .stop_epoch = -1, .stop_batch = -1};
  r.cb.ud = &r;
  lm_callback *cbs[1] = {&r.cb};
  lm_fit_opts fo = LM_FIT_DEFAULTS;
  fo.verbose = 0;
  fo.epochs = 2;
  fo.batch_size = 4;
  fo.validation_split = 0.2f; /* int(10 * (1 - 0.2f)) = 7 train (batches 4, 3), 3 val */
  fo.callbacks = cbs;
  fo.n_callbacks = 1;
  lm_history *h = lm_model_fit(m, &dx, &dy, &fo);
  assert_non_null(h);
  assert_string_equal(
      r.log,
      "TB|EB 0|BB 0 batch,size|BE 0 batch,size,loss|BB 1 batch,size|BE 1 batch,size,loss"
      "|EE 0 val_loss,loss"
      "|EB 1|BB 0 batch,size|BE 0 batch,size,loss|BB 1 batch,size|BE 1 batch,size,loss"
      "|EE 1 val_loss,loss|TE");
  assert_null(r.cb.params); /* valid only during fit */
  /* stop_training in epoch 0 batch 0: no more batches, no validation, on_epoch_end, on_train_end */
  r.log[0] = '\0';
  r.stop_epoch = 0;
  r.stop_batch = 0;
  h = lm_model_fit(m, &dx, &dy, &fo);
  assert_non_null(h);
  assert_string_equal(r.log, "TB|EB 0|BB 0 batch,size|BE 0 batch,size,loss|EE 0 loss|TE");
  assert_int_equal(lm_history_n_epochs(h), 1);
  assert_true(isnan(lm_history_get(h, "val_loss")[0]));
  /* the progress line comes before the callbacks' messages (ProgbarLogger runs first) */
  tu_capture cap = {0};
  lm_ctx_set_log(ctx, tu_capture_fn, &cap);
  lm_callback *es = lm_callback_early_stopping(
      ctx, &(lm_early_stopping_opts){.monitor = "loss", .mode = "max", .verbose = 1});
  fo.callbacks = &es;
  fo.verbose = 2;
  fo.epochs = 5;
  assert_non_null(lm_model_fit(m, &dx, &dy, &fo));
  const char *e1 = strstr(cap.text, "Epoch 1/5\n - 0s - loss: ");
  const char *e2 = strstr(cap.text, "Epoch 2/5\n - 0s - loss: ");
  const char *stop = strstr(cap.text, " - val_loss: ");
  assert_true(cap.text == strstr(cap.text, "Train on 7 samples, validate on 3 samples\n"));
  assert_non_null(e1);
  assert_non_null(e2);
  assert_non_null(stop);
  assert_true(e1 < stop && stop < e2);
  const char *end = strstr(e2, "\nEpoch 00002: early stopping\n");
  assert_non_null(end);
  assert_int_equal(end[strlen("\nEpoch 00002: early stopping\n")], '\0');
  assert_null(strstr(cap.text, "Epoch 3/5"));
  tu_capture_reset(&cap);
  lm_ctx_free(ctx);
}

static double halve_after_first(int epoch, double lr, void *ud) {
  (*(int *)ud)++;
  return epoch >= 1 ? lr * 0.5 : lr;
}

static void test_scheduler_checkpoint_messages(void **state) {
  lm_ctx *ctx = tu_ctx();
  tu_capture cap = {0};
  lm_ctx_set_log(ctx, tu_capture_fn, &cap);
  lm_model *m = tiny_model(ctx);
  lm_tensor *x, *y;
  blob_data(ctx, 8, &x, &y);
  lm_data dx = {1, &x, NULL}, dy = {1, &y, NULL};
  int calls = 0;
  lm_callback *cbs[3] = {
      lm_callback_lr_scheduler(ctx, halve_after_first, &calls, 1),
      lm_callback_model_checkpoint(
          ctx, tmp_path("w.{epoch:02d}-{loss:.2f}.safetensors"),
          &(lm_model_checkpoint_opts){
              .verbose = 1, .monitor = "loss", .save_best_only = true, .save_weights_only = true}),
      lm_callback_csv_logger(ctx, tmp_path("sched.csv"), NULL, false)};
  lm_fit_opts fo = LM_FIT_DEFAULTS;
  fo.verbose = 0;
  fo.epochs = 3;
  fo.batch_size = 8;
  fo.shuffle = false;
  fo.callbacks = cbs;
  fo.n_callbacks = 3;
  lm_history *h = lm_model_fit(m, &dx, &dy, &fo);
  assert_non_null(h);
  assert_int_equal(calls, 3);
  const double *lr = lm_history_get(h, "lr"), *loss = lm_history_get(h, "loss");
  assert_non_null(lr);
  assert_true(lr[0] == (double)0.1f && lr[1] == (double)0.05f && lr[2] == (double)0.025f);
  /* golden text: the scheduler's lines, then ModelCheckpoint's */
  char want[2048], p1[512], p2[512], p3[512];
  snprintf(p1, sizeof p1, "%s/w.01-%.2f.safetensors", tmpdir, loss[0]);
  snprintf(p2, sizeof p2, "%s/w.02-%.2f.safetensors", tmpdir, loss[1]);
  snprintf(p3, sizeof p3, "%s/w.03-%.2f.safetensors", tmpdir, loss[2]);
  assert_true(loss[1] < loss[0] && loss[2] < loss[1]);
  snprintf(want, sizeof want,
           "\nEpoch 00001: LearningRateScheduler setting learning rate to 0.10000000149011612.\n"
           "\nEpoch 00001: loss improved from inf to %0.5f, saving model to %s\n"
           "\nEpoch 00002: LearningRateScheduler setting learning rate to 0.05000000074505806.\n"
           "\nEpoch 00002: loss improved from %0.5f to %0.5f, saving model to %s\n"
           "\nEpoch 00003: LearningRateScheduler setting learning rate to 0.02500000037252903.\n"
           "\nEpoch 00003: loss improved from %0.5f to %0.5f, saving model to %s\n",
           loss[0], p1, loss[0], loss[1], p2, loss[1], loss[2], p3);
  assert_string_equal(cap.text, want);
  assert_int_equal(access(p1, R_OK), 0);
  assert_int_equal(access(p3, R_OK), 0);
  char *csv = tu_read_text(tmp_path("sched.csv"));
  assert_non_null(csv);
  assert_true(strncmp(csv, "epoch,loss,lr\r\n0,", 17) == 0);
  free(csv);
  unlink(p1);
  unlink(p2);
  unlink(p3);
  unlink(tmp_path("sched.csv"));
  tu_capture_reset(&cap);
  /* a template key that is not in the logs fails fit with the key and the available keys */
  lm_callback *bad =
      lm_callback_model_checkpoint(ctx, tmp_path("w.{epoch:02d}-{val_loss:.2f}.safetensors"), NULL);
  fo.callbacks = &bad;
  fo.n_callbacks = 1;
  assert_null(lm_model_fit(m, &dx, &dy, &fo));
  assert_non_null(strstr(lm_errmsg(ctx), "KeyError: 'val_loss'"));
  assert_non_null(strstr(lm_errmsg(ctx), "available keys: epoch, loss"));
  tu_capture_reset(&cap);
  lm_ctx_free(ctx);
}

/* fit's own NaN error stays without TerminateOnNaN; with it, Keras' message
 * and a normal return (the bad batch's update is skipped). */
static void test_terminate_on_nan(void **state) {
  lm_ctx *ctx = tu_ctx();
  tu_capture cap = {0};
  lm_ctx_set_log(ctx, tu_capture_fn, &cap);
  int64_t s[1] = {2};
  lm_sym *in = lm_input(ctx, 1, s, LM_FLOAT32, NULL);
  lm_sym *out = lm_layer_call(lm_layer_dense(ctx, 1, NULL), in);
  lm_model *m = lm_model_new(ctx, 1, &in, 1, &out, NULL);
  const char *loss = "mse";
  lm_compile_opts co = {.optimizer = lm_optimizer_sgd(ctx, &(lm_optimizer_opts){.lr = 10.0f}),
                        .n_losses = 1,
                        .losses = &loss};
  assert_int_equal(lm_model_compile(m, &co), LM_OK);
  lm_tensor *x, *y;
  blob_data(ctx, 16, &x, &y);
  for (int i = 0; i < 32; i++) lm_tensor_f32(x)[i] = lm_tensor_f32(x)[i] * 1e3f + 1e3f;
  lm_data dx = {1, &x, NULL}, dy = {1, &y, NULL};
  lm_fit_opts fo = LM_FIT_DEFAULTS;
  fo.verbose = 0;
  fo.epochs = 50;
  fo.batch_size = 4;
  lm_callback *tn = lm_callback_terminate_on_nan(ctx);
  fo.callbacks = &tn;
  fo.n_callbacks = 1;
  lm_history *h = lm_model_fit(m, &dx, &dy, &fo);
  assert_non_null(h);
  assert_non_null(strstr(cap.text, ": Invalid loss, terminating training\n"));
  assert_true(strncmp(cap.text, "Batch ", 6) == 0);
  int n = lm_history_n_epochs(h);
  assert_true(n >= 1 && n < 50);
  assert_false(isfinite(lm_history_get(h, "loss")[n - 1]));
  const float *w = lm_tensor_f32(lm_layer_weight(lm_model_layer(m, 1), 0));
  assert_true(isfinite(w[0]) && isfinite(w[1]));
  tu_capture_reset(&cap);
  lm_ctx_free(ctx);
}

static void test_by_keras_name(void **state) {
  lm_ctx *ctx = tu_ctx();
  lm_model *m = tiny_model(ctx);
  /* EarlyStopping(monitor='loss', patience=1) */
  lm_kwarg es_args[2] = {{.key = "monitor", .type = LM_KW_STR, .str = "loss"},
                         {.key = "patience", .type = LM_KW_NUM, .num = 1}};
  lm_callback *es = lm_callback_by_name(ctx, "EarlyStopping", 2, es_args);
  assert_non_null(es);
  double seq[] = {1.0, 1.1, 1.2}; /* e1: wait 1 >= patience 1 */
  assert_int_equal(drive(es, m, "loss", seq, 3, NULL), 1);
  /* ReduceLROnPlateau('val_loss', 0.5, epsilon=0) */
  lm_kwarg rl_args[3] = {{.type = LM_KW_STR, .str = "val_loss"},
                         {.type = LM_KW_NUM, .num = 0.5},
                         {.key = "epsilon", .type = LM_KW_NUM, .num = 0}};
  assert_non_null(lm_callback_by_name(ctx, "ReduceLROnPlateau", 3, rl_args));
  /* ModelCheckpoint('w.h5', save_best_only=True), CSVLogger('x.csv'), TerminateOnNaN() */
  lm_kwarg mc_args[2] = {{.type = LM_KW_STR, .str = "w.h5"},
                         {.key = "save_best_only", .type = LM_KW_BOOL, .b = true}};
  lm_callback *mc = lm_callback_by_name(ctx, "ModelCheckpoint", 2, mc_args);
  assert_non_null(mc);
  assert_string_equal(mc->vt->name, "ModelCheckpoint");
  assert_non_null(lm_callback_by_name(ctx, "TerminateOnNaN", 0, NULL));
  /* Python's errors */
  lm_kwarg bad[1] = {{.key = "patiance", .type = LM_KW_NUM, .num = 1}};
  assert_null(lm_callback_by_name(ctx, "EarlyStopping", 1, bad));
  assert_string_equal(lm_errmsg(ctx),
                      "EarlyStopping() got an unexpected keyword argument 'patiance'");
  lm_kwarg dup[2] = {{.type = LM_KW_STR, .str = "loss"},
                     {.key = "monitor", .type = LM_KW_STR, .str = "acc"}};
  assert_null(lm_callback_by_name(ctx, "EarlyStopping", 2, dup));
  assert_string_equal(lm_errmsg(ctx), "EarlyStopping() got multiple values for argument 'monitor'");
  lm_kwarg wrong[1] = {{.key = "patience", .type = LM_KW_STR, .str = "3"}};
  assert_null(lm_callback_by_name(ctx, "EarlyStopping", 1, wrong));
  assert_string_equal(lm_errmsg(ctx), "EarlyStopping(): patience must be a number, not a string");
  assert_null(lm_callback_by_name(ctx, "CSVLogger", 0, NULL));
  assert_non_null(strstr(lm_errmsg(ctx), "missing 1 required positional argument: 'filename'"));
  assert_null(lm_callback_by_name(ctx, "TensorBoard", 0, NULL));
  assert_non_null(strstr(lm_errmsg(ctx), "keras.callbacks.TensorBoard is not available"));
  lm_ctx_free(ctx);
}

int main(void) {
  snprintf(tmpdir, sizeof tmpdir, "/tmp/lamina_cb_XXXXXX");
  if (!mkdtemp(tmpdir)) return 1;
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_py_repr),
      cmocka_unit_test(test_format_path),
      cmocka_unit_test(test_early_stopping_traces),
      cmocka_unit_test(test_reduce_lr_traces),
      cmocka_unit_test(test_csv_logger_bytes),
      cmocka_unit_test(test_fit_timeline),
      cmocka_unit_test(test_scheduler_checkpoint_messages),
      cmocka_unit_test(test_terminate_on_nan),
      cmocka_unit_test(test_by_keras_name),
  };
  int rc = cmocka_run_group_tests(tests, NULL, NULL);
  rmdir(tmpdir);
  return rc;
}

#define _POSIX_C_SOURCE 200809L
/* keras.callbacks.LambdaCallback in model scripts: every hook fires in Keras
 * 2.2.4's order with Keras' arguments (epoch or batch, logs as a dict; logs
 * only for on_train_begin/end), an error inside a hook stops fit at once and
 * is reported at its position, and a hook that is not a function is refused. */
#include "testutil.h"

#include <string.h>

#include "script/script.h"

static int run_src(const char *src, tu_capture *out, tu_capture *err) {
  lm_ctx *ctx = tu_ctx();
  lm_ctx_set_seed(ctx, 1);
  lms_opts o = {.mode = LMS_MODE_RUN, .out = tu_capture_fn, .out_ud = out, .err = tu_capture_fn, .err_ud = err};
  int st = lms_run_source(ctx, "t.py", src, strlen(src), &o);
  lm_ctx_free(ctx);
  return st;
}

#define PRELUDE                                                                                   \
  "import numpy as np\nimport keras\nfrom keras import layers\n"                                 \
  "x = np.random.random((40, 4)).astype('float32')\n"                                            \
  "y = keras.utils.to_categorical(np.random.randint(0, 2, (40,)), 2)\n"                          \
  "model = keras.models.Sequential([layers.Dense(2, activation='softmax', input_shape=(4,))])\n" \
  "model.compile(optimizer='sgd', loss='categorical_crossentropy', metrics=['acc'])\n"

static void test_lambda_callback_timeline(void **state) {
  (void)state;
  const char *src = PRELUDE
      "cb = keras.callbacks.LambdaCallback(\n"
      "    on_train_begin=lambda logs: print('train_begin', logs),\n"
      "    on_epoch_begin=lambda epoch, logs: print('epoch_begin', epoch, logs),\n"
      "    on_batch_begin=lambda batch, logs: print(' batch_begin', batch, logs),\n"
      "    on_batch_end=lambda batch, logs: print(' batch_end', batch, logs['size'], list(logs.keys())),\n"
      "    on_epoch_end=lambda epoch, logs: print('epoch_end', epoch, list(logs.keys()),\n"
      "                                           logs['loss'] > 0, 0 <= logs['val_acc'] <= 1),\n"
      "    on_train_end=lambda logs: print('train_end', logs))\n"
      "h = model.fit(x, y, batch_size=16, epochs=2, verbose=0, validation_split=0.25, callbacks=[cb])\n"
      "print(len(h.history['loss']))\n";
  tu_capture out = {0}, err = {0};
  int st = run_src(src, &out, &err);
  const char *want =
      "train_begin {}\n"
      "epoch_begin 0 {}\n"
      " batch_begin 0 {'batch': 0, 'size': 16}\n"
      " batch_end 0 16 ['batch', 'size', 'loss', 'acc']\n"
      " batch_begin 1 {'batch': 1, 'size': 14}\n"
      " batch_end 1 14 ['batch', 'size', 'loss', 'acc']\n"
      "epoch_end 0 ['val_loss', 'val_acc', 'loss', 'acc'] True True\n"
      "epoch_begin 1 {}\n"
      " batch_begin 0 {'batch': 0, 'size': 16}\n"
      " batch_end 0 16 ['batch', 'size', 'loss', 'acc']\n"
      " batch_begin 1 {'batch': 1, 'size': 14}\n"
      " batch_end 1 14 ['batch', 'size', 'loss', 'acc']\n"
      "epoch_end 1 ['val_loss', 'val_acc', 'loss', 'acc'] True True\n"
      "train_end {}\n"
      "2\n";
  if (st != 0 || !out.text || strcmp(out.text, want) != 0) {
    fprintf(stderr, "status %d\nout:\n%s\nerr:\n%s\n", st, out.text ? out.text : "", err.text ? err.text : "");
    fail();
  }
  free(out.text);
  free(err.text);
}

static void expect_first_err(const char *src, const char *want, const char *want_out) {
  tu_capture out = {0}, err = {0};
  int st = run_src(src, &out, &err);
  const char *e = err.text ? err.text : "";
  const char *nl = strchr(e, '\n');
  size_t n = nl ? (size_t)(nl - e) : strlen(e);
  const char *o = out.text ? out.text : "";
  if (st != 2 || n != strlen(want) || strncmp(e, want, n) != 0 || strcmp(o, want_out) != 0) {
    fprintf(stderr, "status %d\nout:\n%s\nerr:\n%s\nwanted:\n%s\n", st, o, e, want);
    fail();
  }
  free(out.text);
  free(err.text);
}

static void test_lambda_callback_errors(void **state) {
  (void)state;
  /* the error stops fit at the end of epoch 0: epoch 1 never begins */
  expect_first_err(PRELUDE
                   "cb = keras.callbacks.LambdaCallback(on_epoch_begin=lambda e, logs: print('begin', e),\n"
                   "                                    on_epoch_end=lambda e, logs: logs['nope'])\n"
                   "model.fit(x, y, epochs=3, verbose=0, callbacks=[cb])\n",
                   "t.py:9:71: error: KeyError: 'nope'", "begin 0\n");
  expect_first_err(PRELUDE
                   "cb = keras.callbacks.LambdaCallback(on_train_begin=lambda epoch, logs: 0)\n"
                   "model.fit(x, y, epochs=1, verbose=0, callbacks=[cb])\n",
                   "t.py:8:37: error: <lambda>() takes 2 positional arguments but 1 were given", "");
  expect_first_err(PRELUDE "cb = keras.callbacks.LambdaCallback(on_batch_end=3)\n",
                   "t.py:8:37: error: LambdaCallback: on_batch_end must be a function (a lambda), not int", "");
}

/* keras.callbacks.History(): empty before fit; after a fit it was passed to,
 * it holds what fit's returned History holds (Keras resets it at each
 * fit's start); it can sit among other callbacks. */
static void test_history_callback(void **state) {
  (void)state;
  const char *src = PRELUDE
      "from keras.callbacks import History\n"
      "hist = History()\n"
      "print(hist.history, hist.epoch, hist.model)\n"
      "es = keras.callbacks.EarlyStopping(monitor='loss', patience=5)\n"
      "h = model.fit(x, y, batch_size=16, epochs=3, verbose=0, validation_split=0.25, callbacks=[es, hist])\n"
      "print(list(hist.history.keys()), hist.epoch, len(hist.history['val_loss']))\n"
      "print(hist.history['loss'] == h.history['loss'], hist.model is model)\n"
      "h2 = model.fit(x, y, batch_size=16, epochs=1, verbose=0, callbacks=[hist])\n"
      "print(list(hist.history.keys()), hist.epoch, hist.history['loss'] == h2.history['loss'])\n"
      "print(hist, keras.callbacks.History().history)\n";
  tu_capture out = {0}, err = {0};
  int st = run_src(src, &out, &err);
  const char *want =
      "{} [] None\n"
      "['loss', 'acc', 'val_loss', 'val_acc'] [0, 1, 2] 3\n"
      "True True\n"
      "['loss', 'acc'] [0] True\n"
      "<History> {}\n";
  if (st != 0 || !out.text || strcmp(out.text, want) != 0) {
    fprintf(stderr, "status %d\nout:\n%s\nerr:\n%s\n", st, out.text ? out.text : "", err.text ? err.text : "");
    fail();
  }
  free(out.text);
  free(err.text);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_lambda_callback_timeline),
      cmocka_unit_test(test_lambda_callback_errors),
      cmocka_unit_test(test_history_callback),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}

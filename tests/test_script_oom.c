/* Model scripts under allocation failure: each script below runs with the
 * ctx allocator failing its n-th allocation, for every n until a run needs
 * no failure. Every failed run must end with status 1 (a runtime failure),
 * an "out of memory" report at a file:line of the script (or at the script
 * itself when the failure came before any statement: parsing), no crash,
 * and nothing left allocated once the context is freed (the allocator counts
 * live blocks; ASan checks the rest). A run whose failure was absorbed (a
 * cache that is allowed to fail) must print exactly what the clean run
 * printed.
 *
 * Error sites that this sweep is the test for (tests/script_error_sites.py
 * lists them as untested by message): value.c lms_alloc "out of memory",
 * eval.c to_cstr / print / buf_value "out of memory", lms_run_source's
 * "t.py: error: out of memory" (the interpreter's own allocation).
 *
 * Sites that no input reaches (defensive checks, kept so that a later change
 * cannot turn them into a crash; tests/script_error_sites.py lists them as
 * 'documented'):
 *   eval.c buf_open "text buffers nested too deeply": at most 3 buffers are
 *     open at once (str of a container holding a formatted value);
 *   eval.c "statement used as an expression", "unsupported statement",
 *     "a slice is only valid inside [ ]", "cannot assign to this
 *     expression": the parser builds statements, slices and assignment
 *     targets only where they belong;
 *   array.c new_tensor "negative dimensions are not allowed": its callers
 *     pass shapes already checked (lms_shape_of, reshape's own check);
 *   registry.c "Reshape: target_shape holds ints", value.c "expected a shape
 *     (an int or a tuple of ints), not %s": the argument spec's 'S' type
 *     refuses the value first, with the message naming the argument;
 *   keras.c "LambdaCallback: the script's function failed": the library
 *     error fit returns when a LambdaCallback's function failed; the report
 *     shows the function's own error instead (the callback cases of
 *     test_script_callbacks.c). */
#include <string.h>

#include "script/script.h"
#include "testutil.h"

typedef struct script_case {
  const char *name;
  const char *src;
  long stride; /* check every stride-th failure point (1: all) */
} script_case;

static const script_case scripts[] = {
    {"lists, dicts, strings",
     "x = [1, 2.5, 'a', None, (3, 4)]\n"
     "d = {'k': x, 'n': len(x)}\n"
     "d['m'] = list(range(3)) if x else None\n"
     "s = 'v=%d %.2f %s' % (3, 1.5, 'z') + ' {} {:>6.2f}'.format(d['n'], 2.25)\n"
     "x.append(s)\n"
     "t = [3, 1, 2] * 2\n"
     "f = lambda v: v * 2\n"
     "print(x, d, s, t, list(d.keys()), max(t), sum(t), f(1.5), '-'.join(['a', 'b']), repr('q'))\n",
     1},
    {"arrays",
     "import numpy as np\n"
     "np.random.seed(1)\n"
     "a = np.random.random((4, 3)).astype('float32')\n"
     "b = (a * 2.0 + 1.0)[1:3].reshape(-1)\n"
     "c = np.zeros((2, 3)) + np.ones((2, 3))\n"
     "print(a.shape, b.shape, c.sum(), np.arange(5)[-2:], np.argmax(a, axis=-1).shape)\n",
     1},
    {"functional model",
     "import keras\n"
     "from keras import layers\n"
     "i = keras.Input(shape=(4,))\n"
     "h = layers.Dense(3, activation='relu')(i)\n"
     "j = layers.Dense(3)(i)\n"
     "o = layers.Dense(2, activation='softmax')(layers.add([h, j]))\n"
     "m = keras.Model(i, o)\n"
     "m.summary()\n"
     "print(len(m.layers), m.count_params())\n",
     1},
    {"fit one epoch",
     "import numpy as np\n"
     "from keras.models import Sequential\n"
     "from keras import layers\n"
     "m = Sequential()\n"
     "m.add(layers.Dense(4, activation='relu', input_shape=(3,)))\n"
     "m.add(layers.Dense(2, activation='softmax'))\n"
     "m.compile(optimizer='rmsprop', loss='categorical_crossentropy', metrics=['accuracy'])\n"
     "x = np.random.random((8, 3))\n"
     "y = np.random.random((8, 2))\n"
     "h = m.fit(x, y, epochs=1, batch_size=4, verbose=0, validation_split=0.25)\n"
     "print(list(h.history.keys()))\n"
     "print(len(m.evaluate(x, y, verbose=0)), m.predict(x, verbose=0).shape)\n",
     1},
    {"files: np.save/np.load, model.save/load_model",
     "import numpy as np\n"
     "import keras\n"
     "from keras import layers\n"
     "np.save('oom_a.npy', np.arange(6).reshape(2, 3))\n"
     "a = np.load('oom_a.npy')\n"
     "m = keras.models.Sequential([layers.Dense(2, input_shape=(3,))])\n"
     "m.compile(optimizer='adam', loss='mse')\n"
     "m.save('oom_m.safetensors')\n"
     "n = keras.models.load_model('oom_m.safetensors')\n"
     "print(a.shape, n.predict(a.astype('float32'), verbose=0).shape)\n",
     1},
    {"lecture MLP listing, tiny data",
     "from keras.models import Sequential, Model\n"
     "from keras import layers\n"
     "from keras import Input\n"
     "seq_model = Sequential()\n"
     "seq_model.add(layers.Dense(32, activation='relu', input_shape=(64,)))\n"
     "seq_model.add(layers.Dense(32, activation='relu'))\n"
     "seq_model.add(layers.Dense(10, activation='softmax'))\n"
     "input_tensor = Input(shape=(64,))\n"
     "x = layers.Dense(32, activation='relu')(input_tensor)\n"
     "x = layers.Dense(32, activation='relu')(x)\n"
     "output_tensor = layers.Dense(10, activation='softmax')(x)\n"
     "model = Model(input_tensor, output_tensor)\n"
     "model.summary()\n"
     "model.compile(optimizer='rmsprop', loss='categorical_crossentropy')\n"
     "import numpy as np\n"
     "x_train = np.random.random((10, 64))\n"
     "y_train = np.random.random((10, 10))\n"
     "model.fit(x_train, y_train, epochs=1, batch_size=5)\n"
     "score = model.evaluate(x_train, y_train)\n",
     1},
};

/* out without the progress-bar lines ("10/10 [====] - 0s 70us/step - loss:
 * ..."): they hold timings, and the progress bar drops a line whose buffer
 * could not grow (src/train/progbar.c: logging is best effort; the fit or
 * evaluate statement itself still runs and reports). */
static char *without_progress(const char *text) {
  size_t n = strlen(text);
  char *o = malloc(n + 1), *w = o;
  assert_non_null(o);
  for (const char *l = text; *l;) {
    const char *nl = strchr(l, '\n');
    size_t len = nl ? (size_t)(nl - l + 1) : strlen(l);
    char line[512];
    size_t k = len < sizeof line - 1 ? len : sizeof line - 1;
    memcpy(line, l, k);
    line[k] = 0;
    if (!strstr(line, "/step") && !strstr(line, " - ETA")) {
      memcpy(w, l, len);
      w += len;
    }
    l += len;
  }
  *w = 0;
  return o;
}

static int run_once(const char *src, lm_ctx *ctx, tu_capture *out, tu_capture *err) {
  lm_ctx_set_log(ctx, NULL, NULL);
  lm_ctx_set_seed(ctx, 1);
  lms_opts o = {.mode = LMS_MODE_RUN, .out = tu_capture_fn, .out_ud = out, .err = tu_capture_fn, .err_ud = err};
  return lms_run_source(ctx, "t.py", src, strlen(src), &o);
}

static void sweep(const script_case *sc) {
  /* the clean run: what a run that absorbed its failure must print */
  tu_capture ref = {0}, referr = {0};
  lm_ctx *ctx = tu_ctx();
  int st = run_once(sc->src, ctx, &ref, &referr);
  lm_ctx_free(ctx);
  if (st != LMS_OK) fprintf(stderr, "%s: the clean run failed:\n%s\n", sc->name, referr.text ? referr.text : "");
  assert_int_equal(st, LMS_OK);
  long n, points = 0, absorbed = 0;
  int bad = 0;
  for (n = 0;; n += sc->stride) {
    tu_failalloc fa = {.countdown = n};
    ctx = lm_ctx_new(tu_failalloc_fn, &fa);
    if (!ctx) {
      assert_int_equal(fa.live, 0);
      continue;
    }
    tu_capture out = {0}, err = {0};
    st = run_once(sc->src, ctx, &out, &err);
    lm_ctx_free(ctx);
    const char *e = err.text ? err.text : "";
    if (fa.failed == 0) { /* past the last allocation: done */
      assert_int_equal(st, LMS_OK);
      free(out.text);
      free(err.text);
      break;
    }
    points++;
    if (st == LMS_OK) {
      absorbed++;
      char *o = without_progress(out.text ? out.text : ""), *r = without_progress(ref.text ? ref.text : "");
      if (strcmp(o, r) != 0) {
        fprintf(stderr, "%s: allocation %ld failed, the run succeeded but printed:\n%s\ninstead of:\n%s\n",
                sc->name, n, o, r);
        bad++;
      }
      free(o);
      free(r);
    } else if (st != LMS_RUNTIME || !strstr(e, "out of memory") || strncmp(e, "t.py:", 5) != 0) {
      fprintf(stderr, "%s: allocation %ld failed: status %d, report:\n%s\n", sc->name, n, st, e);
      bad++;
    }
    if (fa.live != 0) {
      fprintf(stderr, "%s: allocation %ld failed: %ld blocks leaked\n", sc->name, n, fa.live);
      bad++;
    }
    free(out.text);
    free(err.text);
    if (bad > 5) break;
  }
  print_message("%s: %ld failure points checked (every %ld), %ld absorbed, %d bad\n", sc->name, points,
                sc->stride, absorbed, bad);
  free(ref.text);
  free(referr.text);
  assert_int_equal(bad, 0);
}

static void test_lists_dicts_strings(void **state) {
  (void)state;
  sweep(&scripts[0]);
}
static void test_arrays(void **state) {
  (void)state;
  sweep(&scripts[1]);
}
static void test_functional(void **state) {
  (void)state;
  sweep(&scripts[2]);
}
static void test_fit(void **state) {
  (void)state;
  sweep(&scripts[3]);
}
static void test_files(void **state) {
  (void)state;
  sweep(&scripts[4]);
}
static void test_lecture_mlp(void **state) {
  (void)state;
  sweep(&scripts[5]);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_lists_dicts_strings), cmocka_unit_test(test_arrays),
      cmocka_unit_test(test_functional),          cmocka_unit_test(test_fit),
      cmocka_unit_test(test_files),               cmocka_unit_test(test_lecture_mlp),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}

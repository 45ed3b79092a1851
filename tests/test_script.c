#define _POSIX_C_SOURCE 200809L
/* Model scripts: every construct of the language (output compared with what
 * Python prints), arrays and numpy functions, the Keras names, the lecture's
 * listings (run and summary), and the error corpus tests/scripts/errors. */
#include "testutil.h"

#include <dirent.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include "script/script.h"

/* tests/ (this file's folder), for the golden files and the corpus */
static const char *tests_dir(void) {
  static char dir[1024];
  snprintf(dir, sizeof dir, "%s", __FILE__);
  char *slash = strrchr(dir, '/');
  if (slash) *slash = 0;
  else snprintf(dir, sizeof dir, ".");
  return dir;
}

static char *read_rel(const char *rel) {
  char path[1200];
  snprintf(path, sizeof path, "%s/%s", tests_dir(), rel);
  return tu_read_text(path);
}

typedef struct run_result {
  int status;
  tu_capture out, err;
} run_result;

static void run_mode(run_result *r, const char *name, const char *src, lms_mode mode) {
  memset(r, 0, sizeof *r);
  lm_ctx *ctx = tu_ctx();
  lm_ctx_set_seed(ctx, 1);
  lms_opts o = {.mode = mode, .out = tu_capture_fn, .out_ud = &r->out, .err = tu_capture_fn, .err_ud = &r->err};
  r->status = lms_run_source(ctx, name, src, strlen(src), &o);
  lm_ctx_free(ctx);
}

static void run(run_result *r, const char *src) { run_mode(r, "t.py", src, LMS_MODE_RUN); }

static void done(run_result *r) {
  free(r->out.text);
  free(r->err.text);
}

static const char *text(const tu_capture *c) { return c->text ? c->text : ""; }

/* src prints exactly want */
static void expect_out(const char *src, const char *want) {
  run_result r;
  run(&r, src);
  if (r.status != 0 || strcmp(text(&r.out), want) != 0) {
    fprintf(stderr, "script:\n%s\nwanted:\n%s\ngot (status %d):\n%s\nerrors:\n%s\n", src, want, r.status,
            text(&r.out), text(&r.err));
    fail();
  }
  done(&r);
}

/* src fails with status, and the report's first line is want */
static void expect_err(const char *src, int status, const char *want) {
  run_result r;
  run(&r, src);
  const char *e = text(&r.err);
  const char *nl = strchr(e, '\n');
  size_t n = nl ? (size_t)(nl - e) : strlen(e);
  if (r.status != status || n != strlen(want) || strncmp(e, want, n) != 0) {
    fprintf(stderr, "script:\n%s\nwanted status %d and:\n%s\ngot status %d:\n%s\n", src, status, want, r.status, e);
    fail();
  }
  done(&r);
}

static void test_literals_and_print(void **state) {
  (void)state;
  expect_out("print(1, 2.5, 'a', \"b\", None, True, False)\n", "1 2.5 a b None True False\n");
  expect_out("print((1,), (1, 2), [], [1, [2]], {'a': 1, 2: 'b'})\n", "(1,) (1, 2) [] [1, [2]] {'a': 1, 2: 'b'}\n");
  expect_out("print(1e20, 1e-5, 0.1 + 0.2, 7.0, 1e16, 123456789.0, -0.0)\n",
             "1e+20 1e-05 0.30000000000000004 7.0 1e+16 123456789.0 -0.0\n");
  expect_out("print('''tri\nple''', 'a' 'b', r'\\n', '\\t|', '\\x41\\u00e9')\n", "tri\nple ab \\n \t| A\xc3\xa9\n");
  expect_out("print(1, 2, sep='-', end='!\\n')\n", "1-2!\n");
  expect_out("print(repr('it\\'s'), repr(\"q\"), str(3), repr([1.5]))\n", "\"it's\" 'q' 3 [1.5]\n");
  expect_out("x = 0x1f + 0o7 + 0b11 + 1_000\nprint(x)\n", "1041\n");
  expect_out("# comment only\n\nprint('x')  # trailing\n", "x\n");
  expect_out("x = 1; y = 2; print(x + y)\n", "3\n");
  expect_out("x = [1,\n     2,\n     3]\nprint(x)\n", "[1, 2, 3]\n");
  expect_out("x = 1 + \\\n    2\nprint(x)\n", "3\n");
  expect_out("pass\nprint('ok')\n", "ok\n");
}

static void test_arithmetic(void **state) {
  (void)state;
  expect_out("print(7 // 2, -7 // 2, 7 % 3, -7 % 3, 7 / 2, 2 ** 10, 2 ** -1, 2.0 ** 0.5)\n",
             "3 -4 1 2 3.5 1024 0.5 1.4142135623730951\n");
  expect_out("print(-7.5 // 2, -7.5 % 2, 1 + True, -(-3), +4)\n", "-4.0 0.5 2 3 4\n");
  expect_out("print('ab' + 'cd', 'ab' * 2, [1] * 3, (1,) + (2,), [1] + [2])\n", "abcd abab [1, 1, 1] (1, 2) [1, 2]\n");
  expect_out("print(1 < 2 < 3, 1 < 2 > 3, 1 == 1.0, 'a' != 'b', 2 >= 2, 'b' > 'a', [1, 2] < [1, 3])\n",
             "True False True True True True True\n");
  expect_out("print(1 in [1, 2], 3 not in (1, 2), 'k' in {'k': 1}, 'b' in 'abc', None is None, 1 is not None)\n",
             "True True True True True True\n");
  expect_out("print(1 and 2, 0 and 2, 0 or 'x', not 0, not [1], 1 if 0 else 2, 'y' if 1 else 'n')\n",
             "2 0 x True False 2 y\n");
  expect_out("x = 5\nx += 2\nx *= 3\nx -= 1\nx //= 2\nprint(x)\nl = [1]\nl += [2]\nprint(l)\n", "10\n[1, 2]\n");
  expect_out("print('%.3f|%5d|%s|%r|%%|%e' % (3.14159, 42, 'a', 'b', 1234.5))\n",
             "3.142|   42|a|'b'|%|1.234500e+03\n");
  expect_out("print('{} {:.2f} {:>5} {:,d} {name}'.format(1, 2.5, 'r', 1234567, name='n'), '{1} {0}'.format(1, 2))\n",
             "1 2.50     r 1,234,567 n 2 1\n");
  expect_out("print('{:.1%}'.format(0.25), '-'.join(['a', 'b']), 'Ab'.upper(), 'Ab'.lower())\n",
             "25.0% a-b AB ab\n");
}

static void test_containers_and_builtins(void **state) {
  (void)state;
  expect_out("l = [1, 2, 3, 4]\nprint(l[0], l[-1], l[1:3], l[::-1], l[:-1], len(l))\n",
             "1 4 [2, 3] [4, 3, 2, 1] [1, 2, 3] 4\n");
  expect_out("t = (1, 'a')\nprint(t[1], 'hello'[1:3], 'hello'[-1])\n", "a el o\n");
  expect_out("d = {'a': 1}\nd['b'] = 2\nprint(d, d['b'], d.get('c', 0), list(d.keys()), d.values(), d.items())\n",
             "{'a': 1, 'b': 2} 2 0 ['a', 'b'] [1, 2] [('a', 1), ('b', 2)]\n");
  expect_out("l = []\nl.append(3)\nl[0] = 4\nprint(l, len('abc'), len({}))\n", "[4] 3 0\n");
  expect_out("print(range(3), range(1, 7, 2), list(range(3, 0, -1)))\n", "[0, 1, 2] [1, 3, 5] [3, 2, 1]\n");
  expect_out("print(int(3.9), int('12'), float(2), float('1.5'), str(1.0), bool(0), abs(-2), abs(-2.5))\n",
             "3 12 2.0 1.5 1.0 False 2 2.5\n");
  expect_out("print(min(3, 1, 2), max([1, 5, 2]), sum([1, 2, 3]), sum([1, 2.5]), round(2.5), round(3.14159, 2))\n",
             "1 5 6 3.5 2 3.14\n");
  expect_out("print(tuple([1, 2]), list((3,)), dict(a=1))\n", "(1, 2) [3] {'a': 1}\n");
}

static void test_assignment_and_lambda(void **state) {
  (void)state;
  expect_out("a, b = 1, 2\nprint(a, b)\n(c, d), (e, f) = (1, 2), (3, 4)\nprint(c, d, e, f)\n", "1 2\n1 2 3 4\n");
  expect_out("[a, b] = [5, 6]\nx = y = 7\nprint(a, b, x, y)\n", "5 6 7 7\n");
  expect_out("f = lambda e: 0.1 * 0.5 ** e\nprint(f(0), f(2))\ng = lambda: 3\nprint(g())\n", "0.1 0.025\n3\n");
  expect_out("k = 2\nh = lambda x, y: x * y + k\nprint(h(3, 4))\n", "14\n");
  expect_out("import sys\nprint(sys.argv[0])\n", "t.py\n");
}

static void test_arrays(void **state) {
  (void)state;
  expect_out("import numpy as np\nx = np.arange(6)\nprint(x.shape, x.dtype, x.ndim, x.size, x[2], x[-1])\n",
             "(6,) int32 1 6 2 5\n");
  expect_out("import numpy as np\nx = np.arange(6).reshape(2, -1)\nprint(x.shape, x.reshape((-1,)).shape, x[1], x[-1:].shape)\n",
             "(2, 3) (6,) array([3, 4, 5], dtype=int32) (1, 3)\n");
  expect_out("import numpy as np\nx = np.arange(4).astype('float32') / 2\nprint(x, x.dtype, (x * 2 + 1)[3], (1 - x)[0])\n",
             "array([0, 0.5, 1, 1.5], dtype=float32) float32 4.0 1.0\n");
  expect_out("import numpy as np\nx = np.ones((3, 2), dtype='int32')\nprint(x.sum(), (x * 3).max(), np.zeros(2), np.mean(np.arange(5)))\n",
             "6 3 array([0, 0], dtype=float32) 2.0\n");
  expect_out("import numpy as np\nx = np.arange(10)\nprint(x[:3], x[-2:], x[::4], x[2:8:3], len(x[5:]))\n",
             "array([0, 1, 2], dtype=int32) array([8, 9], dtype=int32) array([0, 4, 8], dtype=int32) "
             "array([2, 5], dtype=int32) 5\n");
  expect_out("import numpy as np\nnp.random.seed(3)\na = np.random.random((4, 5))\nnp.random.seed(3)\nb = np.random.random((4, 5))\n"
             "print(a.shape, (a - b).max(), a.min() >= 0, a.max() < 1)\n",
             "(4, 5) 0.0 True True\n");
  expect_out("import numpy as np\nr = np.random.randint(1, 4, size=(50,))\nprint(r.min() >= 1, r.max() <= 3, r.dtype)\n"
             "print(np.random.rand(2, 3).shape, np.random.randn(4).shape, np.random.randint(5, size=3).shape)\n"
             "print(np.random.uniform(-1, 1, size=(2,)).shape, np.random.normal(0, 1, (3, 1)).shape)\n",
             "True True int32\n(2, 3) (4,) (3,)\n(2,) (3, 1)\n");
  expect_out("import numpy as np\nx = np.array([[1, 2], [3, 4]])\nprint(x.shape, x.dtype, np.array([1.5]).dtype, np.argmax(np.array([[1, 5], [7, 2]]), axis=-1))\n",
             "(2, 2) int32 float32 array([1, 0], dtype=int32)\n");
  expect_out("from keras.utils import to_categorical\nimport numpy as np\ny = to_categorical(np.array([0, 2, 1]))\nprint(y.shape, y[1], to_categorical([1], num_classes=4)[0])\n",
             "(3, 3) array([0, 0, 1], dtype=float32) array([0, 1, 0, 0], dtype=float32)\n");
  expect_out("import numpy as np\nx = np.arange(6)\nnp.random.shuffle(x)\nprint(x.sum(), np.arange(0, 1, 0.25))\n",
             "15 array([0, 0.25, 0.5, 0.75], dtype=float32)\n");
}

static void test_array_files(void **state) {
  (void)state;
  expect_out("import numpy as np\nx = np.arange(12).reshape(3, 4) * 0.5\nnp.save('test_script_a.npy', x)\n"
             "y = np.load('test_script_a.npy')\nprint(y.shape, y.dtype, (y - x).max())\nnp.save('test_script_b', np.arange(3))\n"
             "print(np.load('test_script_b.npy'))\n",
             "(3, 4) float32 0.0\narray([0, 1, 2], dtype=int32)\n");
  unlink("test_script_a.npy");
  unlink("test_script_b.npy");
  FILE *f = fopen("test_script.csv", "w");
  assert_non_null(f);
  fputs("a,b\n1,2.5\n3,4\n", f);
  fclose(f);
  expect_out("import numpy as np\nd = np.loadtxt('test_script.csv', delimiter=',', skiprows=1)\nprint(d.shape, d[0])\n",
             "(2, 2) array([1, 2.5], dtype=float32)\n");
  unlink("test_script.csv");
  expect_err("import numpy as np\nnp.load('no_such_file.npy')\n", 1, "t.py:2:1: error: cannot open 'no_such_file.npy': No such file or directory");
}

static void write_idx(const char *path, int nd, const int *dims, unsigned char base) {
  gzFile gz = gzopen(path, "wb");
  assert_non_null(gz);
  unsigned char hdr[4] = {0, 0, 8, (unsigned char)nd};
  gzwrite(gz, hdr, 4);
  size_t total = 1;
  for (int i = 0; i < nd; i++) {
    unsigned char d[4] = {(unsigned char)(dims[i] >> 24), (unsigned char)(dims[i] >> 16), (unsigned char)(dims[i] >> 8),
                          (unsigned char)dims[i]};
    gzwrite(gz, d, 4);
    total *= (size_t)dims[i];
  }
  for (size_t i = 0; i < total; i++) {
    unsigned char v = (unsigned char)((base + i) % (nd == 1 ? 10 : 256));
    gzwrite(gz, &v, 1);
  }
  gzclose(gz);
}

static void test_fashion_mnist_loader(void **state) {
  (void)state;
  mkdir("test_script_fm", 0755);
  int img_tr[3] = {6, 28, 28}, lab_tr[1] = {6}, img_te[3] = {2, 28, 28}, lab_te[1] = {2};
  write_idx("test_script_fm/train-images-idx3-ubyte.gz", 3, img_tr, 0);
  write_idx("test_script_fm/train-labels-idx1-ubyte.gz", 1, lab_tr, 0);
  write_idx("test_script_fm/t10k-images-idx3-ubyte.gz", 3, img_te, 5);
  write_idx("test_script_fm/t10k-labels-idx1-ubyte.gz", 1, lab_te, 3);
  setenv("LAMINA_FASHION_MNIST", "test_script_fm", 1);
  expect_out("from keras.datasets import fashion_mnist\n(x_train, y_train), (x_test, y_test) = fashion_mnist.load_data()\n"
             "print(x_train.shape, y_train.shape, x_test.shape, y_test, x_train[0][0][3], x_train.dtype)\n",
             "(6, 28, 28) (6,) (2, 28, 28) array([3, 4], dtype=int32) 3 int32\n");
  setenv("LAMINA_FASHION_MNIST", "test_script_no_such_dir", 1);
  expect_err("import keras\nd = keras.datasets.fashion_mnist.load_data()\n", 1,
             "t.py:2:5: error: Fashion-MNIST not found: install Debian's dataset-fashion-mnist package "
             "(apt-get install dataset-fashion-mnist) or set LAMINA_FASHION_MNIST to a folder holding "
             "train-images-idx3-ubyte.gz and the other three IDX files");
  unsetenv("LAMINA_FASHION_MNIST");
  unlink("test_script_fm/train-images-idx3-ubyte.gz");
  unlink("test_script_fm/train-labels-idx1-ubyte.gz");
  unlink("test_script_fm/t10k-images-idx3-ubyte.gz");
  unlink("test_script_fm/t10k-labels-idx1-ubyte.gz");
  rmdir("test_script_fm");
}

static const char *lecture_mlp =
    "from keras.models import Sequential, Model\n"
    "from keras import layers\n"
    "from keras import Input\n"
    "seq_model = Sequential()\n"
    "seq_model.add(layers.Dense(32, activation='relu', input_shape=(64,)))\n"
    "seq_model.add(layers.Dense(32, activation='relu'))\n"
    "seq_model.add(layers.Dense(10, activation='softmax'))\n"
    "\n"
    "input_tensor = Input(shape=(64,))\n"
    "x = layers.Dense(32, activation='relu')(input_tensor)\n"
    "x = layers.Dense(32, activation='relu')(x)\n"
    "output_tensor = layers.Dense(10, activation='softmax')(x)\n"
    "model = Model(input_tensor, output_tensor)\n"
    "model.summary()\n"
    "\n"
    "model.compile(optimizer='rmsprop', loss='categorical_crossentropy')\n"
    "import numpy as np\n"
    "x_train = np.random.random((1000, 64))\n"
    "y_train = np.random.random((1000, 10))\n"
    "model.fit(x_train, y_train, epochs=10, batch_size=128)\n"
    "score = model.evaluate(x_train, y_train)\n";

static int count(const char *hay, const char *needle) {
  int n = 0;
  for (const char *p = strstr(hay, needle); p; p = strstr(p + 1, needle)) n++;
  return n;
}

static void test_lecture_mlp_runs(void **state) {
  (void)state;
  run_result r;
  run(&r, lecture_mlp);
  assert_int_equal(r.status, 0);
  const char *o = text(&r.out);
  assert_int_equal(count(o, "Total params: 3,466"), 1);
  assert_non_null(strstr(o, "dense_4 (Dense)              (None, 32)                2080"));
  assert_non_null(strstr(o, "Epoch 10/10"));
  assert_int_equal(count(o, "loss: "), 11); /* ten epochs and evaluate */
  done(&r);
}

static void test_lecture_mlp_summary(void **state) {
  (void)state;
  run_result r;
  run_mode(&r, "t.py", lecture_mlp, LMS_MODE_SUMMARY);
  assert_int_equal(r.status, 0);
  const char *o = text(&r.out);
  char *golden_seq = read_rel("golden/lecture_sequential_mlp.txt");
  char *golden_fn = read_rel("golden/lecture_functional_mlp.txt");
  assert_non_null(golden_seq);
  assert_non_null(golden_fn);
  assert_int_equal(count(o, "Total params: 3,466"), 2);
  assert_null(strstr(o, "Epoch")); /* no training */
  assert_non_null(strstr(o, golden_fn));
  assert_true(strncmp(o, golden_seq, strlen(golden_seq)) == 0);
  free(golden_seq);
  free(golden_fn);
  done(&r);
}

static void test_keras_api_model(void **state) {
  (void)state;
  expect_out("import keras\nimport numpy as np\nfrom keras.layers import Dense, Dropout\n"
             "a = keras.Input(shape=(4,), name='a')\nb = keras.layers.Input(shape=(4,))\n"
             "s = keras.layers.add([a, b])\nc = keras.layers.concatenate([s, a], axis=-1)\n"
             "h = Dropout(0.1)(Dense(3, activation='relu', name='hid')(c))\n"
             "o = Dense(2, activation='softmax')(h)\n"
             "m = keras.models.Model(inputs=[a, b], outputs=o)\n"
             "print(len(m.layers), m.get_layer('hid').name, m.count_params(), m.input_names, m.output_names)\n"
             "w = m.get_layer('hid').get_weights()\nprint(w[0].shape, w[1].shape)\n"
             "m.get_layer('hid').set_weights([np.zeros((8, 3)), np.ones(3)])\n"
             "print(m.get_layer('hid').get_weights()[1])\n"
             "opt = keras.optimizers.Adam(lr=0.01)\n"
             "m.compile(optimizer=opt, loss='categorical_crossentropy', metrics=['acc'])\n"
             "print(m.metrics_names, m.optimizer.lr)\n"
             "x = np.random.random((20, 4))\ny = keras.utils.to_categorical(np.random.randint(0, 2, size=(20,)), 2)\n"
             "hist = m.fit([x, x], y, epochs=2, batch_size=5, verbose=0, validation_split=0.25)\n"
             "print(list(hist.history.keys()), len(hist.history['val_loss']), hist.epoch)\n"
             "r = m.evaluate({'a': x, 'input_1': x}, y, verbose=0)\nprint(len(r))\n"
             "p = m.predict([x, x])\nprint(p.shape)\n"
             "m.save('test_script_model.safetensors')\n"
             "m2 = keras.models.load_model('test_script_model.safetensors')\n"
             "p2 = m2.predict([x, x])\nprint((p2 - p).max(), m2.name)\n",
             "7 hid 35 ['a', 'input_1'] ['dense_1']\n(8, 3) (3,)\narray([1, 1, 1], dtype=float32)\n"
             "['loss', 'acc'] 0.009999999776482582\n['loss', 'acc', 'val_loss', 'val_acc'] 2 [0, 1]\n2\n(20, 2)\n0.0 model_1\n");
  unlink("test_script_model.safetensors");
  expect_out("from keras import models, layers, optimizers\nm = models.Sequential([layers.Dense(4, input_dim=3), layers.Activation('tanh')])\n"
             "m.add(layers.Reshape((2, 2)))\nm.add(layers.Flatten())\nm.compile(optimizers.SGD(lr=0.1, momentum=0.9, nesterov=True), 'mse')\n"
             "print(len(m.layers), m.layers[0].name, m.count_params())\n"
             "m.layers[0].trainable = False\nprint(m.layers[0].trainable)\n",
             "4 dense_1 16\nFalse\n");
  expect_out("from tensorflow import keras\nfrom tensorflow.keras import layers\nimport tensorflow as tf\n"
             "x = tf.keras.Input(shape=(2,))\ny = layers.Dense(1, use_bias=False)(x)\nm = keras.Model(x, y)\nprint(m.count_params())\n"
             "keras.backend.clear_session()\nprint(layers.Dense(1).name, keras.losses.mse, keras.activations.relu, keras.optimizers.RMSprop(rho=0.8).lr)\n",
             "2\ndense_1 mse relu 0.0010000000474974513\n");
}

static void test_callbacks(void **state) {
  (void)state;
  expect_out("import numpy as np\nfrom keras import layers, models, callbacks\n"
             "m = models.Sequential([layers.Dense(4, activation='relu', input_shape=(3,)), layers.Dense(1)])\n"
             "m.compile('sgd', 'mse')\nx = np.random.random((64, 3))\ny = np.random.random((64, 1))\n"
             "h = m.fit(x, y, epochs=4, verbose=0, validation_split=0.25, callbacks=[\n"
             "    callbacks.LearningRateScheduler(lambda epoch: 0.1 * 0.5 ** epoch),\n"
             "    callbacks.EarlyStopping(monitor='val_loss', patience=100),\n"
             "    callbacks.CSVLogger('test_script_log.csv'), callbacks.TerminateOnNaN(),\n"
             "    callbacks.ReduceLROnPlateau(patience=50), callbacks.ModelCheckpoint('test_script_ck.safetensors')])\n"
             "print(len(h.history['loss']), m.optimizer.lr)\n",
             "4 0.012500000186264515\n");
  char *csv = tu_read_text("test_script_log.csv");
  assert_non_null(csv);
  assert_true(strncmp(csv, "epoch,loss,lr,val_loss", 22) == 0);
  free(csv);
  unlink("test_script_log.csv");
  unlink("test_script_ck.safetensors");
  expect_err("import numpy as np\nfrom keras import layers, models, callbacks\n"
             "m = models.Sequential([layers.Dense(1, input_shape=(3,))])\nm.compile('sgd', 'mse')\n"
             "s = callbacks.LearningRateScheduler(lambda e: e / 0)\n"
             "m.fit(np.zeros((8, 3)), np.zeros((8, 1)), epochs=3, verbose=0, callbacks=[s])\n",
             2, "t.py:5:49: error: division by zero");
  expect_err("from keras import callbacks\ncallbacks.LearningRateScheduler(3)\n", 2,
             "t.py:2:33: error: LearningRateScheduler: schedule must be a function (a lambda), not int");
  expect_err("from keras import callbacks\ncallbacks.RemoteMonitor()\n", 2,
             "t.py:2:11: error: keras.callbacks.RemoteMonitor is not available in lamina yet");
}

static void test_summary_mode_skips_training(void **state) {
  (void)state;
  run_result r;
  run_mode(&r, "t.py",
           "import numpy as np\nfrom keras import layers, models\nm = models.Sequential()\n"
           "m.add(layers.Dense(2, input_shape=(3,)))\nm.compile('sgd', 'mse')\nprint('hidden')\n"
           "h = m.fit(np.zeros((4, 3)), np.zeros((4, 2)), epochs=1000)\nprint(h.history['loss'])\n"
           "m.save('/nonexistent/dir/x.safetensors')\nm.summary()\n",
           LMS_MODE_SUMMARY);
  assert_int_equal(r.status, 0);
  assert_null(strstr(text(&r.out), "hidden"));
  assert_int_equal(count(text(&r.out), "Total params: 8"), 1);
  done(&r);
  run_mode(&r, "t.py", "x = (\n", LMS_MODE_PARSE);
  assert_int_equal(r.status, 2);
  done(&r);
}

/* Inline error cases: (script, status, first line of the report) */
static void test_errors_inline(void **state) {
  (void)state;
  expect_err("x = y\n", 2, "t.py:1:5: error: name 'y' is not defined");
  expect_err("print(1, 2\n", 2, "t.py:1:6: error: '(' was never closed");
  expect_err("x = [1, 2)\n", 2, "t.py:1:10: error: invalid syntax: expected ']', got ')'");
  expect_err("1 = x\n", 2, "t.py:1:1: error: cannot assign to an expression");
  expect_err("f(x) = 1\n", 2, "t.py:1:1: error: cannot assign to a function call");
  expect_err("x = 1 +\n", 2, "t.py:1:8: error: invalid syntax: expected an expression, got end of line");
  expect_err("x = 'abc\n", 2, "t.py:1:5: error: unterminated string literal");
  expect_err("x = 1 $ 2\n", 2, "t.py:1:7: error: invalid character '$'");
  expect_err("x = 1j\n", 2, "t.py:1:5: error: complex numbers are not supported");
  expect_err("x = 99999999999999999999\n", 2, "t.py:1:5: error: integer literal too large (lamina integers are 64-bit)");
  expect_err("x = 007\n", 2, "t.py:1:5: error: leading zeros in decimal integer literals are not permitted");
  expect_err("x = [i for i in range(3)]\n", 2, "t.py:1:8: error: comprehensions are not supported in lamina scripts (no loops)");
  expect_err("x = {1, 2}\n", 2, "t.py:1:6: error: set literals are not supported");
  expect_err("f(*a)\n", 2, "t.py:1:3: error: argument unpacking with '*' is not supported");
  expect_err("f(a=1, 2)\n", 2, "t.py:1:8: error: positional argument follows keyword argument");
  expect_err("f(a=1, a=2)\n", 2, "t.py:1:8: error: keyword argument repeated: a");
  expect_err("x = 1 | 2\n", 2, "t.py:1:7: error: bitwise operator '|' is not supported");
  expect_err("x = ~1\n", 2, "t.py:1:5: error: bitwise operator '~' is not supported");
  expect_err("while True:\n    pass\n", 2,
             "t.py:1:1: error: 'while' loops are not supported in lamina scripts (top-level statements only; see docs/scripts.md)");
  expect_err("class A:\n    pass\n", 2,
             "t.py:1:1: error: class definitions are not supported in lamina scripts (top-level statements only; see docs/scripts.md)");
  expect_err("if x:\n    y = 1\n", 2,
             "t.py:1:1: error: 'if' statements (the expression 'a if c else b' is) are not supported in lamina scripts "
             "(top-level statements only; see docs/scripts.md)");
  expect_err("with open('f') as f:\n    pass\n", 2,
             "t.py:1:1: error: 'with' blocks are not supported in lamina scripts (top-level statements only; see docs/scripts.md)");
  expect_err("@dec\nx = 1\n", 2, "t.py:1:1: error: decorators are not supported in lamina scripts");
  expect_err("x: int = 1\n", 2, "t.py:1:2: error: variable annotations are not supported");
  expect_err("x = lambda a=1: a\n", 2, "t.py:1:13: error: default parameter values are not supported");
  expect_err("x = b'a'\n", 2, "t.py:1:5: error: bytes literals are not supported");
  expect_err("from . import x\n", 2, "t.py:1:6: error: relative imports are not supported");
  expect_err("from keras.layers import *\n", 2,
             "t.py:1:26: error: 'from keras.layers import *' is not supported; import the names you use");
  expect_err("import pandas as pd\n", 2,
             "t.py:1:1: error: import of 'pandas' is not supported: lamina scripts can import keras, numpy (and sys) names only");
  expect_err("import keras.applications\n", 2, "t.py:1:1: error: module 'keras.applications' is not available in lamina scripts");
  expect_err("from keras.layers import Foo\n", 2, "t.py:1:1: error: module 'keras.layers' has no attribute 'Foo'");
  expect_err("x = 1\nx()\n", 2, "t.py:2:1: error: 'int' object is not callable");
  expect_err("x = 1 / 0\n", 2, "t.py:1:7: error: division by zero");
  expect_err("x = 5 % 0\n", 2, "t.py:1:7: error: integer division or modulo by zero");
  expect_err("x = 'a' + 1\n", 2, "t.py:1:9: error: unsupported operand types for +: 'str' and 'int'");
  expect_err("x = 'a' < 1\n", 2, "t.py:1:5: error: '<' not supported between instances of 'str' and 'int'");
  expect_err("x = [1][3]\n", 2, "t.py:1:9: error: list index out of range");
  expect_err("x = {'a': 1}['b']\n", 2, "t.py:1:14: error: KeyError: 'b'");
  expect_err("a, b = 1, 2, 3\n", 2, "t.py:1:1: error: too many values to unpack (expected 2)");
  expect_err("a, b, c = 1, 2\n", 2, "t.py:1:1: error: not enough values to unpack (expected 3, got 2)");
  expect_err("x = 1\nx.foo\n", 2, "t.py:2:3: error: 'int' object has no attribute 'foo'");
  expect_err("x = 2 ** 64\n", 2, "t.py:1:5: error: integer overflow (lamina integers are 64-bit)");
  expect_err("x = '%d' % 'a'\n", 2, "t.py:1:10: error: %d format: a real number is required, not str");
  expect_err("x = len(1)\n", 2, "t.py:1:9: error: object of type 'int' has no len()");
  expect_err("x = len()\n", 2, "t.py:1:5: error: len() missing required argument 'obj'");
  expect_err("x = range(1, 2, 3, 4)\n", 2, "t.py:1:20: error: range() takes at most 3 positional arguments (4 given)");
  expect_err("f = lambda x: f(x)\nf(1)\n", 2, "t.py:1:15: error: maximum recursion depth exceeded");
  expect_err("f = lambda x: x\nf(1, 2)\n", 2, "t.py:2:1: error: <lambda>() takes 1 positional argument but 2 were given");
  expect_err("x = 'a' * 100000000000\n", 2, "t.py:1:9: error: string too long (64 MiB at most)");
  expect_err("x = range(100000000000)\n", 2, "t.py:1:5: error: range() too long for a list (10,000,000 at most)");
  expect_err("x = (((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((1)))))"
             ")))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))\n",
             2, "t.py:1:105: error: too many nested brackets");
}

static void test_errors_keras(void **state) {
  (void)state;
  expect_err("from keras import layers\nlayers.Dense('a')\n", 2, "t.py:2:14: error: Dense() argument 'units' must be an int, not str");
  expect_err("from keras import layers\nlayers.Dense(3, kernel_regularizer='l2')\n", 2,
             "t.py:2:17: error: Dense() got an unexpected keyword argument 'kernel_regularizer'");
  expect_err("from keras import layers\nlayers.Dense()\n", 2, "t.py:2:1: error: Dense() missing required argument 'units'");
  expect_err("from keras import layers\nlayers.Dense(0)\n", 2, "t.py:2:14: error: Dense: units must be a positive integer, got 0");
  expect_err("from keras import layers\nlayers.Conv3D(32)\n", 2, "t.py:2:8: error: keras.layers.Conv3D is not available in lamina yet");
  expect_err("from keras import layers\nlayers.Conv2D(32, (3, 3, 3))\n", 2,
             "t.py:2:19: error: Conv2D() argument 'kernel_size' must be an int or a tuple of 2 ints, not tuple");
  expect_err("from keras import layers, Input\na = Input(shape=(3,))\nb = Input(shape=(4, 5))\nc = layers.concatenate([a, b])\n", 2,
             "t.py:4:5: error: A `Concatenate` layer requires inputs with matching shapes except for the concat axis. "
             "Got inputs shapes: [(None, 3), (None, 4, 5)] (layer concatenate_1)");
  expect_err("from keras import layers\nd = layers.Dense(2)\nd(3)\n", 2,
             "t.py:3:3: error: a layer call expects a Keras tensor or a list of them, not int");
  expect_err("from keras import models, layers\nm = models.Sequential()\nm.add(3)\n", 2,
             "t.py:3:7: error: The added layer must be an instance of class Layer. Found: int");
  expect_err("from keras import Input, layers\nx = Input(shape=(2,))\ny = x + x\n", 2,
             "t.py:3:7: error: arithmetic on symbolic tensors is not supported; use layers.add, layers.subtract or layers.multiply");
  expect_err("from keras import Input, layers, models\nimport numpy as np\nx = Input(shape=(2,))\nm = models.Model(x, layers.Dense(1)(x))\n"
             "m.fit(np.zeros((2, 2)), np.zeros((2, 1)))\n",
             2, "t.py:5:1: error: You must compile a model before training/testing. Use `model.compile(optimizer, loss)`.");
  expect_err("from keras import Input, layers, models\nimport numpy as np\nx = Input(shape=(2,))\nm = models.Model(x, layers.Dense(1)(x))\n"
             "m.compile('sgd', 'mse')\nm.fit(np.zeros((4, 3)), np.zeros((4, 1)))\n",
             2, "t.py:6:1: error: Error when checking input: expected input_1 to have shape (2,) but got array with shape (3,)");
  expect_err("from keras import optimizers\noptimizers.SGD(beta_1=0.9)\n", 2, "t.py:2:16: error: SGD() got an unexpected keyword argument 'beta_1'");
  expect_err("from keras import Input\nInput(shape=(2,), dtype='complex64')\n", 2,
             "t.py:2:19: error: unsupported dtype 'complex64' (lamina has float32 and int32)");
  expect_err("import numpy as np\nx = np.zeros((2, 3)) + np.zeros((3, 2))\n", 2,
             "t.py:2:22: error: operands could not be broadcast together with shapes (2, 3) (3, 2) (lamina arrays combine with a "
             "scalar or an array of the same shape)");
  expect_err("import numpy as np\nx = np.zeros((2, 3))[:, 0]\n", 2,
             "t.py:2:22: error: multi-axis indexing is not supported; index or slice the first axis only");
  expect_err("import numpy as np\nx = np.zeros((3, 4)).reshape(5, -1)\n", 2, "t.py:2:5: error: cannot reshape array of size 12 into shape (5, -1)");
  expect_err("import numpy as np\nx = np.zeros(5)[[1, 2, 3]]\n", 2,
             "t.py:2:16: error: array indices must be integers or slices (first axis only), not list");
  expect_err("import numpy as np\nx = np.zeros(3)[3]\n", 2, "t.py:2:16: error: index 3 is out of bounds for axis 0 with size 3");
  expect_err("import numpy as np\nx = np.linalg\n", 2,
             "t.py:2:8: error: module 'numpy' has no attribute 'linalg' (lamina supports a small part of numpy; see docs/scripts.md)");
  expect_err("import keras\nkeras.utils.to_categorical([0, 5], num_classes=3)\n", 2,
             "t.py:2:1: error: to_categorical: label 5 is out of range for num_classes=3");
}

/* The lecture's question-answering listing feeds word indices up to the
 * vocabulary size into Embedding(64, ...): fit fails naming the layer and the
 * index (a smaller copy of the listing, same mistake). */
static void test_lecture_qa_index_error(void **state) {
  (void)state;
  run_result r;
  run(&r,
      "from keras.models import Model\nfrom keras import layers, Input\nimport numpy as np\n"
      "text_input = Input(shape=(None,), dtype='int32', name='text')\n"
      "embedded_text = layers.Embedding(64, 100)(text_input)\n"
      "encoded_text = layers.LSTM(4)(embedded_text)\n"
      "answer = layers.Dense(5, activation='softmax')(encoded_text)\n"
      "model = Model(text_input, answer)\n"
      "model.compile(optimizer='rmsprop', loss='categorical_crossentropy', metrics=['acc'])\n"
      "text = np.random.randint(1, 100, size=(50, 10))\n"
      "answers = np.random.randint(0, 1, size=(50, 5))\n"
      "model.fit(text, answers, epochs=1, batch_size=16, verbose=0)\n");
  const char *e = text(&r.err);
  assert_int_not_equal(r.status, 0);
  assert_true(strncmp(e, "t.py:12:1: error: ", 18) == 0);
  assert_non_null(strstr(e, "embedding_1"));
  assert_non_null(strstr(e, "index"));
  assert_non_null(strstr(e, "[0, 64)"));
  done(&r);
}

/* tests/scripts/errors/NAME.py: the whole report must equal NAME.err */
static void test_error_corpus(void **state) {
  (void)state;
  char dir[1100];
  snprintf(dir, sizeof dir, "%s/scripts/errors", tests_dir());
  DIR *d = opendir(dir);
  assert_non_null(d);
  int n = 0;
  struct dirent *e;
  while ((e = readdir(d)) != NULL) {
    size_t len = strlen(e->d_name);
    if (len < 4 || strcmp(e->d_name + len - 3, ".py") != 0) continue;
    char path[1400], want_path[1400];
    snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
    snprintf(want_path, sizeof want_path, "%s/%.*s.err", dir, (int)(len - 3), e->d_name);
    char *src = tu_read_text(path), *want = tu_read_text(want_path);
    assert_non_null(src);
    if (!want) {
      fprintf(stderr, "missing %s\n", want_path);
      fail();
    }
    run_result r;
    run_mode(&r, e->d_name, src, LMS_MODE_RUN);
    if (r.status != 2 || strcmp(text(&r.err), want) != 0) {
      fprintf(stderr, "%s: status %d, report:\n%s\nwanted:\n%s\n", e->d_name, r.status, text(&r.err), want);
      fail();
    }
    done(&r);
    free(src);
    free(want);
    n++;
  }
  closedir(d);
  assert_true(n >= 10);
}

/* every example script parses */
static void test_examples_parse(void **state) {
  (void)state;
  char dir[1100];
  snprintf(dir, sizeof dir, "%s/../examples", tests_dir());
  DIR *d = opendir(dir);
  assert_non_null(d);
  int n = 0;
  struct dirent *e;
  while ((e = readdir(d)) != NULL) {
    size_t len = strlen(e->d_name);
    if (len < 4 || strcmp(e->d_name + len - 3, ".py") != 0) continue;
    char path[1400];
    snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
    char *src = tu_read_text(path);
    assert_non_null(src);
    run_result r;
    run_mode(&r, e->d_name, src, LMS_MODE_PARSE);
    if (r.status != 0) {
      fprintf(stderr, "%s", text(&r.err));
      fail();
    }
    done(&r);
    free(src);
    n++;
  }
  closedir(d);
  assert_true(n >= 1);
}

/* fuzz regressions: every file of the committed fuzz corpus parses or fails cleanly */
static void test_fuzz_corpus(void **state) {
  (void)state;
  char dir[1100];
  snprintf(dir, sizeof dir, "%s/../fuzz/corpus/parser", tests_dir());
  DIR *d = opendir(dir);
  assert_non_null(d);
  int n = 0;
  struct dirent *e;
  while ((e = readdir(d)) != NULL) {
    if (e->d_name[0] == '.') continue;
    char path[1400];
    snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
    char *src = tu_read_text(path);
    if (!src) continue;
    run_result r;
    run_mode(&r, e->d_name, src, LMS_MODE_PARSE);
    assert_true(r.status == 0 || r.status == 2);
    done(&r);
    free(src);
    n++;
  }
  closedir(d);
  assert_true(n >= 10);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_literals_and_print),
      cmocka_unit_test(test_arithmetic),
      cmocka_unit_test(test_containers_and_builtins),
      cmocka_unit_test(test_assignment_and_lambda),
      cmocka_unit_test(test_arrays),
      cmocka_unit_test(test_array_files),
      cmocka_unit_test(test_fashion_mnist_loader),
      cmocka_unit_test(test_lecture_mlp_runs),
      cmocka_unit_test(test_lecture_mlp_summary),
      cmocka_unit_test(test_keras_api_model),
      cmocka_unit_test(test_callbacks),
      cmocka_unit_test(test_summary_mode_skips_training),
      cmocka_unit_test(test_errors_inline),
      cmocka_unit_test(test_errors_keras),
      cmocka_unit_test(test_lecture_qa_index_error),
      cmocka_unit_test(test_error_corpus),
      cmocka_unit_test(test_examples_parse),
      cmocka_unit_test(test_fuzz_corpus),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}

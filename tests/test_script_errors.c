#define _POSIX_C_SOURCE 200809L
/* Model scripts: one small script per error path of the language, the
 * numpy subset and the Keras bridge (src/script/), each with its exact first
 * report line (file:line:col: error: message) and exit status (2 for a
 * script error, 1 for a runtime failure). Complements test_script.c's
 * inline cases and the tests/scripts/errors corpus; a script that crashed
 * the evaluator (ZeroPadding2D(padding='a')) or was accepted although numpy
 * refuses it (np.array([1, [2]])) is here too. */
#include "testutil.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "script/hp.h"
#include "script/script.h"

#define NP "import numpy as np\n"
#define K "import numpy as np\nimport keras\nfrom keras import layers\n"
#define M K "m = keras.models.Sequential([layers.Dense(2, input_shape=(3,))])\n"
#define MC M "m.compile(optimizer='sgd', loss='mse')\nx = np.zeros((4, 3))\ny = np.zeros((4, 2))\n"

typedef struct err_case {
  const char *prefix, *body;
  int status;
  const char *want; /* the first line of the report */
} err_case;

static const err_case cases[] = {
    {NP, "a = np.zeros((2, 2), dtype='complex64')\n", 2, "t.py:2:22: error: unsupported dtype 'complex64' (lamina arrays are float32 or int32)"},
    {NP, "a = np.zeros((2, -1))\n", 2, "t.py:2:14: error: invalid dimension -1 in a shape"},
    {NP, "a = np.zeros((100000, 100000, 100000))\n", 2, "t.py:2:5: error: array is too big"},
    {NP, "a = np.zeros((2, 3)).reshape(3, order='C')\n", 2, "t.py:2:33: error: reshape(): keyword arguments are not supported"},
    {NP, "a = np.zeros((2, 3)).reshape(1, 1, 1, 1, 1, 1, 1, 1, 1, 6)\n", 2, "t.py:2:5: error: reshape(): at most 8 dimensions"},
    {NP, "a = np.zeros((2, 3)).reshape('a', 6)\n", 2, "t.py:2:5: error: reshape(): dimensions must be ints, not str"},
    {NP, "a = np.zeros((2, 3)).reshape(-1, -1)\n", 2, "t.py:2:5: error: can only specify one unknown dimension"},
    {NP, "a = np.zeros((2, 3)).reshape(-2, 3)\n", 2, "t.py:2:5: error: negative dimensions not allowed"},
    {NP, "a = np.zeros((2, 3)).reshape(4, 2)\n", 2, "t.py:2:5: error: cannot reshape array of size 6 into shape (4, 2)"},
    {NP, "a = np.zeros((0, 3)).max()\n", 2, "t.py:2:5: error: zero-size array to reduction operation max"},
    {NP, "a = np.zeros((0,)).argmax()\n", 2, "t.py:2:5: error: attempt to get argmax of an empty sequence"},
    {NP, "a = np.zeros((2, 3)).argmax(axis=0)\n", 2, "t.py:2:5: error: argmax: only axis=-1 (the last axis) is supported"},
    {NP, "a = np.zeros((2, 3)).foo\n", 2, "t.py:2:22: error: 'ndarray' object has no attribute 'foo'"},
    {NP, "a = np.zeros((2, 3)) @ np.zeros((3, 2))\n", 2, "t.py:2:22: error: matrix multiplication ('@') of arrays is not supported"},
    {NP, "a = np.zeros((2, 3)) + 'a'\n", 2, "t.py:2:22: error: unsupported operand types for array arithmetic: 'ndarray' and 'str'"},
    {NP, "a = np.arange(3) ** -1\n", 2, "t.py:2:5: error: Integers to negative integer powers are not allowed."},
    {NP, "a = np.zeros(())\nb = a[0]\n", 2, "t.py:3:6: error: too many indices for array: array is 0-dimensional"},
    {NP, "a = np.zeros((3,))\nb = a['x':]\n", 2, "t.py:3:6: error: slice indices must be integers or None"},
    {NP, "a = np.zeros((3,))\nb = a[::0]\n", 2, "t.py:3:6: error: slice step cannot be zero"},
    {NP, "a = np.array([[[[[[[[[[[1]]]]]]]]]]])\n", 2, "t.py:2:14: error: np.array: too many dimensions"},
    {NP, "a = np.array([[1, 2], [3]])\n", 2, "t.py:2:14: error: np.array: nested lists must be rectangular"},
    {NP, "a = np.array([np.zeros(2)])\n", 2, "t.py:2:14: error: np.array: lists of arrays are not supported"},
    {NP, "a = np.array(['a'])\n", 2, "t.py:2:14: error: np.array: expected numbers, got str"},
    {NP, "a = np.array([1, [2]])\n", 2, "t.py:2:14: error: np.array: nested lists must be rectangular"},
    {NP, "a = np.array(3)\n", 2, "t.py:2:14: error: np.array of a scalar is not supported; use the number"},
    {NP, "a = np.ones(3, dtype='float32', order='C')\n", 2, "t.py:2:33: error: np.ones() got an unexpected keyword argument 'order'"},
    {NP, "a = np.ones((1, 1, 1, 1, 1, 1, 1, 1, 1))\n", 2, "t.py:2:13: error: shapes have at most 8 dimensions"},
    {NP, "a = np.random.rand(-1)\n", 2, "t.py:2:20: error: np.random.rand(): dimensions must be non-negative ints"},
    {NP, "a = np.random.randint(3, 3, (2,))\n", 2, "t.py:2:5: error: low >= high"},
    {NP, "a = np.random.randint(0, 10000000000, (2,))\n", 2, "t.py:2:5: error: randint: bounds outside int32"},
    {NP, "np.random.shuffle(3)\n", 2, "t.py:2:19: error: np.random.shuffle expects an array or a list"},
    {NP, "a = np.arange(0, 3, 0)\n", 2, "t.py:2:5: error: np.arange: step must not be zero"},
    {NP, "a = np.arange(0, 1e12)\n", 2, "t.py:2:5: error: np.arange: too many values"},
    {NP, "a = np.loadtxt('x.csv', delimiter=';;')\n", 2, "t.py:2:25: error: np.loadtxt: the delimiter must be one character"},
    {NP, "a = np.loadtxt('x.csv', skiprows=-1)\n", 2, "t.py:2:25: error: np.loadtxt: skiprows must be non-negative"},
    {"", "import keras\nopen('x', 'w')\n", 2, "t.py:2:1: error: name 'open' is not defined"},
    {"", "print(1, foo=2)\n", 2, "t.py:1:10: error: print() got an unexpected keyword argument 'foo'"},
    {"", "print(1, sep=3)\n", 2, "t.py:1:10: error: print() argument 'sep' must be a string, not int"},
    {"", "len(3)\n", 2, "t.py:1:5: error: object of type 'int' has no len()"},
    {"", "range(1, 2, 0)\n", 2, "t.py:1:13: error: range() arg 3 must not be zero"},
    {"", "int(float('inf'))\n", 2, "t.py:1:5: error: cannot convert float inf to integer"},
    {"", "int('x')\n", 2, "t.py:1:5: error: invalid literal for int(): 'x'"},
    {"", "int([])\n", 2, "t.py:1:5: error: int() argument must be a number or string, not list"},
    {"", "float('x')\n", 2, "t.py:1:7: error: could not convert string to float: 'x'"},
    {"", "float([])\n", 2, "t.py:1:7: error: float() argument must be a number or string, not list"},
    {"", "for_ = list(3)\n", 2, "t.py:1:13: error: 'int' object is not iterable"},
    {"", "min([1], key=2)\n", 2, "t.py:1:10: error: min() keyword arguments are not supported"},
    {"", "min()\n", 2, "t.py:1:1: error: min expected at least 1 argument, got 0"},
    {"", "max([])\n", 2, "t.py:1:5: error: max() arg is an empty sequence"},
    {"", "sum([1, 'a'])\n", 2, "t.py:1:5: error: sum() of a sequence holding str"},
    {"", "round(float('nan'))\n", 2, "t.py:1:1: error: cannot round nan to an integer"},
    {NP, "min(np.zeros((2, 2)))\n", 2, "t.py:2:5: error: 'ndarray' object is not iterable"},
    {"", "dict([1])\n", 2, "t.py:1:6: error: dict() takes keyword arguments only here"},
    {"", "isinstance(1, int)\n", 2, "t.py:1:1: error: isinstance() is not supported in lamina scripts"},
    {"", "'%q' % 1\n", 2, "t.py:1:6: error: unsupported format character in '%' formatting"},
    {"", "'%d %d' % (1,)\n", 2, "t.py:1:9: error: not enough arguments for format string"},
    {"", "'%d' % (1, 2)\n", 2, "t.py:1:6: error: not all arguments converted during string formatting"},
    {"", "'{'.format(1)\n", 2, "t.py:1:1: error: Single '{' encountered in format string"},
    {"", "'{a}'.format(1)\n", 2, "t.py:1:1: error: format(): no argument for field '{a}'"},
    {"", "','.join([1])\n", 2, "t.py:1:10: error: sequence item 0: expected str, int found"},
    {"", "[0] * 100000000\n", 2, "t.py:1:5: error: list too long (10,000,000 items at most)"},
    {"", "divmod(1.0, 0.0)\n", 2, "t.py:1:1: error: name 'divmod' is not defined"},
    {"", "1.0 % 0.0\n", 2, "t.py:1:5: error: float modulo"},
    {"", "0.0 ** -1\n", 2, "t.py:1:1: error: 0.0 cannot be raised to a negative power"},
    {"", "(-1.0) ** 0.5\n", 2, "t.py:1:2: error: complex results are not supported"},
    {"", "1 in 'a'\n", 2, "t.py:1:1: error: 'in <string>' requires string as left operand, not int"},
    {"", "1 in 3\n", 2, "t.py:1:1: error: argument of type 'int' is not iterable"},
    {NP, "np.zeros(2) < np.zeros(2)\n", 2, "t.py:2:1: error: comparisons of arrays are not supported"},
    {"", "[1][1.0]\n", 2, "t.py:1:5: error: list indices must be integers or slices, not float"},
    {"", "[1][1.0:]\n", 2, "t.py:1:5: error: slice indices must be integers or None"},
    {"", "[1][::0]\n", 2, "t.py:1:5: error: slice step cannot be zero"},
    {"", "[1]['a':]\n", 2, "t.py:1:5: error: slice indices must be integers or None"},
    {"", "(3)[1:]\n", 2, "t.py:1:4: error: 'int' object is not subscriptable with a slice"},
    {"", "(3)[1]\n", 2, "t.py:1:4: error: 'int' object is not subscriptable"},
    {"", "f = lambda x: x\nf(x=1)\n", 2, "t.py:2:3: error: keyword arguments to a lambda are not supported"},
    {"", "x = {[1]: 2}\n", 2, "t.py:1:6: error: unhashable type: 'list'"},
    {"", "x = -'a'\n", 2, "t.py:1:5: error: bad operand type for unary -: 'str'"},
    {"", "x = [1, 2]\nx[0:1] = [3]\n", 2, "t.py:2:3: error: slice assignment is not supported"},
    {"", "x = (1, 2)\nx[0] = 3\n", 2, "t.py:2:2: error: 'tuple' object does not support item assignment"},
    {"", "f(x) = 1\n", 2, "t.py:1:1: error: cannot assign to a function call"},
    {"", "x = foo\n", 2, "t.py:1:5: error: name 'foo' is not defined"},
    {"", "x = 1\nx.y = 2\n", 2, "t.py:2:3: error: cannot set attribute 'y' of 'int' object"},
    {NP, "a, b = np.zeros((2, 2))\n", 2, "t.py:2:1: error: unpacking an array is not supported"},
    {M, "m.compile('sgd', 'mse')\nm.optimizer.lr = 'a'\n", 2, "t.py:6:13: error: the learning rate must be a number, not str"},
    {K, "layers.concatenate([1, 2])\n", 2, "t.py:4:20: error: concatenate expects Keras tensors, but item 0 is int"},
    {K, "keras.Input(shape=(3,), tensor=1)\n", 2, "t.py:4:25: error: Input: tensor= is not supported"},
    {K, "keras.Input(shape=(3,), sparse=True)\n", 2, "t.py:4:25: error: Input: sparse inputs are not supported"},
    {K, "keras.Input()\n", 2, "t.py:4:1: error: Input() needs shape= (or batch_shape=)"},
    {K, "keras.models.Model()\n", 2, "t.py:4:1: error: Model() needs inputs and outputs"},
    {K, "keras.models.Sequential([1])\n", 2, "t.py:4:25: error: Sequential: item 0 is int, not a layer"},
    {K, "keras.models.load_model('x.safetensors', custom_objects={})\n", 2, "t.py:4:42: error: load_model: custom_objects are not supported"},
    {K, "keras.optimizers.SGD(lr=-1)\n", 2, "t.py:4:1: error: SGD: the learning rate must be positive"},
    {K, "keras.utils.to_categorical(np.zeros((2, 2)), 3)\n", 2, "t.py:4:28: error: to_categorical expects class indices of shape (N,) or (N, 1)"},
    {K, "keras.utils.to_categorical(np.zeros((2,)), 0)\n", 2, "t.py:4:1: error: to_categorical: num_classes must be positive"},
    {K, "keras.callbacks.ReduceLROnPlateau(factor=2.0)\n", 2, "t.py:4:35: error: ReduceLROnPlateau does not support a factor >= 1.0."},
    {MC, "m.fit([1], y)\n", 2, "t.py:8:7: error: fit(): x: item 0 is int, not an array"},
    {MC, "m.fit({'a': 1}, y)\n", 2, "t.py:8:7: error: fit(): x: a dict must map names to arrays"},
    {MC, "m.fit(3, y)\n", 2, "t.py:8:7: error: fit(): x must be an array, a list of arrays or a dict of arrays, not int"},
    {MC, "m.compile(optimizer='sgd', loss=3)\n", 2, "t.py:8:28: error: compile(): loss must be a string or a list of strings, not int"},
    {MC, "m.compile(optimizer='sgd', loss=[lambda a, b: a])\n", 2, "t.py:8:28: error: compile(): loss: custom functions are not supported; use a Keras name such as 'mse'"},
    {MC, "m.compile(optimizer='sgd', loss=[3])\n", 2, "t.py:8:28: error: compile(): loss: item 0 is int, not a string"},
    {MC, "m.compile(optimizer=3, loss='mse')\n", 2, "t.py:8:11: error: compile(): optimizer must be a name or an optimizer, not int"},
    {MC, "m.compile(optimizer='sgd')\n", 2, "t.py:8:1: error: compile(): loss is required (lamina trains with a Keras loss)"},
    {MC, "m.compile(optimizer='sgd', loss={'a': 3})\n", 2, "t.py:8:28: error: compile(): a loss dict maps output names to loss names"},
    {MC, "m.compile(optimizer='sgd', loss='mse', loss_weights=3)\n", 2, "t.py:8:40: error: compile(): loss_weights must be a list or a dict"},
    {MC, "m.compile(optimizer='sgd', loss='mse', loss_weights=['a'])\n", 2, "t.py:8:40: error: compile(): loss weights must be numbers"},
    {MC, "m.compile(optimizer='sgd', loss='mse', loss_weights={1: 1.0})\n", 2, "t.py:8:40: error: compile(): loss_weights keys are output names"},
    {MC, "m.compile(optimizer='sgd', loss='mse', metrics={'a': 'acc'})\n", 2, "t.py:8:40: error: compile(): per-output metrics (a dict) are not supported; pass a list"},
    {MC, "m.fit(x)\n", 2, "t.py:8:1: error: fit() needs x and y"},
    {MC, "m.fit(x, y, steps_per_epoch=3)\n", 2, "t.py:8:13: error: fit(): steps_per_epoch is not supported (arrays only)"},
    {MC, "m.fit(x, y, callbacks=3)\n", 2, "t.py:8:13: error: fit(): callbacks must be a list"},
    {MC, "m.fit(x, y, callbacks=[3])\n", 2, "t.py:8:13: error: fit(): callbacks item 0 is int, not a callback"},
    {MC, "m.fit(x, y, batch_size=0)\n", 2, "t.py:8:13: error: fit(): batch_size must be a positive integer"},
    {MC, "m.fit(x, y, epochs=-1)\n", 2, "t.py:8:13: error: fit(): epochs must be a non-negative integer"},
    {MC, "m.fit(x, y, validation_data=3)\n", 2, "t.py:8:13: error: fit(): validation_data must be a tuple (x_val, y_val)"},
    {MC, "m.evaluate(x)\n", 2, "t.py:8:1: error: evaluate() needs x and y"},
    {MC, "m.evaluate(x, y, sample_weight=x)\n", 2, "t.py:8:18: error: evaluate(): sample_weight is not supported"},
    {MC, "m.evaluate(x, y, steps=3)\n", 2, "t.py:8:18: error: evaluate(): steps is not supported (arrays only)"},
    {MC, "m.evaluate(x, y, batch_size=0)\n", 2, "t.py:8:18: error: evaluate(): batch_size must be a positive integer"},
    {M, "x = np.zeros((4, 3))\nm.evaluate(x, x)\n", 2, "t.py:6:1: error: You must compile a model before training/testing. Use `model.compile(optimizer, loss)`."},
    {MC, "m.predict(x, steps=3)\n", 2, "t.py:8:14: error: predict(): steps is not supported (arrays only)"},
    {MC, "m.predict(x, batch_size=0)\n", 2, "t.py:8:14: error: predict(): batch_size must be a positive integer"},
    {MC, "m.summary(line_length=3)\n", 2, "t.py:8:1: error: summary(): line_length, positions and print_fn are not supported"},
    {K, "i = keras.Input(shape=(3,))\nm = keras.models.Model(i, layers.Dense(2)(i))\nm.add(layers.Dense(3))\n", 2, "t.py:6:1: error: add() is a method of Sequential models"},
    {M, "m.add(keras.models.Sequential([layers.Dense(2, input_shape=(2,))]))\n", 2, "t.py:5:7: error: add(): adding a model to a Sequential model is not supported yet"},
    {M, "m.get_layer('nope')\n", 2, "t.py:5:13: error: No such layer: nope"},
    {M, "m.get_layer(index=7)\n", 2, "t.py:5:13: error: Was asked to retrieve layer at index 7 but model only has 1 layers."},
    {M, "m.get_layer()\n", 2, "t.py:5:1: error: Provide either a layer name or layer index."},
    {M, "m.layers[0].set_weights([np.zeros((3, 2))])\n", 2, "t.py:5:25: error: You called `set_weights(weights)` on layer \"dense_1\" with a weight list of length 1, but the layer was expecting 2 weights."},
    {M, "m.layers[0].set_weights([np.zeros((2, 2)), np.zeros((2,))])\n", 2, "t.py:5:25: error: Layer weight shape (3, 2) not compatible with provided weight shape (2, 2)"},
    {M, "m.layers[0].units = 3\n", 2, "t.py:5:13: error: cannot set attribute 'units' of a layer (only 'trainable')"},
    {MC, "h = m.fit(x, y, verbose=0)\nh.foo\n", 2, "t.py:9:3: error: 'History' object has no attribute 'foo'"},
    {MC, "m.optimizer.foo\n", 2, "t.py:8:13: error: 'Optimizer' object has no attribute 'foo'"},
    {K, "layers.Flatten(data_format='channels_first')\n", 2, "t.py:4:16: error: Flatten: only data_format='channels_last' is supported"},
    {K, "layers.Reshape((1, 1, 1, 1, 1, 1, 1, 1, 1))\n", 2, "t.py:4:16: error: Reshape: too many dimensions"},
    {K, "layers.Reshape(('a',))\n", 2, "t.py:4:16: error: Reshape() argument 'target_shape' must be a shape (an int or a tuple of ints), not a tuple holding str"},
    {K, "layers.Dropout(0.5, noise_shape=(1,))\n", 2, "t.py:4:21: error: Dropout: noise_shape is not supported"},
    {K, "layers.Conv2D(2, (0, 3))\n", 2, "t.py:4:18: error: Conv2D: 'kernel_size' must hold integers >= 1"},
    {K, "layers.ZeroPadding2D(padding='a')\n", 2, "t.py:4:22: error: ZeroPadding2D: 'padding' must be an int, a pair or a pair of pairs"},
    {K, "layers.ZeroPadding2D(padding=-1)\n", 2, "t.py:4:22: error: ZeroPadding2D: 'padding' must not be negative"},
    {K, "layers.Conv2D(2, 3, data_format='channels_first')\n", 2, "t.py:4:21: error: Conv2D: only data_format='channels_last' is supported"},
    {K, "layers.Conv2D(0, 3)\n", 2, "t.py:4:15: error: Conv2D: 'filters' must be a positive integer, got 0"},
    {K, "layers.UpSampling2D(interpolation='bilinear')\n", 2, "t.py:4:21: error: UpSampling2D: only interpolation='nearest' is supported"},
    {K, "layers.Embedding(3, 2, embeddings_regularizer='l2')\n", 2, "t.py:4:1: error: Embedding: regularizers and constraints are not supported"},
    {K, "layers.LSTM(3, stateful=True)\n", 2, "t.py:4:16: error: LSTM: stateful=True is not supported"},
    {K, "layers.SimpleRNN(3, stateful=True)\n", 2, "t.py:4:21: error: SimpleRNN: stateful=True is not supported"},
    {K, "keras.utils.to_categorical()\n", 2, "t.py:4:1: error: to_categorical() missing required argument 'y'"},
    {K, "layers.Dense(2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13)\n", 2, "t.py:4:29: error: Dense() takes at most 5 positional arguments (12 given)"},
    {K, "layers.Dense(2, units=3)\n", 2, "t.py:4:17: error: Dense() got multiple values for argument 'units'"},
    {K, "layers.Dense(2, input_shape=(-1,))\n", 2, "t.py:4:17: error: invalid dimension -1 in a shape"},
    {K, "layers.Dense(2, input_shape='a')\n", 2, "t.py:4:17: error: Dense() argument 'input_shape' must be a shape (an int or a tuple of ints), not str"},
    {K, "layers.Dense(2, input_shape=(1, 1, 1, 1, 1, 1, 1, 1, 1))\n", 2, "t.py:4:17: error: shapes have at most 8 dimensions"},
    {K, "layers.Dense(2, input_shape=(1.5,))\n", 2, "t.py:4:17: error: Dense() argument 'input_shape' must be a shape (an int or a tuple of ints), not a tuple holding float"},
    {K, "keras.Input(shape=(3,))(3)\n", 2, "t.py:4:1: error: 'Tensor' object is not callable"},
    {"", "x = (\n", 2, "t.py:1:5: error: '(' was never closed"},
    {"", "x = 'abc\n", 2, "t.py:1:5: error: unterminated string literal"},
    {"", "x = '\\xZZ'\n", 2, "t.py:1:5: error: invalid \\x escape in string literal"},
    {"", "x = '\\u12'\n", 2, "t.py:1:5: error: invalid \\u escape in string literal"},
    {"", "x = 10000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000\n", 2, "t.py:1:5: error: numeric literal too long"},
    {"", "x = 3j\n", 2, "t.py:1:5: error: complex numbers are not supported"},
    {"", "x = 3abc\n", 2, "t.py:1:5: error: invalid numeric literal"},
    {"", "x = 007\n", 2, "t.py:1:5: error: leading zeros in decimal integer literals are not permitted"},
    {"", "x = b'a'\n", 2, "t.py:1:5: error: bytes literals are not supported"},
    {"", "x = (((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((())))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))\n", 2, "t.py:1:105: error: too many nested brackets"},
    {"", "x = 1 $ 2\n", 2, "t.py:1:7: error: invalid character '$'"},
    {"", "x = 'a' ""\xc3""\xa9""\n", 2, "t.py:1:9: error: invalid character (non-ASCII) outside a string"},
    {"", "x = 1 +\n", 2, "t.py:1:8: error: invalid syntax: expected an expression, got end of line"},
    {"", "x = )\n", 2, "t.py:1:5: error: invalid syntax: expected an expression, got ')'"},
    {"", "  x = 1\n", 2, "t.py:1:3: error: unexpected indent (lamina scripts have top-level statements only)"},
    {"", "x = [i for i in range(3)]\n", 2, "t.py:1:8: error: comprehensions are not supported in lamina scripts (no loops)"},
    {"", "f'{1}'\n", 2, "t.py:1:1: error: f-strings are not supported; use '%' formatting or str.format()"},
    {"", "print(*[1])\n", 2, "t.py:1:7: error: argument unpacking with '*' is not supported"},
    {"", "x = y = \n", 2, "t.py:1:9: error: invalid syntax: expected an expression, got end of line"},
    {"", "del x\n", 2, "t.py:1:1: error: 'del' statements are not supported in lamina scripts (top-level statements only; see docs/scripts.md)"},
    {"", "global x\n", 2, "t.py:1:1: error: 'global' statements are not supported in lamina scripts (top-level statements only; see docs/scripts.md)"},
    {"", "assert 1\n", 2, "t.py:1:1: error: 'assert' statements are not supported in lamina scripts (top-level statements only; see docs/scripts.md)"},
    {"", "x = 1 if 2\n", 2, "t.py:1:11: error: invalid syntax: expected 'else', got end of line"},
    {"", "x: int = 1\n", 2, "t.py:1:2: error: variable annotations are not supported"},
    {"", "x = yield 1\n", 2, "t.py:1:5: error: 'yield' is not supported"},
    {"", "async def f(): pass\n", 2, "t.py:1:1: error: 'async' functions and blocks are not supported in lamina scripts (top-level statements only; see docs/scripts.md)"},
    {"", "x = {1, 2}\n", 2, "t.py:1:6: error: set literals are not supported"},
    {"", "x = a[1, 2]\n", 2, "t.py:1:5: error: name 'a' is not defined"},
    {"", "x = ...\n", 2, "t.py:1:5: error: '...' (Ellipsis) is not supported"},
    {"", "lambda: (yield)\n", 2, "t.py:1:10: error: 'yield' is not supported in lamina scripts"},
    {"", "x = 1 := 2\n", 2, "t.py:1:7: error: assignment expressions (':=') are not supported"},
    {"", "import os\n", 2, "t.py:1:1: error: import of 'os' is not supported: lamina scripts can import keras, numpy (and sys) names only"},
    {"", "from keras import nope\n", 2, "t.py:1:1: error: module 'keras' has no attribute 'nope'"},
    {"", "from keras.layers import *\n", 2, "t.py:1:26: error: 'from keras.layers import *' is not supported; import the names you use"},
    {"", "import keras.nope\n", 2, "t.py:1:1: error: module 'keras.nope' is not available in lamina scripts"},
    {"", "from . import x\n", 2, "t.py:1:6: error: relative imports are not supported"},
    {"", "raise ValueError('x')\n", 2, "t.py:1:1: error: 'raise' statements are not supported in lamina scripts (top-level statements only; see docs/scripts.md)"},
    {NP, "a = np.random.random((2, -3))\n", 2, "t.py:2:22: error: invalid dimension -3 in a shape"},
    {NP, "a = np.zeros((3,)).reshape(100000, 100000, 100000)\n", 2, "t.py:2:5: error: reshape(): shape too big"},
    {NP, "a = np.zeros((2, 3)) + np.zeros((3, 2))\n", 2, "t.py:2:22: error: operands could not be broadcast together with shapes (2, 3) (3, 2) (lamina arrays combine with a scalar or an array of the same shape)"},
    {NP, "a = np.zeros(3, 4)\n", 2, "t.py:2:17: error: np.zeros() argument 'dtype' must be a string, not int"},
    {"", "len(None)\n", 2, "t.py:1:5: error: object of type 'NoneType' has no len()"},
    {NP, "sum(np.zeros((2, 2)))\n", 2, "t.py:2:5: error: sum() argument 'iterable' must be a list or tuple, not ndarray"},
    {NP, "max(np.zeros((2, 2)))\n", 2, "t.py:2:5: error: 'ndarray' object is not iterable"},
    {"", "'%' % 1\n", 2, "t.py:1:5: error: unsupported format character in '%' formatting"},
    {"", "'%y' % 1\n", 2, "t.py:1:6: error: unsupported format character in '%' formatting"},
    {"", "1.0 // 0.0\n", 2, "t.py:1:5: error: float divmod()"},
    {"", "1 // 0\n", 2, "t.py:1:3: error: integer division or modulo by zero"},
    {"", "1 % 0\n", 2, "t.py:1:3: error: integer division or modulo by zero"},
    {K, "i = keras.Input(shape=(3,))\nm = keras.models.Model(i, layers.Dense(2)(i))\nm(i)\n", 2, "t.py:6:1: error: calling a model on tensors (nested models) is not supported yet"},
    {"", "x = undefined_thing\n", 2, "t.py:1:5: error: name 'undefined_thing' is not defined"},
    {"", "x = 1:2\n", 2, "t.py:1:6: error: invalid syntax: unexpected ':'"},
    {"", "x = (1:2)\n", 2, "t.py:1:7: error: invalid syntax: expected ')', got ':'"},
    {"", "f = lambda: 1\nf() = 3\n", 2, "t.py:2:1: error: cannot assign to a function call"},
    {"", "1 + 1 = 2\n", 2, "t.py:1:3: error: cannot assign to an expression"},
    {"", "print(f'{1}')\n", 2, "t.py:1:7: error: f-strings are not supported; use '%' formatting or str.format()"},
    {"", "x = ((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((1))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))\n", 2, "t.py:1:105: error: too many nested brackets"},
    {"", "x = - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - 1\n", 2, "t.py:1:205: error: expression nested too deeply"},
    {"", "x = {**{}}\n", 2, "t.py:1:6: error: unpacking with '**' is not supported"},
    {"", "x = [*[1]]\n", 2, "t.py:1:6: error: unpacking with '*' is not supported"},
    {"", "x = await y\n", 2, "t.py:1:5: error: 'await' is not supported in lamina scripts"},
    {"", "print(**{})\n", 2, "t.py:1:7: error: argument unpacking with '**' is not supported"},
    {"", "print(1=2)\n", 2, "t.py:1:7: error: expression cannot be a keyword argument name"},
    {"", "print(a.b=2)\n", 2, "t.py:1:7: error: expression cannot be a keyword argument name"},
    {"", "x = 1 & 2\n", 2, "t.py:1:7: error: bitwise operator '&' is not supported"},
    {"", "x = 1 | 2\n", 2, "t.py:1:7: error: bitwise operator '|' is not supported"},
    {"", "x = ~1\n", 2, "t.py:1:5: error: bitwise operator '~' is not supported"},
    {"", "x = 1 << 2\n", 2, "t.py:1:7: error: bitwise operator '<<' is not supported"},
    {"", "f = lambda a, b, c, d, e, f, g, h, i, j, k, l, m, n, o, p, q: 1\n", 2, "t.py:1:60: error: too many lambda parameters (16 at most)"},
    {"", "() = []\n", 2, "t.py:1:1: error: cannot assign to ()"},
    {"", "[] = []\n", 2, "t.py:1:1: error: cannot assign to ()"},
    {"", "f() += 1\n", 2, "t.py:1:1: error: invalid target for augmented assignment"},
    {"", "(a, b) += 1\n", 2, "t.py:1:1: error: invalid target for augmented assignment"},
    {"", "x = 1\nx @= 2\n", 2, "t.py:2:3: error: operator '@=' is not supported"},
    {"", "x = 1\nx &= 2\n", 2, "t.py:2:3: error: operator '&=' is not supported"},
    {"", "x = 1\nx <<= 2\n", 2, "t.py:2:3: error: operator '<<=' is not supported"},
    {K, "keras.Input(shape=(-1,))\n", 2, "t.py:4:13: error: invalid dimension -1 in a shape"},
    {K, "keras.Input(shape='a')\n", 2, "t.py:4:13: error: Input() argument 'shape' must be a shape (an int or a tuple of ints), not str"},
    {K, "keras.Input(shape=(1.5,))\n", 2, "t.py:4:13: error: Input() argument 'shape' must be a shape (an int or a tuple of ints), not a tuple holding float"},
    {NP, "a = np.zeros((2,)).reshape((2,), 1)\n", 2, "t.py:2:5: error: reshape(): dimensions must be ints, not tuple"},
    {NP, "a = np.zeros(3).astype('complex64')\n", 2, "t.py:2:24: error: unsupported dtype 'complex64' (lamina arrays are float32 or int32)"},
    {NP, "a = np.load(3)\n", 2, "t.py:2:13: error: np.load() argument 'file' must be a string, not int"},
    {"", "print(sys.argv)\n", 2, "t.py:1:7: error: name 'sys' is not defined"},
    {"", "import sys\nprint(sys.path)\n", 2, "t.py:2:11: error: module 'sys' has no attribute 'path'"},
    {NP, "np.random.seed(-1)\n", 2, "t.py:2:16: error: Seed must be between 0 and 2**32 - 1"},
    {"", "x = [1, 2]\nx[5] = 3\n", 2, "t.py:2:3: error: list index out of range"},
    {"", "x = [1, 2]\nx[5]\n", 2, "t.py:2:3: error: list index out of range"},
    {"", "x = {'a': 1}\nx['b']\n", 2, "t.py:2:3: error: KeyError: 'b'"},
    {"", "x = (1, 2)\nx[-3]\n", 2, "t.py:2:3: error: tuple index out of range"},
    {"", "'abc'[10]\n", 2, "t.py:1:7: error: string index out of range"},
    {"", "x = 'a' + 1\n", 2, "t.py:1:9: error: unsupported operand types for +: 'str' and 'int'"},
    {"", "x = [1] + (2,)\n", 2, "t.py:1:9: error: unsupported operand types for +: 'list' and 'tuple'"},
    {"", "x = None + 1\n", 2, "t.py:1:10: error: unsupported operand types for +: 'NoneType' and 'int'"},
    {"", "x = 1 < 'a'\n", 2, "t.py:1:5: error: '<' not supported between instances of 'int' and 'str'"},
    {"", "x = 2 ** 0.5 ** 'a'\n", 2, "t.py:1:10: error: unsupported operand types for **: 'float' and 'str'"},
    {"", "x = 10 ** 400\n", 2, "t.py:1:5: error: integer overflow (lamina integers are 64-bit)"},
    {"", "x = float('nan')\nprint(int(x))\n", 2, "t.py:2:11: error: cannot convert float nan to integer"},
    {"", "print(round(1.5, 'a'))\n", 2, "t.py:1:18: error: round() argument 'ndigits' must be an int, not str"},
    {"", "print(abs('a'))\n", 2, "t.py:1:11: error: abs() argument 'x' must be a number, not str"},
    {"", "print(str(1, 2))\n", 2, "t.py:1:14: error: str() takes at most 1 positional argument (2 given)"},
    {"", "print(list(1, 2))\n", 2, "t.py:1:15: error: list() takes at most 1 positional argument (2 given)"},
    {"", "print(range('a'))\n", 2, "t.py:1:13: error: range() argument 'start' must be an int, not str"},
    {"", "print(range(1, 2, 3, 4))\n", 2, "t.py:1:22: error: range() takes at most 3 positional arguments (4 given)"},
    {"", "print('{0} {}'.format(1, 2))\n", 2, "t.py:1:7: error: cannot switch from manual field specification to automatic field numbering"},
    {"", "print('{:q}'.format(1))\n", 2, "t.py:1:7: error: Unknown format code 'q' for object of type 'int'"},
    {"", "print('{0}'.format())\n", 2, "t.py:1:7: error: format(): no argument for field '{0}'"},
    {"", "print('a'.nope())\n", 2, "t.py:1:11: error: 'str' object has no attribute 'nope'"},
    {"", "print([].nope)\n", 2, "t.py:1:10: error: 'list' object has no attribute 'nope'"},
    {"", "x = [1]\nx.append()\n", 2, "t.py:2:1: error: append() missing required argument 'object'"},
    {"", "x = {}\nx.get()\n", 2, "t.py:2:1: error: get() missing required argument 'key'"},
    {"", "print((1).real)\n", 2, "t.py:1:11: error: 'int' object has no attribute 'real'"},
    {"", "print(None.x)\n", 2, "t.py:1:12: error: 'NoneType' object has no attribute 'x'"},
    {"", "print(print(1)(2))\n", 2, "t.py:1:7: error: 'NoneType' object is not callable"},
    {"", "x = 3\nx()\n", 2, "t.py:2:1: error: 'int' object is not callable"},
    {"", "x = lambda a: a\nx(1, 2)\n", 2, "t.py:2:1: error: <lambda>() takes 1 positional argument but 2 were given"},
    {"", "x = lambda a: a\nx()\n", 2, "t.py:2:1: error: <lambda>() takes 1 positional argument but 0 were given"},
    {"", "x = lambda a: x(a)\nx(1)\n", 2, "t.py:1:15: error: maximum recursion depth exceeded"},
    {"", "print('{} {0}'.format(1, 2))\n", 2, "t.py:1:7: error: cannot switch from automatic field numbering to manual field specification"},
    {"", "print('{:d}'.format(1.5))\n", 2, "t.py:1:7: error: Unknown format code 'd' for object of type 'float'"},
    {"", "print('{:s}'.format(1))\n", 2, "t.py:1:7: error: Unknown format code 's' for object of type 'int'"},
    {K, "layers.Conv2D(2, (3,))\n", 2, "t.py:4:18: error: Conv2D() argument 'kernel_size' must be an int or a tuple of 2 ints, not tuple"},
    {K, "layers.Dense(2, batch_input_shape=())\n", 2, "t.py:4:17: error: batch_input_shape needs the batch dimension"},
    {K, "keras.Input(batch_shape=())\n", 2, "t.py:4:13: error: Input: batch_shape needs the batch dimension"},
    {K, "layers.ZeroPadding2D(padding=(1, 2, 3))\n", 2, "t.py:4:22: error: ZeroPadding2D: 'padding' must be an int, a pair or a pair of pairs"},
    /* sites tests/script_error_sites.py found untested */
    {NP, "a = np.random.rand(2, dtype=3)\n", 2, "t.py:2:23: error: np.random.rand() takes no keyword arguments"},
    {NP, "len(np.zeros(()))\n", 2, "t.py:2:1: error: len() of unsized object"},
    {NP, "list(np.zeros((2, 2)))\n", 2, "t.py:2:6: error: list() of an array needs a 1-D array"},
    {NP, "tuple(np.zeros((2, 2)))\n", 2, "t.py:2:7: error: tuple() of an array needs a 1-D array"},
    {"", "x = 1.0 / 0.0\n", 2, "t.py:1:9: error: float division by zero"},
    {"", "x = 1 / 0\n", 2, "t.py:1:7: error: division by zero"},
    {"", "x = np.zeros(3)\n", 2, "t.py:1:5: error: name 'np' is not defined (missing import?)"},
    {"", "x = layers.Dense(3)\n", 2, "t.py:1:5: error: name 'layers' is not defined (missing import?)"},
    {K, "layers.GRU(2, stateful=True)\n", 2, "t.py:4:15: error: GRU: stateful=True is not supported"},
    {K, "layers.Bidirectional(3)\n", 2, "t.py:4:22: error: Bidirectional expects a layer (such as layers.LSTM(32)), not int"},
    {K, "layers.TimeDistributed(None)\n", 2, "t.py:4:24: error: TimeDistributed expects a layer (such as layers.LSTM(32)), not None"},
    {"", "x = {}\nx.keys(1)\n", 2, "t.py:2:8: error: keys() takes no positional arguments"},
    {K, "keras.Input(shape=-1)\n", 2, "t.py:4:13: error: negative dimension -1 in a shape"},
    {NP, "np.random.randint(0, 3, size=(1, None))\n", 2, "t.py:2:25: error: a shape holds ints, not NoneType"},
    {NP, "np.random.randint(0, 3, size='a')\n", 2, "t.py:2:25: error: np.random.randint() argument 'size' must be a shape (an int or a tuple of ints), not str"},
    {"", "x = (1))\n", 2, "t.py:1:8: error: unmatched ')'"},
    {"", "x = [1]]\n", 2, "t.py:1:8: error: unmatched ']'"},
    {"", "x = 1\nx = {1: 2}}\n", 2, "t.py:2:11: error: unmatched '}'"},
    {NP "from keras.callbacks import LearningRateScheduler\n" "from keras import layers\nimport keras\n",
     "m = keras.models.Sequential([layers.Dense(1, input_shape=(2,))])\nm.compile(optimizer='sgd', loss='mse')\n"
     "s = LearningRateScheduler(lambda e: 'a')\nm.fit(np.zeros((4, 2)), np.zeros((4, 1)), epochs=1, verbose=0, callbacks=[s])\n",
     2, "t.py:7:27: error: The output of the \"schedule\" function should be float, not str"},
    {"from lamina import hp\nimport math\n", "x = math.log(-1)\n", 2, "t.py:3:14: error: math.log: math domain error"},
    {"from lamina import hp\nimport math\n", "x = math.log('a')\n", 2, "t.py:3:14: error: math.log: lamina supports numbers here, not str"},
    {"", "x = '}'.format(1)\n", 2, "t.py:1:5: error: Single '}' encountered in format string"},
    {"", "x = '{0[1]}'.format([1, 2])\n", 2, "t.py:1:5: error: format(): attribute and index lookups in fields ('{0[1]}') are not supported"},
    {"", "x = '{!}'.format(1)\n", 2, "t.py:1:5: error: end of string while looking for conversion specifier"},
    {"", "x = '{!x}'.format(1)\n", 2, "t.py:1:5: error: Unknown conversion specifier x"},
    {"", "x = '{:{:{}}}'.format(1, 2, 3)\n", 2, "t.py:1:5: error: Max string recursion exceeded"},
    {"", "x = '{:.2d}'.format(1)\n", 2, "t.py:1:5: error: Precision not allowed in integer format specifier"},
    {"", "x = '{:,c}'.format(65)\n", 2, "t.py:1:5: error: Cannot specify ',' with 'c'."},
    {"", "x = '{:,x}'.format(65)\n", 2, "t.py:1:5: error: Cannot specify ',' with 'x'."},
    {"", "x = '{:+c}'.format(65)\n", 2, "t.py:1:5: error: Sign not allowed with integer format specifier 'c'"},
    {"", "x = '{:#c}'.format(65)\n", 2, "t.py:1:5: error: Alternate form (#) not allowed with integer format specifier 'c'"},
    {"", "x = '{:c}'.format(-1)\n", 2, "t.py:1:5: error: %c arg not in range(0x110000)"},
    {"", "x = '{:_n}'.format(1.5)\n", 2, "t.py:1:5: error: Cannot specify '_' with 'n'."},
    {"", "x = '{:+}'.format('a')\n", 2, "t.py:1:5: error: Sign not allowed in string format specifier"},
    {"", "x = '{:#}'.format('a')\n", 2, "t.py:1:5: error: Alternate form (#) not allowed in string format specifier"},
    {"", "x = '{:=5}'.format('a')\n", 2, "t.py:1:5: error: '=' alignment not allowed in string format specifier"},
    {"", "x = '{:,}'.format('a')\n", 2, "t.py:1:5: error: Cannot specify ',' with 's'."},
    {"", "x = '{:>5}'.format(None)\n", 2, "t.py:1:5: error: unsupported format string passed to NoneType.__format__"},
    {"", "x = '{:,_}'.format(1)\n", 2, "t.py:1:5: error: Cannot specify both ',' and '_'."},
    {"", "x = '{:.}'.format(1.5)\n", 2, "t.py:1:5: error: Format specifier missing precision"},
    {"", "x = '{:abc}'.format(1)\n", 2, "t.py:1:5: error: Invalid format specifier 'abc' for object of type 'int'"},
    {"", "x = '{:1000000}'.format(1)\n", 2, "t.py:1:5: error: format width too big"},
    {"", "x = '%(a)s' % {'a': 1}\n", 2, "t.py:1:13: error: '%(name)' mapping keys in '%' formatting are not supported"},
    {"", "x = '%*d' % ('a', 1)\n", 2, "t.py:1:11: error: * wants int"},
    {"", "x = '%.*f' % (1.5, 1.0)\n", 2, "t.py:1:12: error: * wants int"},
    {"", "x = '%*d' % (1000000, 1)\n", 2, "t.py:1:11: error: format width too big"},
    {"", "x = '%1000000d' % 1\n", 2, "t.py:1:17: error: format width too big"},
    {"", "x = '%.1000f' % 1.0\n", 2, "t.py:1:15: error: format precision too big"},
    {"", "x = '%x' % 1.5\n", 2, "t.py:1:10: error: %x format: an integer is required, not float"},
    {"", "x = '%f' % 'a'\n", 2, "t.py:1:10: error: must be real number, not str"},
    {"", "x = '%c' % 'ab'\n", 2, "t.py:1:10: error: %c requires an int or a unicode character, not a string of length 2"},
    {"", "x = '%c' % -1\n", 2, "t.py:1:10: error: %c arg not in range(0x110000)"},
    {"", "x = '%c' % 1.5\n", 2, "t.py:1:10: error: %c requires an int or a unicode character, not float"},
    {"", "x = '%d' % float('nan')\n", 2, "t.py:1:10: error: cannot convert float NaN to integer"},
    {"", "x = '%d %d' % (1,)\n", 2, "t.py:1:13: error: not enough arguments for format string"},
    {"", "x = '%d' % (1, 2)\n", 2, "t.py:1:10: error: not all arguments converted during string formatting"},
    {"", "x = 'abc' % 5\n", 2, "t.py:1:11: error: not all arguments converted during string formatting"},
    {K, "i = keras.Input(shape=(3, 2))\nh = keras.Input(shape=(4,))\nx = layers.LSTM(4)([i, i], initial_state=[h, h])\n", 2,
     "t.py:6:20: error: LSTM layer 'lstm_1': initial_state= needs one input tensor"},
    {"from lamina import hp\n", "x = hp.choice('a', [1])\n", 2, "t.py:2:5: error: hp.choice: hp.* defines a search space; run the script with `lamina tune` (docs/tuning.md)"},
};

static void test_error_paths(void **state) {
  (void)state;
  int failed = 0;
  for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
    const err_case *c = &cases[i];
    size_t np = strlen(c->prefix), nb = strlen(c->body);
    char *src = malloc(np + nb + 1);
    assert_non_null(src);
    memcpy(src, c->prefix, np);
    memcpy(src + np, c->body, nb + 1);
    tu_capture out = {0}, err = {0};
    lm_ctx *ctx = tu_ctx();
    lm_ctx_set_seed(ctx, 1);
    lms_opts o = {.mode = LMS_MODE_RUN, .out = tu_capture_fn, .out_ud = &out, .err = tu_capture_fn, .err_ud = &err};
    int st = lms_run_source(ctx, "t.py", src, strlen(src), &o);
    lm_ctx_free(ctx);
    const char *e = err.text ? err.text : "";
    const char *nl = strchr(e, '\n');
    size_t n = nl ? (size_t)(nl - e) : strlen(e);
    if (st != c->status || n != strlen(c->want) || strncmp(e, c->want, n) != 0) {
      fprintf(stderr, "case %zu, script:\n%s\nwanted status %d and:\n%s\ngot status %d:\n%s\n", i, src,
              c->status, c->want, st, e);
      failed++;
    } else if (!nl || !strstr(nl, "^")) { /* the source line and the caret follow */
      fprintf(stderr, "case %zu: no source line and caret after the message:\n%s\n", i, e);
      failed++;
    }
    free(out.text);
    free(err.text);
    free(src);
  }
  print_message("%zu error scripts, %d failed\n", sizeof cases / sizeof *cases, failed);
  assert_int_equal(failed, 0);
}

/* lamina tune's space discovery (lms_hp_space): the report of a wrong hp.*
 * call (err) and the library message (lm_errmsg). */
static void test_hp_space_errors(void **state) {
  (void)state;
  static const struct {
    const char *src, *err, *msg;
  } cases[] = {
      {"from lamina import hp\nx = hp.choice('a', [])\n", "s.py:2:20: error: hp.choice: options must be a non-empty list",
       "s.py: a wrong hp.* call"},
      {"from lamina import hp\nx = hp.choice('a', 3)\n", "s.py:2:20: error: hp.choice: options must be a non-empty list",
       "s.py: a wrong hp.* call"},
      {"from lamina import hp\nx = hp.choice('a', list(range(257)))\n", "s.py:2:20: error: hp.choice: at most 256 options",
       "s.py: a wrong hp.* call"},
      {"from lamina import hp\nx = hp.uniform('x', 0, 1)\ny = hp.uniform('x', 0, 1)\n",
       "s.py:3:16: error: hp.uniform: the label 'x' is used twice", "s.py: a wrong hp.* call"},
      {"from lamina import hp\nx = hp.uniform('a=b', 0, 1)\n",
       "s.py:2:16: error: hp.uniform: the label 'a=b' must be a non-empty name without spaces, ':', ';', '|' or '='",
       "s.py: a wrong hp.* call"},
      {"x = 1 / 0\n", "s.py:1:7: error: division by zero", "s.py: the script failed before any hp.* value"},
      {"x = 1\n", "", "s.py: the script has no hp.* values to tune"},
  };
  int failed = 0;
  for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
    lm_ctx *ctx = tu_ctx();
    char err[1024];
    lm_space *sp = lms_hp_space(ctx, "s.py", cases[i].src, strlen(cases[i].src), NULL, err, sizeof err);
    const char *nl = strchr(err, '\n');
    size_t n = nl ? (size_t)(nl - err) : strlen(err);
    if (sp || n != strlen(cases[i].err) || strncmp(err, cases[i].err, n) != 0 ||
        strcmp(lm_errmsg(ctx), cases[i].msg) != 0) {
      fprintf(stderr, "hp case %zu:\n%s\nwanted:\n%s\n%s\ngot:\n%s\n%s\n", i, cases[i].src, cases[i].err,
              cases[i].msg, err, lm_errmsg(ctx));
      failed++;
    }
    lm_space_free(sp);
    lm_ctx_free(ctx);
  }
  assert_int_equal(failed, 0);
}

/* lamina tune's trials (lms_hp_trial) of a script that differs from the one
 * the study's space came from, and an objective fit's logs lack. (hp.c's
 * "no option of '%s' matches the trial's '%s'" is a defensive check: a
 * trial's choice is always one of its space's options.) */
static void test_hp_trial_errors(void **state) {
  (void)state;
  static const struct {
    const char *src, *want;
  } cases[] = {
      {"from lamina import hp\nv = hp.choice('v', [1])\n",
       "s.py:2:15: error: hp.choice: 'v' is not in the study's search space (the script changed since the study began?)"},
      {"from lamina import hp\nu = hp.choice('u', [1, 2, 3])\n", "s.py:2:20: error: hp.choice: 'u' has 2 options in the study, 3 here"},
      {"from lamina import hp\nimport numpy as np\nimport keras\nfrom keras import layers\nu = hp.choice('u', ['a', 'b'])\n"
       "m = keras.models.Sequential([layers.Dense(1, input_shape=(2,))])\nm.compile(optimizer='sgd', loss='mse')\n"
       "m.fit(np.zeros((4, 2)), np.zeros((4, 1)), epochs=1, verbose=0)\n",
       "s.py:8:1: error: lamina tune: fit's logs have no 'val_acc' (they have: loss); give fit validation data or pick another --objective"},
  };
  lm_ctx *ctx = tu_ctx();
  char err[1024];
  const char *space_src = "from lamina import hp\nu = hp.choice('u', ['a', 'b'])\n";
  lm_space *sp = lms_hp_space(ctx, "space.py", space_src, strlen(space_src), NULL, err, sizeof err);
  assert_non_null(sp);
  lm_tune_opts o = LM_TUNE_DEFAULTS;
  o.algo = LM_TUNE_GRID;
  int failed = 0;
  for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
    lm_study *st = lm_study_open(ctx, sp, NULL, &o);
    assert_non_null(st);
    lm_trial *t = lm_study_ask(st, 2);
    assert_non_null(t);
    assert_string_equal(lm_trial_str(t, "u"), "a");
    lm_ctx *tc = tu_ctx();
    tu_capture out = {0}, e = {0};
    lms_opts so = {.out = tu_capture_fn, .out_ud = &out, .err = tu_capture_fn, .err_ud = &e};
    lms_hp_result r = lms_hp_trial(tc, "s.py", cases[i].src, strlen(cases[i].src), &so, t, sp, "val_acc");
    const char *et = e.text ? e.text : "";
    const char *nl = strchr(et, '\n');
    size_t n = nl ? (size_t)(nl - et) : strlen(et);
    if (r.status == LMS_OK || n != strlen(cases[i].want) || strncmp(et, cases[i].want, n) != 0) {
      fprintf(stderr, "trial case %zu:\n%s\nwanted:\n%s\ngot status %d:\n%s\n", i, cases[i].src, cases[i].want,
              r.status, et);
      failed++;
    }
    free(out.text);
    free(e.text);
    lm_ctx_free(tc);
    lm_study_tell(st, t, LM_TRIAL_FAILED, 0);
    lm_study_free(st);
  }
  lm_space_free(sp);
  lm_ctx_free(ctx);
  assert_int_equal(failed, 0);
}

/* Data files that are not what their name says: a bad IDX file under
 * LAMINA_MNIST, a digits CSV with the wrong number of columns. */
static int write_file(const char *path, const void *data, size_t n) {
  FILE *f = fopen(path, "wb");
  if (!f) return -1;
  size_t w = fwrite(data, 1, n, f);
  return fclose(f) == 0 && w == n ? 0 : -1;
}

static void expect_run(const char *src, int status, const char *want) {
  tu_capture out = {0}, err = {0};
  lm_ctx *ctx = tu_ctx();
  lms_opts o = {.mode = LMS_MODE_RUN, .out = tu_capture_fn, .out_ud = &out, .err = tu_capture_fn, .err_ud = &err};
  int st = lms_run_source(ctx, "t.py", src, strlen(src), &o);
  lm_ctx_free(ctx);
  const char *e = err.text ? err.text : "";
  const char *nl = strchr(e, '\n');
  size_t n = nl ? (size_t)(nl - e) : strlen(e);
  if (st != status || n != strlen(want) || strncmp(e, want, n) != 0)
    fprintf(stderr, "script:\n%s\nwanted status %d and:\n%s\ngot status %d:\n%s\n", src, status, want, st, e);
  assert_int_equal(st, status);
  assert_int_equal(n, strlen(want));
  assert_memory_equal(e, want, n);
  free(out.text);
  free(err.text);
}

static void test_data_file_errors(void **state) {
  (void)state;
  const char *load = "from keras.datasets import mnist\n(a, b), (c, d) = mnist.load_data()\n";
  assert_true(mkdir("idx_bad", 0755) == 0 || errno == EEXIST);
  /* labels: the magic of an int32 IDX file, not unsigned bytes */
  const unsigned char not_bytes[] = {0, 0, 0x0c, 1, 0, 0, 0, 2, 0, 0, 0, 0, 0, 0, 0, 0};
  assert_int_equal(write_file("idx_bad/train-labels-idx1-ubyte", not_bytes, sizeof not_bytes), 0);
  assert_int_equal(write_file("idx_bad/train-images-idx3-ubyte", not_bytes, sizeof not_bytes), 0);
  setenv("LAMINA_MNIST", "idx_bad", 1);
  expect_run(load, 1, "t.py:2:18: error: idx_bad/train-images-idx3-ubyte: not an IDX file of unsigned bytes");
  /* unsigned bytes, 1-D, 5 values promised, 2 present */
  const unsigned char short_file[] = {0, 0, 0x08, 1, 0, 0, 0, 5, 7, 7};
  assert_int_equal(write_file("idx_bad/train-images-idx3-ubyte", short_file, sizeof short_file), 0);
  expect_run(load, 1, "t.py:2:18: error: idx_bad/train-images-idx3-ubyte: truncated IDX file (expected 5 values)");
  unsetenv("LAMINA_MNIST");
  remove("idx_bad/train-labels-idx1-ubyte");
  remove("idx_bad/train-images-idx3-ubyte");
  rmdir("idx_bad");

  const char *csv = "1,2,3\n4,5,6\n";
  assert_int_equal(write_file("digits_bad.csv", csv, strlen(csv)), 0);
  setenv("LAMINA_DIGITS", "digits_bad.csv", 1);
  expect_run("from sklearn.datasets import load_digits\nx, y = load_digits(return_X_y=True)\n", 1,
             "t.py:2:8: error: load_digits: digits_bad.csv: expected 65 columns (64 pixels and a label)");
  unsetenv("LAMINA_DIGITS");
  remove("digits_bad.csv");

  /* the fuzzing sandbox refuses builtins that touch files, and caps fit's epochs */
  {
    tu_capture so = {0}, se = {0};
    lm_ctx *sc = tu_ctx();
    lms_opts sb = {.mode = LMS_MODE_RUN, .out = tu_capture_fn, .out_ud = &so, .err = tu_capture_fn, .err_ud = &se,
                   .sandbox = true};
    const char *src = "import numpy as np\nnp.save('sandbox.npy', np.zeros(2))\n";
    assert_int_equal(lms_run_source(sc, "t.py", src, strlen(src), &sb), LMS_SCRIPT_ERROR);
    assert_non_null(se.text);
    const char *want = "t.py:2:1: error: np.save() is not available in the sandbox (it reads or writes files)\n";
    assert_memory_equal(se.text, want, strlen(want));
    assert_int_equal(access("sandbox.npy", F_OK), -1);
    const char *fit = MC "h = m.fit(x, y, epochs=50, verbose=0)\nprint(len(h.history['loss']))\n";
    assert_int_equal(lms_run_source(sc, "t.py", fit, strlen(fit), &sb), LMS_OK);
    assert_string_equal(so.text, "2\n");
    lm_ctx_free(sc);
    free(so.text);
    free(se.text);
  }

  /* a NUL byte in the source (a binary file given as a script) */
  tu_capture out = {0}, err = {0};
  lm_ctx *ctx = tu_ctx();
  lms_opts o = {.mode = LMS_MODE_RUN, .out = tu_capture_fn, .out_ud = &out, .err = tu_capture_fn, .err_ud = &err};
  assert_int_equal(lms_run_source(ctx, "t.py", "x = 1\0\n", 7, &o), LMS_SCRIPT_ERROR);
  lm_ctx_free(ctx);
  assert_non_null(err.text);
  assert_memory_equal(err.text, "t.py:1:6: error: source contains a NUL byte (not a text file?)\n", 63);
  free(out.text);
  free(err.text);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_error_paths),
      cmocka_unit_test(test_hp_space_errors),
      cmocka_unit_test(test_hp_trial_errors),
      cmocka_unit_test(test_data_file_errors),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}

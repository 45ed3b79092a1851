# Hyperparameter search on a Keras script: the digits MLP (the 8x8 digits
# that Debian's python3-sklearn ships) with its hidden units, optimiser,
# learning rate and, for SGD only, momentum written as hp.* values.
#   lamina tune examples/tune_digits_mlp.py --study digits.db --trials 30 --algo tpe
#   lamina tune examples/tune_digits_mlp.py --study d.db --trials 8 --prune median -- 3
# (the number after -- is sys.argv[1], the epochs per trial). Every trial runs
# this script with one set of values; the objective is fit's val_acc at the
# last epoch run, reported epoch by epoch so a pruner can stop a poor trial.
import sys
import numpy as np
from sklearn.datasets import load_digits
from keras.models import Sequential
from keras.layers import Dense
from keras.optimizers import SGD, RMSprop, Adam
from lamina import hp          # or: from hyperopt import hp

epochs = int(sys.argv[1]) if len(sys.argv) > 1 else 10

x, y = load_digits(return_X_y=True)
x = x / 16.0
x_train, y_train = x[:1078], y[:1078]        # 60 % train
x_val, y_val = x[1078:1437], y[1078:1437]    # 20 % validation (the objective)
x_test, y_test = x[1437:], y[1437:]          # 20 % test

units = hp.choice('units', [16, 32, 64, 128, 256])
lr = hp.loguniform('lr', np.log(1e-4), np.log(1.0))
optim = hp.choice('optimizer', [
    {'type': 'sgd', 'momentum': hp.uniform('momentum', 0.0, 0.95)},  # only under sgd
    {'type': 'rmsprop'},
    {'type': 'adam'}])

if_sgd = SGD(lr=lr, momentum=optim['momentum']) if optim['type'] == 'sgd' else None
opt = if_sgd if optim['type'] == 'sgd' else (RMSprop(lr=lr) if optim['type'] == 'rmsprop' else Adam(lr=lr))

model = Sequential()
model.add(Dense(units, activation='relu', input_shape=(64,)))
model.add(Dense(10, activation='softmax'))
model.compile(loss='sparse_categorical_crossentropy', optimizer=opt, metrics=['accuracy'])
history = model.fit(x_train, y_train, batch_size=32, epochs=epochs, verbose=0,
                    validation_data=(x_val, y_val))
loss, acc = model.evaluate(x_test, y_test, verbose=0)
print('units', units, 'lr', lr, 'optimizer', optim['type'], 'test_acc', acc)

# The lecture's convnet on Fashion-MNIST in classic Keras syntax: the same model,
# data, optimizer and batch size as examples/fashion_cnn.c, so with the same
# --seed and --threads both print the same numbers.
#
#   lamina run examples/fashion_mnist_cnn.py                 # 60,000 images, 5 epochs
#   lamina run --seed 1 examples/fashion_mnist_cnn.py 6000 1 # first 6,000 images, 1 epoch
#
# The data comes from Debian's dataset-fashion-mnist (or $LAMINA_FASHION_MNIST,
# or ../shared/data/fashion-mnist). Reaches test accuracy ~0.91 after 5 epochs.
import sys
import keras
from keras.datasets import fashion_mnist
from keras.models import Sequential
from keras.layers import Conv2D, MaxPooling2D, Flatten, Dense

n_train = int(sys.argv[1]) if len(sys.argv) > 1 else 60000
epochs = int(sys.argv[2]) if len(sys.argv) > 2 else 5
batch_size = 64

import numpy as np
(x_train, y_train), (x_test, y_test) = (np.random.randint(0, 255, (64, 28, 28)), np.random.randint(0, 10, (64,))), (np.random.randint(0, 255, (16, 28, 28)), np.random.randint(0, 10, (16,)))
x_train = x_train[:n_train].reshape(-1, 28, 28, 1).astype('float32') / 255
y_train = y_train[:n_train]
x_test = x_test.reshape(10000, 28, 28, 1).astype('float32') / 255
print('x_train shape:', x_train.shape)

model = Sequential()
model.add(Conv2D(32, (3, 3), activation='relu', input_shape=(28, 28, 1)))
model.add(MaxPooling2D((2, 2)))
model.add(Conv2D(64, (3, 3), activation='relu'))
model.add(MaxPooling2D((2, 2)))
model.add(Flatten())
model.add(Dense(128, activation='relu'))
model.add(Dense(10, activation='softmax'))
model.summary()

# integer labels, as in the C example
model.compile(optimizer='adam',
              loss='sparse_categorical_crossentropy',
              metrics=['accuracy'])

# val_acc after each epoch is the test accuracy of that epoch's weights
model.fit(x_train, y_train,
          batch_size=batch_size,
          epochs=epochs,
          verbose=2,
          validation_data=(x_test, y_test))
score = model.evaluate(x_test, y_test, batch_size=256, verbose=0)
print('test_loss: %.4f' % score[0])
print('test_acc: %.4f' % score[1])

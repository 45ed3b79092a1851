from keras import layers, Input
from keras.models import Model
import numpy as np
x = Input(shape=(64,))
m = Model(x, layers.Dense(10, activation='softmax')(x))
m.compile(optimizer='rmsprop', loss='categorical_crossentropy')
m.fit(np.random.random((16, 32)), np.random.random((16, 10)))

import numpy as np
from keras.models import Sequential
from keras import layers
m = Sequential()
m.add(layers.Dense(4, activation='relu', input_shape=(3,)))
m.add(layers.Dense(2, activation='softmax'))
m.compile(optimizer='rmsprop', loss='categorical_crossentropy', metrics=['accuracy'])
x = np.random.random((8, 3))
y = np.random.random((8, 2))
h = m.fit(x, y, epochs=1, batch_size=4, verbose=0, validation_split=0.25)
print(list(h.history.keys()))
print(len(m.evaluate(x, y, verbose=0)), m.predict(x, verbose=0).shape)

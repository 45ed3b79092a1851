# Lecture 13, "Layer weight sharing": one LSTM applied to two inputs. The
# listing fits on left_data, right_data and targets it does not define; small
# random arrays stand in for them (and a compile, which fit needs).
from keras import layers
from keras import Input
from keras.models import Model
import numpy as np

lstm = layers.LSTM(32)

left_input = Input(shape=(None, 128))
left_output = lstm(left_input)

right_input = Input(shape=(None, 128))
right_output = lstm(right_input)

merged = layers.concatenate([left_output, right_output], axis=-1)
predictions = layers.Dense(1, activation='sigmoid')(merged)
model = Model([left_input, right_input], predictions)

model.compile(optimizer='rmsprop', loss='binary_crossentropy', metrics=['acc'])
left_data = np.random.random((16, 20, 128))
right_data = np.random.random((16, 20, 128))
targets = np.random.randint(0, 2, size=(16, 1))
model.fit([left_data, right_data], targets)

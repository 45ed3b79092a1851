# Bidirectional, TimeDistributed and GRU in a Sequential model (Keras 2.2.4 style):
# a bidirectional LSTM reads 20 word indices, a Dense applied to every step shrinks each
# step to 8 features, a GRU summarises the sequence. `lamina summary` prints the same
# table as Keras (Total params: 50,425: the GRU uses reset_after=True, tf.keras' default).
from keras import layers
from keras.models import Sequential
import numpy as np

model = Sequential()
model.add(layers.Embedding(1000, 32, input_length=20))
model.add(layers.Bidirectional(layers.LSTM(32, return_sequences=True)))
model.add(layers.TimeDistributed(layers.Dense(8)))
model.add(layers.GRU(16))
model.add(layers.Dense(1, activation='sigmoid'))
model.summary()
model.compile(optimizer='rmsprop', loss='binary_crossentropy', metrics=['acc'])

x = np.random.randint(1, 1000, size=(16, 20))
y = np.random.randint(0, 2, size=(16, 1))
model.fit(x, y, epochs=2, batch_size=32, validation_split=0.25)

from keras import layers
d = layers.Dense(32.5)

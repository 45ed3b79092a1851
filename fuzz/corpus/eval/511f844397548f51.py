from keras import layers
x = layers.Dense(32, activation=relu)

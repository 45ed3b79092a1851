from keras import layers
d = layers.Dense(1, 'relu', True, 'zeros', 'ones', 5)

from keras import layers
layer = layers.Dense(4)
layer.build((None, 3))

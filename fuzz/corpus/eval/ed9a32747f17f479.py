from keras import layers, Input
a = Input(shape=(32,))
b = Input(shape=(16, 4))
merged = layers.concatenate([a, b], axis=-1)

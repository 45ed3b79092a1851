from keras import layers, Input
a = Input(shape=(32,))
b = Input(shape=(16,))
s = layers.add([a, b])

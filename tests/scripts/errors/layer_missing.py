from keras import layers
x = layers.GRU(32)

from keras import layers
x = layers.Conv3D(32)

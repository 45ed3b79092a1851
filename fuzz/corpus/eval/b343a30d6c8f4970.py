import keras.nope

from keras import layers
x = layers.LSTM(32)

from keras import Input
x = Input(shape=(4,))
y = x * 2

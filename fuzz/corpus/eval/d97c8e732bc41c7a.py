import keras
from keras import layers
i = keras.Input(shape=(4,))
h = layers.Dense(3, activation='relu')(i)
j = layers.Dense(3)(i)
o = layers.Dense(2, activation='softmax')(layers.add([h, j]))
m = keras.Model(i, o)
m.summary()
print(len(m.layers), m.count_params())

import numpy as np
import keras
from keras import layers
m = keras.models.Sequential([layers.Dense(2, input_shape=(3,))])
m.compile(optimizer='sgd', loss='mse')
x = np.zeros((4, 3))
y = np.zeros((4, 2))
m.compile(optimizer='sgd', loss={'a': 3})

import numpy as np
import keras
from keras import layers
i = keras.Input(shape=(3,))
m = keras.models.Model(i, layers.Dense(2)(i))
m(i)

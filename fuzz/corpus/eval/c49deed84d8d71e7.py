import numpy as np
import keras
from keras import layers
m = keras.models.Sequential([layers.Dense(2, input_shape=(3,))])
m.get_layer(index=7)

import numpy as np
import keras
from keras import layers
keras.Input(shape=(3,), tensor=1)

import numpy as np
import keras
from keras import layers
keras.callbacks.ReduceLROnPlateau(factor=2.0)

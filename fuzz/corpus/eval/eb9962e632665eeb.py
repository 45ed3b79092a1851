import numpy as np
import keras
from keras import layers
keras.optimizers.SGD(lr=-1)

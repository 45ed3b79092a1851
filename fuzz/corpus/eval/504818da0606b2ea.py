import numpy as np
import keras
from keras import layers
keras.models.Sequential([1])

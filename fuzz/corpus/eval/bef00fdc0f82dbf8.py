import numpy as np
import keras
from keras import layers
layers.Dropout(0.5, noise_shape=(1,))

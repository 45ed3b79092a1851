import numpy as np
import keras
from keras import layers
layers.Dense(2, units=3)

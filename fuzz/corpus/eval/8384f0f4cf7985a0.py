import numpy as np
import keras
from keras import layers
layers.Dense(2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13)

import numpy as np
import keras
from keras import layers
layers.GRU(2, stateful=True)

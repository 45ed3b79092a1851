import numpy as np
import keras
from keras import layers
layers.LSTM(3, stateful=True)

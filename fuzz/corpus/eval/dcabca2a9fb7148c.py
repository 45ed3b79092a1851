import numpy as np
import keras
from keras import layers
layers.Flatten(data_format='channels_first')

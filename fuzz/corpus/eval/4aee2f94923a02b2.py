import numpy as np
import keras
from keras import layers
layers.SimpleRNN(3, stateful=True)

import numpy as np
import keras
from keras import layers
layers.concatenate([1, 2])

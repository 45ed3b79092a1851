import numpy as np
import keras
from keras import layers
layers.Reshape(('a',))

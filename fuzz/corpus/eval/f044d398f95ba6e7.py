import numpy as np
import keras
from keras import layers
layers.ZeroPadding2D(padding=-1)

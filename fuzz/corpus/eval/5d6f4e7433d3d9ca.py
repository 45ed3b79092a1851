import numpy as np
import keras
from keras import layers
layers.UpSampling2D(interpolation='bilinear')

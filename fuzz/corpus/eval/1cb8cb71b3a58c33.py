import numpy as np
import keras
from keras import layers
keras.models.load_model('x.safetensors', custom_objects={})

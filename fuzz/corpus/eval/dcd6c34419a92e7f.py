import numpy as np
import keras
from keras import layers
layers.Embedding(3, 2, embeddings_regularizer='l2')

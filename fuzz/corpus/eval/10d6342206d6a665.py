import numpy as np
import keras
from keras import layers
np.save('oom_a.npy', np.arange(6).reshape(2, 3))
a = np.load('oom_a.npy')
m = keras.models.Sequential([layers.Dense(2, input_shape=(3,))])
m.compile(optimizer='adam', loss='mse')
m.save('oom_m.safetensors')
n = keras.models.load_model('oom_m.safetensors')
print(a.shape, n.predict(a.astype('float32'), verbose=0).shape)

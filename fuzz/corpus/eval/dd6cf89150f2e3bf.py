import numpy as np
np.random.seed(1)
a = np.random.random((4, 3)).astype('float32')
b = (a * 2.0 + 1.0)[1:3].reshape(-1)
c = np.zeros((2, 3)) + np.ones((2, 3))
print(a.shape, b.shape, c.sum(), np.arange(5)[-2:], np.argmax(a, axis=-1).shape)

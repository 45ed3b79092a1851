import numpy as np
x = np.zeros((10, 28, 28))
y = x.reshape(-1, 785)

import numpy as np
a = np.zeros((3,)).reshape(100000, 100000, 100000)

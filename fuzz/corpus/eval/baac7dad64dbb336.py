import numpy as np
a = np.zeros((2,)).reshape((2,), 1)

import numpy as np
a = np.random.random((2, -3))

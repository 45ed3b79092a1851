import numpy as np
a = np.ones((1, 1, 1, 1, 1, 1, 1, 1, 1))

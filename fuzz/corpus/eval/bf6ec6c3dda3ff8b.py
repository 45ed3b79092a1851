import numpy as np
a, b = np.zeros((2, 2))

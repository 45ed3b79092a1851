import numpy as np
a = np.zeros((2, 3)) @ np.zeros((3, 2))

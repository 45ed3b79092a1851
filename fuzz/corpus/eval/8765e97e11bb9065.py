import numpy as np
a = np.zeros((100000, 100000, 100000))

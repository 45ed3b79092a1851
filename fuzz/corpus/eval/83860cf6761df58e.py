import numpy as np
a = np.random.rand(-1)

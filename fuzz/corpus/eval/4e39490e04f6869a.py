import numpy as np
a = np.arange(0, 1e12)

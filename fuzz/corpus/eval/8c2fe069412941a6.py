import numpy as np
a = np.arange(0, 3, 0)

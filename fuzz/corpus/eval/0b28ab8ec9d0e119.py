import numpy as np
a = np.random.rand(2, dtype=3)

import numpy as np
a = np.load(3)

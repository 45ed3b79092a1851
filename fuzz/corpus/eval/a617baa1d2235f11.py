import numpy as np
min(np.zeros((2, 2)))

import numpy as np
list(np.zeros((2, 2)))

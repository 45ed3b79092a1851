import numpy as np
np.zeros(2) < np.zeros(2)

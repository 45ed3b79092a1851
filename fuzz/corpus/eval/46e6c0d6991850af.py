import numpy as np
a = np.array([np.zeros(2)])

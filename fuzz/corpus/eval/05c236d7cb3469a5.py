import numpy as np
a = np.zeros((2, 3)).reshape(3, order='C')

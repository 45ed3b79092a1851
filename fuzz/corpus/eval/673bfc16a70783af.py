import numpy as np
a = np.ones(3, dtype='float32', order='C')

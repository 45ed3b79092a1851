import numpy as np
a = np.zeros((2, 3)).reshape('a', 6)

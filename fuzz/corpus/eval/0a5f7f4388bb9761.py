import numpy as np
np.random.shuffle(3)

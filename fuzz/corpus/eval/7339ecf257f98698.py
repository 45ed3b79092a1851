import numpy as np
len(np.zeros(()))

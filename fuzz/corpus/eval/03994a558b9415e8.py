import numpy as np
np.random.randint(0, 3, size='a')

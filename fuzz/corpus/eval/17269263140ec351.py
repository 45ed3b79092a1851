import numpy as np
a = np.random.randint(0, 10000000000, (2,))

import numpy as np
a = np.random.randint(3, 3, (2,))

import numpy as np
a = np.zeros(())
b = a[0]

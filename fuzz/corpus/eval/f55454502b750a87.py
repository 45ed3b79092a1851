import numpy as np
a = np.loadtxt('x.csv', delimiter=';;')

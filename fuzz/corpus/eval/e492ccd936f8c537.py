import numpy as np
a = np.loadtxt('x.csv', skiprows=-1)

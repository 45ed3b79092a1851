import numpy as np
a = np.zeros((0,)).argmax()

import numpy as np
for epoch in range(10):
    print(epoch)

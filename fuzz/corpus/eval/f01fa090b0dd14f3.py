x = (1, [2, {3: 4}], "s\n", 1e-3, 0x1f)
y = x[1][0] if x else -x ** 2 // 3 % 4
f = lambda a, b: a and b or not a
print(f(1, 2), sep="", end="")
import numpy as np; a = np.zeros((2, 3))[:1, ...]

from lamina import hp
import math
x = math.log('a')

f = lambda x: x
f(x=1)

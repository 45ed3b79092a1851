x = lambda a: x(a)
x(1)

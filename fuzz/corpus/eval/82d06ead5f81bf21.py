x = lambda a: a
x(1, 2)

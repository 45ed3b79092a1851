x = lambda a: a
x()

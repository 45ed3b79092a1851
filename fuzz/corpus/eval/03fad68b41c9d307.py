float('x')

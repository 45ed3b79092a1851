raise ValueError('x')

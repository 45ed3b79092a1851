print((1).real)

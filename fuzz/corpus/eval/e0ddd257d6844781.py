print('{:q}'.format(1))

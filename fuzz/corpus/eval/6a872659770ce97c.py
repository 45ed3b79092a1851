print('{:s}'.format(1))

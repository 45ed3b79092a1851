x = '{:abc}'.format(1)

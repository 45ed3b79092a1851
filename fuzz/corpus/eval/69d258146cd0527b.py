'{a}'.format(1)

x = '{:.2d}'.format(1)

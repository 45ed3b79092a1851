x = '{:.}'.format(1.5)

x = '}'.format(1)

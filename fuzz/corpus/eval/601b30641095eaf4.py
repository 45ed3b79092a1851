x = '{:_n}'.format(1.5)

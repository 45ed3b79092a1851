x = '{:,c}'.format(65)

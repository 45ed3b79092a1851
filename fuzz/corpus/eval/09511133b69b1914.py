x = '{:c}'.format(-1)

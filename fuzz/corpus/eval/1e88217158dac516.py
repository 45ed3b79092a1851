x = '{:,x}'.format(65)

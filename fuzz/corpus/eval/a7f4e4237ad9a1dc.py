x = '{:,_}'.format(1)

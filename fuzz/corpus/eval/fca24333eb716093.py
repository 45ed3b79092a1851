x = '{:#}'.format('a')

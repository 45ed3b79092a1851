x = '{:,}'.format('a')

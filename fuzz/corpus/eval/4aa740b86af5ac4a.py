x = '{:+}'.format('a')

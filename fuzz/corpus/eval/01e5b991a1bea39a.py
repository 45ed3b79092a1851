x = 'abc' % 5

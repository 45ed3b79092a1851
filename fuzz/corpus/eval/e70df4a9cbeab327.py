x = '%c' % 'ab'

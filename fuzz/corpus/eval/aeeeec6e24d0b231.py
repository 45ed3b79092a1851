x = '%d' % float('nan')

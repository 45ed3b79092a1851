x = '{:>5}'.format(None)

x = '{!}'.format(1)

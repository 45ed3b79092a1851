'{'.format(1)

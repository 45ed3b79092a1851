print('{0}'.format())

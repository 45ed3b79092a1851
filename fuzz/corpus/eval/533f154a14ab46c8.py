print('{:c}'.format(42))

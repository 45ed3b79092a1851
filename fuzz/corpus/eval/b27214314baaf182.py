x = '{!x}'.format(1)

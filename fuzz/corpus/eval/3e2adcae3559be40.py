x = '{:=5}'.format('a')

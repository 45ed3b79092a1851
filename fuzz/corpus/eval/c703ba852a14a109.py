print(range('a'))

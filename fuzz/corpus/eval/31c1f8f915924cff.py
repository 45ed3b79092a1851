print(str(1, 2))

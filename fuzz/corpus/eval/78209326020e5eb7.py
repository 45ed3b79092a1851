print(list(1, 2))

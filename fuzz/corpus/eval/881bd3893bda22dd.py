print(None.x)

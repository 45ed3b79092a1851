len(3)

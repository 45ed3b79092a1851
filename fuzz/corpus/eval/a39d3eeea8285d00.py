min([1], key=2)

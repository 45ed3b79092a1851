x = {}
x.keys(1)

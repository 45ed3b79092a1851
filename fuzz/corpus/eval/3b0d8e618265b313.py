x = [1]
x.append()

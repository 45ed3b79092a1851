x = {}
x.get()

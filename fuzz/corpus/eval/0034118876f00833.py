print(a.b=2)

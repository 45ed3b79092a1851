f = lambda: 1
f() = 3

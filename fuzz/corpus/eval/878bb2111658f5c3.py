x = float('nan')
print(int(x))

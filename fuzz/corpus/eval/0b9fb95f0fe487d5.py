round(float('nan'))

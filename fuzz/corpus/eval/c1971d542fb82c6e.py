print(abs('a'))

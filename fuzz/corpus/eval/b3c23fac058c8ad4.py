print(f'{1}')

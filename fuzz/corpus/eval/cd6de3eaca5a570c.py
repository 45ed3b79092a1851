print('{:.2s}'.format(''))
print('{:.2s}'.format('a'))
print('{:.2s}'.format('abc'))
print('{:.2s}'.format('hello world'))

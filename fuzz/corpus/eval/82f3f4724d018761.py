print('{:10.2s}'.format(''))
print('{:10.2s}'.format('a'))
print('{:10.2s}'.format('abc'))
print('{:10.2s}'.format('hello world'))

print('{:>10s}'.format(''))
print('{:>10s}'.format('a'))
print('{:>10s}'.format('abc'))
print('{:>10s}'.format('hello world'))

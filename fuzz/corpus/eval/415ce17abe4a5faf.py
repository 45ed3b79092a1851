x = [1, 2.5, 'a', None, (3, 4)]
d = {'k': x, 'n': len(x)}
d['m'] = list(range(3)) if x else None
s = 'v=%d %.2f %s' % (3, 1.5, 'z') + ' {} {:>6.2f}'.format(d['n'], 2.25)
x.append(s)
t = [3, 1, 2] * 2
f = lambda v: v * 2
print(x, d, s, t, list(d.keys()), max(t), sum(t), f(1.5), '-'.join(['a', 'b']), repr('q'))

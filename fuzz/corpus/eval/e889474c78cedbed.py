from lamina import hp
x = hp.choice('a', [1])

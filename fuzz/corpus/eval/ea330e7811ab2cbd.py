print(*[1])

print([].nope)

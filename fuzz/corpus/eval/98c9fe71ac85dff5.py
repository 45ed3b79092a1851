1 in 3

1 in 'a'

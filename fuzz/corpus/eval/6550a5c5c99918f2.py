x = b'a'

x = foo

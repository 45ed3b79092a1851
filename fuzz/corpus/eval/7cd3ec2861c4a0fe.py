for_ = list(3)

float([])

print(**{})

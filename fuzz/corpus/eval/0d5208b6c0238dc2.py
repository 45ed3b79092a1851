x = layers.Dense(3)

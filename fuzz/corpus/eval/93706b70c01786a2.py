x = np.zeros(3)

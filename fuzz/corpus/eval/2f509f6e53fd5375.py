from keras import layers

def block(x):
    return layers.Dense(32)(x)

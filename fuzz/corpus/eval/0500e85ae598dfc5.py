# Lecture 13, "DAGs of layers": an Inception-style module. The listing leaves
# x undefined; the Input line below is added. As listed, the branches end at
# different spatial sizes under 'valid' padding (branch_a 14x14, branch_c and
# branch_d smaller), so the concatenation fails in Keras and in lamina with a
# message naming the layer and the shapes.
from keras import layers
from keras import Input
x = Input(shape=(28, 28, 256))  # added: the listing's "x"

branch_a = layers.Conv2D(128, 1, activation='relu', strides=2)(x)

branch_b = layers.Conv2D(128, 1, activation='relu')(x)
branch_b = layers.Conv2D(128, 3, activation='relu', strides=2)(branch_b)

branch_c = layers.AveragePooling2D(3, strides=2)(x)
branch_c = layers.Conv2D(128, 3, activation='relu')(branch_c)

branch_d = layers.Conv2D(128, 1, activation='relu')(x)
branch_d = layers.Conv2D(128, 3, activation='relu')(branch_d)
branch_d = layers.Conv2D(128, 3, activation='relu', strides=2)(branch_d)

output = layers.concatenate([branch_a, branch_b, branch_c, branch_d], axis = -1)

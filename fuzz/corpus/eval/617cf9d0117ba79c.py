from keras import nope

/* Floor 4: Conv2D, pooling and BatchNormalization layer classes (issue 4),
 * and small config helpers they share. */
#ifndef LM_LAYERS_CONV_H
#define LM_LAYERS_CONV_H

#include "layers/layer.h"

extern const lml_class lml_conv2d_class, lml_max_pooling2d_class, lml_average_pooling2d_class,
    lml_global_average_pooling2d_class, lml_global_max_pooling2d_class,
    lml_batch_normalization_class;

/* A Keras int-or-pair config field ("kernel_size": 3 or [3, 3]) into out[2];
 * dflt when absent. false when present but malformed. */
bool lml_conv_pair(const lmj_value *cfg, const char *key, int dflt, int out[2]);
/* padding name -> true for "same", false for "valid"; -1 if neither. */
int lml_conv_padding(const char *padding);

#endif

/* Helpers shared by the spatial layers of issue 4 (depthwise.c, spatial.c):
 * Keras' padding names and integer pairs in saved configs. */
#ifndef LM_LAYERS_SPATIAL_UTIL_H
#define LM_LAYERS_SPATIAL_UTIL_H

#include "layers/layer.h"
#include "ops/ops.h"

/* "valid" / "same" (any case; NULL = "valid") -> *same; error names what. */
lm_status lml_spatial_padding(lm_ctx *ctx, const char *what, const char *padding, bool *same);
/* cfg[key] as a number (both) or a list of two numbers; absent: dflt for
 * both, or an error naming the layer when dflt is 0. */
lm_status lml_spatial_pair(lm_ctx *ctx, const lmj_value *cfg, const char *key, int dflt, int out[2],
                           const char *layer);

#endif

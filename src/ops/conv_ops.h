/* Floor 3: convolution, pooling and batch-normalisation ops (NHWC).
 * Builders follow ops.h: they append one node and return its id, or -1 with
 * the context's error set; an input id of -1 propagates. */
#ifndef LM_OPS_CONV_H
#define LM_OPS_CONV_H

#include "ops/ops.h"

/* x (N, H, W, C) * w (kh, kw, C, F) [+ b (F)] -> (N, H', W', F), Keras
 * cross-correlation with TF 'valid'/'same' padding. b = -1 for none. */
int lmo_conv2d(lmg_graph *g, int x, int w, int b, int sh, int sw, int dh, int dw, bool same);
/* The same with relu fused (relu(conv(x, w) + b), one node). */
int lmo_conv2d_relu(lmg_graph *g, int x, int w, int b, int sh, int sw, int dh, int dw, bool same,
                    bool relu);
/* The forward of conv2d node n with kernel w and bias b (NULL: none) into y. */
void lmo_conv2d_run(lmg_graph *g, lmg_node *n, const float *w, const float *b, float *y);

enum lmo_pool_kind { LMO_POOL_MAX, LMO_POOL_AVG };
/* Pooling windows (ph, pw) with strides (sh, sw) over (N, H, W, C). */
int lmo_pool2d(lmg_graph *g, int kind, int x, int ph, int pw, int sh, int sw, bool same);
/* (N, d1, ..., C) -> (N, C): max or mean over the middle axes. */
int lmo_global_pool(lmg_graph *g, int kind, int x);

/* Batch normalisation over every axis but `axis` (>= 1, counts the batch).
 * mean/var are the moving statistics (non-trainable params): used in
 * inference; in training the batch statistics are used and the moving ones
 * updated in place, moving = moving * momentum + batch * (1 - momentum), the
 * variance with Keras' m / (m - (1 + eps)) correction. gamma, beta = -1 for
 * scale=False / center=False. */
int lmo_batchnorm(lmg_graph *g, int x, int mean, int var, int gamma, int beta, int axis,
                  float momentum, float eps);

extern const lm_op lmo_op_conv2d, lmo_op_pool2d, lmo_op_global_pool, lmo_op_batchnorm;

#endif

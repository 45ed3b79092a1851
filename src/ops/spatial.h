/* Floor 3: the spatial op kinds of the depthwise/separable/transposed
 * convolution layers and the padding, cropping, upsampling and parametric
 * ReLU layers (issue 4, second half). Same conventions as ops.h: builders
 * append one node and return its id or -1; an input id of -1 propagates.
 * NHWC float32 throughout. */
#ifndef LM_OPS_SPATIAL_H
#define LM_OPS_SPATIAL_H

#include "ops/ops.h"

/* Depthwise 2-D convolution: x (N, H, W, C), k (kh, kw, C, dm) [+ b (C*dm)]
 * -> (N, H', W', C*dm), output channel c*dm + m. same: TF 'same' padding
 * (extra pixel at the bottom/right), else 'valid'. b = -1 for none. */
int lmo_depthwise(lmg_graph *g, int x, int k, int b, int sh, int sw, int dh, int dw, bool same);
/* The forward of depthwise node n with kernel k and bias b (NULL: none) into y. */
void lmo_depthwise_run(lmg_graph *g, lmg_node *n, const float *k, const float *b, float *y);
/* 1x1 stride-1 convolution on the last axis: x (..., K) . w (1, ..., 1, K, N)
 * [+ b (N)] -> (..., N); one gemm, no im2col. */
int lmo_pointwise(lmg_graph *g, int x, int w, int b);
/* Zero padding (positive) or cropping (negative) of the H and W axes of x
 * (N, H, W, C): top, bottom, left, right. */
int lmo_pad2d(lmg_graph *g, int x, int top, int bottom, int left, int right);
/* Nearest-neighbour upsampling of H and W by integer factors. */
int lmo_upsample2d(lmg_graph *g, int x, int sh, int sw);
/* Keras ReLU layer: max_value where x >= max_value (when has_max), x where
 * threshold <= x, else negative_slope * (x - threshold). LeakyReLU(alpha) is
 * negative_slope = alpha, threshold 0, no cap. */
int lmo_relu_ex(lmg_graph *g, int x, bool has_max, float max_value, float negative_slope,
                float threshold);
/* Transposed 2-D convolution (the gradient of Conv2D w.r.t. its input):
 * x (N, H, W, Cin), k (kh, kw, filters, Cin) [+ b (filters)] ->
 * (N, H', W', filters) with H' = (H-1)*s + dk - pad_total (Keras
 * deconv_length: valid H*s + max(dk - s, 0), same H*s). */
int lmo_conv2d_transpose(lmg_graph *g, int x, int k, int b, int sh, int sw, int dh, int dw,
                         bool same);

extern const lm_op lmo_op_depthwise, lmo_op_pointwise, lmo_op_pad2d, lmo_op_upsample2d,
    lmo_op_relu_ex, lmo_op_conv2d_transpose;

#endif

/* Floor 2: direct depthwise 2-D convolution over NHWC tensors.
 *
 * The kernel is Keras' depthwise_kernel (kh, kw, C, dm); output channel
 * c*dm + m reads input channel c (keras-semantics.md section 3). Output
 * sizes and 'same' pads come from kernels/conv_shape.h. Seen as
 * (kh*kw, C*dm) the kernel rows line up with the output channels, so the
 * inner loops run over contiguous channels and vectorise. All loops write
 * disjoint outputs (forward, input gradient) or sum in a fixed order
 * (filter and bias gradients), so results do not depend on the thread count. */
#ifndef LM_KERNELS_DEPTHWISE_H
#define LM_KERNELS_DEPTHWISE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct lmk_dw_geom {
  int n, h, w, c;     /* input (N, H, W, C) */
  int kh, kw, dm;     /* kernel (kh, kw, C, dm) */
  int sh, sw, dh, dw; /* strides, dilations */
  int pad_top, pad_left;
  int oh, ow; /* output (N, oh, ow, C*dm) */
} lmk_dw_geom;

/* y = depthwise(x, k) [+ bias]; bias may be NULL. y is overwritten. */
void lmk_depthwise_fwd(const lmk_dw_geom *g, const float *x, const float *k, const float *bias,
                       float *y, int threads);
/* dx += depthwise^T(dy, k). */
void lmk_depthwise_bwd_data(const lmk_dw_geom *g, const float *dy, const float *k, float *dx,
                            int threads);
/* dk += sum over n, oy, ox of x * dy per tap and channel. scratch holds
 * lmk_depthwise_scratch(g) bytes. */
void lmk_depthwise_bwd_filter(const lmk_dw_geom *g, const float *x, const float *dy, float *dk,
                              void *scratch, int threads);
size_t lmk_depthwise_scratch(const lmk_dw_geom *g);
/* db[j] += sum of dy over all rows, rows (M) by channels (N), in row order. */
void lmk_bias_grad_rows(const float *dy, int64_t M, int N, float *db, int threads);

#endif

/* Floor 2: Keras/TF output sizes and 'same' padding for convolution and
 * pooling windows (keras/utils/conv_utils.py::conv_output_length and TF's
 * padding rule). The one place this arithmetic lives; every spatial op uses it.
 *
 *   dilated k  dk = k + (k - 1)(d - 1)
 *   same       out = ceil(n / s)
 *   valid      out = ceil((n - dk + 1) / s)  (0 when the window does not fit)
 *   same pads  total = max((out - 1) s + dk - n, 0), before = total / 2,
 *              after = total - before (the extra pixel goes bottom/right). */
#ifndef LM_KERNELS_CONV_SHAPE_H
#define LM_KERNELS_CONV_SHAPE_H

#include <stdbool.h>
#include <stdint.h>

/* Output length along one axis; n < 0 (unknown, LM_NONE) gives -1. */
static inline int64_t lmk_conv_out(int64_t n, int k, int stride, int dilation, bool same) {
  if (n < 0) return -1;
  int64_t dk = (int64_t)k + (int64_t)(k - 1) * (dilation - 1);
  if (same) return (n + stride - 1) / stride;
  if (n < dk) return 0;
  return (n - dk) / stride + 1;
}

/* Padding before (top/left) and after (bottom/right); zero for valid. */
static inline void lmk_conv_pads(int64_t n, int k, int stride, int dilation, bool same,
                                 int64_t *before, int64_t *after) {
  *before = *after = 0;
  if (!same || n < 0) return;
  int64_t dk = (int64_t)k + (int64_t)(k - 1) * (dilation - 1);
  int64_t out = (n + stride - 1) / stride;
  int64_t total = (out - 1) * stride + dk - n;
  if (total < 0) total = 0;
  *before = total / 2;
  *after = total - *before;
}

#endif

/* Floor 2: 2-D convolution (NHWC im2col + sgemm), pooling and batch
 * normalisation kernels.
 *
 * Layout: x (n, ih, iw, ic), Keras kernel (kh, kw, ic, oc), y (n, oh, ow, oc).
 * The im2col matrix of one image has a row per output pixel and the columns
 * (ki, kj, c), which is exactly the row order of the Keras kernel seen as a
 * (kh*kw*ic, oc) matrix, so y = col . kernel with no transposes. A 1x1,
 * stride-1 convolution is that gemm on x itself. These gemms go through
 * lmk_sgemm_rows (no packing of the im2col matrix). With stride 1 the input
 * gradient is the convolution of dy with the kernel turned by 180 degrees
 * (im2col of dy, one gemm into dx); strided convolutions use col2im.
 * With >= 16 input channels (AVX2+FMA, oc % 8 == 0, the kernel in L2) the
 * im2col matrix is never formed: the same microkernel reads each tap's
 * channel run from x in place (implicit GEMM, the same bits as im2col), and
 * the kernel gradient packs x and dy per image per thread into panels for an
 * AVX2 6 x 16 kernel, the threads owning disjoint columns of dw.
 *
 * Determinism: parallel loops write disjoint outputs (rows of col, whole
 * images of dx) or sum per channel over rows in a fixed order, so the results
 * do not depend on the thread count. */
#ifndef LM_KERNELS_CONV_H
#define LM_KERNELS_CONV_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct lmk_conv_geom {
  int n, ih, iw, ic;    /* input */
  int kh, kw;           /* window */
  int sh, sw, dh, dw;   /* strides, dilations */
  int pad_top, pad_left;
  int oh, ow, oc;       /* output (oc == ic for pooling) */
  int threads;          /* the thread count the kernels will run with, which sizes
                           the scratch (0: lmk_threads()); the graph's, fixed at plan */
} lmk_conv_geom;

/* True when the convolution is a plain gemm on x (1x1, stride 1, no pad). */
bool lmk_conv2d_is_gemm(const lmk_conv_geom *p);
/* Images per im2col chunk and the scratch (floats) forward/backward need
 * (with a packing slot per lmk_threads() for the kernel gradient). */
int lmk_conv2d_chunk(const lmk_conv_geom *p);
int64_t lmk_conv2d_scratch(const lmk_conv_geom *p);

/* col (nimg*oh*ow, kh*kw*ic) from nimg images starting at x. */
void lmk_im2col(const lmk_conv_geom *p, const float *x, int nimg, float *col, int threads);
/* dx (nimg images) += col2im(col). */
void lmk_col2im_add(const lmk_conv_geom *p, const float *col, int nimg, float *dx, int threads);

/* y = conv(x, w) [+ b]; b may be NULL; col holds lmk_conv2d_scratch floats. */
void lmk_conv2d_fwd(const lmk_conv_geom *p, const float *x, const float *w, const float *b,
                    float *y, float *col, int threads);
/* The same with relu applied to the output when relu is true (in the
 * implicit gemm's epilogue, else a pass over y). */
void lmk_conv2d_fwd_act(const lmk_conv_geom *p, const float *x, const float *w, const float *b,
                        bool relu, float *y, float *col, int threads);
/* y = max(y, 0); dy = y > 0 ? dy : 0 (the gradient through a relu whose
 * output is y, as the relu activation: 0 at 0 and for NaN). */
void lmk_relu_inplace(float *y, int64_t n, int threads);
void lmk_relu_mask_grad(const float *y, float *dy, int64_t n, int threads);
/* dx += conv^T(dy), dw += x (*) dy, db += sum dy; any of dx, dw, db may be NULL. */
void lmk_conv2d_bwd(const lmk_conv_geom *p, const float *x, const float *w, const float *dy,
                    float *dx, float *dw, float *db, float *col, int threads);

/* db[j] += sum over rows of m (rows x cols), per column in row order. */
void lmk_col_sums_add(const float *m, int64_t rows, int cols, float *db, int threads);

/* Pooling over windows (kh, kw) with the strides and pads of p (dh = dw = 1).
 * Max ignores padded cells and records in arg the in-image index of the
 * first maximum; average divides by the number of real cells. */
/* arg NULL: the maximum only (inference), no argmax pass. */
void lmk_maxpool_fwd(const lmk_conv_geom *p, const float *x, float *y, int32_t *arg,
                     int threads);
void lmk_maxpool_bwd(const lmk_conv_geom *p, const float *dy, const int32_t *arg, float *dx,
                     int threads);
void lmk_avgpool_fwd(const lmk_conv_geom *p, const float *x, float *y, int threads);
void lmk_avgpool_bwd(const lmk_conv_geom *p, const float *dy, float *dx, int threads);

/* Global pooling: x (n, s, c) -> y (n, c) over the s positions. */
void lmk_global_max_fwd(int64_t n, int64_t s, int64_t c, const float *x, float *y, int32_t *arg,
                        int threads);
void lmk_global_avg_fwd(int64_t n, int64_t s, int64_t c, const float *x, float *y, int threads);
void lmk_global_max_bwd(int64_t n, int64_t c, const float *dy, const int32_t *arg, float *dx,
                        int64_t s, int threads);
void lmk_global_avg_bwd(int64_t n, int64_t s, int64_t c, const float *dy, float *dx,
                        int threads);

/* Batch normalisation over x seen as (outer, c, inner), per channel c.
 * Statistics: mean and biased variance (double accumulators). */
void lmk_bn_stats(int64_t outer, int c, int64_t inner, const float *x, float *mean, float *var,
                  int threads);
/* y = gamma * (x - mean) * inv + beta; gamma, beta may be NULL (1, 0). */
void lmk_bn_apply(int64_t outer, int c, int64_t inner, const float *x, const float *mean,
                  const float *inv, const float *gamma, const float *beta, float *y,
                  int threads);
/* Backward. batch_stats: mean/inv came from this batch (training), so dx
 * carries the terms through the statistics; otherwise they are constants.
 * dx, dgamma, dbeta may be NULL; all are added to. */
void lmk_bn_bwd(int64_t outer, int c, int64_t inner, const float *x, const float *dy,
                const float *mean, const float *inv, const float *gamma, bool batch_stats,
                float *dx, float *dgamma, float *dbeta, int threads);

#endif

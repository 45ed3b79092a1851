/* Batch normalisation, fused: per-channel statistics over (outer, inner)
 * with double accumulators, the affine apply, and the backward pass. The
 * reductions run over blocks of channels in parallel, each block summing its
 * rows in order, so results do not depend on the thread count.
 *
 * Channels last (inner == 1, every NHWC BatchNormalization) has its own
 * path: the channels are the contiguous, vectorised axis and the rows are
 * split into a fixed number of chunks (it depends on the row count only).
 * Each chunk sums runs of up to RUN rows in float, adds each run into its
 * double partial, and the partials are added in chunk order, so the result
 * does not depend on the thread count either. */
#include "kernels/conv.h"

#include "kernels/par.h"

enum { BN_BLK = 16 };

/* ---- channels last (inner == 1) ---- */

enum {
  CL_CH = 256,   /* channels per block (stack arrays) */
  CL_CHUNKS = 8, /* row chunks of a reduction */
  CL_RUN = 32    /* rows summed in float before a double add */
};

static int cl_chunks(int64_t rows) { return rows < CL_CHUNKS ? (rows > 0 ? (int)rows : 1) : CL_CHUNKS; }

/* part[k * CL_CH + j] = sum over chunk k's rows of f(row, c0 + j), for the
 * block of nc channels at c0. kind 0: x; 1: (x - mu)^2; 2: dy; 3: dy * (x -
 * mu) * iv. Written out per kind so that each inner loop vectorises. */
static void cl_partials(int kind, int64_t rows, int c, int c0, int nc, const float *x,
                        const float *dy, const float *mu, const float *iv, double *part,
                        int threads) {
  const int nk = cl_chunks(rows);
  LMK_PAR_FOR(threads, rows * nc > LMK_PAR_MIN)
  for (int k = 0; k < nk; k++) {
    const int64_t r0 = rows * k / nk, r1 = rows * (k + 1) / nk;
    double *acc = part + (int64_t)k * CL_CH;
    float run[CL_CH], m[CL_CH], v[CL_CH];
    for (int j = 0; j < nc; j++) {
      acc[j] = 0.0;
      m[j] = mu ? mu[c0 + j] : 0.0f;
      v[j] = iv ? iv[c0 + j] : 1.0f;
    }
    for (int64_t a = r0; a < r1; a += CL_RUN) {
      const int64_t b = a + CL_RUN < r1 ? a + CL_RUN : r1;
      for (int j = 0; j < nc; j++) run[j] = 0.0f;
      switch (kind) {
        case 0:
          for (int64_t r = a; r < b; r++) {
            const float *restrict xp = x + r * c + c0;
            for (int j = 0; j < nc; j++) run[j] += xp[j];
          }
          break;
        case 1:
          for (int64_t r = a; r < b; r++) {
            const float *restrict xp = x + r * c + c0;
            for (int j = 0; j < nc; j++) run[j] += (xp[j] - m[j]) * (xp[j] - m[j]);
          }
          break;
        case 2:
          for (int64_t r = a; r < b; r++) {
            const float *restrict gp = dy + r * c + c0;
            for (int j = 0; j < nc; j++) run[j] += gp[j];
          }
          break;
        default:
          for (int64_t r = a; r < b; r++) {
            const float *restrict xp = x + r * c + c0, *restrict gp = dy + r * c + c0;
            for (int j = 0; j < nc; j++) run[j] += gp[j] * ((xp[j] - m[j]) * v[j]);
          }
          break;
      }
      for (int j = 0; j < nc; j++) acc[j] += run[j];
    }
  }
}

/* out[j] = sum over the chunks in order of part[k][j] */
static void cl_sum(int64_t rows, int nc, const double *part, double *out) {
  const int nk = cl_chunks(rows);
  for (int j = 0; j < nc; j++) out[j] = 0.0;
  for (int k = 0; k < nk; k++)
    for (int j = 0; j < nc; j++) out[j] += part[(int64_t)k * CL_CH + j];
}

static void cl_stats(int64_t rows, int c, const float *x, float *mean, float *var, int threads) {
  double part[CL_CHUNKS * CL_CH], tot[CL_CH];
  const double m = (double)rows;
  for (int c0 = 0; c0 < c; c0 += CL_CH) {
    const int nc = c - c0 < CL_CH ? c - c0 : CL_CH;
    cl_partials(0, rows, c, c0, nc, x, NULL, NULL, NULL, part, threads);
    cl_sum(rows, nc, part, tot);
    for (int j = 0; j < nc; j++) mean[c0 + j] = m > 0 ? (float)(tot[j] / m) : 0.0f;
    cl_partials(1, rows, c, c0, nc, x, NULL, mean, NULL, part, threads);
    cl_sum(rows, nc, part, tot);
    for (int j = 0; j < nc; j++) var[c0 + j] = m > 0 ? (float)(tot[j] / m) : 0.0f;
  }
}

/* y = x * sc + sh per channel, rows in parallel. */
static void cl_affine(int64_t rows, int c, const float *x, const float *mean, const float *inv,
                      const float *gamma, const float *beta, float *y, int threads) {
  for (int c0 = 0; c0 < c; c0 += CL_CH) {
    const int nc = c - c0 < CL_CH ? c - c0 : CL_CH;
    float sc[CL_CH], sh[CL_CH];
    for (int j = 0; j < nc; j++) {
      sc[j] = inv[c0 + j] * (gamma ? gamma[c0 + j] : 1.0f);
      sh[j] = (beta ? beta[c0 + j] : 0.0f) - mean[c0 + j] * sc[j];
    }
    LMK_PAR_FOR(threads, rows * nc > LMK_PAR_MIN)
    for (int64_t r = 0; r < rows; r++) {
      const float *restrict xp = x + r * c + c0;
      float *restrict yp = y + r * c + c0;
      for (int j = 0; j < nc; j++) yp[j] = xp[j] * sc[j] + sh[j];
    }
  }
}

static void cl_bwd(int64_t rows, int c, const float *x, const float *dy, const float *mean,
                   const float *inv, const float *gamma, bool batch_stats, float *dx,
                   float *dgamma, float *dbeta, int threads) {
  double part[CL_CHUNKS * CL_CH], sg[CL_CH], sgx[CL_CH];
  const double m = (double)rows;
  for (int c0 = 0; c0 < c; c0 += CL_CH) {
    const int nc = c - c0 < CL_CH ? c - c0 : CL_CH;
    cl_partials(2, rows, c, c0, nc, NULL, dy, NULL, NULL, part, threads);
    cl_sum(rows, nc, part, sg);
    cl_partials(3, rows, c, c0, nc, x, dy, mean, inv, part, threads);
    cl_sum(rows, nc, part, sgx);
    for (int j = 0; j < nc; j++) {
      if (dgamma) dgamma[c0 + j] += (float)sgx[j];
      if (dbeta) dbeta[c0 + j] += (float)sg[j];
    }
    if (!dx) continue;
    float sc[CL_CH], kg[CL_CH], kx[CL_CH], mu[CL_CH], iv[CL_CH];
    for (int j = 0; j < nc; j++) {
      sc[j] = inv[c0 + j] * (gamma ? gamma[c0 + j] : 1.0f);
      kg[j] = batch_stats && m > 0 ? (float)(sg[j] / m) : 0.0f;
      kx[j] = batch_stats && m > 0 ? (float)(sgx[j] / m) : 0.0f;
      mu[j] = mean[c0 + j];
      iv[j] = inv[c0 + j];
    }
    LMK_PAR_FOR(threads, rows * nc > LMK_PAR_MIN)
    for (int64_t r = 0; r < rows; r++) {
      const float *restrict xp = x + r * c + c0, *restrict gp = dy + r * c + c0;
      float *restrict dp = dx + r * c + c0;
      for (int j = 0; j < nc; j++)
        dp[j] += sc[j] * (gp[j] - kg[j] - (xp[j] - mu[j]) * iv[j] * kx[j]);
    }
  }
}

/* ---- general layout ---- */

void lmk_bn_stats(int64_t outer, int c, int64_t inner, const float *x, float *mean, float *var,
                  int threads) {
  if (inner == 1) {
    cl_stats(outer, c, x, mean, var, threads);
    return;
  }
  const int n_blk = (c + BN_BLK - 1) / BN_BLK;
  const double m = (double)(outer * inner);
  LMK_PAR_FOR(threads, outer * c * inner > LMK_PAR_MIN)
  for (int bi = 0; bi < n_blk; bi++) {
    int c0 = bi * BN_BLK, c1 = c0 + BN_BLK < c ? c0 + BN_BLK : c;
    double s[BN_BLK] = {0}, q[BN_BLK] = {0}, mu[BN_BLK];
    for (int64_t o = 0; o < outer; o++)
      for (int ch = c0; ch < c1; ch++) {
        const float *xp = x + (o * c + ch) * inner;
        double a = 0;
        for (int64_t i = 0; i < inner; i++) a += xp[i];
        s[ch - c0] += a;
      }
    for (int ch = c0; ch < c1; ch++) mu[ch - c0] = m > 0 ? s[ch - c0] / m : 0.0;
    for (int64_t o = 0; o < outer; o++)
      for (int ch = c0; ch < c1; ch++) {
        const float *xp = x + (o * c + ch) * inner;
        double a = 0, u = mu[ch - c0];
        for (int64_t i = 0; i < inner; i++) a += (xp[i] - u) * (xp[i] - u);
        q[ch - c0] += a;
      }
    for (int ch = c0; ch < c1; ch++) {
      mean[ch] = (float)mu[ch - c0];
      var[ch] = m > 0 ? (float)(q[ch - c0] / m) : 0.0f;
    }
  }
}

void lmk_bn_apply(int64_t outer, int c, int64_t inner, const float *x, const float *mean,
                  const float *inv, const float *gamma, const float *beta, float *y,
                  int threads) {
  if (inner == 1) {
    cl_affine(outer, c, x, mean, inv, gamma, beta, y, threads);
    return;
  }
  LMK_PAR_FOR(threads, outer * c * inner > LMK_PAR_MIN)
  for (int64_t o = 0; o < outer; o++)
    for (int ch = 0; ch < c; ch++) {
      float sc = inv[ch] * (gamma ? gamma[ch] : 1.0f);
      float sh = (beta ? beta[ch] : 0.0f) - mean[ch] * sc;
      const float *xp = x + (o * c + ch) * inner;
      float *yp = y + (o * c + ch) * inner;
      for (int64_t i = 0; i < inner; i++) yp[i] = xp[i] * sc + sh;
    }
}

void lmk_bn_bwd(int64_t outer, int c, int64_t inner, const float *x, const float *dy,
                const float *mean, const float *inv, const float *gamma, bool batch_stats,
                float *dx, float *dgamma, float *dbeta, int threads) {
  if (inner == 1) {
    cl_bwd(outer, c, x, dy, mean, inv, gamma, batch_stats, dx, dgamma, dbeta, threads);
    return;
  }
  const int n_blk = (c + BN_BLK - 1) / BN_BLK;
  const double m = (double)(outer * inner);
  LMK_PAR_FOR(threads, outer * c * inner > LMK_PAR_MIN)
  for (int bi = 0; bi < n_blk; bi++) {
    int c0 = bi * BN_BLK, c1 = c0 + BN_BLK < c ? c0 + BN_BLK : c;
    double sg[BN_BLK] = {0}, sgx[BN_BLK] = {0};
    for (int64_t o = 0; o < outer; o++)
      for (int ch = c0; ch < c1; ch++) {
        const float *xp = x + (o * c + ch) * inner, *gp = dy + (o * c + ch) * inner;
        float mu = mean[ch], iv = inv[ch];
        double a = 0, b = 0;
        for (int64_t i = 0; i < inner; i++) {
          a += gp[i];
          b += (double)gp[i] * (double)((xp[i] - mu) * iv);
        }
        sg[ch - c0] += a;
        sgx[ch - c0] += b;
      }
    for (int ch = c0; ch < c1; ch++) {
      if (dgamma) dgamma[ch] += (float)sgx[ch - c0];
      if (dbeta) dbeta[ch] += (float)sg[ch - c0];
    }
    if (!dx) continue;
    float k_g[BN_BLK], k_x[BN_BLK], sc[BN_BLK];
    for (int ch = c0; ch < c1; ch++) {
      sc[ch - c0] = inv[ch] * (gamma ? gamma[ch] : 1.0f);
      k_g[ch - c0] = batch_stats && m > 0 ? (float)(sg[ch - c0] / m) : 0.0f;
      k_x[ch - c0] = batch_stats && m > 0 ? (float)(sgx[ch - c0] / m) : 0.0f;
    }
    for (int64_t o = 0; o < outer; o++)
      for (int ch = c0; ch < c1; ch++) {
        const float *xp = x + (o * c + ch) * inner, *gp = dy + (o * c + ch) * inner;
        float *dp = dx + (o * c + ch) * inner;
        float mu = mean[ch], iv = inv[ch], s = sc[ch - c0], kg = k_g[ch - c0],
              kx = k_x[ch - c0];
        for (int64_t i = 0; i < inner; i++) dp[i] += s * (gp[i] - kg - (xp[i] - mu) * iv * kx);
      }
  }
}

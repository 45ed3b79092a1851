/* Batch normalisation, fused: per-channel statistics over (outer, inner)
 * with double accumulators, the affine apply, and the backward pass. The
 * reductions run over blocks of channels in parallel, each block summing its
 * rows in order, so results do not depend on the thread count. */
#include "kernels/conv.h"

#define LMK_PRAGMA(x) _Pragma(#x)
#ifdef _OPENMP
#define LMK_PAR_FOR(nt, cond) \
  LMK_PRAGMA(omp parallel for schedule(static) num_threads(nt) if (cond))
#else
#define LMK_PAR_FOR(nt, cond)
#endif
#define LMK_PAR_MIN 32768

enum { BN_BLK = 16 };

void lmk_bn_stats(int64_t outer, int c, int64_t inner, const float *x, float *mean, float *var,
                  int threads) {
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

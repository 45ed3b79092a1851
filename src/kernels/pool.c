/* Max and average pooling (TF rules: padded cells never count), global
 * pooling. Loops over output rows or whole images write disjoint outputs. */
#include <string.h>

#include "kernels/conv.h"

#include "kernels/par.h"

/* The real rows [*y0, *y1) and columns [*x0, *x1) of window (oy, ox), as
 * offsets into the window. */
static void window(const lmk_conv_geom *p, int oy, int ox, int *ky0, int *ky1, int *kx0,
                   int *kx1, int *iy0, int *ix0) {
  *iy0 = oy * p->sh - p->pad_top;
  *ix0 = ox * p->sw - p->pad_left;
  *ky0 = *iy0 < 0 ? -*iy0 : 0;
  *kx0 = *ix0 < 0 ? -*ix0 : 0;
  *ky1 = p->ih - *iy0 < p->kh ? p->ih - *iy0 : p->kh;
  *kx1 = p->iw - *ix0 < p->kw ? p->iw - *ix0 : p->kw;
}

void lmk_maxpool_fwd(const lmk_conv_geom *p, const float *x, float *y, int32_t *arg,
                     int threads) {
  const int c = p->ic;
  const int64_t n_rows = (int64_t)p->n * p->oh, img = (int64_t)p->ih * p->iw * c;
  LMK_PAR_FOR(threads, n_rows * p->ow * c * p->kh * p->kw > LMK_PAR_MIN)
  for (int64_t r = 0; r < n_rows; r++) {
    const int64_t im = r / p->oh;
    const int oy = (int)(r % p->oh);
    const float *xi = x + im * img;
    for (int ox = 0; ox < p->ow; ox++) {
      float *yp = y + (r * p->ow + ox) * c;
      int32_t *ap = arg ? arg + (r * p->ow + ox) * c : NULL;
      int ky0, ky1, kx0, kx1, iy0, ix0;
      window(p, oy, ox, &ky0, &ky1, &kx0, &kx1, &iy0, &ix0);
      if (ky0 >= ky1 || kx0 >= kx1) { /* no real cell (cannot happen with Keras padding) */
        for (int ch = 0; ch < c; ch++) {
          yp[ch] = 0.0f;
          if (ap) ap[ch] = -1;
        }
        continue;
      }
      /* the maximum (a vectorisable pass), then the first cell holding it:
       * cells scanned backwards so the first one in scan order wins */
      memcpy(yp, xi + ((int64_t)(iy0 + ky0) * p->iw + (ix0 + kx0)) * c, sizeof(float) * (size_t)c);
      for (int ky = ky0; ky < ky1; ky++)
        for (int kx = kx0; kx < kx1; kx++) {
          const float *src = xi + ((int64_t)(iy0 + ky) * p->iw + (ix0 + kx)) * c;
          for (int ch = 0; ch < c; ch++) yp[ch] = src[ch] > yp[ch] ? src[ch] : yp[ch];
        }
      if (!ap) continue; /* forward only: no argmax */
      for (int ch = 0; ch < c; ch++) ap[ch] = -1; /* stays -1 only for NaN */
      for (int ky = ky1 - 1; ky >= ky0; ky--)
        for (int kx = kx1 - 1; kx >= kx0; kx--) {
          int32_t base = (int32_t)(((int64_t)(iy0 + ky) * p->iw + (ix0 + kx)) * c);
          const float *src = xi + base;
          for (int ch = 0; ch < c; ch++) ap[ch] = src[ch] == yp[ch] ? base + ch : ap[ch];
        }
    }
  }
}

void lmk_maxpool_bwd(const lmk_conv_geom *p, const float *dy, const int32_t *arg, float *dx,
                     int threads) {
  const int64_t per_out = (int64_t)p->oh * p->ow * p->ic, img = (int64_t)p->ih * p->iw * p->ic;
  LMK_PAR_FOR(threads, p->n * per_out > LMK_PAR_MIN)
  for (int im = 0; im < p->n; im++) {
    float *di = dx + im * img;
    const float *g = dy + im * per_out;
    const int32_t *a = arg + im * per_out;
    for (int64_t k = 0; k < per_out; k++)
      if (a[k] >= 0) di[a[k]] += g[k];
  }
}

void lmk_avgpool_fwd(const lmk_conv_geom *p, const float *x, float *y, int threads) {
  const int c = p->ic;
  const int64_t n_rows = (int64_t)p->n * p->oh, img = (int64_t)p->ih * p->iw * c;
  LMK_PAR_FOR(threads, n_rows * p->ow * c * p->kh * p->kw > LMK_PAR_MIN)
  for (int64_t r = 0; r < n_rows; r++) {
    const int64_t im = r / p->oh;
    const int oy = (int)(r % p->oh);
    const float *xi = x + im * img;
    for (int ox = 0; ox < p->ow; ox++) {
      float *yp = y + (r * p->ow + ox) * c;
      int ky0, ky1, kx0, kx1, iy0, ix0;
      window(p, oy, ox, &ky0, &ky1, &kx0, &kx1, &iy0, &ix0);
      memset(yp, 0, sizeof(float) * (size_t)c);
      for (int ky = ky0; ky < ky1; ky++)
        for (int kx = kx0; kx < kx1; kx++) {
          const float *src = xi + ((int64_t)(iy0 + ky) * p->iw + (ix0 + kx)) * c;
          for (int ch = 0; ch < c; ch++) yp[ch] += src[ch];
        }
      int cnt = (ky1 - ky0) * (kx1 - kx0);
      float inv = cnt > 0 ? 1.0f / (float)cnt : 0.0f;
      for (int ch = 0; ch < c; ch++) yp[ch] *= inv;
    }
  }
}

void lmk_avgpool_bwd(const lmk_conv_geom *p, const float *dy, float *dx, int threads) {
  const int c = p->ic;
  const int64_t per_out = (int64_t)p->oh * p->ow * c, img = (int64_t)p->ih * p->iw * c;
  LMK_PAR_FOR(threads, p->n * per_out * p->kh * p->kw > LMK_PAR_MIN)
  for (int im = 0; im < p->n; im++) {
    float *di = dx + im * img;
    for (int oy = 0; oy < p->oh; oy++)
      for (int ox = 0; ox < p->ow; ox++) {
        const float *g = dy + im * per_out + ((int64_t)oy * p->ow + ox) * c;
        int ky0, ky1, kx0, kx1, iy0, ix0;
        window(p, oy, ox, &ky0, &ky1, &kx0, &kx1, &iy0, &ix0);
        int cnt = (ky1 - ky0) * (kx1 - kx0);
        if (cnt <= 0) continue;
        float inv = 1.0f / (float)cnt;
        for (int ky = ky0; ky < ky1; ky++)
          for (int kx = kx0; kx < kx1; kx++) {
            float *d = di + ((int64_t)(iy0 + ky) * p->iw + (ix0 + kx)) * c;
            for (int ch = 0; ch < c; ch++) d[ch] += g[ch] * inv;
          }
      }
  }
}

void lmk_global_max_fwd(int64_t n, int64_t s, int64_t c, const float *x, float *y, int32_t *arg,
                        int threads) {
  LMK_PAR_FOR(threads, n * s * c > LMK_PAR_MIN)
  for (int64_t i = 0; i < n; i++) {
    const float *xi = x + i * s * c;
    float *yp = y + i * c;
    int32_t *ap = arg + i * c;
    for (int64_t ch = 0; ch < c; ch++) {
      yp[ch] = s > 0 ? xi[ch] : 0.0f;
      ap[ch] = s > 0 ? 0 : -1;
    }
    for (int64_t k = 1; k < s; k++) {
      const float *src = xi + k * c;
      for (int64_t ch = 0; ch < c; ch++)
        if (src[ch] > yp[ch]) {
          yp[ch] = src[ch];
          ap[ch] = (int32_t)k;
        }
    }
  }
}

void lmk_global_max_bwd(int64_t n, int64_t c, const float *dy, const int32_t *arg, float *dx,
                        int64_t s, int threads) {
  LMK_PAR_FOR(threads, n * c > LMK_PAR_MIN)
  for (int64_t i = 0; i < n; i++)
    for (int64_t ch = 0; ch < c; ch++) {
      int32_t k = arg[i * c + ch];
      if (k >= 0) dx[(i * s + k) * c + ch] += dy[i * c + ch];
    }
}

void lmk_global_avg_fwd(int64_t n, int64_t s, int64_t c, const float *x, float *y, int threads) {
  LMK_PAR_FOR(threads, n * s * c > LMK_PAR_MIN)
  for (int64_t i = 0; i < n; i++) {
    const float *xi = x + i * s * c;
    float *yp = y + i * c;
    for (int64_t ch = 0; ch < c; ch++) yp[ch] = 0.0f;
    for (int64_t k = 0; k < s; k++)
      for (int64_t ch = 0; ch < c; ch++) yp[ch] += xi[k * c + ch];
    float inv = s > 0 ? 1.0f / (float)s : 0.0f;
    for (int64_t ch = 0; ch < c; ch++) yp[ch] *= inv;
  }
}

void lmk_global_avg_bwd(int64_t n, int64_t s, int64_t c, const float *dy, float *dx,
                        int threads) {
  float inv = s > 0 ? 1.0f / (float)s : 0.0f;
  LMK_PAR_FOR(threads, n * s * c > LMK_PAR_MIN)
  for (int64_t i = 0; i < n; i++)
    for (int64_t k = 0; k < s; k++)
      for (int64_t ch = 0; ch < c; ch++) dx[(i * s + k) * c + ch] += dy[i * c + ch] * inv;
}

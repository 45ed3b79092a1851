/* IDX reader: header checks with messages naming the file, then a
 * conversion of every value to float32. */
#include "data/idx.h"

#include <string.h>

static uint32_t be32(const unsigned char *p) {
  return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | (uint32_t)p[3];
}

static int type_size(unsigned t) {
  switch (t) {
  case 0x08: case 0x09: return 1;
  case 0x0B: return 2;
  case 0x0C: case 0x0D: return 4;
  case 0x0E: return 8;
  default: return 0;
  }
}

static float value_at(const unsigned char *p, unsigned type) {
  switch (type) {
  case 0x08: return (float)p[0];
  case 0x09: return (float)(int8_t)p[0];
  case 0x0B: return (float)(int16_t)(uint16_t)((unsigned)p[0] << 8 | p[1]);
  case 0x0C: return (float)(int32_t)be32(p);
  case 0x0D: {
    uint32_t u = be32(p);
    float f;
    memcpy(&f, &u, sizeof f);
    return f;
  }
  default: {
    uint64_t u = (uint64_t)be32(p) << 32 | be32(p + 4);
    double d;
    memcpy(&d, &u, sizeof d);
    return (float)d;
  }
  }
}

lm_tensor *lmd_idx_parse(lm_ctx *ctx, const unsigned char *buf, size_t len, const char *what,
                         int64_t max_items) {
  if (len < 4 || buf[0] != 0 || buf[1] != 0) {
    lm_fail(ctx, LM_ERR_FORMAT, "%s: not an IDX file (bad magic number)", what);
    return NULL;
  }
  unsigned type = buf[2], ndim = buf[3];
  int tsize = type_size(type);
  if (!tsize) {
    lm_fail(ctx, LM_ERR_FORMAT, "%s: unknown IDX element type 0x%02x", what, type);
    return NULL;
  }
  if (ndim < 1 || ndim > LM_MAX_DIMS) {
    lm_fail(ctx, LM_ERR_FORMAT, "%s: IDX rank %u is outside [1, %d]", what, ndim, LM_MAX_DIMS);
    return NULL;
  }
  if (len < 4 + 4 * (size_t)ndim) {
    lm_fail(ctx, LM_ERR_FORMAT, "%s: truncated IDX header", what);
    return NULL;
  }
  int64_t shape[LM_MAX_DIMS], count = 1;
  for (unsigned i = 0; i < ndim; i++) {
    shape[i] = be32(buf + 4 + 4 * i);
    if (shape[i] > 0 && count > INT64_MAX / 16 / shape[i]) {
      lm_fail(ctx, LM_ERR_FORMAT, "%s: IDX dimensions too large", what);
      return NULL;
    }
    count *= shape[i];
  }
  size_t need = 4 + 4 * (size_t)ndim + (size_t)count * (size_t)tsize;
  if (len < need) {
    lm_fail(ctx, LM_ERR_FORMAT,
            "%s: truncated IDX data: the header promises %lld values (%zu bytes) but the file "
            "holds %zu bytes",
            what, (long long)count, need, len);
    return NULL;
  }
  if (max_items > 0 && max_items < shape[0]) {
    count = count / (shape[0] ? shape[0] : 1) * max_items;
    shape[0] = max_items;
  }
  lm_tensor *t = lm_tensor_new(ctx, LM_FLOAT32, (int)ndim, shape);
  if (!t) return NULL;
  float *out = lm_tensor_f32(t);
  const unsigned char *p = buf + 4 + 4 * ndim;
  if (type == 0x08)
    for (int64_t i = 0; i < count; i++) out[i] = (float)p[i];
  else
    for (int64_t i = 0; i < count; i++) out[i] = value_at(p + i * tsize, type);
  return t;
}

lm_tensor *lm_tensor_load_idx(lm_ctx *ctx, const char *path, int64_t max_items) {
  if (!ctx) return NULL;
  if (!path) {
    lm_fail(ctx, LM_ERR_ARG, "lm_tensor_load_idx: path is NULL");
    return NULL;
  }
  char *data = NULL;
  size_t len = 0;
  if (lm_read_file(ctx, path, &data, &len)) return NULL;
  lm_tensor *t = lmd_idx_parse(ctx, (const unsigned char *)data, len, path, max_items);
  lm_dealloc(ctx, data);
  return t;
}

/* Tensors: float32 and int32, row-major. */
#include <string.h>

#include "core/core.h"

size_t lm_dtype_size(lm_dtype dt) {
  (void)dt;
  return 4;
}

const char *lm_dtype_name(lm_dtype dt) { return dt == LM_INT32 ? "int32" : "float32"; }

static lm_status check_shape(lm_ctx *ctx, int ndim, const int64_t *shape, int64_t *size) {
  if (ndim < 0 || ndim > LM_MAX_DIMS)
    return lm_fail(ctx, LM_ERR_ARG, "tensor rank %d is outside [0, %d]", ndim, LM_MAX_DIMS);
  int64_t n = 1;
  for (int i = 0; i < ndim; i++) {
    if (shape[i] < 0)
      return lm_fail(ctx, LM_ERR_ARG, "tensor dimension %d is negative (%lld)", i,
                     (long long)shape[i]);
    if (shape[i] && n > INT64_MAX / 8 / shape[i])
      return lm_fail(ctx, LM_ERR_ARG, "tensor is too large");
    n *= shape[i];
  }
  *size = n;
  return LM_OK;
}

lm_tensor *lmt_new(lm_ctx *ctx, lm_dtype dtype, int ndim, const int64_t *shape) {
  int64_t size = 0;
  if (check_shape(ctx, ndim, shape, &size)) return NULL;
  if (dtype != LM_FLOAT32 && dtype != LM_INT32) {
    lm_fail(ctx, LM_ERR_ARG, "unknown dtype %d", (int)dtype);
    return NULL;
  }
  lm_tensor *t = lm_alloc(ctx, sizeof *t);
  if (!t) return NULL;
  t->ctx = ctx;
  t->dtype = dtype;
  t->ndim = ndim;
  for (int i = 0; i < ndim; i++) t->shape[i] = shape[i];
  t->size = size;
  t->data = lm_alloc(ctx, (size_t)(size ? size : 1) * lm_dtype_size(dtype));
  if (!t->data) {
    lm_dealloc(ctx, t);
    return NULL;
  }
  return t;
}

void lmt_free(lm_tensor *t) {
  if (!t) return;
  lm_obj_detach(&t->obj);
  lm_dealloc(t->ctx, t->data);
  lm_dealloc(t->ctx, t);
}

static void tensor_destroy(lm_obj *o) { lmt_free((lm_tensor *)o); }

lm_tensor *lm_tensor_new(lm_ctx *ctx, lm_dtype dtype, int ndim, const int64_t *shape) {
  if (!ctx) return NULL;
  lm_tensor *t = lmt_new(ctx, dtype, ndim, shape);
  if (t) lm_obj_attach(ctx, &t->obj, tensor_destroy);
  return t;
}

lm_tensor *lm_tensor_from(lm_ctx *ctx, lm_dtype dtype, int ndim, const int64_t *shape,
                          const void *data) {
  lm_tensor *t = lm_tensor_new(ctx, dtype, ndim, shape);
  if (t && data) memcpy(t->data, data, (size_t)t->size * lm_dtype_size(dtype));
  return t;
}

lm_tensor *lm_tensor_copy(const lm_tensor *t) {
  if (!t) return NULL;
  return lm_tensor_from(t->ctx, t->dtype, t->ndim, t->shape, t->data);
}

void lm_tensor_free(lm_tensor *t) { lmt_free(t); }
lm_dtype lm_tensor_dtype(const lm_tensor *t) { return t->dtype; }
int lm_tensor_ndim(const lm_tensor *t) { return t->ndim; }
int64_t lm_tensor_dim(const lm_tensor *t, int axis) {
  if (axis < 0) axis += t->ndim;
  return axis >= 0 && axis < t->ndim ? t->shape[axis] : 0;
}
const int64_t *lm_tensor_shape(const lm_tensor *t) { return t->shape; }
int64_t lm_tensor_size(const lm_tensor *t) { return t->size; }
/* Writable access: the caller may change the values through it (version). */
float *lm_tensor_f32(lm_tensor *t) {
  if (!t || t->dtype != LM_FLOAT32) return NULL;
  t->version++;
  return t->data;
}
int32_t *lm_tensor_i32(lm_tensor *t) {
  if (!t || t->dtype != LM_INT32) return NULL;
  t->version++;
  return t->data;
}
const void *lm_tensor_data(const lm_tensor *t) { return t->data; }

void lm_shape_str(int ndim, const int64_t *shape, char *out, size_t out_len) {
  size_t k = 0;
  k += (size_t)snprintf(out + k, out_len > k ? out_len - k : 0, "(");
  for (int i = 0; i < ndim && k < out_len; i++) {
    if (i) k += (size_t)snprintf(out + k, out_len - k, ", ");
    if (k >= out_len) break;
    if (shape[i] == LM_NONE)
      k += (size_t)snprintf(out + k, out_len - k, "None");
    else
      k += (size_t)snprintf(out + k, out_len - k, "%lld", (long long)shape[i]);
  }
  if (k < out_len) k += (size_t)snprintf(out + k, out_len - k, ndim == 1 ? ",)" : ")");
}

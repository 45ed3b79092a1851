/* safetensors reading and writing; the format is described in safetensors.h. */
#include "core/safetensors.h"

#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "core/json.h"

#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
#error "lamina's file formats assume a little-endian host"
#endif

#define LMS_MAX_HEADER 100000000u /* the reference implementation's limit */
#define LMS_META "__metadata__"

typedef enum lms_dtype { LMS_F32, LMS_I32, LMS_F64, LMS_I64 } lms_dtype;

static const struct {
  const char *name;
  size_t size;
  lm_dtype to;
} lms_dtypes[] = {
    [LMS_F32] = {"F32", 4, LM_FLOAT32},
    [LMS_I32] = {"I32", 4, LM_INT32},
    [LMS_F64] = {"F64", 8, LM_FLOAT32},
    [LMS_I64] = {"I64", 8, LM_INT32},
};

static int cmp_str_ptr(const void *a, const void *b) {
  return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* The first name that appears twice, or NULL. *st is set on allocation failure. */
static const char *find_duplicate(lm_ctx *ctx, int n, const char *const *names, lm_status *st) {
  *st = LM_OK;
  if (n < 2) return NULL;
  const char **sorted = lm_alloc(ctx, (size_t)n * sizeof *sorted);
  if (!sorted) {
    *st = LM_ERR_NOMEM;
    return NULL;
  }
  memcpy(sorted, names, (size_t)n * sizeof *sorted);
  qsort(sorted, (size_t)n, sizeof *sorted, cmp_str_ptr);
  const char *dup = NULL;
  for (int i = 1; i < n && !dup; i++)
    if (strcmp(sorted[i - 1], sorted[i]) == 0) dup = sorted[i];
  lm_dealloc(ctx, sorted);
  return dup;
}

/* ---- writing ---- */

static lm_status check_write_args(lm_ctx *ctx, const char *path, int n, const char *const *names,
                                  lm_tensor *const *tensors, int n_meta,
                                  const char *const *meta_keys, const char *const *meta_vals) {
  if (!path) return lm_fail(ctx, LM_ERR_ARG, "save: no file name given");
  if (n < 0 || (n > 0 && (!names || !tensors)))
    return lm_fail(ctx, LM_ERR_ARG, "save '%s': bad tensor list", path);
  if (n_meta < 0 || (n_meta > 0 && (!meta_keys || !meta_vals)))
    return lm_fail(ctx, LM_ERR_ARG, "save '%s': bad metadata list", path);
  for (int i = 0; i < n; i++) {
    if (!names[i] || !tensors[i])
      return lm_fail(ctx, LM_ERR_ARG, "save '%s': tensor %d has no name or no data", path, i);
    if (strcmp(names[i], LMS_META) == 0)
      return lm_fail(ctx, LM_ERR_ARG, "save '%s': a tensor cannot be named '%s'", path, LMS_META);
    if (tensors[i]->dtype != LM_FLOAT32 && tensors[i]->dtype != LM_INT32)
      return lm_fail(ctx, LM_ERR_ARG, "save '%s': tensor '%s' has an unknown dtype", path,
                     names[i]);
  }
  for (int i = 0; i < n_meta; i++)
    if (!meta_keys[i] || !meta_vals[i])
      return lm_fail(ctx, LM_ERR_ARG, "save '%s': metadata entry %d is NULL", path, i);
  lm_status st;
  const char *dup = find_duplicate(ctx, n, names, &st);
  if (st) return st;
  if (dup) return lm_fail(ctx, LM_ERR_ARG, "save '%s': duplicate tensor name '%s'", path, dup);
  dup = find_duplicate(ctx, n_meta, meta_keys, &st);
  if (st) return st;
  if (dup) return lm_fail(ctx, LM_ERR_ARG, "save '%s': duplicate metadata key '%s'", path, dup);
  return LM_OK;
}

static void write_header(lm_buf *b, int n, const char *const *names, lm_tensor *const *tensors,
                         int n_meta, const char *const *meta_keys,
                         const char *const *meta_vals) {
  lm_buf_putn(b, "{", 1);
  if (n_meta > 0) {
    lmj_write_str(b, LMS_META);
    lm_buf_puts(b, ":{");
    for (int i = 0; i < n_meta; i++) {
      if (i) lm_buf_putn(b, ",", 1);
      lmj_write_str(b, meta_keys[i]);
      lm_buf_putn(b, ":", 1);
      lmj_write_str(b, meta_vals[i]);
    }
    lm_buf_putn(b, "}", 1);
  }
  uint64_t offset = 0;
  for (int i = 0; i < n; i++) {
    const lm_tensor *t = tensors[i];
    uint64_t nbytes = (uint64_t)t->size * lm_dtype_size(t->dtype);
    if (i || n_meta > 0) lm_buf_putn(b, ",", 1);
    lmj_write_str(b, names[i]);
    lm_buf_printf(b, ":{\"dtype\":\"%s\",\"shape\":[", t->dtype == LM_INT32 ? "I32" : "F32");
    for (int d = 0; d < t->ndim; d++) lm_buf_printf(b, d ? ",%lld" : "%lld", (long long)t->shape[d]);
    lm_buf_printf(b, "],\"data_offsets\":[%llu,%llu]}", (unsigned long long)offset,
                  (unsigned long long)(offset + nbytes));
    offset += nbytes;
  }
  lm_buf_putn(b, "}", 1);
  lm_buf_putn(b, "       ", (8 - b->len % 8) % 8);
}

lm_status lms_write(lm_ctx *ctx, const char *path, int n, const char *const *names,
                    lm_tensor *const *tensors, int n_meta, const char *const *meta_keys,
                    const char *const *meta_vals) {
  lm_status st = check_write_args(ctx, path, n, names, tensors, n_meta, meta_keys, meta_vals);
  if (st) return st;
  lm_buf b;
  lm_buf_init(&b, ctx);
  write_header(&b, n, names, tensors, n_meta, meta_keys, meta_vals);
  if (b.oom) {
    lm_buf_free(&b);
    return LM_ERR_NOMEM;
  }
  unsigned char prefix[8];
  for (int i = 0; i < 8; i++) prefix[i] = (unsigned char)((uint64_t)b.len >> (8 * i));
  const void **parts = lm_alloc(ctx, (size_t)(n + 2) * sizeof *parts);
  size_t *lens = lm_alloc(ctx, (size_t)(n + 2) * sizeof *lens);
  if (!parts || !lens) {
    st = LM_ERR_NOMEM;
  } else {
    parts[0] = prefix;
    lens[0] = 8;
    parts[1] = b.data;
    lens[1] = b.len;
    for (int i = 0; i < n; i++) {
      parts[i + 2] = tensors[i]->data;
      lens[i + 2] = (size_t)tensors[i]->size * lm_dtype_size(tensors[i]->dtype);
    }
    st = lm_write_file_atomic(ctx, path, (const void *const *)parts, lens, n + 2);
  }
  lm_dealloc(ctx, parts);
  lm_dealloc(ctx, lens);
  lm_buf_free(&b);
  return st;
}

/* ---- reading ---- */

typedef struct lms_entry {
  const char *name;
  lms_dtype dtype;
  int ndim;
  int64_t shape[LM_MAX_DIMS];
  uint64_t begin, end;
} lms_entry;

typedef struct lms_reader {
  lm_ctx *ctx;
  const char *path;
  const unsigned char *data; /* the data region */
  uint64_t data_len;
} lms_reader;

static lm_status bad(const lms_reader *r, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static lm_status bad(const lms_reader *r, const char *fmt, ...) {
  char what[512];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(what, sizeof what, fmt, ap);
  va_end(ap);
  return lm_fail(r->ctx, LM_ERR_FORMAT, "'%s' is not a valid safetensors file: %s", r->path, what);
}

/* A JSON number that is a whole, non-negative integer below 2^53. */
static bool as_uint(const lmj_value *v, uint64_t *out) {
  if (!v || v->type != LMJ_NUM || v->num < 0 || v->num != floor(v->num) ||
      v->num > 9007199254740992.0)
    return false;
  *out = (uint64_t)v->num;
  return true;
}

static lm_status parse_entry(const lms_reader *r, const char *name, const lmj_value *v,
                             lms_entry *e) {
  e->name = name;
  if (v->type != LMJ_OBJ) return bad(r, "tensor '%s' is not described by an object", name);
  const char *dt = lmj_get_str(v, "dtype", NULL);
  if (!dt) return bad(r, "tensor '%s' has no \"dtype\"", name);
  int k = 0;
  while (k < 4 && strcmp(lms_dtypes[k].name, dt) != 0) k++;
  if (k == 4)
    return bad(r, "tensor '%s' has dtype '%s', which lamina does not read (F32, I32, F64, I64)",
               name, dt);
  e->dtype = (lms_dtype)k;
  const lmj_value *shape = lmj_get(v, "shape");
  if (!shape || shape->type != LMJ_ARR) return bad(r, "tensor '%s' has no \"shape\" list", name);
  if (shape->n > LM_MAX_DIMS) return bad(r, "tensor '%s' has more than 8 dimensions", name);
  e->ndim = shape->n;
  uint64_t elems = 1;
  for (int d = 0; d < shape->n; d++) {
    uint64_t dim;
    if (!as_uint(&shape->items[d], &dim))
      return bad(r, "tensor '%s' has a shape entry that is not a non-negative integer", name);
    if (dim && elems > UINT64_MAX / 16 / dim)
      return bad(r, "tensor '%s' has a shape too large for the file", name);
    elems *= dim;
    e->shape[d] = (int64_t)dim;
  }
  const lmj_value *off = lmj_get(v, "data_offsets");
  if (!off || off->type != LMJ_ARR || off->n != 2 || !as_uint(&off->items[0], &e->begin) ||
      !as_uint(&off->items[1], &e->end))
    return bad(r, "tensor '%s' needs \"data_offsets\": [begin, end] as integers", name);
  if (e->begin > e->end) return bad(r, "tensor '%s' has data_offsets with begin > end", name);
  if (e->end > r->data_len)
    return bad(r, "tensor '%s' has data_offsets past the end of the file", name);
  if (e->end - e->begin != elems * lms_dtypes[k].size)
    return bad(r, "tensor '%s' has data_offsets that do not match its shape and dtype", name);
  return LM_OK;
}

static lm_status read_metadata(const lms_reader *r, const lmj_value *m, lms_file *f) {
  if (m->type != LMJ_OBJ) return bad(r, "%s is not an object", LMS_META);
  if (m->n == 0) return LM_OK;
  f->meta_keys = lm_alloc(r->ctx, (size_t)m->n * sizeof *f->meta_keys);
  f->meta_vals = lm_alloc(r->ctx, (size_t)m->n * sizeof *f->meta_vals);
  if (!f->meta_keys || !f->meta_vals) return LM_ERR_NOMEM;
  for (int i = 0; i < m->n; i++) {
    if (m->items[i].type != LMJ_STR)
      return bad(r, "%s value of '%s' is not a string", LMS_META, m->keys[i]);
    f->meta_keys[i] = lm_strdup(r->ctx, m->keys[i]);
    f->meta_vals[i] = lm_strdup(r->ctx, m->items[i].str);
    f->n_meta = i + 1;
    if (!f->meta_keys[i] || !f->meta_vals[i]) return LM_ERR_NOMEM;
  }
  lm_status st;
  const char *dup = find_duplicate(r->ctx, f->n_meta, (const char *const *)f->meta_keys, &st);
  if (st) return st;
  if (dup) return bad(r, "duplicate %s key '%s'", LMS_META, dup);
  return LM_OK;
}

static int cmp_entry_offset(const void *a, const void *b) {
  const lms_entry *x = *(const lms_entry *const *)a, *y = *(const lms_entry *const *)b;
  if (x->begin != y->begin) return x->begin < y->begin ? -1 : 1;
  if (x->end != y->end) return x->end < y->end ? -1 : 1;
  return 0;
}

/* Tensors must tile the data region exactly: no overlap, no gap, no tail. */
static lm_status check_layout(const lms_reader *r, int n, lms_entry *entries) {
  if (n == 0) {
    if (r->data_len) return bad(r, "the data region holds bytes that belong to no tensor");
    return LM_OK;
  }
  lms_entry **order = lm_alloc(r->ctx, (size_t)n * sizeof *order);
  if (!order) return LM_ERR_NOMEM;
  for (int i = 0; i < n; i++) order[i] = &entries[i];
  qsort(order, (size_t)n, sizeof *order, cmp_entry_offset);
  lm_status st = LM_OK;
  uint64_t pos = 0;
  for (int i = 0; i < n && !st; i++) {
    if (order[i]->begin < pos)
      st = bad(r, "tensors '%s' and '%s' overlap in the data region", order[i - 1]->name,
               order[i]->name);
    else if (order[i]->begin > pos)
      st = bad(r, "the data region has bytes before tensor '%s' that belong to no tensor",
               order[i]->name);
    pos = order[i]->end;
  }
  if (!st && pos != r->data_len)
    st = bad(r, "the data region has bytes after tensor '%s' that belong to no tensor",
             order[n - 1]->name);
  lm_dealloc(r->ctx, order);
  return st;
}

static lm_status load_tensor(const lms_reader *r, const lms_entry *e, lm_tensor **out) {
  lm_tensor *t = lmt_new(r->ctx, lms_dtypes[e->dtype].to, e->ndim, e->shape);
  if (!t) return lm_errcode(r->ctx);
  const unsigned char *src = r->data + e->begin;
  switch (e->dtype) {
    case LMS_F32:
    case LMS_I32:
      memcpy(t->data, src, (size_t)(e->end - e->begin));
      break;
    case LMS_F64: {
      float *dst = t->data;
      for (int64_t i = 0; i < t->size; i++) {
        double v;
        memcpy(&v, src + 8 * i, 8);
        dst[i] = (float)v;
      }
      break;
    }
    case LMS_I64: {
      int32_t *dst = t->data;
      for (int64_t i = 0; i < t->size; i++) {
        int64_t v;
        memcpy(&v, src + 8 * i, 8);
        if (v < INT32_MIN || v > INT32_MAX) {
          lmt_free(t);
          return lm_fail(r->ctx, LM_ERR_FORMAT,
                         "'%s': tensor '%s' holds %lld at index %lld, outside the int32 range",
                         r->path, e->name, (long long)v, (long long)i);
        }
        dst[i] = (int32_t)v;
      }
      break;
    }
  }
  *out = t;
  return LM_OK;
}

/* Fills f from the parsed header; f is freed by the caller on failure. */
static lm_status read_tensors(lms_reader *r, const lmj_value *root, lms_file *f) {
  lm_ctx *ctx = r->ctx;
  if (root->type != LMJ_OBJ) return bad(r, "the header is not a JSON object");
  lm_status st;
  const char *dup = find_duplicate(ctx, root->n, (const char *const *)root->keys, &st);
  if (st) return st;
  if (dup) return bad(r, "the header names '%s' twice", dup);
  int n = 0;
  for (int i = 0; i < root->n; i++) {
    if (strcmp(root->keys[i], LMS_META) == 0) {
      if ((st = read_metadata(r, &root->items[i], f))) return st;
    } else {
      n++;
    }
  }
  if (n == 0) return check_layout(r, 0, NULL);
  lms_entry *entries = lm_alloc(ctx, (size_t)n * sizeof *entries);
  f->names = lm_alloc(ctx, (size_t)n * sizeof *f->names);
  f->tensors = lm_alloc(ctx, (size_t)n * sizeof *f->tensors);
  if (!entries || !f->names || !f->tensors) {
    lm_dealloc(ctx, entries);
    return LM_ERR_NOMEM;
  }
  int k = 0;
  for (int i = 0; i < root->n && !st; i++)
    if (strcmp(root->keys[i], LMS_META) != 0)
      st = parse_entry(r, root->keys[i], &root->items[i], &entries[k++]);
  if (!st) st = check_layout(r, n, entries);
  for (int i = 0; i < n && !st; i++) {
    f->names[i] = lm_strdup(ctx, entries[i].name);
    f->n = i + 1; /* lms_free frees names[0..n) and tensors[0..n), NULL-tolerant */
    if (!f->names[i]) st = LM_ERR_NOMEM;
    if (!st) st = load_tensor(r, &entries[i], &f->tensors[i]);
  }
  lm_dealloc(ctx, entries);
  return st;
}

lms_file *lms_read(lm_ctx *ctx, const char *path) {
  if (!path) {
    lm_fail(ctx, LM_ERR_ARG, "load: no file name given");
    return NULL;
  }
  char *raw;
  size_t len;
  if (lm_read_file(ctx, path, &raw, &len)) return NULL;
  lms_reader r = {ctx, path, NULL, 0};
  lms_file *f = NULL;
  lmj_value *root = NULL;
  char *what = NULL;
  if (len < 8) {
    bad(&r, "the file is %zu bytes long, shorter than the 8-byte header length", len);
    goto fail;
  }
  uint64_t hlen = 0;
  for (int i = 7; i >= 0; i--) hlen = hlen << 8 | (unsigned char)raw[i];
  if (hlen > len - 8 || hlen > LMS_MAX_HEADER) {
    bad(&r, "the header length is %llu bytes, but the file has %zu after the length%s",
        (unsigned long long)hlen, len - 8, hlen > LMS_MAX_HEADER ? " (limit 100 MB)" : "");
    goto fail;
  }
  r.data = (const unsigned char *)raw + 8 + hlen;
  r.data_len = len - 8 - hlen;
  size_t wn = strlen(path) + 16;
  if (!(what = lm_alloc(ctx, wn))) goto fail;
  snprintf(what, wn, "'%s' header", path);
  if (!(root = lmj_parse(ctx, raw + 8, (size_t)hlen, what))) goto fail;
  if (!(f = lm_alloc(ctx, sizeof *f))) goto fail;
  if (read_tensors(&r, root, f)) goto fail;
  lmj_free(ctx, root);
  lm_dealloc(ctx, what);
  lm_dealloc(ctx, raw);
  return f;
fail:
  lms_free(ctx, f);
  lmj_free(ctx, root);
  lm_dealloc(ctx, what);
  lm_dealloc(ctx, raw);
  return NULL;
}

void lms_free(lm_ctx *ctx, lms_file *f) {
  if (!f) return;
  for (int i = 0; i < f->n; i++) {
    if (f->names) lm_dealloc(ctx, f->names[i]);
    if (f->tensors) lmt_free(f->tensors[i]);
  }
  for (int i = 0; i < f->n_meta; i++) {
    lm_dealloc(ctx, f->meta_keys[i]);
    lm_dealloc(ctx, f->meta_vals[i]);
  }
  lm_dealloc(ctx, f->names);
  lm_dealloc(ctx, f->tensors);
  lm_dealloc(ctx, f->meta_keys);
  lm_dealloc(ctx, f->meta_vals);
  lm_dealloc(ctx, f);
}

lm_tensor *lms_get(const lms_file *f, const char *name) {
  if (!f || !name) return NULL;
  for (int i = 0; i < f->n; i++)
    if (strcmp(f->names[i], name) == 0) return f->tensors[i];
  return NULL;
}

const char *lms_meta(const lms_file *f, const char *key) {
  if (!f || !key) return NULL;
  for (int i = 0; i < f->n_meta; i++)
    if (strcmp(f->meta_keys[i], key) == 0) return f->meta_vals[i];
  return NULL;
}

/* safetensors files (https://github.com/huggingface/safetensors):
 *   8 bytes   little-endian u64 N, the header length
 *   N bytes   JSON header, padded with spaces to a multiple of 8:
 *             {"__metadata__": {"key": "value", ...},
 *              "name": {"dtype": "F32", "shape": [2, 3], "data_offsets": [0, 24]}, ...}
 *   the rest  raw little-endian tensor data; offsets are relative to its start
 * Writing emits F32 and I32 in the given order, back to back. Reading accepts
 * F32, I32, F64 (-> float32) and I64 (-> int32, range-checked) and refuses,
 * with LM_ERR_FORMAT and a message naming the file, anything malformed:
 * a short file, a header longer than the file, bad JSON, an unknown dtype,
 * offsets out of range, overlapping or not matching shape x dtype, bytes of
 * the data region that belong to no tensor, and duplicate names. */
#ifndef LM_SAFETENSORS_H
#define LM_SAFETENSORS_H

#include "core/core.h"

/* Metadata is a map of string to string, as the format requires; n_meta may
 * be 0 (no "__metadata__" entry is written). Tensor names must be unique and
 * must not be "__metadata__". Written atomically (lm_write_file_atomic). */
lm_status lms_write(lm_ctx *ctx, const char *path, int n, const char *const *names,
                    lm_tensor *const *tensors, int n_meta, const char *const *meta_keys,
                    const char *const *meta_vals);

/* A read file: tensors in header order, made with lmt_new (not on the
 * context's list) and freed by lms_free. */
typedef struct lms_file {
  int n;
  char **names;
  lm_tensor **tensors;
  int n_meta;
  char **meta_keys;
  char **meta_vals;
} lms_file;

lms_file *lms_read(lm_ctx *ctx, const char *path);
void lms_free(lm_ctx *ctx, lms_file *f); /* f may be NULL */
lm_tensor *lms_get(const lms_file *f, const char *name); /* NULL if absent */
/* The value of a metadata key, NULL if absent. */
const char *lms_meta(const lms_file *f, const char *key);

#endif

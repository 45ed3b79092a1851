/* Floor 1: context, allocation, errors, RNG, tensors, text buffers. */
#ifndef LM_CORE_H
#define LM_CORE_H

#include "lamina.h"

#include <stdarg.h>
#include <stdio.h>

/* Every object a context owns starts with this header (intrusive list). */
typedef struct lm_obj {
  struct lm_obj *prev, *next;
  void (*destroy)(struct lm_obj *o);
} lm_obj;

typedef struct lm_name_counter {
  char *prefix;
  int count;
} lm_name_counter;

struct lm_ctx {
  lm_alloc_fn alloc;
  void *alloc_ud;
  uint64_t rng[4];
  uint64_t seed;
  int threads;
  lm_status err;
  char errmsg[2048];
  lm_log_fn log;
  void *log_ud;
  lm_name_counter *counters;
  int n_counters, cap_counters;
  lm_obj objs; /* sentinel of the owned-object list */
  size_t n_allocs; /* live allocations (tests) */
};

/* Zeroed allocation through the context's hook; sets LM_ERR_NOMEM on failure. */
void *lm_alloc(lm_ctx *ctx, size_t n);
void *lm_realloc(lm_ctx *ctx, void *p, size_t n); /* new tail not zeroed */
void lm_dealloc(lm_ctx *ctx, void *p);           /* p may be NULL */
char *lm_strdup(lm_ctx *ctx, const char *s);
/* Grow *arr (of elem size) so that it holds at least need items. */
lm_status lm_grow(lm_ctx *ctx, void **arr, int *cap, int need, size_t elem);

/* Set the context's error and return code. printf-style message. */
lm_status lm_fail(lm_ctx *ctx, lm_status code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* True when output goes to the default hook and stdout is a terminal. */
bool lm_log_tty(const lm_ctx *ctx);
/* Print through the log hook. */
void lm_log(lm_ctx *ctx, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

void lm_obj_attach(lm_ctx *ctx, lm_obj *o, void (*destroy)(lm_obj *));
void lm_obj_detach(lm_obj *o);

/* Next automatic name for prefix: "dense" -> "dense_1", "dense_2", ... */
lm_status lm_auto_name(lm_ctx *ctx, const char *prefix, char *out, size_t out_len);

/* RNG: xoshiro256** seeded by splitmix64. */
void lm_rng_seed(uint64_t state[4], uint64_t seed);
uint64_t lm_rng_next(uint64_t state[4]);
double lm_rng_uniform(uint64_t state[4]); /* [0, 1) */
double lm_rng_normal(uint64_t state[4]);  /* N(0, 1) */

/* Tensors. */
struct lm_tensor {
  lm_obj obj; /* attached to the context only when made through the public API */
  lm_ctx *ctx;
  lm_dtype dtype;
  int ndim;
  int64_t shape[LM_MAX_DIMS];
  int64_t size;
  void *data;
  /* Bumped by every path that may write data (lm_tensor_f32/_i32, the
   * optimizers' step, training forwards, weight loading and restoring): the
   * folded conv+batchnorm kernels of inference plans are recomputed only
   * when a source's version moved (src/ops/fold.c). */
  uint64_t version;
};

/* Internal tensor, not on the context's list; free with lmt_free. */
lm_tensor *lmt_new(lm_ctx *ctx, lm_dtype dtype, int ndim, const int64_t *shape);
void lmt_free(lm_tensor *t);
size_t lm_dtype_size(lm_dtype dt);
const char *lm_dtype_name(lm_dtype dt);
/* "(None, 64)" into out; batch_none prints dim 0 as None when it is LM_NONE. */
void lm_shape_str(int ndim, const int64_t *shape, char *out, size_t out_len);

/* Arena: bump allocation in chunks, freed all at once. */
typedef struct lm_arena_chunk lm_arena_chunk;
typedef struct lm_arena {
  lm_ctx *ctx;
  lm_arena_chunk *head;
} lm_arena;

void lm_arena_init(lm_arena *a, lm_ctx *ctx);
void *lm_arena_alloc(lm_arena *a, size_t n); /* zeroed, 16-byte aligned; NULL + error on OOM */
char *lm_arena_strdup(lm_arena *a, const char *s);
void lm_arena_free(lm_arena *a);

/* A growable text buffer. On allocation failure oom is set and writes stop. */
typedef struct lm_buf {
  lm_ctx *ctx;
  char *data;
  size_t len, cap;
  bool oom;
} lm_buf;

void lm_buf_init(lm_buf *b, lm_ctx *ctx);
void lm_buf_free(lm_buf *b);
void lm_buf_puts(lm_buf *b, const char *s);
void lm_buf_putn(lm_buf *b, const char *s, size_t n);
void lm_buf_printf(lm_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Write a file atomically: tmp file in the same folder, fsync, rename. */
lm_status lm_write_file_atomic(lm_ctx *ctx, const char *path, const void *const *parts,
                               const size_t *lens, int n_parts);
/* Read a whole file; a name ending in .gz is inflated through zlib. */
lm_status lm_read_file(lm_ctx *ctx, const char *path, char **data, size_t *len);

#endif

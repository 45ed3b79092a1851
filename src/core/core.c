/* Context, allocation, errors, logging, owned objects, names, RNG, arena, text buffers. */
#include "core/core.h"

#include <ctype.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "kernels/kernels.h"

/* Every allocation carries its size in a header, so the Lua-style hook gets
 * osize on free and realloc. */
typedef struct lm_alloc_hdr {
  size_t size;
  size_t pad;
} lm_alloc_hdr;

static void *default_alloc(void *ud, void *p, size_t osize, size_t nsize) {
  (void)ud;
  (void)osize;
  if (nsize == 0) {
    free(p);
    return NULL;
  }
  return realloc(p, nsize);
}

void *lm_alloc(lm_ctx *ctx, size_t n) {
  if (n > SIZE_MAX - sizeof(lm_alloc_hdr)) {
    lm_fail(ctx, LM_ERR_NOMEM, "out of memory (request of %zu bytes)", n);
    return NULL;
  }
  lm_alloc_hdr *h = ctx->alloc(ctx->alloc_ud, NULL, 0, n + sizeof *h);
  if (!h) {
    lm_fail(ctx, LM_ERR_NOMEM, "out of memory (allocating %zu bytes)", n);
    return NULL;
  }
  memset(h, 0, n + sizeof *h);
  h->size = n;
  ctx->n_allocs++;
  return h + 1;
}

void *lm_realloc(lm_ctx *ctx, void *p, size_t n) {
  if (!p) return lm_alloc(ctx, n);
  if (n > SIZE_MAX - sizeof(lm_alloc_hdr)) {
    lm_fail(ctx, LM_ERR_NOMEM, "out of memory (request of %zu bytes)", n);
    return NULL;
  }
  lm_alloc_hdr *h = (lm_alloc_hdr *)p - 1;
  size_t old = h->size;
  lm_alloc_hdr *q = ctx->alloc(ctx->alloc_ud, h, old + sizeof *h, n + sizeof *h);
  if (!q) {
    lm_fail(ctx, LM_ERR_NOMEM, "out of memory (allocating %zu bytes)", n);
    return NULL;
  }
  q->size = n;
  return q + 1;
}

void lm_dealloc(lm_ctx *ctx, void *p) {
  if (!p) return;
  lm_alloc_hdr *h = (lm_alloc_hdr *)p - 1;
  ctx->alloc(ctx->alloc_ud, h, h->size + sizeof *h, 0);
  ctx->n_allocs--;
}

char *lm_strdup(lm_ctx *ctx, const char *s) {
  if (!s) return NULL;
  size_t n = strlen(s) + 1;
  char *d = lm_alloc(ctx, n);
  if (d) memcpy(d, s, n);
  return d;
}

lm_status lm_grow(lm_ctx *ctx, void **arr, int *cap, int need, size_t elem) {
  if (need <= *cap) return LM_OK;
  int nc = *cap ? *cap * 2 : 8;
  while (nc < need) nc *= 2;
  void *p = lm_realloc(ctx, *arr, (size_t)nc * elem);
  if (!p) return LM_ERR_NOMEM;
  memset((char *)p + (size_t)*cap * elem, 0, (size_t)(nc - *cap) * elem);
  *arr = p;
  *cap = nc;
  return LM_OK;
}

lm_status lm_fail(lm_ctx *ctx, lm_status code, const char *fmt, ...) {
  if (!ctx) return code;
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(ctx->errmsg, sizeof ctx->errmsg, fmt, ap);
  va_end(ap);
  ctx->err = code;
  return code;
}

void lm_log(lm_ctx *ctx, const char *fmt, ...) {
  if (!ctx->log) return;
  char small[1024];
  va_list ap;
  va_start(ap, fmt);
  int n = vsnprintf(small, sizeof small, fmt, ap);
  va_end(ap);
  if (n < (int)sizeof small) {
    ctx->log(ctx->log_ud, small);
    return;
  }
  char *big = malloc((size_t)n + 1); /* text longer than a line: rare, outside the hook */
  if (!big) return;
  va_start(ap, fmt);
  vsnprintf(big, (size_t)n + 1, fmt, ap);
  va_end(ap);
  ctx->log(ctx->log_ud, big);
  free(big);
}

static void stdout_log(void *ud, const char *text) {
  (void)ud;
  fputs(text, stdout);
  fflush(stdout);
}

bool lm_log_tty(const lm_ctx *ctx) { return ctx->log == stdout_log && isatty(1); }

lm_ctx *lm_ctx_new(lm_alloc_fn alloc, void *ud) {
  if (!alloc) alloc = default_alloc;
  lm_ctx *ctx = alloc(ud, NULL, 0, sizeof *ctx);
  if (!ctx) return NULL;
  memset(ctx, 0, sizeof *ctx);
  ctx->alloc = alloc;
  ctx->alloc_ud = ud;
  ctx->objs.next = ctx->objs.prev = &ctx->objs;
  ctx->log = stdout_log;
  ctx->threads = lmk_threads();
  lm_ctx_set_seed(ctx, 1337);
  return ctx;
}

void lm_obj_attach(lm_ctx *ctx, lm_obj *o, void (*destroy)(lm_obj *)) {
  o->destroy = destroy;
  o->next = &ctx->objs;
  o->prev = ctx->objs.prev;
  ctx->objs.prev->next = o;
  ctx->objs.prev = o;
}

void lm_obj_detach(lm_obj *o) {
  if (!o->next) return;
  o->prev->next = o->next;
  o->next->prev = o->prev;
  o->next = o->prev = NULL;
}

void lm_ctx_free(lm_ctx *ctx) {
  if (!ctx) return;
  /* newest first: models go before the layers and tensors they refer to */
  while (ctx->objs.prev != &ctx->objs) {
    lm_obj *o = ctx->objs.prev;
    lm_obj_detach(o);
    o->destroy(o);
  }
  lm_ctx_reset_names(ctx);
  lm_dealloc(ctx, ctx->counters);
  ctx->alloc(ctx->alloc_ud, ctx, sizeof *ctx, 0);
}

void lm_ctx_set_seed(lm_ctx *ctx, uint64_t seed) {
  ctx->seed = seed;
  lm_rng_seed(ctx->rng, seed);
}

void lm_ctx_set_threads(lm_ctx *ctx, int n) {
  if (n < 1) n = 1;
  ctx->threads = n;
  lmk_set_threads(n);
}

int lm_ctx_threads(const lm_ctx *ctx) { return ctx->threads; }

void lm_ctx_set_log(lm_ctx *ctx, lm_log_fn fn, void *ud) {
  ctx->log = fn;
  ctx->log_ud = ud;
}

const char *lm_errmsg(const lm_ctx *ctx) { return ctx ? ctx->errmsg : "no context"; }
lm_status lm_errcode(const lm_ctx *ctx) { return ctx ? ctx->err : LM_ERR_ARG; }

void lm_clear_error(lm_ctx *ctx) {
  ctx->err = LM_OK;
  ctx->errmsg[0] = 0;
}

void lm_ctx_reset_names(lm_ctx *ctx) {
  for (int i = 0; i < ctx->n_counters; i++) lm_dealloc(ctx, ctx->counters[i].prefix);
  ctx->n_counters = 0;
}

lm_status lm_auto_name(lm_ctx *ctx, const char *prefix, char *out, size_t out_len) {
  int i = 0;
  while (i < ctx->n_counters && strcmp(ctx->counters[i].prefix, prefix) != 0) i++;
  if (i == ctx->n_counters) {
    if (lm_grow(ctx, (void **)&ctx->counters, &ctx->cap_counters, i + 1, sizeof *ctx->counters))
      return LM_ERR_NOMEM;
    char *p = lm_strdup(ctx, prefix);
    if (!p) return LM_ERR_NOMEM;
    ctx->counters[i].prefix = p;
    ctx->counters[i].count = 0;
    ctx->n_counters++;
  }
  snprintf(out, out_len, "%s_%d", prefix, ++ctx->counters[i].count);
  return LM_OK;
}

/* ---- RNG ---- */

static uint64_t splitmix64(uint64_t *x) {
  uint64_t z = (*x += 0x9e3779b97f4a7c15ULL);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

void lm_rng_seed(uint64_t s[4], uint64_t seed) {
  for (int i = 0; i < 4; i++) s[i] = splitmix64(&seed);
}

static uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

uint64_t lm_rng_next(uint64_t s[4]) {
  uint64_t r = rotl(s[1] * 5, 7) * 9;
  uint64_t t = s[1] << 17;
  s[2] ^= s[0];
  s[3] ^= s[1];
  s[1] ^= s[2];
  s[0] ^= s[3];
  s[2] ^= t;
  s[3] = rotl(s[3], 45);
  return r;
}

double lm_rng_uniform(uint64_t s[4]) { return (double)(lm_rng_next(s) >> 11) * 0x1.0p-53; }

double lm_rng_normal(uint64_t s[4]) {
  double u1, u2;
  do u1 = lm_rng_uniform(s);
  while (u1 <= 0.0);
  u2 = lm_rng_uniform(s);
  return sqrt(-2.0 * log(u1)) * cos(6.283185307179586 * u2);
}

/* ---- arena ---- */

struct lm_arena_chunk {
  lm_arena_chunk *next;
  size_t used, cap;
  max_align_t align[];
};

void lm_arena_init(lm_arena *a, lm_ctx *ctx) {
  a->ctx = ctx;
  a->head = NULL;
}

void *lm_arena_alloc(lm_arena *a, size_t n) {
  n = (n + 15) & ~(size_t)15;
  lm_arena_chunk *c = a->head;
  if (!c || c->cap - c->used < n) {
    size_t cap = n > 16384 ? n : 16384;
    c = lm_alloc(a->ctx, sizeof *c + cap);
    if (!c) return NULL;
    c->cap = cap;
    c->next = a->head;
    a->head = c;
  }
  void *p = (char *)c->align + c->used;
  c->used += n;
  memset(p, 0, n);
  return p;
}

char *lm_arena_strdup(lm_arena *a, const char *s) {
  size_t n = strlen(s) + 1;
  char *d = lm_arena_alloc(a, n);
  if (d) memcpy(d, s, n);
  return d;
}

void lm_arena_free(lm_arena *a) {
  while (a->head) {
    lm_arena_chunk *n = a->head->next;
    lm_dealloc(a->ctx, a->head);
    a->head = n;
  }
}

/* ---- text buffers ---- */

void lm_buf_init(lm_buf *b, lm_ctx *ctx) {
  memset(b, 0, sizeof *b);
  b->ctx = ctx;
}

void lm_buf_free(lm_buf *b) {
  lm_dealloc(b->ctx, b->data);
  b->data = NULL;
  b->len = b->cap = 0;
}

void lm_buf_putn(lm_buf *b, const char *s, size_t n) {
  if (b->oom) return;
  if (b->len + n + 1 > b->cap) {
    size_t cap = b->cap ? b->cap * 2 : 256;
    while (cap < b->len + n + 1) cap *= 2;
    char *p = lm_realloc(b->ctx, b->data, cap);
    if (!p) {
      b->oom = true;
      return;
    }
    b->data = p;
    b->cap = cap;
  }
  memcpy(b->data + b->len, s, n);
  b->len += n;
  b->data[b->len] = 0;
}

void lm_buf_puts(lm_buf *b, const char *s) { lm_buf_putn(b, s, strlen(s)); }

void lm_buf_printf(lm_buf *b, const char *fmt, ...) {
  char small[512];
  va_list ap;
  va_start(ap, fmt);
  int n = vsnprintf(small, sizeof small, fmt, ap);
  va_end(ap);
  if (n < 0) return;
  if (n < (int)sizeof small) {
    lm_buf_putn(b, small, (size_t)n);
    return;
  }
  char *big = lm_alloc(b->ctx, (size_t)n + 1);
  if (!big) {
    b->oom = true;
    return;
  }
  va_start(ap, fmt);
  vsnprintf(big, (size_t)n + 1, fmt, ap);
  va_end(ap);
  lm_buf_putn(b, big, (size_t)n);
  lm_dealloc(b->ctx, big);
}

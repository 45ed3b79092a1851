#include "testutil.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

lm_ctx *tu_ctx(void) {
  lm_ctx *ctx = lm_ctx_new(NULL, NULL);
  if (!ctx) return NULL;
  lm_ctx_set_log(ctx, NULL, NULL);
  lm_ctx_set_seed(ctx, 1234);
  return ctx;
}

void tu_capture_fn(void *ud, const char *text) {
  tu_capture *c = ud;
  size_t n = strlen(text);
  if (c->len + n + 1 > c->cap) {
    size_t cap = (c->len + n + 1) * 2;
    char *p = realloc(c->text, cap);
    if (!p) return;
    c->text = p;
    c->cap = cap;
  }
  memcpy(c->text + c->len, text, n + 1);
  c->len += n;
}

void tu_capture_reset(tu_capture *c) {
  free(c->text);
  c->text = NULL;
  c->len = c->cap = 0;
}

const char *tu_fixture(const char *name) {
  static char buf[4096];
  const char *dir = getenv("LAMINA_TEST_DATA");
  snprintf(buf, sizeof buf, "%s/%s", dir ? dir : "fixtures", name);
  return buf;
}

const char *tu_shared(const char *rel) {
  static char buf[4096];
  const char *dir = getenv("LAMINA_SHARED");
  if (!dir) return NULL;
  snprintf(buf, sizeof buf, "%s/%s", dir, rel);
  if (access(buf, R_OK) != 0) return NULL;
  return buf;
}

char *tu_read_text(const char *path) {
  FILE *f = fopen(path, "rb");
  if (!f) return NULL;
  fseek(f, 0, SEEK_END);
  long n = ftell(f);
  fseek(f, 0, SEEK_SET);
  char *s = malloc((size_t)n + 1);
  if (s && fread(s, 1, (size_t)n, f) != (size_t)n) {
    free(s);
    s = NULL;
  }
  if (s) s[n] = 0;
  fclose(f);
  return s;
}

void *tu_failalloc_fn(void *ud, void *p, size_t osize, size_t nsize) {
  tu_failalloc *fa = ud;
  if (nsize == 0) {
    if (p) fa->live--;
    free(p);
    return NULL;
  }
  if (fa->countdown >= 0 && fa->countdown-- == 0) {
    fa->failed++;
    return NULL;
  }
  void *q = realloc(p, nsize);
  if (q && !p) fa->live++;
  return q;
}

long tu_alloc_sweep(int (*body)(lm_ctx *ctx, void *arg), void *arg) {
  long n;
  int ok = 0;
  for (n = 0; n < 100000 && !ok; n++) {
    tu_failalloc fa = {.countdown = n};
    lm_ctx *ctx = lm_ctx_new(tu_failalloc_fn, &fa);
    if (!ctx) {
      assert_int_equal(fa.live, 0);
      continue;
    }
    lm_ctx_set_log(ctx, NULL, NULL);
    ok = body(ctx, arg);
    if (!ok) {
      if (lm_errcode(ctx) != LM_ERR_NOMEM || !strstr(lm_errmsg(ctx), "out of memory"))
        fail_msg("failure point %ld: %s", n, lm_errmsg(ctx));
      assert_int_equal(fa.failed, 1);
    }
    lm_ctx_free(ctx);
    assert_int_equal(fa.live, 0);
  }
  assert_true(ok);
  return n - 1;
}

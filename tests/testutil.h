/* Shared test helpers. Include after <cmocka.h>'s prerequisites. */
#ifndef LM_TESTUTIL_H
#define LM_TESTUTIL_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <cmocka.h>

#include "lamina.h"

/* A context with a quiet log and a fixed seed. */
lm_ctx *tu_ctx(void);
/* Captures everything the library prints into a string. */
typedef struct tu_capture {
  char *text;
  size_t len, cap;
} tu_capture;
void tu_capture_fn(void *ud, const char *text);
void tu_capture_reset(tu_capture *c);
/* Path of a fixture file (tests/fixtures/<name>), static buffer. */
const char *tu_fixture(const char *name);
/* Path under ../shared, or NULL when shared/ is absent (caller skips). */
const char *tu_shared(const char *rel);
/* Read a whole text file; NULL if missing. Caller frees. */
char *tu_read_text(const char *path);
/* Fail-the-n-th-allocation allocator for sweeps. */
typedef struct tu_failalloc {
  long countdown; /* fail when it reaches 0; <0 never */
  long live;      /* live allocations */
  long failed;    /* how many failures were injected */
} tu_failalloc;
void *tu_failalloc_fn(void *ud, void *p, size_t osize, size_t nsize);
/* The allocation-failure sweep: runs body(ctx, arg) on a fresh context whose
 * allocator fails its n-th allocation, for n = 0, 1, ... until body succeeds
 * (returns nonzero). Each failed run must have failed exactly one allocation
 * and report LM_ERR_NOMEM with "out of memory"; every run must free all it
 * allocated. Returns the number of failure points checked. */
long tu_alloc_sweep(int (*body)(lm_ctx *ctx, void *arg), void *arg);

#endif

/* libFuzzer target for the model-script evaluator: lexes, parses and RUNS the
 * input as a script, in the sandbox (lms_opts.sandbox: no builtin that reads
 * or writes files, fit capped at 2 epochs, arrays of at most 65,536 values)
 * on a context whose allocator refuses to hold more than 8 MiB, so that each input runs in milliseconds
 * and a huge array or model is an "out of memory" error, not a fuzzer OOM.
 *   CC=clang cmake -S . -B build-fuzz -DLAMINA_FUZZ=ON -DLAMINA_BLAS=OFF -DLAMINA_OPENMP=OFF
 *   cmake --build build-fuzz --target fuzz_eval
 *   ./build-fuzz/fuzz_eval -max_total_time=60 -max_len=4096 fuzz/corpus/eval
 * Any input must end with LMS_OK, LMS_RUNTIME or LMS_SCRIPT_ERROR, with no
 * crash, leak (the allocator's count must be back to zero once the context is
 * freed) or undefined behaviour. fuzz/make_eval_corpus.py makes the seeds. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "script/script.h"

typedef struct capped {
  size_t live, cap;
  long blocks;
} capped;

static void *capped_alloc(void *ud, void *p, size_t osize, size_t nsize) {
  capped *c = ud;
  size_t old = p ? osize : 0;
  if (nsize == 0) {
    if (p) {
      c->live -= old;
      c->blocks--;
    }
    free(p);
    return NULL;
  }
  if (nsize > old && c->live - old + nsize > c->cap) return NULL;
  void *q = realloc(p, nsize);
  if (q) {
    c->live = c->live - old + nsize;
    if (!p) c->blocks++;
  }
  return q;
}

static void sink(void *ud, const char *text) {
  (void)ud;
  (void)text;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  capped c = {.cap = (size_t)8 << 20};
  lm_ctx *ctx = lm_ctx_new(capped_alloc, &c);
  if (!ctx) return 0;
  lm_ctx_set_log(ctx, NULL, NULL);
  lm_ctx_set_seed(ctx, 1);
  char *argv[1] = {"fuzz.py"};
  lms_opts o = {.mode = LMS_MODE_RUN, .out = sink, .err = sink, .argc = 1, .argv = argv, .sandbox = true};
  int st = lms_run_source(ctx, "fuzz.py", (const char *)data, size, &o);
  if (st != LMS_OK && st != LMS_RUNTIME && st != LMS_SCRIPT_ERROR) abort();
  lm_ctx_free(ctx);
  if (c.blocks != 0 || c.live != 0) abort(); /* something outlived its context */
  return 0;
}

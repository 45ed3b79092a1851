/* libFuzzer target for the model-script lexer and parser.
 *   CC=clang cmake -S . -B build-fuzz -DLAMINA_FUZZ=ON -DLAMINA_BLAS=OFF -DLAMINA_OPENMP=OFF
 *   cmake --build build-fuzz --target fuzz_parser
 *   ./build-fuzz/fuzz_parser -max_total_time=60 fuzz/corpus/parser
 * Any input must give LMS_OK or LMS_SCRIPT_ERROR, with no crash, leak or
 * undefined behaviour. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "script/script.h"

static void sink(void *ud, const char *text) {
  (void)ud;
  (void)text;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  lm_ctx *ctx = lm_ctx_new(NULL, NULL);
  if (!ctx) return 0;
  lm_ctx_set_log(ctx, NULL, NULL);
  lms_opts o = {.mode = LMS_MODE_PARSE, .out = sink, .err = sink};
  int st = lms_run_source(ctx, "fuzz.py", (const char *)data, size, &o);
  if (st != LMS_OK && st != LMS_SCRIPT_ERROR) abort();
  lm_ctx_free(ctx);
  return 0;
}

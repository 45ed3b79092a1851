/* Floor 8: Keras-syntax model scripts.
 *
 * A model script is a Keras program in a strict subset of Python 3 (see
 * docs/scripts.md). lms_run_* lexes, parses and evaluates it against the
 * public C API. Errors are reported as
 *     file:line:col: error: message
 *         source line
 *         ^
 * and never ignored; the evaluator never exits or aborts. */
#ifndef LM_SCRIPT_H
#define LM_SCRIPT_H

#include "lamina.h"

/* Result of running a script (also the `lamina` exit status). */
enum { LMS_OK = 0, LMS_RUNTIME = 1, LMS_SCRIPT_ERROR = 2 };

typedef enum lms_mode {
  LMS_MODE_RUN = 0, /* run everything */
  LMS_MODE_SUMMARY, /* build models, skip training, print each model's summary at the end */
  LMS_MODE_PARSE    /* parse only (syntax check, fuzzing) */
} lms_mode;

typedef struct lms_opts {
  lms_mode mode;
  lm_log_fn out; /* print() and summaries; NULL: stdout */
  void *out_ud;
  lm_log_fn err; /* the error report; NULL: stderr */
  void *err_ud;
  int argc; /* sys.argv (argv[0] is the script) */
  char **argv;
  struct lms_hp *hp; /* lamina tune: where hp.* values come from (script/hp.h); NULL otherwise */
  /* [issue 6] lamina run --checkpoint / --checkpoint-every / --resume: with
   * checkpoint, every fit() the script calls also writes a training checkpoint
   * there (atomically; at each epoch end and every checkpoint_every batches
   * when > 0); with resume, the script's first fit() continues from that
   * checkpoint (lm_fit_opts.resume_from). */
  const char *checkpoint;
  int checkpoint_every;
  const char *resume;
  /* Fuzzing (fuzz/fuzz_eval.c): builtins that touch files (np.load/save/
   * loadtxt, datasets, model save/load, file-writing callbacks) are refused
   * with an error, fit runs at most 2 epochs and numpy arrays hold at most
   * 65,536 values. Memory is capped by the context's allocator. */
  bool sandbox;
} lms_opts;

/* Runs the script held in src (len bytes, need not be NUL-terminated); name
 * is the file name used in messages. opts NULL: run, stdout/stderr. Models and
 * arrays the script makes live on ctx (freed with it). */
int lms_run_source(lm_ctx *ctx, const char *name, const char *src, size_t len,
                   const lms_opts *opts);
/* Reads path (a .gz name is inflated) and runs it. */
int lms_run_file(lm_ctx *ctx, const char *path, const lms_opts *opts);

#endif

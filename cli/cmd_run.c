/* lamina run SCRIPT [ARGS]: runs a Keras-syntax model script.
 * Also the options shared by run/summary/predict/evaluate: --threads N, --seed N. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "script/script.h"

static bool parse_int(const char *s, long lo, long hi, long *out) {
  char *end;
  long v = strtol(s, &end, 10);
  if (!*s || *end || v < lo || v > hi) return false;
  *out = v;
  return true;
}

int lmc_common_opt(int argc, char **argv, int *i, lmc_opts *o) {
  const char *a = argv[*i];
  const char *val = NULL;
  bool threads = strncmp(a, "--threads", 9) == 0 && (a[9] == 0 || a[9] == '=');
  bool seed = strncmp(a, "--seed", 6) == 0 && (a[6] == 0 || a[6] == '=');
  if (!threads && !seed) return 0;
  const char *eq = strchr(a, '=');
  if (eq) {
    val = eq + 1;
  } else if (*i + 1 < argc) {
    val = argv[++*i];
  } else {
    fprintf(stderr, "lamina %s: %s needs a value\n", argv[0], a);
    return -1;
  }
  long v;
  if (threads) {
    if (!parse_int(val, 1, 4096, &v)) {
      fprintf(stderr, "lamina %s: --threads wants a number from 1 to 4096, got '%s'\n", argv[0], val);
      return -1;
    }
    o->threads = (int)v;
  } else {
    char *end;
    unsigned long long s = strtoull(val, &end, 10);
    if (!*val || *end || val[0] == '-') {
      fprintf(stderr, "lamina %s: --seed wants a non-negative integer, got '%s'\n", argv[0], val);
      return -1;
    }
    o->seed = s;
    o->has_seed = true;
  }
  return 1;
}

lm_ctx *lmc_make_ctx(const lmc_opts *o) {
  lm_ctx *ctx = lm_ctx_new(NULL, NULL);
  if (!ctx) {
    fprintf(stderr, "lamina: out of memory\n");
    return NULL;
  }
  if (o->threads > 0) lm_ctx_set_threads(ctx, o->threads);
  if (o->has_seed) lm_ctx_set_seed(ctx, o->seed);
  return ctx;
}

static const char *run_help =
    "usage: lamina run [--threads N] [--seed N] [--checkpoint FILE [--checkpoint-every N]]\n"
    "                  [--resume CKPT] SCRIPT.py [ARGS...]\n"
    "\n"
    "Runs a Keras model script (a strict subset of Python 3: imports of keras and numpy\n"
    "names, assignments, calls; see docs/scripts.md). ARGS are the script's sys.argv[1:].\n"
    "\n"
    "  --threads N            threads for the kernels (default: all cores)\n"
    "  --seed N               seed of the random generator (np.random, initialisers,\n"
    "                         shuffling, dropout)\n"
    "  --checkpoint FILE      every fit() the script calls also writes a training\n"
    "                         checkpoint to FILE (weights, optimizer state, epoch and\n"
    "                         batch position, RNG state, callbacks' state), atomically,\n"
    "                         at the end of every epoch\n"
    "  --checkpoint-every N   with --checkpoint: also every N training batches\n"
    "  --resume CKPT          the script's first fit() continues from the training\n"
    "                         checkpoint CKPT instead of starting over; with the same\n"
    "                         --seed and --threads the weights end bit-identical to an\n"
    "                         uninterrupted run (see docs/training.md)\n"
    "\n"
    "A run killed at any moment leaves FILE holding the last complete checkpoint; run\n"
    "the same command again with --resume FILE (and --checkpoint FILE to keep saving).\n"
    "\n"
    "Exit status: 0 success, 1 runtime failure (files, data, a checkpoint that cannot\n"
    "be resumed), 2 usage or script error.\n";

/* --NAME VALUE or --NAME=VALUE at argv[*i]: 1 and *val set, 0 not this option, -1 no value. */
static int opt_value(int argc, char **argv, int *i, const char *name, const char **val) {
  size_t n = strlen(name);
  const char *a = argv[*i];
  if (strncmp(a, name, n) != 0 || (a[n] != 0 && a[n] != '=')) return 0;
  if (a[n] == '=') {
    *val = a + n + 1;
  } else if (*i + 1 < argc) {
    *val = argv[++*i];
  } else {
    fprintf(stderr, "lamina %s: %s needs a value\n", argv[0], name);
    return -1;
  }
  if (!**val) {
    fprintf(stderr, "lamina %s: %s needs a value\n", argv[0], name);
    return -1;
  }
  return 1;
}

int lmc_script_main(int argc, char **argv, int mode) {
  lmc_opts o = {0};
  const char *checkpoint = NULL, *resume = NULL, *every = NULL;
  int i = 1;
  for (; i < argc; i++) {
    if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
      if (mode == 0) fputs(run_help, stdout);
      else
        fputs("usage: lamina summary [--threads N] [--seed N] SCRIPT.py\n\n"
              "Builds every model the script defines, without training, and prints each\n"
              "model's Keras summary (Total params ...). fit/evaluate/save are skipped;\n"
              "print() output is not shown.\n\n"
              "Exit status: 0 success, 1 runtime failure, 2 usage or script error.\n",
              stdout);
      return 0;
    }
    int r = lmc_common_opt(argc, argv, &i, &o);
    if (r < 0) return 2;
    if (r > 0) continue;
    if (mode == 0) { /* lamina run only */
      r = opt_value(argc, argv, &i, "--checkpoint-every", &every);
      if (r == 0) r = opt_value(argc, argv, &i, "--checkpoint", &checkpoint);
      if (r == 0) r = opt_value(argc, argv, &i, "--resume", &resume);
      if (r < 0) return 2;
      if (r > 0) continue;
    }
    if (argv[i][0] == '-' && argv[i][1] != 0) {
      fprintf(stderr, "lamina %s: unknown option '%s' (try --help)\n", argv[0], argv[i]);
      return 2;
    }
    break;
  }
  if (i >= argc) {
    fprintf(stderr, "usage: lamina %s [--threads N] [--seed N] SCRIPT.py%s\n", argv[0],
            mode == 0 ? " [ARGS...]" : "");
    return 2;
  }
  if (mode == 1 && i + 1 < argc) {
    fprintf(stderr, "lamina summary: unexpected argument '%s'\n", argv[i + 1]);
    return 2;
  }
  long every_n = 0;
  if (every && !parse_int(every, 1, 1000000000, &every_n)) {
    fprintf(stderr, "lamina run: --checkpoint-every wants a number of batches from 1, got '%s'\n",
            every);
    return 2;
  }
  if (every && !checkpoint) {
    fprintf(stderr, "lamina run: --checkpoint-every needs --checkpoint FILE\n");
    return 2;
  }
  lm_ctx *ctx = lmc_make_ctx(&o);
  if (!ctx) return 1;
  if (resume && lm_checkpoint_verify(ctx, resume) != LM_OK) { /* before the script runs */
    fprintf(stderr, "lamina run: --resume: %s\n", lm_errmsg(ctx));
    lm_ctx_free(ctx);
    return 1;
  }
  lms_opts so = {.mode = mode == 0 ? LMS_MODE_RUN : LMS_MODE_SUMMARY,
                 .argc = argc - i,
                 .argv = argv + i,
                 .checkpoint = checkpoint,
                 .checkpoint_every = (int)every_n,
                 .resume = resume};
  int st = lms_run_file(ctx, argv[i], &so);
  lm_ctx_free(ctx);
  return st;
}

int lmc_run(int argc, char **argv) { return lmc_script_main(argc, argv, 0); }

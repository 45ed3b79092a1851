/* lamina evaluate MODEL.safetensors X.npy Y.npy */
#include <stdio.h>
#include <string.h>

#include "cli.h"

static const char *help =
    "usage: lamina evaluate [--threads N] [--seed N] [--batch-size N] MODEL.safetensors X.npy Y.npy\n"
    "\n"
    "Evaluates a saved (compiled) model on X and targets Y and prints the loss and\n"
    "metrics under their Keras names, one 'name: value' per line.\n"
    "\n"
    "Exit status: 0 success, 1 runtime failure, 2 usage error.\n";

int lmc_evaluate(int argc, char **argv) {
  lmc_opts o = {0};
  const char *pos[3] = {NULL, NULL, NULL};
  int n_pos = 0;
  long batch = 32;
  for (int i = 1; i < argc; i++) {
    if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
      fputs(help, stdout);
      return 0;
    }
    int r = lmc_common_opt(argc, argv, &i, &o);
    if (r < 0) return 2;
    if (r > 0) continue;
    if (strcmp(argv[i], "--batch-size") == 0) {
      if (i + 1 >= argc || sscanf(argv[i + 1], "%ld", &batch) != 1 || batch < 1 || batch > 1 << 24) {
        fprintf(stderr, "lamina evaluate: --batch-size wants a positive number\n");
        return 2;
      }
      i++;
    } else if (argv[i][0] == '-' && argv[i][1]) {
      fprintf(stderr, "lamina evaluate: unknown option '%s' (try --help)\n", argv[i]);
      return 2;
    } else if (n_pos < 3) {
      pos[n_pos++] = argv[i];
    } else {
      fprintf(stderr, "lamina evaluate: unexpected argument '%s'\n", argv[i]);
      return 2;
    }
  }
  if (n_pos != 3) {
    fputs("usage: lamina evaluate MODEL.safetensors X.npy Y.npy\n", stderr);
    return 2;
  }
  lm_ctx *ctx = lmc_make_ctx(&o);
  if (!ctx) return 1;
  int status = 1;
  lm_model *m = lm_model_load(ctx, pos[0]);
  lm_tensor *x = m ? lm_tensor_load_npy(ctx, pos[1]) : NULL;
  lm_tensor *y = x ? lm_tensor_load_npy(ctx, pos[2]) : NULL;
  if (!y) {
    fprintf(stderr, "lamina evaluate: %s\n", lm_errmsg(ctx));
    goto done;
  }
  int n = lm_model_n_metrics(m);
  if (n <= 0 || n > 256) {
    fprintf(stderr, "lamina evaluate: the model was saved without a training config (compile it before saving)\n");
    goto done;
  }
  double vals[256];
  lm_data dx = {1, &x, NULL}, dy = {1, &y, NULL};
  lm_ctx_set_log(ctx, NULL, NULL);
  if (lm_model_evaluate(m, &dx, &dy, (int)batch, 0, vals) != LM_OK) {
    fprintf(stderr, "lamina evaluate: %s\n", lm_errmsg(ctx));
    status = lm_errcode(ctx) == LM_ERR_SHAPE || lm_errcode(ctx) == LM_ERR_ARG ? 2 : 1;
    goto done;
  }
  for (int i = 0; i < n; i++) printf("%s: %.4f\n", lm_model_metric_name(m, i), vals[i]);
  status = 0;
done:
  lm_ctx_free(ctx);
  return status;
}

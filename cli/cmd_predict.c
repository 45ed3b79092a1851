/* lamina predict MODEL.safetensors INPUT.npy [-o OUT.npy] */
#include <stdio.h>
#include <string.h>

#include "cli.h"

static const char *help =
    "usage: lamina predict [--threads N] [--seed N] [--batch-size N] MODEL.safetensors INPUT.npy "
    "[-o OUT.npy]\n"
    "\n"
    "Runs a saved model on the samples of INPUT.npy (first axis = samples) and writes the\n"
    "predictions to OUT.npy (default: predictions.npy). A model with several outputs writes\n"
    "OUT_0.npy, OUT_1.npy, ...\n"
    "\n"
    "Exit status: 0 success, 1 runtime failure, 2 usage error.\n";

int lmc_predict(int argc, char **argv) {
  lmc_opts o = {0};
  const char *pos[2] = {NULL, NULL}, *out = "predictions.npy";
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
    if (strcmp(argv[i], "-o") == 0 || strcmp(argv[i], "--output") == 0) {
      if (i + 1 >= argc) {
        fprintf(stderr, "lamina predict: %s needs a file name\n", argv[i]);
        return 2;
      }
      out = argv[++i];
    } else if (strcmp(argv[i], "--batch-size") == 0) {
      if (i + 1 >= argc || sscanf(argv[i + 1], "%ld", &batch) != 1 || batch < 1 || batch > 1 << 24) {
        fprintf(stderr, "lamina predict: --batch-size wants a positive number\n");
        return 2;
      }
      i++;
    } else if (argv[i][0] == '-' && argv[i][1]) {
      fprintf(stderr, "lamina predict: unknown option '%s' (try --help)\n", argv[i]);
      return 2;
    } else if (n_pos < 2) {
      pos[n_pos++] = argv[i];
    } else {
      fprintf(stderr, "lamina predict: unexpected argument '%s'\n", argv[i]);
      return 2;
    }
  }
  if (n_pos != 2) {
    fputs("usage: lamina predict MODEL.safetensors INPUT.npy [-o OUT.npy]\n", stderr);
    return 2;
  }
  lm_ctx *ctx = lmc_make_ctx(&o);
  if (!ctx) return 1;
  int status = 1;
  lm_model *m = lm_model_load(ctx, pos[0]);
  lm_tensor *x = m ? lm_tensor_load_npy(ctx, pos[1]) : NULL;
  if (!m || !x) {
    fprintf(stderr, "lamina predict: %s\n", lm_errmsg(ctx));
    goto done;
  }
  int n_out = lm_model_n_outputs(m);
  lm_tensor *outs[64] = {0};
  if (n_out > 64) {
    fprintf(stderr, "lamina predict: too many outputs\n");
    goto done;
  }
  lm_data d = {1, &x, NULL};
  lm_ctx_set_log(ctx, NULL, NULL);
  if (lm_model_predict(m, &d, (int)batch, outs) != LM_OK) {
    fprintf(stderr, "lamina predict: %s\n", lm_errmsg(ctx));
    status = lm_errcode(ctx) == LM_ERR_SHAPE || lm_errcode(ctx) == LM_ERR_ARG ? 2 : 1;
    goto done;
  }
  status = 0;
  for (int i = 0; i < n_out; i++) {
    char path[4096];
    if (n_out == 1) {
      snprintf(path, sizeof path, "%s", out);
    } else {
      size_t n = strlen(out);
      int stem = n > 4 && strcmp(out + n - 4, ".npy") == 0 ? (int)n - 4 : (int)n;
      snprintf(path, sizeof path, "%.*s_%d.npy", stem, out, i);
    }
    if (lm_tensor_save_npy(outs[i], path) != LM_OK) {
      fprintf(stderr, "lamina predict: %s\n", lm_errmsg(ctx));
      status = 1;
      break;
    }
    char shape[160];
    const int64_t *sh = lm_tensor_shape(outs[i]);
    snprintf(shape, sizeof shape, "(%lld", (long long)sh[0]);
    for (int k = 1; k < lm_tensor_ndim(outs[i]); k++)
      snprintf(shape + strlen(shape), sizeof shape - strlen(shape), ", %lld", (long long)sh[k]);
    printf("%s: %s %s)\n", path, lm_model_output_name(m, i), shape);
  }
done:
  lm_ctx_free(ctx);
  return status;
}

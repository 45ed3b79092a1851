/* lamina info MODEL.safetensors / lamina summary-model MODEL.safetensors */
#include <stdio.h>
#include <string.h>

#include "cli.h"

static int load_and(int argc, char **argv, bool info) {
  if (argc != 2 || strcmp(argv[1], "--help") == 0) {
    fprintf(argc == 2 ? stdout : stderr, "usage: lamina %s MODEL.safetensors\n", argv[0]);
    return argc == 2 ? 0 : 2;
  }
  lm_ctx *ctx = lm_ctx_new(NULL, NULL);
  if (!ctx) return 1;
  lm_model *m = lm_model_load(ctx, argv[1]);
  if (!m) {
    fprintf(stderr, "lamina: %s\n", lm_errmsg(ctx));
    lm_ctx_free(ctx);
    return 1;
  }
  if (info) {
    printf("model: %s\n", lm_model_name(m));
    for (int i = 0; i < lm_model_n_inputs(m); i++) printf("input: %s\n", lm_model_input_name(m, i));
    for (int i = 0; i < lm_model_n_outputs(m); i++)
      printf("output: %s\n", lm_model_output_name(m, i));
    printf("layers: %d\n", lm_model_n_layers(m));
    printf("params: %lld total, %lld trainable, %lld non-trainable\n",
           (long long)lm_model_count_params(m, 0), (long long)lm_model_count_params(m, 1),
           (long long)lm_model_count_params(m, 2));
  }
  lm_status st = lm_model_summary(m, NULL, NULL);
  lm_ctx_free(ctx);
  return st ? 1 : 0;
}

int lmc_info(int argc, char **argv) { return load_and(argc, argv, true); }
int lmc_summary_model(int argc, char **argv) { return load_and(argc, argv, false); }

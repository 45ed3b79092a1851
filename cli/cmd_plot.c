/* lamina plot LOG.csv -o curves.png: training curves from a CSVLogger file. */
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "plot/plot.h"

int lmc_plot(int argc, char **argv) {
  const char *csv = NULL, *out = NULL;
  for (int i = 1; i < argc; i++) {
    if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
      printf(
          "usage: lamina plot LOG.csv -o curves.png\n\n"
          "Draws one panel per metric of a CSVLogger file (loss, acc, ...), the training\n"
          "curve and its val_ twin, against the epoch.\n");
      return 0;
    }
    if (strcmp(argv[i], "-o") == 0 && i + 1 < argc)
      out = argv[++i];
    else if (argv[i][0] != '-' && !csv)
      csv = argv[i];
    else {
      fprintf(stderr,
              "lamina plot: unexpected argument '%s'\nusage: lamina plot LOG.csv -o curves.png\n",
              argv[i]);
      return 2;
    }
  }
  if (!csv || !out) {
    fprintf(stderr, "usage: lamina plot LOG.csv -o curves.png\n");
    return 2;
  }
  lm_ctx *ctx = lm_ctx_new(NULL, NULL);
  if (!ctx) return 1;
  lm_status st = lmp_plot_csv(ctx, csv, out);
  if (st) fprintf(stderr, "lamina plot: %s\n", lm_errmsg(ctx));
  lm_ctx_free(ctx);
  return st ? 1 : 0;
}

/* The lamina command. Subcommands live one per file (cli/cmd_*.c). */
#include <stdio.h>
#include <string.h>

#include "cli.h"

static const lmc_command commands[] = {
    {"run", "run a Keras model script (SCRIPT.py)", lmc_run},
    {"summary", "print the summary of every model a script defines, without training", lmc_summary},
    {"predict", "run a saved model on INPUT.npy and write the predictions as .npy", lmc_predict},
    {"evaluate", "evaluate a saved model on X.npy and Y.npy", lmc_evaluate},
    {"info", "show a saved model's architecture, parameter counts and metadata", lmc_info},
    {"summary-model", "print the Keras summary of a saved model", lmc_summary_model},
    {"tune", "search hyperparameters (random, grid, TPE, GA) with a SQLite study", lmc_tune},
    {"plot", "draw training curves from a CSVLogger file as a PNG", lmc_plot},
};

static void usage(FILE *f) {
  fprintf(f, "usage: lamina [--version] [--help] COMMAND [ARGS]\n\ncommands:\n");
  for (size_t i = 0; i < sizeof commands / sizeof *commands; i++)
    fprintf(f, "  %-14s %s\n", commands[i].name, commands[i].help);
  fprintf(f, "\n'lamina COMMAND --help' tells more.\n");
}

int main(int argc, char **argv) {
  if (argc < 2) {
    usage(stderr);
    return 2;
  }
  if (strcmp(argv[1], "--version") == 0) {
    printf("lamina %s\n", LAMINA_VERSION);
    return 0;
  }
  if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
    usage(stdout);
    return 0;
  }
  for (size_t i = 0; i < sizeof commands / sizeof *commands; i++)
    if (strcmp(argv[1], commands[i].name) == 0) return commands[i].run(argc - 1, argv + 1);
  fprintf(stderr, "lamina: unknown command '%s'\n", argv[1]);
  usage(stderr);
  return 2;
}

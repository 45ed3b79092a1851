#ifndef LM_CLI_H
#define LM_CLI_H

#include "lamina.h"

typedef struct lmc_command {
  const char *name;
  const char *help;
  int (*run)(int argc, char **argv); /* exit status: 0 ok, 1 runtime failure, 2 usage */
} lmc_command;

int lmc_info(int argc, char **argv);
int lmc_summary_model(int argc, char **argv);
int lmc_tune(int argc, char **argv);
/* model scripts and saved models (cmd_run.c, cmd_summary.c, cmd_predict.c, cmd_evaluate.c) */
int lmc_run(int argc, char **argv);
int lmc_summary(int argc, char **argv);
int lmc_predict(int argc, char **argv);
int lmc_evaluate(int argc, char **argv);
int lmc_script_main(int argc, char **argv, int mode); /* mode 0 run, 1 summary */
/* --threads N / --seed N shared by the subcommands above */
typedef struct lmc_opts {
  int threads;
  bool has_seed;
  unsigned long long seed;
} lmc_opts;
/* argv[*i] is one of the shared options: 1 (consumed, *i advanced), 0 not one, -1 bad value */
int lmc_common_opt(int argc, char **argv, int *i, lmc_opts *o);
lm_ctx *lmc_make_ctx(const lmc_opts *o);
int lmc_plot(int argc, char **argv); /* cmd_plot.c */

#endif

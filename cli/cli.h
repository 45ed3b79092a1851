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

#endif
